#!/usr/bin/env python
"""Write every generated part of the documentation from the code and the result files.

    python scripts/build_docs_pages.py            # write what changed
    python scripts/build_docs_pages.py --check    # exit 1 and name the stale files

What it writes:

* the config-fields table of each model page ``docs/models/NAME.md`` (every field a
  ``hf_recsys`` config class declares: type, default, and the description from the class
  docstring's ``Args:``), and the page's results table;
* ``docs/results/*.md``: one page per result area under ``benchmarks/results/`` (a suite file
  gets quality, speed and scale tables; any other JSON with a list of rows gets a generic
  table), and the headline table of ``docs/results/index.md``;
* the model table and the headline results table of ``README.md``, the model table of
  ``docs/models/index.md``, the headline of ``docs/index.md`` and the per-model entries of the
  API reference.

A generated part sits between ``<!-- generated:KEY -->`` and ``<!-- /generated:KEY -->``; the
text around it is written by hand. A model page without the markers gets them appended.
``mkdocs build`` fails while anything here is stale (``scripts/mkdocs_hooks.py``).
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import inspect
import json
import math
import os
import re
import sys
from typing import Any, Iterable, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
RESULTS = os.path.join(ROOT, "benchmarks", "results")

#: how each family is scored, the headline metric, and the protocol in one line
FAMILIES = {
    "ctr": {
        "metrics": [("auc", "AUC"), ("gauc", "GAUC"), ("logloss", "logloss")],
        "headline": ("auc", "AUC"),
        "protocol": "held-out test samples: each user's last interaction + 1 sampled negative",
    },
    "next_item": {
        "metrics": [("hr@10", "HR@10"), ("ndcg@10", "NDCG@10"), ("hr@20", "HR@20"), ("ndcg@20", "NDCG@20")],
        "headline": ("ndcg@10", "NDCG@10"),
        "protocol": "leave-one-out, full ranking over all items, history masked, pessimistic ties",
    },
    "p5": {
        "metrics": [("hr@5", "HR@5"), ("ndcg@5", "NDCG@5"), ("hr@10", "HR@10"), ("ndcg@10", "NDCG@10")],
        "headline": ("ndcg@10", "NDCG@10"),
        "protocol": "leave-one-out, constrained beam search over all items, seen items not excluded",
    },
}
TASK_FAMILY = {"ctr": "ctr", "next_item": "next_item", "seq2seq": "p5"}
#: a real dataset's number says more than the embedded default's
DATASET_PRIORITY = ["ml-1m", "beauty", "amazon", "ml-20m", "ml-1m-users0.1", "ml-100k", "csv", "synthetic"]
DATASET_NAMES = {"synthetic": "embedded default", "beauty": "Amazon Beauty", "ml-1m": "MovieLens-1M",
                 "ml-1m-users0.1": "MovieLens-1M, a tenth of the users"}


# --------------------------------------------------------------------------- markers


def marker_block(key: str, body: str) -> str:
    return f"<!-- generated:{key} -->\n{body.rstrip()}\n<!-- /generated:{key} -->"


def replace_block(text: str, key: str, body: str) -> str:
    pattern = re.compile(rf"<!-- generated:{re.escape(key)} -->.*?<!-- /generated:{re.escape(key)} -->", re.S)
    block = marker_block(key, body)
    if pattern.search(text) is None:
        raise KeyError(key)
    return pattern.sub(lambda _: block, text, count=1)


def fill_blocks(text: str, blocks: dict[str, str], sections: Optional[dict[str, str]] = None) -> str:
    """Replace each ``key``'s block. Where a page has no block for ``key`` but ``sections[key]``
    names a heading (``"## Configuration"``), the block becomes that section's body (a
    hand-written table there would drift), or a new section at the end if the page lacks it."""
    for key, body in blocks.items():
        try:
            text = replace_block(text, key, body)
        except KeyError:
            if sections is None or key not in sections:
                raise KeyError(f"no <!-- generated:{key} --> block") from None
            heading = sections[key]
            section = re.compile(rf"^{re.escape(heading)}[ \t]*\n.*?(?=^## |\Z)", re.S | re.M)
            replacement = f"{heading}\n\n{marker_block(key, body)}\n\n"
            if section.search(text):
                text = section.sub(lambda _: replacement, text, count=1).rstrip() + "\n"
            else:
                text = text.rstrip() + f"\n\n{replacement.rstrip()}\n"
    return text


# --------------------------------------------------------------------------- config tables


def _docstring_args(cls: type) -> dict[str, str]:
    """The ``Args:`` entries of a class docstring: ``name: text`` (Google style, ``a / b:``
    naming several fields) or ``name (`type`, ...):`` (transformers style)."""
    doc = inspect.cleandoc(cls.__dict__.get("__doc__") or "")
    lines = doc.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Args:") + 1
    except StopIteration:
        return {}
    entries: dict[str, str] = {}
    indent, names, text = None, [], []

    def flush() -> None:
        for name in names:
            entries[name] = " ".join(text).strip()

    for line in lines[start:]:
        if not line.strip():
            continue
        width = len(line) - len(line.lstrip())
        if indent is None:
            indent = width
        if width < indent:
            break
        match = re.match(r"^([\w\s/,]+?)(\s*\(.*\))?:(\s.*|)$", line.strip()) if width == indent else None
        if match:
            flush()
            names = [n.strip() for n in re.split(r"[/,]", match.group(1)) if n.strip()]
            text = [match.group(3).strip()]
        else:
            text.append(line.strip())
    flush()
    return entries


def config_fields(config_class: type) -> list[dict[str, str]]:
    """Every field an ``hf_recsys`` class in ``config_class``'s MRO declares, in declaration
    order (base classes first), with its type, default and description."""
    own: list[str] = []
    descriptions: dict[str, str] = {}
    for klass in reversed(config_class.__mro__):
        if klass.__module__.startswith("transformers") and klass.__name__ != "PreTrainedConfig":
            descriptions.update(_docstring_args(klass))
        if not klass.__module__.startswith("hf_recsys"):
            continue
        for name, text in _docstring_args(klass).items():
            # a subclass line that only points back ("see NextItemConfig") keeps the base's text
            if not (name in descriptions and text.lower().startswith("see ")):
                descriptions[name] = text
        for name in klass.__dict__.get("__annotations__", {}):
            if name not in own and not name.startswith("_") and name != "model_type":
                own.append(name)
    by_name = {f.name: f for f in dataclasses.fields(config_class)}
    rows = []
    for name in own:
        spec = by_name.get(name)
        if spec is None:
            continue
        if spec.default is not dataclasses.MISSING:
            default = spec.default
        elif spec.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = spec.default_factory()  # type: ignore[misc]
        else:
            default = None
        kind = spec.type if isinstance(spec.type, str) else getattr(spec.type, "__name__", str(spec.type))
        rows.append({"name": name, "type": kind, "default": repr(default), "description": descriptions.get(name, "")})
    return rows


def _cell(text: str) -> str:
    """Markdown for one table cell: reST roles and double backticks become code spans."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text)
    text = re.sub(r"``([^`]+)``", r"`\1`", text)
    return text.replace("|", "\\|").replace("\n", " ")


def config_table(config_class: type) -> str:
    lines = [
        f"Generated from `{config_class.__module__}.{config_class.__name__}`; a field can be set with "
        "`--set FIELD=VALUE` on the command line or as a keyword of the config, except those a run takes "
        "from its data (`num_items`, `num_users`, vocabulary and feature sizes) and `max_history` "
        "(`--max-history`).",
        "",
        "| field | type | default | description |",
        "|---|---|---|---|",
    ]
    for row in config_fields(config_class):
        # a pipe inside a code span does not split a cell, so types and defaults stay unescaped
        lines.append(f"| `{row['name']}` | `{row['type']}` | `{row['default']}` | {_cell(row['description'])} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- result files


def _rel(path: str) -> str:
    return os.path.relpath(path, ROOT)


def load_results() -> list[dict[str, Any]]:
    """Every JSON file under ``benchmarks/results/``, sorted by path, as ``{"path", "area", "data"}``."""
    found = []
    for path in sorted(glob.glob(os.path.join(RESULTS, "**", "*.json"), recursive=True)):
        with open(path, encoding="utf-8") as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as error:
                raise SystemExit(f"{_rel(path)}: not valid JSON ({error})") from None
        area = os.path.relpath(os.path.dirname(path), RESULTS).replace(os.sep, "/")
        found.append({"path": path, "area": area, "data": data})
    return found


def is_suite(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("models"), list) and "suite" in data


def is_reproduction(data: Any) -> bool:
    """A ``hf-recsys zoo reproduce`` summary: recipes with their test metrics over seeds."""
    return isinstance(data, dict) and isinstance(data.get("recipes"), dict) and "command" in data


def is_peer_comparison(data: Any) -> bool:
    """A ``benchmarks/peers/ctr_peers.py`` record: per ``"model/library"``, its runs over seeds."""
    return (isinstance(data, dict) and isinstance(data.get("results"), dict) and "dataset" in data
            and all(isinstance(v, dict) and "runs" in v for v in data["results"].values()))


def is_search(data: Any) -> bool:
    """A ``hf-recsys tune`` record (``search.json``): trials with their parameters and values."""
    return isinstance(data, dict) and isinstance(data.get("trials"), list) and "best_params" in data


def _parameter(value: Any) -> str:
    """A tried value: three significant digits for a float (a weight decay of 1e-05 stays 1e-05)."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3g}"
    return _cell(str(value))


def search_table(data: dict[str, Any], anchor: str) -> str:
    """Every trial of a search: state, best validation value and the values it tried; the best
    trial's value in bold."""
    names = list(dict.fromkeys(name for trial in data["trials"] for name in (trial.get("params") or {})))
    metric = data.get("metric", "value")
    lines = ["| trial | state | validation " + metric + " | " + " | ".join(f"`{n}`" for n in names) + " | run |",
             "|---|---|---|" + "---|" * (len(names) + 1)]
    for trial in data["trials"]:
        value = trial.get("value")
        shown = _number(value, 4)
        if value is not None and value == data.get("best_value") and trial.get("state") == "COMPLETE":
            shown = f"**{shown}**"
        params = trial.get("params") or {}
        lines.append(f"| {trial.get('number', '?')} | {trial.get('state', '?')} | {shown} | "
                     + " | ".join(_parameter(params.get(n)) for n in names) + f" | [run](#{anchor}) |")
    return "\n".join(lines)


def is_ablation(data: Any) -> bool:
    """A ``benchmarks/peers/ablate.py`` record: one change at a time, scored on the validation split."""
    return isinstance(data, dict) and isinstance(data.get("variants"), dict) and "model" in data


PEER_LIBRARIES = {"ours": "hf_recsys", "deepctr": "DeepCTR-Torch"}


def _dataset_title(dataset: str) -> str:
    name = DATASET_NAMES.get(dataset, dataset)
    return name[:1].upper() + name[1:]


def _whole(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:,.0f}"


def peer_comparison_table(data: dict[str, Any], anchor: str) -> str:
    """Every run of a peer comparison (test metrics, training time and CPU throughput), after
    the popularity baseline on the same test samples."""
    lines = ["| model | library | seed | test AUC | test GAUC | test logloss | train s (wall) | samples per CPU-s | run |",
             "|---|---|---|---|---|---|---|---|---|"]
    popularity = (data.get("popularity") or {}).get("test")
    if popularity:
        lines.append(f"| popularity | – | – | {_number(popularity.get('auc'))} | {_number(popularity.get('gauc'))} | "
                     f"{_number(popularity.get('logloss'))} | – | – | [run](#{anchor}) |")
    for key, result in data["results"].items():
        model, _, library = key.partition("/")
        for run in result["runs"]:
            test = run.get("test", {})
            lines.append(f"| {model} | {PEER_LIBRARIES.get(library, library)} | {run.get('seed', '?')} | "
                         f"{_number(test.get('auc'))} | {_number(test.get('gauc'))} | {_number(test.get('logloss'))} | "
                         f"{_whole(run.get('train_seconds'))} | {_whole(run.get('train_samples_per_cpu_second'))} "
                         f"| [run](#{anchor}) |")
    return "\n".join(lines)


def ablation_table(data: dict[str, Any], anchor: str) -> str:
    """Each variant of an ablation: what it changes and its validation metrics over the seeds."""
    lines = ["| variant | change | seeds | valid AUC | valid GAUC | valid logloss | run |", "|---|---|---|---|---|---|---|"]
    for name, variant in data["variants"].items():
        change = {**(variant.get("overrides") or {}), **(variant.get("training") or {})}
        values = {k: [run["valid"][k] for run in variant["runs"] if k in run.get("valid", {})]
                  for k in ("auc", "gauc", "logloss")}
        lines.append(f"| {name} | `{_cell(json.dumps(change))}` | {len(variant['runs'])} | "
                     + " | ".join(_spread(values[k]) if len(values[k]) > 1 else _number(values[k] or None)
                                  for k in ("auc", "gauc", "logloss")) + f" | [run](#{anchor}) |")
    return "\n".join(lines)


#: the columns of a reproduction table beside its headline metric, by headline metric
REPRODUCTION_COLUMNS = {"auc": ["auc", "gauc", "logloss"], "ndcg@10": ["ndcg@10", "hr@10", "ndcg@20", "hr@20"]}


def reproduction_tables(data: dict[str, Any], anchor: str) -> list[str]:
    """One table per headline metric: each recipe's test metrics as mean ± std over its seeds,
    the popularity baseline on the same test samples, and the seeds."""
    by_metric: dict[str, list[dict[str, Any]]] = {}
    for summary in data["recipes"].values():
        by_metric.setdefault(summary["metric"], []).append(summary)
    tables = []
    for metric, summaries in by_metric.items():
        columns = REPRODUCTION_COLUMNS.get(metric, [metric])
        lines = ["| recipe | " + " | ".join(f"test {c}" for c in columns) + f" | popularity {metric} | seeds | run |",
                 "|---|" + "---|" * (len(columns) + 3)]
        for summary in summaries:
            test = summary["test"]
            several = len(summary["seeds"]) > 1  # one seed has no spread: its value alone
            cells = [(f"{test[c]['mean']:.4f} ± {test[c]['std']:.4f}" if several else f"{test[c]['mean']:.4f}")
                     if c in test else "–" for c in columns]
            popularity = test.get(f"popularity_{metric}")
            missing = f" ({', '.join(map(str, summary['missing_seeds']))} missing)" if summary.get("missing_seeds") else ""
            lines.append(f"| {summary['recipe']} | " + " | ".join(cells)
                         + f" | {_number(popularity['mean']) if popularity else '–'}"
                         + f" | {', '.join(map(str, summary['seeds']))}{missing} | [run](#{anchor}) |")
        tables.append("\n".join(lines))
    return tables


def _mean_std(values: list[float], digits: int = 4) -> str:
    """``mean ± sample standard deviation`` of two or more values."""
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _number(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, list) and value and all(isinstance(v, (int, float)) for v in value):
        if len(value) == 1:
            return _number(value[0], digits)
        return f"{_mean_std(value, digits)} (n={len(value)})"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.{digits}f}"
    return _cell(str(value))


def machine_text(machine: Any) -> str:
    if not isinstance(machine, dict):
        return _cell(str(machine)) if machine else "–"
    parts = [str(machine.get("cpu") or machine.get("device") or "?")]
    cores = machine.get("usable_cores") or machine.get("cores") or machine.get("logical_cores")
    if cores:
        parts.append(f"{cores} cores")
    if machine.get("gpu"):
        parts.append(str(machine["gpu"]))
    if machine.get("threads"):
        parts.append(f"{machine['threads']} torch thread(s)")
    if machine.get("torch"):
        parts.append(f"torch {machine['torch']}")
    return ", ".join(parts)


def run_note(entry: dict[str, Any], anchor: str) -> str:
    """The command, commit and machine of one result file, as a page section."""
    data = entry["data"]
    lines = [f"### Run `{anchor}` {{#{anchor}}}", "", f"File: `{_rel(entry['path'])}`", ""]
    if isinstance(data, dict):
        if data.get("command"):
            lines += ["```bash", str(data["command"]), "```", ""]
        lines.append(f"Commit `{data.get('git_commit') or data.get('commit') or '?'}`; machine: {machine_text(data.get('machine'))}.")
    return "\n".join(lines)


def _length(settings: dict[str, Any]) -> str:
    steps, epochs = settings.get("max_steps", -1), settings.get("epochs")
    if steps and steps > 0:
        return f"{steps} steps"
    if not isinstance(epochs, (int, float)):
        return "–"
    return f"{epochs:g} epoch" + ("" if epochs == 1 else "s")


def _family(row: dict[str, Any]) -> str:
    return row.get("family") or "ctr"


def has_quality_rows(data: Any) -> bool:
    """Rows in the suites' shape (``family`` + a ``quality`` dict), whatever the file's layout."""
    rows = _rows_of(data)
    return bool(rows) and all(isinstance(r.get("quality"), dict) and r.get("family") in FAMILIES for r in rows)


def suite_quality_tables(entry: dict[str, Any], anchor: str) -> list[str]:
    data = entry["data"]
    out = []
    for family, spec in FAMILIES.items():
        rows = [row for row in _rows_of(data) or [] if _family(row) == family]
        published = [row for row in data.get("published", []) if _family(row) == family]
        if not rows:
            continue
        columns = spec["metrics"]
        lines = [
            f"**{family.replace('_', '-')} models** ({spec['protocol']})",
            "",
            "| model | dataset | training | " + " | ".join(title for _, title in columns) + " | run |",
            "|---|---|---|" + "---|" * len(columns) + "---|",
        ]
        for row in rows:
            lines.append(f"| {row['name']} | {row.get('dataset', '–')} | {_length(row.get('settings', {}))} | "
                         + " | ".join(_number(row["quality"].get(key)) for key, _ in columns) + f" | [run](#{anchor}) |")
        baseline = rows[0].get("baseline") or {}
        if any(v is not None for v in baseline.values()):
            lines.append("| popularity (same test samples) | | | "
                         + " | ".join(_number(baseline.get(key)) for key, _ in columns) + f" | [run](#{anchor}) |")
        for row in published:
            lines.append(f"| *published:* {_cell(row['model'])} | | | "
                         + " | ".join(_number(row.get(key)) for key, _ in columns) + f" | {_cell(row.get('source', ''))} |")
        out.append("\n".join(lines))
    return out


def suite_speed_table(entry: dict[str, Any], anchor: str) -> Optional[str]:
    rows = [row for row in entry["data"]["models"] if row.get("train_per_s") is not None]
    if not rows:
        return None
    lines = [
        "**Speed** (training throughput through `Trainer`, data loading included; one training step "
        "against a float32 matmul of the step's dominant product shape, timed in the same process)",
        "",
        "| model | train /s | unit | eval /s | GFLOP per step | step (ms) | achieved GFLOP/s "
        "| matmul peak GFLOP/s | of peak | time in matrix kernels | run |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        eff = row.get("efficiency") or {}
        flops = eff.get("flops_per_step")
        frac = eff.get("fraction_of_matmul_peak")
        share = eff.get("gemm_time_share")
        lines.append(
            f"| {row['name']} | {_number(row.get('train_per_s'))} | {row.get('train_unit', '')} | {_number(row.get('eval_per_s'))} | "
            f"{_number(flops / 1e9 if flops else None, 3)} | {_number(eff.get('step_ms'), 1)} | {_number(eff.get('achieved_gflops'), 1)} | "
            f"{_number(eff.get('matmul_peak_gflops'), 1)} | {f'{frac:.0%}' if frac is not None else '–'} | "
            f"{f'{share:.0%}' if share is not None else '–'} | [run](#{anchor}) |"
        )
    return "\n".join(lines)


def suite_scale_table(entry: dict[str, Any], anchor: str) -> Optional[str]:
    rows = entry["data"].get("scale") or []
    if not rows:
        return None
    return "**Scale** (data conversion)\n\n" + generic_table(rows, anchor)


def _flatten(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if key in {"machine", "command", "git_commit", "commit", "settings", "efficiency", "step_batch_shapes"}:
            continue
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        elif isinstance(value, list) and not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            continue
        else:
            flat[prefix + key] = value
    return flat


def seed_summary_table(rows: list[dict[str, Any]]) -> Optional[str]:
    """Rows that share a ``name`` and differ by ``seed``: one line per name with the mean ± std
    of each numeric ``test`` metric over its seeds, or None when no name has two seeded rows."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if "seed" in row and isinstance(row.get("test"), dict):
            by_name.setdefault(str(row.get("name")), []).append(row)
    groups = {name: group for name, group in by_name.items() if len(group) > 1}
    if not groups:
        return None
    metrics = [key for group in groups.values() for key, value in group[0]["test"].items()
               if isinstance(value, (int, float)) and not isinstance(value, bool)]
    metrics = list(dict.fromkeys(metrics))
    lines = ["| name | seeds | " + " | ".join(f"test {m}" for m in metrics) + " |", "|---|---|" + "---|" * len(metrics)]
    for name, group in groups.items():
        cells = []
        for metric in metrics:
            values = [row["test"][metric] for row in group if isinstance(row["test"].get(metric), (int, float))]
            cells.append(_mean_std(values) if len(values) == len(group) else "–")
        lines.append(f"| {_cell(name)} | {', '.join(str(row['seed']) for row in group)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def generic_table(rows: list[dict[str, Any]], anchor: str) -> str:
    """One row per dict, one column per scalar (nested dicts flattened, lists of numbers as
    mean ± std); a row's own command, if it has one, goes under the table."""
    flat = [_flatten(row) for row in rows]
    columns: list[str] = []
    for row in flat:
        for key in row:
            if key not in columns:
                columns.append(key)
    lines = ["| " + " | ".join(columns) + " | run |", "|" + "---|" * (len(columns) + 1)]
    commands = []
    for index, (row, original) in enumerate(zip(flat, rows), start=1):
        ref = f"[run](#{anchor})"
        if original.get("command"):
            commit = original.get("git_commit") or original.get("commit")
            commands.append(f"{index}. `{original['command']}`"
                            + (f" (commit `{commit}`)" if commit else "")
                            + (f"; {machine_text(original['machine'])}" if original.get("machine") else ""))
            ref = f"{ref}, row {index}"
        lines.append("| " + " | ".join(_number(row.get(key)) for key in columns) + f" | {ref} |")
    if commands:
        lines += ["", "Per-row commands:", ""] + commands
    return "\n".join(lines)


def _rows_of(data: Any) -> Optional[list[dict[str, Any]]]:
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        return data
    if isinstance(data, dict):
        for key in ("rows", "models", "results", "runs"):
            value = data.get(key)
            if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
                return value
    return None


def _anchor(entry: dict[str, Any]) -> str:
    stem = os.path.splitext(os.path.relpath(entry["path"], RESULTS))[0]
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")


#: page titles of the known result areas; any other area is titled by its folder name
AREA_TITLES = {
    "quick": "Quick suite: every model family on the embedded default",
    "beauty": "Amazon Beauty: next-item models",
    "classic": "Classic feature-field CTR models on the embedded default",
    "hstu": "MovieLens-1M at history 200: HSTU and SASRec",
    "zoo": "Recipes over seeds",
    "tune": "Hyperparameter searches on the validation split",
}


def area_page(area: str, entries: list[dict[str, Any]]) -> str:
    title = AREA_TITLES.get(area, "Results: " + area.replace("/", " / ").replace("_", " "))
    lines = ["---", "hide:", "  - toc", "---", "", f"# {title}", "",
             f"Generated by `python scripts/build_docs_pages.py` from `benchmarks/results/{area}/`. "
             "Each row names its run; the run's command, commit and machine are at the end of the page.", ""]
    notes = []
    for entry in entries:
        anchor = _anchor(entry)
        data = entry["data"]
        if is_suite(data):
            lines += [f"## Suite `{data['suite']}`", ""]
            for part in suite_quality_tables(entry, anchor):
                lines += [part, ""]
            for part in (suite_speed_table(entry, anchor), suite_scale_table(entry, anchor)):
                if part:
                    lines += [part, ""]
            png = os.path.join(os.path.dirname(entry["path"]), "results.png")
            if os.path.exists(png):
                lines += [f"![quality against training time]({area.replace('/', '-')}.png)", ""]
        else:
            rows = _rows_of(data)
            lines += [f"## `{os.path.basename(entry['path'])}`", ""]
            if isinstance(data, dict) and data.get("description"):
                lines += [_cell(str(data["description"])), ""]
            if is_search(data):
                budget = f" Budget: {_cell(str(data['budget']))}." if data.get("budget") else ""
                lines += ["A search on the validation split (`hf-recsys tune`); a pruned trial shows its last "
                          f"validation value.{budget}", "", search_table(data, anchor), ""]
            elif is_peer_comparison(data):
                if data.get("superseded"):
                    lines += [f"Superseded: {_cell(str(data['superseded']))}.", ""]
                lines += [f"{_dataset_title(data['dataset'])}: ours against a peer library on "
                          "the same exported samples (`benchmarks/peers/ctr_peers.py`).", "",
                          peer_comparison_table(data, anchor), ""]
            elif is_ablation(data):
                lines += [f"{_dataset_title(data['dataset'])}, `{data['model']}`: one change at a "
                          "time, scored on the validation split (`benchmarks/peers/ablate.py`).", "",
                          ablation_table(data, anchor), ""]
            elif is_reproduction(data):
                lines += ["Test metrics over seeds, mean ± sample standard deviation (`hf-recsys zoo reproduce`).", ""]
                for part in reproduction_tables(data, anchor):
                    lines += [part, ""]
            elif has_quality_rows(data):
                for part in suite_quality_tables(entry, anchor):
                    lines += [part, ""]
            elif rows:
                summary = seed_summary_table(rows)
                if summary:
                    lines += ["Over seeds (rows of the same name), mean ± sample standard deviation:", "", summary, ""]
                lines += [generic_table(rows, anchor), ""]
            else:
                lines += ["(no list of rows in this file)", ""]
        notes.append(run_note(entry, anchor))
    lines += ["## Runs", ""] + ["\n\n".join(notes), ""]
    return "\n".join(lines)


def results_by_area(entries: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    areas: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        areas.setdefault(entry["area"], []).append(entry)
    return areas


def _quality(row: dict[str, Any]) -> dict[str, Any]:
    """A row's metrics: its ``quality``, ``metrics`` or ``test`` dict, else the row itself."""
    for key in ("quality", "metrics", "test"):
        if isinstance(row.get(key), dict):
            return row[key]
    return row


def reproduction_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """A ``zoo reproduce`` summary as result rows, one per shipped recipe: its model and dataset,
    each test metric as the list of its seeds' values, popularity's mean as the baseline."""
    from hf_recsys.models import MODEL_REGISTRY
    from hf_recsys.recipes import available_recipes, load_recipe

    shipped = set(available_recipes())
    rows = []
    for summary in data["recipes"].values():
        if summary.get("recipe") not in shipped or not summary.get("runs"):
            continue
        train = load_recipe(summary["recipe"]).train
        spec = MODEL_REGISTRY.get(train.get("model"))
        quality = {}
        for run in summary["runs"]:
            for key, value in run["test"].items():
                if not key.startswith("popularity_"):
                    quality.setdefault(key, []).append(value)
        baseline = {key[len("popularity_"):]: value["mean"] for key, value in summary["test"].items()
                    if key.startswith("popularity_")}
        rows.append({"model": train.get("model"), "dataset": train.get("dataset"), "reproduced": True,
                     "family": TASK_FAMILY.get(spec.task) if spec else None, "recipe": summary["recipe"],
                     "seeds": summary["seeds"],
                     "name": f"{summary['recipe']} recipe, seed{'s' if len(summary['seeds']) > 1 else ''} "
                             f"{', '.join(map(str, summary['seeds']))}",
                     "quality": quality, "baseline": baseline, "command": summary.get("command")})
    return rows


def peer_comparison_rows(entries: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Our side of the comparisons with a peer library (``benchmarks/peers/ctr_peers.py``), one
    row per dataset and model with each test metric as the list of its seeds' values, gathered
    over the files by :func:`hf_recsys.benchmarks.peer_runs.merge_peer_runs` (a seed measured
    twice keeps the later file's run; superseded files and runs with overrides are left out).
    The row's file is the one of its first seed."""
    from hf_recsys.benchmarks.peer_runs import merge_peer_runs

    merged = merge_peer_runs((entry, entry["data"]) for entry in entries if is_peer_comparison(entry["data"]))
    groups = {(dataset, key.partition("/")[0]): by_seed for (dataset, key), by_seed in merged.items()
              if key.partition("/")[2] == "ours"}
    found = []
    for (dataset, model), by_seed in sorted(groups.items()):
        seeds = sorted(by_seed)
        quality: dict[str, list[float]] = {}
        for seed in seeds:
            for metric, value in by_seed[seed][1]["test"].items():
                quality.setdefault(metric, []).append(value)
        entry = by_seed[seeds[0]][0]
        found.append((entry, {
            "model": model, "dataset": dataset, "reproduced": len(seeds) > 1, "seeds": seeds, "quality": quality,
            "name": f"package defaults, beside DeepCTR-Torch on the same samples, seed{'s' if len(seeds) > 1 else ''} "
                    f"{', '.join(map(str, seeds))}",
            "command": entry["data"].get("command") + (" (one file per seed: see the results page)"
                                                       if len({id(by_seed[s][0]) for s in seeds}) > 1 else ""),
            "commit": (entry["data"].get("commit") or "?")[:7],
            "baseline": (entry["data"].get("popularity") or {}).get("test"),
        }))
    return found


def model_rows(entries: list[dict[str, Any]], model: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every result row of ``model`` (a row whose ``model`` is the registry name), with its file;
    a recipe reproduced over seeds and our side of a peer comparison (:func:`peer_comparison_rows`)
    count as rows of their model."""
    found = [(entry, row) for entry, row in peer_comparison_rows(entries) if row["model"] == model]
    for entry in entries:
        if is_peer_comparison(entry["data"]):
            continue
        rows = reproduction_rows(entry["data"]) if is_reproduction(entry["data"]) else _rows_of(entry["data"])
        for row in rows or []:
            if row.get("model") == model and any(k in _quality(row) for f in FAMILIES.values() for k, _ in f["metrics"]):
                found.append((entry, row))
    return found


def model_results_block(entries: list[dict[str, Any]], model: str, family: str) -> str:
    rows = model_rows(entries, model)
    if not rows:
        return ("No result file under `benchmarks/results/` has this model yet. "
                "Train and evaluate it as above: the command prints the test metrics next to popularity's.")
    columns = FAMILIES[family]["metrics"]
    lines = [f"Protocol: {FAMILIES[family]['protocol']}.", "",
             "| dataset | run | " + " | ".join(t for _, t in columns)
             + " | popularity " + FAMILIES[family]["headline"][1] + " | command | commit |",
             "|---|---|" + "---|" * len(columns) + "---|---|---|"]
    for entry, row in rows:
        baseline = (row.get("baseline") or row.get("popularity") or {})
        baseline = baseline.get(FAMILIES[family]["headline"][0]) if isinstance(baseline, dict) else None
        area_link = f"../results/{entry['area'].replace('/', '-')}.md#{_anchor(entry)}"
        data = entry["data"] if isinstance(entry["data"], dict) else {}
        command = row.get("command") or data.get("command", "?")
        commit = row.get("git_commit") or row.get("commit") or data.get("git_commit") or data.get("commit") or "?"
        dataset = DATASET_NAMES.get(row.get("dataset"), row.get("dataset") or "–")
        lines.append(f"| {dataset} | [{row.get('name', row['model'])}]({area_link}) | "
                     + " | ".join(_number(_quality(row).get(k)) for k, _ in columns)
                     + f" | {_number(baseline)} | `{command}` | `{commit}` |")
    return "\n".join(lines)


def reproduced_best(entries: list[dict[str, Any]], dataset: str, family: str) -> dict[str, Any] | None:
    """The row (:func:`reproduction_rows`) of the shipped recipe on ``dataset`` of ``family``
    with the best mean of its headline metric over two or more seeds, or None."""
    key = FAMILIES[family]["headline"][0]
    candidates = [row for entry in entries if is_reproduction(entry["data"])
                  for row in reproduction_rows(entry["data"])
                  if row["dataset"] == dataset and row["family"] == family and len(row["seeds"]) >= 2
                  and len(row["quality"].get(key) or []) >= 2]
    return max(candidates, key=lambda row: sum(row["quality"][key]) / len(row["quality"][key]), default=None)


def _spread(values: Optional[list[float]]) -> str:
    return _mean_std(values) if values and len(values) > 1 else "–"


def headline_rows(entries: list[dict[str, Any]]) -> list[str]:
    """Per dataset and family with published figures (``hf_recsys/benchmarks/published.json``):
    ours (the best recipe reproduced over seeds, else the best model of a suite on the published
    protocol), popularity on the same test users, and each published row."""
    from hf_recsys.benchmarks.reference import published_figures

    suites = [entry["data"] for entry in entries if is_suite(entry["data"]) and entry["data"].get("published")]
    datasets = sorted({row.get("dataset") for data in suites for row in data["models"]}
                      | {"beauty", "ml-1m"}, key=lambda d: (DATASET_PRIORITY.index(d) if d in DATASET_PRIORITY
                                                             else len(DATASET_PRIORITY), str(d)))
    lines = []
    for dataset_key in datasets:
        dataset = DATASET_NAMES.get(dataset_key, dataset_key)
        for family, spec in FAMILIES.items():
            published = published_figures(dataset_key, family)
            if not published:
                continue
            key, title = spec["headline"]
            second = "hr@10" if key != "hr@10" else "ndcg@10"
            reproduced = reproduced_best(entries, dataset_key, family)
            rows = [r for data in suites for r in data["models"]
                    if _family(r) == family and r.get("dataset") == dataset_key]
            if reproduced:
                values = reproduced["quality"]
                lines.append(f"| {dataset} | ours: {reproduced['recipe']} recipe ({len(reproduced['seeds'])} seeds) | "
                             f"{title} {_spread(values.get(key))} · HR@10 {_spread(values.get(second))} | "
                             f"{spec['protocol']} |")
                popularity = reproduced["baseline"]
            elif rows:
                best = max(rows, key=lambda r: r["quality"].get(key) or 0)
                settings = best.get("settings", {})
                ours = f"ours: {best['name']} ({_length(settings)}, seed {settings.get('seed', '?')})"
                lines.append(f"| {dataset} | {ours} | {title} {_number(best['quality'].get(key))} · "
                             f"HR@10 {_number(best['quality'].get(second))} | {spec['protocol']} |")
                popularity = best.get("baseline") or {}
            else:
                continue
            if popularity.get(key) is not None:
                lines.append(f"| {dataset} | popularity | {title} {_number(popularity.get(key))} · "
                             f"HR@10 {_number(popularity.get(second))} | the same test users |")
            for row in published:
                lines.append(f"| {dataset} | published: {_cell(row['model'])} | {title} {_number(row.get(key))} · "
                             f"HR@10 {_number(row.get(second))} | {_cell(row.get('source', ''))} |")
    return lines


def declared_headline_rows(entries: list[dict[str, Any]]) -> list[str]:
    """Rows a result file declares itself: a top-level ``"headline"`` list of
    ``{"data", "model", "test", "protocol"}`` (e.g. a peer library on our samples)."""
    lines = []
    for entry in entries:
        data = entry["data"]
        for row in (data.get("headline") or []) if isinstance(data, dict) else []:
            lines.append("| " + " | ".join(_cell(str(row.get(k, "–"))) for k in ("data", "model", "test", "protocol")) + " |")
    return lines


def headline_table(entries: list[dict[str, Any]], link_prefix: str) -> str:
    rows = headline_rows(entries) + declared_headline_rows(entries)
    if not rows:
        return "No result file with published figures yet."
    return "\n".join(["| data | model | test | protocol / source |", "|---|---|---|---|"] + rows
                     + ["", f"Every number, its command, commit and machine: [results]({link_prefix})."])


def model_table(entries: list[dict[str, Any]], link_prefix: str) -> str:
    from hf_recsys.models import MODEL_REGISTRY

    lines = ["| model | what it is | task | headline (test) |", "|---|---|---|---|"]
    for name, spec in MODEL_REGISTRY.items():
        family = TASK_FAMILY.get(spec.task, spec.task)
        headline = "–"
        rows = model_rows(entries, name)
        if rows and family in FAMILIES:
            key, title = FAMILIES[family]["headline"]
            order = {d: i for i, d in enumerate(DATASET_PRIORITY)}
            # results over seeds before a single run; among them the most realistic dataset, and
            # on it a shipped recipe before the package defaults of a peer comparison
            entry, row = min(rows, key=lambda er: (not er[1].get("reproduced"),
                                                    order.get(er[1].get("dataset"), len(order)),
                                                    not er[1].get("recipe")))
            value = _quality(row).get(key)
            where = DATASET_NAMES.get(row.get("dataset"), row.get("dataset"))
            if isinstance(value, list) and len(value) > 1:  # a value per seed: the spread, the seeds counted
                # where the number comes from: a recipe (`hf-recsys zoo reproduce`) or the package defaults
                source = f"{row['recipe']} recipe" if row.get("recipe") else "package defaults"
                headline = f"{title} {_mean_std(value)} ({where}, {len(value)} seeds, {source})"
            else:
                headline = f"{title} {_number(value)} ({where})"
        lines.append(f"| [`{name}`]({link_prefix}{name}.md) | {_cell(spec.description)} | {spec.task} | {headline} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- all outputs


def outputs() -> dict[str, bytes | str]:
    """Every generated file's intended content, by path (text, or bytes for copied images)."""
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    from hf_recsys.models import MODEL_REGISTRY

    entries = load_results()
    wanted: dict[str, bytes | str] = {}

    for name, spec in MODEL_REGISTRY.items():
        path = os.path.join(DOCS, "models", f"{name}.md")
        if not os.path.exists(path):
            continue  # tests/test_docs.py names the model without a page
        with open(path, encoding="utf-8") as f:
            text = f.read()
        family = TASK_FAMILY.get(spec.task, spec.task)
        blocks = {f"config:{name}": config_table(spec.config_class)}
        if family in FAMILIES:
            blocks[f"results:{name}"] = model_results_block(entries, name, family)
        wanted[path] = fill_blocks(text, blocks, {f"config:{name}": "## Configuration", f"results:{name}": "## Results"})

    areas = results_by_area(entries)
    for area, area_entries in areas.items():
        slug = area.replace("/", "-")
        wanted[os.path.join(DOCS, "results", f"{slug}.md")] = area_page(area, area_entries)
        for entry in area_entries:
            png = os.path.join(os.path.dirname(entry["path"]), "results.png")
            if is_suite(entry["data"]) and os.path.exists(png):
                with open(png, "rb") as f:
                    wanted[os.path.join(DOCS, "results", f"{slug}.png")] = f.read()

    index = os.path.join(DOCS, "results", "index.md")
    if os.path.exists(index):
        with open(index, encoding="utf-8") as f:
            headline = headline_table(entries, "#pages").replace("[results](#pages)", "the pages below")
            wanted[index] = fill_blocks(f.read(), {"headline": headline})
    models_index = os.path.join(DOCS, "models", "index.md")
    if os.path.exists(models_index):
        with open(models_index, encoding="utf-8") as f:
            wanted[models_index] = fill_blocks(f.read(), {"models": model_table(entries, "")})
    landing = os.path.join(DOCS, "index.md")
    if os.path.exists(landing):
        with open(landing, encoding="utf-8") as f:
            wanted[landing] = fill_blocks(f.read(), {"headline": headline_table(entries, "results/index.md")})
    api_models = os.path.join(DOCS, "api", "models.md")
    if os.path.exists(api_models):
        directives = "\n\n".join(f"::: {spec.config_class.__module__}.{spec.config_class.__name__}\n\n"
                                   f"::: {spec.model_class.__module__}.{spec.model_class.__name__}"
                                   for spec in MODEL_REGISTRY.values())
        with open(api_models, encoding="utf-8") as f:
            wanted[api_models] = fill_blocks(f.read(), {"api-models": directives})
    readme = os.path.join(ROOT, "README.md")
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    if "<!-- generated:models -->" in text:
        wanted[readme] = fill_blocks(text, {
            "models": model_table(entries, "docs/models/"),
            "headline": headline_table(entries, "docs/results/index.md"),
        })
    return wanted


def _current(path: str, binary: bool) -> Optional[bytes | str]:
    if not os.path.exists(path):
        return None
    with open(path, "rb" if binary else "r", encoding=None if binary else "utf-8") as f:
        return f.read()


def stale_outputs() -> list[str]:
    """The generated files whose content differs from what would be written now."""
    wanted = outputs()
    stale = [_rel(path) for path, content in wanted.items()
             if _current(path, isinstance(content, bytes)) != content]
    for path in glob.glob(os.path.join(DOCS, "results", "*")):
        if os.path.basename(path) != "index.md" and path not in wanted:
            stale.append(_rel(path) + " (no result file makes it)")
    return stale


def write_outputs() -> list[str]:
    written = []
    wanted = outputs()
    for path, content in wanted.items():
        binary = isinstance(content, bytes)
        if _current(path, binary) == content:
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "wb" if binary else "w", encoding=None if binary else "utf-8") as f:
            f.write(content)
        os.replace(tmp, path)
        written.append(_rel(path))
    for path in glob.glob(os.path.join(DOCS, "results", "*")):
        if os.path.basename(path) != "index.md" and path not in wanted:
            os.remove(path)
            written.append(_rel(path) + " (removed)")
    return written


def main(argv: Optional[Iterable[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a generated file is stale")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.check:
        stale = stale_outputs()
        for path in stale:
            print(f"stale: {path}")
        return 1 if stale else 0
    for path in write_outputs():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
