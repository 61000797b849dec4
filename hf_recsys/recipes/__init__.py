"""Recipes: every setting of a training run in one YAML file, by name.

A recipe is a YAML file in this folder (``bst-ml1m.yaml``) or anywhere on disk::

    description: BST on MovieLens-1M, CTR, one sampled negative per positive.
    train:                 # the flags of `hf-recsys train`, by name (dashes or underscores)
      model: bst
      dataset: ml-1m
      epochs: 2
      seed: 0
    model_config:          # config fields (what `--set KEY=VALUE` overrides)
      num_blocks: 1
    expected:              # optional: what the recipe gave over seeds, with the command
      metric: auc
      mean: 0.8123
      std: 0.0012
      seeds: [0, 1, 2]
      command: ...

``hf-recsys train --recipe bst-ml1m --data-path DIR`` reads it. The recipe becomes command-line
flags placed *before* the user's own, so every flag given on the command line wins over the
recipe's value (and ``--set`` on the command line wins over ``model_config``), and the recipe goes
through exactly the validation the flags get.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Collection, Optional, Sequence

import yaml

RECIPE_DIR = Path(__file__).parent
SECTIONS = ("description", "train", "model_config", "expected", "search")
#: what an ``expected`` section states: the test metric's mean and standard deviation over seeds
EXPECTED_KEYS = ("metric", "mean", "std", "seeds")


class RecipeError(ValueError):
    """A recipe that cannot be found or read; the message names the file and the key. A recipe
    that is not there names the option it came from (``option``, the message's first word), so
    a command line can name its flag."""

    def __init__(self, message: str, option: Optional[str] = None):
        super().__init__(message)
        self.option = option


@dataclass
class Recipe:
    name: str
    path: str
    description: str = ""
    train: dict[str, Any] = field(default_factory=dict)
    model_config: dict[str, Any] = field(default_factory=dict)
    expected: dict[str, Any] = field(default_factory=dict)
    search: dict[str, Any] = field(default_factory=dict)

    def argv(self, flags: Collection[str] = (), skip: Collection[str] = ()) -> list[str]:
        """The recipe as `hf-recsys train` flags: ``key: value`` -> ``--key value``; ``key: true`` ->
        ``--key``; ``key: false`` / ``null`` -> nothing (the flag's default); ``model_config`` ->
        ``--set KEY=VALUE``. A switch that is on by default (``flags``, the parser's options, hold
        ``--no-key``): ``key: false`` -> ``--no-key``, ``key: true`` -> nothing."""
        tokens: list[str] = []
        for key, value in self.train.items():
            if key in skip:
                continue
            flag = "--" + key.replace("_", "-")
            negated = "--no-" + key.replace("_", "-")
            if negated in flags and flag not in flags and isinstance(value, bool):
                tokens += [] if value else [negated]
                continue
            if value is None or value is False:
                continue
            if value is True:
                tokens.append(flag)
            elif isinstance(value, (list, tuple)):
                tokens += [flag, *map(str, value)]
            else:
                tokens += [flag, str(value)]
        for key, value in self.model_config.items():
            tokens += ["--set", f"{key}={value!r}" if isinstance(value, str) else f"{key}={value}"]
        return tokens

    def compare_with_expected(self, metrics: dict[str, Any]) -> Optional[str]:
        """A line comparing a run's test metric with ``expected`` (``metric``, ``mean``, ``std``
        over ``seeds``): whether it lies within ``mean ± 2 std``. None without ``expected``."""
        expected = self.expected
        if not expected or f"eval_{expected['metric']}" not in metrics:
            return None
        value, mean, std = float(metrics[f"eval_{expected['metric']}"]), float(expected["mean"]), float(expected["std"])
        inside = abs(value - mean) <= 2 * std
        seeds = ", ".join(map(str, expected.get("seeds", [])))
        return (f"recipe {self.name} expects test {expected['metric']} {mean:.4f} ± {std:.4f} (seeds {seeds}); this run: "
                f"{value:.4f}, {'within' if inside else 'OUTSIDE'} mean ± 2 std")

    def check_flags(self, parser: argparse.ArgumentParser) -> None:
        """Every key of ``train`` is a flag of ``parser`` and its value one the flag takes (an
        error naming the file and the key)."""
        known = parser_flags(parser)
        for key in self.train:
            flag = "--" + key.replace("_", "-")
            if flag not in known and "--no-" + key.replace("_", "-") not in known:
                raise RecipeError(f"{self.path}: train.{key}: not a flag of `hf-recsys train` ({flag})")
        if "recipe" in self.train:
            raise RecipeError(f"{self.path}: train.recipe: a recipe cannot name another recipe")
        actions = {option: action for action in parser._actions for option in action.option_strings}
        for key, value in self.train.items():
            action = actions.get("--" + key.replace("_", "-")) or actions.get("--no-" + key.replace("_", "-"))
            if action is None or value is None:
                continue
            switch = action.nargs == 0  # --flag / --no-flag: the recipe says true or false
            if switch != isinstance(value, bool):
                raise RecipeError(f"{self.path}: train.{key}: {value!r}: " + (
                    "a switch: true or false" if switch else "a value, not true / false"))
            if switch:
                continue
            if isinstance(value, (list, tuple)) and action.nargs in (None, "?"):
                raise RecipeError(f"{self.path}: train.{key}: {value!r}: one value, not a list")
            values = value if isinstance(value, (list, tuple)) else [value]
            for item in values:
                try:
                    converted = action.type(str(item)) if action.type else str(item)
                except (ValueError, TypeError, argparse.ArgumentTypeError) as error:
                    raise RecipeError(f"{self.path}: train.{key}: {error}") from None
                if action.choices is not None and converted not in action.choices:
                    raise RecipeError(f"{self.path}: train.{key}: {item!r} is not one of "
                                      f"{', '.join(map(str, action.choices))}")


def available_recipes(directory: Optional[os.PathLike] = None) -> list[str]:
    """Names of the recipes in ``directory`` (default: the ones shipped with the package)."""
    return sorted(p.stem for p in Path(directory or RECIPE_DIR).glob("*.yaml"))


def recipe_path(name_or_path: str, directory: Optional[os.PathLike] = None) -> Path:
    """A recipe's file: a path to a ``.yaml``/``.yml`` file, or a name in ``directory``."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        if not candidate.is_file():
            named = candidate.stem in available_recipes(directory) and candidate.parent == Path(".")
            raise RecipeError(f"recipe: recipe file {name_or_path} does not exist"
                              + (f"; the recipe named {candidate.stem} is --recipe {candidate.stem}" if named else ""),
                              option="recipe")
        return candidate
    path = Path(directory or RECIPE_DIR) / f"{name_or_path}.yaml"
    if not path.is_file():
        names = ", ".join(available_recipes(directory)) or "none"
        raise RecipeError(f"recipe: no recipe named {name_or_path!r} (recipes: {names}; or give a path to a .yaml file)",
                          option="recipe")
    return path


def load_recipe(name_or_path: str, directory: Optional[os.PathLike] = None) -> Recipe:
    path = recipe_path(name_or_path, directory)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise RecipeError(f"{path}: not a readable YAML file ({str(error).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: a recipe is a mapping with the sections {', '.join(SECTIONS)}")
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise RecipeError(f"{path}: unknown section {unknown[0]!r} (sections: {', '.join(SECTIONS)})")
    for section in ("train", "model_config", "expected", "search"):
        if not isinstance(data.get(section) or {}, dict):
            raise RecipeError(f"{path}: {section} must be a mapping of names to values")
    expected = data.get("expected") or {}
    missing = [key for key in EXPECTED_KEYS if expected and key not in expected]
    if missing:
        raise RecipeError(f"{path}: expected.{missing[0]} is missing (expected: {', '.join(EXPECTED_KEYS)}, "
                          f"and the command that measured them)")
    return Recipe(
        name=path.stem,
        path=str(path),
        description=str(data.get("description") or ""),
        train=dict(data.get("train") or {}),
        model_config=dict(data.get("model_config") or {}),
        expected=dict(data.get("expected") or {}),
        search=dict(data.get("search") or {}),
    )


def save_recipe(recipe: Recipe, path: os.PathLike) -> None:
    """Write ``recipe`` as a YAML file (the sections in order, empty ones left out)."""
    data: dict[str, Any] = {"description": recipe.description} if recipe.description else {}
    for section in ("train", "model_config", "expected", "search"):
        if getattr(recipe, section):
            data[section] = getattr(recipe, section)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False, width=100), encoding="utf-8")


def given_options(argv: Sequence[str], *flags: str) -> tuple[argparse.Namespace, list[str]]:
    """The values of ``flags`` in ``argv`` (None where absent) and the rest of ``argv``."""
    finder = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    for flag in flags:
        finder.add_argument(flag, default=None)
    try:
        return finder.parse_known_args(list(argv))
    except argparse.ArgumentError:  # e.g. a flag without its value: the command's own parser says so
        return argparse.Namespace(**{flag.lstrip("-").replace("-", "_"): None for flag in flags}), list(argv)


def recipe_of(argv: Sequence[str]) -> Optional[Recipe]:
    """The recipe ``--recipe NAME|PATH`` in ``argv`` names, or None."""
    found, _ = given_options(argv, "--recipe")
    return load_recipe(found.recipe) if found.recipe else None


def expand_recipe_argv(argv: Sequence[str], parser: argparse.ArgumentParser,
                       recipe: Optional[Recipe] = None,
                       log_format: Optional[Callable[[str], Optional[str]]] = None) -> list[str]:
    """``argv`` with a ``--recipe NAME|PATH`` replaced by the recipe's flags, placed first so that
    the other flags of ``argv`` override them. Without ``--recipe``: ``argv`` unchanged.
    ``recipe``: the recipe ``--recipe`` names, when the caller has loaded it already.
    ``log_format``: the ``--dataset`` a path reads as (None when the path does not say); with it,
    a ``--data-path`` typed without ``--dataset`` is read by its own format, not the recipe's."""
    found, rest = given_options(argv, "--recipe")
    if found.recipe is None:
        return list(argv)
    recipe = recipe or load_recipe(found.recipe)
    recipe.check_flags(parser)
    data_path = recipe.train.get("data_path")
    if data_path and given_options(rest, "--data-path")[0].data_path is None and not os.path.exists(str(data_path)):
        raise RecipeError(f"{recipe.path}: the recipe's data_path {data_path} is not here; give --data-path PATH "
                          f"(the folder or file of the {recipe.train.get('dataset', 'log')} log)")
    skip = ()
    typed = given_options(rest, "--data-path", "--dataset")[0]
    typed_path = typed.data_path
    if log_format and typed_path and not typed.dataset and recipe.train.get("dataset"):
        # your own file: its format comes from the path, as without a recipe
        inferred = log_format(typed_path)
        if inferred and inferred != recipe.train["dataset"]:
            print(f"[hf-recsys] --data-path {typed_path} reads as {inferred}, not as the recipe's {recipe.train['dataset']}"
                  f" (give --dataset {recipe.train['dataset']} to read it as that)", file=sys.stderr)
            skip = ("dataset",)
    return recipe.argv(parser_flags(parser), skip) + rest


def parser_flags(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string of ``parser``."""
    return {option for action in parser._actions for option in action.option_strings}
