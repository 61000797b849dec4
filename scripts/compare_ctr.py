#!/usr/bin/env python
"""Sum-pooling baseline vs DIN vs DIEN vs BST on one dataset, one seed, one table.

    python scripts/compare_ctr.py                                            # embedded synthetic data
    python scripts/compare_ctr.py --dataset ml-1m --data-path /work/shared/data/ml-1m --max-steps 1500

Every model goes through ``run_training`` (the same data, split, sampled negatives and
held-out samples; DIEN's collator adds its auxiliary-loss negatives), and the popularity
baseline is scored on the same test samples. Writes ``OUTPUT_DIR/compare_ctr.md`` (a Markdown
table) and ``compare_ctr.json``; each model's folder sits in ``OUTPUT_DIR/NAME``. Training
samples/s come from the Trainer run (data loading included) on whatever else the machine is
doing: re-run on a quiet machine before quoting them.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch
from transformers import AutoModel

from hf_recsys.training.allocator import reuse_freed_memory
from hf_recsys.training.run import RunConfig, run_training

MODELS = ["sumpool", "din", "dien", "bst"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--data-path", default=None)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--max-steps", type=int, default=-1, help="steps per model (overrides --epochs)")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--max-history", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    parser.add_argument("--default-malloc", action="store_true",
                        help="leave glibc's allocator as it is (default: keep freed memory mapped)")
    parser.add_argument("--output-dir", default="outputs/compare-ctr")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    malloc_tuned = False if args.default_malloc else reuse_freed_memory()
    rows, baseline = [], None
    started = time.perf_counter()
    for name in args.models:
        folder = os.path.join(args.output_dir, name)
        run = RunConfig(
            model=name, dataset=args.dataset, data_path=args.data_path, output_dir=folder,
            epochs=args.epochs, max_steps=args.max_steps, learning_rate=args.learning_rate,
            batch_size=args.batch_size, max_history=args.max_history, seed=args.seed,
            logging_steps=10**6, disable_tqdm=True,
        )
        metrics = run_training(run)
        rows.append({
            "model": name,
            "auc": metrics["eval_auc"],
            "gauc": metrics["eval_gauc"],
            "logloss": metrics["eval_logloss"],
            "train_samples_per_s": metrics["train_samples_per_second"],
            "train_runtime_s": metrics["train_runtime_s"],
            "parameters": AutoModel.from_pretrained(folder).num_parameters(),
        })
        baseline = {k: metrics[f"eval_popularity_{k}"] for k in ("auc", "gauc", "logloss")}
    settings = {k: v for k, v in vars(args).items() if k != "models"}
    settings.update(threads=torch.get_num_threads(), malloc_tuned=malloc_tuned,
                    wall_time_s=round(time.perf_counter() - started, 1))
    write_results(args.output_dir, rows, baseline, settings)


def write_results(output_dir: str, rows: list[dict], baseline: dict, settings: dict) -> None:
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "compare_ctr.json"), "w") as f:
        json.dump({"settings": settings, "models": rows, "popularity": baseline}, f, indent=2)
    length = f"{settings['max_steps']} steps" if settings["max_steps"] > 0 else f"{settings['epochs']:g} epoch(s)"
    lines = [
        f"Held-out test split of `{settings['dataset']}` (leave-one-out, 1 sampled negative per positive, "
        f"history {settings['max_history']}), seed {settings['seed']}, {length} per model, "
        f"lr {settings['learning_rate']:g}, batch {settings['batch_size']}, {settings['threads']} thread(s); "
        "samples/s include data loading and were measured on a shared CPU (noisy).",
        "",
        "| model | AUC | GAUC | logloss | train samples/s | parameters |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(f"| {row['model']} | {row['auc']:.4f} | {row['gauc']:.4f} | {row['logloss']:.4f} "
                     f"| {row['train_samples_per_s']:,.0f} | {row['parameters']:,} |")
    if baseline:
        lines.append(f"| popularity (baseline) | {baseline['auc']:.4f} | {baseline['gauc']:.4f} "
                     f"| {baseline['logloss']:.4f} | – | – |")
    table = "\n".join(lines) + "\n"
    with open(os.path.join(output_dir, "compare_ctr.md"), "w") as f:
        f.write(table)
    print("\n" + table)


if __name__ == "__main__":
    main()
