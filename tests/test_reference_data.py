"""Published figures and recipes are data files that the library and the scripts read."""

import json
import os

import pytest

from hf_recsys.benchmarks.reference import PUBLISHED_FILE, p5_recipe_config, published_figures

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_published_figure_names_its_model_family_source_and_metrics():
    with open(PUBLISHED_FILE) as f:
        datasets = {name for name in json.load(f) if not name.startswith("_")}
    assert {"beauty", "ml-1m"} <= datasets
    for dataset in datasets:
        for row in published_figures(dataset):
            assert row["model"] and row["source"] and row["family"] in ("next_item", "p5")
            metrics = {key: value for key, value in row.items() if "@" in key}
            assert "ndcg@10" in metrics  # HR@10 where the source reports it
            assert all(0 < value < 1 for value in metrics.values())


def test_published_figures_filter_by_family_and_return_copies():
    p5 = published_figures("beauty", family="p5")
    assert p5 and all(row["family"] == "p5" and "hr@5" in row for row in p5)
    p5[0]["hr@10"] = -1.0
    assert published_figures("beauty", family="p5")[0]["hr@10"] != -1.0
    assert published_figures("no-such-dataset") == []


def test_p5_recipe_config_applies_per_indexing_fields():
    from hf_recsys.recipes import load_recipe

    common = {k: v for k, v in load_recipe("p5-beauty").model_config.items() if k not in ("item_indexing",)}
    independent, random_ids = p5_recipe_config("independent"), p5_recipe_config("random")
    assert independent == {**common, "item_indexing": "independent", "compact_item_words": True}
    assert random_ids == {**common, "item_indexing": "random", "compact_item_words": False}


@pytest.mark.parametrize("indexing", ["random", "independent"])
def test_the_recipe_fields_are_p5_config_fields(indexing):
    from hf_recsys.models import P5Config

    fields = p5_recipe_config(indexing)
    assert set(fields) <= set(P5Config.__dataclass_fields__)
    P5Config(**fields)
