#!/usr/bin/env python
"""Training throughput of DIN and DIEN (AUGRU + auxiliary loss) on synthetic batches.

One step = forward + backward + AdamW step on a batch of ``--batch-size`` samples with
histories of ``--history`` items (lengths uniform in [1, history], left-padded as the
collator makes them), embeddings of ``--dim`` per field (item and category, so a behaviour
is 2 x dim wide). Batches are generated up front, so the figure is the model's cost alone
(no data loading, no Trainer). Warm-up steps are run, then ``--steps`` timed steps.

The reference figures are DeepCTR-Torch's on 2 CPU cores at the same shape: DIN 5,493 and
DIEN 1,293 samples/s. ``--preset deepctr`` (default) matches DeepCTR-Torch's default layers
(DIN: attention 64-16 with Dice, MLP 256-128 ReLU; DIEN: attention MLP 64-16, auxiliary MLP
100-50, MLP 256-128); ``--preset paper`` uses our configs' defaults (paper sizes, Dice MLP,
bilinear attention and inner-product auxiliary scorer for DIEN).

Timing: ``--steps`` steps are timed in ``--repeats`` rounds; the best round is reported (on a
shared machine the best round is the least disturbed one) next to the median, and the
process's CPU time per step (with ``--threads 1`` it leaves out time other processes held the
core). Freed memory is kept mapped (:func:`hf_recsys.training.allocator.reuse_freed_memory`)
unless ``--default-malloc``.
``--full-histories`` makes every history ``--history`` long (no padding).

    python scripts/bench_ctr_speed.py                      # both models, deepctr preset
    python scripts/bench_ctr_speed.py --models dien --preset paper --full-histories
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from hf_recsys.models import MODEL_REGISTRY
from hf_recsys.training.allocator import reuse_freed_memory

DEEPCTR_REFERENCE = {"din": 5493.0, "dien": 1293.0}
GOALS = {"din": 2.0, "dien": 3.0}  # multiples of the reference we aim for

PRESETS = {
    # DeepCTR-Torch's defaults: DIN attention 64-16 with Dice, MLP 256-128 ReLU; DIEN attention
    # MLP 64-16 ReLU, auxiliary MLP 100-50 (sigmoid), MLP 256-128 ReLU
    "deepctr": {
        "sumpool": dict(mlp_hidden_sizes=[256, 128], mlp_activation="relu"),
        "din": dict(
            attention_hidden_sizes=[64, 16],
            attention_activation="dice",
            mlp_hidden_sizes=[256, 128],
            mlp_activation="relu",
        ),
        "dien": dict(
            gru_type="augru",
            attention_type="mlp",
            attention_hidden_sizes=[64, 16],
            attention_activation="relu",
            aux_scorer="mlp",
            aux_hidden_sizes=[100, 50],
            mlp_hidden_sizes=[256, 128],
            mlp_activation="relu",
        ),
    },
    # our configs' defaults (the papers' sizes and activations)
    "paper": {"sumpool": {}, "din": {}, "dien": {}},
}


def make_batches(args: argparse.Namespace, count: int, generator: torch.Generator) -> list[dict[str, torch.Tensor]]:
    batches = []
    for _ in range(count):
        if args.full_histories:
            lengths = torch.full((args.batch_size,), args.history)
        else:
            lengths = torch.randint(1, args.history + 1, (args.batch_size,), generator=generator)
        mask = torch.arange(args.history).unsqueeze(0) >= (args.history - lengths).unsqueeze(1)
        items = torch.randint(2, args.num_items, (args.batch_size, args.history), generator=generator)
        negatives = torch.randint(2, args.num_items, (args.batch_size, args.history), generator=generator)
        negatives = torch.where(negatives == items, (negatives - 1).clamp(min=2), negatives)
        batches.append(
            {
                "history_ids": items * mask,
                "history_mask": mask,
                "history_negatives": negatives * mask,
                "target_ids": torch.randint(2, args.num_items, (args.batch_size,), generator=generator),
                "user_features": torch.stack(
                    [torch.randint(2, size, (args.batch_size,), generator=generator) for size in args.user_feature_sizes],
                    dim=1,
                ),
                "labels": torch.randint(0, 2, (args.batch_size,), generator=generator).float(),
            }
        )
    return batches


def build_model(name: str, args: argparse.Namespace) -> torch.nn.Module:
    spec = MODEL_REGISTRY[name]
    config = spec.config_class(
        num_items=args.num_items,
        num_categories=args.num_categories,
        user_feature_sizes=args.user_feature_sizes,
        max_history=args.history,
        item_embedding_dim=args.dim,
        category_embedding_dim=args.dim,
        **PRESETS[args.preset].get(name, {}),
        **({"compiled_recurrence": True} if args.compiled_recurrence and name == "dien" else {}),
    )
    model = spec.model_class(config)
    generator = torch.Generator().manual_seed(0)
    table = torch.randint(2, args.num_categories, (args.num_items,), generator=generator)
    model.embeddings.load_category_table(table)
    return model.train()


def measure(name: str, args: argparse.Namespace) -> dict:
    torch.manual_seed(args.seed)
    model = build_model(name, args)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batches = make_batches(args, args.distinct_batches, torch.Generator().manual_seed(args.seed))

    def step(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        return loss

    for i in range(args.warmup):
        step(batches[i % len(batches)])
    rounds, cpu_rounds = [], []
    for _ in range(args.repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        for i in range(args.steps):
            loss = step(batches[i % len(batches)])
        rounds.append((time.perf_counter() - start) / args.steps)
        cpu_rounds.append((time.process_time() - cpu_start) / args.steps)
    seconds = min(rounds)
    samples_per_second = args.batch_size / seconds
    result = {
        "model": name,
        "preset": args.preset,
        "samples_per_second": round(samples_per_second, 1),
        "median_samples_per_second": round(args.batch_size / statistics.median(rounds), 1),
        "ms_per_step": round(1000 * seconds, 2),
        # CPU time of this process (all its threads): with --threads 1 on a shared machine this
        # excludes the time other processes held the core, so it approximates a quiet core
        "cpu_ms_per_step": round(1000 * min(cpu_rounds), 2),
        "final_loss": round(float(loss.detach()), 4),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    if name in DEEPCTR_REFERENCE:
        result["deepctr_torch_reference"] = DEEPCTR_REFERENCE[name]
        result["speedup_vs_deepctr"] = round(samples_per_second / DEEPCTR_REFERENCE[name], 2)
        result["goal_speedup"] = GOALS[name]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["din", "dien"], choices=["sumpool", "din", "dien"])
    parser.add_argument("--preset", default="deepctr", choices=sorted(PRESETS))
    parser.add_argument("--dim", type=int, default=32, help="embedding size of the item and of the category")
    parser.add_argument("--history", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--num-items", type=int, default=10000)
    parser.add_argument("--num-categories", type=int, default=100)
    parser.add_argument("--user-feature-sizes", type=int, nargs="*", default=[10, 20])
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per round")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds (best is reported)")
    parser.add_argument("--full-histories", action="store_true", help="every history is --history long")
    parser.add_argument("--distinct-batches", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--default-malloc", action="store_true",
                        help="leave glibc's allocator as it is (by default freed memory is kept mapped,"
                        " see hf_recsys.training.allocator)")
    parser.add_argument("--compiled-recurrence", action="store_true",
                        help="DIEN: run the GRU time-step loops as the C++ extension (models/compiled_gru.py)")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    malloc_tuned = False if args.default_malloc else reuse_freed_memory()

    results = []
    for name in args.models:
        result = measure(name, args)
        results.append(result)
        line = (
            f"{name:>8} ({args.preset}): {result['samples_per_second']:>9,.0f} samples/s"
            f" (median {result['median_samples_per_second']:,.0f})  {result['ms_per_step']:7.2f} ms/step"
            f"  {result['cpu_ms_per_step']:7.2f} CPU-ms/step"
        )
        if "speedup_vs_deepctr" in result:
            line += f"  {result['speedup_vs_deepctr']:.2f}x DeepCTR-Torch (goal {result['goal_speedup']:.0f}x)"
        print(line, flush=True)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, freed memory kept mapped: {malloc_tuned}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "malloc_tuned": malloc_tuned, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
