#!/usr/bin/env python
"""Train the chapter's classic CTR models on one dataset with one seed and tabulate them.

    python scripts/compare_classic.py                                   # embedded synthetic data
    python scripts/compare_classic.py --dataset ml-1m --data-path data/ml-1m --epochs 2

Every model goes through ``run_training`` (the same data, split, sampled negatives and
held-out samples), FNN is initialised from the FM trained just before it (the paper's
two-stage recipe), and the popularity baseline is scored on the same test samples. Writes
``OUTPUT_DIR/compare_classic.md`` (a Markdown table) and ``compare_classic.json``; each
model's folder sits in ``OUTPUT_DIR/NAME``. Throughput is measured on whatever else the
machine is doing: re-run on a quiet machine before quoting it.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from transformers import AutoModel

from hf_recsys.training.run import RunConfig, run_training

MODELS = ["lr", "ncf", "featuremlp", "cnn", "fm", "fnn", "widedeep", "deepfm", "afm"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=MODELS, help="models to train, in order (fm before fnn)")
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--data-path", default=None)
    parser.add_argument("--epochs", type=float, default=1.0, help="epochs per model (bounded: the CPU is shared)")
    parser.add_argument("--max-steps", type=int, default=-1)
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", default="outputs/compare-classic")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    rows, baseline = [], None
    started = time.perf_counter()
    for name in args.models:
        folder = os.path.join(args.output_dir, name)
        overrides = {}
        if name == "fnn" and "fm" in rows_names(rows):
            overrides["init_from_fm"] = os.path.join(args.output_dir, "fm")
        run = RunConfig(
            model=name, dataset=args.dataset, data_path=args.data_path, output_dir=folder,
            epochs=args.epochs, max_steps=args.max_steps, learning_rate=args.learning_rate,
            batch_size=args.batch_size, seed=args.seed, logging_steps=10**6, disable_tqdm=True,
            model_overrides=overrides,
        )
        metrics = run_training(run)
        rows.append({
            "model": name + (" (FM-initialised)" if overrides else ""),
            "auc": metrics["eval_auc"],
            "gauc": metrics["eval_gauc"],
            "logloss": metrics["eval_logloss"],
            "train_samples_per_s": metrics["train_samples_per_second"],
            "parameters": AutoModel.from_pretrained(folder).num_parameters(),
        })
        baseline = {k: metrics[f"eval_popularity_{k}"] for k in ("auc", "gauc", "logloss")}
    settings = {k: v for k, v in vars(args).items() if k != "models"}
    settings["wall_time_s"] = round(time.perf_counter() - started, 1)
    write_results(args.output_dir, rows, baseline, settings)


def rows_names(rows: list[dict]) -> list[str]:
    return [row["model"].split()[0] for row in rows]


def write_results(output_dir: str, rows: list[dict], baseline: dict, settings: dict) -> None:
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "compare_classic.json"), "w") as f:
        json.dump({"settings": settings, "models": rows, "popularity": baseline}, f, indent=2)
    length = f"{settings['max_steps']} steps" if settings["max_steps"] > 0 else f"{settings['epochs']:g} epoch(s)"
    lines = [
        f"Held-out test split of `{settings['dataset']}` (leave-one-out, 1 sampled negative per positive), "
        f"seed {settings['seed']}, {length} per model, lr {settings['learning_rate']:g}, "
        f"batch {settings['batch_size']}; samples/s measured on a shared CPU (noisy).",
        "",
        "| model | AUC | GAUC | logloss | train samples/s | parameters |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(f"| {row['model']} | {row['auc']:.4f} | {row['gauc']:.4f} | {row['logloss']:.4f} "
                     f"| {row['train_samples_per_s']:,.0f} | {row['parameters']:,} |")
    if baseline:
        lines.append(f"| popularity (baseline) | {baseline['auc']:.4f} | {baseline['gauc']:.4f} | {baseline['logloss']:.4f} | – | – |")
    table = "\n".join(lines) + "\n"
    with open(os.path.join(output_dir, "compare_classic.md"), "w") as f:
        f.write(table)
    print("\n" + table)


if __name__ == "__main__":
    main()
