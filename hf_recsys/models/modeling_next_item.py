"""What every next-item (retrieval) model shares: the training losses, ``forward`` with
per-position or last-position labels, scoring for ``recommend()``, and embedding export.

A next-item model only implements :meth:`NextItemPreTrainedModel.encode`, which turns a
left-padded history ``[B, L]`` into one query vector per position ``[B, L, D]`` (the query at
position ``t`` may only depend on items ``<= t``), and :meth:`output_embeddings`, the item
table ``[num_items, D]`` (plus an optional bias) that queries are scored against. The score of
item ``j`` after position ``t`` is ``query[t] . item[j] (+ bias[j])``.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from .configuration_next_item import NEXT_ITEM_LOSSES, NextItemConfig
from .modeling_utils import UNK_INDEX, NextItemOutput, RecommenderMixin, RecsysPreTrainedModel

IGNORE_INDEX = -100
#: indices 0 (padding) and 1 (unknown) are never a target nor a recommendation
NUM_SPECIAL_ITEMS = UNK_INDEX + 1


def next_item_loss(
    queries: torch.Tensor,
    targets: torch.Tensor,
    item_weight: torch.Tensor,
    item_bias: Optional[torch.Tensor],
    loss_type: str,
    num_negatives: int,
) -> torch.Tensor:
    """Training loss of ``queries`` ``[N, D]`` against their ``targets`` ``[N]`` (item indices).

    * ``"ce"``: softmax cross-entropy over every real item (padding and unknown excluded).
    * ``"sampled_softmax"``: softmax over the target and ``num_negatives`` uniform items shared
      by all rows; a negative that equals a row's target is masked out for that row.
    * ``"bce"``: ``-log s(pos) - sum log(1 - s(neg))`` with ``num_negatives`` uniform items per
      row (hits masked), averaged over rows.

    Scores are cast to float32 before the loss, whatever the autocast dtype.
    """
    if loss_type == "ce":
        # score only real items: slicing the table is a view, and avoids masking two columns
        logits = queries @ item_weight[NUM_SPECIAL_ITEMS:].T
        if item_bias is not None:
            logits = logits + item_bias[NUM_SPECIAL_ITEMS:]
        return F.cross_entropy(logits.float(), targets - NUM_SPECIAL_ITEMS)

    num_items = item_weight.shape[0]
    positive = (queries * item_weight[targets]).sum(-1)
    if item_bias is not None:
        positive = positive + item_bias[targets]
    if loss_type == "sampled_softmax":
        negatives = torch.randint(NUM_SPECIAL_ITEMS, num_items, (num_negatives,), device=queries.device)
        negative = queries @ item_weight[negatives].T  # [N, K]
        if item_bias is not None:
            negative = negative + item_bias[negatives]
        negative = negative.float().masked_fill(negatives[None, :] == targets[:, None], float("-inf"))
        logits = torch.cat([positive.float().unsqueeze(1), negative], dim=1)
        return F.cross_entropy(logits, torch.zeros_like(targets))
    if loss_type == "bce":
        negatives = torch.randint(NUM_SPECIAL_ITEMS, num_items, (len(targets), num_negatives), device=queries.device)
        negative = torch.einsum("nd,nkd->nk", queries, item_weight[negatives])
        if item_bias is not None:
            negative = negative + item_bias[negatives]
        real = (negatives != targets[:, None]).float()
        return F.softplus(-positive.float()).mean() + (F.softplus(negative.float()) * real).sum(1).mean()
    raise ValueError(f"unknown loss_type {loss_type!r}; choose from {NEXT_ITEM_LOSSES}")


def causal_positions(mask: torch.Tensor) -> torch.Tensor:
    """``[B, L]`` 1-based position of each valid item counted from the oldest one in the window
    (0 at padding). Unlike a distance from the end, it depends only on the past, so a causal
    model stays causal, and it does not change with the amount of left padding."""
    return mask.long().cumsum(1) * mask.long()


class NextItemPreTrainedModel(RecommenderMixin, RecsysPreTrainedModel):
    """Base of next-item models: subclasses implement :meth:`encode` and
    :meth:`output_embeddings`; this class provides ``forward``, the losses, ``score_items``
    (so ``recommend()`` works), ``get_item_embeddings`` and ``get_query_embeddings``.
    """

    config_class = NextItemConfig
    base_model_prefix = "next_item"

    def __init__(self, config: NextItemConfig):
        super().__init__(config)
        if config.loss_type not in NEXT_ITEM_LOSSES:
            raise ValueError(f"unknown loss_type {config.loss_type!r}; choose from {NEXT_ITEM_LOSSES}")

    # ------------------------------------------------------------------ to implement
    def encode(
        self, history_ids: torch.Tensor, history_mask: torch.Tensor, user_ids: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """``[B, L]`` left-padded item indices (+ mask, users) -> ``[B, L, D]`` queries, causal."""
        raise NotImplementedError

    def output_embeddings(self) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """The item table ``[num_items, D]`` queries are scored against, and a bias ``[num_items]`` or None."""
        raise NotImplementedError

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        history_ids: torch.Tensor,
        history_mask: Optional[torch.Tensor] = None,
        labels: Optional[torch.Tensor] = None,
        user_ids: Optional[torch.Tensor] = None,
        output_hidden_states: bool = False,
        **kwargs,
    ) -> NextItemOutput:
        """
        Args:
            history_ids: ``[B, L]`` item indices, left-padded with 0 (most recent item last).
            history_mask: ``[B, L]`` True at real items (default ``history_ids != 0``).
            labels: either ``[B, L]`` next item after each position (-100 where there is none;
                training, the configured loss over every labelled position) or ``[B]`` the item
                after the whole history (evaluation; the loss is then the full cross-entropy of
                the last position, whatever ``loss_type``).
            user_ids: ``[B]`` user indices (models with a user embedding, e.g. Caser).
            output_hidden_states: also return the ``[B, L, D]`` queries.

        Returns:
            :class:`NextItemOutput` with ``loss`` and ``logits`` ``[B, num_items]``, the scores
            of every item after the last position. With ``[B, L]`` labels in training mode the
            logits are skipped (``None``): they are never needed and cost a full ``[B, num_items]``
            matmul.
        """
        if history_mask is None:
            history_mask = history_ids != 0
        queries = self.encode(history_ids, history_mask.bool(), user_ids)
        weight, bias = self.output_embeddings()
        loss = logits = None
        per_position = labels is not None and labels.dim() == 2
        if per_position:
            labelled = labels != IGNORE_INDEX
            loss = next_item_loss(
                queries[labelled], labels[labelled], weight, bias,
                self.config.loss_type, self.config.resolved_num_negatives(),
            )
        if not (per_position and self.training):
            logits = queries[:, -1] @ weight.T
            if bias is not None:
                logits = logits + bias
            if labels is not None and not per_position:
                loss = F.cross_entropy(logits[:, NUM_SPECIAL_ITEMS:].float(), labels - NUM_SPECIAL_ITEMS)
        return NextItemOutput(loss=loss, logits=logits, hidden_states=queries if output_hidden_states else None)

    # ------------------------------------------------------------------ serving
    def score_items(self, inputs: dict[str, torch.Tensor], candidate_ids: torch.Tensor) -> torch.Tensor:
        """Scores ``[B, C]`` of ``candidate_ids`` ``[C]`` after each history in ``inputs``."""
        query = self.get_query_embeddings(
            inputs["history_ids"], inputs.get("history_mask"), inputs.get("user_ids")
        )
        return query @ self.get_item_embeddings()[candidate_ids].T

    def get_item_embeddings(self) -> torch.Tensor:
        """``[num_items, D']`` item vectors for an ANN index; ``score = query . item``.

        Models with an output bias get it as a last column (their queries end with a 1), so a
        plain inner-product index reproduces the model's scores exactly.
        """
        weight, bias = self.output_embeddings()
        if bias is None:
            return weight.detach()
        return torch.cat([weight, bias.unsqueeze(1)], dim=1).detach()

    def get_query_embeddings(
        self,
        history_ids: torch.Tensor,
        history_mask: Optional[torch.Tensor] = None,
        user_ids: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """``[B, D']`` query vectors of left-padded histories ``[B, L]``; pair with
        :meth:`get_item_embeddings`."""
        if history_mask is None:
            history_mask = history_ids != 0
        query = self.encode(history_ids, history_mask.bool(), user_ids)[:, -1]
        if self.output_embeddings()[1] is not None:
            query = torch.cat([query, torch.ones_like(query[:, :1])], dim=1)
        return query


__all__ = ["NextItemPreTrainedModel", "next_item_loss", "causal_positions", "IGNORE_INDEX"]
