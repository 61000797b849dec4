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
from .modeling_utils import IGNORE_INDEX, NUM_SPECIAL, NextItemOutput, RecommenderMixin, RecsysPreTrainedModel


class FullSoftmaxCrossEntropy(torch.autograd.Function):
    """Mean softmax cross-entropy of ``queries @ items.T (+ bias)`` against ``targets``,
    computed in row chunks with the gradients formed in the same pass.

    The plain version materialises ``[N, num_items]`` logits, keeps them (and the
    log-softmax) for backward and makes two more passes over them there; on CPU that costs
    more than the matmuls themselves, and for MovieLens with 200 positions per user it is
    gigabytes. Here each chunk's logits live only while its softmax and its two gradient
    matmuls are formed (``(softmax - onehot) @ items`` and its transpose), so memory is
    ``O(chunk x num_items)`` and the logits are touched once. The softmax and the loss are
    float32; the matmuls run in the autocast dtype when autocast is on.
    """

    @staticmethod
    def forward(ctx, queries, items, bias, targets, chunk_size: int, needs_grad: bool):
        device_type = queries.device.type
        compute_dtype = torch.get_autocast_dtype(device_type) if torch.is_autocast_enabled(device_type) else items.dtype
        # softmax, loss and accumulated gradients in float32 (or float64 for float64 inputs)
        accumulate_dtype = torch.promote_types(compute_dtype, torch.float32)
        with torch.autocast(device_type, enabled=False):
            q = queries.to(compute_dtype)
            w = items.to(compute_dtype)
            total = torch.zeros((), dtype=accumulate_dtype, device=queries.device)
            grad_q = torch.empty_like(q) if needs_grad else None
            grad_w = torch.zeros(w.shape, dtype=accumulate_dtype, device=w.device) if needs_grad else None
            grad_b = torch.zeros(w.shape[0], dtype=accumulate_dtype, device=w.device) if needs_grad and bias is not None else None
            n = q.shape[0]
            for start in range(0, n, chunk_size):
                q_chunk, t_chunk = q[start : start + chunk_size], targets[start : start + chunk_size]
                # logits transposed, [items, chunk]: with the long item dimension as the rows,
                # a CPU sgemm with a small inner dimension (hidden) runs faster than [chunk, items]
                logits = (w @ q_chunk.T).to(accumulate_dtype)
                if bias is not None:
                    logits += bias.to(accumulate_dtype).unsqueeze(1)
                columns = torch.arange(len(t_chunk), device=q.device)
                log_norm = torch.logsumexp(logits, dim=0)
                total += (log_norm - logits[t_chunk, columns]).sum()
                if not needs_grad:
                    continue
                probabilities = logits.sub_(log_norm).exp_()
                probabilities[t_chunk, columns] -= 1.0
                if grad_b is not None:
                    grad_b += probabilities.sum(1)
                probabilities = probabilities.to(compute_dtype)
                torch.mm(probabilities.T, w, out=grad_q[start : start + chunk_size])
                if grad_w.dtype == compute_dtype:
                    grad_w.addmm_(probabilities, q_chunk)  # in place: no [items, D] temporary
                else:
                    grad_w += (probabilities @ q_chunk).to(accumulate_dtype)
        if needs_grad:
            ctx.save_for_backward(grad_q, grad_w, grad_b if grad_b is not None else torch.empty(0))
            ctx.has_bias = grad_b is not None
            ctx.scale = 1.0 / max(n, 1)
            ctx.dtypes = (queries.dtype, items.dtype, None if bias is None else bias.dtype)
        return total / max(n, 1)

    @staticmethod
    def backward(ctx, grad_output):
        grad_q, grad_w, grad_b = ctx.saved_tensors
        scale = grad_output * ctx.scale
        q_dtype, w_dtype, b_dtype = ctx.dtypes
        return (
            (grad_q * scale).to(q_dtype),
            (grad_w * scale).to(w_dtype),
            (grad_b * scale).to(b_dtype) if ctx.has_bias else None,
            None,
            None,
            None,
        )


def full_cross_entropy(
    queries: torch.Tensor,
    items: torch.Tensor,
    bias: Optional[torch.Tensor],
    targets: torch.Tensor,
    chunk_size: int = 128,
) -> torch.Tensor:
    """Mean softmax cross-entropy over all of ``items`` ``[I, D]`` for ``queries`` ``[N, D]``
    and ``targets`` ``[N]`` (indices into ``items``), chunked; see
    :class:`FullSoftmaxCrossEntropy`."""
    # gradients are formed in the forward pass, so skip them when nobody will ask
    needs_grad = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (queries, items, bias)
    )
    return FullSoftmaxCrossEntropy.apply(queries, items, bias, targets, chunk_size, needs_grad)


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
        bias = item_bias[NUM_SPECIAL:] if item_bias is not None else None
        return full_cross_entropy(queries, item_weight[NUM_SPECIAL:], bias, targets - NUM_SPECIAL)

    num_items = item_weight.shape[0]
    positive = (queries * item_weight[targets]).sum(-1)
    if item_bias is not None:
        positive = positive + item_bias[targets]
    if loss_type == "sampled_softmax":
        negatives = torch.randint(NUM_SPECIAL, num_items, (num_negatives,), device=queries.device)
        negative = queries @ item_weight[negatives].T  # [N, K]
        if item_bias is not None:
            negative = negative + item_bias[negatives]
        negative = negative.float().masked_fill(negatives[None, :] == targets[:, None], float("-inf"))
        logits = torch.cat([positive.float().unsqueeze(1), negative], dim=1)
        return F.cross_entropy(logits, torch.zeros_like(targets))
    if loss_type == "bce":
        negatives = torch.randint(NUM_SPECIAL, num_items, (len(targets), num_negatives), device=queries.device)
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
    #: whether :meth:`encode` takes ``history_times`` (HSTU's time bias); other models never
    #: see the times, so a batch may carry them for any next-item model
    accepts_timestamps = False

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

    def _encode(
        self, history_ids: torch.Tensor, history_mask: torch.Tensor, user_ids: Optional[torch.Tensor],
        history_times: Optional[torch.Tensor],
    ) -> torch.Tensor:
        """:meth:`encode`, with the times for the models that read them."""
        if self.accepts_timestamps and history_times is not None:
            return self.encode(history_ids, history_mask, user_ids, history_times=history_times)
        return self.encode(history_ids, history_mask, user_ids)

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        history_ids: torch.Tensor,
        history_mask: Optional[torch.Tensor] = None,
        labels: Optional[torch.Tensor] = None,
        label_rows: Optional[torch.Tensor] = None,
        user_ids: Optional[torch.Tensor] = None,
        history_times: Optional[torch.Tensor] = None,
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
            label_rows: ``[B]`` evaluation batches: the log row of each held-out label, which the
                ranking metrics use to mask the user's history; not read by the model. With
                ``TrainingArguments.label_names`` unset, ``Trainer`` gathers every ``forward``
                parameter whose name holds "label" for the metrics: ``labels`` and this.
            user_ids: ``[B]`` user indices (models with a user embedding, e.g. Caser).
            history_times: ``[B, L]`` int64 interaction times (0 at padding), present when the
                log has times; read by models with ``accepts_timestamps`` (HSTU), ignored by others.
            output_hidden_states: also return the ``[B, L, D]`` queries.
            **kwargs: ignored.

        Returns:
            :class:`NextItemOutput` with ``loss`` and ``logits`` ``[B, num_items]``, the scores
            of every item after the last position. With labels in training mode the logits are
            skipped (``None``): they are never needed and cost a full ``[B, num_items]`` matmul.
        """
        if history_mask is None:
            history_mask = history_ids != 0
        queries = self._encode(history_ids, history_mask.bool(), user_ids, history_times)
        weight, bias = self.output_embeddings()
        loss = logits = None
        per_position = labels is not None and labels.dim() == 2
        if per_position:
            labelled = labels != IGNORE_INDEX
            if labelled.any():  # the boolean index below syncs anyway
                loss = next_item_loss(
                    queries[labelled], labels[labelled], weight, bias,
                    self.config.loss_type, self.config.resolved_num_negatives(),
                )
            else:  # e.g. fine-tuning with --unknown-items unknown: every label was an unknown item
                loss = queries.sum() * 0.0
        elif labels is not None and self.training:
            # one target per sequence (RecBole-style prefixes): the same full cross-entropy, but
            # chunked and fused (no [B, num_items] logits, which training never reads)
            loss = next_item_loss(queries[:, -1], labels, weight, bias, "ce", 0)
        if not (labels is not None and self.training):
            logits = queries[:, -1] @ weight.T
            if bias is not None:
                logits = logits + bias
            if labels is not None and not per_position:
                loss = F.cross_entropy(logits[:, NUM_SPECIAL:].float(), labels - NUM_SPECIAL)
        return NextItemOutput(loss=loss, logits=logits, hidden_states=queries if output_hidden_states else None)

    # ------------------------------------------------------------------ serving
    def score_items(self, inputs: dict[str, torch.Tensor], candidate_ids: torch.Tensor) -> torch.Tensor:
        """Scores ``[B, C]`` of ``candidate_ids`` ``[C]`` after each history in ``inputs``."""
        return self._item_scorer(inputs)(candidate_ids)

    def _item_scorer(self, inputs: dict[str, torch.Tensor]):
        """Encodes the histories once; each call scores a chunk of candidates ``[C]`` against
        the last-position queries (``recommend`` / ``top_k_items`` over large catalogues)."""
        query = self._last_position_queries(
            inputs["history_ids"], inputs.get("history_mask"), inputs.get("user_ids"), inputs.get("history_times")
        )
        weight, bias = self.output_embeddings()

        def score(candidate_ids: torch.Tensor) -> torch.Tensor:
            scores = query @ weight.index_select(0, candidate_ids).T
            return scores + bias.index_select(0, candidate_ids) if bias is not None else scores

        return score

    def get_item_embeddings(self) -> torch.Tensor:
        """``[num_items, D']`` item vectors for an ANN index; ``score = query . item``.

        Models with an output bias get it as a last column (their queries end with a 1), so a
        plain inner-product index reproduces the model's scores exactly.
        """
        weight, bias = self.output_embeddings()
        if bias is None:
            return weight.detach()
        return torch.cat([weight, bias.unsqueeze(1)], dim=1).detach()

    def _last_position_queries(
        self, history_ids: torch.Tensor, history_mask: Optional[torch.Tensor], user_ids: Optional[torch.Tensor],
        history_times: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """``[B, D]`` encoder output at the last position of left-padded histories ``[B, L]``."""
        if history_mask is None:
            history_mask = history_ids != 0
        return self._encode(history_ids, history_mask.bool(), user_ids, history_times)[:, -1]

    def get_query_embeddings(
        self,
        history_ids: torch.Tensor,
        history_mask: Optional[torch.Tensor] = None,
        user_ids: Optional[torch.Tensor] = None,
        history_times: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """``[B, D']`` query vectors of left-padded histories ``[B, L]`` (and their times, for
        models that read them); pair with :meth:`get_item_embeddings`."""
        query = self._last_position_queries(history_ids, history_mask, user_ids, history_times)
        if self.output_embeddings()[1] is not None:
            query = torch.cat([query, torch.ones_like(query[:, :1])], dim=1)
        return query


__all__ = ["NextItemPreTrainedModel", "next_item_loss", "full_cross_entropy", "FullSoftmaxCrossEntropy", "causal_positions", "IGNORE_INDEX"]
