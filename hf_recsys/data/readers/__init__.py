"""Readers that turn raw interaction logs on disk into an :class:`InteractionLog`.

One module per source family, one registry line per dataset name:

* :mod:`.movielens` -- :func:`read_movielens_1m`, :func:`read_movielens_100k`,
  :func:`read_movielens_csv`
* :mod:`.amazon` -- :func:`read_amazon`
* :mod:`.sequences` -- :func:`read_sequences` (P5 / OpenP5 ``user_sequence.txt``)
* :mod:`.table` -- :func:`read_table` (any CSV / TSV / Parquet / JSON-lines file)
* :mod:`.registry` -- :data:`READERS`, :func:`register_reader`, :func:`infer_reader`

:func:`load_log` reads by dataset name, or infers the reader from the path. Readers never
write and never download anything. Bad input raises
:class:`~hf_recsys.data.log.DataFormatError` whose message names the file and, where known,
the 1-based line number or the column; a bad option raises its subclass
:class:`~hf_recsys.data.log.DataOptionError` naming the option.

Adding a format: write ``readers/myformat.py`` with ``read_myformat(path, **options)`` and add
one ``register_reader("myformat", read_myformat, suffixes=(".my",))`` line below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from ..log import DataError, DataFormatError, DataOptionError, InteractionLog
from ._common import PathLike, _as_path
from .amazon import AMAZON_RATINGS, read_amazon
from .movielens import (
    ML1M_URL,
    ML20M_URL,
    ML100K_GENRES,
    ML100K_URL,
    read_movielens_1m,
    read_movielens_100k,
    read_movielens_csv,
)
from .registry import READERS, ReaderSpec, first_json_record, get_reader, infer_reader, register_reader
from .sequences import read_sequences
from .table import TABLE_COLUMNS, TABLE_FORMATS, TABLE_SUFFIXES, parse_columns, parse_sep, read_table

__all__ = [
    "read_movielens_1m",
    "read_movielens_100k",
    "read_movielens_csv",
    "read_amazon",
    "read_sequences",
    "read_table",
    "load_log",
    "infer_reader",
    "register_reader",
    "get_reader",
    "parse_columns",
    "READERS",
    "ReaderSpec",
    "DATASET_NAMES",
    "DataError",
    "DataFormatError",
    "DataOptionError",
    "ML100K_GENRES",
    "ML1M_URL",
    "ML100K_URL",
    "ML20M_URL",
    "AMAZON_RATINGS",
    "TABLE_COLUMNS",
    "TABLE_FORMATS",
    "TABLE_SUFFIXES",
    "parse_sep",
    "first_json_record",
]


def _read_sequence_file(path: PathLike, name: str) -> InteractionLog:
    """``read_sequences`` on a file, or on ``FOLDER/user_sequence.txt``."""
    p = _as_path(path)
    return read_sequences(p / "user_sequence.txt" if p.is_dir() else p, name=name)


def _read_synthetic(**kwargs: Any) -> InteractionLog:
    from ..synthetic import generate_synthetic_log

    return generate_synthetic_log(**kwargs)


def _is_amazon_review(path: Path) -> bool:
    rec = first_json_record(path)
    return rec is not None and ("reviewerID" in rec or (
        "user_id" in rec and ("parent_asin" in rec or "asin" in rec)))


_ML_CSV = "the folder holding ratings.csv"
register_reader("ml-1m", read_movielens_1m, file_names=("ratings.dat",),
                folder_markers=("ratings.dat", "sequences_chronological.txt"),
                path_help="the folder holding ratings.dat")
register_reader("ml-100k", read_movielens_100k, file_names=("u.data",), folder_markers=("u.data",),
                path_help="the folder holding u.data")
register_reader("ml-20m", read_movielens_csv, folder_markers=("ratings.csv",), path_help=_ML_CSV, name="ml-20m")
register_reader("ml-25m", read_movielens_csv, folder_markers=("ratings.csv",), path_help=_ML_CSV, name="ml-25m")
register_reader("ml-latest", read_movielens_csv, folder_markers=("ratings.csv",), path_help=_ML_CSV, name="ml-latest")
register_reader("ml-latest-small", read_movielens_csv, folder_markers=("ratings.csv",), path_help=_ML_CSV,
                name="ml-latest-small")
register_reader("amazon", read_amazon, suffixes=(".json", ".jsonl"), sniff=_is_amazon_review,
                path_help="the reviews JSON-lines or ratings CSV file")
register_reader("beauty", _read_sequence_file, file_names=("user_sequence.txt",),
                folder_markers=("user_sequence.txt",), path_help="user_sequence.txt or its folder",
                name="beauty")
register_reader("sequences", _read_sequence_file, suffixes=(".txt",),
                file_names=("sequences_chronological.txt",), path_help="the sequence file", name="sequences")
register_reader("csv", read_table, suffixes=(".csv",), table_options=True, path_help="the table file",
                default_format="csv")
register_reader("tsv", read_table, suffixes=(".tsv", ".tab", ".txt"), table_options=True,
                path_help="the table file", format="tsv")
register_reader("parquet", read_table, suffixes=(".parquet", ".pq"), table_options=True,
                path_help="the table file", format="parquet")
register_reader("jsonl", read_table, suffixes=(".jsonl", ".json", ".ndjson"), table_options=True,
                path_help="the table file", format="jsonl")
register_reader("synthetic", _read_synthetic, needs_path=False)

#: Dataset names accepted by :func:`load_log` (the registered readers, at import time).
DATASET_NAMES = tuple(READERS)

#: The options only table readers take.
TABLE_OPTIONS = ("columns", "no_header", "sep", "encoding")


def load_log(dataset: Optional[str], path: Optional[PathLike] = None, **kwargs: Any) -> InteractionLog:
    """Load an interaction log by dataset name, or by the reader inferred from ``path``.

    Args:
        dataset: a name in :data:`READERS` (case-insensitive, "_" same as "-"):
            ``ml-1m`` / ``ml-100k`` (a folder), ``ml-20m`` / ``ml-25m`` / ``ml-latest`` /
            ``ml-latest-small`` (a folder with ``ratings.csv``), ``amazon`` (a reviews file;
            ``meta_path=`` optional), ``beauty`` (``user_sequence.txt`` or its folder),
            ``sequences`` (any file in that format), ``csv`` (any table, see
            :func:`read_table`), ``tsv`` / ``parquet`` / ``jsonl`` (a table of that format),
            ``synthetic`` (no path; kwargs go to ``generate_synthetic_log``). None: inferred
            from ``path`` by :func:`infer_reader`.
        path: the file or folder; required for all but ``synthetic``.
        **kwargs: passed on to the reader. The table options (``columns``, ``no_header``,
            ``sep``, ``encoding``) are for table readers only; None / False values of them are
            dropped for the others.

    Raises:
        ValueError: unknown dataset name or missing ``path``.
        DataOptionError: a table option given to a reader that does not take it, or an
            ambiguous ``path`` with no dataset name (the message names the choices).
        DataFormatError: from the reader.
    """
    if dataset is None:
        if path is None:
            raise ValueError("load_log needs a dataset name or a path")
        dataset = infer_reader(path)
    spec = get_reader(dataset)
    if not spec.table_options:
        given = [k for k in TABLE_OPTIONS if kwargs.get(k) not in (None, False)]
        if given:
            raise DataOptionError(
                f"{given[0]}: applies to table files ({', '.join(TABLE_FORMATS)}), not to "
                f"dataset {spec.name!r}", option=given[0])
        for k in TABLE_OPTIONS:
            kwargs.pop(k, None)
    return spec.read(path, **kwargs)
