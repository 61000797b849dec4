"""Memory of a next-item model with a large catalogue (default: SASRec, d 64, 1,000,000 items).

Each phase runs in its own process (peak RSS is per process) on synthetic tensors:

* ``model``: the model and an AdamW optimizer after one step (parameters, gradients, Adam state);
* ``train-ce``: one more training step with the chunked full-softmax cross-entropy;
* ``train-sampled``: the same step with ``loss_type=sampled_softmax`` (shared uniform negatives);
* ``recommend``: ``top_k_items`` (chunked full ranking) for a batch of histories;
* ``full-matrix``: the same ranking through one ``[batch, num_items]`` score matrix, for comparison.

    python scripts/bench_large_catalog.py --threads 1
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

PHASES = ("model", "train-ce", "train-sampled", "recommend", "full-matrix")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def run_phase(args: argparse.Namespace) -> dict:
    import torch

    from hf_recsys.models import SASRecConfig, SASRecForNextItem
    from hf_recsys.training.allocator import reuse_freed_memory

    torch.set_num_threads(args.threads)
    reuse_freed_memory()
    baseline = peak_rss_mb()  # the interpreter with torch and transformers imported
    torch.manual_seed(0)
    loss_type = "sampled_softmax" if args.phase == "train-sampled" else "ce"
    config = SASRecConfig(num_items=args.num_items, hidden_size=args.hidden_size, num_heads=2,
                          ffn_dim=args.hidden_size, num_layers=2, max_history=args.max_history, loss_type=loss_type)
    model = SASRecForNextItem(config)
    parameter_mb = sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20
    result = {"phase": args.phase, "parameters_mb": round(parameter_mb, 1)}
    history = torch.randint(2, args.num_items, (args.batch_size, args.max_history))
    if args.phase in ("model", "train-ce", "train-sampled"):
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        labels = torch.randint(2, args.num_items, (args.batch_size, args.max_history))
        model.train()
        # step 1 creates gradients and the Adam state (2 tensors per parameter) without a loss
        # over the catalogue; the measured step 2 (training phases) then runs the real loss
        for p in model.parameters():
            p.grad = torch.zeros_like(p)
        started = time.perf_counter()
        optimizer.step()
        if args.phase != "model":
            optimizer.zero_grad(set_to_none=False)
            started = time.perf_counter()
            model(history_ids=history, labels=labels).loss.backward()
            optimizer.step()
        result.update(batch=[args.batch_size, args.max_history], seconds=round(time.perf_counter() - started, 2))
    else:
        model.eval()
        started = time.perf_counter()
        inputs = {"history_ids": history, "history_mask": history != 0}
        with torch.no_grad():
            if args.phase == "recommend":
                model.top_k_items(inputs, args.k)
            else:
                scores = model.score_items(inputs, torch.arange(args.num_items))
                scores[:, :2] = float("-inf")
                scores.scatter_(1, history, float("-inf")).topk(args.k, dim=1)
        result.update(batch=[args.batch_size, args.max_history], seconds=round(time.perf_counter() - started, 2))
    result.update(baseline_rss_mb=round(baseline), peak_rss_mb=round(peak_rss_mb()))
    result["above_baseline_mb"] = result["peak_rss_mb"] - result["baseline_rss_mb"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phase", choices=PHASES, default=None, help="run one phase (default: all, one process each)")
    parser.add_argument("--num-items", type=int, default=1_000_000)
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--max-history", type=int, default=50)
    parser.add_argument("--train-batch-size", type=int, default=32, help="sequences per training step")
    parser.add_argument("--serve-batch-size", type=int, default=256, help="histories per recommend call")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    if args.phase is not None:
        args.batch_size = args.train_batch_size if args.phase.startswith(("train", "model")) else args.serve_batch_size
        print(json.dumps(run_phase(args)))
        return
    results = []
    for phase in PHASES:
        command = [sys.executable, __file__, "--phase", phase] + [
            f"--{name.replace('_', '-')}={getattr(args, name)}"
            for name in ("num_items", "hidden_size", "max_history", "train_batch_size", "serve_batch_size", "k", "threads")
        ]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        results.append(json.loads(output.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    print("\n| phase | batch | peak RSS (MB) | above the import baseline (MB) | seconds |\n|---|---|---|---|---|")
    for r in results:
        print(f"| {r['phase']} | {r['batch'][0]} x {r['batch'][1]} | {r['peak_rss_mb']:,} | "
              f"{r['above_baseline_mb']:,} | {r['seconds']} |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
