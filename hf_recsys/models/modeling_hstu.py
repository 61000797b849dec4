"""HSTU (Zhai et al., "Actions Speak Louder than Words: Trillion-Parameter Sequential Transducers
for Generative Recommendations", ICML 2024).

A stack of Hierarchical Sequential Transduction Units over the item sequence. Each unit is

* a pointwise projection ``U, V, Q, K = split(SiLU(f1(LayerNorm(X))))``;
* pointwise aggregated attention ``A(X) V`` with ``A = SiLU(Q Kᵀ + rab(position, time)) / n``,
  causal, and *not* softmax-normalised (each weight is a SiLU of its own score, so the weights
  of a row need not sum to one and their total grows with the history: an intensity signal a
  softmax would wash out);
* ``Y = f2(LayerNorm(A(X) V) ⊙ U) + X``.

``rab`` is a learned relative attention bias: one weight per distance ``i - j`` between
positions plus, when the batch carries interaction times, one per log-scaled bucket of the gap
``t_i - t_j``. Queries are L2-normalised and divided by a temperature, item vectors are
L2-normalised, and scores are their dot products (the reference code's ML-1M setting).

Attention runs over the real items of each history only: histories of a batch are grouped by
length (powers of two) and each group is padded to its own longest member, so a few long
histories do not make every short one pay for their padding; every other operation runs on
the packed ``[real items, D]`` rows. Inside a group, queries go in chunks against the keys up
to the chunk's end, and in training a chunk's scores are recomputed in the backward pass, so
memory grows linearly in the number of real items.

Where we depart from the paper or the reference code, for a reason:

* the time gap of query ``i`` and key ``j`` is ``t_i - t_j`` (both known at position ``i``);
  the reference code uses the *next* interaction's time ``t_{i+1} - t_j``, which makes the
  output at ``i`` depend on a later event and would need the request time at serving;
* ``n`` is ``config.max_history`` (the reference code divides by its padded length, the same
  constant), so an output never depends on how much padding a batch carries;
* the bias of a distance is shared by all heads, as in the reference code; negatives of the
  sampled softmax are shared by the batch (the reference code draws them per position);
* logs without times (``timestamps`` absent) get the position term alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from .configuration_hstu import HSTUConfig
from .modeling_next_item import NextItemPreTrainedModel, causal_positions
from .modeling_utils import FastDropout


@dataclass
class AttentionGroup:
    """Histories attended together: ``index`` ``[G, W]`` rows of the packed token array (right
    aligned, the most recent item last) and ``valid`` ``[G, W]`` True at real items."""

    index: torch.Tensor
    valid: torch.Tensor


def length_groups(lengths: torch.Tensor) -> list[AttentionGroup]:
    """Groups of the histories with ``lengths`` ``[B]`` whose tokens are packed row after row
    (``history_mask.nonzero()`` order). Histories whose lengths share a power-of-two bucket go
    together, padded to the longest of them; empty histories are skipped."""
    lengths = lengths.long()
    starts = lengths.cumsum(0) - lengths
    buckets = torch.where(lengths > 0, torch.ceil(torch.log2(lengths.clamp(min=1).double())).long(), -1)
    groups = []
    for bucket in torch.unique(buckets).tolist():
        if bucket < 0:
            continue
        rows = (buckets == bucket).nonzero(as_tuple=True)[0]
        group_lengths = lengths[rows]
        width = int(group_lengths.max())
        columns = torch.arange(width, device=lengths.device)
        padding = (width - group_lengths).unsqueeze(1)
        valid = columns.unsqueeze(0) >= padding
        index = torch.where(valid, starts[rows].unsqueeze(1) + columns - padding, 0)
        groups.append(AttentionGroup(index, valid))
    return groups


class RelativeAttentionBias(nn.Module):
    """``rab(position, time)``: a learned bias per causal distance ``i - j`` (capped at
    ``max_history - 1``) and, given times, per bucket ``floor(ln(max(t_i - t_j, 1)) / divisor)``
    (capped at ``num_time_buckets``). Shared by all heads."""

    def __init__(self, max_history: int, num_time_buckets: int, time_bucket_divisor: float):
        super().__init__()
        self.position_weight = nn.Parameter(torch.zeros(max_history))
        self.time_weight = nn.Parameter(torch.zeros(num_time_buckets + 1))
        self.num_time_buckets = num_time_buckets
        self.time_bucket_divisor = time_bucket_divisor

    def forward(
        self, query_positions: torch.Tensor, key_positions: torch.Tensor,
        query_times: Optional[torch.Tensor], key_times: Optional[torch.Tensor],
    ) -> torch.Tensor:
        """Positions ``[Q]`` / ``[K]`` (column indices), times ``[G, Q]`` / ``[G, K]`` or None
        -> bias ``[Q, K]`` or ``[G, Q, K]``."""
        distance = (query_positions.unsqueeze(1) - key_positions.unsqueeze(0)).clamp(0, len(self.position_weight) - 1)
        bias = self.position_weight[distance]
        if query_times is None:
            return bias
        gap = (query_times.unsqueeze(2) - key_times.unsqueeze(1)).abs().clamp(min=1)
        bucket = torch.floor(torch.log(gap.to(torch.float64)) / self.time_bucket_divisor).long()
        return bias + self.time_weight[bucket.clamp(0, self.num_time_buckets)]


def pointwise_attention_chunk(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, allowed: torch.Tensor,
    bias: torch.Tensor, normalizer: float,
) -> torch.Tensor:
    """``SiLU(q kᵀ + bias) / normalizer``, zeroed where not ``allowed``, times ``v``.

    ``q`` ``[G, H, Q, d_qk]``, ``k`` ``[G, H, K, d_qk]``, ``v`` ``[G, H, K, d_v]``, ``allowed``
    ``[G, Q, K]``, ``bias`` ``[Q, K]`` or ``[G, Q, K]`` -> ``[G, H, Q, d_v]``."""
    scores = q @ k.transpose(-1, -2) + bias.unsqueeze(-3)
    weights = F.silu(scores) * (allowed.unsqueeze(1).to(scores.dtype) / normalizer)
    return weights @ v


class HSTUAttention(nn.Module):
    """Pointwise aggregated attention of packed ``q, k, v`` ``[N, H * d]`` within each
    :class:`AttentionGroup`; returns ``[N, H * d_v]``."""

    def __init__(self, config: HSTUConfig):
        super().__init__()
        self.num_heads = config.num_heads
        self.qk_dim = config.qk_dim
        self.v_dim = config.v_dim
        self.normalizer = float(config.max_history)
        self.chunk_size = config.attention_chunk_size

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, groups: list[AttentionGroup],
        times: Optional[torch.Tensor], bias: RelativeAttentionBias, chunked: bool = True,
    ) -> torch.Tensor:
        """``chunked=False`` is the padded layout: one group, every ``[B, L]`` slot a token, one
        chunk (no host-side loop over the length, so it traces for export)."""
        outputs, rows = [], []
        for group in groups:
            g, width = group.index.shape
            qg = q[group.index].view(g, width, self.num_heads, self.qk_dim).transpose(1, 2)
            kg = k[group.index].view(g, width, self.num_heads, self.qk_dim).transpose(1, 2)
            vg = v[group.index].view(g, width, self.num_heads, self.v_dim).transpose(1, 2)
            tg = times[group.index] if times is not None else None
            columns = torch.arange(width, device=q.device)
            if not chunked:  # the padded layout: one group whose index is every token in order
                allowed = (columns.unsqueeze(1) >= columns.unsqueeze(0)) & group.valid.unsqueeze(1)
                attended = pointwise_attention_chunk(qg, kg, vg, allowed, bias(columns, columns, tg, tg), self.normalizer)
                return attended.transpose(1, 2).reshape(g * width, self.num_heads * self.v_dim)
            step = self.chunk_size
            chunks = []
            for start in range(0, width, step):
                end = min(start + step, width)
                args = (qg[:, :, start:end], kg[:, :, :end], vg[:, :, :end], group.valid[:, :end],
                        columns[start:end], columns[:end], tg[:, :end] if tg is not None else None, bias)
                if width > step and torch.is_grad_enabled() and self.training:
                    # everything of size [chunk, keys] (mask, bias, scores) is recomputed in
                    # backward, not kept: what stays is linear in the group's items
                    chunks.append(checkpoint(self._chunk, *args, use_reentrant=False))
                else:
                    chunks.append(self._chunk(*args))
            attended = torch.cat(chunks, dim=2) if len(chunks) > 1 else chunks[0]
            attended = attended.transpose(1, 2).reshape(g, width, self.num_heads * self.v_dim)
            outputs.append(attended[group.valid])
            rows.append(group.index[group.valid])
        if len(outputs) == 1:
            out, order = outputs[0], rows[0]
        else:
            out, order = torch.cat(outputs), torch.cat(rows)
        # every token appears in exactly one group: invert the permutation
        inverse = torch.empty_like(order)
        inverse[order] = torch.arange(len(order), device=order.device)
        return out[inverse]


    def _chunk(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_valid: torch.Tensor,
        query_columns: torch.Tensor, key_columns: torch.Tensor, key_times: Optional[torch.Tensor],
        bias: RelativeAttentionBias,
    ) -> torch.Tensor:
        """One chunk of queries (columns ``query_columns``) against the keys up to its end:
        causal and key-padding mask, relative bias, pointwise attention."""
        allowed = (query_columns.unsqueeze(1) >= key_columns.unsqueeze(0)) & key_valid.unsqueeze(1)
        query_times = key_times[:, query_columns] if key_times is not None else None
        rab = bias(query_columns, key_columns, query_times, key_times)
        return pointwise_attention_chunk(q, k, v, allowed, rab, self.normalizer)


class HSTUBlock(nn.Module):
    """One HSTU layer on packed tokens ``[N, hidden]``."""

    def __init__(self, config: HSTUConfig):
        super().__init__()
        heads = config.num_heads
        self.split_sizes = [heads * config.v_dim, heads * config.v_dim, heads * config.qk_dim, heads * config.qk_dim]
        self.uvqk = nn.Linear(config.hidden_size, sum(self.split_sizes), bias=False)
        self.attention = HSTUAttention(config)
        self.output = nn.Linear(heads * config.v_dim, config.hidden_size)
        self.dropout = FastDropout(config.dropout)
        self.eps = config.layer_norm_eps

    def forward(
        self, x: torch.Tensor, groups: list[AttentionGroup], times: Optional[torch.Tensor],
        bias: RelativeAttentionBias, chunked: bool = True,
    ) -> torch.Tensor:
        normed = F.layer_norm(x, x.shape[-1:], eps=self.eps)
        u, v, q, k = F.silu(self.uvqk(normed)).split(self.split_sizes, dim=-1)
        attended = self.attention(q, k, v, groups, times, bias, chunked)
        gated = F.layer_norm(attended, attended.shape[-1:], eps=self.eps) * u
        return x + self.output(self.dropout(gated))


class HSTUPreTrainedModel(NextItemPreTrainedModel):
    config_class = HSTUConfig
    base_model_prefix = "hstu"
    accepts_timestamps = True

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, RelativeAttentionBias):
            module.position_weight.normal_(0.0, self.config.initializer_range)
            module.time_weight.normal_(0.0, self.config.initializer_range)
        elif isinstance(module, HSTUForNextItem):
            # learned positions on the scale of the sqrt(hidden)-scaled item embeddings
            module.position_embeddings.weight.normal_(0.0, 1.0 / math.sqrt(self.config.hidden_size))
            module.position_embeddings.weight[0].zero_()


class HSTUForNextItem(HSTUPreTrainedModel):
    """HSTU: pointwise-attention sequential transducer with a tied, L2-normalised output layer.

    ``encode`` takes optional interaction times ``history_times`` ``[B, L]`` (int64 seconds)
    for the time-gap bias; without them the bias is the position term alone.

    Set ``pack_histories = False`` to attend over the whole padded ``[B, L]`` batch at once
    (the same outputs; what export uses, and the benchmark's padded baseline).

    Example::

        model = AutoModel.from_pretrained("outputs/hstu-ml-1m")      # after `import hf_recsys`
        model.recommend([["1193", "661", "914"]], k=10)              # raw IDs in, raw IDs out
    """

    #: attend per length group of real items (True) or over the padded batch (False)
    pack_histories: bool = True

    def __init__(self, config: HSTUConfig):
        super().__init__(config)
        self.item_embeddings = nn.Embedding(config.num_items, config.hidden_size, padding_idx=0)
        self.position_embeddings = nn.Embedding(config.max_history + 1, config.hidden_size, padding_idx=0)
        self.embedding_dropout = FastDropout(config.dropout)
        self.attention_bias = RelativeAttentionBias(config.max_history, config.num_time_buckets, config.time_bucket_divisor)
        self.blocks = nn.ModuleList(HSTUBlock(config) for _ in range(config.num_layers))
        self.post_init()

    def encode(
        self,
        history_ids: torch.Tensor,
        history_mask: torch.Tensor,
        user_ids: Optional[torch.Tensor] = None,
        history_times: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """``[B, L]`` item indices, mask and optional times -> ``[B, L, hidden]`` queries; the
        output at ``t`` depends only on items and times ``<= t`` (zeros at padding)."""
        batch, length = history_ids.shape
        positions = causal_positions(history_mask).clamp(max=self.config.max_history)
        use_times = history_times is not None and self.config.use_time_bias
        packed = self.pack_histories and not torch.compiler.is_exporting()
        if packed:
            where = history_mask.nonzero(as_tuple=True)
            groups = length_groups(history_mask.sum(1))
            ids, token_positions = history_ids[where], positions[where]
            times = history_times[where] if use_times else None
        else:  # every [B, L] slot is a token; one group holds the whole batch
            ids, token_positions = history_ids.reshape(-1), positions.reshape(-1)
            index = torch.arange(batch * length, device=history_ids.device).view(batch, length)
            groups = [AttentionGroup(index, history_mask)]
            times = history_times.reshape(-1) if use_times else None
        hidden = self.item_embeddings(ids) * math.sqrt(self.config.hidden_size)
        hidden = self.embedding_dropout(hidden + self.position_embeddings(token_positions))
        for block in self.blocks:
            hidden = block(hidden, groups, times, self.attention_bias, chunked=packed)
        if self.config.l2_normalize:
            hidden = F.normalize(hidden, dim=-1, eps=self.config.layer_norm_eps) / self.config.temperature
        if packed:
            return hidden.new_zeros(batch, length, hidden.shape[-1]).index_put(where, hidden)
        return hidden.view(batch, length, -1) * history_mask.unsqueeze(-1).to(hidden.dtype)

    def output_embeddings(self) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        weight = self.item_embeddings.weight
        if self.config.l2_normalize:
            weight = F.normalize(weight, dim=-1, eps=self.config.layer_norm_eps)
        return weight, None

    def get_input_embeddings(self) -> nn.Embedding:
        return self.item_embeddings


__all__ = ["HSTUAttention", "HSTUBlock", "HSTUForNextItem", "HSTUPreTrainedModel", "RelativeAttentionBias", "length_groups"]
