"""``--time-budget-minutes``: the learning rate follows the wall clock and training stops on time.

The Trainer-level tests drive a fake clock one second per training step, so the expected step
count and learning rates are exact; the end-to-end run uses the real clock only to check that a
budget far below the epoch cap ends training early.
"""

import dataclasses
import json
import os

import pytest
import torch
from transformers import Trainer, TrainerCallback, TrainingArguments

import hf_recsys  # noqa: F401
from hf_recsys.cli import build_train_parser, run_config_from_args, train_main
from hf_recsys.training.run import RunConfig, budget_warmup_fraction, run_training
from hf_recsys.training.time_budget import WallClockSchedule, apply_time_budget


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_schedule_warms_up_then_decays_to_zero_over_the_budget():
    clock = FakeClock()
    schedule = WallClockSchedule(budget_seconds=100.0, warmup_fraction=0.1, clock=clock)
    assert schedule.elapsed_fraction() == 0.0
    factors = {}
    for t in (0, 5, 10, 55, 100, 130):
        clock.now = 100.0 + t
        factors[t] = schedule()  # the first call starts the clock at t=0
    assert factors == pytest.approx({0: 0.0, 5: 0.5, 10: 1.0, 55: 0.5, 100: 0.0, 130: 0.0})
    assert schedule.elapsed_fraction() == pytest.approx(1.3)
    with pytest.raises(ValueError, match="positive"):
        WallClockSchedule(0)
    with pytest.raises(ValueError, match="warmup_fraction"):
        WallClockSchedule(10, warmup_fraction=1.0)


class Regression(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 1)

    def forward(self, x, labels=None):
        prediction = self.linear(x).squeeze(-1)
        return {"loss": torch.nn.functional.mse_loss(prediction, labels), "logits": prediction}


class TickAndRecord(TrainerCallback):
    """Records the learning rate each step uses, then lets one second pass (step k runs from
    t=k-1 to t=k; the scheduler is stepped at the end of the step, at t=k)."""

    def __init__(self, clock):
        self.clock, self.rates = clock, []

    def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
        self.rates.append(optimizer.param_groups[0]["lr"])
        self.clock.now += 1.0


def tiny_trainer(tmp_path, **arguments):
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(64, 4, generator=generator)
    rows = [{"x": x, "labels": x.sum()} for x in features]
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=8, learning_rate=0.1,
                             report_to="none", use_cpu=True, disable_tqdm=True, save_strategy="no",
                             logging_steps=1000, **arguments)
    return Trainer(model=Regression(), args=args, train_dataset=rows)


def test_training_stops_when_the_budget_is_spent_and_the_rate_follows_the_clock(tmp_path):
    clock = FakeClock()
    trainer = tiny_trainer(tmp_path, max_steps=1000, warmup_steps=50, lr_scheduler_type="cosine")
    recorder = TickAndRecord(clock)
    trainer.add_callback(recorder)
    # 10 s budget, 2 s warmup; the fake clock moves 1 s per step
    apply_time_budget(trainer, minutes=10 / 60, warmup_fraction=0.2, clock=clock)
    output = trainer.train()
    # step k (1-based) ends at t=k; the budget is spent at the end of step 10
    assert output.global_step == 10
    # the scheduler is read when built (t=0) and after each step: step k uses the factor at t=k-1
    expected = [0.1 * (t / 2 if t < 2 else (10 - t) / 8) for t in range(10)]
    assert recorder.rates == pytest.approx(expected)
    # the step-based warmup and cosine decay that were asked for were not used
    assert isinstance(trainer.lr_scheduler, torch.optim.lr_scheduler.LambdaLR)


def test_the_epoch_cap_still_ends_training_first(tmp_path):
    clock = FakeClock()
    trainer = tiny_trainer(tmp_path, num_train_epochs=2)  # 8 steps per epoch
    trainer.add_callback(TickAndRecord(clock))
    apply_time_budget(trainer, minutes=1.0, clock=clock)
    assert trainer.train().global_step == 16


def test_refused_under_distributed_training(tmp_path, monkeypatch):
    trainer = tiny_trainer(tmp_path, max_steps=5)
    monkeypatch.setattr(TrainingArguments, "world_size", property(lambda self: 2))
    with pytest.raises(ValueError, match="single process"):
        apply_time_budget(trainer, minutes=1.0)


def test_warmup_must_be_a_share_of_the_budget():
    assert budget_warmup_fraction(RunConfig(), default=0.05) == 0.05
    assert budget_warmup_fraction(RunConfig(warmup_steps=0.1), default=0.05) == 0.1
    with pytest.raises(ValueError, match="share of the budget"):
        budget_warmup_fraction(RunConfig(warmup_steps=20), default=0.0)


def test_cli_flag_and_an_end_to_end_run(tmp_path):
    args = build_train_parser().parse_args(["--model", "sasrec", "--time-budget-minutes", "7.5"])
    assert run_config_from_args(args).time_budget_minutes == 7.5
    for bad in (["--time-budget-minutes", "0"], ["--time-budget-minutes", "5", "--resume-from-checkpoint"]):
        with pytest.raises(SystemExit):
            train_main(bad)

    # 30 users, 4 steps per epoch: 10,000 epochs would be 40,000 steps; 2 s of budget ends it long before
    run = RunConfig(model="sasrec", output_dir=str(tmp_path / "out"), synthetic_users=30, synthetic_items=40,
                    max_history=6, batch_size=8, epochs=10_000, eval_each_epoch=False, disable_tqdm=True,
                    logging_steps=1000, time_budget_minutes=2 / 60,
                    model_overrides=dict(num_heads=2, hidden_size=16))
    metrics = run_training(run)
    assert 0 < metrics["train_steps"] < 40_000
    assert 0.0 <= metrics["eval_hr@10"] <= 1.0
    card = open(os.path.join(run.output_dir, "README.md")).read()
    assert "time budget (minutes): 0.0333" in card and "- epochs:" not in card
    with open(os.path.join(run.output_dir, "eval_results.json")) as f:
        assert json.load(f)["train_steps"] == metrics["train_steps"]

    # a checkpoint cannot carry a point on another process's clock: refused when the run is built
    with pytest.raises(ValueError, match="cannot be combined with --resume-from-checkpoint"):
        dataclasses.replace(run, output_dir=str(tmp_path / "resumed"), resume_from_checkpoint=str(tmp_path))
