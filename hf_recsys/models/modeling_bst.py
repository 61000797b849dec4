"""Behavior Sequence Transformer (Chen et al., "Behavior Sequence Transformer for E-commerce
Recommendation in Alibaba", DLP-KDD 2019).

The behaviour sequence and the target item form one sequence (the target is the last
position). Each position embeds [item ‖ category] plus a position signal; Transformer blocks
(post-LN, as in the paper) attend over the valid positions; the target's output, the mean of
the behaviours' outputs and the user profile go to a LeakyReLU MLP that gives the click logit.

One departure from the paper, for a reason: the paper flattens all position outputs into the
MLP, which makes the score depend on how the history is padded. We feed the target position
and a masked mean over behaviours instead, so padding never changes a score.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from .configuration_bst import BSTConfig
from .modeling_utils import (
    BehaviourCTRMixin,
    CTROutput,
    RecsysPreTrainedModel,
    TransformerBlock,
    masked_mean,
    positions_from_end,
)


def time_gap_buckets(gaps: torch.Tensor, num_buckets: int) -> torch.Tensor:
    """Bucket non-negative time gaps (seconds) on a log2 scale of minutes.

    Bucket 0 is reserved for the target position; behaviours get 1..num_buckets-1.
    """
    minutes = gaps.clamp(min=0).float() / 60.0
    return (torch.log2(1.0 + minutes).floor().long() + 1).clamp(max=num_buckets - 1)


class BSTEmbeddings(nn.Module):
    """Embeds item IDs as [item ‖ category] and adds the position signal."""

    def __init__(self, config: BSTConfig):
        super().__init__()
        self.config = config
        self.item_embeddings = nn.Embedding(config.num_items, config.item_embedding_dim, padding_idx=0)
        if config.category_embedding_dim:
            self.category_embeddings = nn.Embedding(config.num_categories, config.category_embedding_dim, padding_idx=0)
        # item index -> category index; saved with the weights so the model is self-contained
        self.register_buffer("item_category", torch.zeros(config.num_items, dtype=torch.long), persistent=True)
        if config.position_type == "time_gap":
            self.position_embeddings = nn.Embedding(config.num_time_buckets, config.hidden_size)
        elif config.position_type == "learned":
            self.position_embeddings = nn.Embedding(config.max_history + 1, config.hidden_size)
        elif config.position_type != "none":
            raise ValueError(f"unknown position_type {config.position_type!r}")

    def embed_items(self, item_ids: torch.Tensor) -> torch.Tensor:
        """``[...]`` item indices -> ``[..., hidden]``."""
        embedded = self.item_embeddings(item_ids)
        if self.config.category_embedding_dim:
            embedded = torch.cat([embedded, self.category_embeddings(self.item_category[item_ids])], dim=-1)
        return embedded

    def forward(
        self,
        history_ids: torch.Tensor,
        history_mask: torch.Tensor,
        target_ids: torch.Tensor,
        history_times: Optional[torch.Tensor],
        target_times: Optional[torch.Tensor],
    ) -> torch.Tensor:
        """Returns ``[B, L + 1, hidden]``: the history then the target."""
        sequence = self.embed_items(torch.cat([history_ids, target_ids.unsqueeze(1)], dim=1))
        if self.config.position_type == "learned":
            distance = positions_from_end(history_mask).clamp(max=self.config.max_history)
            positions = torch.cat([distance, torch.zeros_like(target_ids).unsqueeze(1)], dim=1)
            sequence = sequence + self.position_embeddings(positions)
        elif self.config.position_type == "time_gap":
            if history_times is None or target_times is None:
                raise ValueError("position_type='time_gap' needs history_times and target_times")
            buckets = time_gap_buckets(target_times.unsqueeze(1) - history_times, self.config.num_time_buckets)
            buckets = torch.where(history_mask, buckets, torch.zeros_like(buckets))
            positions = torch.cat([buckets, torch.zeros_like(target_ids).unsqueeze(1)], dim=1)
            sequence = sequence + self.position_embeddings(positions)
        return sequence


class BSTPreTrainedModel(RecsysPreTrainedModel):
    config_class = BSTConfig
    base_model_prefix = "bst"


class BSTForCTR(BehaviourCTRMixin, BSTPreTrainedModel):
    """BST with a click-through-rate head.

    Example::

        model = AutoModel.from_pretrained("path/to/bst")          # after `import hf_recsys`
        model.recommend([["1193", "661", "914"]], k=10)            # raw IDs in, raw IDs out
    """

    def __init__(self, config: BSTConfig):
        super().__init__(config)
        self.embeddings = BSTEmbeddings(config)
        self.blocks = nn.ModuleList(
            TransformerBlock(
                config.hidden_size,
                config.num_heads,
                config.ffn_dim,
                dropout=config.dropout,
                attention_dropout=config.attention_dropout,
                activation="leaky_relu",
            )
            for _ in range(config.num_layers)
        )
        self._build_ctr_head(2 * config.hidden_size, "leaky_relu", negative_slope=config.leaky_relu_slope)
        self.post_init()

    @torch.no_grad()
    def load_item_features(self, processor) -> None:
        """Install the item -> category table ``[num_items]`` from the processor."""
        table = processor.item_category_table()
        if table is not None and self.config.category_embedding_dim:
            self.embeddings.item_category.copy_(torch.as_tensor(table, dtype=torch.long))

    def forward(
        self,
        history_ids: torch.Tensor,
        target_ids: torch.Tensor,
        history_mask: Optional[torch.Tensor] = None,
        history_times: Optional[torch.Tensor] = None,
        target_times: Optional[torch.Tensor] = None,
        user_features: Optional[torch.Tensor] = None,
        labels: Optional[torch.Tensor] = None,
        **kwargs,
    ) -> CTROutput:
        """
        Args:
            history_ids: ``[B, L]`` item indices, left- or right-padded with 0.
            target_ids: ``[B]`` candidate item indices.
            history_mask: ``[B, L]`` True at real behaviours (default: ``history_ids != 0``).
            history_times / target_times: ``[B, L]`` / ``[B]`` timestamps (for time-gap positions).
            user_features: ``[B, F]`` user profile feature indices.
            labels: ``[B]`` 1 for a click, 0 otherwise.

        Returns:
            :class:`CTROutput` with ``logits`` ``[B]`` and ``loss`` when ``labels`` are given.
        """
        if history_mask is None:
            history_mask = history_ids != 0
        history_mask = history_mask.bool()
        hidden = self.embeddings(history_ids, history_mask, target_ids, history_times, target_times)
        sequence_mask = torch.cat([history_mask, torch.ones_like(history_mask[:, :1])], dim=1)
        attention_mask = sequence_mask[:, None, None, :]
        for block in self.blocks:
            hidden = block(hidden, attention_mask)
        target, history = hidden[:, -1], masked_mean(hidden[:, :-1], history_mask)
        return self._click_output([target, history, self._user_profile(user_features, target)], labels)


__all__ = ["BSTForCTR", "BSTPreTrainedModel", "time_gap_buckets"]
