"""The runs of the peer-library comparison (``benchmarks/peers/ctr_peers.py``) gathered over its
result files, one rule for every reader (``benchmarks/peers/table.py``, the docs builder).

A benchmark runs in pieces (a file per seed, or seeds added later), so runs are keyed by
dataset, ``"model/library"`` and seed, and a seed measured twice keeps the run of the later
file. Left out: a file marked ``"superseded"`` (a run with defaults since changed, kept for
an ablation) and a run with config overrides (an ablation, not the package's defaults).
"""

from __future__ import annotations

from typing import Any, Iterable, TypeVar

Source = TypeVar("Source")


def merge_peer_runs(
    reports: Iterable[tuple[Source, dict[str, Any]]],
) -> dict[tuple[str, str], dict[int, tuple[Source, dict[str, Any]]]]:
    """``(dataset, "model/library") -> {seed: (source, run)}`` over ``(source, report)`` pairs
    in the order given; ``source`` is whatever the caller needs back with a run (its file)."""
    merged: dict[tuple[str, str], dict[int, tuple[Source, dict[str, Any]]]] = {}
    for source, report in reports:
        if report.get("superseded"):
            continue
        for key, result in report["results"].items():
            for run in result["runs"]:
                if not run.get("overrides"):
                    merged.setdefault((report["dataset"], key), {})[run["seed"]] = (source, run)
    return merged
