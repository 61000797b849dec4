#!/usr/bin/env python
"""Train a recommender and save a Hub-ready folder. See `python scripts/train.py --help`.

Runs unchanged under `torchrun --nproc_per_node N` and `accelerate launch`.
"""

from hf_recsys.cli import run_command

if __name__ == "__main__":
    run_command("train")
