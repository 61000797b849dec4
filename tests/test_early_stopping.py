"""Validation during training: --eval-steps, --load-best-model-at-end, --early-stopping-patience."""

import json
import os

import pytest
import torch
from safetensors.torch import load_file

from hf_recsys.cli import run_command, train_main

pytestmark = pytest.mark.usefixtures("one_thread_per_module")

TINY = ["--synthetic-users", "40", "--synthetic-items", "50", "--max-history", "5", "--batch-size", "32",
        "--no-progress"]


def scripted_validation(monkeypatch, values):
    """Make every evaluation report the next of ``values`` as its AUC, the last one from then on."""
    from hf_recsys.training import run as run_module

    original = run_module.training_arguments
    remaining = list(values)

    def scripted(run, task):
        real = task.compute_metrics

        def compute_metrics(split):
            metrics = real(split)
            return lambda prediction: {**metrics(prediction), "auc": remaining.pop(0) if len(remaining) > 1 else remaining[0]}

        task.compute_metrics = compute_metrics
        return original(run, task)

    monkeypatch.setattr(run_module, "training_arguments", scripted)


def test_early_stopping_stops_and_keeps_the_best_validation_weights(tmp_path, monkeypatch):
    scripted_validation(monkeypatch, [0.70, 0.80, 0.75, 0.74, 0.60, 0.60, 0.60, 0.60])
    out = tmp_path / "din"
    metrics = train_main(["--model", "din", "--output-dir", str(out), *TINY, "--max-steps", "8",
                          "--eval-steps", "1", "--early-stopping-patience", "2"])
    # validation 2 was the best; 3 and 4 did not improve on it, so training stopped after step 4
    assert metrics["train_steps"] == 4 and metrics["stopped_early"] is True
    assert metrics["best_step"] == 2 and metrics["best_valid_value"] == pytest.approx(0.80)
    assert metrics["best_valid_metric"] == "auc"
    best = load_file(out / "checkpoints" / "checkpoint-2" / "model.safetensors")
    final = load_file(out / "model.safetensors")
    assert best.keys() == final.keys()
    assert all(torch.equal(best[k], final[k]) for k in best)
    last = load_file(out / "checkpoints" / "checkpoint-4" / "model.safetensors")
    assert not all(torch.equal(last[k], final[k]) for k in last)  # the last weights were not kept
    card = (out / "README.md").read_text()
    assert "best validation auc 0.8000 at step 2" in card and "stopped early" in card
    saved = json.loads((out / "eval_results.json").read_text())
    assert saved["best_step"] == 2


def test_without_early_stopping_the_last_weights_are_kept(tmp_path, monkeypatch):
    scripted_validation(monkeypatch, [0.80, 0.70, 0.60])
    out = tmp_path / "din"
    metrics = train_main(["--model", "din", "--output-dir", str(out), *TINY, "--max-steps", "3",
                          "--eval-steps", "1", "--save-steps", "3"])
    assert metrics["train_steps"] == 3 and "best_step" not in metrics
    last = load_file(out / "checkpoints" / "checkpoint-3" / "model.safetensors")
    final = load_file(out / "model.safetensors")
    assert all(torch.equal(last[k], final[k]) for k in last)


def test_load_best_model_at_end_with_epochs_validates_each_epoch(tmp_path, monkeypatch):
    scripted_validation(monkeypatch, [0.9, 0.5, 0.4])
    out = tmp_path / "din"
    metrics = train_main(["--model", "din", "--output-dir", str(out), *TINY, "--epochs", "3", "--load-best-model-at-end"])
    steps_per_epoch = metrics["train_steps"] // 3
    assert metrics["best_step"] == steps_per_epoch and metrics["stopped_early"] is False
    assert os.path.isdir(out / "checkpoints" / f"checkpoint-{steps_per_epoch}")


@pytest.mark.parametrize("argv, words", [
    (["--early-stopping-patience", "2", "--no-eval-each-epoch"], "--early-stopping-patience needs validation"),
    (["--load-best-model-at-end", "--max-steps", "5"], "needs --eval-steps"),
    (["--early-stopping-patience", "1", "--eval-steps", "2", "--save-steps", "3"], "multiple of --eval-steps"),
    (["--metric-for-best-model", "auc"], "only applies with"),
    (["--early-stopping-patience", "-1"], "--early-stopping-patience"),
    (["--early-stopping-patience", "2", "--metric-for-best-model", "hr@10"], "--metric-for-best-model hr@10"),
    (["--model", "sasrec", "--early-stopping-patience", "2", "--metric-for-best-model", "auc"], "ndcg@10"),
    (["--model", "p5", "--early-stopping-patience", "2"], "--eval-valid-every"),
    (["--model", "p5", "--eval-steps", "5"], "--eval-steps: p5"),
])
def test_bad_validation_options_are_usage_errors_before_any_work(tmp_path, argv, words, capsys):
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as exit_info:
        run_command("train", ["--output-dir", str(out), *TINY, *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert not out.exists()


def test_a_resumed_run_keeps_the_early_stopping_count(tmp_path, monkeypatch):
    out = tmp_path / "din"
    flags = ["--model", "din", "--output-dir", str(out), *TINY, "--eval-steps", "1", "--early-stopping-patience", "3"]
    scripted_validation(monkeypatch, [0.80, 0.70, 0.70])
    train_main([*flags, "--max-steps", "2"])  # step 2 did not improve on step 1: one validation counted
    scripted_validation(monkeypatch, [0.60, 0.50, 0.40, 0.30, 0.20])
    metrics = train_main([*flags, "--max-steps", "6", "--resume-from-checkpoint"])
    # counting on from one, steps 3 and 4 make three: stopped after step 4 (from zero it would be step 5)
    assert metrics["train_steps"] == 4 and metrics["stopped_early"] is True and metrics["best_step"] == 1


@pytest.mark.parametrize("given", ["eval_ndcg@10", "NDCG@10", "ndcg@10"])
def test_the_metric_for_best_model_takes_trainers_and_upper_case_names(given):
    """Trainer's own form (eval_ndcg@10) and NDCG@10 were refused: only ndcg@10 was known."""
    from hf_recsys.cli import build_train_parser

    run = build_train_parser().parse_dataclass(["--model", "sasrec", "--early-stopping-patience", "2",
                                                "--eval-steps", "5", "--max-steps", "10", "--metric-for-best-model", given])
    assert run.training.metric_for_best_model == "ndcg@10"
