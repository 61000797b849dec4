"""SASRec (Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018).

Item embeddings plus learned positions go through causal Transformer blocks
(scaled dot-product attention with one boolean mask: causal and key padding); the
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
from .modeling_utils import FastDropout, TransformerBlock, scaled_dot_product_attention


def causal_padding_mask(mask: torch.Tensor) -> torch.Tensor:
    """``[B, L]`` validity -> ``[B, 1, L, L]`` boolean attention mask: query ``t`` sees keys
    ``<= t`` that are real items. A padding query sees only itself, so no row of the softmax is
    empty (its output is never used)."""
    length = mask.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool, device=mask.device).tril()
    diagonal = torch.eye(length, dtype=torch.bool, device=mask.device)
    return (causal & (mask[:, None, :] | diagonal)).unsqueeze(1)


def packed_block_forward(
    block: TransformerBlock,
    hidden: torch.Tensor,
    where: tuple[torch.Tensor, torch.Tensor],
    shape: tuple[int, int],
    attention_mask: torch.Tensor,
) -> torch.Tensor:
    """:class:`TransformerBlock` ``forward`` on the real items only.

    ``hidden`` ``[N, H]`` holds the N real positions ``where = (batch_index, time_index)`` of a
    ``[B, L]`` batch. Everything position-wise (LayerNorms, the q/k/v and output projections,
    the feed-forward layer, dropout) runs on those N rows; only attention itself scatters
    q/k/v into the padded ``[B, heads, L, head_dim]`` layout. With short histories in a batch
    padded to the longest one (Amazon data: ~7 real items of 50) this skips most of the work,
    and the result equals the padded computation at every real position.
    """
    attention = block.attention
    batch, length = shape
    size = hidden.shape[-1]
    head_dim = size // attention.num_heads

    def attend(x: torch.Tensor) -> torch.Tensor:
        qkv = attention.qkv(x)
        padded = qkv.new_zeros(batch, length, 3 * size).index_put(where, qkv)
        q, k, v = padded.view(batch, length, 3, attention.num_heads, head_dim).permute(2, 0, 3, 1, 4)
        attended = scaled_dot_product_attention(
            q, k, v, attn_mask=attention_mask, dropout_p=attention.dropout if attention.training else 0.0
        )
        return attention.out(attended.transpose(1, 2)[where].reshape(-1, size))

    if block.pre_norm:
        hidden = hidden + block.dropout(attend(block.norm1(hidden)))
        return hidden + block.dropout(block.ffn(block.norm2(hidden)))
    hidden = block.norm1(hidden + block.dropout(attend(hidden)))
    return block.norm2(hidden + block.dropout(block.ffn(hidden)))


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
        """``[B, L]`` -> ``[B, L, hidden]``; the output at ``t`` depends only on items ``<= t``
        (zeros at padding). Position-wise work runs on the real items only
        (:func:`packed_block_forward`)."""
        where = history_mask.nonzero(as_tuple=True)
        positions = causal_positions(history_mask).clamp(max=self.config.max_history)
        hidden = self.item_embeddings(history_ids[where])
        if self.config.scale_embeddings:
            hidden = hidden * math.sqrt(self.config.hidden_size)
        hidden = hidden + self.position_embeddings(positions[where])
        if self.embedding_norm is not None:
            hidden = self.embedding_norm(hidden)
        hidden = self.embedding_dropout(hidden)
        attention_mask = causal_padding_mask(history_mask)
        for block in self.blocks:
            # recomputed in the backward pass under activation checkpointing
            hidden = block.checkpointed(packed_block_forward, block, hidden, where, history_ids.shape, attention_mask)
        if self.final_norm is not None:
            hidden = self.final_norm(hidden)
        return hidden.new_zeros(*history_ids.shape, hidden.shape[-1]).index_put(where, hidden)

    def output_embeddings(self) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        return self.item_embeddings.weight, None

    def get_input_embeddings(self) -> nn.Embedding:
        return self.item_embeddings


__all__ = ["SASRecForNextItem", "SASRecPreTrainedModel", "causal_padding_mask", "packed_block_forward"]
