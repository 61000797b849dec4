"""A task ties a model family to everything a training run does with it.

``run_training`` (:mod:`hf_recsys.training.run`) is one pipeline for every model: it asks the
model's task (``MODEL_REGISTRY[name].task`` names it; :func:`get_task` finds it) to

1. check its own options before any data is read (:meth:`Task.check_run`);
2. prepare the data and build the model (:meth:`Task.from_run`);
3. give the ``Trainer`` its datasets, collator, metrics, callbacks, ``Trainer`` class and
   ``TrainingArguments`` changes (:meth:`Task.dataset`, :meth:`Task.collator`,
   :meth:`Task.compute_metrics`, :meth:`Task.callbacks`, :attr:`Task.trainer_class`,
   :meth:`Task.training_arguments`);
4. evaluate the trained model on the test split next to its baseline (:meth:`Task.evaluate`);
5. fill the model card and write the saved folder (:meth:`Task.card_fields`, :meth:`Task.writers`).

The defaults serve models built from a :class:`~hf_recsys.data.processor.RecsysProcessor` and
evaluated by ``Trainer.evaluate`` (CTR, next-item). Tasks register under a name with
:func:`register_task`: ``"ctr"`` here, ``"next_item"`` in :mod:`.next_item`, ``"seq2seq"`` (P5)
in :mod:`hf_recsys.p5.task`. A task of a higher subpackage registers itself when that module is
imported, and ``hf_recsys/__init__.py`` imports every such module, so the registry is complete
once ``hf_recsys`` is imported while ``training`` never imports them (no import cycle).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

import datasets
import numpy as np
import torch
from transformers import TrainerCallback

from ..data.log import InteractionLog
from ..data.pipeline import DataConfig, PreparedData, prepare_data
from ..models import MODEL_REGISTRY, ModelSpec
from ..models.feature_layers import FeatureCTRMixin
from ..models.modeling_utils import BehaviourCTRMixin
from .collators import CTRCollator
from .metrics import make_ctr_compute_metrics, popularity_ctr_metrics
from .trainer import RecsysTrainer

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from transformers import Trainer, TrainingArguments

    from .run import RunConfig


def build_model(run: "RunConfig", data: PreparedData) -> torch.nn.Module:
    """A fresh model of ``run.model`` sized from the processor, with item features installed."""
    if run.model not in MODEL_REGISTRY:
        raise ValueError(f"unknown model {run.model!r}; choose from {sorted(MODEL_REGISTRY)}")
    spec = MODEL_REGISTRY[run.model]
    config = spec.config_class.from_processor(data.processor, **run.model_overrides)
    model = spec.model_class(config)
    model.load_item_features(data.processor)
    warn_unread_features(model, data.processor, data.log.interactions.attrs.get("mapped_features", ()))
    return model


def side_features_read(model: torch.nn.Module, processor: Any) -> dict[str, list[str]]:
    """The user and item fields of ``processor`` that ``model`` embeds: every one for the
    field-embedding models (DeepFM, ...), the profile and one category field for the behaviour
    models (BST, DIN, DIEN, sum pooling), none for the next-item models."""
    config = model.config
    if isinstance(model, FeatureCTRMixin):
        return {"user": processor.user_feature_names if config.use_user_features else [],
                "item": list(config.item_feature_names) if config.use_item_features else []}
    if isinstance(model, BehaviourCTRMixin):
        category = processor.item_category_field()
        return {"user": list(config.user_feature_names),
                "item": [category] if category and getattr(config, "category_embedding_dim", 1) else []}
    return {"user": [], "item": []}


def warn_unread_features(model: torch.nn.Module, processor: Any, mapped: Sequence[str] = ()) -> None:
    """Warn when a model that reads side features of a kind (user, item) leaves some of the
    log's out, or reads none of the fields the user mapped (``mapped``: ``"item.genre"``, ...):
    an ``item.genre`` column that BST does not read (it reads ``item.category``) or that SASRec
    reads not at all would otherwise be dropped in silence."""
    read = side_features_read(model, processor)
    have = {"user": processor.user_feature_names, "item": list(processor.item_feature_vocabs)}
    for kind in ("user", "item"):
        unread = [name for name in have[kind] if name not in read[kind]]
        behaviour_item = kind == "item" and isinstance(model, BehaviourCTRMixin)
        if not read[kind] and not behaviour_item:
            unread = [name for name in unread if f"{kind}.{name}" in mapped]
            if unread:
                logger.warning("%s: %s reads no %s field; the mapped %s are not used (the CTR models read side "
                               "features)", processor.dataset_name, model.config.model_type, kind, unread)
            continue
        if unread:
            detail = ("; it reads one item field, as the category: map the one to use with item.category=COLUMN, or "
                      "train a model that reads every field, e.g. deepfm" if behaviour_item else f"; it reads {read[kind]}")
            logger.warning("%s: %s does not read the %s fields %s%s", processor.dataset_name, model.config.model_type,
                           kind, unread, detail)


def init_source_name(run: "RunConfig") -> Optional[str]:
    """``--init-from`` as the model card names it: ``ORG/NAME@REVISION`` when a revision was given."""
    if not run.init_from:
        return None
    return f"{run.init_from}@{run.init_revision}" if run.init_revision else run.init_from


@dataclass
class Evaluation:
    """What :meth:`Task.evaluate` found on the test split.

    Attributes:
        metrics: every entry for ``eval_results.json`` the task adds (``eval_``-prefixed test
            metrics, the baseline's as ``eval_<baseline>_<metric>``, task-specific records).
        quality: the held-out quality metrics the model card shows (no prefix).
        baseline: the baseline's metrics on the same samples (no prefix).
    """

    metrics: dict[str, Any] = field(default_factory=dict)
    quality: dict[str, float] = field(default_factory=dict)
    baseline: dict[str, float] = field(default_factory=dict)


class Task:
    """A model family's part of a training run; :class:`CTRTask` is the reference implementation.

    An instance holds the prepared ``data`` and the ``model`` of one run (``processor`` is what
    the saved folder gets; ``finetune`` is set when the run continues a published model).
    """

    name = "task"
    #: the family name of result tables (``benchmarks``); the task name unless a task says otherwise
    family: Optional[str] = None
    baseline_name = "popularity"
    #: the metric used to compare against the baseline when a run finishes
    main_metric = "auc"
    #: ``TrainingArguments.label_names``: what evaluation batches carry for the metrics
    label_names = ["labels"]
    #: the ``Trainer`` class of this task's runs
    trainer_class: type = RecsysTrainer
    #: whether ``Trainer`` evaluates on the validation split during training (``--eval-each-epoch``)
    evaluates_in_trainer = True
    #: what ``compute_metrics`` reports on the validation split (``--metric-for-best-model`` picks one)
    validation_metrics: tuple[str, ...] = ("auc", "gauc", "logloss", "loss")
    #: how this task validates when ``Trainer`` does not (the message refusing ``--early-stopping-patience``)
    validation_hint = ""
    #: share of a ``--time-budget-minutes`` spent warming up when ``--warmup-steps`` is not given
    budget_warmup = 0.0

    def __init__(self, data: PreparedData, model: torch.nn.Module):
        # a model trained with other vocabularies would read every index as another ID
        data.processor.check_compatible(getattr(model.config, "processor_fingerprint", None), "the model")
        self.data = data
        self.model = model
        self.processor = data.processor
        self.finetune = None

    @classmethod
    def results_family(cls) -> str:
        return cls.family or cls.name

    # ------------------------------------------------------------------ before training
    @classmethod
    def check_run(cls, run: "RunConfig") -> None:
        """Refuse options this task cannot use; called before any data is read."""

    @classmethod
    def validation_metrics_of(cls, run: "RunConfig") -> tuple[str, ...]:
        """The metrics a validation of ``run`` reports (:attr:`validation_metrics`, unless the
        run's options change them)."""
        return cls.validation_metrics

    @classmethod
    def from_run(cls, run: "RunConfig", spec: ModelSpec, log: InteractionLog, data_config: DataConfig) -> "Task":
        """Prepare the data and build the model: a fresh one from the processor, or the published
        model of ``run.init_from`` (its vocabularies grown or kept, ``run.unknown_items``)."""
        if not run.init_from:
            data = prepare_data(log, data_config)
            return cls(data, build_model(run, data))
        from ..hub import resolve_model_source
        from .finetune import prepare_finetuning

        source = resolve_model_source(run.init_from, "--init-from", run.init_revision)
        finetune = prepare_finetuning(log, data_config, spec, source, run.unknown_items, run.model_overrides)
        task = cls(finetune.data, finetune.model)
        task.processor, task.finetune = finetune.processor, finetune
        return task

    def training_arguments(self, run: "RunConfig") -> dict[str, Any]:
        """``TrainingArguments`` fields this task sets differently from every run's."""
        return {}

    def dataset(self, split: str) -> datasets.Dataset:
        raise NotImplementedError

    def collator(self, device: Optional[torch.device] = None) -> Callable:
        """Batches for training on ``device`` (where ``Trainer`` puts the model; None: the CPU)."""
        raise NotImplementedError

    def training_collator(self, device: Optional[torch.device] = None) -> Callable:
        """The collator ``Trainer`` gets (a fine-tuning run maps IDs the model cannot embed)."""
        collator = self.collator(device)
        return self.finetune.wrap_collator(collator) if self.finetune else collator

    def compute_metrics(self, split: str) -> Callable:
        raise NotImplementedError

    def preprocess_logits_for_metrics(self) -> Optional[Callable]:
        return None

    def processing_class(self) -> Any:
        """What ``Trainer`` saves into checkpoints beside the model: the processor the final
        folder gets, so a checkpoint recommends raw IDs as the folder does."""
        return self.processor

    def callbacks(self, run: Optional["RunConfig"] = None, args: Optional["TrainingArguments"] = None,
                  resume_from: Optional[str] = None) -> list[TrainerCallback]:
        """``Trainer`` callbacks this task needs; ``resume_from``: the checkpoint a resumed run starts from."""
        return []

    def describe(self, log: InteractionLog) -> str:
        """The lines printed before training: what trains after every filter (the numbers the card shows)."""
        lines = [self.finetune.summary] if self.finetune else []
        lines.append(f"{self.data.summary()}; {len(self.dataset('train')):,} training samples; "
                     f"{self.model.num_parameters():,} parameters")
        return "\n".join(f"[hf_recsys] {line}" for line in lines)

    # ------------------------------------------------------------------ after training
    def baseline_metrics(self, split: str) -> dict[str, float]:
        raise NotImplementedError

    def evaluate(self, trainer: "Trainer", run: "RunConfig") -> Evaluation:
        """Test metrics through ``trainer.evaluate`` (every process takes part) and the baseline's."""
        trainer.compute_metrics = self.compute_metrics("test")
        if trainer.is_world_process_zero():  # Trainer logs the test metrics as eval_*, as it logs validation
            print("[hf_recsys] training done; the held-out test split:", flush=True)
        test_metrics = trainer.evaluate(self.dataset("test"), metric_key_prefix="eval")
        baseline = self.baseline_metrics("test")
        metrics = dict(test_metrics)
        metrics.update({f"eval_{self.baseline_name}_{k}": v for k, v in baseline.items()})
        quality = {k[len("eval_"):]: v for k, v in test_metrics.items() if _is_quality_metric(k)}
        return Evaluation(metrics=metrics, quality=quality, baseline=baseline)

    def card_fields(self, run: "RunConfig", metrics: dict[str, Any]) -> dict[str, Any]:
        """``build_model_card`` arguments of this task: ``task``, ``data_summary``,
        ``example_items`` and ``training`` (lines added to every run's "Training" list)."""
        training = {}
        if run.init_from:
            training.update({"initialised from": init_source_name(run), "unknown IDs": run.unknown_items})
        training["training samples/s"] = round(metrics["train_samples_per_second"], 1)
        return {
            "task": self.name,
            "data_summary": self.card_data_summary(),
            "example_items": list(self.processor.item_vocab.tokens[:3]),
            "training": training,
        }

    def card_data_summary(self, model: Optional[torch.nn.Module] = None) -> dict[str, Any]:
        """The card's "Training data" lines: the log as trained on (its own users and items, not
        the vocabularies', which a fine-tuned model's also hold the published model's IDs in), the
        sampled negatives of a CTR task and the side features ``model`` (default: the task's) read."""
        data_summary = self.data.describe()
        if self.name == "ctr":  # AUC depends on them
            data_summary["sampled negatives per positive (training, held-out)"] = [
                self.data.config.train_negatives, self.data.config.eval_negatives]
        read = side_features_read(model if model is not None else self.model, self.processor)
        if read["user"] or read["item"]:
            data_summary["side features read"] = "; ".join(
                f"{kind}: {', '.join(names)}" for kind, names in read.items() if names)
        return data_summary

    def writers(self, trainer: "Trainer") -> list[Callable[[str], None]]:
        """What the saved folder gets besides the card and the run record: each writes into a folder."""
        return [lambda folder: trainer.model.save_pretrained(folder), self.processor.save_pretrained]

    def print_summary(self, model_name: str, evaluation: Evaluation, metrics: dict[str, Any]) -> None:
        print(f"\n[hf_recsys] held-out test metrics ({model_name} vs {self.baseline_name}):")
        for key, value in evaluation.baseline.items():
            ours = evaluation.metrics.get(f"eval_{key}")
            if ours is not None:
                print(f"  {key:>10}: {ours:.4f}   {self.baseline_name}: {value:.4f}")
        print(f"  training throughput: {metrics['train_samples_per_second']:.0f} samples/s\n")

    @classmethod
    def evaluation_speed(cls, metrics: dict[str, Any]) -> dict[str, Any]:
        """Evaluation throughput of a finished run's metrics, for result tables: ``eval_per_s``,
        ``eval_runtime_s`` (and what else the task measures)."""
        return {"eval_per_s": metrics.get("eval_samples_per_second"), "eval_runtime_s": metrics.get("eval_runtime")}


def _is_quality_metric(key: str) -> bool:
    return key.startswith("eval_") and not any(
        s in key for s in ("runtime", "per_second", "loss", "epoch", "_split")
    ) or key == "eval_logloss"


class CTRTask(Task):
    """Click-through-rate models: (history, target, label) samples with sampled negatives."""

    name = "ctr"
    main_metric = "auc"

    def dataset(self, split: str) -> datasets.Dataset:
        return self.data.ctr_dataset(split)

    def collator(self, device: Optional[torch.device] = None) -> CTRCollator:
        processor = self.data.processor
        return CTRCollator(
            self.data.sequences,
            self.model.config.max_history,
            user_feature_matrix=processor.user_feature_matrix() if processor.user_feature_vocabs else None,
            # models with an auxiliary loss over sampled non-clicked items (DIEN) ask for them
            negative_history=bool(getattr(self.model, "needs_negative_history", False)),
            num_items=processor.num_items,
            seed=self.data.config.seed,
        )

    def compute_metrics(self, split: str) -> Callable:
        return make_ctr_compute_metrics(np.asarray(self.dataset(split)["user_index"]))

    def baseline_metrics(self, split: str) -> dict[str, float]:
        """Popularity (training count of the target) on the same samples; its logloss uses a
        Platt scaling fitted on the validation samples, never on the split it reports."""
        valid, samples = self.dataset("valid"), self.dataset(split)
        return popularity_ctr_metrics(self.data.train_item_counts, (valid["target"], valid["label"]),
                                      samples["target"], samples["label"], np.asarray(samples["user_index"]))


TASKS: dict[str, type[Task]] = {"ctr": CTRTask}


def register_task(task_class: type[Task]) -> type[Task]:
    """Make ``task_class`` the task of every model whose ``ModelSpec.task`` is its ``name``."""
    TASKS[task_class.name] = task_class
    return task_class


def get_task(name: str) -> type[Task]:
    """The task registered as ``name``."""
    if name not in TASKS:
        raise ValueError(f"no task {name!r} is registered (registered: {sorted(TASKS)}); the module that "
                         f"defines it registers it when imported (``import hf_recsys`` imports them all)")
    return TASKS[name]


def task_of_model(model_name: str) -> type[Task]:
    """The task of the registered model ``model_name`` (e.g. ``"bst"`` -> :class:`CTRTask`)."""
    if model_name not in MODEL_REGISTRY:
        raise ValueError(f"unknown model {model_name!r}; choose from {sorted(MODEL_REGISTRY)}")
    return get_task(MODEL_REGISTRY[model_name].task)


__all__ = ["Task", "CTRTask", "Evaluation", "TASKS", "register_task", "get_task", "task_of_model", "build_model",
           "init_source_name"]
