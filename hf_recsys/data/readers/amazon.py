"""Amazon review dumps (McAuley et al.): the 2014 / 2018 / 2023 JSON-lines reviews, the 2014
ratings-only CSV, and the product metadata that gives each item its category."""

from __future__ import annotations

import ast
import gzip
import json
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from ..log import DataFormatError, DataOptionError, InteractionLog
from ._common import (
    PathLike,
    _as_path,
    _check_numbers,
    _data_line_numbers,
    _decode,
    _fail,
    _looks_binary,
    _read_bytes,
    _read_delimited,
)

#: The star scale of Amazon reviews (``overall`` / ``rating``).
AMAZON_RATINGS = (1.0, 5.0)


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


def _json_records(path: Path) -> Iterator[tuple[int, Any]]:
    """``(line number, record)`` of every non-blank line of a JSON-lines (or Python-literal)
    file; a line that does not parse is a DataFormatError naming it."""
    with _open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield lineno, _parse_record(line)
            except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
                raise DataFormatError(f"{path}: line {lineno}: not valid JSON: {exc}", path=path,
                                      line=lineno) from exc


def _diagnose_json_lines(path: Path, types: Mapping[str, tuple], required: Sequence[str]) -> None:
    """Error path only: scan the file line by line for the first bad record and raise."""
    for lineno, rec in _json_records(path):
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
            if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 2**63:
                raise DataFormatError(f"{path}: line {lineno}: key '{key}' holds a number "
                                      "too large for 64 bits", path=path, line=lineno,
                                      column=key)
            if v is not None and not isinstance(v, allowed):
                raise DataFormatError(
                    f"{path}: line {lineno}: key '{key}' must be "
                    f"{' or '.join(t.__name__ for t in allowed)}, got {v!r}"
                )


def _nonblank_line_numbers(path: Path) -> np.ndarray:
    """1-based line numbers of the non-blank lines of a (maybe gzipped) text file."""
    return _data_line_numbers(_read_bytes(path).decode("utf-8", errors="replace"))


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
        for lineno, rec in _json_records(path):
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
    raw = _read_bytes(p)
    if _looks_binary(raw):
        raise _fail(p, "is a binary file, not Amazon reviews (JSON lines) or ratings (CSV) "
                       "text (found control bytes such as NUL near the start)")
    first = _first_nonblank_line(p)
    if first is None:
        raise DataFormatError(f"{p}: file is empty", path=p)
    if stem_suffix.lower() != ".csv" and first.startswith("{"):
        df = _read_amazon_reviews_json(p)
        if "rating" in df.columns:
            _check_numbers(p, df["rating"], "overall", what="rating", low=AMAZON_RATINGS[0],
                           high=AMAZON_RATINGS[1],
                           line_of=lambda k: int(_nonblank_line_numbers(p)[k]))
    else:
        cols = list(csv_columns)
        if sorted(cols) != ["item_id", "rating", "timestamp", "user_id"]:
            raise DataOptionError(f"csv_columns: must order user_id, item_id, rating, timestamp; "
                                  f"got {cols}", option="csv_columns")
        _decode(p, raw, None, "CSV")
        df = _read_delimited(p, raw, ",", cols, {"rating": "float", "timestamp": "int"},
                             required=("user_id", "item_id"))
        _check_numbers(p, df["rating"], "rating", what="rating", low=AMAZON_RATINGS[0],
                       high=AMAZON_RATINGS[1],
                       line_of=lambda k: int(_nonblank_line_numbers(p)[k]))
        df = df[["user_id", "item_id", "timestamp", "rating"]]
    items = _read_amazon_meta(_as_path(meta_path)) if meta_path is not None else None
    return InteractionLog(df.reset_index(drop=True), items=items, name="amazon")
