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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .configuration_dien import DIENConfig
from .modeling_din import LocalActivationUnit, segment_softmax
from .modeling_utils import (
    MLP,
    BehaviourCTRMixin,
    CTROutput,
    ItemCategoryEmbedding,
    RecsysPreTrainedModel,
    UserFeatureEmbedding,
    binary_cross_entropy,
)


# --------------------------------------------------------------------------- packing
@dataclass
class PackedHistories:
    """A batch of histories packed for the recurrences (like ``PackedSequence``).

    Sequences are sorted by length, longest first, and each one's valid items are aligned to
    end at the last column (any padding, left, right or holes, becomes left padding). Column
    ``c`` then holds the first ``n_c`` sorted sequences, and the packed tensors list column
    0's items, then column 1's, ...: a step of the recurrence works on a contiguous block and a
    prefix of the state, and padding is never computed.

    Attributes:
        order: ``[B]`` original row of each sorted sequence; ``inverse_order`` the reverse map.
        source: ``[N]`` flat index (``row * L + position``, original layout) of each packed item.
        rows: ``[N]`` sorted sequence of each packed item.
        slots: ``[N]`` ``sorted row * L + aligned column`` (a cell of a ``[B, L]`` grid).
        previous_slot: ``[N]`` 1 + packed index of the same sequence's previous item, 0 for a
            sequence's first item (its previous state is the zero initial state).
        next_source / next_target: ``[P]`` packed indices of consecutive pairs (t, t + 1).
        steps: ``(offset, count)`` of each non-empty column.
    """

    order: torch.Tensor
    inverse_order: torch.Tensor
    source: torch.Tensor
    rows: torch.Tensor
    slots: torch.Tensor
    previous_slot: torch.Tensor
    next_source: torch.Tensor
    next_target: torch.Tensor
    steps: list[tuple[int, int]]
    batch_size: int
    length: int

    def gather(self, values: torch.Tensor) -> torch.Tensor:
        """``[B, L, ...]`` in the original layout -> ``[N, ...]`` packed."""
        return values.reshape(self.batch_size * self.length, *values.shape[2:]).index_select(0, self.source)

    def scatter(self, packed: torch.Tensor) -> torch.Tensor:
        """``[N]`` packed -> ``[B, L]`` in the original layout, 0 at padding."""
        grid = packed.new_zeros(self.batch_size * self.length)
        return grid.index_put((self.source,), packed).view(self.batch_size, self.length)


def pack_histories(mask: torch.Tensor) -> PackedHistories:
    """Build a :class:`PackedHistories` from a ``[B, L]`` boolean mask (vectorised)."""
    batch, length = mask.shape
    device = mask.device
    lengths = mask.sum(1)
    order = torch.argsort(lengths, descending=True, stable=True)
    sorted_lengths = lengths.index_select(0, order)
    starts = length - sorted_lengths  # aligned column of each sequence's first item
    batch_sizes = torch.bincount(starts, minlength=length + 1)[:length].cumsum(0)  # n_c
    offsets = batch_sizes.cumsum(0) - batch_sizes
    rows, positions = mask.index_select(0, order).nonzero(as_tuple=True)  # row-major
    count = rows.shape[0]
    rank = torch.arange(count, device=device) - (sorted_lengths.cumsum(0) - sorted_lengths).index_select(0, rows)
    columns = starts.index_select(0, rows) + rank
    packed = offsets.index_select(0, columns) + rows

    def place(values: torch.Tensor) -> torch.Tensor:
        return torch.empty_like(values).index_put_((packed,), values)

    rows_packed = place(rows)
    columns_packed = place(columns)
    source = place(order.index_select(0, rows) * length + positions)
    earlier = (columns_packed - 1).clamp(min=0)
    has_previous = (columns_packed > 0) & (rows_packed < batch_sizes.index_select(0, earlier))
    previous_slot = torch.where(has_previous, offsets.index_select(0, earlier) + rows_packed + 1, 0)
    next_source = (columns_packed < length - 1).nonzero().squeeze(1)
    following = (columns_packed.index_select(0, next_source) + 1).clamp(max=length - 1)
    next_target = offsets.index_select(0, following) + rows_packed.index_select(0, next_source)
    steps = [(o, n) for o, n in zip(offsets.tolist(), batch_sizes.tolist()) if n]
    return PackedHistories(
        order=order,
        inverse_order=torch.argsort(order),
        source=source,
        rows=rows_packed,
        slots=rows_packed * length + columns_packed,
        previous_slot=previous_slot,
        next_source=next_source,
        next_target=next_target,
        steps=steps,
        batch_size=batch,
        length=length,
    )


# --------------------------------------------------------------------------- the recurrence
class GRUSequenceFunction(torch.autograd.Function):
    """Runs a (gated-update) GRU over packed sequences with a hand-written backward.

    Gate layout of ``input_gates`` / ``weight_hh`` rows: ``[u, r, n]`` (update, reset,
    candidate) when ``has_update_gate``, else ``[r, n]`` (AGRU). One step, in the paper's
    convention::

        u = σ(gx_u + W_hu h + b_hu)          r = σ(gx_r + W_hr h + b_hr)
        h~ = tanh(gx_n + r ⊙ (W_hn h + b_hn))
        w = s_t ⊙ u   (w = u without step_scale; w = s_t without an update gate)
        h' = h + w ⊙ (h~ - h) = (1 - w) ⊙ h + w ⊙ h~

    ``s_t`` (``step_scale``) is the attention score for AUGRU / AGRU (it receives a gradient).

    Args:
        input_gates: ``[N, G*H]`` input projections ``x W_ih^T + b_ih`` of every packed item.
        weight_hh: ``[G*H, H]``; bias_hh: ``[G*H]``.
        step_scale: ``[N, 1]`` or None.
        steps / previous_slot / batch_size: from :class:`PackedHistories`.
        has_update_gate: False for AGRU.
        return_all: True returns every state ``[N, H]`` (packed), False the final state of
            each sorted sequence ``[B, H]`` (0 for an empty one).
    """

    @staticmethod
    def forward(
        ctx, input_gates, weight_hh, bias_hh, step_scale, steps, previous_slot, batch_size, has_update_gate, return_all
    ):
        count, gate_width = input_gates.shape
        hidden = weight_hh.shape[1]
        sigmoid_width = gate_width - hidden  # u and r, or r alone
        sizes = [size for _, size in steps]
        state = input_gates.new_zeros(batch_size, hidden)
        # row 0 stays zero: the "previous state" of every sequence's first item (backward)
        states_with_zero = input_gates.new_empty(count + 1, hidden)
        states_with_zero[0].zero_()
        hidden_gates = input_gates.new_empty(count, gate_width)  # W_hh h + b_hh
        sigmoid_gates = input_gates.new_empty(count, sigmoid_width)
        candidates = input_gates.new_empty(count, hidden)
        scaled_updates = None
        if has_update_gate and step_scale is not None:
            scaled_updates = input_gates.new_empty(count, hidden)

        # Per-step views, made by a few C++ split calls instead of ~15 Python slices a step.
        state_prefix = {size: state[:size] for size in set(sizes)}
        step_hidden_gates = hidden_gates.split(sizes)
        step_input_sigmoid = input_gates[:, :sigmoid_width].split(sizes)
        step_input_candidate = input_gates[:, sigmoid_width:].split(sizes)
        step_hidden_sigmoid = hidden_gates[:, :sigmoid_width].split(sizes)
        step_hidden_candidate = hidden_gates[:, sigmoid_width:].split(sizes)
        step_sigmoid = sigmoid_gates.split(sizes)
        step_reset = sigmoid_gates[:, sigmoid_width - hidden :].split(sizes)
        step_candidates = candidates.split(sizes)
        step_states = states_with_zero[1:].split(sizes)
        if not has_update_gate:
            step_updates = step_scale.split(sizes)
        elif step_scale is None:
            step_updates = sigmoid_gates[:, :hidden].split(sizes)
        else:
            step_update_gates = sigmoid_gates[:, :hidden].split(sizes)
            step_scales = step_scale.split(sizes)
            step_updates = scaled_updates.split(sizes)
        weight_t = weight_hh.t()
        for t, size in enumerate(sizes):
            h = state_prefix[size]
            torch.addmm(bias_hh, h, weight_t, out=step_hidden_gates[t])
            torch.add(step_input_sigmoid[t], step_hidden_sigmoid[t], out=step_sigmoid[t]).sigmoid_()
            candidate = torch.addcmul(
                step_input_candidate[t], step_reset[t], step_hidden_candidate[t], out=step_candidates[t]
            ).tanh_()
            if has_update_gate and step_scale is not None:
                torch.mul(step_update_gates[t], step_scales[t], out=step_updates[t])
            h.lerp_(candidate, step_updates[t])
            step_states[t].copy_(h)
        ctx.has_update_gate = has_update_gate
        ctx.return_all = return_all
        ctx.sizes = sizes
        ctx.batch_size = batch_size
        ctx.save_for_backward(
            weight_hh, step_scale, states_with_zero, hidden_gates, sigmoid_gates, candidates, scaled_updates, previous_slot
        )
        return states_with_zero[1:] if return_all else state

    @staticmethod
    def backward(ctx, grad_output):
        weight_hh, step_scale, states_with_zero, hidden_gates, sigmoid_gates, candidates, scaled_updates, previous_slot = (
            ctx.saved_tensors
        )
        has_update_gate = ctx.has_update_gate
        sizes = ctx.sizes
        count, hidden = candidates.shape
        gate_width = hidden_gates.shape[1]
        sigmoid_width = gate_width - hidden
        previous = states_with_zero.index_select(0, previous_slot)
        reset = sigmoid_gates[:, sigmoid_width - hidden : sigmoid_width]
        update_gate = sigmoid_gates[:, :hidden] if has_update_gate else None

        # Everything that does not depend on the carried gradient, for all items at once, in
        # [N, 2, H] pairs so one multiply per step handles two of them.
        # [w, h~ - h]: dL/dh' -> (dL/dh~, dL/dw)
        by_update_and_diff = candidates.new_empty(count, 2, hidden)
        if not has_update_gate:
            by_update_and_diff[:, 0].copy_(step_scale.expand(count, hidden))
        else:
            by_update_and_diff[:, 0].copy_(update_gate if scaled_updates is None else scaled_updates)
        torch.sub(candidates, previous, out=by_update_and_diff[:, 1])
        # [1 - h~², s u (1 - u)]: (dL/dh~, dL/dw) -> pre-activations of h~ and u
        pre_activation = candidates.new_empty(count, 2, hidden)
        torch.addcmul(candidates.new_ones(()), candidates, candidates, value=-1, out=pre_activation[:, 0])
        if has_update_gate:
            torch.addcmul(update_gate, update_gate, update_gate, value=-1, out=pre_activation[:, 1])
            if step_scale is not None:
                pre_activation[:, 1].mul_(step_scale)
        # [r (1 - r) (W_hn h + b_hn), r]: d pre-tanh -> (d pre-r, d (W_hn h + b_hn))
        reset_factors = candidates.new_empty(count, 2, hidden)
        torch.addcmul(reset, reset, reset, value=-1, out=reset_factors[:, 0]).mul_(hidden_gates[:, sigmoid_width:])
        reset_factors[:, 1].copy_(reset)

        # per item: [d pre-tanh | d pre-u | d pre-r | d (W_hn h + b_hn)]; [:, hidden:] is the
        # gradient of W_hh h + b_hh in gate order
        step_grads = candidates.new_empty(count, hidden + gate_width)
        candidate_and_update_grads = candidates.new_empty(count, 2, hidden)
        carry = candidates.new_zeros(ctx.batch_size, hidden) if ctx.return_all else grad_output.clone()

        carry_prefix = {size: carry[:size] for size in set(sizes)}
        step_factors = by_update_and_diff.split(sizes)
        step_pairs = candidate_and_update_grads.split(sizes)
        step_reset_factors = reset_factors.split(sizes)
        step_hidden_grads = step_grads[:, hidden:].split(sizes)
        step_reset_grads = step_grads[:, sigmoid_width:].view(count, 2, hidden).split(sizes)
        if has_update_gate:
            step_pre_factors = pre_activation.split(sizes)
            step_pre_grads = step_grads[:, : 2 * hidden].view(count, 2, hidden).split(sizes)
            step_candidate_pre_grads = [grads[:, 0] for grads in step_pre_grads]
        else:
            step_pre_factors = pre_activation[:, 0].split(sizes)
            step_candidate_pre_grads = step_grads[:, :hidden].split(sizes)
        step_grad_output = grad_output.split(sizes) if ctx.return_all else None
        for t in range(len(sizes) - 1, -1, -1):
            dh = carry_prefix[sizes[t]]
            if step_grad_output is not None:
                dh.add_(step_grad_output[t])
            pair = torch.mul(dh.unsqueeze(1), step_factors[t], out=step_pairs[t])  # [dL/dh~, dL/dw]
            if has_update_gate:
                torch.mul(pair, step_pre_factors[t], out=step_pre_grads[t])
            else:
                torch.mul(pair[:, 0], step_pre_factors[t], out=step_candidate_pre_grads[t])
            torch.mul(step_candidate_pre_grads[t].unsqueeze(1), step_reset_factors[t], out=step_reset_grads[t])
            dh.sub_(pair[:, 0])  # dh ⊙ (1 - w)
            dh.addmm_(step_hidden_grads[t], weight_hh)

        hidden_gate_grads = step_grads[:, hidden:]
        grad_weight = grad_bias = grad_scale = None
        if ctx.needs_input_grad[1]:
            grad_weight = hidden_gate_grads.t() @ previous
        if ctx.needs_input_grad[2]:
            grad_bias = hidden_gate_grads.sum(0)
        if ctx.needs_input_grad[3]:
            update_grads = candidate_and_update_grads[:, 1]
            if has_update_gate:
                update_grads = update_grads * update_gate
            grad_scale = update_grads.sum(-1, keepdim=True)
        # the input gates share u and r with the hidden gates and differ in the candidate:
        # overwrite that slot (no longer needed) to get [u, r, n] without a concatenation
        step_grads[:, hidden + sigmoid_width :].copy_(step_grads[:, :hidden])
        grad_input_gates = step_grads[:, hidden:]
        return grad_input_gates, grad_weight, grad_bias, grad_scale, None, None, None, None, None


class InterestGRU(nn.Module):
    """A GRU (or AGRU when ``has_update_gate`` is False) over packed histories.

    Parameters follow the gate layout of :class:`GRUSequenceFunction`.
    """

    def __init__(self, input_size: int, hidden_size: int, has_update_gate: bool = True):
        super().__init__()
        gates = 3 if has_update_gate else 2
        self.hidden_size = hidden_size
        self.has_update_gate = has_update_gate
        self.weight_ih = nn.Parameter(torch.empty(gates * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(gates * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(gates * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(gates * hidden_size))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """``nn.GRU``'s initialisation: U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)

    def input_gates(self, inputs: torch.Tensor, input_scale: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``[..., D]`` -> ``[..., G*H]`` for all items in one matmul; ``input_scale``
        ``[..., 1]`` scales the input first (AIGRU)."""
        if input_scale is None:
            return F.linear(inputs, self.weight_ih, self.bias_ih)
        return torch.addcmul(self.bias_ih, F.linear(inputs, self.weight_ih), input_scale)

    def forward(
        self,
        inputs: torch.Tensor,
        packing: PackedHistories,
        step_scale: Optional[torch.Tensor] = None,
        input_scale: Optional[torch.Tensor] = None,
        return_all: bool = True,
    ) -> torch.Tensor:
        """``inputs`` ``[N, D]`` packed, ``step_scale`` ``[N, 1]`` (attention for AUGRU/AGRU)
        -> packed states ``[N, H]``, or the final state of each sorted sequence ``[B, H]``."""
        if step_scale is None and not self.has_update_gate:
            raise ValueError("a GRU without update gate (AGRU) needs step_scale")
        gates = self.input_gates(inputs, input_scale)
        if step_scale is not None:
            step_scale = step_scale.to(gates.dtype)
        return GRUSequenceFunction.apply(
            gates,
            self.weight_hh,
            self.bias_hh,
            step_scale,
            packing.steps,
            packing.previous_slot,
            packing.batch_size,
            self.has_update_gate,
            return_all,
        )

    def reference_forward(
        self,
        inputs: torch.Tensor,
        mask: torch.Tensor,
        step_scale: Optional[torch.Tensor] = None,
        input_scale: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """The same recurrence on a padded, time-major batch with plain autograd ops (slow;
        for tests): ``inputs`` ``[L, B, D]``, ``mask`` ``[L, B]``, scales ``[L, B, 1]`` ->
        states ``[L, B, H]``; a masked step keeps the state."""
        gates = self.input_gates(inputs, input_scale)
        hidden = self.hidden_size
        state = inputs.new_zeros(inputs.shape[1], hidden)
        outputs = []
        for t in range(inputs.shape[0]):
            gh = F.linear(state, self.weight_hh, self.bias_hh)
            scale = mask[t].unsqueeze(-1).to(inputs.dtype)
            if step_scale is not None:
                scale = scale * step_scale[t]
            if self.has_update_gate:
                update = torch.sigmoid(gates[t, :, :hidden] + gh[:, :hidden]) * scale
                reset = torch.sigmoid(gates[t, :, hidden : 2 * hidden] + gh[:, hidden : 2 * hidden])
            else:
                update = scale
                reset = torch.sigmoid(gates[t, :, :hidden] + gh[:, :hidden])
            candidate = torch.tanh(gates[t, :, -hidden:] + reset * gh[:, -hidden:])
            state = (1 - update) * state + update * candidate
            outputs.append(state)
        return torch.stack(outputs)


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
        hidden = self.first_activation(F.linear(items, self.first.weight[:, dim:]) + state_part)  # [2, P, H1]
        return self.rest(hidden).squeeze(-1)


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
        self.interest_extractor = InterestGRU(dim, dim)
        self.auxiliary_scorer = AuxiliaryScorer(config.aux_scorer, dim, config.aux_hidden_sizes)
        if config.attention_type == "bilinear":
            self.attention_projection = nn.Linear(dim, dim, bias=False)  # W of h_t W e_target
        else:
            self.attention_unit = LocalActivationUnit(dim, config.attention_hidden_sizes, config.attention_activation)
        self.interest_evolution = InterestGRU(dim, dim, has_update_gate=config.gru_type != "agru")
        self.user_features = UserFeatureEmbedding(config.user_feature_sizes, config.user_feature_dim)
        self.mlp = MLP(
            2 * dim + self.user_features.output_dim,
            config.mlp_hidden_sizes,
            activation=config.mlp_activation,
            dropout=config.dropout,
            output_dim=1,
        )
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
        profile = self.user_features(user_features, query.shape[0], query.device)
        return self.mlp(torch.cat([profile, query, final_interest], dim=-1)).squeeze(-1)

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
        embedded = self.embeddings(torch.cat(ids))
        behaviours, query = embedded[: len(packed_ids)], embedded[len(packed_ids) : len(packed_ids) + len(target_ids)]
        interests = self.interest_extractor(behaviours, packing)
        aux = None
        if with_aux:
            aux = self.auxiliary_loss(packing, interests, embedded[len(packed_ids) + len(target_ids) :].view(2, pairs, -1))
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
