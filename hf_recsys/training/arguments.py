"""What a training run is told: :class:`RunConfig` and the dataclasses it is made of.

These fields are the one home of every ``hf-recsys train`` option: the command line, its
``--help`` and its checks are generated from them (:mod:`hf_recsys.dataclass_parser`), and a
run built in Python is checked by the same field metadata.

    RunConfig
    ├── model, output_dir, seed, --set overrides, --init-from, Hub, progress
    ├── source: DataSourceArguments         which log (--dataset, --data-path, synthetic size)
    ├── data: DataConfig                    how the log becomes training data
    ├── training: TrainingOptions           what becomes transformers.TrainingArguments
    └── seq2seq_eval: Seq2SeqEvaluationArguments   P5's evaluation

Every field of a component reads and writes through the run as well (``run.max_history`` is
``run.data.max_history``), and ``RunConfig(max_history=20, epochs=3)`` sets them there.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import functools
import math
import os
import types
import typing
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional

from transformers import PretrainedConfig

from ..constants import NEXT_ITEM_CUTOFFS
from ..data.log import DataFormatError
from ..data.pipeline import DataConfig
from ..dataclass_parser import check_fields, flag_of

__all__ = [
    "DataSourceArguments",
    "TrainingOptions",
    "Seq2SeqEvaluationArguments",
    "RunConfig",
    "infer_dataset",
    "dataset_choices",
    "non_negative_integer",
    "parse_override",
    "positive_integer",
    "positive_number",
]


def dataset_choices() -> tuple[str, ...]:
    """The names ``--dataset`` accepts (those :func:`hf_recsys.data.readers.load_log` reads)."""
    from ..data.readers import DATASET_NAMES

    return tuple(DATASET_NAMES)


def model_choices() -> dict[str, str]:
    """Registered model names and what each is, for ``--model`` and its help."""
    from ..models import MODEL_REGISTRY

    return {name: spec.description for name, spec in sorted(MODEL_REGISTRY.items())}


def parse_override(text: str) -> tuple[str, Any]:
    """``--set KEY=VALUE``: VALUE read as a Python literal where it is one (``2``, ``[32]``,
    ``False``), else kept as a string."""
    import argparse

    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expects KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def positive_number(text: str) -> float:
    """An argparse ``type=``: a finite number > 0 (e.g. minutes of a time budget)."""
    import argparse
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def whole_number_at_least(text: str, low: int) -> int:
    """``text`` as an integer >= ``low``, or the ``argparse.ArgumentTypeError`` naming the value."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects an integer, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be >= {low}, got {text}")
    return value


def positive_integer(text: str) -> int:
    """An argparse ``type=``: a whole number > 0 (e.g. a number of trials)."""
    return whole_number_at_least(text, 1)


def non_negative_integer(text: str) -> int:
    """An argparse ``type=``: a whole number >= 0 (e.g. a seed)."""
    return whole_number_at_least(text, 0)


# ---------------------------------------------------------------------------------------------
# Which log: --dataset / --data-path
# ---------------------------------------------------------------------------------------------

def infer_dataset(path: str | os.PathLike) -> str:
    """The ``--dataset`` a ``--data-path`` holds: the reader registry's
    :func:`~hf_recsys.data.readers.infer_reader` (a folder by its marker files, a file by its name,
    suffix and, where several readers take the suffix, its first record).

    Raises:
        DataFormatError: the path does not exist, or says nothing or more than one thing about
            its format; the message names the choices.
    """
    from ..data.readers import infer_reader

    return infer_reader(path)


#: the size of the synthetic log a run trains on when it names none
SYNTHETIC_USERS, SYNTHETIC_ITEMS = 2000, 1000
#: the smallest synthetic log: two genres of four items, histories of up to five items, and
#: enough users that every one of them has logged items left to sample negatives from
MIN_SYNTHETIC_USERS, MIN_SYNTHETIC_ITEMS = 10, 10


@dataclass
class DataSourceArguments:
    """Which interaction log a run trains on."""

    argument_group: ClassVar[str] = "data source"

    dataset: Optional[str] = field(default=None, metadata={
        "help": "format of --data-path: a MovieLens folder (ml-1m, ml-100k, ml-20m, ...), an Amazon review dump "
                "(amazon), a P5 user_sequence.txt (beauty, sequences) or any table (csv: .csv/.tsv/.parquet/.jsonl "
                "with columns user_id, item_id and optionally timestamp, rating). Default: inferred from --data-path; "
                "without --data-path, 'synthetic', the embedded seeded MovieLens-1M-shaped log",
        "choices": dataset_choices, "metavar": "NAME"})
    data_path: Optional[str] = field(default=None, metadata={
        "help": "the file or folder holding the log; when given, it is always what trains", "metavar": "PATH"})
    synthetic_users: Optional[int] = field(default=None, metadata={
        "help": f"users of the synthetic log (default: {SYNTHETIC_USERS}; at least {MIN_SYNTHETIC_USERS})",
        "ge": MIN_SYNTHETIC_USERS})
    synthetic_items: Optional[int] = field(default=None, metadata={
        "help": f"items of the synthetic log (default: {SYNTHETIC_ITEMS}; at least {MIN_SYNTHETIC_ITEMS})",
        "ge": MIN_SYNTHETIC_ITEMS})


@dataclass
class TrainingOptions:
    """How the model is trained: what becomes ``transformers.TrainingArguments``."""

    argument_group: ClassVar[str] = "training"

    epochs: float = field(default=2.0, metadata={"help": "passes over the training data", "gt": 0})
    max_steps: int = field(default=-1, metadata={
        "help": "stop after N optimizer steps (overrides --epochs; -1: train --epochs); there are then no epochs to "
                "validate after: add --eval-steps N to validate", "gt": 0, "allow": (-1,)})
    batch_size: int = field(default=256, metadata={"help": "training batch size per device", "gt": 0})
    eval_batch_size: int = field(default=1024, metadata={"help": "evaluation batch size per device", "gt": 0})
    learning_rate: float = field(default=1e-3, metadata={"help": "peak learning rate", "gt": 0})
    lr_scheduler_type: Optional[str] = field(default=None, metadata={
        "help": "learning-rate schedule after the warmup (transformers' SchedulerType); default: the model's "
                "own: constant for the CTR models, linear (decay to zero at the end) for the others",
        "choices": ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
                    "inverse_sqrt")})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay", "ge": 0})
    warmup_steps: float = field(default=0.0, metadata={
        "help": "learning-rate warmup: a number of steps, or a share of training when < 1 (P5: 0.05 when 0)", "ge": 0})
    use_cpu: bool = field(default=False, metadata={
        "help": "train on the CPU even where a CUDA GPU is present (default: the GPU when there is one)"})
    bf16: bool = field(default=False, metadata={"help": "bfloat16 mixed precision (CPU or GPU)"})
    fp16: bool = field(default=False, metadata={"help": "float16 mixed precision (GPU)"})
    logging_steps: int = field(default=50, metadata={"help": "log the training loss every N steps", "gt": 0})
    eval_each_epoch: bool = field(default=True, metadata={"help": "skip validation after every epoch"})
    eval_steps: int = field(default=0, metadata={
        "help": "validate every N optimizer steps instead of after every epoch (also with --max-steps; 0: after "
                "every epoch)", "ge": 0, "metavar": "N"})
    early_stopping_patience: int = field(default=0, metadata={
        "help": "stop when --metric-for-best-model has not improved for N validations in a row; implies "
                "--load-best-model-at-end (0: train every epoch)", "ge": 0, "metavar": "N"})
    load_best_model_at_end: bool = field(default=False, metadata={
        "help": "end with the weights of the best validation, not the last: a checkpoint is saved at every "
                "validation into OUTPUT_DIR/checkpoints and the best one is kept"})
    metric_for_best_model: Optional[str] = field(default=None, metadata={
        "help": "the validation metric that picks the best weights and stops early (default: the task's: auc for CTR "
                "models, ndcg@10 for next-item models; logloss and loss are minimised, the others maximised; Trainer's "
                "eval_ prefix and capitals are taken too: eval_NDCG@10 is ndcg@10)",
        "metavar": "NAME"})
    eval_cutoffs: list[int] = field(default_factory=lambda: list(NEXT_ITEM_CUTOFFS), metadata={
        "help": "next-item models: the cut-offs K of HR@K, NDCG@K and MRR@K, on validation and test (full ranking "
                "either way; the metric that picks the best weights must be among them)", "metavar": "K"})
    dataloader_workers: int = field(default=0, metadata={
        "help": "data-loading worker processes (0: load in the training process)", "ge": 0})
    save_steps: int = field(default=0, metadata={
        "help": "save a resumable checkpoint (weights, optimizer, scheduler, RNG states) every N steps into "
                "OUTPUT_DIR/checkpoints/checkpoint-N (0: none)", "ge": 0})
    save_total_limit: Optional[int] = field(default=None, metadata={
        "help": "keep only the newest N checkpoints (default: all)", "gt": 0})
    resume_from_checkpoint: Optional[str] = field(default=None, metadata={
        "help": "continue an interrupted run from a checkpoint folder, or from the newest one in "
                "OUTPUT_DIR/checkpoints ('latest', also what the bare flag means); give the same flags as the "
                "interrupted run and it ends with the same weights",
        "nargs": "?", "const": "latest", "metavar": "PATH|latest"})
    time_budget_minutes: Optional[float] = field(default=None, metadata={
        "help": "train for M minutes of wall clock: the learning rate decays linearly to zero at M minutes (time, not "
                "steps) and training stops there, or earlier at --epochs/--max-steps. For borrowed or shared hardware "
                "whose speed is not known in advance; single process only", "gt": 0, "metavar": "M"})
    gradient_checkpointing: bool = field(default=False, metadata={
        "help": "recompute Transformer blocks (bst, sasrec) in the backward pass instead of keeping their "
                "activations: less memory, about one more forward per step"})


@dataclass
class Seq2SeqEvaluationArguments:
    """How a text-to-text model (P5) is evaluated: beam search over every test user is slow, so
    these choose the users and the extra passes."""

    argument_group: ClassVar[str] = "evaluation of text-to-text models (p5)"

    eval_users: Optional[int] = field(default=None, metadata={
        "help": "evaluate a seeded subset of N test users (default: every test user)", "gt": 0, "metavar": "N"})
    eval_unseen_template: bool = field(default=True, metadata={
        "help": "skip the second evaluation with a prompt template held out of training"})
    eval_exclude_seen: bool = field(default=False, metadata={
        "help": "never recommend an item of the user's history in the evaluation"})
    eval_valid_every: float = field(default=0.0, metadata={
        "help": "evaluate on validation users every E epochs and at the end, and keep the best weights "
                "(0: no validation; single process only)", "ge": 0, "metavar": "E"})
    eval_valid_users: int = field(default=2000, metadata={
        "help": "seeded validation users of --eval-valid-every", "gt": 0, "metavar": "N"})
    eval_restore_best: bool = field(default=True, metadata={
        "help": "with --eval-valid-every: keep the last weights instead of the best validation ones"})


#: the component dataclasses of a run, by the RunConfig field that holds each
COMPONENTS = {"source": DataSourceArguments, "data": DataConfig, "training": TrainingOptions,
              "seq2seq_eval": Seq2SeqEvaluationArguments}

_HUB = "Hugging Face Hub"
_OUTPUT = "output"


@dataclass
class RunConfig:
    """Everything a training run is told. ``hf-recsys train`` and ``scripts/train.py`` are
    generated from these fields and those of the components (see the module docstring).

    Checks run when a config is built: a value outside its field's bounds, or options that
    contradict each other, raise ``ValueError`` naming the field and its flag.
    """

    argument_group: ClassVar[str] = "what to train"

    model: str = field(default="bst", metadata={
        "help": "model to train (default: bst, or the type of the --init-from model)", "choices": model_choices,
        "metavar": "MODEL"})
    model_overrides: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "set a model config field, e.g. --set num_layers=2 (repeatable; VALUE is read as a Python literal)",
        "flag": "--set", "action": "append", "parse": parse_override, "metavar": "KEY=VALUE"})
    init_from: Optional[str] = field(default=None, metadata={
        "help": "continue training a published model (a folder or Hub repo id, read through the HF cache) on the log "
                "given by --dataset/--data-path, whose IDs are encoded with the model's saved vocabularies (p5: any "
                "T5 checkpoint and its tokenizer)", "metavar": "ORG/NAME|PATH"})
    init_revision: Optional[str] = field(default=None, metadata={
        "help": "with a Hub --init-from: the branch, tag or commit to start from (default: main); config, weights and "
                "vocabularies all come from that one snapshot", "metavar": "REV"})
    unknown_items: Optional[str] = field(default=None, metadata={
        "help": "with --init-from: what happens to items, users and feature values the saved vocabularies lack. "
                "'grow' appends them and grows every table indexed by them (old rows unchanged, new rows freshly "
                "initialised), so new items get their own embeddings and can be recommended: the default, because a "
                "new log's new items are usually the ones worth recommending. 'unknown' maps them all to the unknown "
                "index 1 and keeps the model's shape (e.g. to keep serving an exported graph). Default with --init-from: grow",
        "choices": ("grow", "unknown")})
    seed: int = field(default=0, metadata={
        "help": "seeds data sampling, negatives and initialisation", "ge": 0})
    source: DataSourceArguments = field(default_factory=DataSourceArguments)
    data: DataConfig = field(default_factory=DataConfig)
    training: TrainingOptions = field(default_factory=TrainingOptions)
    seq2seq_eval: Seq2SeqEvaluationArguments = field(default_factory=Seq2SeqEvaluationArguments)
    output_dir: Optional[str] = field(default=None, metadata={
        "help": "where the model folder goes (default: outputs/MODEL-DATASET). A folder that already holds a model "
                "(config.json, model.safetensors, recsys_processor.json or checkpoints/) is refused unless "
                "--overwrite-output-dir", "group": _OUTPUT, "metavar": "DIR"})
    overwrite_output_dir: bool = field(default=False, metadata={
        "help": "train into an --output-dir that holds a model: afterwards the folder holds the new model's files "
                "only. The previous model's files (weights, configs, processor and tokenizer files, card, metrics, "
                "remote-code .py files, checkpoints/) are removed; files that are not a model's (your notes, "
                "scripts, data) are kept. Its checkpoints/ go when training starts, the rest only when the new model "
                "is saved",
        "group": _OUTPUT})
    disable_tqdm: Optional[bool] = field(default=None, metadata={
        "help": "no progress bars (training, evaluation, loading and writing weights, dataset and tokenizing "
                "passes)", "flag": "--no-progress", "group": _OUTPUT})
    push_to_hub: bool = field(default=False, metadata={"help": "upload the saved folder to the Hub", "group": _HUB})
    hub_model_id: Optional[str] = field(default=None, metadata={
        "help": "ORG/NAME of the Hub repository, or NAME for a repo of the token's user (needed by --push-to-hub)",
        "metavar": "[ORG/]NAME", "group": _HUB})
    hub_token: Optional[str] = field(default=None, metadata={
        "help": "token (default: the logged-in one); never written to the folder", "group": _HUB})
    hub_private: Optional[bool] = field(default=None, metadata={
        "help": "create the Hub repository private", "group": _HUB})
    hub_revision: Optional[str] = field(default=None, metadata={"help": "branch to push to", "group": _HUB})
    recipe: Optional[str] = field(default=None, metadata={
        "help": "the recipe whose settings the run started from (`--recipe`), named on the model card",
        "cli": False})

    def __post_init__(self) -> None:
        for name in COMPONENTS:  # a run owns its components (dataclasses.replace must not share them)
            value = getattr(self, name)
            if isinstance(value, dict):  # as in a saved run_config.json
                value = COMPONENTS[name](**value)
            object.__setattr__(self, name, copy.copy(value))

    def _finish(self) -> None:
        """Sync, default and check the fields; runs once every field is set."""
        self.data.seed = self.seed
        legacy = {k: self.model_overrides[k] for k in _SEQ2SEQ_EVAL_NAMES if k in self.model_overrides}
        if legacy:
            old = ", ".join(f"--set {k}={v!r}" for k, v in legacy.items())
            new = ", ".join(_seq2seq_flag(k, v) for k, v in legacy.items())
            warnings.warn(f"{old}: evaluation options are no longer model config fields; use {new} (the --set form "
                          f"will stop working in a future release)", FutureWarning, stacklevel=3)
            self.model_overrides = {k: v for k, v in self.model_overrides.items() if k not in legacy}
            for key, value in legacy.items():
                setattr(self.seq2seq_eval, key, value)
        if self.init_from and self.source.dataset is None and not self.source.data_path and \
                self.source.synthetic_users is None and self.source.synthetic_items is None:
            # a forgotten --data-path would fine-tune on the embedded synthetic log without a word
            raise ValueError("--init-from fine-tunes on a new log: give it with --data-path (or --dataset "
                             "synthetic for the embedded one)")
        if self.source.dataset is None:
            try:
                self.source.dataset = infer_dataset(self.source.data_path) if self.source.data_path else "synthetic"
            except DataFormatError as error:
                raise DataFormatError(f"--data-path {error}") from None
        if self.output_dir is None:
            self.output_dir = f"outputs/{self.model}-{self.source.dataset}"
        check_fields(self)
        self._check_combinations()

    def _check_combinations(self) -> None:
        t, s = self.training, self.source
        if s.dataset == "synthetic" and s.data_path:
            raise ValueError(f"--data-path {s.data_path} is given with --dataset synthetic, which generates its own "
                             f"log; drop --dataset to train on the file (its format is inferred) or name its format")
        if s.dataset != "synthetic" and not s.data_path:
            raise ValueError(f"--dataset {s.dataset} needs --data-path")
        for name in ("synthetic_users", "synthetic_items"):
            if s.dataset != "synthetic" and getattr(s, name) is not None:
                raise ValueError(f"--{name.replace('_', '-')} sizes the synthetic log; this run trains on "
                                 f"{s.data_path}")
        if s.dataset == "synthetic":
            given = list(self.data.reader_options())
            if given:
                raise ValueError(f"{flag_of(DataConfig.__dataclass_fields__[given[0]])} reads a table file "
                                 f"(--data-path); the synthetic log has none")
            s.synthetic_users = s.synthetic_users or SYNTHETIC_USERS
            s.synthetic_items = s.synthetic_items or SYNTHETIC_ITEMS
        if self.model != "p5":
            for option in dataclasses.fields(Seq2SeqEvaluationArguments):
                if getattr(self.seq2seq_eval, option.name) != option.default:
                    raise ValueError(f"{flag_of(option)} applies to the text-to-text model p5 only, not to "
                                     f"{self.model}")
        from ..models import MODEL_REGISTRY

        spec = MODEL_REGISTRY.get(self.model)
        cutoffs = t.eval_cutoffs
        if any(k < 1 for k in cutoffs) or len(set(cutoffs)) != len(cutoffs) or not cutoffs:
            raise ValueError(f"--eval-cutoffs {' '.join(map(str, cutoffs))}: give distinct whole numbers >= 1")
        if spec is not None and spec.task != "next_item" and list(cutoffs) != list(NEXT_ITEM_CUTOFFS):
            raise ValueError(f"--eval-cutoffs applies to the next-item models; {self.model} is evaluated by "
                             f"{'AUC and log loss' if spec.task == 'ctr' else 'beam search at K 5 and 10'}")
        t.eval_cutoffs = sorted(cutoffs)
        if spec is not None and spec.task != "ctr":
            for name in ("train_negatives", "eval_negatives"):
                if getattr(self.data, name) != 1:
                    raise ValueError(f"{flag_of(DataConfig.__dataclass_fields__[name])} samples negatives for the CTR models; {self.model} "
                                     f"is evaluated by {'full ranking over every item' if spec.task == 'next_item' else 'beam search'}"
                                     f" and trains without them")
        if t.metric_for_best_model:  # "eval_ndcg@10" (Trainer's form) and "NDCG@10" name ndcg@10
            t.metric_for_best_model = t.metric_for_best_model.strip().lower().removeprefix("eval_")
        if t.bf16 and t.fp16:
            raise ValueError("--bf16 and --fp16 exclude each other; choose one precision")
        if t.time_budget_minutes and t.resume_from_checkpoint:
            raise ValueError("--time-budget-minutes cannot be combined with --resume-from-checkpoint (the schedule "
                             "is a point on the interrupted process's clock); resume with --max-steps or --epochs")
        if t.time_budget_minutes and t.warmup_steps >= 1:
            raise ValueError(f"--warmup-steps {t.warmup_steps:g} with --time-budget-minutes: the warmup must be a "
                             f"share of the budget (< 1)")
        if t.early_stopping_patience or t.load_best_model_at_end:
            flag = "--early-stopping-patience" if t.early_stopping_patience else "--load-best-model-at-end"
            if not t.eval_steps and not t.eval_each_epoch:
                raise ValueError(f"{flag} needs validation: drop --no-eval-each-epoch or give --eval-steps N")
            if not t.eval_steps and t.max_steps > 0:
                raise ValueError(f"{flag} with --max-steps needs --eval-steps N (validation after each epoch is "
                                 f"off when training is counted in steps)")
            if t.save_steps and (not t.eval_steps or t.save_steps % t.eval_steps):
                raise ValueError(f"{flag} saves a checkpoint at every validation; --save-steps {t.save_steps} must "
                                 f"then be a multiple of --eval-steps (or left out)")
        elif t.metric_for_best_model:
            raise ValueError("--metric-for-best-model only applies with --early-stopping-patience or "
                             "--load-best-model-at-end")
        if self.model_overrides:
            check_model_overrides(self.model, self.model_overrides)
        if self.push_to_hub and not self.hub_model_id:
            raise ValueError("--push-to-hub needs --hub-model-id ORG/NAME")
        if not self.push_to_hub:
            for name in HUB_OPTIONS:
                if getattr(self, name) is not None:
                    raise ValueError(f"{flag_of(RunConfig.__dataclass_fields__[name])} only applies with --push-to-hub "
                                     "(or push the saved folder later: `hf-recsys push FOLDER --repo-id ORG/NAME`)"
                                     + ("; downloads (--init-from) read HF_TOKEN or `hf auth login`"
                                        if name == "hub_token" else ""))
        if t.save_total_limit is not None and not (t.save_steps or t.early_stopping_patience or t.load_best_model_at_end):
            raise ValueError(f"--save-total-limit {t.save_total_limit}: this run saves no checkpoints; it applies with "
                             "--save-steps N (or --load-best-model-at-end / --early-stopping-patience, which save one "
                             "at each validation)")
        if self.unknown_items is not None and not self.init_from:
            raise ValueError("--unknown-items only applies with --init-from")
        if self.init_from and self.unknown_items is None:
            self.unknown_items = "grow"
        if self.init_revision and not self.init_from:
            raise ValueError("--init-revision only applies with --init-from")

    def to_dict(self) -> dict[str, Any]:
        """The run as JSON-ready nested dicts, without the Hub token."""
        return dataclasses.asdict(self) | {"hub_token": None}

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> "RunConfig":
        """A run from :meth:`to_dict`'s output or from a flat dict of field names (what
        ``run_config.json`` held before the components); unknown keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)} | set(FLAT_FIELDS)
        known = {k: v for k, v in saved.items() if k in names}
        for name, component in COMPONENTS.items():  # drop keys a component no longer has
            if isinstance(known.get(name), dict):
                fields = {f.name for f in dataclasses.fields(component) if f.init}
                known[name] = {k: v for k, v in known[name].items() if k in fields}
        known.pop("timings", None)
        if not known.get("push_to_hub"):  # older records kept Hub options that a run without a push ignored
            for name in HUB_OPTIONS:
                known.pop(name, None)
        training = known.get("training") if isinstance(known.get("training"), dict) else known
        if not (training.get("save_steps") or training.get("early_stopping_patience")
                or training.get("load_best_model_at_end")):
            training.pop("save_total_limit", None)  # ... and a checkpoint limit for a run without checkpoints
        if isinstance(known.get("data"), dict):
            known["data"].pop("timings", None)
        source = known.get("source") if isinstance(known.get("source"), dict) else known
        if source.get("dataset") not in (None, "synthetic"):  # older records kept the synthetic log's default size
            source.pop("synthetic_users", None)
            source.pop("synthetic_items", None)
        return cls(**known)


#: where and how ``--push-to-hub`` uploads: options of a run that pushes
HUB_OPTIONS = ("hub_model_id", "hub_token", "hub_private", "hub_revision")


#: config fields a run fills from its data (``from_processor``) or from its own flags, never from ``--set``
_DATA_FIELDS = {"num_items": "the data", "num_users": "the data", "num_categories": "the data",
                "user_feature_sizes": "the data", "user_feature_names": "the data", "processor_fingerprint": "the data",
                "max_history": "--max-history",
                "numeric_feature_names": "the data"}


def check_model_overrides(model: str, overrides: dict[str, Any]) -> None:
    """``--set KEY=VALUE`` checked before any work: every key a settable field of ``model``'s
    config, and a config and model built with them (on the meta device: no memory) accept them.
    Raises ``ValueError`` naming the ``--set`` entry."""
    import torch

    from ..models import MODEL_REGISTRY

    spec = MODEL_REGISTRY.get(model)
    if spec is None:
        return  # an unknown --model is refused by its own check
    config_class = spec.config_class
    base = {f.name for f in dataclasses.fields(PretrainedConfig)}
    settable = [f.name for f in dataclasses.fields(config_class) if f.name not in base and f.name not in _DATA_FIELDS]
    for key, value in overrides.items():
        if key in _DATA_FIELDS:
            raise ValueError(f"--set {key}={value!r}: {key} comes from {_DATA_FIELDS[key]}, not --set")
        if key not in settable:
            raise ValueError(f"--set {key}={value!r}: {model} has no config field {key!r} (its fields: "
                             f"{', '.join(settable)})")
    field_types = _field_types(config_class)
    for key, value in overrides.items():
        problem = _type_problem(field_types.get(key), value)
        if problem:
            raise ValueError(f"--set {key}={value!r}: {key} {problem}")
    entries = " ".join(f"--set {k}={v!r}" for k, v in overrides.items())
    try:
        config = config_class(**overrides)
        with torch.device("meta"):
            spec.model_class(config)
    except Exception as error:  # noqa: BLE001  (whatever the config or model refuses is the user's value)
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"{entries}: {message}") from None


def _field_types(config_class: type) -> dict[str, Any]:
    """The annotated types of ``config_class``'s fields, each resolved on its own (an annotation
    that does not resolve, e.g. a name imported for type checkers only, is left out)."""
    import sys

    types_: dict[str, Any] = {}
    for cls in reversed(config_class.__mro__):
        namespace = vars(sys.modules[cls.__module__]) if cls.__module__ in sys.modules else {}
        for name, annotation in vars(cls).get("__annotations__", {}).items():
            try:
                types_[name] = eval(annotation, dict(namespace)) if isinstance(annotation, str) else annotation
            except Exception:  # noqa: BLE001
                types_.pop(name, None)
    return types_


def _type_problem(expected: Any, value: Any) -> Optional[str]:
    """Why ``value`` cannot be a config field annotated ``expected`` (None when it can): the
    wrong kind of value, a negative integer or a number that is not finite."""
    if expected is None:
        return None
    args = typing.get_args(expected)
    if typing.get_origin(expected) in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        kinds = [a for a in args if a is not type(None)]
        return _type_problem(kinds[0], value) if len(kinds) == 1 else None
    origin = typing.get_origin(expected) or expected
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            example = f"[{value!r}]" if args and args[0] is str and isinstance(value, str) else "[64, 32]"
            return f"is a list, e.g. {example}; got {value!r}"
        problems = [_type_problem(args[0], v) for v in value] if args else []
        return next((f"entry {i} {p}" for i, p in enumerate(problems) if p), None)
    if expected is bool:
        return None if isinstance(value, bool) else f"is True or False, got {value!r}"
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"is an integer, got {value!r}"
        return f"must be >= 0, got {value}" if value < 0 else None
    if expected is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"is a number, got {value!r}"
        return None if math.isfinite(value) else f"must be a finite number, got {value}"
    if expected is str and not isinstance(value, str):
        return f"is a string, got {value!r}"
    return None


def _seq2seq_flag(name: str, value: Any) -> str:
    """The command-line form of the evaluation option ``name=value`` (for the ``--set`` warning)."""
    option = next(f for f in dataclasses.fields(Seq2SeqEvaluationArguments) if f.name == name)
    if isinstance(option.default, bool):
        return flag_of(option) if value != option.default else f"nothing (it is the default of {name})"
    return f"{flag_of(option)} {value}"


_SEQ2SEQ_EVAL_NAMES = tuple(f.name for f in dataclasses.fields(Seq2SeqEvaluationArguments))

#: component field name -> the RunConfig field of its component, for every name a run exposes
FLAT_FIELDS: dict[str, str] = {
    f.name: owner
    for owner, component in COMPONENTS.items()
    for f in dataclasses.fields(component)
    if f.init and f.name not in {g.name for g in dataclasses.fields(RunConfig)} and f.metadata.get("cli", True)
}


def _flat_property(owner: str, name: str) -> property:
    def get(self):
        return getattr(getattr(self, owner), name)

    def set_(self, value):
        setattr(getattr(self, owner), name, value)

    return property(get, set_, doc=f"``{owner}.{name}``")


for _name, _owner in FLAT_FIELDS.items():
    setattr(RunConfig, _name, _flat_property(_owner, _name))


def _accept_flat_names(init):
    @functools.wraps(init)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        flat = {k: kwargs.pop(k) for k in list(kwargs) if k in FLAT_FIELDS}
        init(self, *args, **kwargs)
        for key, value in flat.items():
            setattr(self, key, value)
        self._finish()

    return __init__


RunConfig.__init__ = _accept_flat_names(RunConfig.__init__)  # type: ignore[method-assign]
