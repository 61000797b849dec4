#!/usr/bin/env python
"""Measure data conversion time and peak memory for synthetic MovieLens-format logs.

    python scripts/bench_data.py --sizes 1000000            # one size per process (honest peak RSS)
    python scripts/bench_data.py --sizes 1000000 10000000 20000000 --output scale.json
"""

import argparse
import json
import subprocess
import sys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000], help="interactions per log")
    parser.add_argument("--max-history", type=int, default=50)
    parser.add_argument("--output", default=None, help="write the rows as JSON here")
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.single:
        from hf_recsys.benchmarks.data_scale import measure_conversion

        print(json.dumps(measure_conversion(args.sizes[0], args.max_history)))
        return
    from hf_recsys.benchmarks.data_scale import format_table

    rows = []
    for size in args.sizes:  # a fresh process per size, so peak RSS belongs to that size
        out = subprocess.run(
            [sys.executable, __file__, "--single", "--sizes", str(size), "--max-history", str(args.max_history)],
            capture_output=True, text=True, check=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    print(format_table(rows))
    if args.output:
        with open(args.output, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
