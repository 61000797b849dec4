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

``--device cuda`` runs on a GPU: model and batches live there (batches are copied before the
timed rounds), the clock is wall time read after ``torch.cuda.synchronize()`` (process CPU
time says nothing about GPU work, so it is not reported), and the CPU-only knobs
(``--threads``, ``--compiled-recurrence``) are refused while the malloc tweak is skipped.
``--bf16`` is bfloat16 autocast on either device; ``--fp16`` (CUDA only) is float16 autocast with
a ``torch.amp.GradScaler``. The DeepCTR-Torch reference stays the 2-CPU-core figure.

    python scripts/bench_ctr_speed.py                      # both models, deepctr preset
    python scripts/bench_ctr_speed.py --models dien --preset paper --full-histories
    python scripts/bench_ctr_speed.py --device cuda --bf16 --json ctr_cuda_bf16.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

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
    """``count`` synthetic batches, drawn on the CPU (the same numbers whatever the device) and
    then copied to ``args.device`` up front, so no host-to-device copy falls in the timed steps."""
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
    return [to_device(batch, args.device) for batch in batches]


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
    # the category table is a buffer, so it moves with the parameters
    return model.to(args.device).train()


def measure(name: str, args: argparse.Namespace) -> dict:
    torch.manual_seed(args.seed)
    model = build_model(name, args)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batches = make_batches(args, args.distinct_batches, torch.Generator().manual_seed(args.seed))
    step = training_step(model, optimizer, args.device, args.bf16, args.fp16)

    for i in range(args.warmup):
        step(batches[i % len(batches)])
    rounds, cpu_rounds = [], []
    for _ in range(args.repeats):
        synchronize(args.device)  # the warm-up's (or last round's) kernels must not count here
        start, cpu_start = time.perf_counter(), time.process_time()
        for i in range(args.steps):
            loss = step(batches[i % len(batches)])
        synchronize(args.device)
        rounds.append((time.perf_counter() - start) / args.steps)
        cpu_rounds.append((time.process_time() - cpu_start) / args.steps)
    on_cpu = args.device.type == "cpu"
    seconds = min(rounds)
    samples_per_second = args.batch_size / seconds
    result = {
        "model": name,
        "preset": args.preset,
        "samples_per_second": round(samples_per_second, 1),
        "median_samples_per_second": round(args.batch_size / statistics.median(rounds), 1),
        "ms_per_step": round(1000 * seconds, 2),
        # CPU time of this process (all its threads): with --threads 1 on a shared machine this
        # excludes the time other processes held the core, so it approximates a quiet core. On
        # CUDA it is only the host's launch / wait time, not the work, so it is left out.
        "cpu_ms_per_step": round(1000 * min(cpu_rounds), 2) if on_cpu else None,
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
    add_device_arguments(parser)
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args()
    args.device = check_device(parser, args, cpu_only={
        "threads": "sets CPU threads for the CPU kernels",
        "compiled_recurrence": "is the CPU C++ GRU loop (float32 on the CPU only)",
    })
    if args.threads:
        torch.set_num_threads(args.threads)
    # glibc's allocator only serves host memory: on a GPU run the tweak would change nothing
    # measured, so it is skipped (and said so below) rather than applied
    if args.device.type != "cpu":
        malloc_tuned = None
    else:
        malloc_tuned = False if args.default_malloc else reuse_freed_memory()

    results, failed = [], []
    for name in args.models:
        try:
            result = measure(name, args)
        except RuntimeError as error:
            # reported and skipped so one model's failure (e.g. a dtype error under autocast)
            # does not cost the other models' figures of a run that cannot easily be repeated
            print(f"{name:>8} ({args.preset}): FAILED: {type(error).__name__}: {error}", flush=True)
            results.append({"model": name, "preset": args.preset, "error": f"{type(error).__name__}: {error}"})
            failed.append(name)
            continue
        results.append(result)
        line = (
            f"{name:>8} ({args.preset}): {result['samples_per_second']:>9,.0f} samples/s"
            f" (median {result['median_samples_per_second']:,.0f})  {result['ms_per_step']:7.2f} ms/step"
        )
        if result["cpu_ms_per_step"] is not None:
            line += f"  {result['cpu_ms_per_step']:7.2f} CPU-ms/step"
        if "speedup_vs_deepctr" in result:
            line += f"  {result['speedup_vs_deepctr']:.2f}x DeepCTR-Torch (goal {result['goal_speedup']:.0f}x)"
        print(line, flush=True)
    precision, clock = precision_name(args), clock_name(args.device)
    if args.device.type == "cuda":
        device_name = torch.cuda.get_device_name(args.device)
        print(f"torch {torch.__version__}, device {args.device} ({device_name}), {precision}; clock: {clock};"
              " freed-memory malloc tweak: skipped (CUDA run); DeepCTR-Torch reference is 2 CPU cores")
    else:
        device_name = None
        print(f"torch {torch.__version__}, device cpu, {torch.get_num_threads()} threads, {precision};"
              f" clock: {clock}; freed memory kept mapped: {malloc_tuned}")
    if args.json:
        summary = {**vars(args), "device": str(args.device)}
        with open(args.json, "w") as f:
            json.dump({"args": summary, "device": str(args.device), "device_name": device_name, "clock": clock,
                       "precision": precision, "malloc_tuned": malloc_tuned, "results": results}, f, indent=2)
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
