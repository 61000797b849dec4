"""Markdown tables from the JSON files of ``ctr_peers.py`` and ``ablate.py``.

    python benchmarks/peers/table.py benchmarks/results/ctr_peers/*.json

Peer-comparison files give one row per (dataset, model, library): test AUC, GAUC and logloss
as mean ± std over the seeds, training seconds and samples per second; each dataset's rows
start with the popularity baseline on the same test samples. Ablation files give one
row per variant: validation AUC and logloss, mean ± std.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctr_peers import summarise  # noqa: E402

from hf_recsys.benchmarks.peer_runs import merge_peer_runs  # noqa: E402


def cell(summary: dict, key: str, digits: int = 4, seeds: int = 2) -> str:
    """``mean ± std``; a single seed has no spread, so it shows the value alone."""
    entry = summary.get(key)
    if entry is None:
        return "–"
    if seeds < 2:
        return f"{entry['mean']:.{digits}f}"
    return f"{entry['mean']:.{digits}f} ± {entry['std']:.{digits}f}"


def merge_runs(reports: list[dict]) -> dict:
    """(dataset, "model/library") -> {"runs", "summary"}, the runs of every file together
    (:func:`hf_recsys.benchmarks.peer_runs.merge_peer_runs`: a seed measured twice keeps its
    later run, superseded files and runs with overrides are left out)."""
    merged = {}
    for key, by_seed in merge_peer_runs((report, report) for report in reports).items():
        runs = [run for _, run in by_seed.values()]
        merged[key] = {"runs": runs, "summary": summarise(runs)}
    return merged


def peer_rows(reports: list[dict]) -> list[str]:
    merged = merge_runs(reports)
    lines = [
        "| data | model | library | seeds | test AUC | test GAUC | test logloss | train s (wall) | samples/s (wall) "
        "| samples per CPU-s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    popularity = {report["dataset"]: report["popularity"]["test"] for report in reports
                  if not report.get("superseded") and "popularity" in report}
    for (dataset, key), entry in sorted(merged.items()):
        model, library = key.split("/")
        if dataset in popularity:  # before the dataset's first row
            p = popularity.pop(dataset)
            lines.append(f"| {dataset} | popularity | – | – | {p['auc']:.4f} | {p['gauc']:.4f} | {p['logloss']:.4f} "
                         "| – | – | – |")
        s, n = entry["summary"], len(entry["runs"])
        lines.append(
            f"| {dataset} | {model} | {'DeepCTR-Torch' if library == 'deepctr' else 'hf_recsys'} | "
            f"{n} | {cell(s, 'test_auc', seeds=n)} | {cell(s, 'test_gauc', seeds=n)} | "
            f"{cell(s, 'test_logloss', seeds=n)} | {s['train_seconds']['mean']:.0f} | "
            f"{s['train_samples_per_second']['mean']:.0f} | {cell(s, 'train_samples_per_cpu_second', 0, seeds=n)} |"
        )
    return lines


def ablation_rows(report: dict) -> list[str]:
    lines = [
        f"{report['dataset']}, {report['model']}, seeds {report['seeds']} (validation split)",
        "",
        "| variant | change | valid AUC | valid logloss | samples/s |",
        "|---|---|---|---|---|",
    ]
    for name, entry in report["variants"].items():
        change = {**entry["overrides"], **entry["training"]}
        s, n = entry["summary"], len(entry["runs"])
        lines.append(f"| {name} | `{json.dumps(change)}` | {cell(s, 'valid_auc', seeds=n)} | "
                     f"{cell(s, 'valid_logloss', seeds=n)} | "
                     f"{s['train_samples_per_second']['mean']:.0f} |")
    return lines


def main(paths: list[str]) -> None:
    reports = [json.load(open(path)) for path in paths]
    peers = [r for r in reports if "results" in r]
    if peers:
        print("\n".join(peer_rows(peers)))
    for report in reports:
        if "variants" in report:
            print()
            print("\n".join(ablation_rows(report)))


if __name__ == "__main__":
    main(sys.argv[1:])
