"""Data conversion cost: raw MovieLens-format log on disk -> prepared data -> CTR datasets.

Writes a synthetic log of N interactions in the exact ``ratings.dat`` format, then times each
stage and records the peak resident memory of the process, so growth with N can be checked.
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from typing import Optional

import numpy as np
import pandas as pd

from ..data.pipeline import DataConfig, prepare_data
from ..data.readers import read_movielens_1m
from ..data.synthetic import generate_synthetic_log


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write_ratings_dat(num_interactions: int, folder: str, seed: int = 0) -> int:
    """Write ``folder/ratings.dat`` (``::``-separated) with about ``num_interactions`` rows."""
    num_users = max(100, num_interactions // 30)  # overshoot (about 37 per user), then trim
    log = generate_synthetic_log(num_users=num_users, num_items=max(200, num_users // 5), seed=seed)
    df = log.interactions.head(num_interactions)
    lines = (
        df["user_id"] + "::" + df["item_id"] + "::" + df["rating"].astype(int).astype(str) + "::" + df["timestamp"].astype(str)
    )
    with open(os.path.join(folder, "ratings.dat"), "w", encoding="latin-1") as f:
        f.write("\n".join(lines.tolist()))
        f.write("\n")
    return len(df)


def measure_conversion(num_interactions: int, max_history: int = 50, workdir: Optional[str] = None) -> dict:
    """Time read -> prepare (sort, split, encode) -> CTR train/test datasets for one size."""
    with tempfile.TemporaryDirectory(dir=workdir) as folder:
        written = write_ratings_dat(num_interactions, folder)
        result = {"interactions": written}
        start = time.perf_counter()
        log = read_movielens_1m(folder)
        result["read_s"] = time.perf_counter() - start
        start = time.perf_counter()
        data = prepare_data(log, DataConfig(max_history=max_history))
        result["prepare_s"] = time.perf_counter() - start
        start = time.perf_counter()
        train = data.ctr_dataset("train")
        data.ctr_dataset("test")
        result["ctr_datasets_s"] = time.perf_counter() - start
        result["ctr_train_samples"] = len(train)
        result["total_s"] = result["read_s"] + result["prepare_s"] + result["ctr_datasets_s"]
        result["peak_rss_mb"] = peak_rss_mb()
    return result


def format_table(rows: list[dict]) -> str:
    frame = pd.DataFrame(rows)
    header = "| interactions | read (s) | prepare (s) | CTR datasets (s) | total (s) | peak RSS (MB) |\n|---|---|---|---|---|---|"
    body = "\n".join(
        f"| {r.interactions:,} | {r.read_s:.2f} | {r.prepare_s:.2f} | {r.ctr_datasets_s:.2f} | {r.total_s:.2f} | {r.peak_rss_mb:.0f} |"
        for r in frame.itertuples()
    )
    return header + "\n" + body
