"""Hyperparameter search on the validation split: ``Trainer.hyperparameter_search``, optuna backend.

A search space names `hf-recsys train` options and model config fields (``model.FIELD``)::

    learning_rate: {low: 1.0e-4, high: 1.0e-2, log: true}   # a float range (log-uniform)
    epochs: {low: 1, high: 4, step: 1}                       # an int range (int bounds)
    model.dropout: [0.0, 0.1, 0.2]                           # a list: a categorical choice

Every trial trains a fresh model (seeded by ``--seed``) on the training split, is validated after
each epoch (or every ``--eval-steps``), and scores its best validation value of the run's metric
(``--metric-for-best-model``, default the task's: AUC for CTR, NDCG@10 for next-item). The test
split is never read. optuna's TPE sampler (seeded) proposes the trials and its median pruner stops
a trial whose validation curve falls below the median of the earlier ones at the same step. The
budget is a number of trials and/or minutes; a study kept in an SQLite file (``storage``)
continues where an interrupted search stopped.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from transformers import set_seed

from ..models import MODEL_REGISTRY
from .run import (
    COMMAND_LEAVES_OUT,
    RunConfig,
    best_metric_name,
    build_trainer,
    check_validation_options,
    load_run_log,
    run_data_config,
    training_arguments,
)
from .tasks import build_model, task_of_model

#: the run options a search may vary, by the ``TrainingArguments`` field each one is
TRAINING_OPTIONS = {
    "learning_rate": "learning_rate",
    "weight_decay": "weight_decay",
    "warmup_steps": "warmup_steps",
    "batch_size": "per_device_train_batch_size",
    "epochs": "num_train_epochs",
}
MODEL_PREFIX = "model."


class SearchSpaceError(ValueError):
    """A search space entry that cannot be searched; the message names the entry."""


@dataclass
class Dimension:
    """One searched value: a range (``low``/``high``, optionally ``log`` or an int ``step``) or ``choices``."""

    name: str
    low: Optional[float] = None
    high: Optional[float] = None
    log: bool = False
    step: Optional[float] = None
    choices: Optional[list] = None

    @property
    def is_model_field(self) -> bool:
        return self.name.startswith(MODEL_PREFIX)

    @property
    def field(self) -> str:
        """The model config field or the ``TrainingArguments`` field this dimension sets."""
        return self.name[len(MODEL_PREFIX):] if self.is_model_field else TRAINING_OPTIONS[self.name]

    def suggest(self, trial) -> Any:
        if self.choices is not None:
            return trial.suggest_categorical(self.name, self.choices)
        if isinstance(self.low, int) and isinstance(self.high, int) and not isinstance(self.step, float):
            return trial.suggest_int(self.name, self.low, self.high, step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.name, float(self.low), float(self.high), step=self.step, log=self.log)


def parse_space(space: dict[str, Any], source: str = "search.space") -> list[Dimension]:
    """``{name: spec}`` -> dimensions; an unknown option or a malformed range names ``source.name``."""
    if not isinstance(space, dict) or not space:
        raise SearchSpaceError(f"{source}: a search space maps option names to ranges or lists of choices")
    dimensions = []
    for name, spec in space.items():
        where = f"{source}.{name}"
        if not name.startswith(MODEL_PREFIX) and name not in TRAINING_OPTIONS:
            raise SearchSpaceError(f"{where}: not searchable; search {', '.join(TRAINING_OPTIONS)} or a model config "
                                   f"field as {MODEL_PREFIX}FIELD")
        if isinstance(spec, list):
            if not spec:
                raise SearchSpaceError(f"{where}: an empty list of choices")
            dimensions.append(Dimension(name, choices=spec))
            continue
        if not isinstance(spec, dict) or set(spec) - {"low", "high", "log", "step"} or not {"low", "high"} <= set(spec):
            raise SearchSpaceError(f"{where}: give a list of choices or {{low: A, high: B}} (optionally log: true, "
                                   f"step: S)")
        low, high = spec["low"], spec["high"]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)) or not low < high:
            raise SearchSpaceError(f"{where}: low must be a number below high, got low={low!r} high={high!r}")
        if spec.get("log") and low <= 0:
            raise SearchSpaceError(f"{where}: a log range needs low > 0, got {low!r}")
        dimensions.append(Dimension(name, low, high, bool(spec.get("log")), spec.get("step")))
    return dimensions


def check_space_values(dimensions: Sequence[Dimension], run: RunConfig, source: str = "search.space") -> None:
    """Refuse, before any trial, a searched value the run would refuse: each range's bounds and
    every choice, set into ``run`` (a training option) or through ``--set`` (a model field:
    unknown fields, wrong types and sizes the model cannot be built with). Raises
    :class:`SearchSpaceError` naming ``source.name``."""
    import dataclasses

    from .arguments import check_model_overrides

    for dimension in dimensions:
        values = dimension.choices if dimension.choices is not None else [dimension.low, dimension.high]
        for value in values:
            try:
                if dimension.is_model_field:
                    check_model_overrides(run.model, {**run.model_overrides, dimension.field: value})
                else:
                    dataclasses.replace(run, **{dimension.name: value})
            except (TypeError, ValueError) as error:
                raise SearchSpaceError(f"{source}.{dimension.name}: {value!r} cannot be trained: {error}") from None


@dataclass
class SearchResult:
    metric: str
    direction: str
    best_params: dict[str, Any]
    best_value: Optional[float]
    trials: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _model_overrides(run: RunConfig, dimensions: Sequence[Dimension], trial) -> dict[str, Any]:
    overrides = dict(run.model_overrides)
    for dimension in dimensions:
        if dimension.is_model_field:
            overrides[dimension.field] = dimension.suggest(trial)
    return overrides


def run_search(
    run: RunConfig,
    dimensions: Sequence[Dimension],
    n_trials: int,
    storage: str,
    timeout_minutes: Optional[float] = None,
    study_name: str = "hf-recsys",
) -> SearchResult:
    """Search ``dimensions`` for ``run`` (its other options fixed) on the validation split.

    ``storage``: the SQLite file keeping the study; a search given the same file continues it
    and runs ``n_trials`` minus the trials already finished there (a trial an interruption left
    running is marked failed and run again).
    """
    import optuna

    task_class = task_of_model(run.model)
    if not task_class.evaluates_in_trainer:
        raise ValueError(f"{run.model} is not validated during training by the Trainer, so it cannot be searched "
                         f"with hf-recsys tune; {task_class.validation_hint}")
    search_run = copy.deepcopy(run)
    search_run.load_best_model_at_end = False  # trials are scored on their best validation, not saved
    search_run.early_stopping_patience = 0
    task_class.check_run(search_run)
    check_validation_options(search_run, task_class)
    set_seed(run.seed)
    task = task_class.from_run(search_run, MODEL_REGISTRY[run.model], load_run_log(search_run), run_data_config(search_run))
    metric = best_metric_name(run, task_class)
    direction = "minimize" if metric in ("logloss", "loss") else "maximize"
    better = min if direction == "minimize" else max
    trial_best: dict[str, float] = {}

    def model_init(trial):
        trial_best.clear()
        trial_run = copy.copy(search_run)
        if trial is not None:
            trial_run.model_overrides = _model_overrides(search_run, dimensions, trial)
        # the random numbers `hf-recsys train` draws: the model's from the seed, then the batches'
        # from the seed again (Trainer seeds after the model is built there), so that a trial
        # trains the model `train` trains with the same values
        set_seed(run.seed)
        model = build_model(trial_run, task.data)
        set_seed(run.seed)
        return model

    def hp_space(trial) -> dict[str, Any]:
        """The ``TrainingArguments`` values of ``trial`` (``model_init`` drew its model fields)."""
        return {d.field: d.suggest(trial) for d in dimensions if not d.is_model_field}

    def compute_objective(metrics: dict[str, float]) -> float:
        value = metrics[f"eval_{metric}"]
        trial_best["value"] = better(trial_best.get("value", value), value)
        return trial_best["value"]

    args = training_arguments(search_run, task)
    args.output_dir = os.path.join(run.output_dir, "trials")
    args.save_strategy = "no"
    if args.eval_strategy == "no":
        raise ValueError("hf-recsys tune scores trials on the validation split: drop --no-eval-each-epoch, or give "
                         "--eval-steps N with --max-steps")
    trainer = build_trainer(search_run, task, model_init=model_init, args=args)
    os.makedirs(os.path.dirname(os.path.abspath(storage)), exist_ok=True)
    url = f"sqlite:///{os.path.abspath(storage)}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=study_name, storage=url, direction=direction, load_if_exists=True)
    check_same_search(study, run, dimensions, storage)
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        # left running by an interrupted search (one search runs at a time): failed, so it is run again
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
    finished_states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    done = sum(t.state in finished_states for t in study.trials)  # a failed trial is run again
    if n_trials - done > 0:
        trainer.hyperparameter_search(
            hp_space=hp_space, compute_objective=compute_objective, n_trials=n_trials - done, direction=direction,
            backend="optuna", timeout=timeout_minutes * 60 if timeout_minutes else None,
            sampler=optuna.samplers.TPESampler(seed=run.seed + done), pruner=optuna.pruners.MedianPruner(),
            storage=url, study_name=study_name, load_if_exists=True,
        )
    study = optuna.load_study(study_name=study_name, storage=url)
    trials = [{"number": t.number, "state": t.state.name, "params": t.params, "value": t.value} for t in study.trials]
    finished = [t for t in trials if t["state"] == "COMPLETE" and t["value"] is not None]
    best = better(finished, key=lambda t: t["value"]) if finished else None
    return SearchResult(
        metric=metric, direction=direction, best_params=dict(best["params"]) if best else {},
        best_value=best["value"] if best else None, trials=trials,
    )


def search_settings(run: RunConfig, dimensions: Sequence[Dimension]) -> dict[str, Any]:
    """What a search holds fixed: every option of ``run`` but the searched ones and those that do
    not change a trial (output folder, logging, Hub), as flat ``name: value`` JSON values."""
    searched = {d.field for d in dimensions if not d.is_model_field}
    searched_model = {d.field for d in dimensions if d.is_model_field}
    flat: dict[str, Any] = {}
    for section, values in run.to_dict().items():
        if section == "model_overrides":
            flat[section] = {k: v for k, v in values.items() if k not in searched_model}
            continue
        for name, value in values.items() if isinstance(values, dict) else [(section, values)]:
            if name not in searched and name not in COMMAND_LEAVES_OUT and name != "timings":
                flat[name] = value
    return json.loads(json.dumps(flat, default=str))


def check_same_search(study, run: RunConfig, dimensions: Sequence[Dimension], storage: str) -> None:
    """Continue a stored study only with the settings it was started with (its trials were scored
    under them); the first search of a study records them."""
    settings = search_settings(run, dimensions)
    stored = study.user_attrs.get("settings")
    if stored is None:
        study.set_user_attr("settings", settings)
        return
    differ = [name for name in sorted(set(stored) | set(settings)) if stored.get(name) != settings.get(name)]
    if differ:
        shown = "; ".join(f"{name} {stored.get(name)!r} there, {settings.get(name)!r} here" for name in differ[:3])
        raise ValueError(f"{storage} holds a search of other settings ({shown}): its trials would be mixed with "
                         f"these; give another --output-dir, or delete {storage} to start over")


def write_search(result: SearchResult, path: str, command: Sequence[str]) -> None:
    """The search's trials and best values as JSON, with the command that ran it."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"command": " ".join(command), **result.to_dict()}, f, indent=1)
