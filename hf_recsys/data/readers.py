"""Readers that turn raw interaction logs on disk into an :class:`InteractionLog`.

Every reader is vectorised (the pandas C parser, pyarrow, numpy): no Python loop runs per
interaction, so a 1M-row MovieLens-1M ``ratings.dat`` reads in about a second. Only side tables
with list-valued features (genres) build one small Python list per item.

Readers never write anything and never download anything. Bad input raises
:class:`~hf_recsys.data.log.DataFormatError` whose message names the file and, where known, the
1-based line number or the column.

Public functions:

* :func:`read_movielens_1m`, :func:`read_movielens_100k`, :func:`read_movielens_csv`
* :func:`read_amazon`
* :func:`read_sequences` (P5 / OpenP5 ``user_sequence.txt`` format)
* :func:`read_table` (any CSV / TSV / Parquet / JSON-lines file with a column mapping)
* :func:`load_log` (dispatch by dataset name)
"""

from __future__ import annotations

import ast
import csv
import gzip
import io
import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd

from .log import DataFormatError, InteractionLog

__all__ = [
    "read_movielens_1m",
    "read_movielens_100k",
    "read_movielens_csv",
    "read_amazon",
    "read_sequences",
    "read_table",
    "load_log",
    "DATASET_NAMES",
]

PathLike = Union[str, "os.PathLike[str]"]

ML1M_URL = "https://files.grouplens.org/datasets/movielens/ml-1m.zip"
ML100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
ML20M_URL = "https://files.grouplens.org/datasets/movielens/ml-20m.zip"

#: The 19 genre names of MovieLens-100K, in the column order of ``u.item`` (as in ``u.genre``).
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)

# A single byte that does not occur in MovieLens text; "::" is replaced by it so that the fast
# C parser can be used (a multi-character separator forces pandas' slow python engine).
_UNIT_SEP = "\x1f"

# pandas' default NA strings, applied to non-ID columns only (an ID "NA" or "null" stays an ID).
try:  # pragma: no cover - depends on the pandas build
    from pandas._libs.parsers import STR_NA_VALUES as _PD_NA_VALUES

    _DEFAULT_NA = sorted(_PD_NA_VALUES)
except Exception:  # pragma: no cover
    _DEFAULT_NA = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
                   "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a",
                   "nan", "null"]


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------


def _as_path(path: PathLike) -> Path:
    return Path(os.path.expanduser(os.fspath(path)))


def _read_bytes(path: Path) -> bytes:
    """The raw bytes of ``path`` (gunzipped when it ends in ``.gz``)."""
    if not path.exists():
        raise DataFormatError(f"{path}: file not found")
    if path.is_dir():
        raise DataFormatError(f"{path}: is a folder, expected a file")
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (OSError, EOFError) as exc:
        raise DataFormatError(f"{path}: cannot read file: {exc}") from exc


def _lines(text: str) -> pd.Series:
    """All lines of ``text`` (split on "\\n", "\\r" stripped) as a Series indexed 0..n-1.

    Index ``i`` is line number ``i + 1``. Used by the error paths and for small files.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line does not start a new one
    return pd.Series(lines, dtype=object).str.rstrip("\r")


def _is_integer_like(values: pd.Series) -> pd.Series:
    """True where ``values`` (numeric, maybe NaN) is a finite whole number."""
    arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(arr) & (np.floor(arr) == arr) & (np.abs(arr) < 2.0**63)
    return pd.Series(ok, index=values.index)


def _shorten(line: str, limit: int = 120) -> str:
    return line if len(line) <= limit else line[:limit] + "..."


def _diagnose_delimited(
    path: Path,
    text: str,
    sep: str,
    names: Sequence[str],
    numeric: Mapping[str, str],
    *,
    header: bool = False,
    required: Iterable[str] = (),
    sep_name: Optional[str] = None,
) -> None:
    """Find the first malformed line of a delimited text file and raise a DataFormatError.

    ``numeric`` maps a column name to ``"int"`` or ``"float"``; ``required`` lists text columns
    that may not be empty. Returns without raising when no bad line is found. Only runs on the
    error path (vectorised pandas string operations on the whole file).
    """
    lines = _lines(text)
    if header:
        if lines.empty:
            return
        names = [c.strip().strip('"') for c in lines.iloc[0].split(sep)]
        lines = lines.iloc[1:]
    lines = lines[lines.str.strip() != ""]
    if lines.empty:
        return
    parts = lines.str.split(sep, regex=False)
    counts = parts.str.len()
    shown_sep = sep_name or repr(sep)
    bad = counts != len(names)
    if bad.any():
        i = bad.idxmax()
        raise DataFormatError(
            f"{path}: line {i + 1}: expected {len(names)} fields separated by {shown_sep} "
            f"({', '.join(names)}), found {counts[i]}: {_shorten(lines[i])!r}"
        )
    for j, name in enumerate(names):
        col = parts.str[j].str.strip()
        kind = numeric.get(name)
        if kind is not None:
            values = pd.to_numeric(col, errors="coerce")
            ok = _is_integer_like(values) if kind == "int" else values.notna()
            what = "an integer (64-bit)" if kind == "int" else "a number"
        elif name in required:
            ok = col != ""
            what = "a non-empty value"
        else:
            continue
        if not ok.all():
            i = (~ok).idxmax()
            raise DataFormatError(
                f"{path}: line {i + 1}: column '{name}' must be {what}, got {col[i]!r}: "
                f"{_shorten(lines[i])!r}"
            )


def _read_delimited(
    path: Path,
    data: bytes,
    sep: str,
    names: Sequence[str],
    numeric: Mapping[str, str],
    *,
    encoding: str = "utf-8",
    header: bool = False,
    required: Iterable[str] = (),
    diag_text: Optional[str] = None,
    diag_sep: Optional[str] = None,
) -> pd.DataFrame:
    """Parse delimited bytes with the pandas C engine; exact line numbers on bad input.

    Text columns are read as str (no NA conversion, so an ID "NA" stays "NA"); columns in
    ``numeric`` are read as int64 / float64. With ``header=True`` the file's header must hold
    ``names`` (other columns are ignored). ``diag_text`` / ``diag_sep`` give the original text
    and separator for error messages when ``data`` had its separator rewritten.
    """
    required = tuple(required)
    dtypes: dict[str, Any] = {
        n: (np.int64 if numeric.get(n) == "int" else np.float64 if n in numeric else str)
        for n in names
    }

    def diagnose(exc: Optional[BaseException]) -> DataFormatError:
        text = diag_text if diag_text is not None else data.decode(encoding, errors="replace")
        _diagnose_delimited(path, text, diag_sep or sep, names, numeric, header=header,
                            required=required, sep_name=repr(diag_sep or sep))
        detail = f": {exc}" if exc is not None else ""
        return DataFormatError(f"{path}: cannot parse file{detail}")

    kwargs: dict[str, Any] = dict(
        sep=sep, dtype=dtypes, quoting=csv.QUOTE_NONE, keep_default_na=False,
        encoding=encoding, engine="c",
    )
    if header:
        kwargs.update(header=0, usecols=list(names))
    else:
        kwargs.update(header=None, names=list(names))
    try:
        df = pd.read_csv(io.BytesIO(data), **kwargs)
    except pd.errors.EmptyDataError as exc:
        raise DataFormatError(f"{path}: file is empty") from exc
    except (ValueError, TypeError, OverflowError, pd.errors.ParserError) as exc:
        raise diagnose(exc) from exc
    if len(df) == 0:
        raise DataFormatError(f"{path}: file has no data rows")
    # Short lines leave "" in text columns and NaN in float columns; look for them.
    bad = False
    for n in names:
        col = df[n]
        if n in numeric:
            bad = bad or bool(col.isna().any())
        elif n in required:
            bad = bad or bool((col == "").any()) or bool(col.isna().any())
    if bad:
        raise diagnose(None)
    return df


def _check_header(path: Path, data: bytes, sep: str, wanted: Sequence[str],
                  encoding: str = "utf-8") -> list[str]:
    """The header of a delimited file; DataFormatError when a wanted column is absent."""
    try:
        head = pd.read_csv(io.BytesIO(data), sep=sep, nrows=0, encoding=encoding)
    except pd.errors.EmptyDataError as exc:
        raise DataFormatError(f"{path}: file is empty") from exc
    found = [str(c) for c in head.columns]
    missing = [c for c in wanted if c not in found]
    if missing:
        raise DataFormatError(
            f"{path}: missing column(s) {missing}; the header has {found}"
        )
    return found


def _split_ml_titles(path: Path, text: str) -> pd.DataFrame:
    """Parse ``MovieID::Title::Genres`` lines; the title may itself contain ':' or '::'."""
    lines = _lines(text)
    lines = lines[lines.str.strip() != ""]
    if lines.empty:
        raise DataFormatError(f"{path}: file is empty")
    parts = lines.str.extract(r"^([^:]*)::(.*)::([^:]*)$")
    bad = parts[0].isna() | (parts[0].str.strip() == "")
    if bad.any():
        i = bad.idxmax()
        raise DataFormatError(
            f"{path}: line {i + 1}: expected MovieID::Title::Genres, got {_shorten(lines[i])!r}"
        )
    return pd.DataFrame({
        "item_id": parts[0].str.strip().to_numpy(dtype=object),
        "title": parts[1].to_numpy(dtype=object),
        "genres": _genre_lists(parts[2]),
    })


def _genre_lists(genres: pd.Series) -> list[list[str]]:
    """'A|B' -> ['A', 'B']; '' and '(no genres listed)' -> []. One small list per item."""
    out = []
    for g in genres.fillna("").astype(str).tolist():
        g = g.strip()
        out.append([x for x in g.split("|") if x] if g and g != "(no genres listed)" else [])
    return out


def _folder(path: PathLike, what: str, marker: str, hint: str) -> Path:
    """The dataset folder; a path to the marker file itself is accepted too."""
    p = _as_path(path)
    if p.is_file() and p.name == marker:
        return p.parent
    if not p.is_dir():
        raise DataFormatError(f"{p}: {what} folder not found. {hint}")
    return p


# --------------------------------------------------------------------------------------------
# MovieLens
# --------------------------------------------------------------------------------------------


def _read_double_colon(path: Path, names: Sequence[str], numeric: Mapping[str, str],
                       required: Iterable[str]) -> pd.DataFrame:
    raw = _read_bytes(path)
    if not raw.strip():
        raise DataFormatError(f"{path}: file is empty")
    data = raw.replace(b"::", _UNIT_SEP.encode())
    return _read_delimited(
        path, data, _UNIT_SEP, names, numeric, encoding="latin-1", required=required,
        diag_text=raw.decode("latin-1"), diag_sep="::",
    )


def _ml1m_side_tables(folder: Path) -> tuple[Optional[pd.DataFrame], Optional[pd.DataFrame]]:
    users = items = None
    users_path = folder / "users.dat"
    if users_path.exists():
        cols = ["user_id", "gender", "age", "occupation", "zip"]
        users = _read_double_colon(users_path, cols, {}, required=("user_id",))
        users = users.astype(str)
    movies_path = folder / "movies.dat"
    if movies_path.exists():
        items = _split_ml_titles(movies_path, _read_bytes(movies_path).decode("latin-1"))
    return users, items


def read_movielens_1m(path: PathLike) -> InteractionLog:
    """Read MovieLens-1M from a folder holding ``ratings.dat`` (and optionally ``users.dat``,
    ``movies.dat``).

    * ``ratings.dat``: ``UserID::MovieID::Rating::Timestamp`` -> interactions with ``rating``
      (float32) and ``timestamp`` (Unix seconds).
    * ``users.dat``: ``UserID::Gender::Age::Occupation::Zip-code`` -> ``users`` with columns
      ``user_id, gender, age, occupation, zip`` (all str).
    * ``movies.dat``: ``MovieID::Title::Genres`` (latin-1, genres ``|``-separated) -> ``items``
      with ``item_id, title, genres`` (a list of str per movie).

    When ``ratings.dat`` is absent but ``sequences_chronological.txt`` (one line per user,
    ``USER ITEM ITEM ...`` in time order) exists, interactions come from it via
    :func:`read_sequences`: no ratings, timestamps are positions and
    ``interactions.attrs["has_timestamps"]`` is False. Side tables are attached either way.

    Args:
        path: the folder (a path to ``ratings.dat`` itself is accepted too).

    Raises:
        DataFormatError: folder or data missing, or a malformed line (with its line number).
    """
    hint = (f"Download {ML1M_URL} and unzip it so that PATH/ratings.dat exists "
            "(this library never downloads data itself).")
    folder = _folder(path, "MovieLens-1M", "ratings.dat", hint)
    ratings = folder / "ratings.dat"
    sequences = folder / "sequences_chronological.txt"
    if ratings.exists():
        df = _read_double_colon(
            ratings, ["user_id", "item_id", "rating", "timestamp"],
            {"rating": "float", "timestamp": "int"}, required=("user_id", "item_id"),
        )
        df = df[["user_id", "item_id", "timestamp", "rating"]]
    elif sequences.exists():
        df = read_sequences(sequences, name="ml-1m").interactions
    else:
        raise DataFormatError(
            f"{folder}: no MovieLens-1M ratings found (neither ratings.dat nor "
            f"sequences_chronological.txt). {hint}"
        )
    users, items = _ml1m_side_tables(folder)
    return InteractionLog(df, users=users, items=items, name="ml-1m",
                          multi_valued_item_features=("genres",) if items is not None else ())


def _read_ml100k_genres(folder: Path) -> list[str]:
    path = folder / "u.genre"
    if not path.exists():
        return list(ML100K_GENRES)
    lines = _lines(_read_bytes(path).decode("latin-1"))
    lines = lines[lines.str.strip() != ""]
    parts = lines.str.rsplit("|", n=1)
    bad = parts.str.len() != 2
    if bad.any():
        i = bad.idxmax()
        raise DataFormatError(f"{path}: line {i + 1}: expected 'name|index', got {lines[i]!r}")
    names = parts.str[0].tolist()
    idx = pd.to_numeric(parts.str[1], errors="coerce")
    if idx.isna().any():
        i = idx.isna().idxmax()
        raise DataFormatError(f"{path}: line {i + 1}: genre index must be an integer, "
                              f"got {lines[i]!r}")
    order = np.argsort(idx.to_numpy(), kind="stable")
    return [names[k] for k in order]


def read_movielens_100k(path: PathLike) -> InteractionLog:
    """Read MovieLens-100K from a folder holding ``u.data`` (optionally ``u.user``, ``u.item``,
    ``u.genre``).

    * ``u.data``: tab-separated ``user item rating timestamp``.
    * ``u.user``: ``id|age|gender|occupation|zip`` -> ``users`` with columns
      ``user_id, gender, age, occupation, zip`` (all str, same schema as ML-1M).
    * ``u.item``: ``|``-separated latin-1 ``id|title|release date|video release date|IMDb URL``
      followed by one 0/1 flag per genre -> ``items`` with ``item_id, title, genres`` (list of
      str). Genre names come from ``u.genre`` when present, else :data:`ML100K_GENRES`.

    Raises:
        DataFormatError: folder or ``u.data`` missing, or a malformed line (with its number).
    """
    hint = (f"Download {ML100K_URL} and unzip it so that PATH/u.data exists "
            "(this library never downloads data itself).")
    folder = _folder(path, "MovieLens-100K", "u.data", hint)
    data_path = folder / "u.data"
    if not data_path.exists():
        raise DataFormatError(f"{folder}: no u.data found. {hint}")
    df = _read_delimited(
        data_path, _read_bytes(data_path), "\t", ["user_id", "item_id", "rating", "timestamp"],
        {"rating": "float", "timestamp": "int"}, encoding="latin-1",
        required=("user_id", "item_id"),
    )
    df = df[["user_id", "item_id", "timestamp", "rating"]]

    users = items = None
    user_path = folder / "u.user"
    if user_path.exists():
        users = _read_delimited(
            user_path, _read_bytes(user_path), "|",
            ["user_id", "age", "gender", "occupation", "zip"], {}, encoding="latin-1",
            required=("user_id",),
        )
        users = users[["user_id", "gender", "age", "occupation", "zip"]].astype(str)
    item_path = folder / "u.item"
    if item_path.exists():
        genres = _read_ml100k_genres(folder)
        flag_cols = [f"g{k}" for k in range(len(genres))]
        names = ["item_id", "title", "release_date", "video_release_date", "url", *flag_cols]
        raw = _read_delimited(
            item_path, _read_bytes(item_path), "|", names, {c: "int" for c in flag_cols},
            encoding="latin-1", required=("item_id",),
        )
        flags = raw[flag_cols].to_numpy() != 0
        genre_arr = np.array(genres, dtype=object)
        items = pd.DataFrame({
            "item_id": raw["item_id"].astype(str).to_numpy(dtype=object),
            "title": raw["title"].astype(str).to_numpy(dtype=object),
            "genres": [genre_arr[row].tolist() for row in flags],
        })
    return InteractionLog(df, users=users, items=items, name="ml-100k",
                          multi_valued_item_features=("genres",) if items is not None else ())


def read_movielens_csv(path: PathLike, name: str = "ml-20m") -> InteractionLog:
    """Read MovieLens-20M / 25M / latest from a folder holding ``ratings.csv``.

    * ``ratings.csv``: header ``userId,movieId,rating,timestamp``.
    * ``movies.csv`` (optional): ``movieId,title,genres`` with ``|``-separated genres;
      ``(no genres listed)`` becomes an empty list -> ``items`` with ``item_id, title, genres``.

    Args:
        path: the folder (a path to ``ratings.csv`` itself is accepted too).
        name: the log's name ("ml-20m", "ml-25m", "ml-latest", ...).

    Raises:
        DataFormatError: folder, file or column missing, or a malformed line (with its number).
    """
    hint = (f"Download e.g. {ML20M_URL} and unzip it so that PATH/ratings.csv exists "
            "(this library never downloads data itself).")
    folder = _folder(path, "MovieLens CSV", "ratings.csv", hint)
    ratings = folder / "ratings.csv"
    if not ratings.exists():
        raise DataFormatError(f"{folder}: no ratings.csv found. {hint}")
    data = _read_bytes(ratings)
    wanted = ["userId", "movieId", "rating", "timestamp"]
    _check_header(ratings, data, ",", wanted)
    df = _read_delimited(ratings, data, ",", wanted, {"rating": "float", "timestamp": "int"},
                         header=True, required=("userId", "movieId"))
    df = df.rename(columns={"userId": "user_id", "movieId": "item_id"})
    df = df[["user_id", "item_id", "timestamp", "rating"]]

    items = None
    movies = folder / "movies.csv"
    if movies.exists():
        mdata = _read_bytes(movies)
        _check_header(movies, mdata, ",", ["movieId", "title", "genres"])
        try:
            m = pd.read_csv(io.BytesIO(mdata), dtype=str, keep_default_na=False,
                            usecols=["movieId", "title", "genres"])
        except (ValueError, pd.errors.ParserError) as exc:
            raise DataFormatError(f"{movies}: cannot parse file: {exc}") from exc
        items = pd.DataFrame({
            "item_id": m["movieId"].to_numpy(dtype=object),
            "title": m["title"].to_numpy(dtype=object),
            "genres": _genre_lists(m["genres"]),
        })
    return InteractionLog(df, items=items, name=name,
                          multi_valued_item_features=("genres",) if items is not None else ())


# --------------------------------------------------------------------------------------------
# Sequences (P5 / OpenP5 user_sequence.txt)
# --------------------------------------------------------------------------------------------


def read_sequences(path: PathLike, name: str = "sequences") -> InteractionLog:
    """Read a file with one line per user: ``USER_ID ITEM_ID ITEM_ID ...`` in time order.

    This is the P5 / OpenP5 ``user_sequence.txt`` format (e.g. Amazon Beauty) and the format
    of ``sequences_chronological.txt``. Tokens are separated by whitespace. The timestamp of
    an interaction is its position within the user's sequence (0, 1, 2, ...), and
    ``interactions.attrs["has_timestamps"]`` is False.

    Raises:
        DataFormatError: missing or empty file, a line with a user ID but no items, or a user
            ID on two lines (each with its line number).
    """
    p = _as_path(path)
    raw = _read_bytes(p)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    lines = _lines(text)
    nonblank = lines.str.strip() != ""
    lines = lines[nonblank]
    if lines.empty:
        raise DataFormatError(f"{p}: file is empty")
    counts = lines.str.split().str.len().to_numpy(dtype=np.int64)
    lone = counts < 2
    if lone.any():
        k = int(np.argmax(lone))
        raise DataFormatError(
            f"{p}: line {lines.index[k] + 1}: user {lines.iloc[k].strip()!r} has no items "
            "(expected 'USER_ID ITEM_ID ITEM_ID ...')"
        )
    tokens = np.array(text.split(), dtype=object)
    if len(tokens) != counts.sum():  # pragma: no cover - split() and per-line split agree
        raise DataFormatError(f"{p}: cannot tokenise file consistently")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    user_ids = tokens[starts]
    dup = pd.Series(user_ids).duplicated()
    if dup.any():
        k = int(dup.to_numpy().argmax())
        first = int(np.argmax(user_ids == user_ids[k]))
        raise DataFormatError(
            f"{p}: line {lines.index[k] + 1}: user {user_ids[k]!r} already has a sequence on "
            f"line {lines.index[first] + 1} (expected one line per user)"
        )
    is_item = np.ones(len(tokens), dtype=bool)
    is_item[starts] = False
    n_items = counts - 1
    item_starts = np.repeat(starts + 1, n_items)
    positions = np.flatnonzero(is_item) - item_starts
    df = pd.DataFrame({
        "user_id": np.repeat(user_ids, n_items),
        "item_id": tokens[is_item],
        "timestamp": positions.astype(np.int64),
    })
    df.attrs["has_timestamps"] = False
    return InteractionLog(df, name=name)


# --------------------------------------------------------------------------------------------
# Amazon reviews
# --------------------------------------------------------------------------------------------


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, "r", encoding="utf-8", errors="replace")


def _first_nonblank_line(path: Path) -> Optional[str]:
    try:
        with _open_text(path) as fh:
            for line in fh:
                if line.strip():
                    return line.strip()
    except (OSError, EOFError) as exc:
        raise DataFormatError(f"{path}: cannot read file: {exc}") from exc
    return None


def _parse_record(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        # The 2014 Amazon metadata dumps are Python dict literals (single quotes), not JSON.
        return ast.literal_eval(line)


def _diagnose_json_lines(path: Path, types: Mapping[str, tuple], required: Sequence[str]) -> None:
    """Error path only: scan the file line by line for the first bad record and raise."""
    with _open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = _parse_record(line)
            except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
                raise DataFormatError(f"{path}: line {lineno}: not valid JSON: {exc}") from exc
            if not isinstance(rec, dict):
                raise DataFormatError(f"{path}: line {lineno}: expected a JSON object, got "
                                      f"{type(rec).__name__}")
            for key in required:
                if rec.get(key) is None:
                    raise DataFormatError(
                        f"{path}: line {lineno}: missing key '{key}'; the record has keys "
                        f"{sorted(rec)}"
                    )
            for key, allowed in types.items():
                v = rec.get(key)
                if v is not None and not isinstance(v, allowed):
                    raise DataFormatError(
                        f"{path}: line {lineno}: key '{key}' must be "
                        f"{' or '.join(t.__name__ for t in allowed)}, got {v!r}"
                    )


def _nonblank_line_numbers(path: Path) -> np.ndarray:
    """1-based line numbers of the non-blank lines of a (maybe gzipped) text file."""
    lines = _lines(_read_bytes(path).decode("utf-8", errors="replace"))
    return (lines.index[lines.str.strip() != ""] + 1).to_numpy()


def _read_amazon_reviews_json(path: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.json as pj

    first = _first_nonblank_line(path)
    if first is None:
        raise DataFormatError(f"{path}: file is empty")
    try:
        keys = set(_parse_record(first))
    except Exception as exc:
        raise DataFormatError(f"{path}: line 1: not valid JSON: {exc}") from exc
    if "reviewerID" in keys:  # 2014 / 2018 dumps
        fields = {"user_id": "reviewerID", "item_id": "asin", "rating": "overall",
                  "timestamp": "unixReviewTime"}
        ts_scale = 1
    elif "user_id" in keys and "timestamp" in keys:  # 2023 dumps (timestamps in milliseconds)
        item_key = "parent_asin" if "parent_asin" in keys else "asin"
        fields = {"user_id": "user_id", "item_id": item_key, "rating": "rating",
                  "timestamp": "timestamp"}
        ts_scale = 1000
    else:
        raise DataFormatError(
            f"{path}: unknown Amazon review format; expected keys reviewerID, asin, overall, "
            f"unixReviewTime; the first record has keys {sorted(keys)}"
        )
    schema = pa.schema([
        (fields["user_id"], pa.string()), (fields["item_id"], pa.string()),
        (fields["rating"], pa.float64()), (fields["timestamp"], pa.int64()),
    ])
    types = {fields["user_id"]: (str,), fields["item_id"]: (str,),
             fields["rating"]: (int, float), fields["timestamp"]: (int,)}
    required = [fields["user_id"], fields["item_id"], fields["timestamp"]]
    try:
        table = pj.read_json(
            str(path),
            parse_options=pj.ParseOptions(explicit_schema=schema,
                                          unexpected_field_behavior="ignore"),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OSError) as exc:
        _diagnose_json_lines(path, types, required)
        raise DataFormatError(f"{path}: cannot parse JSON lines: {exc}") from exc
    df = table.to_pandas()
    df = df.rename(columns={v: k for k, v in fields.items()})
    missing = df[["user_id", "item_id", "timestamp"]].isna().any(axis=1)
    rating_all_missing = bool(df["rating"].isna().all())
    if not rating_all_missing:
        missing = missing | df["rating"].isna()
    if missing.any():
        k = int(missing.to_numpy().argmax())
        lineno = _nonblank_line_numbers(path)[k]
        col = next(c for c in ("user_id", "item_id", "timestamp", "rating")
                   if pd.isna(df[c].iloc[k]))
        raise DataFormatError(f"{path}: line {lineno}: missing key '{fields[col]}'")
    if rating_all_missing:
        df = df.drop(columns="rating")
    df["timestamp"] = df["timestamp"].astype(np.int64) // ts_scale
    cols = ["user_id", "item_id", "timestamp"] + (["rating"] if "rating" in df.columns else [])
    return df[cols]


def _read_amazon_meta(path: Path) -> pd.DataFrame:
    """``asin`` plus ``category`` (the most specific category, "" when none)."""
    import pyarrow as pa
    import pyarrow.json as pj

    if not path.exists():
        raise DataFormatError(f"{path}: metadata file not found")
    schema = pa.schema([("asin", pa.string()),
                        ("categories", pa.list_(pa.list_(pa.string()))),
                        ("category", pa.list_(pa.string()))])
    try:
        table = pj.read_json(
            str(path),
            parse_options=pj.ParseOptions(explicit_schema=schema,
                                          unexpected_field_behavior="ignore"),
        )
        asin = table.column("asin").to_pandas()
        cats = [_last_category(c2, c1) for c2, c1 in zip(
            table.column("categories").to_pylist(), table.column("category").to_pylist())]
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        # Python-literal metadata (2014) or unusual shapes: parse one record per line.
        asins, cats = [], []
        with _open_text(path) as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    rec = _parse_record(line)
                except (ValueError, SyntaxError) as exc:
                    raise DataFormatError(f"{path}: line {lineno}: not valid JSON: {exc}") \
                        from exc
                if not isinstance(rec, dict) or not rec.get("asin"):
                    raise DataFormatError(f"{path}: line {lineno}: record without 'asin'")
                asins.append(str(rec["asin"]))
                cats.append(_last_category(rec.get("categories"), rec.get("category")))
        asin = pd.Series(asins, dtype=object)
    if len(asin) == 0:
        raise DataFormatError(f"{path}: metadata file is empty")
    if asin.isna().any():
        k = int(asin.isna().to_numpy().argmax())
        raise DataFormatError(f"{path}: line {_nonblank_line_numbers(path)[k]}: "
                              "record without 'asin'")
    items = pd.DataFrame({"item_id": asin.astype(str).to_numpy(dtype=object),
                          "category": np.array(cats, dtype=object)})
    return items.drop_duplicates("item_id", keep="first").reset_index(drop=True)


def _last_category(categories: Any, category: Any) -> str:
    """2014: ``categories`` = [[top, ..., leaf], ...] -> leaf of the first path;
    2018: ``category`` = [top, ..., leaf] -> leaf."""
    for value in (categories, category):
        if not value:
            continue
        path = value[0] if isinstance(value[0], (list, tuple)) else value
        path = [str(c) for c in path if c not in (None, "")]
        if path:
            return path[-1]
    return ""


def read_amazon(
    path: PathLike,
    meta_path: Optional[PathLike] = None,
    *,
    csv_columns: Sequence[str] = ("user_id", "item_id", "rating", "timestamp"),
) -> InteractionLog:
    """Read an Amazon review dump (McAuley et al.).

    Two formats are recognised:

    * JSON lines (optionally ``.gz``) of reviews with keys ``reviewerID, asin, overall,
      unixReviewTime`` (the 2014 / 2018 dumps; other keys are ignored). The 2023 dumps (keys
      ``user_id, parent_asin, rating, timestamp`` in milliseconds) are read as well.
    * A ratings-only CSV without header, ``user,item,rating,timestamp`` (the 2014
      ``ratings_*.csv``). Note that the 2018 ratings-only files are ``item,user,rating,
      timestamp``; pass ``csv_columns=("item_id", "user_id", "rating", "timestamp")`` for those.

    Args:
        path: the reviews / ratings file.
        meta_path: optional JSON-lines (optionally ``.gz``) metadata with ``asin`` and either
            ``categories`` (2014, list of category paths) or ``category`` (2018, one path);
            gives ``items`` with ``item_id, category`` (the most specific category; "" when
            none). The 2014 metadata, written as Python literals, is accepted too.
        csv_columns: the column order of a ratings-only CSV.

    Raises:
        DataFormatError: missing/empty file, missing key, or a malformed line (with its number).
    """
    p = _as_path(path)
    if not p.exists():
        raise DataFormatError(f"{p}: file not found")
    if p.is_dir():
        raise DataFormatError(f"{p}: is a folder; read_amazon expects a reviews/ratings file")
    stem_suffix = Path(p.name[:-3]).suffix if p.name.endswith(".gz") else p.suffix
    first = _first_nonblank_line(p)
    if first is None:
        raise DataFormatError(f"{p}: file is empty")
    if stem_suffix.lower() != ".csv" and first.startswith("{"):
        df = _read_amazon_reviews_json(p)
    else:
        cols = list(csv_columns)
        if sorted(cols) != ["item_id", "rating", "timestamp", "user_id"]:
            raise ValueError(f"csv_columns must order user_id, item_id, rating, timestamp; "
                             f"got {cols}")
        df = _read_delimited(p, _read_bytes(p), ",", cols,
                             {"rating": "float", "timestamp": "int"},
                             required=("user_id", "item_id"))
        df = df[["user_id", "item_id", "timestamp", "rating"]]
    items = _read_amazon_meta(_as_path(meta_path)) if meta_path is not None else None
    return InteractionLog(df.reset_index(drop=True), items=items, name="amazon")


# --------------------------------------------------------------------------------------------
# Generic tables
# --------------------------------------------------------------------------------------------

_FORMATS = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "tsv", ".parquet": "parquet",
    ".pq": "parquet", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl",
}


def _infer_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = Path(name).suffix
    if suffix not in _FORMATS:
        raise DataFormatError(
            f"{path}: cannot infer the format from the suffix {suffix!r}; pass format= one of "
            "'csv', 'tsv', 'parquet', 'jsonl'"
        )
    return _FORMATS[suffix]


def _timestamps_to_seconds(path: Path, col: pd.Series, source: str, offset: int,
                           unit: str) -> np.ndarray:
    """int64 seconds from integer / float / datetime / datetime-string timestamps."""
    def fail(mask: pd.Series, why: str) -> DataFormatError:
        k = int(mask.to_numpy().argmax())
        return DataFormatError(f"{path}: {unit} {k + offset}: column '{source}' {why}, got "
                               f"{col.iloc[k]!r}")

    if pd.api.types.is_datetime64_any_dtype(col):
        dt = col if getattr(col.dt, "tz", None) is not None else col.dt.tz_localize("UTC")
    elif pd.api.types.is_bool_dtype(col):
        raise fail(pd.Series(True, index=col.index), "must be a timestamp")
    elif pd.api.types.is_numeric_dtype(col):
        if col.isna().any():
            raise fail(col.isna(), "is missing")
        return np.floor(col.to_numpy(dtype=np.float64)).astype(np.int64) \
            if pd.api.types.is_float_dtype(col) else col.to_numpy(dtype=np.int64)
    else:
        if col.isna().any():
            raise fail(col.isna(), "is missing")
        strings = col.astype(str).str.strip()
        num = pd.to_numeric(strings, errors="coerce")
        if num.notna().all():
            return np.floor(num.to_numpy(dtype=np.float64)).astype(np.int64)
        if num.notna().any():  # Unix times mixed with something else
            raise fail(num.isna(), "must be a Unix time like the other rows")
        try:
            dt = pd.to_datetime(strings, utc=True, errors="coerce", format="mixed")
        except (ValueError, TypeError):  # pragma: no cover - errors="coerce" should not raise
            dt = pd.Series(pd.NaT, index=col.index)
    if dt.isna().any():
        raise fail(dt.isna(), "must be a Unix time or a date/time")
    epoch = pd.Timestamp(0, tz="UTC")
    return ((dt - epoch) // pd.Timedelta(seconds=1)).to_numpy(dtype=np.int64)


def read_table(
    path: PathLike,
    columns: Optional[Mapping[str, Optional[str]]] = None,
    format: Optional[str] = None,
    name: Optional[str] = None,
) -> InteractionLog:
    """Read interactions from any CSV / TSV / Parquet / JSON-lines file.

    Args:
        path: the file (CSV/TSV/JSONL may be gzipped: ``.csv.gz`` etc.).
        columns: maps our column names to the file's, e.g. ``{"user_id": "uid", "item_id":
            "iid", "timestamp": "ts", "rating": "stars"}``. Unmapped names default to
            themselves; ``rating`` is used when present. Mapping ``"timestamp"`` to None means
            the file has no time column: the row order within each user becomes the timestamp
            (0, 1, 2, ...) and ``attrs["has_timestamps"]`` is False.
        format: "csv", "tsv", "parquet" or "jsonl"; inferred from the suffix when None.
        name: the log's name (default: the file name without suffixes).

    Extra columns are kept. Timestamps may be integers, floats (floored), datetimes or
    date/time strings (converted to Unix seconds, naive times taken as UTC).

    Raises:
        DataFormatError: missing file, unknown format, a mapped column absent (the message lists
            the columns that exist), or a bad ID / rating / timestamp (with its line or row).
    """
    p = _as_path(path)
    if not p.exists():
        raise DataFormatError(f"{p}: file not found")
    fmt = (format or _infer_format(p)).lower()
    if fmt not in ("csv", "tsv", "parquet", "jsonl"):
        raise ValueError(f"format must be 'csv', 'tsv', 'parquet' or 'jsonl', got {format!r}")
    mapping: dict[str, Optional[str]] = {"user_id": "user_id", "item_id": "item_id",
                                         "timestamp": "timestamp"}
    rating_explicit = columns is not None and "rating" in columns
    mapping["rating"] = "rating"
    if columns:
        unknown = [k for k in columns if k not in mapping]
        extra_map = {k: v for k, v in columns.items() if k in unknown}
        mapping.update({k: v for k, v in columns.items() if k not in unknown})
    else:
        extra_map = {}
    id_cols = [mapping["user_id"], mapping["item_id"]]

    # ---- load
    if fmt in ("csv", "tsv"):
        sep = "," if fmt == "csv" else "\t"
        data = _read_bytes(p)
        if not data.strip():
            raise DataFormatError(f"{p}: file is empty")
        found = _check_header(p, data, sep, [])
        id_present = [c for c in id_cols if c in found]
        try:
            df = pd.read_csv(
                io.BytesIO(data), sep=sep, dtype={c: str for c in id_present},
                keep_default_na=False,
                na_values={c: _DEFAULT_NA for c in found if c not in id_present},
            )
        except (ValueError, pd.errors.ParserError) as exc:
            raise DataFormatError(f"{p}: cannot parse {fmt.upper()}: {exc}") from exc
        offset, unit = 2, "line"  # row 0 is line 2 (after the header)
    elif fmt == "parquet":
        try:
            df = pd.read_parquet(p)
        except Exception as exc:  # pyarrow raises a variety of types
            raise DataFormatError(f"{p}: cannot read Parquet: {exc}") from exc
        offset, unit = 1, "row"  # 1-based row numbers
    else:
        if not _read_bytes(p).strip():
            raise DataFormatError(f"{p}: file is empty")
        try:
            # dtype=False: no dtype guessing and no date conversion of "timestamp"-like columns
            df = pd.read_json(p, lines=True, dtype=False, compression="infer")
        except ValueError as exc:
            raise DataFormatError(f"{p}: cannot parse JSON lines: {exc}") from exc
        offset, unit = 1, "record"
    df.columns = [str(c) for c in df.columns]
    found = list(df.columns)

    # ---- check & rename
    needed = {k: v for k, v in mapping.items() if v is not None and k != "rating"}
    if rating_explicit and mapping["rating"] is not None:
        needed["rating"] = mapping["rating"]
    needed.update({k: v for k, v in extra_map.items() if v is not None})
    missing = [f"{v!r} (for {k})" if k != v else repr(v) for k, v in needed.items()
               if v not in found]
    if missing:
        raise DataFormatError(f"{p}: missing column(s) {', '.join(missing)}; the file has "
                              f"columns {found}")
    if len(df) == 0:
        raise DataFormatError(f"{p}: file has no data rows")
    rename = {v: k for k, v in {**mapping, **extra_map}.items() if v is not None and v in found}
    clash = [k for v, k in rename.items() if k in found and k != v and k not in rename]
    if clash:
        raise DataFormatError(f"{p}: column(s) {clash} exist in the file and would be "
                              f"overwritten by the mapping {dict(columns or {})}")
    df = df.rename(columns=rename)

    for col in ("user_id", "item_id"):
        src = mapping[col]
        values = df[col]
        bad = values.isna()
        if not pd.api.types.is_numeric_dtype(values):
            bad = bad | (values.astype(str).str.strip() == "")
        if bad.any():
            k = int(bad.to_numpy().argmax())
            raise DataFormatError(f"{p}: {unit} {k + offset}: column '{src}' ({col}) is empty")
        if pd.api.types.is_float_dtype(values) and _is_integer_like(values).all():
            df[col] = values.astype(np.int64)  # 42.0 -> "42" (JSON/Parquet numeric IDs)

    if mapping["timestamp"] is None:
        df["timestamp"] = df.groupby("user_id", sort=False).cumcount().astype(np.int64)
        df.attrs["has_timestamps"] = False
    else:
        df["timestamp"] = _timestamps_to_seconds(p, df["timestamp"], mapping["timestamp"],
                                                 offset, unit)
    if "rating" in df.columns:
        num = pd.to_numeric(df["rating"], errors="coerce")
        if num.isna().any():
            k = int(num.isna().to_numpy().argmax())
            raise DataFormatError(f"{p}: {unit} {k + offset}: column '{mapping['rating']}' "
                                  f"(rating) must be a number, got {df['rating'].iloc[k]!r}")
        df["rating"] = num
    front = ["user_id", "item_id", "timestamp"] + (["rating"] if "rating" in df.columns else [])
    df = df[front + [c for c in df.columns if c not in front]]
    stem = p.name.split(".")[0] or "custom"
    return InteractionLog(df.reset_index(drop=True), name=name or stem)


# --------------------------------------------------------------------------------------------
# Dispatcher
# --------------------------------------------------------------------------------------------

#: Dataset names accepted by :func:`load_log`.
DATASET_NAMES = ("ml-1m", "ml-100k", "ml-20m", "ml-25m", "ml-latest", "ml-latest-small",
                 "amazon", "beauty", "sequences", "csv", "synthetic")


def load_log(dataset: str, path: Optional[PathLike] = None, **kwargs: Any) -> InteractionLog:
    """Load an interaction log by dataset name.

    Args:
        dataset: one of :data:`DATASET_NAMES` (case-insensitive, "_" same as "-"):
            ``ml-1m`` / ``ml-100k`` (a folder), ``ml-20m`` / ``ml-25m`` / ``ml-latest`` /
            ``ml-latest-small`` (a folder with ``ratings.csv``), ``amazon`` (a reviews file;
            ``meta_path=`` optional), ``beauty`` (``user_sequence.txt`` or its folder),
            ``sequences`` (any file in that format), ``csv`` (any table, see
            :func:`read_table`; ``columns=``, ``format=`` optional), ``synthetic`` (no path;
            kwargs go to ``generate_synthetic_log``).
        path: the file or folder; required for all but ``synthetic``.
        **kwargs: passed on to the reader.

    Raises:
        ValueError: unknown dataset name or missing ``path``.
        DataFormatError: from the reader.
    """
    key = str(dataset).strip().lower().replace("_", "-")
    if key == "synthetic":
        from .synthetic import generate_synthetic_log

        if path is not None:
            raise ValueError("load_log('synthetic') takes no path; pass generator options as "
                             "keyword arguments")
        return generate_synthetic_log(**kwargs)
    if key not in DATASET_NAMES:
        raise ValueError(f"unknown dataset {dataset!r}; valid names: {', '.join(DATASET_NAMES)}")
    if path is None:
        what = {"ml-1m": "the folder holding ratings.dat",
                "ml-100k": "the folder holding u.data",
                "amazon": "the reviews JSON-lines or ratings CSV file",
                "beauty": "user_sequence.txt or its folder",
                "sequences": "the sequence file",
                "csv": "the table file"}.get(key, "the folder holding ratings.csv")
        raise ValueError(f"load_log({dataset!r}) needs path= ({what})")
    if key == "ml-1m":
        return read_movielens_1m(path, **kwargs)
    if key == "ml-100k":
        return read_movielens_100k(path, **kwargs)
    if key in ("ml-20m", "ml-25m", "ml-latest", "ml-latest-small"):
        kwargs.setdefault("name", key)
        return read_movielens_csv(path, **kwargs)
    if key == "amazon":
        return read_amazon(path, **kwargs)
    if key in ("beauty", "sequences"):
        p = _as_path(path)
        if p.is_dir():
            p = p / "user_sequence.txt"
        kwargs.setdefault("name", key)
        return read_sequences(p, **kwargs)
    return read_table(path, **kwargs)  # "csv"
