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

import torch

from hf_recsys.benchmarks.ctr_comparison import compare_ctr_models, run_length, write_comparison
from hf_recsys.training.allocator import reuse_freed_memory

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
    rows, baseline, wall = compare_ctr_models(
        args.models, args.output_dir, dataset=args.dataset, data_path=args.data_path, epochs=args.epochs,
        max_steps=args.max_steps, learning_rate=args.learning_rate, batch_size=args.batch_size,
        max_history=args.max_history, seed=args.seed,
    )
    settings = {k: v for k, v in vars(args).items() if k != "models"}
    settings.update(threads=torch.get_num_threads(), malloc_tuned=malloc_tuned, wall_time_s=round(wall, 1))
    caption = (
        f"Held-out test split of `{args.dataset}` (leave-one-out, 1 sampled negative per positive, "
        f"history {args.max_history}), seed {args.seed}, {run_length(settings)} per model, "
        f"lr {args.learning_rate:g}, batch {args.batch_size}, {settings['threads']} thread(s); "
        "samples/s include data loading and were measured on a shared CPU (noisy)."
    )
    print("\n" + write_comparison(args.output_dir, "compare_ctr", rows, baseline, settings, caption))


if __name__ == "__main__":
    main()
