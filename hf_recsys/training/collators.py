"""Data collators: turn sample rows (pointers into the log) into model-ready tensors.

Histories are gathered for a whole batch at once from :class:`InteractionSequences`
(one fancy-index per batch), so collation costs microseconds per sample.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import torch

from ..data.samples import InteractionSequences


def _column(features: Sequence[dict[str, Any]], key: str, dtype: Any) -> np.ndarray:
    return np.fromiter((f[key] for f in features), dtype=dtype, count=len(features))


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """A stateless 64-bit mix (SplitMix64's finaliser): uint64 in, well-scrambled uint64 out."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def sample_history_negatives(
    positions: np.ndarray, clicked: np.ndarray, num_items: int, seed: int, num_special: int = 2, max_rounds: int = 8
) -> np.ndarray:
    """One sampled non-clicked item per history step (DIEN's auxiliary loss).

    The item is a hash of ``(seed, position)``, where ``position`` is the interaction's index in
    the flat log: the same interaction gets the same negative in every window, batch, epoch
    and process, with no generator state. Draws equal to the clicked item are redrawn
    (vectorised, a few rounds), then shifted by one, so a negative never equals ``clicked``.

    Args:
        positions: ``[...]`` int64 log positions of the clicked interactions.
        clicked: ``[...]`` the clicked item index at each position (0 = padding).
        num_items: item vocabulary size; draws are in ``[num_special, num_items)``.

    Returns:
        ``[...]`` int64 negatives, 0 wherever ``clicked`` is 0.
    """
    span = num_items - num_special
    if span < 2:
        raise ValueError(f"cannot sample a non-clicked item from {span} real item(s)")
    with np.errstate(over="ignore"):
        key = positions.astype(np.uint64) * np.uint64(0x100000001B3) + _splitmix64(np.full(1, seed, np.uint64))
    negatives = (_splitmix64(key) % np.uint64(span)).astype(np.int64) + num_special
    for round_ in range(1, max_rounds):
        clash = negatives == clicked
        if not clash.any():
            break
        with np.errstate(over="ignore"):
            salt = np.uint64(round_) * np.uint64(0xD1B54A32D192ED03)
        redraw = _splitmix64(key[clash] + salt)
        negatives[clash] = (redraw % np.uint64(span)).astype(np.int64) + num_special
    clash = negatives == clicked
    negatives[clash] = (negatives[clash] - num_special + 1) % span + num_special
    return np.where(clicked != 0, negatives, 0)


class CTRCollator:
    """Collates CTR samples (``row``, ``user_index``, ``target``, ``target_time``, ``label``).

    Produces ``history_ids`` / ``history_times`` / ``history_mask`` ``[B, L]`` (left-padded,
    most recent last), ``target_ids`` / ``target_times`` / ``user_ids`` ``[B]``,
    ``user_features`` ``[B, F]`` (when the processor has user fields) and ``labels`` ``[B]``.
    With ``negative_history`` it adds ``history_negatives`` ``[B, L]``: for every history step
    an item other than the one clicked there (0 at padding), a deterministic function of
    ``seed`` and the step's log position (see :func:`sample_history_negatives`); DIEN's
    auxiliary loss uses it.
    """

    def __init__(
        self,
        sequences: InteractionSequences,
        max_history: int,
        user_feature_matrix: Optional[np.ndarray] = None,
        with_times: bool = True,
        negative_history: bool = False,
        num_items: Optional[int] = None,
        seed: int = 0,
    ):
        if negative_history and num_items is None:
            raise ValueError("negative_history=True needs num_items")
        self.sequences = sequences
        self.max_history = max_history
        self.user_feature_matrix = user_feature_matrix
        self.with_times = with_times
        self.negative_history = negative_history
        self.num_items = num_items
        self.seed = seed

    def __call__(self, features: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        rows = _column(features, "row", np.int64)
        users = _column(features, "user_index", np.int64)
        history, times = self.sequences.windows(rows, self.max_history)
        batch = {
            "history_ids": torch.from_numpy(history),
            "history_mask": torch.from_numpy(history != 0),
            "target_ids": torch.from_numpy(_column(features, "target", np.int64)),
            "user_ids": torch.from_numpy(users),
        }
        if self.with_times:
            batch["history_times"] = torch.from_numpy(times)
            batch["target_times"] = torch.from_numpy(_column(features, "target_time", np.int64))
        if self.user_feature_matrix is not None and self.user_feature_matrix.shape[1]:
            batch["user_features"] = torch.from_numpy(self.user_feature_matrix[users])
        if self.negative_history:
            positions = rows[:, None] - self.max_history + np.arange(self.max_history)[None, :]
            batch["history_negatives"] = torch.from_numpy(
                sample_history_negatives(positions, history, self.num_items, self.seed)
            )
        if "label" in features[0]:
            batch["labels"] = torch.from_numpy(_column(features, "label", np.float32))
        return batch
