"""Mean-pooling next-item baseline: the query after position ``t`` is the mean of the item
embeddings up to ``t`` (a running mean, so it is causal and trains on every position like the
sequence models), optionally through a linear map; the output layer is the item embeddings.
It ignores order entirely, which is what makes it a useful floor for the sequence models.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from .configuration_meanpool import MeanPoolConfig
from .modeling_next_item import NextItemPreTrainedModel
from .modeling_utils import FastDropout


class MeanPoolPreTrainedModel(NextItemPreTrainedModel):
    config_class = MeanPoolConfig
    base_model_prefix = "meanpool"


class MeanPoolForNextItem(MeanPoolPreTrainedModel):
    """Order-blind baseline: running mean of item embeddings -> (linear) -> tied scores."""

    def __init__(self, config: MeanPoolConfig):
        super().__init__(config)
        self.item_embeddings = nn.Embedding(config.num_items, config.embedding_dim, padding_idx=0)
        self.dropout = FastDropout(config.dropout)
        self.projection = nn.Linear(config.embedding_dim, config.embedding_dim) if config.use_projection else None
        self.post_init()

    def encode(
        self, history_ids: torch.Tensor, history_mask: torch.Tensor, user_ids: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """``[B, L]`` -> ``[B, L, embedding_dim]``: running mean over the real items so far."""
        weights = history_mask.unsqueeze(-1).to(self.item_embeddings.weight.dtype)
        embedded = self.dropout(self.item_embeddings(history_ids)) * weights
        running_mean = embedded.cumsum(1) / weights.cumsum(1).clamp(min=1.0)
        return self.projection(running_mean) if self.projection is not None else running_mean

    def output_embeddings(self) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        return self.item_embeddings.weight, None

    def get_input_embeddings(self) -> nn.Embedding:
        return self.item_embeddings


__all__ = ["MeanPoolForNextItem", "MeanPoolPreTrainedModel"]
