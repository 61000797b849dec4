"""Figures from the literature and training recipes, kept as data files rather than code.

* ``hf_recsys/benchmarks/published.json``: published full-ranking figures per dataset, each
  with its model family and source; the benchmark report and the comparison scripts read it.
* ``recipes/*.json`` (next to the scripts that use them): the config fields of a named
  training recipe, common ones plus per-indexing ones (see :func:`load_recipe`).
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional, Union

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


def load_recipe(path: Union[str, os.PathLike], indexing: Optional[str] = None) -> dict[str, Any]:
    """The config fields of the recipe in ``path``: its ``config`` plus, for ``indexing``, the
    fields of ``per_indexing[indexing]`` and ``item_indexing`` itself."""
    with open(path, encoding="utf-8") as f:
        recipe = json.load(f)
    fields = dict(recipe.get("config", {}))
    if indexing is not None:
        fields["item_indexing"] = indexing
        fields.update(recipe.get("per_indexing", {}).get(indexing, {}))
    return fields


__all__ = ["PUBLISHED_FILE", "published_figures", "load_recipe"]
