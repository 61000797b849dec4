"""Training samplers whose order a resumed run can reproduce.

``Trainer`` resumes mid-epoch by rebuilding the epoch's order and skipping the batches already
trained. accelerate makes that order a function of (seed, epoch) for a plain ``RandomSampler``,
but transformers' ``LengthGroupedSampler`` shuffles with the global torch generator at the
start of each epoch: a run resumed after its first epoch drew another order, trained twice on
some examples of the resumed epoch and never on others, and did not end where the
uninterrupted run ends. :class:`SeededLengthGroupedSampler` shuffles from (seed, epoch) alone.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices


class SeededLengthGroupedSampler(LengthGroupedSampler):
    """``LengthGroupedSampler`` (batches of similar length, shuffled megabatches) whose order
    depends only on ``seed`` and the epoch that ``Trainer`` (through accelerate) sets."""

    def __init__(self, batch_size: int, lengths: list[int], seed: int):
        super().__init__(batch_size, lengths=lengths)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(get_length_grouped_indices(self.lengths, self.batch_size, generator=generator))

