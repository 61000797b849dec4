#!/usr/bin/env python
"""SASRec training throughput on Amazon Beauty, in the units RecBole reports and in ours.

RecBole 1.2.1's SASRec (hidden 64, 2 layers, 2 heads, max length 50, batch 256, full
cross-entropy) trains 637 "training sequences"/s on 2 CPU cores; a RecBole training sequence is
one prefix of a user's history with one target (the loss is on its last position). Our models
train on whole user sequences with a target at every position, so this script measures two
things on the same model:

* ``causal``: our default, one training sequence per user, a loss at every position; reported
  as sequences/s and targets/s (targets = labelled positions).
* ``prefixes``: RecBole's unit, random training prefixes with one target each, so
  sequences/s here is directly comparable to RecBole's 637/s.

The training-targets/s of ``causal`` is the comparable figure for "how fast does an epoch
over the same training targets go"; ``prefixes`` sequences/s is the like-for-like unit.
Each step is forward + backward + AdamW, as in ``Trainer``. Wall time and process CPU time
are both reported: on a shared machine wall time is noisy.

``--device cuda`` runs on a GPU: model and batches live there (batches are copied before the
timed steps), the clock is wall time read after ``torch.cuda.synchronize()`` (process CPU time
measures only the host, so it is not reported) and ``--threads`` is refused. ``--bf16`` is
bfloat16 autocast on either device; ``--fp16`` (CUDA only) is float16 autocast with a
``torch.amp.GradScaler``.

    python scripts/bench_sasrec_speed.py --data-path /work/shared/data/beauty/user_sequence.txt
    python scripts/bench_sasrec_speed.py --device cuda --bf16 --json sasrec_cuda_bf16.json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from hf_recsys.benchmarks.device import (
    add_device_arguments,
    check_device,
    clock_name,
    precision_name,
    synchronize,
    to_device,
    training_step,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--dataset", default="beauty")
    parser.add_argument("--data-path", default="/work/shared/data/beauty/user_sequence.txt")
    parser.add_argument("--max-history", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per mode (after 2 warm-up steps)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    add_device_arguments(parser)
    parser.add_argument("--pad-to-multiple-of", type=int, default=None, metavar="N",
                        help="causal batches: keep the trimmed width a multiple of N (fewer distinct shapes; "
                        "what training does on a GPU, N=8)")
    parser.add_argument("--modes", default="causal,prefixes")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="SASRec config override, e.g. --set attention_dropout=0.0")
    parser.add_argument("--profile", action="store_true", help="print a torch.profiler table of 3 causal steps")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    args.device = check_device(parser, args, cpu_only={"threads": "sets CPU threads for the CPU kernels"})
    return args


def main() -> dict:
    args = parse_args()
    on_cuda = args.device.type == "cuda"
    if args.threads:
        torch.set_num_threads(args.threads)
    import ast

    import hf_recsys  # noqa: F401
    from hf_recsys.data.pipeline import DataConfig, prepare_data
    from hf_recsys.data.processing import TRAIN
    from hf_recsys.data.readers import load_log
    from hf_recsys.models import SASRecConfig, SASRecForNextItem
    from hf_recsys.training.next_item import NextItemCollator

    overrides = {}
    for item in args.overrides:
        key, value = item.split("=", 1)
        try:
            overrides[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            overrides[key] = value
    data = prepare_data(load_log(args.dataset, args.data_path), DataConfig(max_history=args.max_history))
    config = SASRecConfig.from_processor(
        data.processor, hidden_size=64, num_layers=2, num_heads=2, ffn_dim=256, loss_type="ce", **overrides
    )
    torch.manual_seed(0)
    model = SASRecForNextItem(config).to(args.device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sequences = data.sequences
    rng = np.random.default_rng(0)
    collator = NextItemCollator(sequences, args.max_history, pad_to_multiple_of=args.pad_to_multiple_of)

    def causal_batches():
        rows = np.asarray(data.next_item_dataset("train")["row"])
        while True:
            for start in range(0, len(rows), args.batch_size):
                chosen = rng.permutation(rows)[: args.batch_size]
                yield collator([{"row": int(r), "user_index": 0, "target": 0} for r in chosen])

    def prefix_batches():
        # every training interaction with at least one item before it is one RecBole sequence
        rows = np.flatnonzero((sequences.split == TRAIN) & (np.arange(len(sequences)) > sequences.user_start))
        while True:
            chosen = rng.choice(rows, args.batch_size, replace=False)
            history, _ = sequences.windows(chosen, args.max_history)
            used = int(np.argmax((history != 0).any(0)))
            history = torch.from_numpy(np.ascontiguousarray(history[:, used:]))
            yield {"history_ids": history, "history_mask": history != 0, "labels": torch.from_numpy(sequences.items[chosen])}

    step = training_step(model, optimizer, args.device, args.bf16, args.fp16)
    precision, clock = precision_name(args), clock_name(args.device)
    results = {"device": str(args.device), "device_name": torch.cuda.get_device_name(args.device) if on_cuda else None,
               "clock": clock, "precision": precision,
               "threads": None if on_cuda else torch.get_num_threads(), "bf16": args.bf16, "fp16": args.fp16,
               "batch_size": args.batch_size, "max_history": args.max_history, "num_items": config.num_items,
               "overrides": overrides}
    for mode in args.modes.split(","):
        source = causal_batches() if mode == "causal" else prefix_batches()
        batches = [next(source) for _ in range(args.steps + 2)]
        timed = batches[2:]
        # counted on the host copies, before the move, so no device read-back is needed
        n_sequences = sum(len(b["history_ids"]) for b in timed)
        labels = [b["labels"] for b in timed]
        n_targets = sum(int((label != -100).sum()) if label.dim() == 2 else len(label) for label in labels)
        # on a GPU each new batch shape can cost a graph build (cuDNN attention): count them
        widths = len({b["history_ids"].shape[1] for b in batches})
        # copied up front: the timed steps measure the model, not host-to-device transfers
        batches = [to_device(batch, args.device) for batch in batches]
        for batch in batches[:2]:
            step(batch)
        synchronize(args.device)  # the warm-up's kernels must not be counted in the timed steps
        wall, cpu = time.perf_counter(), time.process_time()
        for batch in batches[2:]:
            step(batch)
        synchronize(args.device)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        results[mode] = {
            "steps": len(timed),
            "sequences_per_s": n_sequences / wall,
            "targets_per_s": n_targets / wall,
            "targets_per_sequence": n_targets / n_sequences,
            "distinct_widths": widths,
            "ms_per_step": 1000 * wall / len(timed),
            # process CPU time measures the work only when the CPU does it; on CUDA it is the
            # host's launch / wait time, so it is left out there
            "cpu_ms_per_step": None if on_cuda else 1000 * cpu / len(timed),
            "targets_per_cpu_s": None if on_cuda else n_targets / cpu,
        }
        r = results[mode]
        line = (f"{mode:>9}: {r['sequences_per_s']:8.0f} sequences/s  {r['targets_per_s']:8.0f} targets/s  "
                f"({r['targets_per_sequence']:.1f} targets/sequence, {r['distinct_widths']} batch widths, "
                f"{r['ms_per_step']:.0f} ms/step wall")
        line += ")" if on_cuda else f", {r['cpu_ms_per_step']:.0f} ms/step CPU)"
        print(line, flush=True)
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        source = causal_batches()
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if on_cuda else [])
        with profile(activities=activities) as prof:
            for _ in range(3):
                step(to_device(next(source), args.device))
            synchronize(args.device)
        sort_by = "self_device_time_total" if on_cuda else "self_cpu_time_total"
        print(prof.key_averages().table(sort_by=sort_by, row_limit=20))
    where = (f"device {results['device']} ({results['device_name']})" if on_cuda
             else f"device cpu, threads here: {results['threads']}")
    print(f"[bench] RecBole 1.2.1 reference: 637 sequences/s (= targets/s) on 2 CPU cores; "
          f"{where}; {precision}; clock: {clock}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
