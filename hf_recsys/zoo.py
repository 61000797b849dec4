"""The model zoo: a set of recipes trained into Hub-ready folders named ``ORG/<recipe>``.

``hf-recsys zoo build [--recipes NAME ...] [--output-root DIR] [--data-root DIR]
[--push-to-hub --hub-org ORG]`` plans one `hf-recsys train` run per recipe (:func:`plan_zoo`) and
runs them one after another; each writes ``OUTPUT_ROOT/<recipe>/`` (weights, config, processor,
card, ``eval_results.json``) and, with ``--push-to-hub``, uploads it to ``ORG/<recipe>``.
``OUTPUT_ROOT/zoo.json`` lists what each recipe gave.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Collection, Optional, Sequence

from .recipes import Recipe, available_recipes, load_recipe


@dataclass
class ZooEntry:
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
            argv += ["--data-path", os.path.join(data_root, str(data_path))]
        output_dir = os.path.join(output_root, recipe.name)
        argv += ["--output-dir", output_dir]
        repo_id = f"{hub_org}/{recipe.name}" if hub_org else None
        if push_to_hub:
            argv += ["--push-to-hub", "--hub-model-id", repo_id]
        plan.append(ZooEntry(recipe, output_dir, repo_id, argv + list(extra_argv)))
    return plan


def write_zoo_summary(output_root: str, results: dict[str, dict]) -> str:
    """``OUTPUT_ROOT/zoo.json``: per recipe, its folder, repo id, command-line flags and metrics."""
    os.makedirs(output_root, exist_ok=True)
    path = os.path.join(output_root, "zoo.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1, ensure_ascii=False)
    return path
