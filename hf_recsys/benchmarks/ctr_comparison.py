"""Several CTR models on one dataset, one seed, one table (``scripts/compare_ctr.py`` and
``scripts/compare_classic.py``).

Every model goes through ``run_training`` (the same data, split, sampled negatives and held-out
samples), and the popularity baseline is scored on the same test samples. FNN is initialised
from an FM trained earlier in the same comparison when there is one (the paper's two-stage
recipe). Writes ``OUTPUT_DIR/STEM.md`` (a Markdown table) and ``STEM.json``; each model's
folder sits in ``OUTPUT_DIR/NAME``.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Optional

from ..files import write_atomically


def compare_ctr_models(models: list[str], output_dir: str, **run_fields: Any) -> tuple[list[dict], Optional[dict], float]:
    """Train and evaluate each of ``models`` in order with the same ``RunConfig`` fields.

    Returns ``(rows, popularity, wall_seconds)``: one row per model (``model``, ``auc``,
    ``gauc``, ``logloss``, ``train_samples_per_s``, ``train_runtime_s``, ``parameters``) and the
    popularity baseline's ``auc``/``gauc``/``logloss`` on the same test samples.
    """
    from transformers import AutoModel

    from ..training.run import RunConfig, run_training

    rows, baseline, trained = [], None, []
    started = time.perf_counter()
    for name in models:
        folder = os.path.join(output_dir, name)
        overrides = {}
        if name == "fnn" and "fm" in trained:
            overrides["init_from_fm"] = os.path.join(output_dir, "fm")
        run = RunConfig(model=name, output_dir=folder, logging_steps=10**6, disable_tqdm=True,
                        model_overrides=overrides, **run_fields)
        metrics = run_training(run)
        trained.append(name)
        rows.append({
            "model": name + (" (FM-initialised)" if overrides else ""),
            "auc": metrics["eval_auc"],
            "gauc": metrics["eval_gauc"],
            "logloss": metrics["eval_logloss"],
            "train_samples_per_s": metrics["train_samples_per_second"],
            "train_runtime_s": metrics["train_runtime_s"],
            "parameters": AutoModel.from_pretrained(folder).num_parameters(),
        })
        baseline = {k: metrics[f"eval_popularity_{k}"] for k in ("auc", "gauc", "logloss")}
    return rows, baseline, time.perf_counter() - started


def ctr_table(rows: list[dict], baseline: Optional[dict], caption: str) -> str:
    """The Markdown table of :func:`compare_ctr_models`' rows, the baseline last."""
    lines = [caption, "", "| model | AUC | GAUC | logloss | train samples/s | parameters |", "|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['model']} | {row['auc']:.4f} | {row['gauc']:.4f} | {row['logloss']:.4f} "
                     f"| {row['train_samples_per_s']:,.0f} | {row['parameters']:,} |")
    if baseline:
        lines.append(f"| popularity (baseline) | {baseline['auc']:.4f} | {baseline['gauc']:.4f} "
                     f"| {baseline['logloss']:.4f} | – | – |")
    return "\n".join(lines) + "\n"


def write_comparison(output_dir: str, stem: str, rows: list[dict], baseline: Optional[dict],
                     settings: dict[str, Any], caption: str) -> str:
    """Write ``STEM.json`` and ``STEM.md`` into ``output_dir`` (each atomically); returns the table."""
    table = ctr_table(rows, baseline, caption)

    def write_json(path: str) -> None:
        with open(path, "w") as f:
            json.dump({"settings": settings, "models": rows, "popularity": baseline}, f, indent=2)

    def write_markdown(path: str) -> None:
        with open(path, "w") as f:
            f.write(table)

    write_atomically(os.path.join(output_dir, f"{stem}.json"), write_json)
    write_atomically(os.path.join(output_dir, f"{stem}.md"), write_markdown)
    return table


def run_length(settings: dict[str, Any]) -> str:
    """``"N steps"`` or ``"E epoch(s)"`` for a caption."""
    return f"{settings['max_steps']} steps" if settings["max_steps"] > 0 else f"{settings['epochs']:g} epoch(s)"


__all__ = ["compare_ctr_models", "ctr_table", "write_comparison", "run_length"]
