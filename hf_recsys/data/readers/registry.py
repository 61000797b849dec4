"""The registry from dataset name to reader, and the inference of a reader from a path.

A reader is a function ``reader(path, **options) -> InteractionLog``. Registering it under a
name makes it a ``load_log`` dataset name and a ``--dataset`` choice, and tells
:func:`infer_reader` which paths it reads (file suffixes, exact file names, marker files in a
folder, and optionally a look at the file's first record).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from ..log import DataFormatError, DataOptionError, InteractionLog
from ._common import PathLike, _as_path

Reader = Callable[..., InteractionLog]


@dataclass(frozen=True)
class ReaderSpec:
    """One registered reader.

    Attributes:
        name: the dataset name (lower case, ``-`` not ``_``).
        reader: ``reader(path, **fixed, **options) -> InteractionLog``.
        suffixes: file suffixes it reads (after an optional ``.gz``), e.g. ``(".csv",)``.
        file_names: exact file names that are this dataset (``ratings.dat``).
        folder_markers: files whose presence in a folder makes it this dataset.
        sniff: optional ``sniff(path) -> bool`` that looks inside a file; used to choose among
            readers of the same suffix.
        table_options: accepts the table options (``columns``, ``no_header``, ``sep``,
            ``encoding``).
        needs_path: False for generated data (``synthetic``).
        path_help: what the path must be, for messages.
        fixed: keyword arguments always passed to ``reader`` (e.g. ``name="ml-25m"``).
    """

    name: str
    reader: Reader
    suffixes: tuple[str, ...] = ()
    file_names: tuple[str, ...] = ()
    folder_markers: tuple[str, ...] = ()
    sniff: Optional[Callable[[Path], bool]] = None
    table_options: bool = False
    needs_path: bool = True
    path_help: str = ""
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def read(self, path: Optional[PathLike], **options: Any) -> InteractionLog:
        if not self.needs_path:
            if path is not None:
                raise ValueError(f"load_log({self.name!r}) takes no path; pass generator "
                                 "options as keyword arguments")
            return self.reader(**{**self.fixed, **options})
        if path is None:
            raise ValueError(f"load_log({self.name!r}) needs path= ({self.path_help})")
        return self.reader(path, **{**self.fixed, **options})


#: Every registered reader by name, in registration order.
READERS: dict[str, ReaderSpec] = {}


def _key(name: str) -> str:
    return str(name).strip().lower().replace("_", "-")


def register_reader(name: str, reader: Reader, /, *, suffixes: tuple[str, ...] = (),
                    file_names: tuple[str, ...] = (), folder_markers: tuple[str, ...] = (),
                    sniff: Optional[Callable[[Path], bool]] = None, table_options: bool = False,
                    needs_path: bool = True, path_help: str = "", **fixed: Any) -> ReaderSpec:
    """Register ``reader`` under ``name`` (see :class:`ReaderSpec` for the arguments);
    returns the spec. Registering a name again replaces the earlier reader."""
    key = _key(name)
    spec = ReaderSpec(key, reader, tuple(s.lower() for s in suffixes), tuple(file_names),
                      tuple(folder_markers), sniff, table_options, needs_path, path_help,
                      dict(fixed))
    READERS[key] = spec
    return spec


def get_reader(name: str) -> ReaderSpec:
    """The spec registered under ``name`` (case-insensitive, ``_`` same as ``-``)."""
    key = _key(name)
    if key not in READERS:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(READERS)}")
    return READERS[key]


def _suffix(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return Path(name).suffix


def infer_reader(path: PathLike) -> str:
    """The name of the reader for ``path``, judged from the path alone.

    * a folder: the readers whose marker files it holds (``ratings.dat`` -> ml-1m, ``u.data``
      -> ml-100k, ``ratings.csv`` -> a MovieLens CSV release, ``user_sequence.txt`` ->
      beauty);
    * a file: a reader that names the file exactly (``ratings.dat``, ``u.data``,
      ``user_sequence.txt``), else the readers of its suffix (``.csv``, ``.tsv``,
      ``.parquet``, ``.jsonl``, ``.json.gz`` ...); where several read a suffix, a look at the
      first record decides when it can (an Amazon review has ``reviewerID``).

    Raises:
        DataFormatError: the path does not exist, nothing reads it, or several readers could
            and nothing decides (the message names the choices; pass a dataset name).
    """
    p = _as_path(path)
    if not p.exists():
        raise DataFormatError(f"{p}: no such file or folder", path=p)
    specs = [s for s in READERS.values() if s.needs_path]
    if p.is_dir():
        found = [s for s in specs if any((p / m).exists() for m in s.folder_markers)]
        names = _one_family(found, p)
        if len(names) == 1:
            return names[0]
        if not names:
            known = "; ".join(f"{s.name}: {' or '.join(s.folder_markers)}" for s in specs
                              if s.folder_markers)
            raise DataFormatError(
                f"{p}: cannot tell which dataset this folder holds (none of the files that mark "
                f"one: {known}); pass the data file itself or a dataset name", path=p,
                option="dataset")
        raise _ambiguous(p, names)
    by_name = [s for s in specs if p.name in s.file_names]
    if len(by_name) == 1:
        return by_name[0].name
    suffix = _suffix(p)
    found = by_name or [s for s in specs if suffix in s.suffixes]
    if not found:
        suffixes = sorted({x for s in specs for x in s.suffixes})
        raise DataFormatError(
            f"{p}: cannot tell the format from the suffix {suffix or '(none)'!r}; readable "
            f"suffixes: {', '.join(suffixes)} (optionally .gz), or pass a dataset name",
            path=p, option="dataset")
    if len(found) == 1:
        return found[0].name
    sniffed = [s for s in found if s.sniff is not None and _safe_sniff(s, p)]
    if len(sniffed) == 1:
        return sniffed[0].name
    plain = [s for s in found if s.sniff is None]
    if not sniffed and len(plain) == 1:
        return plain[0].name
    raise _ambiguous(p, [s.name for s in (sniffed or found)])


def _one_family(found: list[ReaderSpec], folder: Path) -> list[str]:
    """Readers that share one function (ml-20m, ml-25m, ...) count as one: the one named like
    the folder, else the first registered."""
    if len(found) > 1 and len({id(s.reader) for s in found}) == 1:
        same = [s for s in found if s.name == folder.name.lower()]
        return [(same or found)[0].name]
    return [s.name for s in found]


def _safe_sniff(spec: ReaderSpec, path: Path) -> bool:
    try:
        return bool(spec.sniff(path))
    except Exception:  # a file a sniffer cannot read is simply not that format
        return False


def _ambiguous(path: Path, names: list[str]) -> DataFormatError:
    return DataOptionError(
        f"{path}: could be read as {' or '.join(names)}; pass the dataset name (one of "
        f"{', '.join(names)})", path=path, option="dataset")


def first_json_record(path: Path) -> Optional[dict]:
    """The first non-blank line of a (maybe gzipped) JSON-lines file as a dict, else None."""
    import gzip

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        for _, line in zip(range(1000), fh):
            if line.strip():
                try:
                    rec = json.loads(line)
                except ValueError:
                    return None
                return rec if isinstance(rec, dict) else None
    return None
