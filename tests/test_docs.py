"""The documentation cannot rot: its code runs, its tables come from the code, every model has a page.

Conventions for code blocks in ``README.md`` and ``docs/**/*.md``:

* Every ```` ```python ```` block runs here, unless its first line is ``# illustrative`` (then
  it is shown, not run: code that needs a GPU, the network, a real dataset or minutes).
  ```` ```bash ```` and other languages are shown only. A Python block must be tagged
  ``python`` exactly (not ``py``), so that none escapes this test.
* A page's blocks run in order in one namespace (a later block may use an earlier one's names),
  in a fresh temporary working directory, on one torch thread. Blocks make their own tiny data
  (e.g. ``generate_synthetic_log(num_users=100, num_items=200)``) and take a few seconds.
* Trained model folders: a page whose Python blocks name one of the paths in ``MODEL_FIXTURES`` (e.g.
  ``outputs/bst-synthetic``, the folder the getting-started command writes) finds a tiny model
  of that kind at that path in its working directory. Each is trained once per test session
  with the command line (a few steps on a small embedded default log), so its metrics mean
  nothing; its files, processor and API are the real ones. Add a path here to offer another.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

#: path a page mentions -> extra arguments of scripts/train.py for the tiny model placed there
MODEL_FIXTURES = {
    "outputs/bst-synthetic": ["--model", "bst"],
    "outputs/sasrec-synthetic": ["--model", "sasrec"],
}
TINY_RUN = ["--max-steps", "3", "--synthetic-users", "200", "--synthetic-items", "100", "--batch-size", "32", "--no-progress"]

FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.S | re.M)
#: languages a fenced block may declare; ``python`` runs, the rest are shown
SHOWN_LANGUAGES = {"bash", "console", "text", "json", "yaml", "toml", "ini", "csv", "markdown", "diff", "python"}


def markdown_pages() -> list[Path]:
    return [ROOT / "README.md"] + sorted(DOCS.rglob("*.md"))


def code_blocks(path: Path) -> list[tuple[str, str, int]]:
    """``(language, code, first line number)`` of every fenced block of a page."""
    text = path.read_text(encoding="utf-8")
    blocks = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 2
        indent = match.group("indent")
        body = "".join(text_line[len(indent):] if text_line.startswith(indent) else text_line
                       for text_line in match.group("body").splitlines(True))
        blocks.append((match.group("lang").strip(), body, line))
    return blocks


def runnable_blocks(path: Path) -> list[tuple[str, int]]:
    return [(code, line) for lang, code, line in code_blocks(path)
            if lang == "python" and not code.lstrip().startswith("# illustrative")]


def _page_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


PAGES_WITH_CODE = [p for p in markdown_pages() if runnable_blocks(p)]


@pytest.fixture(scope="session")
def trained_models(tmp_path_factory):
    """Train each fixture model on first use; ``get(path)`` returns its folder."""
    root = tmp_path_factory.mktemp("doc-models")
    made: dict[str, Path] = {}

    def get(relative: str) -> Path:
        if relative not in made:
            folder = root / relative.replace("/", "_")
            env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
            result = subprocess.run(
                [sys.executable, str(ROOT / "scripts" / "train.py"), *MODEL_FIXTURES[relative], *TINY_RUN,
                 "--output-dir", str(folder)],
                env=env, capture_output=True, text=True, timeout=600,
            )
            assert result.returncode == 0, f"training the docs fixture {relative} failed:\n{result.stderr[-3000:]}"
            made[relative] = folder
        return made[relative]

    return get


@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=_page_id)
def test_python_blocks_run(page: Path, tmp_path, monkeypatch, trained_models):
    import torch

    torch.set_num_threads(1)
    text = "".join(code for code, _ in runnable_blocks(page))
    for relative in MODEL_FIXTURES:
        if relative in text:
            target = tmp_path / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(trained_models(relative), target)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for code, line in runnable_blocks(page):
        try:
            exec(compile(code, f"{_page_id(page)}:{line}", "exec"), namespace)
        except Exception as error:  # name the page and line of the block that failed
            raise AssertionError(f"the python block at {_page_id(page)}:{line} failed: {error!r}") from error


@pytest.mark.parametrize("page", markdown_pages(), ids=_page_id)
def test_every_code_block_is_run_or_marked(page: Path):
    """A block is run (``python``), marked ``# illustrative``, or in a language that is shown only;
    a Python-looking block under another tag or none would silently escape the run."""
    for lang, code, line in code_blocks(page):
        where = f"{_page_id(page)}:{line}"
        assert lang in SHOWN_LANGUAGES, f"{where}: fence language {lang!r}; use one of {sorted(SHOWN_LANGUAGES)}"
        if lang != "python":
            first = code.lstrip().split("\n", 1)[0]
            assert not re.match(r"(import \w|from [\w.]+ import )", first), (
                f"{where}: Python code under ```{lang}: tag it ```python (it then runs) or mark it # illustrative"
            )


def test_block_parser_reads_languages_markers_and_indented_fences(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "text\n```python\nx = 1\n```\n\n* item\n\n    ```python\n    y = x + 1\n    ```\n"
        "```python\n# illustrative\nraise SystemExit\n```\n```bash\nls\n```\n",
        encoding="utf-8",
    )
    assert [(lang, line) for lang, _, line in code_blocks(page)] == [("python", 3), ("python", 9), ("python", 12), ("bash", 16)]
    assert [code for code, _ in runnable_blocks(page)] == ["x = 1\n", "y = x + 1\n"]


# --------------------------------------------------------------------------- model pages


def _builder():
    spec = importlib.util.spec_from_file_location("build_docs_pages", ROOT / "scripts" / "build_docs_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _registry():
    from hf_recsys.models import MODEL_REGISTRY

    return MODEL_REGISTRY


@pytest.mark.parametrize("name", sorted(_registry()))
def test_every_registered_model_has_a_page_with_every_config_field(name):
    page = DOCS / "models" / f"{name}.md"
    assert page.exists(), f"model {name!r} is registered but has no page docs/models/{name}.md"
    text = page.read_text(encoding="utf-8")
    for heading in ("## What it does", "## Where we depart from the paper", "## Train it", "## Configuration", "## Results"):
        assert heading in text, f"docs/models/{name}.md lacks the template's section {heading!r}"
    builder = _builder()
    fields = [row["name"] for row in builder.config_fields(_registry()[name].config_class)]
    assert fields, name
    missing = [f for f in fields if f"| `{f}` |" not in text]
    assert not missing, f"docs/models/{name}.md lacks config fields {missing} (run python scripts/build_docs_pages.py)"
    assert f"--model {name}" in text, f"docs/models/{name}.md shows no training command"


def test_config_fields_include_the_base_class_fields_and_descriptions():
    from hf_recsys.models import BSTConfig, DIENConfig, SASRecConfig

    rows = {row["name"]: row for row in _builder().config_fields(SASRecConfig)}
    assert {"num_items", "max_history", "loss_type", "num_negatives"} <= set(rows)
    assert "return_dict" not in rows  # transformers' own PreTrainedConfig fields are not listed
    # SASRec's own docstring only points back ("see NextItemConfig"): the base's text is kept
    assert "sampled_softmax" in rows["loss_type"]["description"]
    bst = {row["name"]: row for row in _builder().config_fields(BSTConfig)}
    assert bst["attention_dropout"]["description"] != bst["dropout"]["description"] != ""
    # "attention_hidden_sizes / attention_activation:" in the docstring describes both fields
    dien = {row["name"]: row for row in _builder().config_fields(DIENConfig)}
    assert dien["attention_hidden_sizes"]["description"] == dien["attention_activation"]["description"] != ""
    assert bst["mlp_hidden_sizes"]["default"] == repr(BSTConfig().mlp_hidden_sizes)
    assert [f.name for f in dataclasses.fields(BSTConfig) if f.name == "num_heads"] == ["num_heads"]


def test_generated_docs_are_up_to_date():
    stale = _builder().stale_outputs()
    assert not stale, f"generated docs are stale: {stale}; run: python scripts/build_docs_pages.py"


def test_a_changed_config_field_makes_the_pages_stale(monkeypatch):
    builder = _builder()
    from hf_recsys.models import BSTConfig

    original = builder.config_fields

    def with_extra_field(config_class):
        rows = original(config_class)
        if config_class is BSTConfig:
            rows = rows + [{"name": "new_field", "type": "int", "default": "1", "description": "new."}]
        return rows

    monkeypatch.setattr(builder, "config_fields", with_extra_field)
    assert "docs/models/bst.md" in builder.stale_outputs()


# --------------------------------------------------------------------------- results generator


def test_generic_results_table_shows_rows_seeds_and_commands():
    builder = _builder()
    rows = [
        {"model": "din", "auc": [0.80, 0.82, 0.84], "command": "python x.py --seed S", "git_commit": "abc1234",
         "machine": {"cpu": "AMD EPYC", "usable_cores": 2, "torch": "2.13.0"}},
        {"model": "peer", "metrics": {"auc": 0.81}},
    ]
    table = builder.generic_table(rows, "area-file")
    assert "| model | auc | metrics.auc | run |" in table
    assert "0.8200 ± 0.0200 (n=3)" in table
    assert "`python x.py --seed S` (commit `abc1234`); AMD EPYC, 2 cores, torch 2.13.0" in table
    assert "| peer | – | 0.8100 |" in table


def test_results_pages_for_an_unknown_area_layout(tmp_path, monkeypatch):
    builder = _builder()
    (tmp_path / "new_area").mkdir()
    (tmp_path / "new_area" / "runs.json").write_text(
        '{"command": "python bench.py", "git_commit": "fff0000", "rows": [{"name": "a", "steps_per_s": 12.5}]}')
    (tmp_path / "new_area" / "odd.json").write_text('{"just": "a value"}')
    monkeypatch.setattr(builder, "RESULTS", str(tmp_path))
    entries = builder.load_results()
    page = builder.area_page("new_area", entries)
    assert "| a | 12.5 | [run](#new-area-runs) |" in page
    assert "python bench.py" in page and "fff0000" in page
    assert "(no list of rows in this file)" in page


def results_from(tmp_path, monkeypatch, area: str, files: dict):
    """The docs builder reading ``files`` (name -> JSON data) alone under ``area``, and its entries."""
    builder = _builder()
    (tmp_path / area).mkdir(exist_ok=True)
    for name, data in files.items():
        (tmp_path / area / name).write_text(json.dumps(data))
    monkeypatch.setattr(builder, "RESULTS", str(tmp_path))
    return builder, builder.load_results()


def render_area(tmp_path, monkeypatch, area: str, files: dict) -> str:
    """The results page of ``area`` built from ``files`` (name -> JSON data) alone."""
    builder, entries = results_from(tmp_path, monkeypatch, area, files)
    return builder.area_page(area, entries)


def test_a_zoo_reproduce_summary_renders_as_a_table_of_recipes(tmp_path, monkeypatch):
    summary = {"command": "hf-recsys zoo reproduce --recipes din-x sasrec-x", "commit": "abc1234", "recipes": {
        "din-x": {"recipe": "din-x", "metric": "auc", "seeds": [0, 1], "missing_seeds": [], "test": {
            "auc": {"mean": 0.81, "std": 0.02}, "gauc": {"mean": 0.8, "std": 0.01},
            "logloss": {"mean": 0.5, "std": 0.03}, "popularity_auc": {"mean": 0.7, "std": 0.0}}},
        "sasrec-x": {"recipe": "sasrec-x", "metric": "ndcg@10", "seeds": [0], "missing_seeds": [], "test": {
            "ndcg@10": {"mean": 0.05, "std": 0.0}, "hr@10": {"mean": 0.09, "std": 0.0}}}}}
    page = render_area(tmp_path, monkeypatch, "zoo", {"ml1m.json": summary})
    assert "| recipe | test auc | test gauc | test logloss | popularity auc | seeds | run |" in page
    assert "| din-x | 0.8100 ± 0.0200 | 0.8000 ± 0.0100 | 0.5000 ± 0.0300 | 0.7000 | 0, 1 | [run](#zoo-ml1m) |" in page
    # one seed has no spread: its values alone; a metric the runs lack is a dash
    assert "| sasrec-x | 0.0500 | 0.0900 | – | – | – | 0 | [run](#zoo-ml1m) |" in page
    assert "hf-recsys zoo reproduce --recipes din-x sasrec-x" in page and "abc1234" in page


def test_the_headline_gives_a_recipe_reproduced_over_seeds_beside_the_published_figures(tmp_path, monkeypatch):
    reproduction = {"command": "hf-recsys zoo reproduce --recipes sasrec-beauty", "recipes": {
        "sasrec-beauty": {"recipe": "sasrec-beauty", "metric": "ndcg@10", "seeds": [0, 1, 2], "missing_seeds": [],
                          "mean": 0.05, "std": 0.001, "test": {
                              "ndcg@10": {"mean": 0.05, "std": 0.001}, "hr@10": {"mean": 0.09, "std": 0.002},
                              "popularity_ndcg@10": {"mean": 0.005, "std": 0.0}},
                          "runs": [{"seed": s, "test": {"ndcg@10": v, "hr@10": h}} for s, v, h in
                                   zip((0, 1, 2), (0.049, 0.05, 0.051), (0.088, 0.09, 0.092))]}}}
    builder, entries = results_from(tmp_path, monkeypatch, "zoo", {"beauty.json": reproduction})
    rows = builder.headline_rows(entries)
    assert rows[0].startswith("| Amazon Beauty | ours: sasrec-beauty recipe (3 seeds) | NDCG@10 0.0500 ± 0.0010 · "
                              "HR@10 0.0900 ± 0.0020 |")
    assert rows[1] == "| Amazon Beauty | popularity | NDCG@10 0.0050 · HR@10 – | the same test users |"
    assert any("published: TIGER" in row for row in rows)
    assert not any("MovieLens-1M" in row for row in rows)  # no result of ours there: no row
    # the model table and the model's page give the recipe's spread too
    table = builder.model_table(entries, "")
    sasrec_line = next(line for line in table.splitlines() if line.startswith("| [`sasrec`]"))
    assert sasrec_line.endswith("| next_item | NDCG@10 0.0500 ± 0.0010 (Amazon Beauty, 3 seeds, sasrec-beauty recipe) |")
    block = builder.model_results_block(entries, "sasrec", "next_item")
    assert "[sasrec-beauty recipe, seeds 0, 1, 2](../results/zoo.md#zoo-beauty)" in block
    # a single run on a more realistic dataset is on the model's page, not its headline
    builder, entries = results_from(tmp_path, monkeypatch, "hstu", {"ml1m.json": {"command": "python train.py", "rows": [
        {"name": "SASRec seed 0", "model": "sasrec", "dataset": "ml-1m", "test": {"hr@10": 0.3, "ndcg@10": 0.17}}]}})
    table = builder.model_table(entries, "")
    sasrec_line = next(line for line in table.splitlines() if line.startswith("| [`sasrec`]"))
    assert sasrec_line.endswith("| next_item | NDCG@10 0.0500 ± 0.0010 (Amazon Beauty, 3 seeds, sasrec-beauty recipe) |")
    block = builder.model_results_block(entries, "sasrec", "next_item")
    assert "| MovieLens-1M | [SASRec seed 0](../results/hstu.md#hstu-ml1m) | 0.3000 | 0.1700 |" in block
    # one seed is not a headline
    reproduction["recipes"]["sasrec-beauty"]["seeds"] = [0]
    builder, entries = results_from(tmp_path, monkeypatch, "zoo", {"beauty.json": reproduction})
    assert builder.headline_rows(entries) == []


def test_a_tune_search_renders_as_a_table_of_trials(tmp_path, monkeypatch):
    search = {"command": "hf-recsys tune --recipe din-x", "metric": "auc", "direction": "maximize",
              "best_params": {"learning_rate": 0.002}, "best_value": 0.84, "budget": "2 trials", "trials": [
                  {"number": 0, "state": "COMPLETE", "value": 0.84, "params": {"learning_rate": 0.002, "weight_decay": 1e-05}},
                  {"number": 1, "state": "PRUNED", "value": 0.8, "params": {"learning_rate": 0.0001, "weight_decay": 0.0}}]}
    page = render_area(tmp_path, monkeypatch, "tune", {"din-x.json": search})
    assert "| trial | state | validation auc | `learning_rate` | `weight_decay` | run |" in page
    assert "| 0 | COMPLETE | **0.8400** | 0.002 | 1e-05 | [run](#tune-din-x) |" in page
    assert "| 1 | PRUNED | 0.8000 | 0.0001 | 0 | [run](#tune-din-x) |" in page
    assert "Budget: 2 trials." in page and "hf-recsys tune --recipe din-x" in page


def test_model_results_come_from_any_file_whose_rows_name_the_model(tmp_path, monkeypatch):
    builder = _builder()
    (tmp_path / "zoo").mkdir()
    (tmp_path / "zoo" / "sasrec.json").write_text(json.dumps({
        "command": "python zoo.py", "git_commit": "1234567",
        "rows": [{"model": "sasrec", "name": "sasrec ml-1m", "dataset": "ml-1m",
                  "metrics": {"hr@10": [0.30, 0.32], "ndcg@10": 0.18}, "baseline": {"ndcg@10": 0.02}},
                 {"model": "gru4rec", "metrics": {"ndcg@10": 0.1}}]}))
    monkeypatch.setattr(builder, "RESULTS", str(tmp_path))
    block = builder.model_results_block(builder.load_results(), "sasrec", "next_item")
    assert ("| MovieLens-1M | [sasrec ml-1m](../results/zoo.md#zoo-sasrec) | 0.3100 ± 0.0141 (n=2) | 0.1800 | – | – "
            "| 0.0200 | `python zoo.py` | `1234567` |") in block
    assert "gru4rec" not in block


def test_a_peer_comparison_gives_its_model_a_row_over_its_seeds_and_files(tmp_path, monkeypatch):
    def report(seeds, auc, **extra):
        runs = [{"seed": s, "test": {"auc": a, "gauc": a - 0.01, "logloss": 0.4}} for s, a in zip(seeds, auc)]
        peer = [{"seed": s, "test": {"auc": 0.5, "gauc": 0.5, "logloss": 0.7}} for s in seeds]
        return {"command": f"python ctr_peers.py --seeds {seeds}", "commit": "abcdef0123", "dataset": "ml-1m",
                "popularity": {"test": {"auc": 0.8, "gauc": 0.79, "logloss": 0.53}},
                "results": {"din/ours": {"runs": runs}, "din/deepctr": {"runs": peer}}, **extra}

    builder, entries = results_from(tmp_path, monkeypatch, "ctr_peers", {
        "a-old-defaults.json": report([0], [0.70], superseded="the old defaults"),
        "b-s0.json": report([0], [0.91]), "c-s12.json": report([1, 2], [0.90, 0.92]),
        "d-ablation.json": {**report([3], [0.60]), "results": {"din/ours": {"runs": [
            {"seed": 3, "overrides": {"dropout": 0.5}, "test": {"auc": 0.6, "gauc": 0.6, "logloss": 0.6}}]}}}})
    block = builder.model_results_block(entries, "din", "ctr")
    # seeds 0-2 of our side from two files; the superseded file, the run with overrides and the
    # peer's side left out
    assert ("| MovieLens-1M | [package defaults, beside DeepCTR-Torch on the same samples, seeds 0, 1, 2]"
            "(../results/ctr_peers.md#ctr-peers-b-s0) | 0.9100 ± 0.0100 (n=3) | 0.9000 ± 0.0100 (n=3) | "
            "0.4000 ± 0.0000 (n=3) | 0.8000 | `python ctr_peers.py --seeds [0] (one file per seed: see the results "
            "page)` | `abcdef0` |") in block
    assert "0.7000" not in block and "0.5000" not in block and "0.6000" not in block
    # its results page: each file's runs of both libraries after popularity, a superseded file says so
    page = builder.area_page("ctr_peers", entries)
    assert "Superseded: the old defaults." in page
    assert "| popularity | – | – | 0.8000 | 0.7900 | 0.5300 | – | – | [run](#ctr-peers-c-s12) |" in page
    assert "| din | DeepCTR-Torch | 2 | 0.5000 | 0.5000 | 0.7000 | – | – | [run](#ctr-peers-c-s12) |" in page
    assert "(no list of rows in this file)" not in page
    din_line = next(line for line in builder.model_table(entries, "").splitlines() if line.startswith("| [`din`]"))
    assert din_line.endswith("| ctr | AUC 0.9100 ± 0.0100 (MovieLens-1M, 3 seeds, package defaults) |")
    # on the same dataset, a shipped recipe reproduced over seeds is the headline
    recipe = {"command": "hf-recsys zoo reproduce --recipes din-ml1m", "recipes": {"din-ml1m": {
        "recipe": "din-ml1m", "metric": "auc", "seeds": [0, 1], "missing_seeds": [],
        "test": {"auc": {"mean": 0.85, "std": 0.0}},
        "runs": [{"seed": s, "test": {"auc": 0.85}} for s in (0, 1)]}}}
    (tmp_path / "zoo").mkdir()
    (tmp_path / "zoo" / "ml1m-ctr.json").write_text(json.dumps(recipe))
    din_line = next(line for line in builder.model_table(builder.load_results(), "").splitlines()
                    if line.startswith("| [`din`]"))
    assert din_line.endswith("| ctr | AUC 0.8500 ± 0.0000 (MovieLens-1M, 2 seeds, din-ml1m recipe) |")


def test_marker_blocks_are_replaced_in_place():
    builder = _builder()
    text = "intro\n<!-- generated:x -->\nold\n<!-- /generated:x -->\noutro\n"
    assert builder.fill_blocks(text, {"x": "new"}) == "intro\n<!-- generated:x -->\nnew\n<!-- /generated:x -->\noutro\n"
    assert "## Configuration\n\n<!-- generated:y -->\nbody" in builder.fill_blocks("page\n", {"y": "body"}, {"y": "## Configuration"})
    # a hand-written section of that name gets the block as its body; the next section stays
    page = "# M\n\n## Configuration\n\n| hand | table |\n\n## Results\n\nprose\n"
    assert builder.fill_blocks(page, {"c": "generated"}, {"c": "## Configuration"}) == (
        "# M\n\n## Configuration\n\n<!-- generated:c -->\ngenerated\n<!-- /generated:c -->\n\n## Results\n\nprose\n")
    with pytest.raises(KeyError):
        builder.fill_blocks(text, {"z": "new"})


# --------------------------------------------------------------------------- README


def test_readme_is_short_and_ci_runs_its_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    assert "python -m pytest -q tests\n" in readme
    assert "python scripts/train.py --output-dir outputs/bst-synthetic" in readme
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "python -m pytest -q tests\n" in ci
    assert "mkdocs build --strict" in ci
