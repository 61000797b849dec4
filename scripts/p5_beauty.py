#!/usr/bin/env python
"""Train and evaluate P5 on Amazon Beauty once per item indexing method; print a results table.

    python scripts/p5_beauty.py --data-path ../shared/data/beauty/user_sequence.txt

Each method is one `scripts/train.py --model p5 --dataset beauty ...` run (same code path),
saved to OUTPUT_ROOT/p5-beauty-METHOD. The defaults evaluate every test user; `--eval-users N`
evaluates a seeded subset of N users instead (say so when you report the numbers).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

from hf_recsys.benchmarks.reference import p5_recipe_config, published_figures
from hf_recsys.training.allocator import reuse_freed_memory
from hf_recsys.training.arguments import parse_override, positive_number
from hf_recsys.training.run import RunConfig, run_training

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: our next-item results on the same split and protocol (written by scripts/benchmark.py --suite beauty)
NEXT_ITEM_RESULTS = os.path.join(ROOT, "benchmarks", "results", "beauty", "results.json")


def our_sasrec_row(path: str = NEXT_ITEM_RESULTS) -> str:
    """The table row of our SASRec on Beauty, read from the benchmark's results file ("" without one)."""
    if not os.path.exists(path):
        return ""
    with open(path) as f:
        results = json.load(f)
    for row in results.get("models", []):
        if row.get("model") == "sasrec" and "quality" in row:
            quality = row["quality"]
            return (f"| SASRec (ours, {os.path.relpath(path, ROOT)}) | – | – | {quality['hr@10']:.4f} | "
                    f"{quality['ndcg@10']:.4f} | all | | | |")
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-path", required=True, help="user_sequence.txt (one line per user: user item item ...)")
    parser.add_argument("--recipe", default="p5-beauty",
                        help="the shipped recipe whose P5 config every method starts from (hf_recsys/recipes/NAME.yaml)")
    parser.add_argument("--methods", nargs="+", default=["random", "sequential", "collaborative", "independent", "cid+iid"])
    parser.add_argument("--output-root", default="outputs")
    parser.add_argument("--epochs", type=float, default=10.0,
                        help="training epochs per indexing method")
    parser.add_argument("--max-steps", type=int, default=-1, help="overrides --epochs")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=3e-3,
                        help="peak of a 5%% warmup then linear decay")
    parser.add_argument("--weight-decay", type=float, default=0.0,
                        help="AdamW weight decay (the recipe: 0; the indexing paper's runs: 0.01)")
    parser.add_argument("--time-budget-minutes", type=positive_number, default=None, metavar="M",
                        help="train each method for M minutes of wall clock, the learning rate warming up and "
                        "decaying over that time (--epochs becomes an upper bound); for hardware of unknown speed")
    parser.add_argument("--save-steps", type=int, default=0, metavar="N",
                        help="a resumable checkpoint every N steps under OUTPUT_ROOT/p5-beauty-METHOD/checkpoints "
                        "(the newest two are kept); for runs longer than one sitting")
    parser.add_argument("--resume", action="store_true",
                        help="continue each method from its newest checkpoint; give the interrupted run's flags "
                        "(the schedule is set by --epochs/--max-steps, so not with --time-budget-minutes)")
    parser.add_argument("--eval-batch-size", type=int, default=32,
                        help="prompts per beam search (on the CPU at most 32, the fastest measured)")
    parser.add_argument("--dataloader-workers", type=int, default=0, help="collator processes (GPU runs)")
    parser.add_argument("--eval-users", type=int, default=None, help="seeded subset of test users (default: all)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads; on a busy shared CPU 1 is often faster than 2")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", dest="overrides", action="append", type=parse_override, default=[],
                        metavar="KEY=VALUE", help="P5 config field, e.g. --set d_model=256")
    args = parser.parse_args()
    if args.resume and args.time_budget_minutes:
        parser.error("--resume cannot be combined with --time-budget-minutes (the schedule follows the clock "
                     "of the interrupted process); resume with --epochs or --max-steps")
    if args.threads:
        torch.set_num_threads(args.threads)
    # as `hf-recsys train` does: steps reuse freed buffers instead of re-faulting them
    # (hf_recsys.training.allocator)
    reuse_freed_memory()

    rows = []
    for method in args.methods:
        overrides = {**p5_recipe_config(method, args.recipe), **dict(args.overrides)}
        run = RunConfig(
            model="p5", dataset="beauty", data_path=args.data_path,
            output_dir=os.path.join(args.output_root, f"p5-beauty-{method.replace('+', '-')}"),
            epochs=args.epochs, max_steps=args.max_steps, batch_size=args.batch_size,
            learning_rate=args.learning_rate, weight_decay=args.weight_decay, seed=args.seed, max_history=20, bf16=args.bf16,
            logging_steps=100, disable_tqdm=True, model_overrides=overrides,
            eval_users=args.eval_users, eval_unseen_template=False,
            time_budget_minutes=args.time_budget_minutes, eval_batch_size=args.eval_batch_size,
            dataloader_workers=args.dataloader_workers,
            save_steps=args.save_steps, save_total_limit=2 if args.save_steps else None,
            resume_from_checkpoint="latest" if args.resume else None,
        )
        started = time.perf_counter()
        metrics = run_training(run)
        metrics["wall_s"] = time.perf_counter() - started
        rows.append((method, metrics))

    lines = [
        "| P5 item indexing | HR@5 | NDCG@5 | HR@10 | NDCG@10 | test users | train steps (epochs) | train time | eval time |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for method, m in rows:
        lines.append(
            f"| {method} (ours) | {m['eval_hr@5']:.4f} | {m['eval_ndcg@5']:.4f} | {m['eval_hr@10']:.4f} | "
            f"{m['eval_ndcg@10']:.4f} | {m['eval_users']:,} | {m['train_steps']} ({m['train_epochs']:.1f}) | {m['train_runtime_s'] / 60:.1f} min | "
            f"{m['eval_eval_seconds'] / 60:.1f} min |"
        )
    if rows:
        m = rows[0][1]
        lines.append(f"| popularity (same users) | {m['eval_popularity_hr@5']:.4f} | {m['eval_popularity_ndcg@5']:.4f} | "
                     f"{m['eval_popularity_hr@10']:.4f} | {m['eval_popularity_ndcg@10']:.4f} | | | | |")
    for row in published_figures("beauty", family="p5"):
        lines.append(f"| {row['model']} ({row['source']}) | {row['hr@5']:.3f} | {row['ndcg@5']:.3f} | "
                     f"{row['hr@10']:.3f} | {row['ndcg@10']:.3f} | all | | | |")
    if our_sasrec_row():
        lines.append(our_sasrec_row())
    table = "\n".join(lines)
    print(table)
    os.makedirs(args.output_root, exist_ok=True)
    with open(os.path.join(args.output_root, "p5-beauty-results.json"), "w") as f:
        json.dump({method: m for method, m in rows}, f, indent=2, default=str)
    with open(os.path.join(args.output_root, "p5-beauty-results.md"), "w") as f:
        f.write(table + "\n")


if __name__ == "__main__":
    main()
