"""Benchmark suites: train and test a set of models, each in its own process, and collect
quality, speed, memory and FLOP efficiency in one list of results.

Every model runs through :func:`hf_recsys.training.run.run_training`, so the data, split,
sampled negatives, metrics and baselines are the package's own (full-ranking HR/NDCG for
next-item models, AUC/GAUC/logloss for CTR models, HR/NDCG@5/10 for P5). After training, the
worker process records its peak RSS, then builds a fresh model of the same configuration and
measures one training step on a real batch (:func:`hf_recsys.benchmarks.flops.step_efficiency`).

``scripts/benchmark.py`` is the command line; :func:`run_suite` is the entry point.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

from .reference import published_figures

#: the quality metrics each family reports (keys of ``run_training``'s metrics without ``eval_``)
QUALITY_METRICS = {
    "ctr": ("auc", "gauc", "logloss"),
    "next_item": ("hr@10", "ndcg@10", "hr@20", "ndcg@20"),
    "p5": ("hr@5", "ndcg@5", "hr@10", "ndcg@10"),
}
#: what one training / evaluation "sample" is for each family
UNITS = {
    "ctr": ("samples", "samples"),
    "next_item": ("sequences", "users"),
    "p5": ("prompts", "users"),
}


@dataclass
class ModelRun:
    """One model of a suite: what to train, on what, for how long."""

    name: str
    model: str
    dataset: str = "synthetic"
    data_path: Optional[str] = None
    epochs: float = 1.0
    max_steps: int = -1
    batch_size: int = 256
    learning_rate: float = 1e-3
    max_history: int = 50
    seed: int = 0
    bf16: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)
    synthetic_users: int = 2000
    synthetic_items: int = 1000
    #: least time spent timing training steps (and each matmul peak, a tenth of it per repeat)
    efficiency_seconds: float = 1.0

    @property
    def family(self) -> str:
        from ..training.tasks import task_of_model

        return task_of_model(self.model).results_family()


# ---------------------------------------------------------------------------------------------
# the suites


def quick_suite(data_path: Optional[str] = None, include_p5: bool = True) -> list[ModelRun]:
    """The embedded synthetic default (2,000 users, 1,000 items, 75k interactions), a
    representative set, each trained briefly: one epoch for the CTR models (138k samples), ten
    for the next-item models (an epoch is one sequence per user; batch 64), 300 steps for a tiny P5."""
    runs = [
        ModelRun("sumpool", "sumpool", epochs=1),
        ModelRun("din", "din", epochs=1),
        ModelRun("dien", "dien", epochs=1),
        ModelRun("bst", "bst", epochs=1),
        ModelRun("deepfm", "deepfm", epochs=1, learning_rate=1e-2),
        # batch 64: an epoch of 2,000 sequences is then 32 steps, not 8
        ModelRun("gru4rec", "gru4rec", epochs=10, batch_size=64, learning_rate=3e-3),
        ModelRun("sasrec", "sasrec", epochs=10, batch_size=64, learning_rate=3e-3),
    ]
    if include_p5:  # a small T5 from scratch, 300 steps, 500 test users: a smoke test of the path
        runs.append(ModelRun("p5 (tiny)", "p5", max_steps=300, batch_size=64, learning_rate=2e-3, max_history=20,
                             overrides={"tasks": ["sequential"], "eval_users": 500, "eval_unseen_template": False}))
    return runs


def beauty_suite(data_path: Optional[str] = None, include_p5: bool = False) -> list[ModelRun]:
    """Next-item models on Amazon Beauty with the settings of the README's Beauty table
    (``scripts/compare_next_item.py --epochs 15 --learning-rate 3e-3``: batch 256, max length 50,
    full cross-entropy, default configs); P5 only with ``include_p5``."""
    path = data_path or default_beauty_path()
    runs = [ModelRun(name, name, dataset="beauty", data_path=path, epochs=15, learning_rate=3e-3)
            for name in ("sasrec", "gru4rec", "meanpool", "caser")]  # the headline model first
    if include_p5:  # the README's best bounded P5 run (sequential IDs from training data only)
        runs.append(ModelRun("p5", "p5", dataset="beauty", data_path=path, max_steps=3000, batch_size=64,
                             learning_rate=2e-3, max_history=20, bf16=True,
                             overrides={"item_indexing": "sequential", "tasks": ["sequential"], "vocab_size": 8000,
                                        "eval_users": 5000, "eval_unseen_template": False}))
    return runs


def default_beauty_path() -> str:
    """``../shared/data/beauty/user_sequence.txt`` next to the repository (the P5 format)."""
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "..", "..", "shared", "data", "beauty", "user_sequence.txt"))


SUITES: dict[str, Callable[..., list[ModelRun]]] = {"quick": quick_suite, "beauty": beauty_suite}
#: interactions per synthetic log of the scale suite (MovieLens-20M is about 20M)
SCALE_SIZES = (1_000_000, 10_000_000, 20_000_000)


# ---------------------------------------------------------------------------------------------
# machine


def machine_info(threads: Optional[int] = None) -> dict[str, Any]:
    """CPU model, cores, memory, load, library versions and the torch thread count."""
    import torch
    import transformers

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    memory_gb = None
    try:
        with open("/proc/meminfo") as f:
            memory_gb = round(int(f.readline().split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gb": memory_gb,
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "threads": threads or torch.get_num_threads(),
        "platform": platform.platform(),
    }


def git_commit() -> Optional[str]:
    try:
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


# ---------------------------------------------------------------------------------------------
# one model, in its own process


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _run_config(spec: ModelRun, output_dir: str):
    from ..training.arguments import Seq2SeqEvaluationArguments
    from ..training.run import RunConfig

    overrides = dict(spec.overrides)
    evaluation = {f.name: overrides.pop(f.name) for f in dataclasses.fields(Seq2SeqEvaluationArguments)
                  if f.name in overrides}
    return RunConfig(
        model=spec.model, dataset=spec.dataset, data_path=spec.data_path, output_dir=output_dir,
        epochs=spec.epochs, max_steps=spec.max_steps, batch_size=spec.batch_size,
        learning_rate=spec.learning_rate, seed=spec.seed, max_history=spec.max_history, bf16=spec.bf16,
        synthetic_users=spec.synthetic_users, synthetic_items=spec.synthetic_items,
        model_overrides=overrides, eval_each_epoch=False, disable_tqdm=True,
        logging_steps=10**6, **evaluation,
    )


def training_batch(run, batch_size: int, seed: int = 0) -> tuple[Any, dict[str, Any]]:
    """A fresh model of ``run``'s configuration and a real training batch for it, built the way
    ``run_training`` builds them (same data preparation, task, collator); rows drawn at random."""
    import numpy as np

    from ..models import MODEL_REGISTRY
    from ..training.run import load_run_log, run_data_config
    from ..training.tasks import task_of_model

    task = task_of_model(run.model).from_run(run, MODEL_REGISTRY[run.model], load_run_log(run), run_data_config(run))
    dataset, collate, model = task.dataset("train"), task.collator(), task.model
    rng = np.random.default_rng(seed)
    rows = rng.permutation(len(dataset))[:batch_size]
    features = dataset.select(np.sort(rows)).to_list()
    return model, collate(features)


def run_model(spec: ModelRun, output_dir: str, measure_efficiency: bool = True) -> dict[str, Any]:
    """Train and test one model in this process; returns its row of the results."""
    import torch

    from ..training.run import run_training
    from ..training.tasks import task_of_model

    family = spec.family
    run = _run_config(spec, output_dir)
    started = time.perf_counter()
    metrics = run_training(run)
    wall = time.perf_counter() - started
    result: dict[str, Any] = {
        "name": spec.name,
        "model": spec.model,
        "family": family,
        "dataset": spec.dataset,
        "settings": {k: v for k, v in asdict(spec).items() if k not in ("name", "model", "dataset", "efficiency_seconds")},
        "quality": {k: metrics.get(f"eval_{k}") for k in QUALITY_METRICS[family]},
        "baseline": {k: metrics.get(f"eval_popularity_{k}") for k in QUALITY_METRICS[family]},
        "train_runtime_s": metrics.get("train_runtime_s"),
        "train_per_s": metrics.get("train_samples_per_second"),
        "train_unit": UNITS[family][0],
        "eval_unit": UNITS[family][1],
        "data_prep_s": metrics.get("data_prep_s"),
        "run_wall_s": wall,
        # measured before the efficiency step below, so it is the training run's own peak
        "peak_rss_mb": _peak_rss_mb(),
        "threads": torch.get_num_threads(),
    }
    result.update(task_of_model(spec.model).evaluation_speed(metrics))
    if measure_efficiency:
        try:
            model, batch = training_batch(run, spec.batch_size, spec.seed)
            result["parameters"] = model.num_parameters()
            result["step_batch_shapes"] = {k: list(v.shape) for k, v in batch.items() if hasattr(v, "shape")}
            result["efficiency"] = _json_ready(_step_efficiency(model, batch, spec.bf16, spec.efficiency_seconds))
        except Exception as error:  # a measurement problem must not lose the trained model's row
            result["efficiency_error"] = f"{type(error).__name__}: {error}"
    return result


def _step_efficiency(model, batch, bf16: bool, seconds: float) -> dict[str, Any]:
    import contextlib

    import torch

    from .flops import step_efficiency

    context = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    with context:
        return step_efficiency(model, batch, min_seconds=seconds, matmul_seconds=seconds / 10)


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


def _child_environment(threads: Optional[int]) -> dict[str, str]:
    env = dict(os.environ)
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("HF_HUB_OFFLINE", "1")
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


def run_model_in_subprocess(
    spec: ModelRun, output_dir: str, threads: Optional[int] = None, log_path: Optional[str] = None,
    measure_efficiency: bool = True,
) -> dict[str, Any]:
    """:func:`run_model` in a fresh Python process (peak RSS is then this model's alone); the
    process's output goes to ``log_path``. A failure gives a row with ``error``."""
    with tempfile.TemporaryDirectory() as scratch:
        spec_file, result_file = os.path.join(scratch, "spec.json"), os.path.join(scratch, "result.json")
        with open(spec_file, "w") as f:
            json.dump({"spec": asdict(spec), "output_dir": output_dir, "threads": threads,
                       "measure_efficiency": measure_efficiency}, f)
        command = [sys.executable, "-m", "hf_recsys.benchmarks.suite", "worker", spec_file, result_file]
        started, before = time.perf_counter(), os.times()
        with open(log_path or os.devnull, "w") as log:
            completed = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=_child_environment(threads))
        wall, after = time.perf_counter() - started, os.times()
        # CPU time of the model's process: with one thread, about its wall time on a quiet core
        cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
        if completed.returncode != 0 or not os.path.exists(result_file):
            return {"name": spec.name, "model": spec.model, "family": spec.family, "dataset": spec.dataset,
                    "error": f"worker exited with code {completed.returncode} (see {log_path})", "wall_s": wall,
                    "cpu_s": cpu}
        with open(result_file) as f:
            result = json.load(f)
    result["wall_s"], result["cpu_s"] = wall, cpu
    return result


def _worker(spec_file: str, result_file: str) -> None:
    with open(spec_file) as f:
        job = json.load(f)
    import torch

    if job.get("threads"):
        torch.set_num_threads(int(job["threads"]))
    from ..training.allocator import reuse_freed_memory

    reuse_freed_memory()  # what the training command line does
    result = run_model(ModelRun(**job["spec"]), job["output_dir"], job.get("measure_efficiency", True))
    with open(result_file, "w") as f:
        json.dump(_json_ready(result), f, indent=2)


# ---------------------------------------------------------------------------------------------
# data conversion at scale


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        pass
    return 0.0


def run_scale_size(size: int, workdir: Optional[str] = None, memory_limit_mb: float = 10_000) -> dict[str, Any]:
    """Write a synthetic ``ratings.dat`` of ``size`` rows in one process, measure its conversion
    in another (:func:`hf_recsys.benchmarks.data_scale.measure_conversion`), and stop the
    measurement if its resident memory passes ``memory_limit_mb`` (the row then says so)."""
    env = _child_environment(None)
    module = [sys.executable, "-m", "hf_recsys.benchmarks.data_scale"]
    with tempfile.TemporaryDirectory(dir=workdir) as folder:
        subprocess.run(module + ["write", str(size), folder], check=True, env=env, stdout=subprocess.DEVNULL)
        process = subprocess.Popen(module + ["measure", str(size), folder], env=env,
                                   stdout=subprocess.PIPE, text=True)
        watched_peak = 0.0
        while process.poll() is None:
            rss = _rss_mb(process.pid)
            watched_peak = max(watched_peak, rss)
            if rss > memory_limit_mb:
                process.kill()
                process.wait()
                return {"interactions": size, "error": f"stopped at {rss:.0f} MB resident (limit {memory_limit_mb:.0f} MB)"}
            time.sleep(0.2)
        output = process.stdout.read()
        if process.returncode != 0:
            return {"interactions": size, "error": f"measurement exited with code {process.returncode}"}
    return json.loads(output.strip().splitlines()[-1])


def run_scale(sizes=SCALE_SIZES, memory_limit_mb: float = 10_000, workdir: Optional[str] = None,
              echo: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Conversion rows for ``sizes`` (ascending). A size is skipped when the peak memory
    extrapolated linearly from the sizes already measured would pass ``memory_limit_mb``."""
    from .data_scale import linear_fit

    rows: list[dict[str, Any]] = []
    for size in sorted(sizes):
        measured = [r for r in rows if "error" not in r and "skipped" not in r]
        if measured:
            if len(measured) > 1:
                fit = linear_fit(measured, "peak_rss_mb")
            else:  # one size: what it added to the memory the process had before reading
                first = measured[0]
                baseline = first.get("baseline_rss_mb", 0.0)
                fit = {"intercept": baseline,
                       "per_million": (first["peak_rss_mb"] - baseline) / (first["interactions"] / 1e6)}
            predicted = fit["intercept"] + fit["per_million"] * size / 1e6
            if predicted > memory_limit_mb:
                rows.append({"interactions": size, "skipped": f"predicted peak {predicted:,.0f} MB > limit "
                             f"{memory_limit_mb:,.0f} MB"})
                echo(f"[scale] {size:,}: skipped ({rows[-1]['skipped']})")
                continue
        echo(f"[scale] {size:,} interactions ...")
        rows.append(run_scale_size(size, workdir, memory_limit_mb))
        row = rows[-1]
        if "error" in row:
            echo(f"[scale] {size:,}: {row['error']}")
        else:
            echo(f"[scale] {size:,}: {row['total_s']:.1f} s, peak RSS {row['peak_rss_mb']:,.0f} MB")
    return rows


# ---------------------------------------------------------------------------------------------
# a whole suite


def run_suite(
    suite: str,
    output_dir: str,
    models: Optional[list[str]] = None,
    data_path: Optional[str] = None,
    threads: Optional[int] = None,
    include_p5: Optional[bool] = None,
    runs: Optional[list[ModelRun]] = None,
    scale_sizes=SCALE_SIZES,
    memory_limit_mb: float = 10_000,
    measure_efficiency: bool = True,
    command: Optional[str] = None,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run ``suite`` (or the given ``runs``), write ``results.json``, ``results.md`` and
    ``results.png`` into ``output_dir``, and return the results."""
    from .report import write_report

    os.makedirs(output_dir, exist_ok=True)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "suite": suite,
        "command": command,
        "machine": machine_info(threads),
        "git_commit": git_commit(),
        "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "models": [],
        "scale": [],
        "published": [],
    }
    if suite == "scale":
        results["scale"] = run_scale(scale_sizes, memory_limit_mb, echo=echo)
    else:
        if runs is None:
            options = {} if include_p5 is None else {"include_p5": include_p5}
            runs = SUITES[suite](data_path, **options)
        if models:
            unknown = set(models) - {r.model for r in runs} - {r.name for r in runs}
            if unknown:
                raise ValueError(f"models {sorted(unknown)} are not in the {suite} suite: "
                                 f"{[r.model for r in runs]}")
            runs = [r for r in runs if r.model in models or r.name in models]
        results["published"] = published_figures(runs[0].dataset) if runs else []
        os.makedirs(os.path.join(output_dir, "logs"), exist_ok=True)
        for spec in runs:
            slug = spec.name.replace(" ", "-").replace("(", "").replace(")", "")
            echo(f"[benchmark] {spec.name} ({spec.dataset}) ...")
            row = run_model_in_subprocess(
                spec, os.path.join(output_dir, "models", slug), threads,
                log_path=os.path.join(output_dir, "logs", f"{slug}.log"), measure_efficiency=measure_efficiency,
            )
            results["models"].append(row)
            echo(f"[benchmark] {_summary_line(row)}")
            results["wall_s"] = time.perf_counter() - started
            write_report(results, output_dir, echo=lambda _: None)  # partial results survive a crash
    results["wall_s"] = time.perf_counter() - started
    results["cpu_s"] = sum(r.get("cpu_s", 0.0) for r in results["models"]) or None
    results["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    write_report(results, output_dir, echo=echo)
    return results


def _summary_line(row: dict[str, Any]) -> str:
    if "error" in row:
        return f"{row['name']}: FAILED: {row['error']}"
    quality = ", ".join(f"{k} {v:.4f}" for k, v in row["quality"].items() if v is not None)
    text = (f"{row['name']}: {quality}; train {row['train_per_s']:,.0f} {row['train_unit']}/s, "
            f"peak RSS {row['peak_rss_mb']:,.0f} MB, {row['wall_s']:.0f} s")
    efficiency = row.get("efficiency")
    if efficiency:
        text += f", {efficiency['achieved_gflops']:.1f} GFLOP/s"
    return text


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "worker":
        _worker(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit("usage: python -m hf_recsys.benchmarks.suite worker SPEC.json RESULT.json")
