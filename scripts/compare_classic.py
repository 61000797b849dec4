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

from hf_recsys.benchmarks.ctr_comparison import compare_ctr_models, run_length, write_comparison

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
    rows, baseline, wall = compare_ctr_models(
        args.models, args.output_dir, dataset=args.dataset, data_path=args.data_path, epochs=args.epochs,
        max_steps=args.max_steps, learning_rate=args.learning_rate, batch_size=args.batch_size, seed=args.seed,
    )
    settings = {k: v for k, v in vars(args).items() if k != "models"}
    settings["wall_time_s"] = round(wall, 1)
    caption = (
        f"Held-out test split of `{args.dataset}` (leave-one-out, 1 sampled negative per positive), "
        f"seed {args.seed}, {run_length(settings)} per model, lr {args.learning_rate:g}, "
        f"batch {args.batch_size}; samples/s measured on a shared CPU (noisy)."
    )
    print("\n" + write_comparison(args.output_dir, "compare_classic", rows, baseline, settings, caption))


if __name__ == "__main__":
    main()
