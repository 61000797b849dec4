"""One line per user, ``USER_ID ITEM_ID ITEM_ID ...`` in time order: the P5 / OpenP5
``user_sequence.txt`` format (Amazon Beauty, Sports, Toys, Yelp) and MovieLens'
``sequences_chronological.txt``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..log import DataFormatError, InteractionLog
from ._common import PathLike, _as_path, _fail, _lines, _looks_binary, _read_bytes


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
    if _looks_binary(raw):
        raise _fail(p, "is a binary file, not a text file of sequences (found control bytes "
                       "such as NUL near the start)")
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
    df.attrs["one_line_per_user"] = True  # an item repeated in a line is a repeated interaction
    return InteractionLog(df, name=name)
