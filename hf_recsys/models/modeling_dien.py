"""Deep Interest Evolution Network (Zhou et al., "Deep Interest Evolution Network for
Click-Through Rate Prediction", AAAI 2019).

* Interest extractor: a GRU over the behaviour embeddings that only ever sees a sequence's
  valid behaviours, in order, so left padding, right padding or garbage at masked positions
  never changes an output.
* Auxiliary loss (paper eq. 3): the state h_t is scored against the next real behaviour
  e_{t+1} (label 1) and a sampled item the user did not click at t+1 (label 0); the two BCE
  terms are summed per step and averaged over the steps where t and t+1 are both valid.
  Negatives come from the collator (``history_negatives``), sampled reproducibly from a seed.
* Interest evolving layer: attention of the target on every h_t (paper eq. 5, bilinear,
  softmax over valid steps) drives an AUGRU (paper eq. 6: ``u' = a_t * u``,
  ``h' = (1 - u') h + u' h~``); AIGRU (attention scales the input) and AGRU (attention
  replaces the update gate) are options.
* [user profile, target, final evolved state] go to an MLP with Dice.

Speed on CPU: the recurrences are the bottleneck, and autograd's bookkeeping for ~10 tiny ops
per step costs more than their arithmetic. So:

* histories are packed (:func:`pack_histories`, like ``PackedSequence``): sorted by length,
  valid items aligned to the last column, stored column after column. Embeddings, input
  projections, attention and the auxiliary loss run on the ``N`` valid items only, and step
  ``t`` of a recurrence works on a contiguous block and a prefix of the state: padding costs
  nothing anywhere.
* both GRUs run through :class:`GRUSequenceFunction`, a custom autograd function: input
  projections for all steps are one matmul outside it; each forward step is one ``addmm`` and
  six elementwise ops writing into preallocated buffers (no graph), and the hand-written
  backward (BPTT) is one ``addmm`` and five elementwise ops per step, with every factor that
  does not depend on the carried gradient computed for all steps at once beforehand.

The packing and the recurrence live in ``modeling_gru.py`` (shared with GRU4Rec) and are
re-exported here.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .configuration_dien import DIENConfig
from .modeling_din import LocalActivationUnit, segment_softmax
from .modeling_gru import GRUSequenceFunction, InterestGRU, PackedHistories, pack_histories
from .modeling_utils import (
    MLP,
    BehaviourCTRMixin,
    CTROutput,
    ItemCategoryEmbedding,
    RecsysPreTrainedModel,
    binary_cross_entropy,
)


# --------------------------------------------------------------------------- blocks
class AuxiliaryScorer(nn.Module):
    """Scores interest states against item embeddings for the auxiliary loss.

    ``"inner_product"`` (paper): ``<h_t, e>``. ``"mlp"`` (authors' code): an MLP on
    ``[h_t ‖ e]``, whose first layer is split so the ``h_t`` part is computed once for the
    clicked and the sampled item.
    """

    def __init__(self, kind: str, dim: int, hidden_sizes: list[int]):
        super().__init__()
        self.kind = kind
        if kind == "mlp":
            if not hidden_sizes:
                raise ValueError("aux_scorer='mlp' needs aux_hidden_sizes")
            self.first = nn.Linear(2 * dim, hidden_sizes[0])
            self.first_activation = nn.Sigmoid()
            self.rest = MLP(hidden_sizes[0], hidden_sizes[1:], activation="sigmoid", output_dim=1)

    def forward(self, states: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """``states`` ``[P, H]``, ``items`` ``[2, P, D]`` (the clicked next items, then the
        sampled ones) -> logits ``[2, P]``."""
        if self.kind == "inner_product":
            return (items * states).sum(-1)
        dim = states.shape[-1]
        state_part = F.linear(states, self.first.weight[:, :dim], self.first.bias)  # [P, H1]
        # in place (two [2, P, H1] temporaries fewer): the matmul's backward does not read its
        # output, the sigmoid's reads only its result
        hidden = F.linear(items, self.first.weight[:, dim:]).add_(state_part)  # [2, P, H1]
        hidden = hidden.sigmoid_() if isinstance(self.first_activation, nn.Sigmoid) else self.first_activation(hidden)
        return self.rest(hidden).squeeze(-1)

    def reference_forward(self, states: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """The naive form (``[h_t ‖ e]`` concatenated for the clicked and the sampled item); for tests."""
        if self.kind == "inner_product":
            return (items * states).sum(-1)
        pairs = torch.cat([states.expand(items.shape[0], -1, -1), items], dim=-1)  # [2, P, 2 D]
        return self.rest(self.first_activation(self.first(pairs))).squeeze(-1)


def auxiliary_loss(logits: torch.Tensor) -> torch.Tensor:
    """``-log σ(clicked) - log(1 - σ(sampled))`` averaged over the ``P`` valid (t, t + 1)
    pairs; ``logits`` ``[2, P]`` (clicked, sampled). Computed in float32."""
    logits = logits.float()
    per_step = F.softplus(-logits[0]) + F.softplus(logits[1])
    return per_step.sum() / max(per_step.numel(), 1)


# --------------------------------------------------------------------------- model
class DIENPreTrainedModel(RecsysPreTrainedModel):
    config_class = DIENConfig
    base_model_prefix = "dien"

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, InterestGRU):
            module.reset_parameters()
        else:
            super()._init_weights(module)


class DIENForCTR(BehaviourCTRMixin, DIENPreTrainedModel):
    """DIEN with a click-through-rate head.

    The collator of the CTR task adds ``history_negatives`` for the auxiliary loss when
    :attr:`needs_negative_history` is True (``aux_loss_alpha > 0``).
    """

    def __init__(self, config: DIENConfig):
        super().__init__(config)
        dim = config.hidden_size
        self.embeddings = ItemCategoryEmbedding(
            config.num_items, config.item_embedding_dim, config.num_categories, config.category_embedding_dim
        )
        self.interest_extractor = InterestGRU(dim, dim, compiled=config.compiled_recurrence)
        self.auxiliary_scorer = AuxiliaryScorer(config.aux_scorer, dim, config.aux_hidden_sizes)
        if config.attention_type == "bilinear":
            self.attention_projection = nn.Linear(dim, dim, bias=False)  # W of h_t W e_target
        else:
            self.attention_unit = LocalActivationUnit(dim, config.attention_hidden_sizes, config.attention_activation)
        self.interest_evolution = InterestGRU(
            dim, dim, has_update_gate=config.gru_type != "agru", compiled=config.compiled_recurrence
        )
        self._build_ctr_head(2 * dim, config.mlp_activation)
        self.post_init()

    #: exported programs unroll the recurrences over the history (:meth:`padded_logits`)
    export_static_history_length = True

    @property
    def needs_negative_history(self) -> bool:
        """Whether the collator should sample ``history_negatives`` (the auxiliary loss is on)."""
        return self.config.aux_loss_alpha > 0

    # ---------------------------------------------------------------- pieces
    def extract_interests(
        self, history_ids: torch.Tensor, history_mask: torch.Tensor
    ) -> tuple[PackedHistories, torch.Tensor]:
        """Packs the valid behaviours and runs the interest extractor: returns the packing and
        the interest states ``[N, H]``."""
        packing = pack_histories(history_mask)
        behaviours = self.embeddings(packing.gather(history_ids))
        return packing, self.interest_extractor(behaviours, packing)

    def auxiliary_loss(self, packing: PackedHistories, interests: torch.Tensor, next_items: torch.Tensor) -> torch.Tensor:
        """Paper eq. 3: h_t against e_{t+1} and a sampled e^-_{t+1} for every pair of
        consecutive valid behaviours; ``next_items`` ``[2, P, D]`` (clicked, sampled)."""
        return auxiliary_loss(self.auxiliary_scorer(interests.index_select(0, packing.next_source), next_items))

    def attention(self, query: torch.Tensor, interests: torch.Tensor, packing: PackedHistories) -> torch.Tensor:
        """``query`` ``[B, D]`` (sorted order), ``interests`` ``[N, H]`` -> softmax weights
        ``[N]`` over each sequence's valid steps."""
        if self.config.attention_type == "bilinear":
            projected = self.attention_projection(query).index_select(0, packing.rows)  # W e_target per item
            scores = (interests * projected).sum(-1)
        else:
            scores = self.attention_unit(query, interests, packing.rows)
        return segment_softmax(scores, packing.slots, packing.batch_size, packing.length)

    def evolve(self, interests: torch.Tensor, attention: torch.Tensor, packing: PackedHistories) -> torch.Tensor:
        """The interest evolving layer: ``[N, H]`` -> final state ``[B, H]`` (sorted order)."""
        scale = attention.unsqueeze(-1)
        if self.config.gru_type == "aigru":
            return self.interest_evolution(interests, packing, input_scale=scale, return_all=False)
        return self.interest_evolution(interests, packing, step_scale=scale, return_all=False)

    def head(self, final_interest: torch.Tensor, query: torch.Tensor, user_features: Optional[torch.Tensor]) -> torch.Tensor:
        return self.mlp(torch.cat([self._user_profile(user_features, query), query, final_interest], dim=-1)).squeeze(-1)

    def padded_logits(
        self,
        history_ids: torch.Tensor,
        target_ids: torch.Tensor,
        history_mask: torch.Tensor,
        user_features: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """Click logits ``[B]`` equal to :meth:`forward`'s in eval mode, computed on the padded
        ``[B, L]`` layout: both GRUs run as plain masked recurrences (a masked step keeps the
        state, :meth:`InterestGRU.reference_forward`) and attention is a masked softmax. No
        packing, ``.tolist()`` or custom autograd function, so it traces for ``torch.export``
        and ONNX (:meth:`forward` uses it while exporting); the recurrence unrolls over ``L``,
        which is therefore static in an exported program."""
        batch, length = history_ids.shape
        mask = history_mask.bool()
        behaviours = self.embeddings(history_ids)  # [B, L, D]
        query = self.embeddings(target_ids)  # [B, D]
        interests = self.interest_extractor.reference_forward(behaviours.transpose(0, 1), mask.t())  # [L, B, H]
        if self.config.attention_type == "bilinear":
            scores = (interests * self.attention_projection(query)).sum(-1).t()  # [B, L]
        else:
            rows = torch.arange(batch, device=history_ids.device).unsqueeze(1).expand(batch, length).reshape(-1)
            flat_interests = interests.transpose(0, 1).reshape(batch * length, -1)
            scores = self.attention_unit(query, flat_interests, rows).view(batch, length)
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        scale = torch.softmax(scores, dim=-1).t().unsqueeze(-1)  # [L, B, 1]
        if self.config.gru_type == "aigru":
            states = self.interest_evolution.reference_forward(interests, mask.t(), input_scale=scale)
        else:
            states = self.interest_evolution.reference_forward(interests, mask.t(), step_scale=scale)
        return self.head(states[-1], query, user_features)

    # ---------------------------------------------------------------- forward
    def forward(
        self,
        history_ids: torch.Tensor,
        target_ids: torch.Tensor,
        history_mask: Optional[torch.Tensor] = None,
        history_negatives: Optional[torch.Tensor] = None,
        user_features: Optional[torch.Tensor] = None,
        labels: Optional[torch.Tensor] = None,
        **kwargs,
    ) -> CTROutput:
        """
        Args:
            history_ids: ``[B, L]`` item indices, left- or right-padded with 0.
            target_ids: ``[B]`` candidate item indices.
            history_mask: ``[B, L]`` True at real behaviours (default: ``history_ids != 0``).
            history_negatives: ``[B, L]`` a sampled non-clicked item for every step (for the
                auxiliary loss; without it, or with ``aux_loss_alpha = 0``, there is none).
            user_features: ``[B, F]`` user profile feature indices.
            labels: ``[B]`` 1 for a click, 0 otherwise.

        Returns:
            :class:`CTROutput` with ``logits`` ``[B]``, ``attention_weights`` ``[B, L]``
            (softmax over valid steps, 0 at padding), ``aux_loss`` (unweighted, when computed)
            and ``loss`` = BCE + ``aux_loss_alpha`` * ``aux_loss`` when ``labels`` are given.
        """
        if history_mask is None:
            history_mask = history_ids != 0
        if torch.compiler.is_exporting():  # the packed path has data-dependent shapes
            return CTROutput(logits=self.padded_logits(history_ids, target_ids, history_mask, user_features))
        packing = pack_histories(history_mask.bool())
        packed_ids = packing.gather(history_ids)
        pairs = len(packing.next_source)
        with_aux = history_negatives is not None and self.config.aux_loss_alpha > 0 and pairs > 0
        # one embedding lookup for everything (one scatter into each table in the backward):
        # behaviours, targets (in the packing's length-sorted order, in which the evolving
        # layer and the head run) and, for the auxiliary loss, next clicked and sampled items
        ids = [packed_ids, target_ids.index_select(0, packing.order)]
        if with_aux:
            ids.append(packed_ids.index_select(0, packing.next_target))
            ids.append(packing.gather(history_negatives).index_select(0, packing.next_target))
        # split rather than sliced: the backward is then one concatenation of the pieces'
        # gradients, not a zero-filled full-size gradient per slice added together
        behaviours, query, next_items = self.embeddings(torch.cat(ids)).split(
            [len(packed_ids), len(target_ids), 2 * pairs if with_aux else 0]
        )
        interests = self.interest_extractor(behaviours, packing)
        aux = None
        if with_aux:
            aux = self.auxiliary_loss(packing, interests, next_items.view(2, pairs, -1))
        attention = self.attention(query, interests, packing)
        final_interest = self.evolve(interests, attention, packing)
        if user_features is not None:
            user_features = user_features.index_select(0, packing.order)
        logits = self.head(final_interest, query, user_features).index_select(0, packing.inverse_order)

        loss = None
        if labels is not None:
            loss = binary_cross_entropy(logits, labels)
            if aux is not None:
                loss = loss + self.config.aux_loss_alpha * aux
        return CTROutput(loss=loss, logits=logits, attention_weights=packing.scatter(attention), aux_loss=aux)

    @torch.no_grad()
    def score_items(
        self, inputs: dict[str, torch.Tensor], candidate_ids: torch.Tensor, max_pairs: int = 65536
    ) -> torch.Tensor:
        """Scores ``[B, C]``: the interest extractor runs once per history, the
        target-dependent evolving layer once per (history, candidate) pair."""
        history_ids = inputs["history_ids"]
        history_mask = inputs.get("history_mask")
        history_mask = (history_ids != 0) if history_mask is None else history_mask.bool()
        user_features = inputs.get("user_features")
        packing, interests = self.extract_interests(history_ids, history_mask)
        batch, length = history_ids.shape
        # interest states back in the original [B, L, H] layout, to pair with candidates
        grid = interests.new_zeros(batch * length, interests.shape[1]).index_copy_(0, packing.source, interests)
        grid = grid.view(batch, length, -1)
        chunk = max(1, max_pairs // max(batch, 1))
        scores = []
        for begin in range(0, len(candidate_ids), chunk):
            items = candidate_ids[begin : begin + chunk]
            pair_mask = history_mask.repeat_interleave(len(items), dim=0)
            pair_packing = pack_histories(pair_mask)
            pair_interests = pair_packing.gather(grid.repeat_interleave(len(items), dim=0))
            pair_targets = items.repeat(batch).index_select(0, pair_packing.order)
            query = self.embeddings(pair_targets)
            attention = self.attention(query, pair_interests, pair_packing)
            profile = None
            if user_features is not None:
                profile = user_features.repeat_interleave(len(items), dim=0).index_select(0, pair_packing.order)
            logits = self.head(self.evolve(pair_interests, attention, pair_packing), query, profile)
            scores.append(logits.index_select(0, pair_packing.inverse_order).view(batch, len(items)).float())
        return torch.cat(scores, dim=1)


__all__ = [
    "DIENForCTR",
    "DIENPreTrainedModel",
    "GRUSequenceFunction",
    "InterestGRU",
    "AuxiliaryScorer",
    "auxiliary_loss",
    "PackedHistories",
    "pack_histories",
]
