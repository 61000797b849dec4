#!/usr/bin/env python
"""Train a recommender and save a Hub-ready folder. See `python scripts/train.py --help`.

Runs unchanged under `torchrun --nproc_per_node N` and `accelerate launch`.
"""

from hf_recsys.cli import train_main

if __name__ == "__main__":
    train_main()
