"""SASRec (Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018).

Item embeddings plus learned positions go through causal Transformer blocks
(``F.scaled_dot_product_attention`` with one boolean mask: causal and key padding); the
output at every position is a query scored against the same item embeddings (tied output
layer). Training predicts the next item at every position of a user's sequence at once.

Where we depart from the paper, for a reason: positions are counted from the oldest item in
the window (1, 2, ...), so left padding never changes an output (the paper's code counts from
the start of the padded array, which works only because it always pads to the same length);
the default loss is full softmax cross-entropy over all items, which Klenitskiy & Vasilev
(RecSys 2023) and others found much better than the paper's one-negative BCE (still
available as ``loss_type="bce"``).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn

from .configuration_sasrec import SASRecConfig
from .modeling_next_item import NextItemPreTrainedModel, causal_positions
from .modeling_utils import FastDropout, TransformerBlock


def causal_padding_mask(mask: torch.Tensor) -> torch.Tensor:
    """``[B, L]`` validity -> ``[B, 1, L, L]`` boolean attention mask: query ``t`` sees keys
    ``<= t`` that are real items. A padding query sees only itself, so no row of the softmax is
    empty (its output is never used)."""
    length = mask.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool, device=mask.device).tril()
    diagonal = torch.eye(length, dtype=torch.bool, device=mask.device)
    return (causal & (mask[:, None, :] | diagonal)).unsqueeze(1)


class SASRecPreTrainedModel(NextItemPreTrainedModel):
    config_class = SASRecConfig
    base_model_prefix = "sasrec"


class SASRecForNextItem(SASRecPreTrainedModel):
    """SASRec: a causal Transformer over the item sequence with a tied output layer.

    Example::

        model = AutoModel.from_pretrained("outputs/sasrec-beauty")   # after `import hf_recsys`
        model.recommend([["B004756YJA", "B004ZT0SSG"]], k=10)        # raw IDs in, raw IDs out
    """

    def __init__(self, config: SASRecConfig):
        super().__init__(config)
        self.item_embeddings = nn.Embedding(config.num_items, config.hidden_size, padding_idx=0)
        self.position_embeddings = nn.Embedding(config.max_history + 1, config.hidden_size, padding_idx=0)
        self.embedding_dropout = FastDropout(config.dropout)
        self.embedding_norm = None if config.pre_norm else nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.blocks = nn.ModuleList(
            TransformerBlock(
                config.hidden_size,
                config.num_heads,
                config.ffn_dim,
                dropout=config.dropout,
                attention_dropout=config.attention_dropout,
                activation=config.hidden_act,
                pre_norm=config.pre_norm,
                layer_norm_eps=config.layer_norm_eps,
            )
            for _ in range(config.num_layers)
        )
        self.final_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps) if config.pre_norm else None
        self.post_init()

    def encode(
        self, history_ids: torch.Tensor, history_mask: torch.Tensor, user_ids: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """``[B, L]`` -> ``[B, L, hidden]``; the output at ``t`` depends only on items ``<= t``."""
        hidden = self.item_embeddings(history_ids)
        if self.config.scale_embeddings:
            hidden = hidden * math.sqrt(self.config.hidden_size)
        positions = causal_positions(history_mask).clamp(max=self.config.max_history)
        hidden = hidden + self.position_embeddings(positions)
        if self.embedding_norm is not None:
            hidden = self.embedding_norm(hidden)
        # zero padding so whatever sits under the mask never reaches a real position
        hidden = self.embedding_dropout(hidden) * history_mask.unsqueeze(-1).to(hidden.dtype)
        attention_mask = causal_padding_mask(history_mask)
        for block in self.blocks:
            hidden = block(hidden, attention_mask)
        if self.final_norm is not None:
            hidden = self.final_norm(hidden)
        return hidden

    def output_embeddings(self) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        return self.item_embeddings.weight, None

    def get_input_embeddings(self) -> nn.Embedding:
        return self.item_embeddings


__all__ = ["SASRecForNextItem", "SASRecPreTrainedModel", "causal_padding_mask"]
