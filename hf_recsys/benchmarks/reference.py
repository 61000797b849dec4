"""Figures from the literature and training recipes, kept as data files rather than code.

* ``hf_recsys/benchmarks/published.json``: published full-ranking figures per dataset, each
  with its model family and source; the benchmark report and the comparison scripts read it.
* P5's config for one item indexing, from the shipped recipe ``hf_recsys/recipes/p5-beauty.yaml``
  (:func:`p5_recipe_config`), for the scripts that compare indexing methods.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

PUBLISHED_FILE = Path(__file__).with_name("published.json")


@lru_cache(maxsize=None)
def _published() -> dict[str, list[dict[str, Any]]]:
    with open(PUBLISHED_FILE, encoding="utf-8") as f:
        table = json.load(f)
    return {dataset: rows for dataset, rows in table.items() if not dataset.startswith("_")}


def published_figures(dataset: str, family: Optional[str] = None) -> list[dict[str, Any]]:
    """Published figures for ``dataset`` (``[]`` when there are none), optionally of one model
    ``family`` (``"next_item"``, ``"p5"``); each a dict with ``model``, ``family``, ``source``
    and metric keys such as ``"hr@10"``. Copies: callers may change them."""
    rows = _published().get(dataset, [])
    return [dict(row) for row in rows if family is None or row["family"] == family]


def p5_recipe_config(indexing: Optional[str] = None, recipe: str = "p5-beauty") -> dict[str, Any]:
    """The P5 config fields of the shipped ``recipe`` for ``indexing``: its ``model_config``
    with ``item_indexing`` set to ``indexing``; ``compact_item_words`` (item tokens written
    without a word-start token) applies to independent IDs only, one token per item."""
    from ..recipes import load_recipe

    fields = dict(load_recipe(recipe).model_config)
    if indexing is not None:
        fields["item_indexing"] = indexing
        fields["compact_item_words"] = bool(fields.get("compact_item_words")) and indexing == "independent"
    return fields


__all__ = ["PUBLISHED_FILE", "published_figures", "p5_recipe_config"]
