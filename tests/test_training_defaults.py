"""The learning-rate schedule a run uses: the model's own default unless the user sets one."""

import pytest

from hf_recsys.cli import train_main

TINY = ["--synthetic-users", "40", "--synthetic-items", "50", "--max-history", "5", "--batch-size", "32",
        "--max-steps", "3", "--no-progress", "--no-eval-each-epoch"]


def final_learning_rate(tmp_path, model, *flags):
    from transformers import TrainerCallback

    from hf_recsys.training import run as run_module

    seen = []

    class Record(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            seen.append(kwargs["lr_scheduler"].get_last_lr()[0])

    original = run_module.training_arguments

    def recording(run, task):
        callbacks = task.callbacks
        task.callbacks = lambda *args, **kwargs: [*callbacks(*args, **kwargs), Record()]
        return original(run, task)

    run_module.training_arguments = recording
    try:
        train_main(["--model", model, "--output-dir", str(tmp_path / model), *TINY, *flags])
    finally:
        run_module.training_arguments = original
    return seen


@pytest.mark.parametrize("model, flags, constant", [
    ("din", [], True),                                      # CTR models: a constant rate by default
    ("deepfm", [], True),
    ("din", ["--lr-scheduler-type", "linear"], False),     # the user's choice wins
    ("bst", [], True),
    ("sasrec", [], False),
])
def test_the_schedule_is_the_models_default_unless_set(tmp_path, model, flags, constant):
    rates = final_learning_rate(tmp_path, model, *flags)
    assert len(rates) == 3
    if constant:
        assert rates == [1e-3] * 3
    else:
        assert rates[0] > rates[-1]
