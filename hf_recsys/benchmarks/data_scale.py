"""Data conversion cost: raw MovieLens-format log on disk -> prepared data -> CTR datasets.

Writes a synthetic log of N interactions in the exact ``ratings.dat`` format, then times each
stage and records the peak resident memory of the process, so growth with N can be checked.

The log is written in chunks of about one million rows (each chunk its own users, all chunks
one catalogue), so writing it costs little memory and the peak belongs to the conversion.
The resident memory of the process before reading (Python, numpy, pandas, torch imported)
is reported separately as ``baseline_rss_mb``.
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

#: users per generated chunk (about 37 interactions each before trimming)
CHUNK_USERS = 30_000


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb() -> float:
    """Resident set size of this process now, in MB (``/proc/self/statm``; 0 where absent)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def write_ratings_dat(num_interactions: int, folder: str, seed: int = 0) -> int:
    """Write ``folder/ratings.dat`` (``::``-separated) with ``num_interactions`` rows (fewer
    only if the generator falls short); returns the number of rows written."""
    total_users = max(100, num_interactions // 30)  # overshoot (about 37 per user), then trim
    num_items = max(200, total_users // 5)
    written, chunk = 0, 0
    with open(os.path.join(folder, "ratings.dat"), "w", encoding="latin-1") as f:
        while written < num_interactions:
            users = min(CHUNK_USERS, total_users)
            log = generate_synthetic_log(num_users=users, num_items=num_items, seed=seed + chunk)
            df = log.interactions.head(num_interactions - written)
            if df.empty:
                break
            user_ids = (df["user_id"].astype(np.int64) + chunk * CHUNK_USERS).astype(str)
            lines = (
                user_ids + "::" + df["item_id"] + "::" + df["rating"].astype(int).astype(str)
                + "::" + df["timestamp"].astype(str)
            )
            f.write("\n".join(lines.tolist()))
            f.write("\n")
            written += len(df)
            chunk += 1
    return written


def measure_conversion(
    num_interactions: int, max_history: int = 50, workdir: Optional[str] = None, log_folder: Optional[str] = None
) -> dict:
    """Time read -> prepare (sort, split, encode) -> CTR train/test datasets for one size.

    Peak RSS is the process's (run one size per process for an honest figure); the
    ``peak_after_*_mb`` fields show which stage raised it. With ``log_folder`` (a folder whose
    ``ratings.dat`` another process wrote, see :func:`main`) the writing's memory stays out of
    the peak; without it the log is written here first.
    """
    with tempfile.TemporaryDirectory(dir=workdir) as scratch:
        folder = log_folder or scratch
        baseline = current_rss_mb()
        start = time.perf_counter()
        written = num_interactions if log_folder else write_ratings_dat(num_interactions, folder)
        result = {"interactions": written, "write_s": time.perf_counter() - start, "baseline_rss_mb": baseline,
                  "log_written_elsewhere": bool(log_folder)}
        times_before = os.times()
        start, cpu = time.perf_counter(), time.process_time()
        log = read_movielens_1m(folder)
        result["read_s"] = time.perf_counter() - start
        result["read_cpu_s"] = time.process_time() - cpu
        result["peak_after_read_mb"] = peak_rss_mb()
        start, cpu = time.perf_counter(), time.process_time()
        data = prepare_data(log, DataConfig(max_history=max_history))
        result["prepare_s"] = time.perf_counter() - start
        result["prepare_cpu_s"] = time.process_time() - cpu
        result["peak_after_prepare_mb"] = peak_rss_mb()
        start, cpu = time.perf_counter(), time.process_time()
        train = data.ctr_dataset("train")
        data.ctr_dataset("test")
        result["ctr_datasets_s"] = time.perf_counter() - start
        result["ctr_datasets_cpu_s"] = time.process_time() - cpu
        result["ctr_train_samples"] = len(train)
        result["interactions"] = len(data.sequences)
        result["total_s"] = result["read_s"] + result["prepare_s"] + result["ctr_datasets_s"]
        # CPU time of this process: on a shared machine it tracks the work, wall time the load
        result["total_cpu_s"] = result["read_cpu_s"] + result["prepare_cpu_s"] + result["ctr_datasets_cpu_s"]
        times_after = os.times()
        # user vs system CPU: system time is mostly page faults on freshly allocated memory
        result["total_user_s"] = times_after.user - times_before.user
        result["total_system_s"] = times_after.system - times_before.system
        result["peak_rss_mb"] = peak_rss_mb()
    return result


def linear_fit(rows: list[dict], key: str) -> dict:
    """Least-squares ``key = intercept + slope * millions`` over the rows (cost per million
    interactions, and how far the largest size is from the line)."""
    millions = np.array([r["interactions"] / 1e6 for r in rows], dtype=float)
    values = np.array([r[key] for r in rows], dtype=float)
    if len(rows) < 2:
        return {"per_million": float(values[0] / millions[0]) if len(rows) else float("nan"), "intercept": 0.0}
    slope, intercept = np.polyfit(millions, values, 1)
    predicted = intercept + slope * millions
    return {"per_million": float(slope), "intercept": float(intercept),
            "max_relative_residual": float(np.max(np.abs(values - predicted) / np.maximum(values, 1e-9)))}


def format_table(rows: list[dict]) -> str:
    frame = pd.DataFrame(rows)
    header = "| interactions | read (s) | prepare (s) | CTR datasets (s) | total (s) | peak RSS (MB) |\n|---|---|---|---|---|---|"
    body = "\n".join(
        f"| {r.interactions:,} | {r.read_s:.2f} | {r.prepare_s:.2f} | {r.ctr_datasets_s:.2f} | {r.total_s:.2f} | {r.peak_rss_mb:.0f} |"
        for r in frame.itertuples()
    )
    return header + "\n" + body


def main(argv: Optional[list[str]] = None) -> None:
    """``python -m hf_recsys.benchmarks.data_scale write N FOLDER`` writes a log;
    ``... measure N FOLDER`` measures its conversion and prints the result as JSON."""
    import json
    import sys

    command, size, folder = (argv if argv is not None else sys.argv[1:])[:3]
    if command == "write":
        print(write_ratings_dat(int(size), folder))
    elif command == "measure":
        print(json.dumps(measure_conversion(int(size), log_folder=folder)))
    else:
        raise SystemExit(f"unknown command {command!r}: use write or measure")


if __name__ == "__main__":
    main()
