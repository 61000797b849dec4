"""Fine-tuning a published model on a new log (``--init-from ORG/NAME|PATH``).

The published folder holds the model and its :class:`RecsysProcessor`. The new log is encoded
with the *saved* vocabularies, so every ID keeps the index the model learned it under. IDs the
saved vocabularies lack are handled as ``--unknown-items`` says:

* ``grow`` (default): they are appended to the vocabularies and every table indexed by them
  grows (item and user embeddings, output tables and biases, feature-value embeddings, item
  feature buffers). Old rows are copied bit for bit; new rows are initialised as the model
  initialises a fresh table. The config's vocabulary sizes follow the grown processor, so the
  saved folder loads with ``AutoModel.from_pretrained``.
* ``unknown``: the model and vocabularies keep their size; unknown items, users and feature
  values encode to index 1 (the unknown bucket). Sequences and per-user metrics still keep
  new users apart (they are grouped by raw user ID); only the model sees index 1.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd
import torch
from transformers import TrainerCallback

from ..constants import EVAL_RESULTS_FILE, IGNORE_INDEX, RUN_CONFIG_FILE, UNK_INDEX
from ..data.log import DataFormatError, InteractionLog
from ..data.pipeline import DataConfig, PreparedData, prepare_data
from ..data.processor import RecsysProcessor
from ..data.samples import InteractionSequences
from ..models import MODEL_REGISTRY, ModelSpec, spec_of_model_type
from ..models.configuration_utils import RecsysConfig
from ..models.feature_layers import FeatureEmbedding

logger = logging.getLogger(__name__)

UNKNOWN_ITEM_MODES = ("grow", "unknown")

#: Config fields that are vocabulary sizes: the only fields growth changes (everything else,
#: e.g. ``item_feature_max_values`` or ``max_history``, is architecture and stays as published).
VOCABULARY_SIZE_FIELDS = ("num_items", "num_users", "num_categories", "user_feature_sizes", "item_feature_sizes")

#: FeatureEmbedding buffers that describe the layout of its shared table (offsets of each
#: field's slice): they follow the grown config instead of being copied.
_FEATURE_LAYOUT_BUFFERS = ("single_offsets", "history_offset", "item_value_offsets", "item_value_field")
_FEATURE_TABLES = ("embeddings.weight", "first_order.weight")


def published_model(init_from: str, **hub_kwargs: Any) -> tuple[str, Any]:
    """The registry name (``--model``) and the config of the model published at ``init_from``."""
    from transformers import AutoConfig

    from ..hub import check_model_source

    config = AutoConfig.from_pretrained(check_model_source(init_from, "--init-from"), **hub_kwargs)
    spec = spec_of_model_type(config.model_type)
    if spec is not None:
        return spec.name, config
    raise ValueError(f"{init_from} holds a {config.model_type!r} model, which hf_recsys does not know; "
                     f"pass --model explicitly (known: {sorted(MODEL_REGISTRY)})")


@dataclass
class FinetuneSetup:
    """What ``run_training`` needs to continue training a published model.

    Attributes:
        data: the new log, encoded with the saved (or grown) vocabularies.
        model: the published model, grown when asked.
        processor: the processor to save next to the fine-tuned model.
        wrap_collator: applied to the task's collator (maps users the model cannot embed to 1).
        counts: IDs of the new log the saved vocabularies lacked (see ``extended_with``).
        summary: one line for the log and the model card.
    """

    data: PreparedData
    model: torch.nn.Module
    processor: RecsysProcessor
    wrap_collator: Callable[[Callable], Callable]
    counts: dict[str, int]
    summary: str


def load_published(init_from: str, spec: ModelSpec, overrides: Optional[dict] = None) -> tuple[torch.nn.Module, RecsysProcessor]:
    """The model and processor at ``init_from`` (a folder or Hub repo id; the HF cache is used
    offline). Refuses a model whose type is not ``spec``'s."""
    from transformers import AutoConfig, AutoModel

    from ..hub import check_model_source

    config = AutoConfig.from_pretrained(check_model_source(init_from, "--init-from"))
    expected = spec.config_class.model_type
    if config.model_type != expected:
        raise ValueError(
            f"--model {spec.name} expects a {expected!r} model, but {init_from} holds a {config.model_type!r} "
            f"model; pass the matching --model or leave --model out"
        )
    model = _model_with_overrides(init_from, overrides) if overrides else AutoModel.from_pretrained(init_from)
    try:
        processor = RecsysProcessor.from_pretrained(init_from)
    except OSError as error:
        raise ValueError(f"{init_from} has no recsys_processor.json: its ID vocabularies are needed to "
                         "encode the new log") from error
    return model, processor


def _model_with_overrides(init_from: str, overrides: dict) -> torch.nn.Module:
    """The published model with ``--set`` ``overrides`` applied to its config; refused (a
    :class:`~hf_recsys.hub.ModelSourceError` naming them) when they change the shape of its
    weights, which would then start from random values."""
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    from ..hub import ModelSourceError

    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()  # transformers' load report: said in one line below instead
    try:
        model, info = AutoModel.from_pretrained(init_from, output_loading_info=True, **overrides)
    finally:
        transformers_logging.set_verbosity(verbosity)
    fresh = sorted(set(info.get("missing_keys") or ()) | {entry[0] for entry in info.get("mismatched_keys") or ()})
    if fresh:
        entries = " ".join(f"--set {key}={value}" for key, value in overrides.items())
        raise ModelSourceError(f"{entries}: changes the shape of the --init-from model ({len(fresh)} weights, e.g. "
                               f"{fresh[0]}, would start from random values); fine-tuning keeps its architecture, so "
                               f"set only fields such as dropout, or train a new model without --init-from")
    return model


def grown_config(config: RecsysConfig, processor: RecsysProcessor) -> RecsysConfig:
    """``config`` with its vocabulary sizes taken from ``processor`` (through the config class's
    own ``from_processor``, so every size is derived the same way as for a fresh model)."""
    architecture = {}
    for klass in type(config).__mro__:
        if isinstance(klass, type) and issubclass(klass, RecsysConfig):
            for name in getattr(klass, "__annotations__", {}):
                if name not in VOCABULARY_SIZE_FIELDS and name != "processor_fingerprint" and hasattr(config, name):
                    architecture.setdefault(name, copy.deepcopy(getattr(config, name)))
    derived = type(config).from_processor(processor, **architecture)
    grown = copy.deepcopy(config)
    for name in VOCABULARY_SIZE_FIELDS:
        if hasattr(config, name):
            old, new = getattr(config, name), getattr(derived, name)
            if (np.asarray(new) < np.asarray(old)).any():
                raise ValueError(f"{name} would shrink from {old} to {new}; the processor does not extend the saved one")
            setattr(grown, name, new)
    if hasattr(config, "processor_fingerprint"):
        grown.processor_fingerprint = derived.processor_fingerprint
    if list(grown.user_feature_names) != list(processor.user_feature_names):
        raise ValueError(f"user fields {processor.user_feature_names} do not match the model's {grown.user_feature_names}")
    # A one-shot initialisation directive (FNN from an FM) is already in the published weights.
    if getattr(grown, "init_from_fm", None):
        grown.init_from_fm = None
    return grown


def _feature_slice_sizes(config: Any) -> list[int]:
    """Vocabulary sizes of the slices of :class:`FeatureEmbedding`'s shared table, in table order."""
    sizes = [config.num_users] if config.use_user_id else []
    sizes += list(config.user_feature_sizes) if config.use_user_features else []
    sizes += [config.num_items] if (config.use_item_id or config.use_history) else []
    sizes += list(config.item_feature_sizes) if config.use_item_features else []
    return sizes


def _feature_row_map(old: FeatureEmbedding, new: FeatureEmbedding) -> tuple[torch.Tensor, torch.Tensor]:
    """``(old_rows, new_rows)``: where each row of ``old``'s shared table lives in ``new``'s."""
    old_sizes, new_sizes = _feature_slice_sizes(old.config), _feature_slice_sizes(new.config)
    if sum(old_sizes) != old.total_vocabulary or sum(new_sizes) != new.total_vocabulary:
        raise RuntimeError("FeatureEmbedding's table layout changed; update _feature_slice_sizes")
    old_rows, new_rows, old_start, new_start = [], [], 0, 0
    for old_size, new_size in zip(old_sizes, new_sizes):
        old_rows.append(torch.arange(old_start, old_start + old_size))
        new_rows.append(torch.arange(new_start, new_start + old_size))
        old_start, new_start = old_start + old_size, new_start + new_size
    return torch.cat(old_rows), torch.cat(new_rows)


@torch.no_grad()
def grow_model(published: torch.nn.Module, processor: RecsysProcessor) -> torch.nn.Module:
    """A model sized for ``processor`` (an extension of the published one) that holds every
    published weight and buffer, with new rows initialised like a fresh model's.

    Tables grow along the dimensions whose size changed (rows appended); FeatureEmbedding's
    shared table is re-laid out so that each field's rows keep their values in its new slice.
    Same-shaped tensors are copied, including derived buffers such as Wide & Deep's cross
    hashing constants, so the published model's function on known IDs is unchanged.
    """
    config = grown_config(published.config, processor)
    fresh = type(published)(config)  # post_init: the model's own initialisation for new rows
    fresh.load_item_features(processor)  # item feature rows of the new items
    old_state = published.state_dict()
    row_maps = {}
    for name, module in published.named_modules():
        if isinstance(module, FeatureEmbedding):
            prefix = f"{name}." if name else ""
            row_maps[prefix] = _feature_row_map(module, fresh.get_submodule(name))
    for key, target in fresh.state_dict().items():
        source = old_state[key]
        prefix, leaf = next(((p, key[len(p):]) for p in row_maps if key.startswith(p)), (None, key))
        if prefix is not None and leaf in _FEATURE_LAYOUT_BUFFERS:
            continue
        if prefix is not None and leaf in _FEATURE_TABLES:
            old_rows, new_rows = row_maps[prefix]
            target[new_rows] = source[old_rows].to(target.dtype)
            continue
        if source.shape == target.shape:
            target.copy_(source)
        elif source.dim() == target.dim() and all(s <= t for s, t in zip(source.shape, target.shape)):
            target[tuple(slice(0, s) for s in source.shape)] = source
        else:
            raise ValueError(f"cannot grow {key} from {tuple(source.shape)} to {tuple(target.shape)}")
    fresh.train(published.training)
    return fresh


class KnownTargetsData(PreparedData):
    """Prepared data whose evaluation leaves out held-out samples whose target is encoded as
    unknown: a full ranking is over the catalogue, where "some item the model does not know" is
    not, and a CTR sample of it would score one shared, frequent item (inflating AUC)."""

    def next_item_dataset(self, split: str):
        return self._known_targets(super().next_item_dataset(split), "next", split)

    def ctr_dataset(self, split: str):
        return self._known_targets(super().ctr_dataset(split), "ctr", split)

    def _known_targets(self, dataset, kind: str, split: str):
        if split == "train":
            return dataset
        key = (f"{kind}-known", split)
        if key not in self._cache:
            self._cache[key] = dataset.select(np.flatnonzero(np.asarray(dataset["target"]) != UNK_INDEX))
        return self._cache[key]


def _reencoded(data: PreparedData, processor: RecsysProcessor, known_targets_only: bool = False) -> PreparedData:
    """``data`` with users and items encoded by ``processor`` instead of the freshly fitted one."""
    frame = data.frame.assign(
        user_index=processor.encode_users(data.frame["user_id"]),
        item_index=processor.encode_items(data.frame["item_id"]),
    )
    kind = KnownTargetsData if known_targets_only else PreparedData
    return kind(log=data.log, config=data.config, processor=processor, frame=frame,
                sequences=InteractionSequences.from_frame(frame))


def for_unknown_ids(collator: Callable, num_users: int) -> Callable:
    """Wrap ``collator`` for a model that keeps its vocabulary sizes: ``user_ids`` it cannot
    embed (``>= num_users``) become :data:`UNK_INDEX` (grouping and per-user metrics keep the
    full index), and next-item training labels that are the unknown item are ignored (-100):
    unknown stays a valid input, but is never a target to predict."""

    def collate(features):
        batch = collator(features)
        if "user_ids" in batch:
            ids = batch["user_ids"]
            batch["user_ids"] = torch.where(ids >= num_users, torch.full_like(ids, UNK_INDEX), ids)
        labels = batch.get("labels")
        if labels is not None and labels.dim() == 2 and not labels.is_floating_point():
            batch["labels"] = labels.masked_fill(labels == UNK_INDEX, IGNORE_INDEX)
        return batch

    return collate


def prepare_finetuning(
    log: InteractionLog,
    data_config: DataConfig,
    spec: ModelSpec,
    init_from: str,
    unknown_items: str = "grow",
    overrides: Optional[dict] = None,
) -> FinetuneSetup:
    """Load the published model and processor, encode ``log`` with the saved vocabularies and
    handle unknown IDs as ``unknown_items`` says (see the module docstring)."""
    if unknown_items not in UNKNOWN_ITEM_MODES:
        raise ValueError(f"--unknown-items must be one of {UNKNOWN_ITEM_MODES}, got {unknown_items!r}")
    published, saved = load_published(init_from, spec, overrides)
    return finetuning_setup(published, saved, log, data_config, spec, unknown_items, init_from)


def finetuning_setup(
    published: torch.nn.Module,
    saved: RecsysProcessor,
    log: InteractionLog,
    data_config: DataConfig,
    spec: ModelSpec,
    unknown_items: str = "grow",
    source: str = "the published model",
    option: str = "--unknown-items {}",
) -> FinetuneSetup:
    """:func:`prepare_finetuning` for a model and processor already loaded; ``option`` is how
    messages name the unknown-items choice (the CLI flag, or the Python argument)."""
    if unknown_items not in UNKNOWN_ITEM_MODES:
        raise ValueError(f"unknown_items must be one of {UNKNOWN_ITEM_MODES}, got {unknown_items!r}")
    saved.check_compatible(getattr(published.config, "processor_fingerprint", None), "the model")
    data_config.max_history = int(published.config.max_history)  # the model's window, not the flag's default
    data = prepare_data(log, data_config)  # fits a processor on the new log: its IDs and side features
    seen = {"items": saved.num_items - 2, "users": saved.num_users - 2}
    new_log_items = data.processor.item_vocab.tokens
    if len(saved.unknown_items(new_log_items)) == len(new_log_items):
        if unknown_items == "unknown":
            raise DataFormatError(f"{log.name}: none of its {data.processor.num_items - 2:,} items is known to "
                                  f"{source}, so with {option.format('unknown')} every item is the unknown one "
                                  f"and nothing trains; use {option.format('grow')} to learn the new items")
        logger.warning("%s: none of its %s items is known to %s: fine-tuning learns every item anew (is it the "
                       "log you meant?)", log.name, f"{data.processor.num_items - 2:,}", source)
    if unknown_items == "grow":
        processor, counts = saved.extended_with(data.processor)
        model = grow_model(published, processor)
        save_processor, wrap = processor, (lambda collator: collator)
        action = (f"appended them: items {saved.num_items - 2:,} -> {processor.num_items - 2:,}, "
                  f"users {saved.num_users - 2:,} -> {processor.num_users - 2:,}"
                  if counts["items"] or counts["users"] else "nothing to append")
    else:
        # users are appended for grouping only (sequences, negatives, GAUC); the model sees index 1
        processor, counts = saved.extended_with(data.processor, items=False, users=True, feature_values=False)
        model = published
        # the saved vocabularies, with the new log's bestsellers among the known items
        save_processor, wrap = copy.copy(saved), (lambda collator: for_unknown_ids(collator, saved.num_users))
        save_processor.popular_items = processor.popular_items
        action = "encoded them as unknown (index 1); vocabularies and model unchanged"
        if spec.task == "next_item":
            action += "; unknown next items are not training targets or held-out items"
    _warn_missing_features(published, saved, data.processor, counts, log.name, grows_items=unknown_items == "grow")
    new_values = {k[len("feature:"):]: v for k, v in counts.items() if k.startswith("feature:") and v}
    summary = (
        f"fine-tuning {spec.name} from {source}: the new log has {counts['items']:,} items and "
        f"{counts['users']:,} users the saved vocabularies lack (they hold {seen['items']:,} / {seen['users']:,})"
        + (f", new feature values {new_values}" if new_values else "")
        + f"; {option.format(unknown_items)}: {action}"
    )
    return FinetuneSetup(
        data=_reencoded(data, processor, known_targets_only=unknown_items == "unknown"), model=model, processor=save_processor, wrap_collator=wrap,
        counts=counts, summary=summary,
    )


def _warn_missing_features(model: torch.nn.Module, saved: RecsysProcessor, fitted: RecsysProcessor,
                           counts: dict[str, int], log_name: str, grows_items: bool) -> None:
    """Warn when the model reads side features that the new log lacks: its new users (items)
    are fine-tuned and served with the unknown value of each such feature."""
    from .tasks import side_features_read

    read = side_features_read(model, saved)
    have = {"user": fitted.user_feature_names, "item": list(fitted.item_feature_vocabs)}
    fresh = {"user": counts["users"], "item": counts["items"] if grows_items else 0}
    for kind in ("user", "item"):
        missing = [name for name in read[kind] if name not in have[kind]]
        if missing and fresh[kind]:
            logger.warning("%s: the model reads the %s features %s, which this log does not have: its %s new %ss get "
                           "the unknown value of each (known %ss keep their saved values)", log_name, kind, missing,
                           f"{fresh[kind]:,}", kind, kind)


__all__ = [
    "UNKNOWN_ITEM_MODES",
    "FinetuneSetup",
    "for_unknown_ids",
    "KnownTargetsData",
    "grow_model",
    "grown_config",
    "load_published",
    "published_model",
    "prepare_finetuning",
    "finetuning_setup",
    "TrainerKit",
    "VocabularyCallback",
    "trainer_kit",
]


# --------------------------------------------------------------------------- your own Trainer
class VocabularyCallback(TrainerCallback):
    """The :class:`TrainerKit`'s callback.

    * At ``Trainer`` creation it keeps the kit's dataset columns (``remove_unused_columns=False``):
      the samples are pointers (``row``, ``target``, ...) that the kit's collator expands into
      model inputs, and ``Trainer`` would otherwise drop them as names ``forward`` does not take.
    * At train start it refuses a model whose vocabularies are not the ones the data was encoded
      with (``config.processor_fingerprint`` against the kit's processor).
    """

    def __init__(self, processor: RecsysProcessor):
        self.processor = processor

    def on_init_end(self, args, state, control, **kwargs):
        if args.remove_unused_columns:
            args.remove_unused_columns = False

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if model is not None:
            self.processor.check_compatible(getattr(model.config, "processor_fingerprint", None), "the model")


def _collator_needing_rows(collator: Callable) -> Callable:
    """``collator``, with a clear error when ``Trainer`` dropped the pointer columns."""

    def collate(features):
        if features and "row" not in features[0] and "target" not in features[0]:
            raise ValueError(
                f"the batch has only the columns {sorted(features[0])}: Trainer removed the sample pointers "
                "(row, target, ...) that this collator expands. Pass callbacks=kit.callbacks to Trainer, or "
                "TrainingArguments(remove_unused_columns=False)"
            )
        return collator(features)

    return collate


@dataclass
class TrainerKit:
    """What a plain ``transformers.Trainer`` needs to fine-tune a saved hf_recsys model on a new
    log; built by :func:`trainer_kit`. Pass the fields to ``Trainer`` by name::

        trainer = Trainer(model=kit.model, args=args, train_dataset=kit.train_dataset,
                          eval_dataset=kit.eval_dataset, data_collator=kit.data_collator,
                          compute_metrics=kit.compute_metrics, processing_class=kit.processor,
                          callbacks=kit.callbacks)

    Attributes:
        model: the saved model, its tables grown for the new log's IDs (``unknown_items="grow"``).
        processor: the saved processor (grown likewise); ``trainer.save_model`` saves it.
        train_dataset / eval_dataset / test_dataset: ``datasets.Dataset`` splits of the new log
            (leave-one-out by time: validation is each user's second-to-last interaction).
        data_collator: turns a list of samples into the model's input tensors.
        compute_metrics: the model family's held-out metrics for ``eval_dataset`` (AUC/GAUC/log
            loss for CTR models, full-ranking HR/NDCG/MRR for next-item models).
        preprocess_logits_for_metrics: for next-item models, turns scores into ranks per batch.
        callbacks: pass to ``Trainer``: keeps the sample columns and checks the vocabularies.
        summary: how the new log's IDs were handled, in one line.
    """

    model: torch.nn.Module
    processor: RecsysProcessor
    train_dataset: Any
    eval_dataset: Any
    test_dataset: Any
    data_collator: Callable
    compute_metrics: Callable
    preprocess_logits_for_metrics: Optional[Callable]
    callbacks: list
    summary: str
    task: Any
    spec: ModelSpec
    source: Optional[str] = None
    log_name: str = "custom"
    unknown_items: str = "grow"

    def model_init(self, trial: Any = None) -> torch.nn.Module:
        """A fresh copy of :attr:`model` as it was before training: ``Trainer(model_init=...)``
        for ``hyperparameter_search``, each trial starting from the saved weights."""
        return copy.deepcopy(self._initial_model)

    def __post_init__(self) -> None:
        self._initial_model = copy.deepcopy(self.model)

    def evaluate(self, trainer: Any) -> dict[str, float]:
        """Held-out test metrics of ``trainer.model`` (``eval_*``) next to the popularity
        baseline's on the same samples (``eval_popularity_*``)."""
        previous = trainer.compute_metrics
        trainer.compute_metrics = self.task.compute_metrics("test")
        try:
            metrics = dict(trainer.evaluate(self.test_dataset, metric_key_prefix="eval"))
        finally:
            trainer.compute_metrics = previous
        baseline = self.task.baseline_metrics("test")
        metrics.update({f"eval_{self.task.baseline_name}_{k}": v for k, v in baseline.items()})
        metrics["eval_split"] = "test"
        return metrics

    def save(self, trainer: Any, output_dir: str, metrics: Optional[dict] = None, repo_id: Optional[str] = None,
             command: Optional[str] = None) -> str:
        """``trainer.save_model(output_dir)`` (weights, config, processor), ``eval_results.json``
        (``metrics``, by default :meth:`evaluate`'s), ``run_config.json`` (what was fine-tuned
        from what) and the model card (README.md; ``command`` is shown as the training command)."""
        from ..data.pipeline import data_config_dict
        from ..files import write_text_atomically
        from ..hub import card_for_folder, write_model_card

        metrics = self.evaluate(trainer) if metrics is None else metrics
        trainer.save_model(output_dir)
        write_text_atomically(os.path.join(output_dir, EVAL_RESULTS_FILE),
                              json.dumps(metrics, indent=2, sort_keys=True, default=str))
        args = trainer.args
        run = {"model": self.spec.name, "dataset": self.log_name, "init_from": self.source,
               "unknown_items": self.unknown_items, "max_steps": args.max_steps,
               "epochs": args.num_train_epochs if args.max_steps <= 0 else None,
               "batch_size": args.per_device_train_batch_size, "learning_rate": args.learning_rate,
               "seed": args.seed, "steps": trainer.state.global_step, "command": command,
               "trainer": "transformers.Trainer with hf_recsys.training.trainer_kit"}
        data_summary = {**self.task.card_data_summary(trainer.model),
                        "seed (split, sampled negatives)": self.task.data.config.seed}
        training_summary = {
            "trainer": run["trainer"], "initialised from": self.source, "unknown IDs": self.unknown_items,
            "epochs": run["epochs"], "steps": run["steps"], "batch size (per device)": run["batch_size"],
            "learning rate": run["learning_rate"], "seed (Trainer: initialisation, shuffling)": args.seed,
            **_best_weights_line(trainer)}
        card = {"data_summary": data_summary,
                "training_summary": {key: value for key, value in training_summary.items() if value is not None}}
        write_text_atomically(os.path.join(output_dir, RUN_CONFIG_FILE), json.dumps(
            {"run": run, "data": data_config_dict(self.task.data.config), "card": card}, indent=2, default=str))
        write_model_card(card_for_folder(output_dir, repo_id=repo_id), output_dir)
        return output_dir


def _best_weights_line(trainer: Any) -> dict[str, str]:
    """The card's line on the kept weights when ``Trainer`` loaded its best checkpoint at the end."""
    state, args = trainer.state, trainer.args
    if not args.load_best_model_at_end or state.best_metric is None or not state.best_model_checkpoint:
        return {}
    name = (args.metric_for_best_model or "loss").removeprefix("eval_")
    step = os.path.basename(os.path.normpath(state.best_model_checkpoint)).rpartition("-")[2]
    return {"weights kept": f"best validation {name} {state.best_metric:.4f} at step {step}"}


def _spec_of(model: torch.nn.Module) -> ModelSpec:
    spec = spec_of_model_type(getattr(getattr(model, "config", None), "model_type", None))
    if spec is not None and isinstance(model, spec.model_class):
        return spec
    raise ValueError(f"{type(model).__name__} is not an hf_recsys model (import hf_recsys before loading it, "
                     "without trust_remote_code)")


def trainer_kit(
    model: Any,
    processor: Optional[RecsysProcessor] = None,
    log: Optional[InteractionLog] = None,
    *,
    unknown_items: str = "grow",
    data_config: Optional[DataConfig] = None,
) -> TrainerKit:
    """Everything a plain ``transformers.Trainer`` needs to fine-tune a saved model on ``log``.

    The log is encoded with the *saved* vocabularies (``processor``), never freshly fitted ones:
    every known ID keeps the index the model learned it under. IDs the vocabularies lack are
    appended and the model's tables grown (``unknown_items="grow"``, new rows initialised as
    the model initialises a fresh table) or mapped to the unknown index 1 (``"unknown"``).

    Args:
        model: a loaded hf_recsys model (``AutoModel.from_pretrained(folder_or_repo)``), or the
            folder / Hub repo id itself.
        processor: its processor (``AutoProcessor.from_pretrained`` of the same source);
            loaded from the model's source when omitted.
        log: the new interactions: an ``InteractionLog`` (e.g. from
            ``hf_recsys.data.readers.load_log``), a pandas DataFrame with columns ``user_id``,
            ``item_id`` and optionally ``timestamp``, ``rating``, or a log file's path (its
            reader inferred; for a table with other column names, read it with ``load_log``).
        unknown_items: ``"grow"`` or ``"unknown"`` (see above).
        data_config: split, filtering and negatives of the new log (``DataConfig()``); its
            ``max_history`` is the model's.

    Raises:
        VocabularyMismatchError: ``processor`` is not the model's (another fingerprint).
        ValueError: a P5 model (fine-tune it with ``hf-recsys train --model p5 --init-from``),
            or a bad ``unknown_items``.
    """
    from transformers import AutoModel

    from . import next_item  # noqa: F401  (registers the next-item task)
    from .tasks import TASKS

    if log is None:
        raise ValueError("trainer_kit needs the new log: trainer_kit(model, processor, log)")
    if isinstance(log, pd.DataFrame):
        log = InteractionLog(log)  # with the readers' checks of IDs, times and ratings
    elif isinstance(log, (str, os.PathLike)):
        from ..data.readers import load_log

        log = load_log(None, log)
    elif not isinstance(log, InteractionLog):
        raise TypeError(f"log must be an InteractionLog, a pandas DataFrame (columns user_id, item_id and optionally "
                        f"timestamp, rating) or the path of a log file, got {type(log).__name__}")
    source = None
    if isinstance(model, (str, os.PathLike)):
        from ..hub import check_model_source

        source = check_model_source(os.fspath(model), "model")
        model = AutoModel.from_pretrained(source)
    else:
        source = getattr(model, "name_or_path", None) or getattr(model.config, "_name_or_path", None) or None
    spec = _spec_of(model)
    if spec.task not in TASKS:
        raise ValueError(f"trainer_kit covers the CTR and next-item models; fine-tune {spec.name} with "
                         f"`hf-recsys train --model {spec.name} --init-from DIR`")
    if processor is None:
        if not source:
            raise ValueError("pass the model's processor: trainer_kit(model, processor, log)")
        processor = RecsysProcessor.from_pretrained(source)
    setup = finetuning_setup(model, processor, log, data_config or DataConfig(), spec, unknown_items,
                             _public_name(source) or "the given model", option="unknown_items={!r}")
    task = TASKS[spec.task](setup.data, setup.model)
    return TrainerKit(
        model=setup.model,
        processor=setup.processor,
        train_dataset=task.dataset("train"),
        eval_dataset=task.dataset("valid"),
        test_dataset=task.dataset("test"),
        data_collator=_collator_needing_rows(setup.wrap_collator(task.collator())),
        compute_metrics=task.compute_metrics("valid"),
        preprocess_logits_for_metrics=task.preprocess_logits_for_metrics(),
        callbacks=[VocabularyCallback(setup.data.processor), *(task.callbacks() if hasattr(task, "callbacks") else [])],
        summary=setup.summary,
        task=task,
        spec=spec,
        source=_public_name(source),
        log_name=log.name,
        unknown_items=unknown_items,
    )


def _public_name(source: Optional[str]) -> Optional[str]:
    """A Hub repo id as it is; a local folder as its name only (never an absolute path)."""
    if not source:
        return None
    if os.path.isdir(os.path.expanduser(source)) or source.startswith(("/", ".", "~")):
        return os.path.basename(os.path.normpath(source)) or None
    return source
