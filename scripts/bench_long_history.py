"""Training-step time and peak memory of SASRec and HSTU on long, skewed histories, padded vs packed.

Each setting (model x history length x layout) runs in its own process on one thread: a batch
of histories whose lengths follow a log-normal distribution (median ``length / 8``, capped at
``length``: mostly short histories with a few long ones), the CPU time of ``--steps``
training steps (forward, backward, Adam) after one warm-up step (process CPU time: on one thread
it is the step's work, not the wait for a shared CPU; wall time is recorded too), and how far the peak resident memory rises
above the resident memory just before the first step (model, optimizer and batch built).

Layouts:
* ``padded``: the batch is padded to its longest history and attention runs over the whole
  ``[B, L, L]`` square (HSTU with ``pack_histories = False``; SASRec as it is, which already
  runs its position-wise layers on the real items only).
* ``packed``: attention over the real items only. HSTU groups histories by power-of-two
  length inside the model and chunks long ones; SASRec gets the same length groups as
  separate sub-batches (each trimmed to its longest member), one backward over their summed loss.

Settings whose padded attention would need more than ``--max-padded-gb`` are skipped and
recorded as such.

    OMP_NUM_THREADS=1 python scripts/bench_long_history.py            # writes benchmarks/results/long_history/
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

LAYOUTS = ("padded", "packed")
MODELS = ("sasrec", "hstu")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[50, 200, 1000, 4000], help="history lengths (max_history)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=LAYOUTS)
    parser.add_argument("--batch-size", type=int, default=16, help="histories per step")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per setting (after one warm-up step)")
    parser.add_argument("--hidden-size", type=int, default=32)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--num-items", type=int, default=5000)
    parser.add_argument("--max-padded-gb", type=float, default=3.0,
                        help="skip a padded setting whose attention scores would exceed this many GB")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="benchmarks/results/long_history/results.json")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # MODEL:LENGTH:LAYOUT
    args = parser.parse_args(argv)
    for name in ("batch_size", "steps", "hidden_size", "num_layers", "num_items"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive integer")
    if any(length < 2 for length in args.lengths):
        parser.error("--lengths must all be at least 2")
    return args


def sample_lengths(length: int, batch_size: int, seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    lengths = np.exp(rng.normal(np.log(max(length / 8, 2)), 1.0, batch_size)).astype(np.int64)
    lengths = np.clip(lengths, 2, length)
    lengths[0] = length  # the batch always holds one full-length history
    return lengths


def make_batch(length: int, batch_size: int, num_items: int, seed: int):
    import torch

    lengths = torch.as_tensor(sample_lengths(length, batch_size, seed))
    generator = torch.Generator().manual_seed(seed)
    mask = torch.arange(length) >= (length - lengths).unsqueeze(1)
    ids = torch.randint(2, num_items, (batch_size, length), generator=generator) * mask
    labels = torch.where(mask, torch.randint(2, num_items, (batch_size, length), generator=generator), -100)
    gaps = torch.randint(60, 10**6, (batch_size, length), generator=generator)
    times = (1_000_000_000 + gaps.cumsum(1)) * mask
    return {"history_ids": ids, "history_mask": mask, "labels": labels, "history_times": times}


def trim(batch: dict, rows=None) -> dict:
    """Rows of ``batch`` with the columns that are padding in all of them cut off."""
    if rows is not None:
        batch = {key: value[rows] for key, value in batch.items()}
    first = int((~batch["history_mask"].any(0)).sum())
    return {key: value[:, first:] for key, value in batch.items()}


def build_model(name: str, length: int, args: argparse.Namespace):
    from hf_recsys.models import (
        HSTUConfig,
        HSTUForNextItem,
        SASRecConfig,
        SASRecForNextItem,
    )

    common = dict(num_items=args.num_items, max_history=length, hidden_size=args.hidden_size,
                  num_layers=args.num_layers, dropout=0.2, loss_type="sampled_softmax", num_negatives=128)
    if name == "sasrec":
        return SASRecForNextItem(SASRecConfig(**common, num_heads=2, ffn_dim=args.hidden_size * 4))
    return HSTUForNextItem(HSTUConfig(**common, num_heads=2, qk_dim=args.hidden_size // 2, v_dim=args.hidden_size // 2))


def worker(args: argparse.Namespace) -> dict:
    import torch

    from hf_recsys.models.modeling_hstu import length_groups

    torch.set_num_threads(1)
    name, length, layout = args.worker.split(":")
    length = int(length)
    torch.manual_seed(args.seed)
    model = build_model(name, length, args).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = trim(make_batch(length, args.batch_size, args.num_items, args.seed))
    if name == "hstu":
        model.pack_histories = layout == "packed"
        sub_batches = [batch]
    elif layout == "packed":  # SASRec: one sub-batch per power-of-two length group
        groups = length_groups(batch["history_mask"].sum(1))
        starts = batch["history_mask"].sum(1).cumsum(0) - batch["history_mask"].sum(1)
        sub_batches = []
        for group in groups:
            rows = torch.searchsorted(starts, group.index[:, -1], right=True) - 1
            sub_batches.append(trim(batch, rows))
    else:
        sub_batches = [{k: v for k, v in batch.items() if k != "history_times"}]
    labelled = int((batch["labels"] != -100).sum())

    def step():
        optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for sub in sub_batches:
            share = int((sub["labels"] != -100).sum()) / labelled
            loss = model(**sub).loss * share
            loss.backward()
            total += float(loss)
        optimizer.step()
        return total

    before = current_rss_kb()
    step()  # warm-up
    times, wall = [], []
    for _ in range(args.steps):
        start, start_wall = time.process_time(), time.perf_counter()
        step()
        times.append(time.process_time() - start)
        wall.append(time.perf_counter() - start_wall)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    lengths = batch["history_mask"].sum(1)
    return {
        "model": name, "history_length": length, "layout": layout,
        "real_items": int(lengths.sum()), "padded_slots": int(batch["history_mask"].numel()),
        "attention_pairs_real": int((lengths * (lengths + 1) // 2).sum()),
        "step_cpu_ms": [round(1000 * t, 1) for t in times],
        "step_wall_ms": [round(1000 * t, 1) for t in wall],
        "step_cpu_ms_median": round(1000 * sorted(times)[len(times) // 2], 1),
        "peak_rss_mb": round(peak / 1024, 1),
        "rss_before_steps_mb": round(before / 1024, 1),
        "peak_rss_growth_mb": round(max(0, peak - before) / 1024, 1),
        "sub_batches": len(sub_batches),
    }


def current_rss_kb() -> int:
    """Resident memory of this process now, in kB (Linux ``/proc``; the peak where it is absent)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def padded_attention_gb(name: str, length: int, args: argparse.Namespace) -> float:
    """Rough size of the attention tensors a padded step keeps for backward: scores and weights
    of every head and layer (HSTU also its SiLU input), float32."""
    kept = 3 if name == "hstu" else 2
    return args.batch_size * 2 * length * length * 4 * kept * args.num_layers / 1e9


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return
    import torch

    results = []
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    for length in args.lengths:
        for name in args.models:
            for layout in args.layouts:
                setting = {"model": name, "history_length": length, "layout": layout}
                estimate = padded_attention_gb(name, length, args)
                if layout == "padded" and estimate > args.max_padded_gb:
                    results.append({**setting, "skipped": f"padded attention needs about {estimate:.1f} GB "
                                    f"(> --max-padded-gb {args.max_padded_gb})"})
                    print(json.dumps(results[-1]), flush=True)
                    continue
                command = [sys.executable, __file__, "--worker", f"{name}:{length}:{layout}",
                           *sum(([f"--{k.replace('_', '-')}", str(getattr(args, k))] for k in
                                 ("batch_size", "steps", "hidden_size", "num_layers", "num_items", "seed")), [])]
                done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
                if done.returncode != 0:
                    results.append({**setting, "failed": done.stderr.strip().splitlines()[-1:]})
                else:
                    results.append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(json.dumps(results[-1]), flush=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
    out = {
        "command": "python scripts/bench_long_history.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "git_commit": commit,
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "threads": 1,
                    "torch": torch.__version__, "python": platform.python_version()},
        "settings": {k: getattr(args, k) for k in ("batch_size", "steps", "hidden_size", "num_layers", "num_items", "seed")},
        "length_distribution": "log-normal, median length/8, sigma 1, clipped to [2, length]; one full-length history per batch",
        "results": results,
    }
    path = Path(args.output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
