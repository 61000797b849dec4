"""Our CTR models next to DeepCTR-Torch's on the same samples: test AUC / GAUC / logloss,
training time and throughput, several seeds, one JSON file.

    python benchmarks/peers/ctr_peers.py --dataset ml-1m --data-path ../shared/data/ml-1m \
        --user-fraction 0.1 --models din dien deepfm --seeds 0 1 2 \
        --output benchmarks/results/ctr_peers/ml-1m-users0.1.json

The samples are prepared once (``prepare_data`` with ``--seed``, as ``hf-recsys train`` does)
and exported with ``export_ctr_samples.py``; every seed then re-initialises and re-shuffles
both libraries' models on those fixed samples. Ours trains through ``transformers.Trainer``
with the package's defaults (model config defaults, the training defaults of
:data:`TRAINING`), DeepCTR-Torch through ``run_deepctr.py`` in its own virtualenv
(``--peer-python``); both predict the same validation and test samples, and the metrics of
both come from ``hf_recsys.training.metrics``, beside the popularity baseline's on the same
samples (``"popularity"``). Each finished run is written to ``--output``
at once, so a long benchmark keeps what it measured.

``--checkpoint-dir`` makes every run resumable: ours saves ``Trainer`` checkpoints, the
peer's runner its own (see ``run_deepctr.py``), each in a folder per model, library and seed;
rerunning the same command continues an interrupted run where it was last saved.

``--set din.KEY=VALUE`` overrides one of our config fields and ``--lr-scheduler`` /
``--weight-decay`` / ``--epochs`` / ``--learning-rate`` our training options (ablations).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any, Optional

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_ctr_samples import add_data_arguments, export_ctr_samples, popularity_baseline, prepare_from_args  # noqa: E402

from hf_recsys.benchmarks.suite import git_commit, machine_info  # noqa: E402
from hf_recsys.data.pipeline import PreparedData  # noqa: E402
from hf_recsys.training.metrics import ctr_metrics  # noqa: E402

#: our model name -> DeepCTR-Torch's model of the same architecture
PEER_MODELS = {"din": "DIN", "dien": "DIEN", "deepfm": "DeepFM", "widedeep": "WDL", "afm": "AFM"}
#: training options shared by both libraries unless overridden
TRAINING = dict(epochs=2.0, batch_size=256, learning_rate=1e-3, weight_decay=0.0, eval_batch_size=1024)
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PEER_PYTHON = "/work/venvs/deepctr/bin/python"
#: optimizer steps (batches) between two saves of a resumable run, in either library
CHECKPOINT_STEPS = 1000


def model_training_defaults(model_name: str) -> dict[str, Any]:
    """The training options our model's config asks for (``training_defaults`` of its config
    class), e.g. the learning-rate schedule; empty when the config has none."""
    from hf_recsys.models import MODEL_REGISTRY

    defaults = getattr(MODEL_REGISTRY[model_name].config_class, "training_defaults", None)
    return dict(defaults() if callable(defaults) else (defaults or {}))


def train_ours(
    data: PreparedData,
    model_name: str,
    seed: int,
    overrides: Optional[dict[str, Any]] = None,
    training: Optional[dict[str, Any]] = None,
    eval_splits: tuple[str, ...] = ("valid", "test"),
    eval_each_epoch: bool = False,
    checkpoint_dir: Optional[str] = None,
) -> dict[str, Any]:
    """Train one of our CTR models on ``data`` as ``run_training`` does (same ``Trainer``,
    collator and metrics) and return its metrics on ``eval_splits`` plus timing. With
    ``checkpoint_dir``, checkpoints go there every ``CHECKPOINT_STEPS`` steps and training
    continues from the newest one found there."""
    from transformers import Trainer, TrainingArguments, set_seed
    from transformers.trainer_utils import get_last_checkpoint

    from hf_recsys.training.clock import TrainingClock
    from hf_recsys.training.run import RunConfig, build_model
    from hf_recsys.training.tasks import CTRTask

    options = {**TRAINING, "lr_scheduler_type": "linear", **model_training_defaults(model_name), **(training or {})}
    set_seed(seed)
    model = build_model(RunConfig(model=model_name, model_overrides=dict(overrides or {})), data)
    task = CTRTask(data, model)
    with tempfile.TemporaryDirectory() as scratch:
        folder = checkpoint_dir or scratch
        args = TrainingArguments(
            output_dir=folder,
            per_device_train_batch_size=int(options["batch_size"]),
            per_device_eval_batch_size=int(options["eval_batch_size"]),
            learning_rate=float(options["learning_rate"]),
            weight_decay=float(options["weight_decay"]),
            lr_scheduler_type=options["lr_scheduler_type"],
            num_train_epochs=float(options["epochs"]),
            eval_strategy="epoch" if eval_each_epoch else "no",
            save_strategy="steps" if checkpoint_dir else "no",
            save_steps=CHECKPOINT_STEPS,
            save_total_limit=1,
            logging_steps=10_000,
            seed=seed,
            data_seed=seed,
            use_cpu=True,
            remove_unused_columns=False,
            report_to="none",
            disable_tqdm=True,
            label_names=["labels"],
        )
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=task.dataset("train"),
            eval_dataset=task.dataset("valid"),
            data_collator=task.collator(args.device),
            compute_metrics=task.compute_metrics("valid"),
            callbacks=[TrainingClock()],
        )
        cpu_started = time.process_time()
        resume = get_last_checkpoint(folder) if checkpoint_dir and os.path.isdir(folder) else None
        output = trainer.train(resume_from_checkpoint=resume)
        cpu_seconds = time.process_time() - cpu_started
        clock = TrainingClock.of(trainer)
        timing = clock.metrics()
        # the steps of this process (a resumed run's earlier sittings ran in other processes)
        samples = (output.global_step - clock.first_step) * args.per_device_train_batch_size
        result: dict[str, Any] = {
            "train_seconds": timing["train_runtime_s"],
            "train_samples_per_second": timing["train_samples_per_second"],
            # CPU seconds of this process: a shared machine slows wall time, not this
            "train_cpu_seconds": cpu_seconds,
            "train_samples_per_cpu_second": samples / max(cpu_seconds, 1e-9),
            "training": options,
            "overrides": dict(overrides or {}),
        }
        if eval_each_epoch:
            result["valid_by_epoch"] = [
                {k: v for k, v in entry.items() if k in ("epoch", "eval_auc", "eval_gauc", "eval_logloss")}
                for entry in trainer.state.log_history
                if "eval_auc" in entry
            ]
        for split in eval_splits:
            samples = task.dataset(split)
            prediction = trainer.predict(samples)
            logits = np.asarray(prediction.predictions).reshape(-1)
            result[split] = ctr_metrics(np.asarray(samples["label"]), logits, np.asarray(samples["user_index"]))
    return result


def train_peer(
    export_dir: str, peer_model: str, seed: int, peer_python: str, options: dict[str, Any],
    log_path: Optional[str] = None, checkpoint_dir: Optional[str] = None,
) -> dict[str, Any]:
    """Run ``run_deepctr.py`` in the peer's virtualenv; metrics from its predictions. With
    ``checkpoint_dir`` the runner saves its progress there and continues from it."""
    with tempfile.TemporaryDirectory() as folder:
        command = [
            peer_python, os.path.join(HERE, "run_deepctr.py"), "--data", export_dir, "--model", peer_model,
            "--seed", str(seed), "--epochs", str(int(options["epochs"])), "--batch-size", str(options["batch_size"]),
            "--learning-rate", str(options["learning_rate"]), "--output", folder,
        ]
        if checkpoint_dir:
            command += ["--checkpoint-dir", checkpoint_dir, "--checkpoint-batches", str(CHECKPOINT_STEPS)]
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        with open(log_path or os.devnull, "a") as log:
            subprocess.run(command, check=True, env=env, stdout=log, stderr=subprocess.STDOUT)
        with open(os.path.join(folder, "run.json")) as f:
            run = json.load(f)
        result = {key: run[key] for key in ("train_seconds", "train_samples_per_second", "train_cpu_seconds",
                                             "train_samples_per_cpu_second") if key in run}
        result["peer"] = run["settings"]
        for split in ("valid", "test"):
            arrays = np.load(os.path.join(export_dir, f"{split}.npz"))
            probabilities = np.clip(np.load(os.path.join(folder, f"{split}_predictions.npy")).astype(np.float64), 1e-7, 1 - 1e-7)
            logits = np.log(probabilities) - np.log1p(-probabilities)
            result[split] = ctr_metrics(arrays["label"], logits, arrays["user_id"])
    return result


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """mean and std (over seeds) of every metric and of the timing."""
    out: dict[str, Any] = {}
    keys = [(split, metric) for split in ("valid", "test") if runs and split in runs[0] for metric in runs[0][split]]
    for split, metric in keys:
        values = np.array([run[split][metric] for run in runs])
        out[f"{split}_{metric}"] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0}
    for key in ("train_seconds", "train_samples_per_second", "train_cpu_seconds", "train_samples_per_cpu_second"):
        if not all(key in run for run in runs):
            continue
        values = np.array([run[key] for run in runs])
        out[key] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0}
    return out


def parse_overrides(pairs: list[str]) -> dict[str, dict[str, Any]]:
    """``MODEL.KEY=VALUE`` -> {model: {key: value}}."""
    out: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        if "=" not in pair or "." not in pair.split("=", 1)[0]:
            raise SystemExit(f"--set expects MODEL.KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        model, field = key.split(".", 1)
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parsed = value
        out.setdefault(model, {})[field] = parsed
    return out


def main(argv: Optional[list[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_arguments(parser)
    parser.add_argument("--models", nargs="+", default=["din", "dien", "deepfm"], choices=sorted(PEER_MODELS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="initialisation / shuffling seeds")
    parser.add_argument("--libraries", nargs="+", default=["ours", "deepctr"], choices=("ours", "deepctr"))
    parser.add_argument("--output", required=True, help="the JSON file to write")
    parser.add_argument("--export-dir", default=None, help="where the exported samples go (default: a temp folder)")
    parser.add_argument("--peer-python", default=DEFAULT_PEER_PYTHON, help="python of the DeepCTR-Torch virtualenv")
    parser.add_argument("--peer-log", default=None, help="append the peer's output to this file")
    parser.add_argument("--checkpoint-dir", default=None,
                        help="keep each run's checkpoints here (a folder per model, library and seed) and continue from them")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="MODEL.KEY=VALUE")
    parser.add_argument("--epochs", type=float, default=None)
    parser.add_argument("--learning-rate", type=float, default=None)
    parser.add_argument("--weight-decay", type=float, default=None)
    parser.add_argument("--lr-scheduler", default=None, help="our lr_scheduler_type (default: the model's)")
    args = parser.parse_args(argv)
    if args.dataset != "synthetic" and not args.data_path:
        parser.error(f"--dataset {args.dataset} needs --data-path")
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    overrides = parse_overrides(args.overrides)
    training = {k: v for k, v in dict(
        epochs=args.epochs, learning_rate=args.learning_rate, weight_decay=args.weight_decay,
        lr_scheduler_type=args.lr_scheduler,
    ).items() if v is not None}

    started = time.perf_counter()
    export_dir = args.export_dir or tempfile.mkdtemp(prefix="ctr_peers_")
    exported = os.path.exists(os.path.join(export_dir, "meta.json"))
    # the peer reads only the export: an existing one spares preparing the log again
    data = prepare_from_args(args) if "ours" in args.libraries or not exported else None
    if not exported:
        export_ctr_samples(data, export_dir, args.max_history, {"user_fraction": args.user_fraction})
    with open(os.path.join(export_dir, "meta.json")) as f:
        meta = json.load(f)
    print(f"[ctr_peers] {meta['dataset']}: samples {meta['samples']} ({time.perf_counter() - started:.0f}s)", flush=True)

    report: dict[str, Any] = {
        "command": "python " + " ".join([os.path.relpath(__file__)] + list(argv if argv is not None else sys.argv[1:])),
        "commit": git_commit(),
        "machine": machine_info(),
        "dataset": meta["dataset"],
        "user_fraction": args.user_fraction,
        "samples": meta["samples"],
        "data_config": meta["data_config"],
        "seeds": args.seeds,
        "popularity": popularity_baseline(export_dir),
        "results": {},
    }

    def write() -> None:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w") as f:
            json.dump(report, f, indent=2)

    for model in args.models:
        for library in args.libraries:
            key = f"{model}/{library}"
            runs = []
            for seed in args.seeds:
                checkpoints = os.path.join(args.checkpoint_dir, f"{model}-{library}-s{seed}") if args.checkpoint_dir else None
                if library == "ours":
                    run = train_ours(data, model, seed, overrides.get(model), training, checkpoint_dir=checkpoints)
                else:
                    options = {**TRAINING, **{k: v for k, v in training.items() if k in ("epochs", "learning_rate")}}
                    run = train_peer(export_dir, PEER_MODELS[model], seed, args.peer_python, options, args.peer_log,
                                     checkpoints)
                run["seed"] = seed
                runs.append(run)
                print(f"[ctr_peers] {key} seed {seed}: test auc {run['test']['auc']:.4f} logloss "
                      f"{run['test']['logloss']:.4f} | valid auc {run['valid']['auc']:.4f} | "
                      f"{run['train_seconds']:.0f}s, {run['train_samples_per_second']:.0f} samples/s", flush=True)
                report["results"][key] = {"runs": runs, "summary": summarise(runs)}
                write()
    report["total_seconds"] = time.perf_counter() - started
    write()
    for key, entry in report["results"].items():
        s = entry["summary"]
        print(f"{key:>18}: test auc {s['test_auc']['mean']:.4f} ± {s['test_auc']['std']:.4f}  logloss "
              f"{s['test_logloss']['mean']:.4f} ± {s['test_logloss']['std']:.4f}  "
              f"{s['train_samples_per_second']['mean']:.0f} samples/s")
    return report


if __name__ == "__main__":
    main()
