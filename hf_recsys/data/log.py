"""The in-memory form every reader returns: an interaction log plus optional side tables.

Raw IDs stay strings from the reader onwards, whatever the source format wrote, so that a
vocabulary built from one file matches IDs read from another ("42" is "42" whether it came
from a CSV integer column or a JSON string).
"""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass, field
from typing import Callable, Optional

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


#: ``fail(k, problem)``: the DataFormatError for position ``k`` of a column, where ``problem``
#: says what is wrong ("is empty", "must be ..."); the caller names the file, line or row.
Fail = Callable[[int, str], DataFormatError]

#: ratings are stored as float32
MAX_RATING = float(np.finfo(np.float32).max)


def ids_as_strings(values: pd.Series, fail: Fail) -> pd.Series:
    """User or item IDs as strings, kept exactly as written (``"007"`` stays ``"007"``,
    surrounding spaces dropped); a whole number written as a float (a column that once held a
    NaN, a JSON ``42.0``) becomes ``"42"``. An empty or NaN ID, true/false, a fraction, a list
    or a dict is an error."""
    if pd.api.types.is_bool_dtype(values):
        raise fail(0, "holds true/false, not IDs")
    missing = values.isna().to_numpy()
    if missing.any():  # NaN, None, pandas' NA of a nullable column
        raise fail(int(np.argmax(missing)), "is empty")
    if pd.api.types.is_float_dtype(values):
        whole = is_integer_like(values).to_numpy()
        if not whole.all():
            k = int(np.argmax(~whole))
            raise fail(k, f"must be an ID (a string or a whole number), got {_plain(values.iloc[k])!r}")
        return values.astype(np.int64).astype(str)
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(str)
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=False) != "string":
        # values of mixed types (JSON, a Python list): check each
        kinds = values.map(_id_kind).to_numpy()
        bad = kinds == "bad"
        if bad.any():
            k = int(np.argmax(bad))
            text = repr(values.iloc[k])
            raise fail(k, "must be an ID (a string or a whole number), got "
                          f"{text if len(text) <= 120 else text[:120] + '...'}")
        whole = kinds == "float"
        if whole.any():  # 42.0 -> "42", as in an all-number column
            values = values.copy()
            values[whole] = [str(int(v)) for v in values[whole]]
    stripped = values.astype(str).str.strip()
    empty = (stripped == "").to_numpy()
    if empty.any():
        raise fail(int(np.argmax(empty)), "is empty")
    return stripped


def _id_kind(value: object) -> str:
    """"ok", "float" (a whole number written as a float) or "bad" for one ID value."""
    if value is None or isinstance(value, str):
        return "ok"
    if isinstance(value, (bool, np.bool_, list, dict, tuple, set, np.ndarray)):
        return "bad"
    if isinstance(value, (float, np.floating)):
        return "float" if np.isfinite(value) and value == int(value) else "bad"
    return "ok"


def is_integer_like(values: pd.Series) -> pd.Series:
    """True where ``values`` (numeric, maybe NaN) is a finite whole number."""
    arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(arr) & (np.floor(arr) == arr) & (np.abs(arr) < 2.0**63)
    return pd.Series(ok, index=values.index)


#: Unix times in other units than seconds, by the magnitude that gives them away (seconds reach
#: 1e11 only in the year 5138): (lowest absolute value, units per second, name)
TIME_UNITS = ((1e17, 10**9, "nanoseconds"), (1e14, 10**6, "microseconds"), (1e11, 10**3, "milliseconds"))


def timestamps_as_seconds(values: pd.Series, fail: Fail, name: str = "the log") -> np.ndarray:
    """int64 Unix seconds from integer, float (floored), datetime or date/time-string
    timestamps; whole-number strings are converted exactly, not through float64.

    Unix times in milliseconds, microseconds or nanoseconds (every value at least 1e11, 1e14 or
    1e17) are converted to seconds, with a warning; a column that mixes such units is an error.
    Date strings are read in one format for the whole column: ISO 8601, else the format of the
    first other row, day first where a row shows it (a day above 12), with a warning where no
    row tells day-first from month-first dates apart."""
    def bad(mask, why: str) -> DataFormatError:
        k = int(np.asarray(mask).argmax())
        raw = _plain(values.iloc[k])
        if raw is None or (isinstance(raw, float) and raw != raw):
            return fail(k, "is empty or NaN")
        return fail(k, f"{why}, got {raw!r}")

    if pd.api.types.is_datetime64_any_dtype(values):
        dt = values if getattr(values.dt, "tz", None) is not None else values.dt.tz_localize("UTC")
    elif pd.api.types.is_bool_dtype(values):
        raise bad(np.ones(len(values), dtype=bool), "must be a timestamp")
    elif pd.api.types.is_numeric_dtype(values):
        arr = _finite_unix_times(values.to_numpy(dtype=np.float64, na_value=np.nan), bad)
        exact = None if pd.api.types.is_float_dtype(values) else values.to_numpy(dtype=np.int64)
        return _in_seconds(arr, exact, bad, name)
    else:
        if values.isna().any():
            raise bad(values.isna(), "is missing")
        strings = values.astype(str).str.strip()
        if (strings == "").any():
            raise bad(strings == "", "is empty")
        num = pd.to_numeric(strings, errors="coerce")
        if num.notna().all():
            arr = _finite_unix_times(num.to_numpy(dtype=np.float64), bad)
            whole = strings.str.fullmatch(r"[+-]?\d{1,18}").to_numpy().all()
            return _in_seconds(arr, strings.astype(np.int64).to_numpy() if whole else None, bad, name)
        if num.notna().any():  # Unix times mixed with something else
            raise bad(num.isna(), "must be a Unix time like the other rows")
        dt = _dates(strings, bad, name)
    if dt.isna().any():
        raise bad(dt.isna(), "must be a Unix time or a date/time")
    return ((dt - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy(dtype=np.int64)


def _finite_unix_times(arr: np.ndarray, bad: Callable) -> np.ndarray:
    """``arr`` (float64 Unix times), each finite and below 2**62 (an int64 in any unit)."""
    with np.errstate(invalid="ignore"):
        out_of_range = ~np.isfinite(arr) | (np.abs(arr) >= 2.0**62)
    if out_of_range.any():
        raise bad(out_of_range, "must be a finite Unix time")
    return arr


def _in_seconds(arr: np.ndarray, exact: Optional[np.ndarray], bad: Callable, name: str) -> np.ndarray:
    """Unix times ``arr`` (float64; ``exact`` the same as int64 where they are whole) in seconds."""
    size = np.abs(arr)
    for low, per_second, unit in TIME_UNITS:
        if size.max(initial=0.0) >= low:
            if size.min() < low:
                raise bad(size < low, f"must be a Unix time in the unit of the other rows ({unit}: the largest "
                                      f"is {_plain(arr[np.argmax(size)]):.0f})")
            logger.warning("%s: the timestamps are read as Unix times in %s (every one is %.0e or more: as "
                           "seconds they would lie thousands of years ahead)", name, unit, low)
            return exact // per_second if exact is not None else np.floor(arr / per_second).astype(np.int64)
    return exact if exact is not None else np.floor(arr).astype(np.int64)


def _dates(strings: pd.Series, bad: Callable, name: str) -> pd.Series:
    """Date strings in one format for the whole column (see :func:`timestamps_as_seconds`)."""
    try:
        from pandas.tseries.api import guess_datetime_format
    except ImportError:  # pandas < 2.2 kept it private
        from pandas._libs.tslibs.parsing import guess_datetime_format

    iso = pd.to_datetime(strings, utc=True, errors="coerce", format="ISO8601")
    if iso.notna().all():
        return iso
    first = strings.iloc[int(np.argmax(iso.isna().to_numpy()))]
    with warnings.catch_warnings():  # pandas warns that it guessed
        warnings.simplefilter("ignore")
        formats = list(dict.fromkeys(f for f in (guess_datetime_format(first), guess_datetime_format(first, dayfirst=True)) if f))
        if not formats:  # a form pandas cannot name (2/5/2020 1:00 PM): row by row, in one day/month order
            return _dates_row_by_row(strings, bad, name)
        parsed = {f: pd.to_datetime(strings, utc=True, errors="coerce", format=f) for f in formats}
    complete = [f for f, dt in parsed.items() if dt.notna().all()]
    if not complete:
        readings = list(parsed)
        only = [int(np.argmax(parsed[f].notna().to_numpy() & parsed[g].isna().to_numpy()))
                if (parsed[f].notna() & parsed[g].isna()).any() else None for f, g in (readings, readings[::-1])]
        if len(readings) == 2 and None not in only:  # each reading fails a row the other reads
            other = strings.iloc[only[0]]
            raise bad(parsed[readings[0]].isna(), f"must be a date/time in one format for the whole column: this row "
                                                  f"reads only as {readings[1]}, the row of {other!r} only as "
                                                  f"{readings[0]} (ISO 8601 dates such as 2020-01-31 are unambiguous)")
        raise bad(parsed[readings[0]].isna(), f"must be a date/time in one format for the whole column (as {first!r}: "
                                              f"{readings[0]}; ISO 8601 dates such as 2020-01-31 are safest)")
    if len(complete) > 1 and not parsed[complete[0]].equals(parsed[complete[1]]):
        logger.warning("%s: the dates such as %r read as %s or as %s; read as %s (month first). Write ISO 8601 "
                       "dates (2020-01-31) if they are day first", name, first, complete[0], complete[1], complete[0])
    return parsed[complete[0]]


def _dates_row_by_row(strings: pd.Series, bad: Callable, name: str) -> pd.Series:
    """Dates of a form pandas cannot name, each row parsed on its own but all in one order: day
    first when a row's first number is above 12, month first when a row's second one is, an
    error when rows show both, month first with a warning when none shows either."""
    numbers = strings.str.extract(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-]\d")
    day_first = False
    if numbers.notna().all().all():
        first, second = numbers[0].astype(int).to_numpy(), numbers[1].astype(int).to_numpy()
        days_first, months_first = first > 12, second > 12
        if days_first.any() and months_first.any():
            other = strings.iloc[int(np.argmax(months_first))]
            raise bad(days_first, f"must be a date/time in one format for the whole column: this row puts the day "
                                  f"first, the row of {other!r} the month (ISO 8601 dates such as 2020-01-31 are "
                                  f"unambiguous)")
        day_first = bool(days_first.any())
        if not days_first.any() and not months_first.any() and (first != second).any():
            logger.warning("%s: the dates such as %r read day first or month first; read month first. Write ISO 8601 "
                           "dates (2020-01-31) if they are day first", name, strings.iloc[int(np.argmax(first != second))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dates = pd.to_datetime(strings, utc=True, errors="coerce", format="mixed", dayfirst=day_first)
    if dates.isna().any():
        raise bad(dates.isna(), "must be a Unix time or a date/time")
    return dates


def checked_numbers(values: pd.Series, fail: Fail, *, low: Optional[float] = None,
                    high: Optional[float] = None, integer: bool = False) -> np.ndarray:
    """float64 ``values``, each a finite number within [low, high] (and whole if ``integer``)."""
    num = pd.to_numeric(values, errors="coerce") if not pd.api.types.is_numeric_dtype(values) \
        else values
    arr = np.asarray(num, dtype=np.float64) if not pd.api.types.is_bool_dtype(values) \
        else np.full(len(values), np.nan)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(arr)
        if low is not None:
            ok &= arr >= low
        if high is not None:
            ok &= arr <= high
        if integer:
            ok &= np.floor(arr) == arr
    if ok.all():
        return arr
    k = int(np.argmax(~ok))
    raw = _plain(values.iloc[k])
    if raw is None or (isinstance(raw, float) and raw != raw):
        raise fail(k, "is empty or NaN")
    if not np.isfinite(arr[k]):
        why = "must be a finite number"
    else:
        too_high = high is not None and arr[k] > high
        if low is not None and high is not None and (high < 1e30 or not too_high):
            bounds = f" between {low:g} and {high:g}" if high < 1e30 else f" >= {low:g}"
        else:
            bounds = f" <= {high:g}" if too_high else f" >= {low:g}"
        why = f"must be {'a whole number' if integer else 'a number'}{bounds}"
    raise fail(k, f"{why}, got {raw!r}")


def ratings_as_float32(values: pd.Series, fail: Fail) -> np.ndarray:
    """Ratings as float32: finite numbers >= 0 that fit a float32; text that is not a number,
    an empty cell, NaN, inf, a negative or an overflowing rating is an error."""
    if pd.api.types.is_bool_dtype(values):
        raise fail(0, "holds true/false, not numbers")
    if not pd.api.types.is_numeric_dtype(values):
        num = pd.to_numeric(values, errors="coerce")
        strings = values.astype(str).str.strip().str.lower()
        nan_like = values.isna() | strings.isin(["nan", "+nan", "-nan"])
        bad = (num.isna() & ~nan_like).to_numpy()
        if bad.any():
            k = int(np.argmax(bad))
            raise fail(k, f"must be a number, got {_plain(values.iloc[k])!r}")
    return checked_numbers(values, fail, low=0.0, high=MAX_RATING).astype(np.float32)


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
            df[column] = ids_as_strings(df[column], self._fail(column))
        if "timestamp" in df.columns:
            df["timestamp"] = timestamps_as_seconds(df["timestamp"], self._fail("timestamp"), f"interaction log '{self.name}'")
        else:  # the row order is the order, as for a file without a time column
            df["timestamp"] = df.groupby("user_id", sort=False).cumcount().astype(np.int64)
            df.attrs["has_timestamps"] = False
        if "rating" in df.columns:
            df["rating"] = ratings_as_float32(df["rating"], self._fail("rating"))
        if self.users is not None:
            if "user_id" not in self.users.columns:
                raise DataFormatError(f"user table of '{self.name}' lacks column 'user_id'")
            self.users["user_id"] = self.users["user_id"].astype(str)
        if self.items is not None:
            if "item_id" not in self.items.columns:
                raise DataFormatError(f"item table of '{self.name}' lacks column 'item_id'")
            self.items["item_id"] = self.items["item_id"].astype(str)

    def _fail(self, column: str) -> Fail:
        def fail(row: int, problem: str) -> DataFormatError:
            label = _plain(self.interactions.index[row])
            return DataFormatError(f"interaction log '{self.name}': row {label}: column '{column}' {problem}",
                                   column=column)
        return fail

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
