"""A fused GRU over packed histories, shared by DIEN and GRU4Rec.

On CPU a GRU's cost is not its arithmetic but the bookkeeping around ~10 tiny ops per step:
autograd's graph, and (for ``nn.GRU`` on packed sequences) a backward that zero-fills and adds
a ``[packed items, 3 * hidden]`` gradient buffer once per time step. So:

* histories are packed (:func:`pack_histories`, like ``PackedSequence``): sorted by length,
  valid items aligned to the last column, stored column after column. Step ``t`` of a
  recurrence works on a contiguous block and a prefix of the state: padding costs nothing.
* :class:`GRUSequenceFunction` is a custom autograd function: input projections for all steps
  are one matmul outside it; each forward step is one ``addmm`` and six elementwise ops writing
  into preallocated buffers (no graph), and the hand-written backward (BPTT) is one ``addmm``
  and five elementwise ops per step, with every factor that does not depend on the carried
  gradient computed for all steps at once beforehand.
* :class:`InterestGRU` (DIEN's GRU / AUGRU / AGRU) owns parameters in the function's gate
  layout; :func:`packed_torch_gru` runs the parameters of an ``nn.GRU`` (any number of layers)
  through the same function, so models keep ``nn.GRU``'s ``state_dict`` layout.
* with ``compiled=True`` both time-step loops run as a small C++ extension
  (:mod:`.compiled_gru`: per step the same ``addmm`` and one fused pass over the step's rows
  instead of 5-7 eager kernels), built on first use; the pure loops below stay the fallback
  and the reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .compiled_gru import compiled_gru_ops, compiled_loop_applies


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
        ctx,
        input_gates,
        weight_hh,
        bias_hh,
        step_scale,
        steps,
        previous_slot,
        batch_size,
        has_update_gate,
        return_all,
        compiled=False,
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
        ops = None
        if compiled and compiled_loop_applies(input_gates, weight_hh, bias_hh, step_scale):
            ops = compiled_gru_ops()
        ctx.compiled_ops = ops
        ctx.has_update_gate = has_update_gate
        ctx.return_all = return_all
        ctx.sizes = sizes
        ctx.batch_size = batch_size
        ctx.save_for_backward(
            weight_hh, step_scale, states_with_zero, hidden_gates, sigmoid_gates, candidates, scaled_updates, previous_slot
        )
        if ops is not None:  # the same loop in C++ (compiled_gru.py)
            ops.forward_steps(
                input_gates.contiguous(),
                weight_hh.contiguous(),
                bias_hh.contiguous(),
                None if step_scale is None else step_scale.contiguous(),
                sizes,
                has_update_gate,
                state,
                states_with_zero,
                hidden_gates,
                sigmoid_gates,
                candidates,
                scaled_updates,
            )
            return states_with_zero[1:] if return_all else state

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
        return states_with_zero[1:] if return_all else state

    @staticmethod
    def backward(ctx, grad_output):
        weight_hh, step_scale, states_with_zero, hidden_gates, sigmoid_gates, candidates, scaled_updates, previous_slot = (
            ctx.saved_tensors
        )
        count, hidden = candidates.shape
        gate_width = hidden_gates.shape[1]
        sigmoid_width = gate_width - hidden
        previous = states_with_zero.index_select(0, previous_slot)
        # per item: [d pre-tanh | d pre-u | d pre-r | d (W_hn h + b_hn)]; [:, hidden:] is the
        # gradient of W_hh h + b_hh in gate order
        step_grads = candidates.new_empty(count, hidden + gate_width)
        carry = (
            candidates.new_zeros(ctx.batch_size, hidden)
            if ctx.return_all
            else grad_output.clone(memory_format=torch.contiguous_format)
        )
        ops = ctx.compiled_ops if compiled_loop_applies(grad_output) else None
        if ops is not None:  # the same loop in C++ (compiled_gru.py), factors computed per row
            grad_scale = None
            if ctx.needs_input_grad[3]:
                grad_scale = step_scale.new_empty(count, 1)
            ops.backward_steps(
                weight_hh.contiguous(),
                None if step_scale is None else step_scale.contiguous(),
                states_with_zero,
                hidden_gates,
                sigmoid_gates,
                candidates,
                scaled_updates,
                previous_slot,
                grad_output.contiguous() if ctx.return_all else None,
                ctx.sizes,
                ctx.has_update_gate,
                step_grads,
                carry,
                grad_scale,
            )
        else:
            grad_scale = GRUSequenceFunction._backward_steps(
                ctx, grad_output, step_grads, carry, previous, *ctx.saved_tensors[:-1]
            )

        hidden_gate_grads = step_grads[:, hidden:]
        grad_weight = grad_bias = None
        if ctx.needs_input_grad[1]:
            grad_weight = hidden_gate_grads.t() @ previous
        if ctx.needs_input_grad[2]:
            grad_bias = hidden_gate_grads.sum(0)
        # the input gates share u and r with the hidden gates and differ in the candidate:
        # overwrite that slot (no longer needed) to get [u, r, n] without a concatenation
        step_grads[:, hidden + sigmoid_width :].copy_(step_grads[:, :hidden])
        grad_input_gates = step_grads[:, hidden:]
        return grad_input_gates, grad_weight, grad_bias, grad_scale, None, None, None, None, None, None

    @staticmethod
    def _backward_steps(
        ctx, grad_output, step_grads, carry, previous, weight_hh, step_scale, states_with_zero, hidden_gates,
        sigmoid_gates, candidates, scaled_updates,
    ) -> Optional[torch.Tensor]:
        """The pure PyTorch BPTT loop: fills ``step_grads`` (consuming ``carry``) and returns
        the gradient of ``step_scale`` when it is needed."""
        has_update_gate = ctx.has_update_gate
        sizes = ctx.sizes
        count, hidden = candidates.shape
        gate_width = hidden_gates.shape[1]
        sigmoid_width = gate_width - hidden
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

        candidate_and_update_grads = candidates.new_empty(count, 2, hidden)
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

        if not ctx.needs_input_grad[3]:
            return None
        update_grads = candidate_and_update_grads[:, 1]
        if has_update_gate:
            update_grads = update_grads * update_gate
        return update_grads.sum(-1, keepdim=True)


class InterestGRU(nn.Module):
    """A GRU (or AGRU when ``has_update_gate`` is False) over packed histories.

    Parameters follow the gate layout of :class:`GRUSequenceFunction`. ``compiled`` runs the
    time-step loops in C++ (:mod:`.compiled_gru`; built on first use, pure PyTorch when it cannot
    be built or for float64 / non-CPU tensors); the function is the same either way.
    """

    def __init__(self, input_size: int, hidden_size: int, has_update_gate: bool = True, compiled: bool = False):
        super().__init__()
        self.compiled = compiled
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
        # under autocast the input projection comes out in bf16/fp16; the recurrence runs in the
        # weights' precision (its fused step writes into float32 buffers)
        gates = self.input_gates(inputs, input_scale).to(self.weight_hh.dtype)
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
            self.compiled,
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


# --------------------------------------------------------------------------- nn.GRU's parameters
def update_first_gates(gates: torch.Tensor) -> torch.Tensor:
    """``nn.GRU``'s gate blocks ``[r, z, n]`` -> :class:`GRUSequenceFunction`'s ``[u, r, n]``.

    ``nn.GRU`` keeps the state with weight ``z`` (``h' = (1 - z) n + z h``), the function moves
    to the candidate with weight ``u`` (``h' = (1 - u) h + u n``): ``u = 1 - z = σ(-pre_z)``, so
    the ``z`` block is negated. Works on weights ``[3H, D]`` and biases ``[3H]``; differentiable
    (gradients reach the ``nn.GRU`` parameters)."""
    reset, keep, candidate = gates.chunk(3, 0)
    return torch.cat([keep.neg(), reset, candidate])


def packed_torch_gru(
    gru: nn.GRU,
    inputs: torch.Tensor,
    packing: PackedHistories,
    between_layers: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
    compiled: bool = False,
) -> torch.Tensor:
    """Runs an ``nn.GRU``'s parameters over packed histories with :class:`GRUSequenceFunction`.

    The same function as ``gru`` on the packed sequences (from a zero initial state), without
    its per-step backward buffers. Layers are stacked; ``between_layers`` (dropout) is applied
    to every layer's output but the last, as ``nn.GRU(dropout=...)`` does.

    Args:
        gru: a unidirectional ``nn.GRU`` with biases (any ``num_layers``).
        inputs: ``[N, input_size]`` packed items (``packing.gather`` order).
        packing: from :func:`pack_histories`.
        compiled: run the time-step loops in C++ where possible (see :class:`InterestGRU`).

    Returns:
        ``[N, hidden_size]`` the last layer's state after each packed item.
    """
    if gru.bidirectional or not gru.bias or getattr(gru, "proj_size", 0):
        raise ValueError("packed_torch_gru supports unidirectional nn.GRU with biases only")
    states = inputs
    for layer in range(gru.num_layers):
        if layer and between_layers is not None:
            states = between_layers(states)
        weight_hh = update_first_gates(getattr(gru, f"weight_hh_l{layer}"))
        gates = F.linear(
            states, update_first_gates(getattr(gru, f"weight_ih_l{layer}")), update_first_gates(getattr(gru, f"bias_ih_l{layer}"))
        )
        states = GRUSequenceFunction.apply(
            gates.to(weight_hh.dtype),
            weight_hh,
            update_first_gates(getattr(gru, f"bias_hh_l{layer}")),
            None,
            packing.steps,
            packing.previous_slot,
            packing.batch_size,
            True,
            True,
            compiled,
        )
    return states


__all__ = [
    "GRUSequenceFunction",
    "InterestGRU",
    "PackedHistories",
    "pack_histories",
    "packed_torch_gru",
    "update_first_gates",
]
