#!/usr/bin/env python
"""Time the hot paths of docs/profile.md in process CPU time (one torch thread, medians).

* ``sasrec-prefix`` / ``sasrec-sequence``: a SASRec training step (forward + backward + AdamW)
  on Beauty, hidden 64, 2 layers, 2 heads, length 50, batch 256, full cross-entropy; one target
  per prefix (RecBole's unit) or whole user sequences (a target at every position).
* ``cross-entropy``: the chunked full cross-entropy, forward + backward, 1,434 targets.
* ``attention``: one attention call forward + backward, ``[256, 2, 50, 32]``, dropout 0.2.
* ``ranking``: model forward and full ranking of 1,024 test users (history masked).
* ``gru4rec-beauty``: a GRU4Rec training step (forward + backward + AdamW), default config
  (embedding 64, hidden 128, dropout 0.3), whole user sequences of Beauty, batch 256, length 50.
* ``gru4rec-synthetic``: the same on the embedded synthetic default (2,000 users, histories of
  ~37 items), batch 64, as in ``scripts/benchmark.py --suite quick``.
* ``p5-beauty`` / ``p5-beauty-compact``: a P5 training step (bf16 autocast, AdamW) of the
  ``scripts/p5_beauty.py`` model, independent IDs, on the same 10 random batches of 64 Beauty
  sequential prompts, each item written as ``▁`` + its token or (compact) as its token alone.

Compare two versions of the code by pointing ``PYTHONPATH`` at each checkout, back to back::

    git archive b27be64 | tar -x -C /tmp/before
    PYTHONPATH=/tmp/before python scripts/profile_hot_paths.py
    PYTHONPATH=. python scripts/profile_hot_paths.py

``--profile NAME`` prints a ``torch.profiler`` table of that path instead.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

PATHS = ("sasrec-prefix", "sasrec-sequence", "cross-entropy", "attention", "ranking", "gru4rec-beauty", "gru4rec-synthetic",
         "p5-beauty", "p5-beauty-compact")


def cpu_median_ms(function: Callable[[], object], repeats: int, per_round: int = 1) -> float:
    function()  # warm-up
    rounds = []
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(per_round):
            function()
        rounds.append((time.process_time() - start) / per_round)
    return 1000 * statistics.median(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-path", default="/work/shared/data/beauty/user_sequence.txt")
    parser.add_argument("--paths", nargs="+", default=list(PATHS), choices=PATHS)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", default=None, choices=PATHS, help="print a torch.profiler table of one path")
    parser.add_argument("--json", default=None)
    parser.add_argument("--compiled-recurrence", action="store_true",
                        help="GRU4Rec paths: the C++ GRU step loops (models/compiled_gru.py)")
    parser.add_argument("--default-malloc", action="store_true",
                        help="leave glibc's allocator as it is (the training command line keeps freed memory mapped)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    import hf_recsys

    print(f"hf_recsys from {hf_recsys.__path__[0]}", flush=True)  # which checkout is being timed
    from hf_recsys.data.pipeline import DataConfig, prepare_data
    from hf_recsys.data.processing import TRAIN
    from hf_recsys.data.readers import load_log
    from hf_recsys.models import GRU4RecConfig, GRU4RecForNextItem, SASRecConfig, SASRecForNextItem, modeling_utils
    from hf_recsys.models.modeling_next_item import full_cross_entropy
    from hf_recsys.training.allocator import reuse_freed_memory
    from hf_recsys.training.next_item import FullRanker, NextItemCollator

    if not args.default_malloc:
        reuse_freed_memory()  # as the training command line does
    data = prepare_data(load_log("beauty", args.data_path), DataConfig(max_history=50))
    sequences = data.sequences
    config = SASRecConfig.from_processor(
        data.processor, hidden_size=64, num_layers=2, num_heads=2, ffn_dim=256, loss_type="ce"
    )
    torch.manual_seed(0)
    model = SASRecForNextItem(config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    collator = NextItemCollator(sequences, 50)
    rng = np.random.default_rng(0)

    def prefix_batch() -> dict:
        rows = np.flatnonzero((sequences.split == TRAIN) & (np.arange(len(sequences)) > sequences.user_start))
        chosen = rng.choice(rows, 256, replace=False)
        history, _ = sequences.windows(chosen, 50)
        used = int(np.argmax((history != 0).any(0)))
        history = torch.from_numpy(np.ascontiguousarray(history[:, used:]))
        return {"history_ids": history, "history_mask": history != 0, "labels": torch.from_numpy(sequences.items[chosen])}

    def sequence_batch() -> dict:
        rows = rng.permutation(np.asarray(data.next_item_dataset("train")["row"]))[:256]
        return collator([{"row": int(r), "user_index": 0, "target": 0} for r in rows])

    def training_steps(step_model, step_optimizer, batches: list[dict]) -> Callable[[], None]:
        """Forward, backward and optimizer step over ``batches`` (one timed round)."""

        def steps() -> None:
            for batch in batches:
                step_model(**batch).loss.backward()
                step_optimizer.step()
                step_optimizer.zero_grad(set_to_none=True)

        return steps

    def step_function(make_batch: Callable[[], dict]) -> Callable[[], None]:
        return training_steps(model, optimizer, [make_batch() for _ in range(10)])

    generator = torch.Generator().manual_seed(0)
    items = (0.1 * torch.randn(config.num_items - 2, 64, generator=generator)).requires_grad_()
    queries = torch.randn(1434, 64, generator=generator).requires_grad_()
    targets = torch.randint(0, config.num_items - 2, (1434,), generator=generator)
    attention = getattr(modeling_utils, "scaled_dot_product_attention", F.scaled_dot_product_attention)
    qkv = torch.randn(3, 256, 2, 50, 32, generator=generator).requires_grad_()
    lengths = torch.randint(1, 51, (256,), generator=generator)
    valid = torch.arange(50)[None, :] >= (50 - lengths)[:, None]
    mask = (torch.ones(50, 50, dtype=torch.bool).tril() & (valid[:, None, :] | torch.eye(50, dtype=torch.bool))).unsqueeze(1)

    test = data.next_item_dataset("test")
    rows = np.asarray(test["row"])[:1024]
    eval_batch = collator([{"row": int(r), "user_index": 0, "target": int(t)} for r, t in zip(rows, np.asarray(test["target"])[:1024])])
    ranker = FullRanker(sequences)

    def forward_eval() -> torch.Tensor:
        model.eval()
        with torch.no_grad():
            logits = model(history_ids=eval_batch["history_ids"], history_mask=eval_batch["history_mask"]).logits
        model.train()
        return logits

    eval_logits = forward_eval()

    def gru4rec_steps(prepared, batch_size: int) -> Callable[[], None]:
        """10 GRU4Rec training steps on whole user sequences (default config, full cross-entropy)."""
        torch.manual_seed(0)
        gru_model = GRU4RecForNextItem(GRU4RecConfig.from_processor(
            prepared.processor, loss_type="ce", compiled_recurrence=args.compiled_recurrence
        )).train()
        gru_optimizer = torch.optim.AdamW(gru_model.parameters(), lr=1e-3)
        gru_collator = NextItemCollator(prepared.sequences, 50)
        train_rows = np.asarray(prepared.next_item_dataset("train")["row"])
        batches = [gru_collator([{"row": int(r), "user_index": 0, "target": 0}
                                 for r in rng.permutation(train_rows)[:batch_size]]) for _ in range(10)]
        return training_steps(gru_model, gru_optimizer, batches)

    def synthetic_gru4rec_steps() -> Callable[[], None]:
        return gru4rec_steps(prepare_data(load_log("synthetic"), DataConfig(max_history=50)), 64)

    def p5_steps(compact: bool) -> Callable[[], None]:
        """10 P5 training steps, the p5_beauty.py model and recipe (bf16 autocast as in its runs)."""
        from hf_recsys.benchmarks.reference import p5_recipe_config
        from hf_recsys.p5 import build_p5
        from hf_recsys.p5.training import P5Collator

        torch.manual_seed(0)
        setup = build_p5(data, {**p5_recipe_config("independent"), "compact_item_words": compact}, seed=0)
        collate = P5Collator(setup.tokenizer)
        chosen = np.random.default_rng(0).permutation(len(setup.train_dataset))[:640]  # same prompts both ways
        batches = [collate([setup.train_dataset[int(i)] for i in chosen[b * 64 : (b + 1) * 64]]) for b in range(10)]
        steps = training_steps(setup.model.train(), torch.optim.AdamW(setup.model.parameters(), lr=1e-3), batches)

        def bf16_steps() -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                steps()

        return bf16_steps

    functions: dict[str, tuple[Callable[[], object], int]] = {
        "sasrec-prefix": (step_function(prefix_batch), 10),
        "sasrec-sequence": (step_function(sequence_batch), 10),
        "cross-entropy": (lambda: full_cross_entropy(queries, items, None, targets).backward(), 1),
        "attention": (lambda: attention(qkv[0], qkv[1], qkv[2], attn_mask=mask, dropout_p=0.2).sum().backward(), 1),
        "ranking": (lambda: ranker.ranks(eval_logits, eval_batch["labels"], eval_batch["label_rows"]), 1),
    }
    # built only when asked for (the synthetic one prepares its own data)
    lazy: dict[str, tuple[Callable[[], Callable[[], object]], int]] = {
        "gru4rec-beauty": (lambda: gru4rec_steps(data, 256), 10),
        "gru4rec-synthetic": (synthetic_gru4rec_steps, 10),
        "p5-beauty": (lambda: p5_steps(compact=False), 10),
        "p5-beauty-compact": (lambda: p5_steps(compact=True), 10),
    }
    for name, (build, steps) in lazy.items():
        if name in args.paths or args.profile == name:
            functions[name] = (build(), steps)
    batch_sizes = {"gru4rec-synthetic": 64, "p5-beauty": 64, "p5-beauty-compact": 64}
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        function, steps = functions[args.profile]
        function()
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True, with_flops=True) as prof:
            function()
        print(prof.key_averages(group_by_input_shape=True).table(sort_by="self_cpu_time_total", row_limit=25))
        # the profiler counts matmul / convolution FLOPs: the work a step cannot avoid
        flops = sum(event.flops for event in prof.key_averages())
        print(f"{args.profile}: {flops / steps / 1e9:.2f} GFLOP per step (matmuls and convolutions)")
        return

    results = {}
    for name in args.paths:
        function, steps = functions[name]
        faults_before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        milliseconds = cpu_median_ms(function, args.repeats) / steps
        # minor page faults per call over the warm-up and the timed rounds (see --default-malloc)
        faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults_before) / ((args.repeats + 1) * steps)
        results[name] = round(milliseconds, 2)
        per_step = batch_sizes.get(name, 256)
        extra = f"  {per_step / milliseconds * 1000:,.0f} sequences/CPU-s" if steps > 1 else ""
        extra += f"  {faults:,.0f} page faults{' per step' if steps > 1 else ''}"
        print(f"{name:>16}: {milliseconds:8.2f} CPU-ms{' per step' if steps > 1 else ''}{extra}", flush=True)
    results["eval_forward_ms_per_1024_users"] = round(cpu_median_ms(forward_eval, args.repeats), 2)
    print(f"{'eval forward':>16}: {results['eval_forward_ms_per_1024_users']:8.2f} CPU-ms per 1,024 users")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
