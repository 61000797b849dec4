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

    python scripts/bench_sasrec_speed.py --data-path /work/shared/data/beauty/user_sequence.txt
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time

import numpy as np
import torch


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--dataset", default="beauty")
    parser.add_argument("--data-path", default="/work/shared/data/beauty/user_sequence.txt")
    parser.add_argument("--max-history", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per mode (after 2 warm-up steps)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast")
    parser.add_argument("--modes", default="causal,prefixes")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="SASRec config override, e.g. --set attention_dropout=0.0")
    parser.add_argument("--profile", action="store_true", help="print a torch.profiler table of 3 causal steps")
    parser.add_argument("--json", default=None, help="also write the results here")
    return parser.parse_args()


def main() -> dict:
    args = parse_args()
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
    model = SASRecForNextItem(config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sequences = data.sequences
    rng = np.random.default_rng(0)
    collator = NextItemCollator(sequences, args.max_history)

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

    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if args.bf16 else contextlib.nullcontext()

    def step(batch):
        with autocast:
            loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    results = {"threads": torch.get_num_threads(), "bf16": args.bf16, "batch_size": args.batch_size,
               "max_history": args.max_history, "num_items": config.num_items, "overrides": overrides}
    for mode in args.modes.split(","):
        source = causal_batches() if mode == "causal" else prefix_batches()
        batches = [next(source) for _ in range(args.steps + 2)]
        for batch in batches[:2]:
            step(batch)
        wall, cpu = time.perf_counter(), time.process_time()
        for batch in batches[2:]:
            step(batch)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        timed = batches[2:]
        n_sequences = sum(len(b["history_ids"]) for b in timed)
        labels = [b["labels"] for b in timed]
        n_targets = sum(int((l != -100).sum()) if l.dim() == 2 else len(l) for l in labels)
        results[mode] = {
            "steps": len(timed),
            "sequences_per_s": n_sequences / wall,
            "targets_per_s": n_targets / wall,
            "targets_per_sequence": n_targets / n_sequences,
            "ms_per_step": 1000 * wall / len(timed),
            "cpu_ms_per_step": 1000 * cpu / len(timed),
            "targets_per_cpu_s": n_targets / cpu,
        }
        r = results[mode]
        print(f"{mode:>9}: {r['sequences_per_s']:8.0f} sequences/s  {r['targets_per_s']:8.0f} targets/s  "
              f"({r['targets_per_sequence']:.1f} targets/sequence, {r['ms_per_step']:.0f} ms/step wall, "
              f"{r['cpu_ms_per_step']:.0f} ms/step CPU)")
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        source = causal_batches()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(3):
                step(next(source))
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))
    print(f"[bench] RecBole 1.2.1 reference: 637 sequences/s (= targets/s) on 2 cores; "
          f"threads here: {results['threads']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
