"""Sum-pooling CTR baseline: the floor of the DIN / DIEN comparison.

The history and the target are embedded exactly like DIN ([item ‖ category]); the history
embeddings are summed over the valid positions with no attention (so the user vector does not
depend on the candidate); [user profile, summed history, target] go to the same Dice MLP as
DIN. This is the "Base Model" of the DIN paper (embedding & MLP with sum pooling).
"""

from __future__ import annotations

from typing import Optional

import torch

from .configuration_sumpool import SumPoolConfig
from .modeling_utils import (
    MLP,
    BehaviourCTRMixin,
    CTROutput,
    ItemCategoryEmbedding,
    RecsysPreTrainedModel,
    UserFeatureEmbedding,
    binary_cross_entropy,
)


class SumPoolPreTrainedModel(RecsysPreTrainedModel):
    config_class = SumPoolConfig
    base_model_prefix = "sumpool"


class SumPoolForCTR(BehaviourCTRMixin, SumPoolPreTrainedModel):
    """Embedding & MLP with sum pooling of the behaviour sequence."""

    def __init__(self, config: SumPoolConfig):
        super().__init__(config)
        self.embeddings = ItemCategoryEmbedding(
            config.num_items, config.item_embedding_dim, config.num_categories, config.category_embedding_dim
        )
        self.user_features = UserFeatureEmbedding(config.user_feature_sizes, config.user_feature_dim)
        self.mlp = MLP(
            2 * config.hidden_size + self.user_features.output_dim,
            config.mlp_hidden_sizes,
            activation=config.mlp_activation,
            dropout=config.dropout,
            output_dim=1,
        )
        self.post_init()

    def forward(
        self,
        history_ids: torch.Tensor,
        target_ids: torch.Tensor,
        history_mask: Optional[torch.Tensor] = None,
        user_features: Optional[torch.Tensor] = None,
        labels: Optional[torch.Tensor] = None,
        **kwargs,
    ) -> CTROutput:
        """
        Args:
            history_ids: ``[B, L]`` item indices, left- or right-padded with 0.
            target_ids: ``[B]`` candidate item indices.
            history_mask: ``[B, L]`` True at real behaviours (default: ``history_ids != 0``).
            user_features: ``[B, F]`` user profile feature indices.
            labels: ``[B]`` 1 for a click, 0 otherwise.

        Returns:
            :class:`CTROutput` with ``logits`` ``[B]`` and ``loss`` when ``labels`` are given.
        """
        if history_mask is None:
            history_mask = history_ids != 0
        keys = self.embeddings(history_ids)  # [B, L, D]
        pooled = torch.bmm(history_mask.to(keys.dtype).unsqueeze(1), keys).squeeze(1)  # [B, D]
        features = [
            self.user_features(user_features, history_ids.shape[0], history_ids.device),
            pooled,
            self.embeddings(target_ids),
        ]
        logits = self.mlp(torch.cat(features, dim=-1)).squeeze(-1)
        loss = binary_cross_entropy(logits, labels) if labels is not None else None
        return CTROutput(loss=loss, logits=logits)


__all__ = ["SumPoolForCTR", "SumPoolPreTrainedModel"]
