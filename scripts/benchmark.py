#!/usr/bin/env python
"""Train and test a suite of models with fixed seeds; write results.json, results.md and a
quality-vs-training-time chart (results.png, needs matplotlib: pip install -e ".[bench]").

    python scripts/benchmark.py --suite quick --threads 1            # embedded synthetic default
    python scripts/benchmark.py --suite beauty --threads 1           # next-item models on Amazon Beauty
    python scripts/benchmark.py --suite beauty --p5 --threads 1      # ... and P5
    python scripts/benchmark.py --suite scale                        # data conversion at 1M/10M/20M rows

Each model runs in its own process (run_training: the package's data, split, metrics and
baselines), so its peak RSS is its own; afterwards the same process counts the FLOPs of one
training step on a real batch and times it next to a plain float32 matmul. See
hf_recsys/benchmarks/ for the details.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from hf_recsys.benchmarks.suite import SCALE_SIZES, SUITES, run_suite


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", required=True, choices=sorted(SUITES) + ["scale"])
    parser.add_argument("--models", nargs="+", default=None, help="run only these models of the suite")
    parser.add_argument("--data-path", default=None,
                        help="beauty: the P5-format user_sequence.txt (default ../shared/data/beauty/user_sequence.txt)")
    parser.add_argument("--output-dir", default="benchmarks/out")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads per model process (on a busy machine 1 is often faster than 2)")
    parser.add_argument("--p5", dest="include_p5", action="store_true", default=None,
                        help="include P5 (default: on for quick, off for beauty)")
    parser.add_argument("--no-p5", dest="include_p5", action="store_false")
    parser.add_argument("--no-flops", action="store_true", help="skip the per-model training-step FLOP measurement")
    parser.add_argument("--scale-sizes", type=int, nargs="+", default=list(SCALE_SIZES),
                        help="interactions per synthetic log (scale suite)")
    parser.add_argument("--memory-limit-mb", type=float, default=10_000,
                        help="scale suite: stop a size above this resident memory, skip sizes predicted above it")
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    command = "python scripts/benchmark.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    return run_suite(
        args.suite, args.output_dir, models=args.models, data_path=args.data_path, threads=args.threads,
        include_p5=args.include_p5, scale_sizes=args.scale_sizes, memory_limit_mb=args.memory_limit_mb,
        measure_efficiency=not args.no_flops, command=command,
    )


if __name__ == "__main__":
    main()
