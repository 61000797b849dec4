"""Caser (Tang & Wang, "Personalized Top-N Sequential Recommendation via Convolutional
Sequence Embedding", WSDM 2018).

The ``L`` most recent item embeddings form an ``L x d`` "image". Horizontal filters of every
height ``h = 1..L`` (``h x d``) slide over it and are max-pooled (union-level patterns);
vertical filters (``L x 1``) take weighted sums of the rows (point-level patterns). Their
concatenation, after dropout and a ReLU layer, is joined with the user embedding and scored
against a separate item output table with a bias, as in the paper.

The paper trains on sliding windows cut from each sequence; we compute the same window
representation at every position of a user's sequence in one pass (the convolutions run over
the whole left-padded sequence and the max-pool slides), so one sequence gives a training
target per position, exactly as for the causal models. The window at position ``t`` covers
items ``t-L+1..t``; positions before the first item are zero (the paper pads with zeros too).
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .configuration_caser import CaserConfig
from .modeling_next_item import NextItemPreTrainedModel
from .modeling_utils import UNK_INDEX, FastDropout


class CaserPreTrainedModel(NextItemPreTrainedModel):
    config_class = CaserConfig
    base_model_prefix = "caser"


class CaserForNextItem(CaserPreTrainedModel):
    """Caser with horizontal and vertical convolutions over the last ``window_length`` items."""

    def __init__(self, config: CaserConfig):
        super().__init__(config)
        d, window = config.embedding_dim, config.window_length
        self.item_embeddings = nn.Embedding(config.num_items, d, padding_idx=0)
        self.user_embeddings = nn.Embedding(config.num_users, d, padding_idx=0) if config.use_user_embedding else None
        # a horizontal filter of height h is a 1-d convolution over time with d input channels
        self.horizontal = nn.ModuleList(
            nn.Conv1d(d, config.num_horizontal_filters, kernel_size=h) for h in range(1, window + 1)
        )
        # a vertical filter mixes the L rows of the window, separately for each embedding column
        self.vertical = nn.Linear(window, config.num_vertical_filters)
        conv_dim = config.num_vertical_filters * d + config.num_horizontal_filters * window
        self.dropout = FastDropout(config.dropout)
        self.hidden = nn.Linear(conv_dim, d)
        output_dim = 2 * d if config.use_user_embedding else d
        self.output_items = nn.Embedding(config.num_items, output_dim)
        self.output_bias = nn.Parameter(torch.zeros(config.num_items))
        self.post_init()

    def encode(
        self, history_ids: torch.Tensor, history_mask: torch.Tensor, user_ids: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """``[B, S]`` -> ``[B, S, D]``: position ``t`` sees only the window ``t-L+1..t``."""
        window = self.config.window_length
        embedded = self.item_embeddings(history_ids) * history_mask.unsqueeze(-1).to(self.item_embeddings.weight.dtype)
        # L-1 zero rows in front, so the window of every position is complete
        padded = F.pad(embedded, (0, 0, window - 1, 0))  # [B, S + L - 1, d]
        channels_first = padded.transpose(1, 2)  # [B, d, S + L - 1]
        pooled = []
        for height, conv in enumerate(self.horizontal, start=1):
            activation = torch.relu(conv(channels_first))  # [B, n_h, S + L - h]
            # max over the L - h + 1 placements that fit inside each position's window
            if torch.compiler.is_exporting():  # traced max_pool1d pins the history length; same values
                pooled.append(activation.unfold(2, window - height + 1, 1).amax(-1))
            else:
                pooled.append(F.max_pool1d(activation, kernel_size=window - height + 1, stride=1))
        horizontal = torch.cat(pooled, dim=1).transpose(1, 2)  # [B, S, n_h * L]
        windows = padded.unfold(1, window, 1)  # [B, S, d, L]
        vertical = self.vertical(windows).transpose(2, 3).flatten(2)  # [B, S, n_v * d]
        features = self.dropout(torch.cat([vertical, horizontal], dim=-1))
        hidden = torch.relu(self.hidden(features))  # [B, S, d]
        if self.user_embeddings is None:
            return hidden
        if user_ids is None:
            user_ids = torch.full(history_ids.shape[:1], UNK_INDEX, dtype=torch.long, device=history_ids.device)
        user = self.user_embeddings(user_ids).unsqueeze(1).expand(-1, hidden.shape[1], -1)
        return torch.cat([hidden, user], dim=-1)

    def output_embeddings(self) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        return self.output_items.weight, self.output_bias

    def get_input_embeddings(self) -> nn.Embedding:
        return self.item_embeddings


__all__ = ["CaserForNextItem", "CaserPreTrainedModel"]
