#!/usr/bin/env python
"""Popularity, mean pooling, GRU4Rec, Caser and SASRec on one dataset, one seed, one table.

Every model trains through the same path as ``scripts/train.py`` (``run_training``: the
``Trainer``, the ``"next_item"`` task, full-ranking leave-one-out evaluation on the test
split with the user's history masked, pessimistic ties) in its own process, so its peak RSS
is its own. Writes a Markdown table (HR@10, NDCG@10, training time, peak RSS) and a JSON file.

    python scripts/compare_next_item.py --dataset beauty \\
        --data-path /work/shared/data/beauty/user_sequence.txt --epochs 15 --learning-rate 3e-3

Per-model settings can be changed with ``--set MODEL:KEY=VALUE`` (config fields) and
``--epochs-for MODEL=N``.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

MODELS = ("meanpool", "gru4rec", "caser", "sasrec")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--dataset", default="beauty")
    parser.add_argument("--data-path", default="/work/shared/data/beauty/user_sequence.txt")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated; popularity always runs")
    parser.add_argument("--max-history", type=int, default=50)
    parser.add_argument("--epochs", type=float, default=20.0)
    parser.add_argument("--epochs-for", action="append", default=[], metavar="MODEL=N")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads per run (1 is faster on a busy machine)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="MODEL:KEY=VALUE")
    parser.add_argument("--eval-each-epoch", action="store_true", help="also evaluate on validation every epoch")
    parser.add_argument("--out", default=None, help="writes OUT.md and OUT.json (default: MODELS_DIR/DATASET)")
    parser.add_argument("--models-dir", default="outputs/compare-next-item", help="where the trained model folders go")
    parser.add_argument("--run-one", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--result-file", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def model_overrides(args: argparse.Namespace, model: str) -> dict:
    out = {}
    for item in args.overrides:
        name, assignment = item.split(":", 1)
        if name == model:
            key, value = assignment.split("=", 1)
            out[key] = _literal(value)
    return out


def model_epochs(args: argparse.Namespace, model: str) -> float:
    for item in args.epochs_for:
        name, value = item.split("=", 1)
        if name == model:
            return float(value)
    return args.epochs


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def run_one(args: argparse.Namespace) -> dict:
    """Train and test one model (or just the popularity baseline) in this process."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from hf_recsys.training.run import RunConfig, run_training

    if args.run_one == "popularity":
        from hf_recsys.data.pipeline import DataConfig, prepare_data
        from hf_recsys.models import MODEL_REGISTRY
        from hf_recsys.training.next_item import NextItemTask
        from hf_recsys.training.run import load_run_log

        log = load_run_log(RunConfig(dataset=args.dataset, data_path=args.data_path, seed=args.seed))
        data = prepare_data(log, DataConfig(max_history=args.max_history, seed=args.seed))
        model = MODEL_REGISTRY["meanpool"].model_class(MODEL_REGISTRY["meanpool"].config_class.from_processor(data.processor))
        start = time.perf_counter()
        metrics = NextItemTask(data, model).baseline_metrics("test")
        return {"model": "popularity", "metrics": {f"eval_{k}": v for k, v in metrics.items()},
                "train_s": 0.0, "eval_s": time.perf_counter() - start, "epochs": 0, "peak_rss_mb": peak_rss_mb(),
                "data": data.describe()}
    folder = os.path.join(args.models_dir, f"{args.run_one}-{args.dataset}")
    run = RunConfig(
        model=args.run_one,
        dataset=args.dataset,
        data_path=args.data_path,
        output_dir=folder,
        epochs=model_epochs(args, args.run_one),
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        seed=args.seed,
        max_history=args.max_history,
        eval_each_epoch=args.eval_each_epoch,
        model_overrides=model_overrides(args, args.run_one),
        disable_tqdm=True,
        logging_steps=200,
    )
    metrics = run_training(run)
    return {"model": args.run_one, "metrics": metrics, "train_s": metrics["train_runtime_s"],
            "epochs": run.epochs, "peak_rss_mb": peak_rss_mb(), "overrides": run.model_overrides, "folder": folder}


def main(argv=None) -> list[dict]:
    args = parse_args(argv)
    args.out = args.out or os.path.join(args.models_dir, args.dataset)
    if args.run_one:
        result = run_one(args)
        with open(args.result_file, "w") as f:
            json.dump(result, f, indent=2, default=float)
        return [result]

    results = []
    for model in ["popularity"] + [m for m in args.models.split(",") if m]:
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            result_file = handle.name
        command = [sys.executable, os.path.abspath(__file__), *(argv if argv is not None else sys.argv[1:]),
                   "--run-one", model, "--result-file", result_file]
        started = time.perf_counter()
        print(f"[compare] {model} ...", flush=True)
        completed = subprocess.run(command)
        if completed.returncode != 0:
            print(f"[compare] {model} failed with exit code {completed.returncode}", flush=True)
            continue
        with open(result_file) as f:
            result = json.load(f)
        os.remove(result_file)
        result["wall_s"] = time.perf_counter() - started
        results.append(result)
        m = result["metrics"]
        print(f"[compare] {model}: HR@10 {m['eval_hr@10']:.4f}  NDCG@10 {m['eval_ndcg@10']:.4f}  "
              f"train {result['train_s']:.0f}s  peak RSS {result['peak_rss_mb']:.0f} MB", flush=True)
        write_outputs(args, results)
    return results


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def write_outputs(args: argparse.Namespace, results: list[dict]) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    lines = [
        f"Dataset `{args.dataset}`, leave-one-out, full ranking over all items with the user's history "
        f"masked, ties counted pessimistically; max length {args.max_history}, batch {args.batch_size}, "
        f"lr {args.learning_rate}, seed {args.seed}, threads {args.threads or 'default'}.",
        "",
        "| model | epochs | HR@10 | NDCG@10 | HR@20 | NDCG@20 | train time | peak RSS |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        m = r["metrics"]
        settings = ", ".join(f"{k}={v}" for k, v in (r.get("overrides") or {}).items())
        name = r["model"] + (f" ({settings})" if settings else "")
        epochs = "-" if r["model"] == "popularity" else f"{r['epochs']:g}"
        train = "-" if r["model"] == "popularity" else _duration(r["train_s"])
        lines.append(f"| {name} | {epochs} | {m['eval_hr@10']:.4f} | {m['eval_ndcg@10']:.4f} | "
                     f"{m['eval_hr@20']:.4f} | {m['eval_ndcg@20']:.4f} | {train} | {r['peak_rss_mb']:.0f} MB |")
    from hf_recsys.benchmarks.reference import published_figures

    published = published_figures(args.dataset, family="next_item")
    if published:
        lines += ["", "Published figures for the same protocol (HR@10 / NDCG@10):", ""]
        lines += [f"- {row['model']}: {row['hr@10']:.4f} / {row['ndcg@10']:.4f} ({row['source']})" for row in published]
    with open(args.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(args.out + ".json", "w") as f:
        json.dump({"args": {k: v for k, v in vars(args).items() if k not in ("run_one", "result_file")},
                   "results": results}, f, indent=2, default=float)


if __name__ == "__main__":
    main()
