"""The main job: log -> data -> model -> ``Trainer`` -> metrics -> saved, Hub-ready folder.

``run_training(RunConfig(...))`` is what ``scripts/train.py`` and ``hf-recsys train`` call.
It runs unchanged under ``torchrun`` / ``accelerate launch``: the ``Trainer`` handles the
processes, evaluation gathers across them, and only the main process writes files.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import logging
import os
import re
import shlex
import shutil
import tempfile
import time
from dataclasses import asdict
from typing import Any, Callable, Optional

import torch
from transformers import EarlyStoppingCallback, TrainingArguments, set_seed

from ..constants import EVAL_RESULTS_FILE, RUN_CONFIG_FILE
from ..data.log import DataFormatError, InteractionLog
from ..data.pipeline import DataConfig, data_config_dict
from ..data.processing import TEST
from ..files import write_text_atomically
from ..hub import HubPushError, build_model_card, public_text, push_folder_to_hub, write_model_card
from ..models import MODEL_REGISTRY
from . import next_item  # noqa: F401  (registers the "next_item" task)
from .arguments import HUB_OPTIONS, RunConfig  # noqa: F401  (RunConfig re-exported: what run_training takes)
from .clock import TrainingClock
from .output_dir import CHECKPOINTS_DIR, remove_previous_model
from .tasks import Task, build_model, task_of_model  # noqa: F401  (build_model: run_training's model builder)
from .time_budget import apply_time_budget

logger = logging.getLogger(__name__)

#: what Trainer writes into every checkpoint folder (transformers.trainer.TRAINER_STATE_NAME)
TRAINER_STATE_FILE = "trainer_state.json"


def load_run_log(run: RunConfig) -> InteractionLog:
    if run.dataset == "synthetic":
        from ..data.synthetic import generate_synthetic_log

        return generate_synthetic_log(num_users=run.synthetic_users, num_items=run.synthetic_items, seed=run.seed)
    from ..data.pipeline import read_data

    return read_data(run.dataset, run.data_path, run.data)


def run_data_config(run: RunConfig) -> DataConfig:
    """How ``run`` turns its log into training data (a copy of ``run.data``, seeded by the run)."""
    return dataclasses.replace(run.data, seed=run.seed, timings={})


def checkpoints_dir(output_dir: str) -> str:
    """Where resumable ``checkpoint-N`` folders go: a subfolder, so the model folder's top level
    stays what gets published (the Hub upload skips it)."""
    return os.path.join(output_dir, CHECKPOINTS_DIR)


class CheckpointMismatchError(ValueError):
    """A ``--resume-from-checkpoint`` whose model or data is not this run's."""


def resolve_checkpoint(run: RunConfig) -> Optional[str]:
    """``run.resume_from_checkpoint`` as a folder: ``"latest"`` is the newest
    ``output_dir/checkpoints/checkpoint-N``. A folder that is not a checkpoint (e.g. a finished
    run's output folder) or that holds another type of model is refused, naming what to pass."""
    if not run.resume_from_checkpoint:
        return None
    if run.resume_from_checkpoint == "latest":
        folder = latest_checkpoint(run.output_dir)
        if folder is None:
            raise FileNotFoundError(f"--resume-from-checkpoint latest: no checkpoint-N folder in "
                                    f"{checkpoints_dir(run.output_dir)}")
        return _of_this_model(folder, run)
    folder = run.resume_from_checkpoint
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"--resume-from-checkpoint: no folder {folder}")
    if not os.path.isfile(os.path.join(folder, TRAINER_STATE_FILE)):
        newest = latest_checkpoint(folder)
        hint = (f"; its newest checkpoint is {newest} (or pass --output-dir {folder} --resume-from-checkpoint "
                f"latest)" if newest else "; a checkpoint is a checkpoints/checkpoint-N folder written by --save-steps")
        raise FileNotFoundError(f"--resume-from-checkpoint {folder}: not a checkpoint (it has no "
                                f"{TRAINER_STATE_FILE}){hint}")
    return _of_this_model(folder, run)


def _of_this_model(folder: str, run: RunConfig) -> str:
    """``folder``, unless it is a checkpoint of another model type than ``run.model``."""
    model_type = _saved_config(folder).get("model_type")
    expected = MODEL_REGISTRY[run.model].config_class.model_type
    if model_type and model_type != expected:
        raise CheckpointMismatchError(f"--resume-from-checkpoint {folder}: a checkpoint of a {model_type!r} model, "
                                      f"not of --model {run.model}")
    return folder


#: config.json keys that say how a model was saved or is run, not what it is (P5's T5 turns
#: ``use_cache`` off while training)
_NOT_THE_MODEL = {"transformers_version", "architectures", "auto_map", "dtype", "torch_dtype", "_name_or_path",
                  "use_cache"}


def check_resumable(checkpoint: str, model: torch.nn.Module) -> None:
    """Refuse to resume ``checkpoint`` into ``model`` when its config differs (a ``--set`` or a
    data size that changed) or its vocabularies are those of other data: the weights would not
    fit, or every index would mean another ID. Raises :class:`CheckpointMismatchError`."""
    # config.json holds only the fields that differ from the defaults: compare whole configs
    saved = json.loads(type(model.config).from_pretrained(checkpoint).to_json_string(use_diff=False))
    current = json.loads(model.config.to_json_string(use_diff=False))
    advice = "resume with the data and options it was trained with, or start a new run from its weights with --init-from"
    if saved.get("processor_fingerprint") != current.get("processor_fingerprint"):
        before, now = saved.get("processor_fingerprint") or {}, current.get("processor_fingerprint") or {}
        # items and users first: the vocabularies a user most likely changed
        differ = sorted((name for name in set(before) | set(now) if before.get(name) != now.get(name)),
                        key=lambda name: (name != "items", name != "users", name))
        raise CheckpointMismatchError(f"--resume-from-checkpoint {checkpoint}: it was trained on other data (its "
                                      f"{' and '.join(differ[:2]) or 'ID'} vocabularies differ from this log's); {advice}")
    for key in sorted(set(saved) & set(current) - _NOT_THE_MODEL):
        if saved[key] != current[key]:
            raise CheckpointMismatchError(f"--resume-from-checkpoint {checkpoint}: its model has {key}={saved[key]!r}, "
                                          f"this run's {key}={current[key]!r}; {advice}")


def warn_if_other_world_size(checkpoint: str, batch_size: int) -> None:
    """Warn when ``checkpoint`` was written by another number of processes than this run has
    (Trainer saves one RNG state per process): the global batch, and so every batch from here
    on, differs from the one the interrupted run would have trained on."""
    ranks = len(glob.glob(os.path.join(checkpoint, "rng_state_*.pth")))
    written = ranks or (1 if os.path.isfile(os.path.join(checkpoint, "rng_state.pth")) else None)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if written and written != world and int(os.environ.get("RANK", "0")) == 0:
        logger.warning(
            "--resume-from-checkpoint %s was written by %d process%s and this run has %d: it goes on with a global "
            "batch of %s instead of %s, so it is not an exact continuation; launch it with %d process%s for one",
            checkpoint, written, "es" if written > 1 else "", world, f"{batch_size * world:,}",
            f"{batch_size * written:,}", written, "es" if written > 1 else "")


#: options a resumed run must share with the run that wrote the checkpoint (its optimizer,
#: schedule and batches continue): the ``TrainingArguments`` field and its flag
RESUME_KEEPS = {"learning_rate": "--learning-rate", "per_device_train_batch_size": "--batch-size",
                "gradient_accumulation_steps": "--gradient-accumulation-steps", "weight_decay": "--weight-decay",
                "warmup_steps": "--warmup-steps", "lr_scheduler_type": "--lr-scheduler-type", "seed": "--seed"}


def check_same_training(checkpoint: str, args: TrainingArguments) -> None:
    """Refuse to resume ``checkpoint`` with other optimizer, schedule or batch options than the
    run that wrote it (``Trainer`` restores its optimizer and scheduler states, so such a flag
    would do nothing but be recorded on the card and in the command); warn when the length
    (``--max-steps`` / ``--epochs``) changed: the schedule is then refitted to the new length.
    ``args``: this run's. Reads the checkpoint's ``training_args.bin``; a checkpoint without a
    readable one is not checked."""
    path = os.path.join(checkpoint, "training_args.bin")
    if not os.path.isfile(path):
        return
    try:
        saved = torch.load(path, weights_only=False)
    except Exception:  # noqa: BLE001  (an unreadable record is not checked, as a missing one)
        return

    def plain(value: Any) -> Any:
        return getattr(value, "value", value)  # an enum (lr_scheduler_type)

    for name, flag in RESUME_KEEPS.items():
        ours, theirs = plain(getattr(args, name, None)), plain(getattr(saved, name, None))
        if theirs is not None and ours != theirs:
            raise CheckpointMismatchError(
                f"{flag} {ours}: the run that wrote {checkpoint} had {theirs}, and resuming continues its optimizer, "
                f"schedule and batches; give its value (or start again with --overwrite-output-dir)")
    if (args.max_steps, args.num_train_epochs) != (saved.max_steps, saved.num_train_epochs) and args.process_index == 0:
        def length(a: Any) -> str:
            return f"{a.max_steps} steps" if a.max_steps > 0 else f"{a.num_train_epochs:g} epochs"

        logger.warning("--resume-from-checkpoint %s: the run that wrote it trained %s and this one trains %s: the "
                       "learning-rate schedule is refitted to the new length (not an exact continuation)",
                       checkpoint, length(saved), length(args))


def _saved_config(folder: str) -> dict[str, Any]:
    path = os.path.join(folder, "config.json")
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def latest_checkpoint(output_dir: str) -> Optional[str]:
    """The newest complete ``output_dir/checkpoints/checkpoint-N`` (what ``--resume-from-checkpoint
    latest`` resumes from), or None. ``Trainer`` writes a checkpoint's trainer state last: a
    folder without it was cut short (the run was killed while saving) and is passed over, with a
    warning naming it."""
    folder = checkpoints_dir(output_dir)
    if not os.path.isdir(folder):
        return None
    found = sorted((int(name.rpartition("-")[2]), name) for name in os.listdir(folder)
                   if re.fullmatch(r"checkpoint-\d+", name) and os.path.isdir(os.path.join(folder, name)))
    for _, name in reversed(found):
        path = os.path.join(folder, name)
        if os.path.isfile(os.path.join(path, TRAINER_STATE_FILE)):
            return path
        logger.warning("%s is incomplete (no %s: the run stopped while saving it); passed over for an older "
                       "checkpoint", path, TRAINER_STATE_FILE)
    return None


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
    """The ``TrainingArguments`` fields of ``--save-steps`` / ``--resume-from-checkpoint``."""
    saving = run.save_steps > 0
    return dict(
        # Trainer writes only checkpoints there (the final folder is written by the run itself)
        output_dir=checkpoints_dir(output_dir) if saving or run.resume_from_checkpoint else output_dir,
        save_strategy="steps" if saving else "no",
        save_steps=run.save_steps if saving else 500,
        save_total_limit=run.save_total_limit,
    )


def model_training_defaults(task: Task) -> dict[str, Any]:
    """The ``TrainingArguments`` values the model's config class is tuned for (``training_defaults``)."""
    return dict(getattr(task.model.config, "training_defaults", {}))


def training_arguments(run: RunConfig, task: Task) -> TrainingArguments:
    """Every run's ``TrainingArguments``, with the fields ``task`` sets its own way."""
    fields = dict(
        **checkpoint_arguments(run, run.output_dir),
        per_device_train_batch_size=run.batch_size,
        per_device_eval_batch_size=run.eval_batch_size,
        learning_rate=run.learning_rate,
        lr_scheduler_type=run.lr_scheduler_type or model_training_defaults(task).get("lr_scheduler_type", "linear"),
        weight_decay=run.weight_decay,
        warmup_steps=run.warmup_steps,
        num_train_epochs=run.epochs,
        max_steps=run.max_steps,
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
        label_names=list(task.label_names),
    )
    fields.update(validation_arguments(run, task))
    fields.update(task.training_arguments(run))
    return TrainingArguments(**fields)


def keeps_best_model(run: RunConfig) -> bool:
    """Whether the run ends with its best validation weights (``--load-best-model-at-end``, or
    early stopping, which implies it)."""
    return bool(run.load_best_model_at_end or run.early_stopping_patience)


def best_metric_name(run: RunConfig, task: Task | type[Task]) -> str:
    """``--metric-for-best-model``, or the task's main metric."""
    return run.metric_for_best_model or task.main_metric


def check_gradient_checkpointing(run: RunConfig) -> None:
    """Refuse ``--gradient-checkpointing`` for a model without layers to recompute (checked on
    a model built on the meta device: no memory, no data)."""
    if not run.gradient_checkpointing:
        return

    def supports(name: str) -> bool:
        spec = MODEL_REGISTRY[name]
        with torch.device("meta"):
            overrides = run.model_overrides if name == run.model else {}
            return bool(spec.model_class(spec.config_class(**overrides)).supports_gradient_checkpointing)

    if not supports(run.model):
        able = ", ".join(name for name in MODEL_REGISTRY if supports(name))
        raise ValueError(f"--gradient-checkpointing: {run.model} has no layers it recomputes in the backward pass "
                         f"(models that do: {able})")


def check_validation_options(run: RunConfig, task_class: type[Task]) -> None:
    """Refuse validation, best-model and early-stopping options the model's task cannot honour
    (before any data is read)."""
    if run.eval_steps and not task_class.evaluates_in_trainer:
        raise ValueError(f"--eval-steps: {run.model} is not validated during training by the Trainer; "
                         f"{task_class.validation_hint or 'drop the flag'}")
    if not keeps_best_model(run):
        return
    flag = "--early-stopping-patience" if run.early_stopping_patience else "--load-best-model-at-end"
    if not task_class.evaluates_in_trainer:
        raise ValueError(f"{flag}: {run.model} is not validated during training by the Trainer; "
                         f"{task_class.validation_hint or 'drop the flag'}")
    metric = best_metric_name(run, task_class)
    reported = task_class.validation_metrics_of(run)
    if metric not in reported:
        raise ValueError(f"--metric-for-best-model {metric}: {run.model} reports "
                         f"{', '.join(reported)} on the validation split (--eval-cutoffs sets the K)")


def early_stopping(run: RunConfig) -> list[EarlyStoppingCallback]:
    """``Trainer``'s early stopping for ``--early-stopping-patience`` (its counter is saved in
    the checkpoints, so a resumed run keeps counting)."""
    return [EarlyStoppingCallback(early_stopping_patience=run.early_stopping_patience)] if run.early_stopping_patience else []


def best_model_record(trainer, run: RunConfig) -> dict[str, Any]:
    """Which validation picked the final weights, for ``eval_results.json`` and the card."""
    state = trainer.state
    if not keeps_best_model(run) or state.best_metric is None:
        return {}
    step = getattr(state, "best_global_step", None)
    if step is None and state.best_model_checkpoint:
        step = int(state.best_model_checkpoint.rsplit("-", 1)[-1])
    return {
        "best_valid_metric": trainer.args.metric_for_best_model,
        "best_valid_value": state.best_metric,
        "best_step": step,
        "stopped_early": bool(run.early_stopping_patience) and state.global_step < state.max_steps,
    }


def validation_arguments(run: RunConfig, task: Task) -> dict[str, Any]:
    """When ``Trainer`` validates (after each epoch, or every ``--eval-steps``), and with
    ``--load-best-model-at-end`` / ``--early-stopping-patience`` a checkpoint at every validation
    into ``OUTPUT_DIR/checkpoints``, the best one kept and loaded at the end."""
    if not task.evaluates_in_trainer:
        return {"eval_strategy": "no"}
    if run.eval_steps:
        fields: dict[str, Any] = {"eval_strategy": "steps", "eval_steps": run.eval_steps}
    elif run.eval_each_epoch and run.max_steps <= 0:
        fields = {"eval_strategy": "epoch"}
    else:
        return {"eval_strategy": "no"}
    if keeps_best_model(run):
        metric = best_metric_name(run, task)
        fields.update(
            output_dir=checkpoints_dir(run.output_dir),
            save_strategy=fields["eval_strategy"],
            save_steps=run.save_steps or run.eval_steps or 500,
            load_best_model_at_end=True,
            metric_for_best_model=metric,
            greater_is_better=metric not in ("logloss", "loss"),
            # a resumed run continues the early-stopping count where the checkpoint left it
            restore_callback_states_from_checkpoint=bool(run.early_stopping_patience),
        )
    return fields


#: options of a run that do not change the model it trains: left out of its recorded command
COMMAND_LEAVES_OUT = ("output_dir", "overwrite_output_dir", "disable_tqdm", "logging_steps", "dataloader_workers",
                      "push_to_hub", *HUB_OPTIONS, "resume_from_checkpoint")


def launch_processes() -> tuple[int, int]:
    """(processes in all, processes per node) of this launch (``torchrun`` / ``accelerate launch``
    set ``WORLD_SIZE`` and ``LOCAL_WORLD_SIZE``); (1, 1) for a plain process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return world, int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))


def training_command(run: RunConfig) -> str:
    """The command that trains ``run``'s model: ``hf-recsys train`` (under ``torchrun`` with this
    launch's processes when there are several: ``--batch-size`` is per process), the model and
    every option whose value is not its default, one per line, local paths shortened to their
    last part (the card shows it)."""
    from ..dataclass_parser import DataclassArgumentParser

    world, local = launch_processes()
    nodes = f"--nnodes {world // local} " if world > local else ""
    program = f"torchrun {nodes}--nproc_per_node {local} -m hf_recsys.cli train" if world > 1 else "hf-recsys train"
    lines = [program, f"--model {run.model}"]  # named even at its default: the card is about it
    for token in DataclassArgumentParser(RunConfig).command_line(run, leave_out=(*COMMAND_LEAVES_OUT, "model")):
        token = shlex.quote(public_text(token))
        if token.startswith("--"):
            lines.append(token)
        else:
            lines[-1] += f" {token}"
    return " \\\n    ".join(lines)


def write_run_record(folder: str, metrics: dict[str, Any], run: RunConfig, data_config: DataConfig,
                     command: Optional[str] = None, card: Optional[dict[str, Any]] = None) -> None:
    """``eval_results.json`` (the metrics) and ``run_config.json`` into ``folder``, each written
    whole or not at all. ``run_config.json`` holds what the run was told (without the Hub token;
    ``p5_evaluate.py`` and ``--init-from`` read it back), its ``command`` and the ``card``'s data
    and training lines, so ``hf-recsys push`` rebuilds the card the run wrote."""
    write_text_atomically(os.path.join(folder, EVAL_RESULTS_FILE), json.dumps(metrics, indent=2, sort_keys=True))
    record = {"run": asdict(run) | {"hub_token": None}, "data": data_config_dict(data_config)}
    if command:
        record["command"] = command
    if card:
        record["card"] = card
    write_text_atomically(os.path.join(folder, RUN_CONFIG_FILE), json.dumps(record, indent=2, default=str))


def budget_warmup_fraction(run: RunConfig, default: float) -> float:
    """Warmup of a time-budgeted run as a share of the budget: ``run.warmup_steps`` when it is
    a ratio (< 1), else ``default``; a step count cannot be turned into a share of a clock."""
    if not run.warmup_steps:
        return default
    if run.warmup_steps >= 1:
        raise ValueError(f"with a time budget, warmup_steps must be a share of the budget (< 1), "
                         f"got {run.warmup_steps}")
    return float(run.warmup_steps)


def card_training_summary(run: RunConfig, steps: int, resumed_from: Optional[str] = None) -> dict[str, Any]:
    """The model card's "Training" lines every run shares (None values are left out)."""
    processes = launch_processes()[0]
    return {
        "recipe": run.recipe,
        "resumed from": os.path.basename(resumed_from) if resumed_from else None,
        "epochs": run.epochs if run.max_steps <= 0 and not run.time_budget_minutes else None,
        "time budget (minutes)": run.time_budget_minutes,
        "steps": steps,
        "batch size (per device)": run.batch_size,
        "processes (global batch)": f"{processes} ({run.batch_size * processes:,})" if processes > 1 else None,
        "learning rate": run.learning_rate,
        "precision": "bf16" if run.bf16 else "fp16" if run.fp16 else "fp32",
        "seed": run.seed,
    }


def best_model_summary(metrics: dict[str, Any], run: RunConfig) -> dict[str, Any]:
    """The card's line on the kept weights, when the run kept its best validation ones."""
    if "best_valid_metric" not in metrics:
        return {}
    name = metrics["best_valid_metric"]
    line = f"best validation {name} {metrics['best_valid_value']:.4f} at step {metrics['best_step']}"
    if run.early_stopping_patience:
        line += f" (early stopping, patience {run.early_stopping_patience}" + (
            ", stopped early)" if metrics["stopped_early"] else ")")
    return {"weights kept": line}


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


def build_trainer(run: RunConfig, task: Task, resume_from: Optional[str] = None,
                  model_init: Optional[Callable] = None, args: Optional[TrainingArguments] = None):
    """The ``Trainer`` of ``task``'s run: its datasets, collator, validation metrics and callbacks.
    ``model_init`` (a function of the trial) replaces the task's model, for ``hyperparameter_search``."""
    args = args or training_arguments(run, task)
    return task.trainer_class(
        model=None if model_init else task.model,
        model_init=model_init,
        args=args,
        train_dataset=task.dataset("train"),
        eval_dataset=task.dataset("valid") if task.evaluates_in_trainer else None,
        data_collator=task.training_collator(args.device),
        compute_metrics=task.compute_metrics("valid") if task.evaluates_in_trainer else None,
        preprocess_logits_for_metrics=task.preprocess_logits_for_metrics(),
        processing_class=task.processing_class(),
        callbacks=[TrainingClock(), *early_stopping(run), *task.callbacks(run, args, resume_from)],
    )


def check_enough_data(task: Task, run: RunConfig) -> None:
    """Refuse a log that, after the filters, gives no training sample or no test item: a
    ``DataFormatError`` naming the source, before any folder is written."""
    train_samples = len(task.dataset("train"))
    if train_samples and (task.data.sequences.split == TEST).any():
        return
    facts = task.data.describe()  # the counts the message gives, computed only to refuse
    source = run.data_path or run.dataset
    counts = f"{facts['interactions']:,} interactions of {facts['users']:,} users after the filters"
    if train_samples == 0:
        raise DataFormatError(f"{source}: no training samples in {counts}: a sample is an interaction that "
                              f"follows an earlier one of the same user", path=run.data_path)
    if facts["test_interactions"] == 0:
        need = ("leave-one-out holds out each user's last interaction for test and the one before for "
                "validation, so a user needs 3" if facts["split"] == "leave_one_out" else "the time cut left none")
        raise DataFormatError(f"{source}: no test interactions in {counts}: {need}", path=run.data_path)


def run_training(run: RunConfig) -> dict[str, float]:
    """Train, evaluate on the held-out test split next to the baseline, save, optionally push.

    One pipeline for every registered model: the model's :class:`~hf_recsys.training.tasks.Task`
    prepares its data and model, and says what the ``Trainer`` gets, how the test split is
    evaluated and what the saved folder and its card hold. Returns the metrics written to
    ``output_dir/eval_results.json``.
    """
    if run.time_budget_minutes and run.resume_from_checkpoint:
        # the schedule is a point on this process's clock: a resumed run cannot continue it
        raise ValueError("--time-budget-minutes cannot be combined with --resume-from-checkpoint; resume "
                         "with --max-steps or --epochs instead")
    task_class = task_of_model(run.model)
    spec = MODEL_REGISTRY[run.model]
    resume_from = resolve_checkpoint(run)  # a missing checkpoint fails before the data is prepared
    task_class.check_run(run)  # so does a bad option of the task
    check_validation_options(run, task_class)
    set_seed(run.seed)
    started = time.perf_counter()
    log = load_run_log(run)
    task = task_class.from_run(run, spec, log, run_data_config(run))
    model, data = task.model, task.data
    if resume_from:
        check_resumable(resume_from, model)
        warn_if_other_world_size(resume_from, run.batch_size)
    prep_seconds = time.perf_counter() - started
    check_enough_data(task, run)
    trainer = build_trainer(run, task, resume_from)
    if resume_from:
        check_same_training(resume_from, trainer.args)
    if trainer.is_world_process_zero():
        logger.info("%s | %s", log.summary(), model.__class__.__name__)
        print(task.describe(log))
    if run.time_budget_minutes:
        apply_time_budget(trainer, run.time_budget_minutes, budget_warmup_fraction(run, default=task.budget_warmup))
    train_output = trainer.train(resume_from_checkpoint=resume_from)

    evaluation = task.evaluate(trainer, run)
    metrics = dict(evaluation.metrics)
    metrics["eval_split"] = "test"
    # the time of every sitting of a resumed run; the throughput of this one
    metrics.update(TrainingClock.of(trainer).metrics())
    metrics["train_steps"] = train_output.global_step
    metrics["train_epochs"] = trainer.state.epoch
    metrics["data_prep_s"] = prep_seconds
    metrics.update(best_model_record(trainer, run))

    if trainer.is_world_process_zero():
        fields = task.card_fields(run, metrics)
        training_summary = {**card_training_summary(run, train_output.global_step, resume_from),
                            **best_model_summary(metrics, run), **fields["training"]}
        command = training_command(run)
        card = build_model_card(
            model_name=os.path.basename(os.path.abspath(run.output_dir)),
            model_type=spec.name,
            description=spec.description,
            task=fields["task"],
            dataset_name=log.name,
            data_summary=fields["data_summary"],
            metrics=evaluation.quality,
            baseline_metrics=evaluation.baseline,
            baseline_name=task.baseline_name,
            repo_id=run.hub_model_id,
            example_items=fields["example_items"],
            training_summary=training_summary,
            training_command=command,
            protocol=fields.get("protocol"),
        )
        card_record = {"data_summary": fields["data_summary"], "training_summary": training_summary,
                       **({"protocol": list(fields["protocol"])} if fields.get("protocol") else {}),
                       # a local --init-from folder is no Hub link, wherever the card is rebuilt
                       **({"base_model_on_hub": card.data.base_model is not None} if run.init_from else {})}
        _save_atomically(
            run.output_dir,
            [
                *task.writers(trainer),
                lambda folder: write_model_card(card, folder),
                lambda folder: write_run_record(folder, metrics, run, data.config, command, card_record),
            ],
        )
        task.print_summary(spec.name, evaluation, metrics)
        if run.push_to_hub:
            if not run.hub_model_id:
                raise ValueError("--push-to-hub needs --hub-model-id ORG/NAME")
            try:
                url = push_folder_to_hub(run.output_dir, run.hub_model_id, token=run.hub_token,
                                         private=run.hub_private, revision=run.hub_revision)
            except HubPushError as error:
                raise HubPushError(f"{error}; the model is saved in {run.output_dir}: push it with "
                                   f"`hf-recsys push {run.output_dir} --repo-id {run.hub_model_id}`") from error
            print(f"[hf_recsys] pushed to {url}")
    trainer.accelerator.wait_for_everyone()
    return metrics
