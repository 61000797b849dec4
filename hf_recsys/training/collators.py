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


class CTRCollator:
    """Collates CTR samples (``row``, ``user_index``, ``target``, ``target_time``, ``label``).

    Produces ``history_ids`` / ``history_times`` / ``history_mask`` ``[B, L]`` (left-padded,
    most recent last), ``target_ids`` / ``target_times`` / ``user_ids`` ``[B]``,
    ``user_features`` ``[B, F]`` (when the processor has user fields) and ``labels`` ``[B]``.
    """

    def __init__(
        self,
        sequences: InteractionSequences,
        max_history: int,
        user_feature_matrix: Optional[np.ndarray] = None,
        with_times: bool = True,
    ):
        self.sequences = sequences
        self.max_history = max_history
        self.user_feature_matrix = user_feature_matrix
        self.with_times = with_times

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
        if "label" in features[0]:
            batch["labels"] = torch.from_numpy(_column(features, "label", np.float32))
        return batch
