"""Training time and throughput of a run that may span several sittings (resumed checkpoints).

A resumed run's ``trainer.train()`` lasts only the last sitting, while its step count starts
from the checkpoint: timing the call alone reports a 100-epoch run that was resumed at epoch 60
as trained in the time of 40 epochs, and steps / seconds as 2.5x its real speed.
``TrainingClock`` keeps both honest: the time of every sitting up to the checkpoint the run went
on from (kept in the checkpoint itself), and the throughput of the steps this process ran.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional

from transformers import Trainer, TrainerCallback
from transformers.trainer_callback import ExportableState


class TrainingClock(TrainerCallback, ExportableState):
    """Wall-clock seconds of training, summed over the sittings of a resumed run.

    ``Trainer`` writes the ``state()`` of every ``ExportableState`` callback into each
    checkpoint's ``trainer_state.json`` (``stateful_callbacks``) and loads that file back on
    resume; ``on_train_begin`` reads this clock's entry from it. (Trainer's own restore of callback
    state needs ``restore_callback_states_from_checkpoint``, which would also restore
    ``TrainerControl``; reading the entry here needs neither.) Time spent after the last checkpoint
    of an interrupted sitting is not counted: those steps are not in the resumed run's weights.
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter):
        self.clock = clock
        self.earlier_seconds = 0.0  # the sittings before this one, up to the checkpoint resumed from
        self.first_step = 0  # global step this sitting started at (0 unless resumed)
        self.last_step = 0
        self.samples_per_step = 0  # over every process and accumulated micro-batch
        self.started: Optional[float] = None
        self.ended: Optional[float] = None

    @classmethod
    def of(cls, trainer: Trainer) -> "TrainingClock":
        """The clock among ``trainer``'s callbacks (Trainer may have swapped the instance on resume)."""
        for callback in trainer.callback_handler.callbacks:
            if isinstance(callback, cls):
                return callback
        raise ValueError("this Trainer has no TrainingClock callback")

    def on_train_begin(self, args, state, control, **kwargs):
        saved = state.stateful_callbacks.get(type(self).__name__)
        # a run starting at step 0 resumes nothing (its state holds only this object's own, e.g. of
        # an earlier train() call of the same Trainer)
        resumed = isinstance(saved, dict) and state.global_step > 0
        self.earlier_seconds = float(saved["attributes"]["training_seconds"]) if resumed else 0.0
        self.first_step = self.last_step = state.global_step
        self.samples_per_step = (args.per_device_train_batch_size * args.gradient_accumulation_steps
                                 * max(args.world_size, 1))
        self.started, self.ended = self.clock(), None

    def on_train_end(self, args, state, control, **kwargs):
        self.ended = self.clock()
        self.last_step = state.global_step

    def sitting_seconds(self) -> float:
        """Seconds of training in this process so far (0 before ``on_train_begin``)."""
        if self.started is None:
            return 0.0
        return (self.ended if self.ended is not None else self.clock()) - self.started

    def total_seconds(self) -> float:
        return self.earlier_seconds + self.sitting_seconds()

    def state(self) -> dict:
        return {"args": {}, "attributes": {"training_seconds": self.total_seconds()}}

    def metrics(self) -> dict[str, Any]:
        """After training: ``train_runtime_s`` (every sitting), ``train_samples_per_second`` (this
        sitting's steps over this sitting's time), and, for a resumed run, where this sitting began."""
        sitting = self.sitting_seconds()
        return {
            "train_runtime_s": self.total_seconds(),
            "train_samples_per_second": (self.last_step - self.first_step) * self.samples_per_step / max(sitting, 1e-9),
            "train_resumed_at_step": self.first_step or None,
            "train_sitting_runtime_s": sitting,
        }
