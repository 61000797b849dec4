"""The main job: log -> data -> model -> ``Trainer`` -> metrics -> saved, Hub-ready folder.

``run_training(RunConfig(...))`` is what ``scripts/train.py`` and ``hf-recsys train`` call.
It runs unchanged under ``torchrun`` / ``accelerate launch``: the ``Trainer`` handles the
processes, evaluation gathers across them, and only the main process writes files.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict
from typing import Any, Optional

import torch
from transformers import Trainer, TrainingArguments, set_seed

from ..data.log import InteractionLog
from ..data.pipeline import DataConfig, PreparedData, data_config_dict, prepare_data
from ..hub import build_model_card, push_folder_to_hub, resolve_model_source, write_model_card
from ..models import MODEL_REGISTRY
from . import next_item  # noqa: F401  (registers the "next_item" task)
from .arguments import RunConfig  # noqa: F401  (re-exported: what run_training takes)
from .clock import TrainingClock
from .output_dir import CHECKPOINTS_DIR, remove_previous_model
from .tasks import TASKS
from .time_budget import apply_time_budget

logger = logging.getLogger(__name__)


def load_run_log(run: RunConfig) -> InteractionLog:
    if run.dataset == "synthetic":
        from ..data.synthetic import generate_synthetic_log

        return generate_synthetic_log(num_users=run.synthetic_users, num_items=run.synthetic_items, seed=run.seed)
    from ..data.readers import load_log

    return load_log(run.dataset, run.data_path)


def build_model(run: RunConfig, data: PreparedData) -> torch.nn.Module:
    """A fresh model of ``run.model`` sized from the processor, with item features installed."""
    if run.model not in MODEL_REGISTRY:
        raise ValueError(f"unknown model {run.model!r}; choose from {sorted(MODEL_REGISTRY)}")
    spec = MODEL_REGISTRY[run.model]
    config = spec.config_class.from_processor(data.processor, **run.model_overrides)
    model = spec.model_class(config)
    model.load_item_features(data.processor)
    return model


def checkpoints_dir(output_dir: str) -> str:
    """Where resumable ``checkpoint-N`` folders go: a subfolder, so the model folder's top level
    stays what gets published (the Hub upload skips it)."""
    return os.path.join(output_dir, CHECKPOINTS_DIR)


def resolve_checkpoint(run: RunConfig) -> Optional[str]:
    """``run.resume_from_checkpoint`` as a folder: ``"latest"`` is the newest
    ``output_dir/checkpoints/checkpoint-N``."""
    if not run.resume_from_checkpoint:
        return None
    if run.resume_from_checkpoint != "latest":
        if not os.path.isdir(run.resume_from_checkpoint):
            raise FileNotFoundError(f"--resume-from-checkpoint: no folder {run.resume_from_checkpoint}")
        return run.resume_from_checkpoint
    from transformers.trainer_utils import get_last_checkpoint

    folder = checkpoints_dir(run.output_dir)
    last = get_last_checkpoint(folder) if os.path.isdir(folder) else None
    if last is None:
        raise FileNotFoundError(f"--resume-from-checkpoint latest: no checkpoint-N folder in {folder}")
    return last


#: transformers renamed ``gradient_checkpointing`` to ``activation_checkpointing`` during 5.x (5.17
#: has only the old name, 5.25 both, the old one deprecated); setup.cfg admits all of 5.x
_CHECKPOINTING_ARGUMENT = (
    "activation_checkpointing"
    if "activation_checkpointing" in {f.name for f in dataclasses.fields(TrainingArguments)}
    else "gradient_checkpointing"
)


def trains_on_cpu(run: RunConfig) -> bool:
    """Whether ``Trainer`` is told to stay on the CPU: asked for (``--use-cpu``), or no CUDA GPU.

    Other accelerators (Apple MPS, XPU) are not chosen: bf16 on the CPU needs ``use_cpu``, and
    those backends are untested here."""
    return run.use_cpu or not torch.cuda.is_available()


def checkpoint_arguments(run: RunConfig, output_dir: str) -> dict[str, Any]:
    """The ``TrainingArguments`` fields of ``--save-steps`` / ``--resume-from-checkpoint``, for
    every training loop (run_training's and P5's)."""
    saving = run.save_steps > 0
    return dict(
        # Trainer writes only checkpoints there (the final folder is written by the run itself)
        output_dir=checkpoints_dir(output_dir) if saving or run.resume_from_checkpoint else output_dir,
        save_strategy="steps" if saving else "no",
        save_steps=run.save_steps if saving else 500,
        save_total_limit=run.save_total_limit,
    )


def _training_arguments(
    run: RunConfig, output_dir: str, train_size: int, label_names: Optional[list[str]] = None
) -> TrainingArguments:
    return TrainingArguments(
        **checkpoint_arguments(run, output_dir),
        per_device_train_batch_size=run.batch_size,
        per_device_eval_batch_size=run.eval_batch_size,
        learning_rate=run.learning_rate,
        weight_decay=run.weight_decay,
        warmup_steps=run.warmup_steps,
        num_train_epochs=run.epochs,
        max_steps=run.max_steps,
        eval_strategy="epoch" if run.eval_each_epoch and run.max_steps <= 0 else "no",
        **{_CHECKPOINTING_ARGUMENT: run.gradient_checkpointing},
        logging_steps=run.logging_steps,
        seed=run.seed,
        data_seed=run.seed,
        bf16=run.bf16,
        fp16=run.fp16,
        use_cpu=trains_on_cpu(run),
        remove_unused_columns=False,
        dataloader_num_workers=run.dataloader_workers,
        report_to="none",
        disable_tqdm=run.disable_tqdm,
        label_names=list(label_names or ["labels"]),
    )


def write_run_record(folder: str, metrics: dict[str, Any], run: RunConfig, data_config: DataConfig) -> None:
    """``eval_results.json`` (the metrics) and ``run_config.json`` (what the run was told, without
    the Hub token; ``p5_evaluate.py`` and ``--init-from`` read it back) into ``folder``."""
    with open(os.path.join(folder, "eval_results.json"), "w") as f:
        json.dump(metrics, f, indent=2, sort_keys=True)
    with open(os.path.join(folder, "run_config.json"), "w") as f:
        json.dump({"run": asdict(run) | {"hub_token": None}, "data": data_config_dict(data_config)}, f, indent=2)


def budget_warmup_fraction(run: RunConfig, default: float) -> float:
    """Warmup of a time-budgeted run as a share of the budget: ``run.warmup_steps`` when it is
    a ratio (< 1), else ``default``; a step count cannot be turned into a share of a clock."""
    if not run.warmup_steps:
        return default
    if run.warmup_steps >= 1:
        raise ValueError(f"with a time budget, warmup_steps must be a share of the budget (< 1), "
                         f"got {run.warmup_steps}")
    return float(run.warmup_steps)


def init_source_name(run: RunConfig) -> Optional[str]:
    """``--init-from`` as the model card names it: ``ORG/NAME@REVISION`` when a revision was given."""
    if not run.init_from:
        return None
    return f"{run.init_from}@{run.init_revision}" if run.init_revision else run.init_from


def card_training_summary(run: RunConfig, steps: int, resumed_from: Optional[str] = None) -> dict[str, Any]:
    """The model card's "Training" lines every run shares (None values are left out)."""
    return {
        "resumed from": os.path.basename(resumed_from) if resumed_from else None,
        "epochs": run.epochs if run.max_steps <= 0 and not run.time_budget_minutes else None,
        "time budget (minutes)": run.time_budget_minutes,
        "steps": steps,
        "batch size (per device)": run.batch_size,
        "learning rate": run.learning_rate,
        "precision": "bf16" if run.bf16 else "fp16" if run.fp16 else "fp32",
        "seed": run.seed,
    }


def _save_atomically(output_dir: str, writers: list) -> None:
    """Write every artifact into a temporary folder beside ``output_dir``, then move each file
    into place with an atomic rename, so an interrupted save never leaves a half-written file."""
    os.makedirs(output_dir, exist_ok=True)
    staging = tempfile.mkdtemp(dir=output_dir, prefix=".saving-")
    try:
        for write in writers:
            write(staging)
        remove_previous_model(output_dir, keep=os.listdir(staging))  # the folder holds one model
        for name in os.listdir(staging):
            source = os.path.join(staging, name)
            if os.path.isfile(source):
                os.chmod(source, 0o644)  # mkstemp files are private by default
            os.replace(source, os.path.join(output_dir, name))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def run_training(run: RunConfig) -> dict[str, float]:
    """Train, evaluate on the held-out test split next to the baseline, save, optionally push.

    Returns the metrics written to ``output_dir/eval_results.json``.
    """
    if run.time_budget_minutes and run.resume_from_checkpoint:
        # the schedule is a point on this process's clock: a resumed run cannot continue it
        raise ValueError("--time-budget-minutes cannot be combined with --resume-from-checkpoint; resume "
                         "with --max-steps or --epochs instead")
    if run.model in MODEL_REGISTRY and MODEL_REGISTRY[run.model].task == "seq2seq":
        from ..p5.training import run_p5_training  # text-to-text models have their own loop

        return run_p5_training(run)
    resume_from = resolve_checkpoint(run)  # a missing checkpoint fails before the data is prepared
    set_seed(run.seed)
    started = time.perf_counter()
    log = load_run_log(run)
    data_config = DataConfig(
        max_history=run.max_history,
        implicit_threshold=run.implicit_threshold,
        user_core=run.user_core,
        item_core=run.item_core,
        split=run.split,
        train_negatives=run.train_negatives,
        eval_negatives=run.eval_negatives,
        seed=run.seed,
    )
    spec = MODEL_REGISTRY[run.model] if run.model in MODEL_REGISTRY else None
    finetune = None
    if run.init_from:
        from .finetune import prepare_finetuning

        if spec is None:
            raise ValueError(f"unknown model {run.model!r}; choose from {sorted(MODEL_REGISTRY)}")
        source = resolve_model_source(run.init_from, "--init-from", run.init_revision)
        finetune = prepare_finetuning(log, data_config, spec, source, run.unknown_items, run.model_overrides)
        data, model, processor_to_save = finetune.data, finetune.model, finetune.processor
    else:
        data = prepare_data(log, data_config)
        model = build_model(run, data)
        spec, processor_to_save = MODEL_REGISTRY[run.model], data.processor
    prep_seconds = time.perf_counter() - started
    task = TASKS[spec.task](data, model)
    train_dataset = task.dataset("train")
    args = _training_arguments(run, run.output_dir, len(train_dataset), getattr(task, "label_names", None))
    collator = task.collator(args.device)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=task.dataset("valid"),
        data_collator=finetune.wrap_collator(collator) if finetune else collator,
        compute_metrics=task.compute_metrics("valid"),
        preprocess_logits_for_metrics=task.preprocess_logits_for_metrics(),
        callbacks=[TrainingClock(), *(task.callbacks() if hasattr(task, "callbacks") else [])],
    )
    if trainer.is_world_process_zero():
        logger.info("%s | %s", log.summary(), model.__class__.__name__)
        if finetune:
            print(f"[hf_recsys] {finetune.summary}")
        print(f"[hf_recsys] {data.summary()}; {len(train_dataset):,} training samples; "
              f"{model.num_parameters():,} parameters")
    if run.time_budget_minutes:
        apply_time_budget(trainer, run.time_budget_minutes, budget_warmup_fraction(run, default=0.0))
    train_output = trainer.train(resume_from_checkpoint=resume_from)

    trainer.compute_metrics = task.compute_metrics("test")
    test_metrics = trainer.evaluate(task.dataset("test"), metric_key_prefix="eval")
    baseline = task.baseline_metrics("test")
    metrics = dict(test_metrics)
    metrics.update({f"eval_{task.baseline_name}_{k}": v for k, v in baseline.items()})
    metrics["eval_split"] = "test"
    # the time of every sitting of a resumed run; the throughput of this one
    metrics.update(TrainingClock.of(trainer).metrics())
    metrics["train_steps"] = train_output.global_step
    metrics["train_epochs"] = trainer.state.epoch
    metrics["data_prep_s"] = prep_seconds

    if trainer.is_world_process_zero():
        held_out = {k[len("eval_"):]: v for k, v in test_metrics.items() if _is_quality_metric(k)}
        card = build_model_card(
            model_name=os.path.basename(os.path.abspath(run.output_dir)),
            model_type=spec.name,
            description=spec.description,
            task=spec.task,
            dataset_name=log.name,
            data_summary=data.describe(),
            metrics=held_out,
            baseline_metrics=baseline,
            baseline_name=task.baseline_name,
            repo_id=run.hub_model_id,
            example_items=[i for i in processor_to_save.item_vocab.tokens[:3]],
            training_summary={
                **card_training_summary(run, train_output.global_step, resume_from),
                **({"initialised from": init_source_name(run), "unknown IDs": run.unknown_items} if run.init_from else {}),
                "training samples/s": round(metrics["train_samples_per_second"], 1),
            },
        )

        _save_atomically(
            run.output_dir,
            [
                lambda folder: trainer.model.save_pretrained(folder),
                processor_to_save.save_pretrained,
                lambda folder: write_model_card(card, folder),
                lambda folder: write_run_record(folder, metrics, run, data.config),
            ],
        )
        _print_summary(spec.name, task, test_metrics, baseline, metrics)
        if run.push_to_hub:
            if not run.hub_model_id:
                raise ValueError("--push-to-hub needs --hub-model-id ORG/NAME")
            url = push_folder_to_hub(
                run.output_dir, run.hub_model_id, token=run.hub_token, private=run.hub_private, revision=run.hub_revision
            )
            print(f"[hf_recsys] pushed to {url}")
    trainer.accelerator.wait_for_everyone()
    return metrics


def _is_quality_metric(key: str) -> bool:
    return key.startswith("eval_") and not any(
        s in key for s in ("runtime", "per_second", "loss", "epoch", "_split")
    ) or key == "eval_logloss"


def _print_summary(model_name: str, task, test_metrics: dict, baseline: dict, metrics: dict) -> None:
    print(f"\n[hf_recsys] held-out test metrics ({model_name} vs {task.baseline_name}):")
    for key, value in baseline.items():
        ours = test_metrics.get(f"eval_{key}")
        if ours is not None:
            print(f"  {key:>10}: {ours:.4f}   {task.baseline_name}: {value:.4f}")
    print(f"  training throughput: {metrics['train_samples_per_second']:.0f} samples/s\n")
