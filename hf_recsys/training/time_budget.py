"""Train for a wall-clock budget: the learning-rate schedule follows the clock, not the step count.

``--time-budget-minutes M`` (``RunConfig.time_budget_minutes``) warms the learning rate up over
the first ``warmup_fraction`` of M minutes, decays it linearly to zero at M minutes and stops
there (or at ``--epochs`` / ``--max-steps``, whichever comes first). So a run on unknown hardware
(a borrowed GPU, a busy machine) ends on time *and* with its schedule completed, instead of being
cut off halfway through a step-based decay.

The step at which the budget runs out depends on the machine's speed, so such a run is not
reproducible step for step; the README says so where it uses one. Several processes would stop
at different steps and wait for each other forever, so it is refused under distributed training.
"""

from __future__ import annotations

import time
from typing import Callable, Optional

import torch
from transformers import Trainer, TrainerCallback


class WallClockSchedule:
    """Learning-rate multiplier of elapsed wall-clock time: linear warmup, then linear decay to 0.

    Used as a ``LambdaLR`` lambda (the step argument is ignored). The clock starts at the first
    call, which ``LambdaLR`` makes when it is built, just before the first training step.
    """

    def __init__(self, budget_seconds: float, warmup_fraction: float = 0.05,
                 clock: Callable[[], float] = time.monotonic):
        if budget_seconds <= 0:
            raise ValueError(f"time budget must be positive, got {budget_seconds} s")
        if not 0.0 <= warmup_fraction < 1.0:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {warmup_fraction}")
        self.budget_seconds = budget_seconds
        self.warmup_fraction = warmup_fraction
        self.clock = clock
        self.started: Optional[float] = None

    def elapsed_fraction(self) -> float:
        """Share of the budget spent (0 before the first call)."""
        if self.started is None:
            return 0.0
        return (self.clock() - self.started) / self.budget_seconds

    def __call__(self, step: int = 0) -> float:
        if self.started is None:
            self.started = self.clock()
        spent = self.elapsed_fraction()
        if spent < self.warmup_fraction:
            return spent / self.warmup_fraction
        return max(0.0, (1.0 - spent) / (1.0 - self.warmup_fraction))


class StopAtTimeBudget(TrainerCallback):
    """Ends training after the step during which the schedule's budget ran out."""

    def __init__(self, schedule: WallClockSchedule):
        self.schedule = schedule

    def on_step_end(self, args, state, control, **kwargs):
        if self.schedule.elapsed_fraction() >= 1.0:
            control.should_training_stop = True
        return control


def check_single_process(world_size: int) -> None:
    """Refuse a time budget for a run of several processes (``torchrun``: ``WORLD_SIZE``)."""
    if world_size > 1:
        raise ValueError("--time-budget-minutes works in a single process only: with several, each rank's "
                         "clock would end training at a different step and the others would wait forever")


def apply_time_budget(trainer: Trainer, minutes: float, warmup_fraction: float = 0.05,
                      clock: Callable[[], float] = time.monotonic) -> WallClockSchedule:
    """Give ``trainer`` a wall-clock learning-rate schedule of ``minutes`` and stop it then.

    Replaces the step-based scheduler the trainer would build (``args.warmup_steps`` and
    ``args.lr_scheduler_type`` are then not used); ``num_train_epochs``/``max_steps`` stay upper
    bounds. Raises ``ValueError`` under distributed training (ranks would stop at different steps).
    """
    check_single_process(trainer.args.world_size)
    schedule = WallClockSchedule(minutes * 60.0, warmup_fraction, clock)

    def create_scheduler(num_training_steps: int, optimizer: Optional[torch.optim.Optimizer] = None):
        if trainer.lr_scheduler is None:
            trainer.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer or trainer.optimizer, schedule)
        return trainer.lr_scheduler

    trainer.create_scheduler = create_scheduler  # this trainer only; Trainer calls self.create_scheduler
    trainer.add_callback(StopAtTimeBudget(schedule))
    return schedule


__all__ = ["WallClockSchedule", "StopAtTimeBudget", "apply_time_budget"]
