"""Pieces every reader shares: reading bytes, decoding text, parsing delimited files with exact
line numbers on bad input, and the checks on ratings and timestamps.

Every reader is vectorised (the pandas C parser, pyarrow, numpy): no Python loop runs per
interaction. Readers never write anything and never download anything. Bad input raises
:class:`~hf_recsys.data.log.DataFormatError` whose message names the file and, where known, the
1-based line number or the column.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd

from ..log import DataFormatError, DataOptionError, checked_numbers, is_integer_like

PathLike = Union[str, "os.PathLike[str]"]

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


def _data_line_numbers(text: str, header: bool = False) -> np.ndarray:
    """1-based line numbers of the data rows of ``text``: its non-blank lines (the parsers skip
    blank ones), less the header line when ``header``. Error paths only."""
    lines = _lines(text)
    numbers = (lines.index[lines.str.strip() != ""] + 1).to_numpy()
    return numbers[1:] if header else numbers


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
            ok = is_integer_like(values) if kind == "int" else values.notna()
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


def _folder(path: PathLike, what: str, marker: str, hint: str) -> Path:
    """The dataset folder; a path to the marker file itself is accepted too."""
    p = _as_path(path)
    if p.is_file() and p.name == marker:
        return p.parent
    if not p.is_dir():
        raise DataFormatError(f"{p}: {what} folder not found. {hint}")
    return p


def _fail(path: Path, message: str, *, line: Optional[int] = None, unit: str = "line",
          column: Optional[str] = None) -> DataFormatError:
    """A DataFormatError ``"PATH: UNIT LINE: MESSAGE"`` carrying path, line and column."""
    where = f"{path}: {unit} {line}: " if line is not None else f"{path}: "
    return DataFormatError(where + message, path=path, line=line, column=column)


def _looks_binary(data: bytes) -> bool:
    """True for data no text log holds: a NUL byte, or many control bytes, near the start."""
    head = data[:65536]
    if b"\x00" in head:
        return True
    control = sum(head.count(bytes([b])) for b in range(32) if b not in (9, 10, 12, 13, 27))
    return control > max(8, len(head) // 100)


def _decode(path: Path, data: bytes, encoding: Optional[str], what: str) -> str:
    """``data`` as text in ``encoding`` (UTF-8 when None, a UTF-8 BOM dropped).

    A binary file and a file in another encoding each get a one-line DataFormatError naming the
    file, the line of the first undecodable byte and the ``encoding`` option.
    """
    if _looks_binary(data):
        raise _fail(path, f"is a binary file, not {what} text (found control bytes such as NUL "
                          "near the start)")
    enc = encoding or "utf-8"
    try:
        codecs_name = codecs.lookup(enc).name
    except LookupError as exc:
        raise DataOptionError(f"encoding: unknown text encoding {enc!r} (e.g. utf-8, latin-1, "
                              "cp1252)", option="encoding") from exc
    try:
        text = data.decode(enc)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        hint = ("; pass the file's encoding (the encoding option, e.g. latin-1 or cp1252)"
                if encoding is None else "")
        raise _fail(path, f"byte 0x{data[exc.start]:02x} is not valid {codecs_name} text"
                          f"{hint}", line=line) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def _check_numbers(path: Path, values: pd.Series, source: str, *, what: str, line_of,
                   unit: str = "line", low: Optional[float] = None,
                   high: Optional[float] = None, integer: bool = False) -> np.ndarray:
    """float64 ``values``, each a finite number within [low, high] (and whole if ``integer``).

    ``line_of(k)`` gives the line (record, row) number of position ``k`` for the message.
    """
    return checked_numbers(values, lambda k, problem: _fail(
        path, f"column '{source}' ({what}) {problem}", line=line_of(k), unit=unit, column=source),
        low=low, high=high, integer=integer)
