"""GRU4Rec (Hidasi et al., "Session-based Recommendations with Recurrent Neural Networks",
ICLR 2016), in the form sequential-recommendation benchmarks use (e.g. RecBole): item
embeddings -> GRU -> a linear map back to the embedding size -> scores against the same item
embeddings, trained to predict the next item at every position.

The GRU runs on packed sequences of each history's true length, so padding never enters the
recurrent state. Training and scoring run the ``nn.GRU``'s parameters through the fused
recurrence of ``modeling_gru.py`` (:func:`packed_torch_gru`, shared with DIEN): same outputs
and gradients as ``nn.GRU`` on a ``PackedSequence`` (:meth:`GRU4RecForNextItem.reference_encode`),
without its backward's zero-filled ``[packed items, 3 * hidden]`` buffer per time step, a
large share of a training step. The module stays an ``nn.GRU``, so the ``state_dict`` (and every
saved folder) keeps its layout, and exported programs run it unpacked.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .configuration_gru4rec import GRU4RecConfig
from .modeling_gru import pack_histories, packed_torch_gru
from .modeling_next_item import NextItemPreTrainedModel
from .modeling_utils import FastDropout


def shift_left_padding(values: torch.Tensor, lengths: torch.Tensor, to_left: bool) -> torch.Tensor:
    """Move each row's last ``lengths[b]`` entries to the front (``to_left``) or its first
    ``lengths[b]`` entries to the back. ``values``: ``[B, L, ...]``; vacated slots hold whatever
    was rolled in (callers mask them)."""
    length = values.shape[1]
    shift = (length - lengths).unsqueeze(1)
    index = torch.arange(length, device=values.device).unsqueeze(0)
    index = (index + shift) % length if to_left else (index - shift) % length
    index = index.view(*index.shape, *([1] * (values.dim() - 2))).expand_as(values)
    return values.gather(1, index)


class GRU4RecPreTrainedModel(NextItemPreTrainedModel):
    config_class = GRU4RecConfig
    base_model_prefix = "gru4rec"

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, nn.GRU):  # the usual RNN initialisation
            for name, parameter in module.named_parameters():
                if "weight_ih" in name:
                    nn.init.xavier_uniform_(parameter)
                elif "weight_hh" in name:
                    nn.init.orthogonal_(parameter)
                elif "bias" in name:
                    parameter.zero_()


class GRU4RecForNextItem(GRU4RecPreTrainedModel):
    """GRU4Rec with a next-item head tied to the item embeddings."""

    #: exported programs unroll the GRU over the history (see :meth:`encode`)
    export_static_history_length = True

    def __init__(self, config: GRU4RecConfig):
        super().__init__(config)
        self.item_embeddings = nn.Embedding(config.num_items, config.embedding_dim, padding_idx=0)
        self.embedding_dropout = FastDropout(config.dropout)
        self.gru = nn.GRU(
            config.embedding_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        # the fused path's dropout between stacked layers (nn.GRU's own applies in reference_encode)
        self.layer_dropout = FastDropout(config.dropout)
        self.projection = nn.Linear(config.hidden_size, config.embedding_dim)
        self.post_init()

    def encode(
        self, history_ids: torch.Tensor, history_mask: torch.Tensor, user_ids: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """``[B, L]`` left-padded -> ``[B, L, embedding_dim]``; padding never enters the GRU.

        The GRU runs over each row's last ``max(length, 1)`` positions (an empty history still
        takes one step, on the zero padding vector), packed; positions outside that run get the
        projection of a zero state (its bias). Equal to :meth:`reference_encode` (``nn.GRU`` on
        a ``PackedSequence``) in outputs and gradients.
        """
        if torch.compiler.is_exporting():  # packing needs the lengths on the host
            return self.reference_encode(history_ids, history_mask)
        batch, length = history_ids.shape
        run_lengths = history_mask.sum(1).clamp(min=1)
        in_run = torch.arange(length, device=history_ids.device) >= (length - run_lengths).unsqueeze(1)
        packing = pack_histories(in_run)
        # embeddings, dropout and the projection only for the N items in a run, not B x L
        inputs = self.embedding_dropout(self.item_embeddings(packing.gather(history_ids)))
        inputs = inputs * packing.gather(history_mask).unsqueeze(-1).to(inputs.dtype)
        queries = self.projection(packed_torch_gru(
            self.gru, inputs, packing, self.layer_dropout, compiled=self.config.compiled_recurrence
        ))
        # [B * L, E] filled with the projection bias, the run's queries copied to their positions
        grid = self.projection.bias.to(queries.dtype).expand(batch * length, -1).index_copy(0, packing.source, queries)
        return grid.view(batch, length, -1)

    def reference_encode(self, history_ids: torch.Tensor, history_mask: torch.Tensor) -> torch.Tensor:
        """:meth:`encode` with ``nn.GRU`` itself (slower than the fused path; the reference for
        tests, and the path taken by export): a left-padded history is shifted to the left, packed, run, and its outputs
        shifted back to the positions of their inputs. While exporting the GRU runs unpacked."""
        lengths = history_mask.sum(1)
        # an empty history still needs one step; its single input is the zero padding vector
        run_lengths = lengths.clamp(min=1)
        embedded = self.embedding_dropout(self.item_embeddings(history_ids))
        embedded = embedded * history_mask.unsqueeze(-1).to(embedded.dtype)
        shifted = shift_left_padding(embedded, run_lengths, to_left=True)
        if torch.compiler.is_exporting():
            # packing needs the lengths on the host; the GRU is causal, so running it over the
            # whole shifted batch gives the packed run's outputs up to each length (zeroed
            # beyond, as pad_packed_sequence does). It unrolls over L: static when exported.
            outputs, _ = self.gru(shifted)
            in_run = torch.arange(shifted.shape[1], device=shifted.device) < run_lengths.unsqueeze(1)
            outputs = outputs * in_run.unsqueeze(-1).to(outputs.dtype)
        else:
            packed = pack_padded_sequence(shifted, run_lengths.cpu(), batch_first=True, enforce_sorted=False)
            outputs, _ = self.gru(packed)
            outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=history_ids.shape[1])
        outputs = shift_left_padding(outputs, run_lengths, to_left=False)
        return self.projection(outputs)

    def output_embeddings(self) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        return self.item_embeddings.weight, None

    def get_input_embeddings(self) -> nn.Embedding:
        return self.item_embeddings


__all__ = ["GRU4RecForNextItem", "GRU4RecPreTrainedModel", "shift_left_padding"]
