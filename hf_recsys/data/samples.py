"""Training samples as `datasets.Dataset`s whose histories are windows into one flat log.

A sample never copies its history. All interactions, sorted by user and time, live once in
:class:`InteractionSequences` (flat numpy arrays); a sample row stores the position of its
target interaction (``row``) and the collator cuts the ``max_history`` interactions before it
with one vectorised gather per batch. This keeps a 20M-interaction log with history 200 in a
few hundred MB instead of tens of GB, and collation cost independent of Python per-row work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import datasets
import numpy as np
import pandas as pd
import pyarrow as pa

from ..constants import NUM_SPECIAL, PAD_INDEX
from .log import DataFormatError
from .processing import TEST, TRAIN, VALID


@dataclass
class InteractionSequences:
    """Every user's chronological sequence, concatenated.

    Attributes (all length ``N`` = number of interactions):
        items: item index of each interaction.
        timestamps: int64 timestamp of each interaction.
        users: user index of each interaction.
        user_start: position of the user's first interaction (so ``items[user_start[r]:r]``
            is the full history before interaction ``r``).
        split: 0 train, 1 valid, 2 test.
    """

    items: np.ndarray
    timestamps: np.ndarray
    users: np.ndarray
    user_start: np.ndarray
    split: np.ndarray

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> "InteractionSequences":
        """``frame`` is sorted by user then time and has user_index, item_index, timestamp, split."""
        users = frame["user_index"].to_numpy(np.int64)
        n = len(users)
        is_start = np.ones(n, dtype=bool)
        is_start[1:] = users[1:] != users[:-1]
        start_positions = np.flatnonzero(is_start)
        user_start = start_positions[np.cumsum(is_start) - 1]
        return cls(
            items=frame["item_index"].to_numpy(np.int64),
            timestamps=frame["timestamp"].to_numpy(np.int64),
            users=users,
            user_start=user_start.astype(np.int64),
            split=frame["split"].to_numpy(np.int8),
        )

    def __len__(self) -> int:
        return len(self.items)

    def windows(self, rows: np.ndarray, max_length: int, include_row: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Left-padded histories before each of ``rows``.

        Returns ``(item_ids, timestamps)``, both ``[len(rows), max_length]``; the most recent
        interaction sits in the last column and padding is :data:`PAD_INDEX` (time 0). With
        ``include_row`` the window ends at ``rows`` itself instead of just before it.
        """
        rows = np.asarray(rows, dtype=np.int64)
        end = rows + 1 if include_row else rows
        index = end[:, None] - max_length + np.arange(max_length)[None, :]
        valid = index >= self.user_start[rows][:, None]
        index = np.where(valid, index, 0)
        return (
            np.where(valid, self.items[index], PAD_INDEX),
            np.where(valid, self.timestamps[index], 0),
        )

    def user_positive_codes(self, num_items: int) -> np.ndarray:
        """Sorted ``user * num_items + item`` codes of every interaction (for negative sampling)."""
        return np.unique(self.users * num_items + self.items)


def sample_negatives(
    users: np.ndarray,
    num_items: int,
    positive_codes: np.ndarray,
    rng: np.random.Generator,
    max_rounds: int = 100,
) -> np.ndarray:
    """One uniformly sampled item per entry of ``users`` that the user never interacted with.

    Vectorised rejection sampling: draw for all, redraw only the collisions. Entries still
    colliding after ``max_rounds`` (users who rated nearly every item) draw from their user's
    unrated items directly.
    """
    negatives = rng.integers(NUM_SPECIAL, num_items, size=len(users))
    for _ in range(max_rounds):
        clash = _rated(users, negatives, num_items, positive_codes)
        if not clash.any():
            return negatives
        negatives[clash] = rng.integers(NUM_SPECIAL, num_items, size=int(clash.sum()))
    clash = np.flatnonzero(_rated(users, negatives, num_items, positive_codes))
    for user in np.unique(users[clash]):
        entries = clash[users[clash] == user]
        rated = positive_codes[np.searchsorted(positive_codes, user * num_items):
                               np.searchsorted(positive_codes, (user + 1) * num_items)] - user * num_items
        unrated = np.setdiff1d(np.arange(NUM_SPECIAL, num_items), rated)
        if len(unrated) == 0:
            raise DataFormatError("could not sample negatives: a user interacted with every item of the log, so a "
                                  "CTR model has no item they did not click; use a log with more items than any "
                                  "user's history")
        negatives[entries] = rng.choice(unrated, size=len(entries))
    return negatives


def _rated(users: np.ndarray, items: np.ndarray, num_items: int, positive_codes: np.ndarray) -> np.ndarray:
    """True where ``users[i]`` interacted with ``items[i]`` (``positive_codes`` sorted)."""
    codes = users * num_items + items
    position = np.minimum(np.searchsorted(positive_codes, codes), len(positive_codes) - 1)
    return positive_codes[position] == codes


def build_ctr_dataset(
    sequences: InteractionSequences,
    split: int,
    num_items: int,
    num_negatives: int,
    seed: int,
    min_history: int = 0,
    positive_codes: Optional[np.ndarray] = None,
) -> datasets.Dataset:
    """CTR samples for one split: each interaction of the split is a positive (label 1) and
    ``num_negatives`` items the user never interacted with are negatives (label 0) that share
    its history. Negatives are drawn with ``seed``, so every model sees the same samples.

    Columns: ``row`` (the target interaction; its history is the window before it),
    ``user_index``, ``target``, ``target_time``, ``label``.
    """
    rows = np.flatnonzero(sequences.split == split)
    if min_history:
        rows = rows[rows - sequences.user_start[rows] >= min_history]
    if positive_codes is None:
        positive_codes = sequences.user_positive_codes(num_items)
    rng = np.random.default_rng(seed)
    negatives = sample_negatives(np.repeat(sequences.users[rows], num_negatives), num_items, positive_codes, rng)
    # Each positive directly followed by its negatives: built in place as a [rows, 1 + k] grid
    # (no concatenate-argsort-gather pass, which cost several full copies of every column).
    per_sample = 1 + num_negatives
    all_rows = np.repeat(rows, per_sample)
    target = np.empty((len(rows), per_sample), dtype=np.int64)
    target[:, 0] = sequences.items[rows]
    target[:, 1:] = negatives.reshape(len(rows), num_negatives)
    label = np.zeros((len(rows), per_sample), dtype=np.float32)
    label[:, 0] = 1.0
    columns = {
        "row": all_rows,
        "user_index": sequences.users[all_rows],
        "target": target.reshape(-1),
        "target_time": sequences.timestamps[all_rows],
        "label": label.reshape(-1),
    }
    # pyarrow wraps the numpy buffers without a copy (Dataset.from_dict would convert them)
    return datasets.Dataset(pa.table({name: pa.array(values) for name, values in columns.items()}))


def build_next_item_dataset(sequences: InteractionSequences, split: int) -> datasets.Dataset:
    """One row per user for next-item models.

    For ``TRAIN`` the row is the user's last training interaction (the window ending there is
    the training sequence, each position predicting the next); for ``VALID``/``TEST`` it is the
    held-out interaction (``target``), whose history is everything before it.
    Columns: ``row``, ``user_index``, ``target``.
    """
    if split == TRAIN:
        is_train = sequences.split == TRAIN
        rows = np.flatnonzero(is_train)
        users = sequences.users[rows]
        last = np.ones(len(rows), dtype=bool)
        last[:-1] = users[1:] != users[:-1]
        rows = rows[last]
        # a training sequence needs at least two items to give one (input, target) pair
        rows = rows[rows - sequences.user_start[rows] >= 1]
    else:
        rows = np.flatnonzero(sequences.split == split)
        rows = rows[rows - sequences.user_start[rows] >= 1]
    return datasets.Dataset.from_dict(
        {"row": rows, "user_index": sequences.users[rows], "target": sequences.items[rows]}
    )


__all__ = [
    "InteractionSequences",
    "sample_negatives",
    "build_ctr_dataset",
    "build_next_item_dataset",
    "TRAIN",
    "VALID",
    "TEST",
]
