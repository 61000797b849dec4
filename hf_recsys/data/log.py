"""The in-memory form every reader returns: an interaction log plus optional side tables.

Raw IDs stay strings from the reader onwards, whatever the source format wrote, so that a
vocabulary built from one file matches IDs read from another ("42" is "42" whether it came
from a CSV integer column or a JSON string).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

#: Columns every interaction table carries once it is an InteractionLog (a table without
#: ``timestamp`` gets each user's positions 0, 1, 2, ...).
REQUIRED_COLUMNS = ("user_id", "item_id", "timestamp")


class DataFormatError(ValueError):
    """Raised when an input file, column, ID or data option is not what the reader expects.

    The message always names the file (and line, record or column where known), so a user can
    fix it, and is one line: newlines in the text are folded into spaces, so a command line can
    print ``str(error)`` alone. The same facts are attributes for code that wants them.

    Attributes:
        path: the file or folder the problem is in (None when not about a file).
        line: the 1-based line (record, row) number, where known.
        column: the column or key, where known.
        option: the data option at fault (``"columns"``, ``"sep"``, ...) for a bad option value.
    """

    def __init__(self, message: str, *, path: Optional[object] = None, line: Optional[int] = None,
                 column: Optional[str] = None, option: Optional[str] = None) -> None:
        super().__init__(re.sub(r"\s*[\r\n]+\s*", " ", str(message)).strip())
        self.path = None if path is None else str(path)
        self.line = line
        self.column = column
        self.option = option


#: The short name of :class:`DataFormatError`.
DataError = DataFormatError


class DataOptionError(DataFormatError):
    """A data option (``columns``, ``sep``, ``encoding``, ``duplicates``, ...) has a bad value;
    ``option`` names it. Raised before any file is read."""


@dataclass
class InteractionLog:
    """An interaction log with optional user and item side features.

    Attributes:
        interactions: one row per interaction with columns ``user_id`` (str), ``item_id``
            (str), ``timestamp`` (int64; seconds, or a position when the source has no time)
            and optionally ``rating`` (float32) and further columns.
        users: optional table indexed by nothing, with a ``user_id`` column (str) and one column
            per categorical user feature (str values), e.g. gender, age, occupation.
        items: optional table with an ``item_id`` column (str) and feature columns; a
            multi-valued feature (e.g. genres) holds a Python list of str per item.
        name: a short name of the source, used in model cards ("ml-1m", "synthetic", ...).
        multi_valued_item_features: names of the ``items`` columns that hold lists.
    """

    interactions: pd.DataFrame
    users: Optional[pd.DataFrame] = None
    items: Optional[pd.DataFrame] = None
    name: str = "custom"
    multi_valued_item_features: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        df = self.interactions
        missing = [c for c in ("user_id", "item_id") if c not in df.columns]
        if missing:
            raise DataFormatError(
                f"interaction log '{self.name}' lacks column(s) {missing}; "
                f"found {list(df.columns)}"
            )
        if len(df) == 0:
            raise DataFormatError(f"interaction log '{self.name}' is empty")
        # the readers' checks, for a table built in Python: a NaN ID would become the ID "nan"
        for column in ("user_id", "item_id"):
            df[column] = self._ids(df[column], column)
        if "timestamp" in df.columns:
            df["timestamp"] = self._timestamps(df["timestamp"])
        else:  # the row order is the order, as for a file without a time column
            df["timestamp"] = df.groupby("user_id", sort=False).cumcount().astype(np.int64)
            df.attrs["has_timestamps"] = False
        if "rating" in df.columns:
            df["rating"] = self._ratings(df["rating"])
        if self.users is not None:
            if "user_id" not in self.users.columns:
                raise DataFormatError(f"user table of '{self.name}' lacks column 'user_id'")
            self.users["user_id"] = self.users["user_id"].astype(str)
        if self.items is not None:
            if "item_id" not in self.items.columns:
                raise DataFormatError(f"item table of '{self.name}' lacks column 'item_id'")
            self.items["item_id"] = self.items["item_id"].astype(str)

    def _error(self, row: int, column: str, problem: str) -> DataFormatError:
        label = self.interactions.index[row]
        label = label.item() if isinstance(label, np.generic) else label
        return DataFormatError(f"interaction log '{self.name}': row {label}: column '{column}' {problem}",
                               column=column)

    def _ids(self, values: pd.Series, column: str) -> pd.Series:
        """IDs as strings; whole floats (a column that had a NaN once) written without ``.0``."""
        if pd.api.types.is_float_dtype(values):
            whole = np.isfinite(values.to_numpy()) & (np.floor(values.to_numpy()) == values.to_numpy())
            if not whole.all():
                k = int(np.argmax(~whole))
                raise self._error(k, column, "is empty or NaN" if np.isnan(values.iloc[k])
                                  else f"must be an ID (a string or a whole number), got {_plain(values.iloc[k])!r}")
            return values.astype(np.int64).astype(str)
        ids = values.astype(str)
        empty = (values.isna() | (ids == "")).to_numpy()
        if empty.any():
            raise self._error(int(np.argmax(empty)), column, "is empty or NaN")
        return ids

    def _timestamps(self, values: pd.Series) -> pd.Series:
        """int64 seconds (or positions) from numbers or datetimes."""
        if pd.api.types.is_datetime64_any_dtype(values):
            if values.isna().any():
                raise self._error(int(np.argmax(values.isna().to_numpy())), "timestamp", "is empty (NaT)")
            stamps = values if getattr(values.dt, "tz", None) is not None else values.dt.tz_localize("UTC")
            return (stamps - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
        numbers = pd.to_numeric(values, errors="coerce") if not pd.api.types.is_bool_dtype(values) else None
        finite = np.isfinite(numbers.to_numpy(dtype=np.float64, na_value=np.nan)) if numbers is not None else None
        if finite is None or not finite.all():
            k = 0 if finite is None else int(np.argmax(~finite))
            raise self._error(k, "timestamp", f"must be a number or a datetime, got {_plain(values.iloc[k])!r} (convert "
                                              f"date strings with pd.to_datetime)")
        return np.floor(numbers.to_numpy(dtype=np.float64)).astype(np.int64) \
            if pd.api.types.is_float_dtype(numbers) else numbers.astype(np.int64)

    def _ratings(self, values: pd.Series) -> pd.Series:
        numbers = pd.to_numeric(values, errors="coerce") if not pd.api.types.is_bool_dtype(values) else None
        ok = np.zeros(len(values), dtype=bool) if numbers is None else np.asarray(
            np.isfinite(numbers.to_numpy(dtype=np.float64, na_value=np.nan)) & (numbers.to_numpy(dtype=np.float64, na_value=np.nan) >= 0))
        if not ok.all():
            k = int(np.argmax(~ok))
            raise self._error(k, "rating", f"must be a finite number >= 0, got {_plain(values.iloc[k])!r}")
        return numbers.astype(np.float32)

    @property
    def user_feature_names(self) -> list[str]:
        return [] if self.users is None else [c for c in self.users.columns if c != "user_id"]

    @property
    def item_feature_names(self) -> list[str]:
        return [] if self.items is None else [c for c in self.items.columns if c != "item_id"]

    @property
    def has_timestamps(self) -> bool:
        """False when the source only gives an order (timestamps are positions)."""
        return bool(self.interactions.attrs.get("has_timestamps", True))

    def __len__(self) -> int:
        return len(self.interactions)

    def summary(self) -> str:
        df = self.interactions
        return (
            f"{self.name}: {len(df):,} interactions, {df['user_id'].nunique():,} users, "
            f"{df['item_id'].nunique():,} items"
        )


def _plain(value: object) -> object:
    """A numpy scalar as the Python value it holds (for messages)."""
    return value.item() if isinstance(value, np.generic) else value


#: What ``DataConfig.duplicates`` may say about exact duplicate interactions.
DUPLICATE_POLICIES = ("drop", "keep", "error")


def apply_duplicates_policy(interactions: pd.DataFrame, policy: str, name: str = "log"
                            ) -> tuple[pd.DataFrame, int]:
    """Exact duplicate interactions under ``policy``; returns the rows kept and the count found.

    Two rows are exact duplicates when user, item, timestamp and rating (where the log has
    one) are all equal. In a table without real timestamps (``attrs["has_timestamps"]``
    False) the positions do not count: rows with the same user, item and rating are
    duplicates, as nothing in the file tells them apart (``"keep"`` keeps repeated
    interactions). A sequence file (``attrs["one_line_per_user"]``) lists each interaction
    once, in order: an item repeated there is a repeated interaction, never a duplicate.

    * ``"drop"``: keep the first of each group (a warning gives the count and an example);
    * ``"keep"``: keep them all;
    * ``"error"``: a DataFormatError giving the count and an example.
    """
    if policy not in DUPLICATE_POLICIES:
        raise DataOptionError(f"duplicates: must be one of {', '.join(DUPLICATE_POLICIES)}, "
                              f"got {policy!r}", option="duplicates")
    if policy == "keep" or interactions.attrs.get("one_line_per_user", False):
        return interactions, 0
    timed = interactions.attrs.get("has_timestamps", True)
    cols = [c for c in ("user_id", "item_id", "timestamp", "rating")
            if c in interactions and (timed or c != "timestamp")]
    dup = interactions.duplicated(cols, keep="first").to_numpy()
    count = int(dup.sum())
    if count == 0:
        return interactions, 0
    first = interactions.iloc[int(dup.argmax())]
    example = f"user {first['user_id']!r}, item {first['item_id']!r}" + (
        f", timestamp {first['timestamp']}" if timed else " (the log has no timestamps)")
    if policy == "error":
        raise DataFormatError(
            f"{name}: {count:,} exact duplicate interaction(s) (same {', '.join(cols)}), e.g. "
            f"{example}; the duplicates option (--duplicates / duplicates=) drop removes them, keep keeps them",
            option="duplicates")
    logger.warning("%s: dropped %s exact duplicate interaction(s) (e.g. %s); the duplicates option "
                   "(--duplicates / duplicates=) keep keeps them, error refuses the log", name, f"{count:,}", example)
    return interactions[~dup], count
