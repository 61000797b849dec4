"""Any interaction table: CSV / TSV (with or without a header), Parquet, JSON lines.

:func:`read_table` runs named steps, each a function below:

1. :func:`table_format` -- csv / tsv / parquet / jsonl, from ``format=`` or the suffix.
2. :func:`load_frame` -- the file's rows as a frame of strings (CSV/TSV: decode the text in its
   encoding, choose the separator, parse) or of the stored types (Parquet, JSON lines).
3. :func:`map_columns` -- the ``columns`` option: our names from the file's names or positions.
4. :func:`check_ids` -- user and item IDs present, scalar, exact as strings.
5. :func:`convert_timestamps` -- Unix seconds, or file order when the table has no time column.
6. :func:`check_ratings` -- finite and not negative.
7. :func:`split_features` -- ``user.NAME`` / ``item.NAME`` columns become side tables.
8. :func:`report_extra_columns` -- the columns no model reads, named in a warning.

Exact duplicate rows are handled later, by the policy of
:func:`~hf_recsys.data.log.apply_duplicates_policy` (the ``duplicates`` option of
``DataConfig``), for every reader alike.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Optional, Union

import numpy as np
import pandas as pd

from ..log import DataFormatError, DataOptionError, InteractionLog, ids_as_strings, ratings_as_float32, timestamps_as_seconds
from ._common import (
    _DEFAULT_NA,
    PathLike,
    _as_path,
    _data_line_numbers,
    _decode,
    _fail,
    _looks_binary,
    _read_bytes,
    _shorten,
)

logger = logging.getLogger("hf_recsys.data.readers")

#: File suffixes (after an optional ``.gz``) and the table format each means.
TABLE_SUFFIXES = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "tsv", ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl",
}
TABLE_FORMATS = ("csv", "tsv", "parquet", "jsonl")

#: The interaction columns a table maps; ``user_id`` and ``item_id`` are required.
TABLE_COLUMNS = ("user_id", "item_id", "timestamp", "rating")

#: Separators tried, in this order, when a CSV/TSV header holds none of the expected one.
_SEPARATORS = (",", "\t", ";", "|")
_SEP_NAMES = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe", " ": "space"}

#: Column-spec keys for side features: ``user.NAME`` and ``item.NAME``.
_FEATURE_KEY = re.compile(r"^(user|item)\.([A-Za-z0-9_][A-Za-z0-9_\-]*)$")

Source = Union[str, int, None]


# --------------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------------


def parse_columns(spec: Union[str, Mapping[str, Source], None], *,
                  no_header: bool = False) -> dict[str, Source]:
    """The ``columns`` option as a dict: our column name -> the file's column name, or its
    0-based position when the file has no header.

    ``spec`` is ``"user_id=uid,item_id=iid,timestamp=ts,rating=stars"`` (any subset; a column
    name holding a comma is double-quoted: ``user_id="user, id"``) or a dict.
    Keys are ``user_id``, ``item_id``, ``timestamp``, ``rating``, and ``user.NAME`` /
    ``item.NAME`` for a user or item feature column. In a dict, ``timestamp: None`` says the
    table has no time column.

    Raises:
        DataOptionError (option ``"columns"``): an entry without ``=``, an unknown or repeated
            key, an empty value, one file column given twice, or (``no_header``) a position that
            is not a whole number >= 0.
    """
    if spec is None:
        return {}
    pairs: list[tuple[str, Source]] = []
    if isinstance(spec, str):
        # commas inside double quotes belong to a column name: user_id="user, id" or "user_id=user, id"
        for entry in re.findall(r'(?:[^,"]|"[^"]*")+', spec):
            entry = _unquoted(entry.strip())
            if not entry:
                continue
            if "=" not in entry:
                raise DataOptionError(f"columns: entry {entry!r} is not KEY=COLUMN (e.g. "
                                      "user_id=uid,item_id=iid)", option="columns")
            key, value = (x.strip() for x in entry.split("=", 1))
            pairs.append((key, _unquoted(value)))
        if not pairs:
            raise DataOptionError("columns: empty; give KEY=COLUMN pairs, e.g. "
                                  "user_id=uid,item_id=iid", option="columns")
    elif isinstance(spec, Mapping):
        pairs = [(str(k), v) for k, v in spec.items()]
    else:
        raise DataOptionError(f"columns: expected a string or a mapping, got "
                              f"{type(spec).__name__}", option="columns")
    out: dict[str, Source] = {}
    used: dict[Source, str] = {}
    for key, value in pairs:
        if key not in TABLE_COLUMNS and not _FEATURE_KEY.match(key):
            raise DataOptionError(
                f"columns: unknown key {key!r}; keys are {', '.join(TABLE_COLUMNS)}, "
                "user.NAME and item.NAME (a user or item feature)", option="columns")
        if key in out:
            raise DataOptionError(f"columns: key {key!r} is given twice", option="columns")
        if value is None:
            if key != "timestamp":
                raise DataOptionError(f"columns: only timestamp may be None (no time column), "
                                      f"not {key!r}", option="columns")
        elif isinstance(value, str) and value == "":
            raise DataOptionError(f"columns: key {key!r} has no column name", option="columns")
        elif no_header:
            if isinstance(value, bool) or not (
                    isinstance(value, (int, np.integer)) or str(value).isdigit()):
                raise DataOptionError(
                    f"columns: with no_header, {key!r} must name a 0-based column position "
                    f"(e.g. {key}=0), got {value!r}", option="columns")
            value = int(value)
            if value < 0:
                raise DataOptionError(f"columns: position of {key!r} must be >= 0, got {value}",
                                      option="columns")
        else:
            value = str(value)
        if value is not None and value in used:
            raise DataOptionError(f"columns: {key!r} and {used[value]!r} both name column "
                                  f"{value!r}", option="columns")
        if value is not None:
            used[value] = key
        out[key] = value
    return out


def _unquoted(text: str) -> str:
    """``text`` without one pair of surrounding double quotes."""
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def parse_sep(sep: Optional[str]) -> Optional[str]:
    """The ``sep`` option as one character: ``"\\t"`` and ``"tab"`` mean a tab,
    ``"space"`` a space. DataOptionError for anything else longer than one character."""
    if sep is None:
        return None
    named = {"tab": "\t", "\\t": "\t", "space": " ", "comma": ",", "semicolon": ";",
             "pipe": "|"}
    value = named.get(sep.lower(), sep) if isinstance(sep, str) else sep
    if not isinstance(value, str) or len(value) != 1 or value in "\r\n\"":
        raise DataOptionError(f"sep: expected one character (or tab, space, comma, semicolon, "
                              f"pipe), got {sep!r}", option="sep")
    return value


@dataclass
class TableOptions:
    """How :func:`read_table` reads a file (validated options; see :func:`read_table`)."""

    columns: dict[str, Source]
    header: bool = True
    sep: Optional[str] = None
    encoding: Optional[str] = None

    def source(self, key: str) -> Source:
        """The file column for ``key``: mapped, else the key itself (header files only)."""
        if key in self.columns:
            return self.columns[key]
        return key if self.header else None


# --------------------------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------------------------


def table_format(path: Path, format: Optional[str] = None, default_format: Optional[str] = None) -> str:
    """Step 1: ``format`` (validated), else the format the file's suffix means, else
    ``default_format``."""
    if format is not None:
        fmt = str(format).lower()
        if fmt not in TABLE_FORMATS:
            raise DataOptionError(f"format: must be one of {', '.join(TABLE_FORMATS)}, got "
                                  f"{format!r}", option="format")
        return fmt
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = Path(name).suffix
    if suffix not in TABLE_SUFFIXES and default_format is not None:
        return default_format
    if suffix not in TABLE_SUFFIXES:
        raise DataFormatError(
            f"{path}: cannot infer the table format from the suffix {suffix!r}; known suffixes: "
            f"{', '.join(TABLE_SUFFIXES)} (or name the format: --dataset / format= one of {', '.join(TABLE_FORMATS)})",
            path=path)
    return TABLE_SUFFIXES[suffix]


@dataclass
class LoadedFrame:
    """What :func:`load_frame` returns: the rows, and how to name a row in a message."""

    frame: pd.DataFrame
    line_of: Callable[[int], int]
    unit: str  # "line", "record" or "row"
    sep: Optional[str] = None


def choose_separator(path: Path, first_line: str, fmt: str, sep: Optional[str]) -> str:
    """The separator of a CSV/TSV file: ``sep`` when given, else the format's (comma / tab)
    unless the first line holds none of it but exactly one other common separator, which is
    then used and named in a warning."""
    if sep is not None:
        return sep
    default = "," if fmt == "csv" else "\t"
    if default in first_line:
        return default
    found = [s for s in _SEPARATORS if s != default and s in first_line]
    if len(found) == 1:
        logger.warning("%s: the first line has no %s but %s separators; reading it with "
                       "sep %r (choose with --sep / sep=)", path, _SEP_NAMES[default],
                       _SEP_NAMES[found[0]], found[0])
        return found[0]
    return default


def _first_nonblank(text: str) -> str:
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        if text[start:end].strip():
            return text[start:end].rstrip("\r")
        start = end + 1
    return ""


def _load_delimited(path: Path, fmt: str, options: TableOptions) -> LoadedFrame:
    data = _read_bytes(path)
    what = "CSV" if fmt == "csv" else "TSV"
    text = _decode(path, data, options.encoding, what)
    if not text or text.isspace():
        raise DataFormatError(f"{path}: file is empty", path=path)
    first_line = _first_nonblank(text)
    sep = choose_separator(path, first_line, fmt, options.sep)
    cache: dict[str, np.ndarray] = {}

    def line_of(k: int) -> int:
        if "lines" not in cache:
            cache["lines"] = _data_line_numbers(text, options.header)
        return int(cache["lines"][k])

    # ID and feature columns are read as text, exactly as written ("007" stays "007", "NA" is
    # an ID); the others get the C parser's numbers, with the usual NA strings as missing.
    first = next(csv.reader([first_line], delimiter=sep), [])
    names: list = [c.strip() for c in first] if options.header else list(range(len(first)))
    text_keys = ["user_id", "item_id"] + [k for k in options.columns if "." in k]
    if not options.header and not options.columns:
        text_cols = set(names[:2])
    else:
        text_cols = {options.source(k) for k in text_keys} - {None}
    try:
        df = pd.read_csv(
            io.StringIO(text), sep=sep, header=0 if options.header else None,
            dtype={c: str for c in names if c in text_cols}, keep_default_na=False,
            na_values={c: _DEFAULT_NA for c in names if c not in text_cols},
            index_col=False, engine="c",
        )
    except pd.errors.EmptyDataError as exc:
        raise DataFormatError(f"{path}: file is empty", path=path) from exc
    except (ValueError, pd.errors.ParserError) as exc:
        message = str(exc).strip()
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
        if m:
            lineno = int(m.group(2))
            raise _fail(path, f"expected {m.group(1)} fields separated by {sep!r}, found "
                              f"{m.group(3)}", line=lineno) from None
        raise DataFormatError(f"{path}: cannot parse {what}: {message}", path=path) from None
    if not options.header:
        df.columns = list(range(df.shape[1]))
    else:
        df.columns = [str(c).strip() for c in df.columns]
        unnamed = [i for i, c in enumerate(df.columns) if c == "" or c.startswith("Unnamed: ")]
        dup = pd.Index(df.columns).duplicated() | np.array(
            [bool(re.fullmatch(r".+\.\d+", c)) and c.rsplit(".", 1)[0] in df.columns
             for c in df.columns])
        if unnamed:
            raise _fail(path, f"the header has an empty column name at position {unnamed[0]} "
                              f"(of {df.shape[1]} columns separated by {sep!r})", line=1)
        if dup.any():
            name = df.columns[int(np.argmax(dup))].rsplit(".", 1)[0]
            raise _fail(path, f"the header names column {name!r} twice", line=1, column=name)
    if len(df) == 0:
        raise DataFormatError(f"{path}: file has no data rows", path=path)
    return LoadedFrame(df, line_of, "line", sep)


def _load_parquet(path: Path) -> LoadedFrame:
    data_head = path.read_bytes()[:4] if path.exists() else b""
    if data_head != b"PAR1":
        raise DataFormatError(f"{path}: not a Parquet file (it does not start with the bytes "
                              "PAR1)", path=path)
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises a variety of types
        raise DataFormatError(f"{path}: cannot read Parquet: {exc}", path=path) from exc
    if len(df) == 0:
        raise DataFormatError(f"{path}: file has no data rows", path=path)
    return LoadedFrame(df, lambda k: k + 1, "row")


def _load_json_lines(path: Path, options: TableOptions) -> LoadedFrame:
    data = _read_bytes(path)
    text = _decode(path, data, options.encoding, "JSON lines")
    if not text or text.isspace():
        raise DataFormatError(f"{path}: file is empty", path=path)
    numbers = _data_line_numbers(text)
    try:
        # dtype=False: no dtype guessing and no date conversion of "timestamp"-like columns
        df = pd.read_json(io.StringIO(text), lines=True, dtype=False)
    except (ValueError, TypeError) as exc:
        _diagnose_json_lines(path, text)
        raise DataFormatError(f"{path}: cannot parse JSON lines: {str(exc).strip()}",
                              path=path) from None
    if len(df) == 0 or df.shape[1] == 0:
        raise DataFormatError(f"{path}: file has no records", path=path)
    if len(df) != len(numbers):
        return LoadedFrame(df, lambda k: k + 1, "record")
    return LoadedFrame(df, lambda k: int(numbers[k]), "line")


def _diagnose_json_lines(path: Path, text: str) -> None:
    """Error path only: raise for the first line that is not a JSON object of scalars that fit
    64 bits."""
    import json

    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            raise _fail(path, f"not valid JSON: {_shorten(line.strip())!r}", line=lineno) from None
        if not isinstance(rec, dict):
            raise _fail(path, f"expected a JSON object, got {type(rec).__name__}: "
                              f"{_shorten(line.strip())!r}", line=lineno)
        for key, value in rec.items():
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
                raise _fail(path, f"key '{key}' holds a number too large for 64 bits; write "
                                  "such IDs as JSON strings", line=lineno, column=key)


def load_frame(path: Path, fmt: str, options: TableOptions) -> LoadedFrame:
    """Step 2: the rows of the file. CSV/TSV cells are strings (IDs stay exactly as written);
    Parquet and JSON keep their stored types."""
    if fmt in ("csv", "tsv"):
        return _load_delimited(path, fmt, options)
    if options.sep is not None or not options.header:
        raise DataOptionError(f"{'sep' if options.sep is not None else 'no_header'}: applies to "
                              f"CSV/TSV files, not {fmt}", option="sep"
                              if options.sep is not None else "no_header")
    raw_head = _read_bytes(path)[:65536] if fmt == "jsonl" else b""
    if fmt == "jsonl" and _looks_binary(raw_head):
        raise _fail(path, "is a binary file, not JSON lines text (found control bytes such as "
                          "NUL near the start)")
    return _load_parquet(path) if fmt == "parquet" else _load_json_lines(path, options)


def map_columns(path: Path, loaded: LoadedFrame, options: TableOptions) -> dict[str, str]:
    """Step 3: rename the file's columns to ours in place; returns our name -> the file's
    column as a message should name it. A mapped column the file lacks is an error naming the
    columns it has; ``timestamp`` and ``rating`` are optional unless mapped explicitly."""
    df = loaded.frame
    found = list(df.columns)
    if not options.header and not options.columns:
        defaults = TABLE_COLUMNS[: df.shape[1]]
        if df.shape[1] > len(TABLE_COLUMNS) or df.shape[1] < 2:
            raise DataFormatError(
                f"{path}: a file without a header and {df.shape[1]} column(s) needs the columns "
                "option to say which position is which (e.g. user_id=0,item_id=1,timestamp=2)",
                path=path)
        options.columns = {k: i for i, k in enumerate(defaults)}
        logger.info("%s: no header; reading columns as %s", path, ", ".join(defaults))
    wanted: dict[str, Source] = {}
    for key in ("user_id", "item_id"):
        wanted[key] = options.source(key)
        if wanted[key] is None:
            raise DataOptionError(f"columns: with no_header, give the position of {key} too "
                                  f"(e.g. user_id=0,item_id=1)", option="columns")
    for key in ("timestamp", "rating"):
        src = options.source(key)
        if key in options.columns or (src is not None and src in found):
            wanted[key] = src
    wanted.update({k: v for k, v in options.columns.items() if k not in wanted})
    missing = [k for k, v in wanted.items() if v is not None and v not in found]
    if missing:
        if options.header:
            named = ", ".join(f"{wanted[k]!r} (for {k})" if wanted[k] != k else repr(k)
                              for k in missing)
            hint = ""
            if {"userId", "movieId"} <= set(found):
                hint = ("; a MovieLens ratings.csv is read from its folder (dataset ml-latest) "
                        "or with the columns option (--columns / columns=) user_id=userId,item_id=movieId")
            elif options.columns == {} and len(found) >= 2:
                hint = "; say which is which with the columns option (--columns / columns=), e.g. user_id=COLUMN,item_id=COLUMN"
            raise DataFormatError(f"{path}: missing column(s) {named}; the file has columns "
                                  f"{found}{hint}", path=path, column=str(wanted[missing[0]]))
        named = ", ".join(f"position {wanted[k]} (for {k})" for k in missing)
        raise DataFormatError(f"{path}: no column at {named}; the file has {df.shape[1]} "
                              f"column(s) (positions 0-{df.shape[1] - 1})", path=path)
    rename = {v: k for k, v in wanted.items() if v is not None}
    clash = [c for c in found if c in wanted and c not in rename and wanted[c] is not None
             and wanted[c] != c]
    if clash and options.header:
        mapping = ", ".join(f"{c}={wanted[c]}" for c in clash)
        raise DataFormatError(
            f"{path}: the file has its own column {clash[0]!r}, which {mapping} would overwrite; map that column too "
            f"(as a feature, user.NAME={clash[0]} or item.NAME={clash[0]}, when it holds one value per user or item) or "
            f"rename or drop it in the file", path=path,
            column=clash[0])
    df = loaded.frame = df.rename(columns=rename)
    if not options.header:
        df.columns = [c if isinstance(c, str) else f"column_{c}" for c in df.columns]
    if wanted.get("timestamp", "absent") is None:
        loaded.frame = df.drop(columns=[c for c in ("timestamp",) if c in df.columns])
    return {k: (str(v) if options.header else f"position {v}") for k, v in wanted.items()
            if v is not None}


def check_ids(path: Path, loaded: LoadedFrame, sources: Mapping[str, str]) -> None:
    """Step 4: every row has a user and an item ID; each ID a string or a whole number, kept
    exactly as written (``"007"`` stays ``"007"``, a JSON ``42`` and ``42.0`` become ``"42"``)."""
    df = loaded.frame
    for col in ("user_id", "item_id"):
        src = sources[col]

        def fail(k: int, problem: str, col: str = col, src: str = src) -> DataFormatError:
            hint = _short_row_hint(loaded, k) if problem == "is empty" else ""
            return _fail(path, f"column '{src}' ({col}) {problem}{hint}", line=loaded.line_of(k),
                         unit=loaded.unit, column=src)

        df[col] = ids_as_strings(df[col], fail)


def _short_row_hint(loaded: LoadedFrame, k: int) -> str:
    """", the line has N fields, the header M" for a CSV row with too few fields."""
    if loaded.sep is None:
        return ""
    row = loaded.frame.iloc[k]
    n_fields = len(row)
    tail = 0
    for v in row.iloc[::-1]:
        if (isinstance(v, str) and v == "") or (isinstance(v, float) and v != v):
            tail += 1
        else:
            break
    if tail == 0:
        return ""
    return (f" (the line may be cut short: its last {tail} of {n_fields} fields separated by "
            f"{loaded.sep!r} are empty)")


def convert_timestamps(path: Path, loaded: LoadedFrame, sources: Mapping[str, str]) -> bool:
    """Step 5: ``timestamp`` as int64 Unix seconds; returns False when the table has no time
    column, in which case the file order is the order: each user's rows get 0, 1, 2, ...
    (``attrs["has_timestamps"]`` False, and an info message says so)."""
    df = loaded.frame
    if "timestamp" not in sources:
        df["timestamp"] = df.groupby("user_id", sort=False).cumcount().astype(np.int64)
        df.attrs["has_timestamps"] = False
        logger.info("%s: no timestamp column; the order of the rows in the file is the order "
                    "of each user's interactions", path)
        return False
    source = sources["timestamp"]
    df["timestamp"] = timestamps_as_seconds(df["timestamp"], lambda k, problem: _fail(
        path, f"column '{source}' (timestamp) {problem}", line=loaded.line_of(k), unit=loaded.unit, column=source),
        str(path))
    return True


def check_ratings(path: Path, loaded: LoadedFrame, sources: Mapping[str, str]) -> None:
    """Step 6: a ``rating`` column holds finite numbers >= 0 that fit a float32 (an empty cell,
    NaN, inf, a negative or an overflowing rating is an error naming the line)."""
    df = loaded.frame
    if "rating" not in df.columns:
        return
    source = sources["rating"]
    df["rating"] = ratings_as_float32(df["rating"], lambda k, problem: _fail(
        path, f"column '{source}' (rating) {problem}", line=loaded.line_of(k), unit=loaded.unit, column=source))


def split_features(path: Path, loaded: LoadedFrame, sources: Mapping[str, str]
                   ) -> tuple[Optional[pd.DataFrame], Optional[pd.DataFrame]]:
    """Step 7: ``user.NAME`` / ``item.NAME`` columns -> a users / items side table with a
    categorical feature ``NAME`` (values as strings). A feature must have one value per user
    (item); two values for the same one is an error naming both lines."""
    df = loaded.frame
    tables: dict[str, Optional[pd.DataFrame]] = {"user": None, "item": None}
    for kind in ("user", "item"):
        keys = [k for k in df.columns if isinstance(k, str) and k.startswith(kind + ".")]
        if not keys:
            continue
        id_col = f"{kind}_id"
        feats = df[[id_col] + keys].copy()
        for key in keys:
            feats[key] = _feature_values(feats[key])
            given = feats[feats[key].notna()]
            pairs = given[[id_col, key]].drop_duplicates()
            dup = pairs[id_col].duplicated(keep="first")
            if dup.any():
                entity = pairs[id_col][dup].iloc[0]
                rows = np.flatnonzero((feats[id_col] == entity).to_numpy() & feats[key].notna().to_numpy())
                values = feats[key].to_numpy()[rows]
                second = rows[int(np.argmax(values != values[0]))]
                raise _fail(path, f"column '{sources[key]}' ({key}) must have one value per "
                                  f"{kind}; {kind} {entity!r} has {values[0]!r} on "
                                  f"{loaded.unit} {loaded.line_of(int(rows[0]))} and "
                                  f"{feats[key].iloc[second]!r}", line=loaded.line_of(int(second)),
                            unit=loaded.unit, column=sources[key])
        # one row per user (item), with each feature's value where any of its rows gives one
        table = feats.groupby(id_col, sort=False)[keys].first().reset_index()
        table = table.astype(object).where(table.notna(), None)
        table.columns = [id_col] + [k.split(".", 1)[1] for k in keys]
        tables[kind] = table
        df = loaded.frame = df.drop(columns=keys)
    return tables["user"], tables["item"]


def _feature_values(values: pd.Series) -> pd.Series:
    """A feature column as text categories: an empty cell, NaN or null is missing (None, the
    unknown value), and a whole number written as a float is the number (JSON 5.0 is "5")."""
    missing = np.array(values.isna(), dtype=bool)
    if pd.api.types.is_float_dtype(values):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        whole = np.isfinite(numbers) & (np.floor(numbers) == numbers) & (np.abs(numbers) < 2.0**63)
        text = values.astype(str)
        text[whole] = numbers[whole].astype(np.int64).astype(str)
    else:
        text = values.astype(str).str.strip()
        if values.dtype == object:  # JSON values of mixed types: whole floats as numbers
            floats = values.map(lambda v: isinstance(v, float) and np.isfinite(v) and v.is_integer()).to_numpy(dtype=bool)
            if floats.any():
                text[floats] = [str(int(v)) for v in values[floats]]
        missing |= (text == "").to_numpy()
    return text.astype(object).where(~missing, None)


def report_extra_columns(path: Path, loaded: LoadedFrame) -> list[str]:
    """Step 8: the columns beyond user_id, item_id, timestamp and rating. They stay on the
    log's ``interactions`` but no model reads them; a warning names them and says how to make
    one a feature. Returns their names."""
    extra = [str(c) for c in loaded.frame.columns if c not in TABLE_COLUMNS]
    if extra:
        timed = not loaded.frame.attrs.get("has_timestamps", True)
        times = [c for c in extra if timed and _looks_like_times(loaded.frame[c])]
        hint = (f"; '{times[0]}' looks like times: map it with timestamp={times[0]} so that each user's "
                f"interactions are ordered by it (the rows' order is used now)") if times else ""
        labels = [c for c in extra if "rating" not in loaded.frame.columns and _looks_like_labels(loaded.frame[c])]
        if labels:  # an impression log: its non-clicks would be read as interactions
            logger.warning(
                "%s: column '%s' holds 0 and 1 like a click label, but every row is read as an interaction (a "
                "positive; negatives are sampled): to keep only the rows with 1, map it as the rating (rating=%s) "
                "and pass --implicit-threshold 1 (implicit_threshold=1)", path, labels[0], labels[0])
        others = [c for c in extra if c not in labels[:1]]
        if others:
            logger.warning(
                "%s: column(s) %s are not used by any model (kept on the log's interactions only); "
                "to use one as a feature map it with the columns option (--columns / columns=) "
                "item.NAME=COLUMN or user.NAME=COLUMN%s", path, ", ".join(repr(c) for c in others), hint)
    return extra


def _looks_like_labels(values: pd.Series) -> bool:
    """True for a column of 0s and 1s (or true/false) holding both: a click or purchase label."""
    text = values.astype(str).str.strip().str.lower()
    return bool(text.isin(["0", "1", "0.0", "1.0", "true", "false"]).all()) and text.nunique() == 2


def _looks_like_times(values: pd.Series) -> bool:
    """Whether a column could be interaction times: datetimes, or whole numbers that read as
    Unix seconds or milliseconds between 1995 and 2100, or date strings (first 100 values)."""
    sample = values.dropna().head(100)
    if sample.empty:
        return False
    if pd.api.types.is_datetime64_any_dtype(sample):
        return True
    numbers = pd.to_numeric(sample, errors="coerce")
    if numbers.notna().all():
        seconds = numbers.to_numpy(dtype=np.float64)
        seconds = np.where(seconds > 1e11, seconds / 1000, seconds)  # milliseconds
        return bool(((seconds >= 788_918_400) & (seconds <= 4_102_444_800)).all())
    parsed = pd.to_datetime(sample.astype(str), errors="coerce", utc=True, format="mixed")
    return bool(parsed.notna().all())


# --------------------------------------------------------------------------------------------
# The reader
# --------------------------------------------------------------------------------------------


def read_table(
    path: PathLike,
    columns: Union[str, Mapping[str, Source], None] = None,
    format: Optional[str] = None,
    name: Optional[str] = None,
    *,
    no_header: bool = False,
    sep: Optional[str] = None,
    encoding: Optional[str] = None,
    default_format: Optional[str] = None,
) -> InteractionLog:
    """Read interactions from any CSV / TSV / Parquet / JSON-lines file.

    The table needs a user and an item column; a timestamp and a rating column are optional.

    Args:
        path: the file (CSV/TSV/JSONL may be gzipped: ``.csv.gz`` etc.).
        columns: which file column is which, as ``"user_id=uid,item_id=iid,timestamp=ts,
            rating=stars"`` or a dict (any subset; see :func:`parse_columns`). Unmapped names
            default to themselves. ``user.NAME=COL`` / ``item.NAME=COL`` read column ``COL``
            as the user / item feature ``NAME``. With ``no_header`` the values are 0-based
            positions; without ``columns`` a header-less file's columns are read as
            ``user_id, item_id[, timestamp[, rating]]``.
        format: "csv", "tsv", "parquet" or "jsonl"; inferred from the suffix when None.
        name: the log's name (default: the file name without suffixes).
        no_header: the CSV/TSV file has no header line.
        sep: the CSV/TSV separator (one character; ``"tab"`` and ``"\\t"`` mean a tab). By
            default the format's (comma / tab), or the one other common separator (``;``,
            ``|``, tab, comma) the first line holds, named in a warning.
        encoding: the text encoding of a CSV/TSV/JSON file (default UTF-8; a file that is not
            valid in it, or a binary file, is an error naming the line).
        default_format: the format of a file whose suffix names none (the ``csv`` dataset reads
            ``log.dat`` as comma-separated); None: such a file is an error.

    Timestamps may be integers, floats (floored), datetimes or date/time strings (converted to
    Unix seconds, naive times taken as UTC). Without a timestamp column (none mapped and none
    called ``timestamp``, or ``columns={"timestamp": None}``), the file order is the order:
    ``timestamp`` holds each user's positions 0, 1, 2, ... and ``attrs["has_timestamps"]`` is
    False. Ratings must be finite and >= 0. Other columns are kept on ``interactions`` but no
    model reads them: a warning names them.

    Raises:
        DataOptionError: a bad ``columns``, ``sep``, ``encoding`` or ``format`` value.
        DataFormatError: missing or binary file, a mapped column absent (the message lists the
            columns that exist), or a bad ID / rating / timestamp (with its line or row).
    """
    options = TableOptions(columns=parse_columns(columns, no_header=no_header),
                           header=not no_header, sep=parse_sep(sep), encoding=encoding)
    p = _as_path(path)
    fmt = table_format(p, format, default_format)
    if not p.exists():
        raise DataFormatError(f"{p}: file not found", path=p)
    if p.is_dir():
        raise DataFormatError(f"{p}: is a folder, expected a {fmt} file", path=p)
    loaded = load_frame(p, fmt, options)
    sources = map_columns(p, loaded, options)
    check_ids(p, loaded, sources)
    convert_timestamps(p, loaded, sources)
    check_ratings(p, loaded, sources)
    users, items = split_features(p, loaded, sources)
    report_extra_columns(p, loaded)
    df = loaded.frame
    front = ["user_id", "item_id", "timestamp"] + (["rating"] if "rating" in df.columns else [])
    df = df[front + [c for c in df.columns if c not in front]].reset_index(drop=True)
    stem = p.name.split(".")[0] or "custom"
    log = InteractionLog(df, users=users, items=items, name=name or stem)
    # the side features the user asked for (a model that reads none of them says so)
    log.interactions.attrs["mapped_features"] = [f"{kind}.{column}" for kind, table in (("user", users), ("item", items))
                                                 if table is not None for column in table.columns[1:]]
    return log
