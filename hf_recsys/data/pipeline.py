"""Log -> processor + splits + datasets, in one call.

    log = load_log("ml-1m", "path/to/ml-1m")
    data = prepare_data(log, DataConfig(max_history=50))
    train = data.ctr_dataset("train")        # datasets.Dataset of CTR samples
    data.processor.save_pretrained(out_dir)  # vocabularies travel with the model
"""

from __future__ import annotations

import codecs
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import ClassVar, Optional

import datasets
import numpy as np
import pandas as pd

from ..dataclass_parser import check_fields
from .log import (
    DUPLICATE_POLICIES,
    DataFormatError,
    DataOptionError,
    InteractionLog,
    apply_duplicates_policy,
)
from .processing import TEST, TRAIN, VALID, kcore_filter, leave_one_out_split, sort_chronologically, temporal_split, to_implicit
from .processor import RecsysProcessor
from .readers.table import parse_columns, parse_sep
from .samples import InteractionSequences, build_ctr_dataset, build_next_item_dataset

logger = logging.getLogger(__name__)
SPLITS = {"train": TRAIN, "valid": VALID, "test": TEST}


@dataclass
class DataConfig:
    """How a log becomes training data. Each field's ``metadata`` holds its ``--help`` text and
    bounds: ``hf-recsys train`` generates its data options from them."""

    argument_group: ClassVar[str] = "data preparation"

    max_history: int = field(default=50, metadata={
        "help": "most recent interactions a model sees before a target", "gt": 0})
    implicit_threshold: Optional[float] = field(default=None, metadata={
        "help": "keep only interactions with rating >= this (default: keep all); the summary printed before "
                "training and the card count what is left"})
    user_core: int = field(default=0, metadata={
        "help": "k-core filter: drop users with fewer interactions (0: off)", "ge": 0})
    item_core: int = field(default=0, metadata={
        "help": "k-core filter: drop items with fewer interactions (0: off)", "ge": 0})
    split: str = field(default="leave_one_out", metadata={
        "help": "leave_one_out: each user's last interaction is the test one, the one before it validation "
                "(by time); temporal: one global time cut", "choices": ("leave_one_out", "temporal")})
    train_negatives: int = field(default=1, metadata={
        "help": "sampled negatives per training positive (CTR models)", "ge": 1})
    eval_negatives: int = field(default=1, metadata={
        "help": "sampled negatives per held-out positive (CTR models), fixed by the seed", "ge": 1})
    seed: int = field(default=0, metadata={
        "help": "seed of every sampling step (a run sets it from --seed)", "ge": 0, "cli": False})
    columns: Optional[str] = field(default=None, metadata={"help": (
        "Which column of your table is which, as KEY=COLUMN pairs: "
        "user_id=uid,item_id=iid,timestamp=ts,rating=stars (any subset; unmapped keys default to "
        "columns of the same name; user_id and item_id are required, timestamp and rating "
        "optional; a column name holding a comma is double-quoted: user_id=\"user, id\"). user.NAME=COL / "
        "item.NAME=COL read COL as a user / item feature. With "
        "--no-header, COLUMN is a 0-based position: user_id=0,item_id=1,timestamp=2.")})
    no_header: bool = field(default=False, metadata={"help": (
        "The CSV/TSV file has no header line. Without --columns its columns are read as "
        "user_id, item_id[, timestamp[, rating]].")})
    sep: Optional[str] = field(default=None, metadata={"help": (
        "The CSV/TSV separator: one character, or tab / space / comma / semicolon / pipe "
        "(default: comma for .csv, tab for .tsv).")})
    encoding: Optional[str] = field(default=None, metadata={"help": (
        "The text encoding of a CSV/TSV/JSON-lines file, e.g. latin-1 or cp1252 "
        "(default: utf-8).")})
    duplicates: str = field(default="drop", metadata={
        "help": ("Exact duplicate interactions (same user, item, timestamp and rating): drop "
                 "them and say how many (drop), keep them (keep), or refuse the log (error)."),
        "choices": list(DUPLICATE_POLICIES)})
    timings: dict = field(default_factory=dict, repr=False, metadata={"cli": False})

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check the data options before any work: DataOptionError naming the option."""
        if self.duplicates not in DUPLICATE_POLICIES:
            raise DataOptionError(f"duplicates: must be one of {', '.join(DUPLICATE_POLICIES)}, "
                                  f"got {self.duplicates!r}", option="duplicates")
        parse_columns(self.columns, no_header=self.no_header)
        parse_sep(self.sep)
        if self.encoding is not None:
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise DataOptionError(f"encoding: unknown text encoding {self.encoding!r} (e.g. "
                                      "utf-8, latin-1, cp1252)", option="encoding") from None
        try:
            check_fields(self)  # types, ranges and choices of the fields' metadata
        except ValueError as error:
            raise DataOptionError(str(error), option=getattr(error, "field", None)) from None

    def reader_options(self) -> dict:
        """The options a table reader takes (``columns``, ``no_header``, ``sep``,
        ``encoding``), only those set."""
        options = {"columns": self.columns, "no_header": self.no_header, "sep": self.sep,
                   "encoding": self.encoding}
        return {k: v for k, v in options.items() if v not in (None, False)}


def read_data(dataset: Optional[str], path: Optional[str], config: Optional[DataConfig] = None
              ) -> InteractionLog:
    """The log a run trains on: ``dataset`` read from ``path`` with ``config``'s reader options.

    With ``dataset`` None the reader is inferred from ``path`` (an ambiguous path is an error
    naming the choices); a ``path`` is always the data read, never a built-in default.
    """
    from .readers import load_log

    config = config or DataConfig()
    if dataset is None and path is None:
        raise DataOptionError("data_path: give a data file or folder, or a dataset name",
                              option="data_path")
    return load_log(dataset, path, **config.reader_options())


@dataclass
class PreparedData:
    """Everything a training run needs from the data side."""

    log: InteractionLog
    config: DataConfig
    processor: RecsysProcessor
    frame: pd.DataFrame
    sequences: InteractionSequences
    duplicates_dropped: int = 0
    #: interactions each filter removed: ``implicit_threshold`` and ``k-core``, where one was set
    filtered_out: dict = field(default_factory=dict)
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def train_item_counts(self) -> np.ndarray:
        """Training interactions per item index (the popularity baseline's scores)."""
        if "popularity" not in self._cache:
            train_items = self.sequences.items[self.sequences.split == TRAIN]
            self._cache["popularity"] = np.bincount(train_items, minlength=self.processor.num_items)
        return self._cache["popularity"]

    def ctr_dataset(self, split: str) -> datasets.Dataset:
        """CTR samples of ``split`` ("train", "valid", "test"); cached."""
        key = ("ctr", split)
        if key not in self._cache:
            code = SPLITS[split]
            negatives = self.config.train_negatives if code == TRAIN else self.config.eval_negatives
            self._cache[key] = build_ctr_dataset(
                self.sequences,
                code,
                self.processor.num_items,
                num_negatives=negatives,
                seed=self.config.seed + code,
                min_history=1 if code == TRAIN else 0,
                positive_codes=self._positive_codes(),
            )
        return self._cache[key]

    def next_item_dataset(self, split: str) -> datasets.Dataset:
        key = ("next", split)
        if key not in self._cache:
            self._cache[key] = build_next_item_dataset(self.sequences, SPLITS[split])
        return self._cache[key]

    def _positive_codes(self) -> np.ndarray:
        if "codes" not in self._cache:
            self._cache["codes"] = self.sequences.user_positive_codes(self.processor.num_items)
        return self._cache["codes"]

    @property
    def train_only_users(self) -> int:
        """Users with no held-out (validation or test) interaction: they are trained on only."""
        users = self.sequences.users
        held_out = np.unique(users[self.sequences.split != TRAIN])
        return int(len(np.unique(users)) - len(held_out))

    def summary(self) -> str:
        """One line of what trains, after every filter: the numbers the model card shows."""
        d = self.describe()
        line = (f"{d['dataset']}: {d['interactions']:,} interactions, {d['users']:,} users, {d['items']:,} items "
                f"(train {d['train_interactions']:,} / valid {d['valid_interactions']:,} / test "
                f"{d['test_interactions']:,}")
        return line + (f"; {d['train_only_users']:,} users in training only)" if d["train_only_users"] else ")")

    def describe(self) -> dict:
        split_counts = np.bincount(self.sequences.split, minlength=3)
        return {
            "dataset": self.log.name,
            "interactions": int(len(self.sequences)),
            # of the log (a fine-tuning run's vocabularies also hold the published model's IDs)
            "users": int(len(np.unique(self.sequences.users))),
            "items": int(len(np.unique(self.sequences.items))),
            "train_interactions": int(split_counts[TRAIN]),
            "valid_interactions": int(split_counts[VALID]),
            "test_interactions": int(split_counts[TEST]),
            "train_only_users": self.train_only_users,
            "split": self.config.split,
            "max_history": self.config.max_history,
            "implicit_threshold": self.config.implicit_threshold,
            "k-core (users, items)": [self.config.user_core, self.config.item_core],
            "has_timestamps": self.log.has_timestamps,
            "duplicates_dropped": int(self.duplicates_dropped),
            **{f"dropped by the {name} filter": int(count) for name, count in self.filtered_out.items()},
        }


def prepare_data(log: InteractionLog, config: Optional[DataConfig] = None) -> PreparedData:
    """Filter, order, split and encode a log; build the processor from it.

    The processor's vocabularies cover every user and item left after filtering (IDs only; no
    model ever sees held-out interactions as inputs for training).
    """
    config = config or DataConfig()
    if config.split == "temporal" and not log.has_timestamps:
        # its "times" are each user's positions: a cut at their quantiles would hold out only long histories
        raise DataOptionError(f"split: temporal cuts the log at one point in time, but '{log.name}' has no "
                              f"timestamps (only each user's order); use leave_one_out", option="split")
    timings = {}
    start = time.perf_counter()
    df, duplicates = apply_duplicates_policy(log.interactions, config.duplicates, log.name)
    df = df[[c for c in ("user_id", "item_id", "timestamp", "rating") if c in df]]
    if not log.has_timestamps:
        logger.info("%s has no timestamps: each user's interactions are in file order", log.name)
    filtered_out = {}
    if config.implicit_threshold is not None:
        before = len(df)
        df = to_implicit(df, config.implicit_threshold)
        filtered_out["implicit_threshold"] = before - len(df)
    if config.user_core or config.item_core:
        before = len(df)
        df = kcore_filter(df, config.user_core, config.item_core)
        filtered_out["k-core"] = before - len(df)
    df = sort_chronologically(df)
    if config.split == "leave_one_out":
        df = leave_one_out_split(df)
    elif config.split == "temporal":
        df = temporal_split(df)
    else:
        raise ValueError(f"unknown split {config.split!r}; use 'leave_one_out' or 'temporal'")
    if not (df["split"] == TRAIN).any():
        raise DataFormatError(f"log '{log.name}' leaves no training interaction after splitting")
    timings["filter_sort_split_s"] = time.perf_counter() - start

    start = time.perf_counter()
    processor = RecsysProcessor.fit(log, max_history=config.max_history, interactions=df)
    df = df.assign(
        user_index=processor.encode_users(df["user_id"]),
        item_index=processor.encode_items(df["item_id"]),
    )
    sequences = InteractionSequences.from_frame(df)
    timings["encode_s"] = time.perf_counter() - start
    config.timings = timings
    logger.info("prepared %s: %s", log.name, timings)
    return PreparedData(log=log, config=config, processor=processor, frame=df, sequences=sequences,
                        duplicates_dropped=duplicates, filtered_out=filtered_out)


def data_config_dict(config: DataConfig) -> dict:
    out = asdict(config)
    out.pop("timings", None)
    return out
