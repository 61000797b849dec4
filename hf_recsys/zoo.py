"""The model zoo: a set of recipes trained into Hub-ready folders named ``ORG/<recipe>``.

``hf-recsys zoo build [--recipes NAME ...] [--output-root DIR] [--data-root DIR]
[--push-to-hub --hub-org ORG]`` plans one `hf-recsys train` run per recipe (:func:`plan_zoo`) and
runs them one after another; each writes ``OUTPUT_ROOT/<recipe>/`` (weights, config, processor,
card, ``eval_results.json``) and, with ``--push-to-hub``, uploads it to ``ORG/<recipe>``.
``OUTPUT_ROOT/zoo.json`` lists what each recipe gave.

``hf-recsys zoo reproduce --recipes NAME ... --seeds 0 1 2`` trains each recipe once per seed
into ``OUTPUT_ROOT/<recipe>/seed-<S>`` (:func:`plan_seed_runs`) and states the test metrics' mean
and standard deviation over the seeds with every run's command (:func:`seed_summary`); a seed
whose folder holds ``eval_results.json`` is read, not retrained, and an interrupted one resumes
from its newest checkpoint, so the same command continues across sittings.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Collection, Optional, Sequence

from .constants import EVAL_RESULTS_FILE, RUN_CONFIG_FILE
from .recipes import Recipe, available_recipes, given_options, load_recipe

if TYPE_CHECKING:
    from .training.arguments import RunConfig


class _RunFolder:
    """A planned run's folder: finished when it holds ``eval_results.json``; ``train_argv`` adds
    ``--resume-from-checkpoint latest`` while it holds an interrupted run's checkpoint."""

    output_dir: str
    argv: list[str]

    @property
    def results_path(self) -> str:
        return os.path.join(self.output_dir, EVAL_RESULTS_FILE)

    @property
    def finished(self) -> bool:
        return os.path.isfile(self.results_path)

    def metrics(self) -> dict:
        with open(self.results_path, encoding="utf-8") as f:
            return json.load(f)

    @property
    def train_argv(self) -> list[str]:
        from .training.run import latest_checkpoint

        return self.argv + (["--resume-from-checkpoint", "latest"] if latest_checkpoint(self.output_dir) else [])


@dataclass
class ZooEntry(_RunFolder):
    """One recipe of `zoo build`: its folder, Hub repo and `hf-recsys train` arguments."""

    recipe: Recipe
    output_dir: str
    repo_id: Optional[str]
    argv: list[str]


def plan_zoo(
    recipes: Optional[Sequence[str]] = None,
    output_root: str = "zoo",
    data_root: Optional[str] = None,
    hub_org: Optional[str] = None,
    push_to_hub: bool = False,
    extra_argv: Sequence[str] = (),
    recipe_dir: Optional[str] = None,
    train_flags: Collection[str] = (),
) -> list[ZooEntry]:
    """One `hf-recsys train` argument list per recipe (all shipped recipes when ``recipes`` is
    None). A recipe's relative ``data_path`` is read under ``data_root``; ``extra_argv`` (flags of
    `hf-recsys train`) is appended to every run and wins over the recipes' values; ``train_flags``
    (the options of `hf-recsys train`) turn a recipe's ``key: false`` into ``--no-key``."""
    if push_to_hub and not hub_org:
        raise ValueError("--push-to-hub needs --hub-org (the repos are named ORG/<recipe>)")
    names = list(recipes) if recipes else available_recipes(recipe_dir)
    if not names:
        raise ValueError(f"no recipes to build in {recipe_dir or 'the package'}")
    plan = []
    for name in names:
        recipe = load_recipe(name, recipe_dir)
        argv = recipe.argv(train_flags)
        data_path = recipe.train.get("data_path")
        if data_root and data_path and not os.path.isabs(str(data_path)):
            argv = overridden(argv, ["--data-path", os.path.join(data_root, str(data_path))])
        elif data_path and not os.path.exists(str(data_path)) and given_options(extra_argv, "--data-path")[0].data_path is None:
            raise ValueError(f"{recipe.path}: the recipe's data_path {data_path} is not here; give --data-root DIR "
                             f"(the folder holding {data_path}) or --data-path PATH")
        output_dir = os.path.join(output_root, recipe.name)
        argv = overridden(argv, ["--output-dir", output_dir])
        repo_id = f"{hub_org}/{recipe.name}" if hub_org else None
        if push_to_hub:
            argv += ["--push-to-hub", "--hub-model-id", repo_id]
        plan.append(ZooEntry(recipe, output_dir, repo_id, overridden(argv, extra_argv)))
    return plan


def _option_key(token: str) -> str:
    flag = token.split("=", 1)[0]
    return "--" + flag[len("--no-"):] if flag.startswith("--no-") else flag


def overridden(argv: Sequence[str], later: Sequence[str]) -> list[str]:
    """``argv + later`` less the options of ``argv`` (with their values) that ``later`` gives
    again: what argparse would read (the last one wins), written once. ``--set`` adds, so it
    is kept from both."""
    given = {_option_key(token) for token in later if token.startswith("--") and token != "--set"}
    kept, dropping = [], False
    for token in argv:
        if token.startswith("--"):
            dropping = token != "--set" and _option_key(token) in given
        if not dropping:
            kept.append(token)
    return kept + list(later)


def write_zoo_summary(output_root: str, results: dict[str, dict]) -> str:
    """``OUTPUT_ROOT/zoo.json``: per recipe, its folder, repo id, command-line flags and metrics."""
    os.makedirs(output_root, exist_ok=True)
    path = os.path.join(output_root, "zoo.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1, ensure_ascii=False)
    return path


@dataclass
class SeedRun(_RunFolder):
    """One seed of a recipe: its folder and its `hf-recsys train` arguments."""

    recipe: Recipe
    seed: int
    output_dir: str
    argv: list[str]


def seed_folder(output_root: str, recipe_name: str, seed: int) -> str:
    return os.path.join(output_root, recipe_name, f"seed-{seed}")


def plan_seed_runs(
    recipes: Sequence[str],
    seeds: Sequence[int],
    output_root: str,
    data_root: Optional[str] = None,
    extra_argv: Sequence[str] = (),
    recipe_dir: Optional[str] = None,
    train_flags: Collection[str] = (),
) -> list[SeedRun]:
    """One run per recipe and seed, into ``OUTPUT_ROOT/<recipe>/seed-<S>``; a folder with
    checkpoints but no ``eval_results.json`` resumes from its newest checkpoint. A recipe named
    twice (by name and by path, say) is planned once; two recipe files of one name are refused
    (their seeds would share a folder)."""
    from .recipes import recipe_path

    paths: dict[str, str] = {}
    unique = []
    for name in recipes:
        path = os.path.realpath(recipe_path(name, recipe_dir))
        stem = os.path.splitext(os.path.basename(path))[0]
        if paths.get(stem, path) != path:
            raise ValueError(f"two recipes are named {stem} ({paths[stem]} and {path}): their seeds would share "
                             f"{os.path.join(output_root, stem)}; rename one")
        if stem not in paths:
            paths[stem] = path
            unique.append(name)
    runs = []
    for entry in plan_zoo(unique, output_root, data_root, extra_argv=extra_argv, recipe_dir=recipe_dir,
                          train_flags=train_flags):
        for seed in seeds:
            folder = seed_folder(output_root, entry.recipe.name, seed)
            runs.append(SeedRun(entry.recipe, seed, folder, overridden(entry.argv, ["--seed", str(seed), "--output-dir", folder])))
    return runs


#: what may differ between a finished seed's run and the planned one: where things are and how
#: the run is shown, not what it trains (``COMMAND_LEAVES_OUT`` of the training command, the
#: log's location, the recipe's name)
_NOT_THE_RUN = ("data_path", "recipe", "hub_token")


def run_differences(saved: dict, planned: "RunConfig") -> list[str]:
    """``"name saved (this command: planned)"`` for every option of a run's record ``saved``
    (``run_config.json``'s ``run``) that the run ``planned`` sets otherwise; options that do not
    change the trained model are not compared. An unreadable record gives no differences."""
    from .training.arguments import RunConfig
    from .training.run import COMMAND_LEAVES_OUT

    try:
        before = RunConfig.from_dict(saved)
    except (TypeError, ValueError):
        return []

    def flat(run: RunConfig) -> dict:
        values: dict = {}
        for key, value in run.to_dict().items():
            values.update(value if isinstance(value, dict) and key != "model_overrides" else {key: value})
        return {k: v for k, v in values.items() if k not in COMMAND_LEAVES_OUT and k not in _NOT_THE_RUN}

    old, new = flat(before), flat(planned)
    return [f"{key} {old[key]!r} (this command: {new[key]!r})" for key in new if key in old and old[key] != new[key]]


def finished_run_differences(run: _RunFolder, planned: "RunConfig") -> list[str]:
    """:func:`run_differences` between the finished run in ``run.output_dir`` and ``planned``."""
    path = os.path.join(run.output_dir, RUN_CONFIG_FILE)
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as f:
        saved = json.load(f).get("run", {})
    return run_differences(saved, planned)


def expected_metric(recipe: Recipe) -> str:
    """The test metric a recipe's spread is stated in: its ``expected.metric``, else its task's
    main metric (the one validation keeps the best weights by)."""
    from .training.arguments import RunConfig
    from .training.tasks import task_of_model

    if recipe.expected.get("metric"):
        return str(recipe.expected["metric"])
    return recipe.train.get("metric_for_best_model") or task_of_model(
        recipe.train.get("model", RunConfig.model)).main_metric


def seed_summary(recipe: Recipe, runs: Sequence[SeedRun], command: str) -> dict:
    """The test metrics of a recipe's finished seeds: mean and sample standard deviation of
    every ``eval_*`` metric, the headline ``metric``, and each run's metrics and arguments."""
    import numpy as np

    finished = [run for run in runs if run.finished]
    per_run = [(run, run.metrics()) for run in finished]
    names = sorted({key for _, metrics in per_run for key, value in metrics.items()
                    if key.startswith("eval_") and isinstance(value, (int, float)) and not key.endswith(
                        ("_runtime", "_per_second"))})
    summary_metrics = {}
    for name in names:
        values = np.array([metrics[name] for _, metrics in per_run if name in metrics], dtype=float)
        summary_metrics[name[len("eval_"):]] = {
            "mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0}
    metric = expected_metric(recipe)
    return {
        "recipe": recipe.name,
        "description": recipe.description,
        "command": command,
        "seeds": [run.seed for run in finished],
        "missing_seeds": [run.seed for run in runs if not run.finished],
        "metric": metric,
        "mean": summary_metrics.get(metric, {}).get("mean"),
        "std": summary_metrics.get(metric, {}).get("std"),
        "test": summary_metrics,
        "runs": [{"seed": run.seed, "output_dir": run.output_dir, "argv": run.argv,
                  "test": {key[len("eval_"):]: value for key, value in metrics.items()
                           if key.startswith("eval_") and isinstance(value, (int, float))},
                  **{key: metrics[key] for key in ("best_step", "best_valid_value", "stopped_early",
                                                   "train_steps", "train_runtime_s") if key in metrics}}
                 for run, metrics in per_run],
    }


def expected_section(summary: dict) -> dict:
    """A recipe's ``expected`` from :func:`seed_summary` (rounded to four decimals; the command's
    local absolute paths shortened to their last part, as on a card: recipes are published)."""
    from .hub import public_text

    return {"metric": summary["metric"], "mean": round(summary["mean"], 4), "std": round(summary["std"], 4),
            "seeds": summary["seeds"], "command": public_text(summary["command"])}
