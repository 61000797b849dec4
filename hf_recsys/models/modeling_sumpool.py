"""Sum-pooling CTR baseline: the floor of the DIN / DIEN comparison.

The history and the target are embedded exactly like DIN ([item ‖ category]); the history
embeddings are summed over the valid positions with no attention (so the user vector does not
depend on the candidate); [user profile, summed history, target] go to the same Dice MLP as
DIN. This is the "Base Model" of the DIN paper (embedding & MLP with sum pooling).
"""

from __future__ import annotations

import torch

from .configuration_sumpool import SumPoolConfig
from .modeling_utils import ItemCategoryEmbedding, PooledHistoryCTRMixin, RecsysPreTrainedModel


class SumPoolPreTrainedModel(RecsysPreTrainedModel):
    config_class = SumPoolConfig
    base_model_prefix = "sumpool"


class SumPoolForCTR(PooledHistoryCTRMixin, SumPoolPreTrainedModel):
    """Embedding & MLP with sum pooling of the behaviour sequence."""

    def __init__(self, config: SumPoolConfig):
        super().__init__(config)
        self.embeddings = ItemCategoryEmbedding(
            config.num_items, config.item_embedding_dim, config.num_categories, config.category_embedding_dim
        )
        self._build_ctr_head(2 * config.hidden_size, config.mlp_activation)
        self.post_init()

    def pool_history(
        self, history_ids: torch.Tensor, target_ids: torch.Tensor, history_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """The sum of the valid behaviours' embeddings ``[B, D]`` and the target's ``[B, D]``."""
        keys = self.embeddings(history_ids)  # [B, L, D]
        pooled = torch.bmm(history_mask.to(keys.dtype).unsqueeze(1), keys).squeeze(1)  # [B, D]
        return pooled, self.embeddings(target_ids), {}


__all__ = ["SumPoolForCTR", "SumPoolPreTrainedModel"]
