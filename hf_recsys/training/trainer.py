"""The ``Trainer`` every task trains with.

:class:`RecsysTrainer` is ``transformers.Trainer`` with two changes that only show when a run
resumes from a checkpoint; everything else a run needs from the training loop comes as
callbacks (:class:`~hf_recsys.training.clock.TrainingClock`, the time budget of
:mod:`~hf_recsys.training.time_budget`, each task's own, e.g. P5's validation).
"""

from __future__ import annotations

from typing import Any

from transformers import Trainer
from transformers.trainer_pt_utils import LengthGroupedSampler

from .samplers import SeededLengthGroupedSampler


class RecsysTrainer(Trainer):
    """``Trainer`` whose resumed runs end where the uninterrupted ones end, without false warnings.

    * Length-grouped batches (``train_sampling_strategy="group_by_length"``) come in an order
      that depends only on ``data_seed`` (else ``seed``) and the epoch
      (:class:`~hf_recsys.training.samplers.SeededLengthGroupedSampler`).
    * No "missing keys" warning for tied copies of a shared weight (P5's encoder/decoder
      ``embed_tokens`` and ``lm_head``), which checkpoints leave out and loading the shared
      table restores; a missing key that is not such a copy still warns.
    """

    def _get_train_sampler(self, train_dataset=None):
        sampler = super()._get_train_sampler(train_dataset)
        if isinstance(sampler, LengthGroupedSampler):
            seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
            return SeededLengthGroupedSampler(sampler.batch_size, sampler.lengths, seed)
        return sampler

    def _issue_warnings_after_load(self, load_result: Any) -> None:
        tied_to = getattr(self.model, "all_tied_weights_keys", None) or {}
        missing = set(load_result.missing_keys)
        restored_by_tying = {key for key in missing if key in tied_to and tied_to[key] not in missing}
        super()._issue_warnings_after_load(load_result._replace(  # torch's (missing, unexpected) namedtuple
            missing_keys=[key for key in load_result.missing_keys if key not in restored_by_tying]))


__all__ = ["RecsysTrainer"]
