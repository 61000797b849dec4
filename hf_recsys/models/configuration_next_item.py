"""Fields every next-item (retrieval) model shares: which training loss, how many negatives."""

from __future__ import annotations

from typing import Optional

from .configuration_utils import RecsysConfig

#: full softmax cross-entropy over every item, sampled softmax over shared uniform negatives,
#: binary cross-entropy with per-position uniform negatives (the original SASRec / Caser loss)
NEXT_ITEM_LOSSES = ("ce", "sampled_softmax", "bce")


class NextItemConfig(RecsysConfig):
    r"""Base configuration of next-item models (SASRec, GRU4Rec, Caser, mean pooling).

    Args:
        loss_type: ``"ce"`` (full softmax cross-entropy over all items, the default),
            ``"sampled_softmax"`` (softmax over the target and ``num_negatives`` uniformly
            sampled items shared by the batch) or ``"bce"`` (binary cross-entropy of the target
            against ``num_negatives`` uniformly sampled items per position).
        num_negatives: negatives for the sampled losses; ``None`` means 256 for
            ``"sampled_softmax"`` and 1 for ``"bce"`` (the SASRec paper's setting).
    """

    model_type = "next_item"

    loss_type: str = "ce"
    num_negatives: Optional[int] = None

    def resolved_num_negatives(self) -> int:
        if self.num_negatives is not None:
            return int(self.num_negatives)
        return 256 if self.loss_type == "sampled_softmax" else 1
