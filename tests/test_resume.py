"""Checkpoint save and resume reproduce the uninterrupted run.

A run of 8 steps saves a checkpoint mid-way (``--save-steps``); a second run resumes from it and
must end with the same weights and held-out metrics, bit for bit. The runs cross epoch
boundaries (BST also validates after each epoch, whose data loader draws from the torch
generator) and use dropout (BST) and sampled negatives drawn from the torch generator
(SASRec with ``loss_type="bce"``), so data order, optimizer, scheduler and RNG state all have to
come back. P5 trains with length-grouped batches and validation during training and is held to
the same, within its first epoch and past it. A checkpoint stripped of its RNG state
does *not* reproduce (the control).
"""

import dataclasses
import json
import os
import shutil
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerState

import hf_recsys  # noqa: F401
from hf_recsys.cli import build_train_parser, run_config_from_args
from hf_recsys.training.clock import TrainingClock
from hf_recsys.training.run import RunConfig, resolve_checkpoint, run_training

# a tiny P5 with dropout (so the RNG state matters), evaluated on the seen template only
TINY_P5 = dict(d_model=16, d_kv=8, d_ff=32, num_layers=1, num_decoder_layers=1, vocab_size=300, dropout_rate=0.1,
               recommend_beams=10, eval_unseen_template=False)
SETUPS = {
    # 916 samples, 2 steps per epoch, 4 epochs with validation after each: the checkpoint at step 5
    # is mid-epoch 3, so the resumed run skips a batch and runs two more validations
    "bst": dict(batch_size=512, epochs=4, eval_each_epoch=True, save_steps=5,
                model_overrides=dict(num_heads=2, ffn_dim=16, mlp_hidden_sizes=[16])),
    # 30 users, 4 steps per epoch: the checkpoint at step 6 is mid-epoch, resuming skips 2 batches
    "sasrec": dict(batch_size=8, max_steps=8, eval_each_epoch=False, save_steps=6,
                   model_overrides=dict(num_heads=2, hidden_size=16, loss_type="bce")),
    # P5 (length-grouped prompts, validation callback): 30 users' prompts in batches of 16, the checkpoint at step 5
    # is mid first epoch; dropout makes the RNG state matter
    "p5": dict(batch_size=16, max_steps=8, eval_each_epoch=False, save_steps=5,
               model_overrides=dict(TINY_P5, eval_valid_every=0.1, eval_valid_users=10)),
    # 596 prompts in batches of 128, 5 steps per epoch: the checkpoint at step 7 is in the second
    # epoch, whose length-grouped order the resumed run must draw again (it drew another from the
    # global generator); no validation, whose choice of early weights would hide the difference
    "p5-second-epoch": dict(model="p5", batch_size=128, max_steps=8, eval_each_epoch=False, save_steps=7,
                            model_overrides=TINY_P5),
}


def run(name, output_dir, **extra):
    setup = dict(SETUPS[name])
    config = RunConfig(model=setup.pop("model", name), output_dir=str(output_dir), synthetic_users=30,
                       synthetic_items=40, max_history=6, learning_rate=0.01, disable_tqdm=True, logging_steps=1000,
                       **setup, **extra)
    return run_training(config)


def max_difference(folder_a, folder_b):
    a, b = load_file(os.path.join(folder_a, "model.safetensors")), load_file(os.path.join(folder_b, "model.safetensors"))
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)


def quality(metrics):
    return {k: v for k, v in metrics.items()
            if k.startswith("eval_") and not any(clock in k for clock in ("runtime", "per_second", "seconds"))}


@pytest.mark.parametrize("model", ["bst", "sasrec", "p5", "p5-second-epoch"])
def test_resumed_run_ends_where_the_uninterrupted_run_ends(model, tmp_path):
    full = run(model, tmp_path / "full")
    checkpoints = tmp_path / "full" / "checkpoints"
    middle = f"checkpoint-{SETUPS[model]['save_steps']}"
    assert sorted(os.listdir(checkpoints)) == [middle, "checkpoint-8"]
    top_level = set(os.listdir(tmp_path / "full"))
    assert not any(name.startswith("checkpoint-") for name in top_level)  # the model folder stays Hub-ready
    assert {"model.safetensors", "rng_state.pth", "optimizer.pt", "scheduler.pt", "trainer_state.json"} <= set(
        os.listdir(checkpoints / middle))

    if model == "p5-second-epoch":
        state = json.loads((checkpoints / middle / "trainer_state.json").read_text())
        assert 1 < state["epoch"] < 2

    resumed = run(model, tmp_path / "resumed", resume_from_checkpoint=str(checkpoints / middle))
    assert max_difference(tmp_path / "full", tmp_path / "resumed") == 0.0
    assert quality(resumed) == quality(full)
    # the resumed run's time is the first sitting's up to the checkpoint (kept in it) plus its own;
    # its throughput counts only the steps it ran
    state = json.loads((checkpoints / middle / "trainer_state.json").read_text())
    first_sitting = state["stateful_callbacks"]["TrainingClock"]["attributes"]["training_seconds"]
    assert full["train_resumed_at_step"] is None and full["train_runtime_s"] == full["train_sitting_runtime_s"]
    assert 0 < first_sitting < full["train_runtime_s"]
    assert resumed["train_resumed_at_step"] == SETUPS[model]["save_steps"]
    assert resumed["train_runtime_s"] == pytest.approx(first_sitting + resumed["train_sitting_runtime_s"])
    steps_run = 8 - SETUPS[model]["save_steps"]
    assert resumed["train_samples_per_second"] == pytest.approx(
        steps_run * SETUPS[model]["batch_size"] / resumed["train_sitting_runtime_s"])
    assert f"- resumed from: {middle}" in (tmp_path / "resumed" / "README.md").read_text()
    if model == "p5":  # the validation curve and the weights it chose span the resume
        without_clock = [{k: v for k, v in h.items() if k != "eval_seconds"} for h in resumed["valid_history"]]
        assert without_clock == [{k: v for k, v in h.items() if k != "eval_seconds"} for h in full["valid_history"]]
        assert resumed["valid_selected_step"] == full["valid_selected_step"]
        assert any(h["step"] <= SETUPS[model]["save_steps"] for h in full["valid_history"])

    if model == "bst":  # the control: without the saved RNG state the dropout masks differ
        stripped = tmp_path / "no-rng"
        shutil.copytree(checkpoints / middle, stripped)
        os.remove(stripped / "rng_state.pth")
        run(model, tmp_path / "control", resume_from_checkpoint=str(stripped))
        assert max_difference(tmp_path / "full", tmp_path / "control") > 1e-4


def test_training_clock_adds_the_sittings_before_the_checkpoint(tmp_path):
    # first sitting: trains from t=100, checkpoint at t=130 (step 6); resumed sitting: t=500 to 510
    args = SimpleNamespace(per_device_train_batch_size=8, gradient_accumulation_steps=1, world_size=2)
    first = TrainingClock(clock=iter([100.0, 130.0]).__next__)
    state = TrainerState(stateful_callbacks=[first])
    first.on_train_begin(args, state, None)
    state.global_step = 6
    state.stateful_callbacks["TrainingClock"] = first.state()  # as Trainer._save_checkpoint does
    state.save_to_json(str(tmp_path / "trainer_state.json"))

    resumed = TrainingClock(clock=iter([500.0, 510.0]).__next__)
    loaded = TrainerState.load_from_json(str(tmp_path / "trainer_state.json"))
    resumed.on_train_begin(args, loaded, None)
    loaded.global_step = 8
    resumed.on_train_end(args, loaded, None)
    assert resumed.metrics() == {
        "train_runtime_s": 40.0, "train_samples_per_second": 2 * 16 / 10.0,
        "train_resumed_at_step": 6, "train_sitting_runtime_s": 10.0}

    # a second train() of the same Trainer starts at step 0 from a state holding this clock's 40 s
    again = TrainerState(stateful_callbacks=[resumed])
    resumed.clock = iter([600.0, 605.0]).__next__
    resumed.on_train_begin(args, again, None)
    again.global_step = 3
    resumed.on_train_end(args, again, None)
    assert resumed.metrics()["train_runtime_s"] == 5.0


def test_latest_resolves_to_the_newest_complete_checkpoint(tmp_path, caplog):
    """A checkpoint cut short by a kill while saving (no trainer_state.json) made every resume a
    traceback until it was deleted by hand; ``latest`` passes over it, saying so."""
    for step in (5, 40, 100, 120):
        os.makedirs(tmp_path / "checkpoints" / f"checkpoint-{step}")
        if step != 120:
            (tmp_path / "checkpoints" / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    (tmp_path / "checkpoints" / "checkpoint-120" / "config.json").write_text("{}")
    run_config = RunConfig(output_dir=str(tmp_path), resume_from_checkpoint="latest")
    with caplog.at_level("WARNING"):
        assert resolve_checkpoint(run_config) == str(tmp_path / "checkpoints" / "checkpoint-100")
    assert "checkpoint-120 is incomplete (no trainer_state.json" in caplog.text
    with pytest.raises(FileNotFoundError, match="no checkpoint-N folder"):
        resolve_checkpoint(RunConfig(output_dir=str(tmp_path / "empty"), resume_from_checkpoint="latest"))


def test_cli_flags_map_onto_the_run_config():
    parser = build_train_parser()
    args = parser.parse_args(["--save-steps", "50", "--resume-from-checkpoint", "--gradient-checkpointing",
                              "--save-total-limit", "2"])
    config = run_config_from_args(args)
    assert (config.save_steps, config.resume_from_checkpoint, config.gradient_checkpointing, config.save_total_limit) == (
        50, "latest", True, 2)
    assert config.model == "bst" and config.unknown_items is None  # grow, once there is an --init-from
    path = run_config_from_args(parser.parse_args(["--resume-from-checkpoint", "out/checkpoints/checkpoint-7"]))
    assert path.resume_from_checkpoint == "out/checkpoints/checkpoint-7"


def test_p5_resumed_run_keeps_the_best_weights_chosen_before_the_interruption(tmp_path, monkeypatch):
    """The best validation weights of the first sitting travel in the checkpoint. Here the score
    grows with the weights' norm, which this training shrinks (embeddings start at std 0.1), so
    the step-4 evaluation (before the step-5 checkpoint) is the best and both runs must end with
    those weights; the resumed run evaluated only at step 8 itself."""
    from hf_recsys.p5 import validation

    def weight_norm_score(model, *args, **kwargs):
        squares = sum(p.detach().double().pow(2).sum().item() for p in model.parameters())
        score = squares / (1.0 + squares)
        return {"hr@5": score, "ndcg@5": score, "hr@10": score, "ndcg@10": score, "users": 10, "eval_seconds": 0.0}

    monkeypatch.setattr(validation, "evaluate_sequential", weight_norm_score)
    full = run("p5", tmp_path / "full")
    assert full["valid_selected_step"] == 4 < SETUPS["p5"]["save_steps"] and full["valid_history"][-1]["step"] == 8
    resumed = run("p5", tmp_path / "resumed", resume_from_checkpoint=str(tmp_path / "full" / "checkpoints" / "checkpoint-5"))
    assert resumed["valid_selected_step"] == 4
    assert max_difference(tmp_path / "full", tmp_path / "resumed") == 0.0


@pytest.mark.parametrize("model", ["bst", "p5"])
def test_a_missing_checkpoint_fails_before_the_data_is_read(model, tmp_path):
    config = RunConfig(model=model, dataset="ml-1m", data_path=str(tmp_path / "no-such-log"),
                       output_dir=str(tmp_path / "out"), resume_from_checkpoint="latest")
    with pytest.raises(FileNotFoundError, match="--resume-from-checkpoint latest: no checkpoint-N folder"):
        run_training(config)


def test_a_checkpoint_of_another_model_or_other_data_is_refused_before_training(tmp_path):
    """Resuming used to load whatever the folder held: a finished run's folder was a traceback,
    another --set or data size a state-dict traceback, and another log with as many items
    trained on silently, each index now meaning another item."""
    from hf_recsys.training.run import CheckpointMismatchError

    run("sasrec", tmp_path / "first")
    checkpoint = str(tmp_path / "first" / "checkpoints" / "checkpoint-6")
    # a checkpoint holds the processor too, so it recommends raw IDs as the final folder does
    assert os.path.isfile(os.path.join(checkpoint, "recsys_processor.json"))
    newest = str(tmp_path / "first" / "checkpoints" / "checkpoint-8")  # saved at the end of training
    with pytest.raises(FileNotFoundError, match=f"not a checkpoint .*its newest checkpoint is {newest}"):
        run("sasrec", tmp_path / "a", resume_from_checkpoint=str(tmp_path / "first"))
    with pytest.raises(CheckpointMismatchError, match="a checkpoint of a 'sasrec' model, not of --model bst"):
        run("bst", tmp_path / "b", resume_from_checkpoint=checkpoint)
    with pytest.raises(CheckpointMismatchError, match="a checkpoint of a .sasrec. model, not of --model bst"):
        run("bst", tmp_path / "first", resume_from_checkpoint="latest")  # latest named a config difference
    def resume(folder, overrides=None, **data):
        setup = dict(SETUPS["sasrec"], model_overrides=dict(SETUPS["sasrec"]["model_overrides"], **(overrides or {})))
        data = dict(dict(synthetic_users=30, synthetic_items=40), **data)
        run_training(RunConfig(model="sasrec", output_dir=str(tmp_path / folder), max_history=6, disable_tqdm=True,
                               resume_from_checkpoint=checkpoint, **setup, **data))

    with pytest.raises(CheckpointMismatchError, match="its model has hidden_size=16, this run's hidden_size=8"):
        resume("c", dict(hidden_size=8))
    with pytest.raises(CheckpointMismatchError, match="trained on other data \\(its items"):
        resume("d", synthetic_items=50)
    assert not any((tmp_path / name).exists() for name in "abcd")


@pytest.mark.parametrize("written, world, warned", [(2, "1", True), (1, "2", True), (2, "2", False), (1, "1", False)])
def test_resuming_on_another_number_of_processes_says_it_is_not_exact(written, world, warned, tmp_path, monkeypatch, caplog):
    """A two-process checkpoint resumed in one process went on silently with half the global batch."""
    from hf_recsys.training.run import warn_if_other_world_size

    names = [f"rng_state_{rank}.pth" for rank in range(written)] if written > 1 else ["rng_state.pth"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setenv("WORLD_SIZE", world)
    monkeypatch.setenv("RANK", "0")
    with caplog.at_level("WARNING", logger="hf_recsys.training.run"):
        warn_if_other_world_size(str(tmp_path), 32)
    expected = (f"was written by {written} process{'es' if written > 1 else ''} and this run has {world}: it goes on "
                f"with a global batch of {32 * int(world)} instead of {32 * written}")
    assert (expected in caplog.text) == warned, caplog.text


def test_an_interrupted_runs_folder_names_resuming_as_a_way_on(tmp_path):
    from hf_recsys.training.output_dir import check_output_dir

    os.makedirs(tmp_path / "checkpoints" / "checkpoint-50")
    with pytest.raises(ValueError, match=r"\(checkpoints\); pass --overwrite-output-dir .*add --resume-from-checkpoint$"):
        check_output_dir(str(tmp_path), overwrite=False, resuming=False)


def test_resuming_with_other_optimizer_or_batch_options_is_refused(tmp_path):
    """``--learning-rate`` / ``--batch-size`` changed on resume did nothing (the optimizer and
    schedule come from the checkpoint) but were recorded on the card and in the command."""
    from transformers import TrainingArguments

    from hf_recsys.training.run import CheckpointMismatchError, check_same_training

    checkpoint = tmp_path / "checkpoint-200"
    checkpoint.mkdir()
    written = TrainingArguments(output_dir=str(tmp_path), learning_rate=1e-3, per_device_train_batch_size=32,
                                max_steps=400, seed=0, report_to="none")
    torch.save(written, checkpoint / "training_args.bin")
    check_same_training(str(checkpoint), written)
    for changed, words in ((dict(learning_rate=0.05), "--learning-rate 0.05: the run that wrote"),
                           (dict(per_device_train_batch_size=64), "--batch-size 64: the run that wrote"),
                           (dict(seed=3), "--seed 3: the run that wrote")):
        with pytest.raises(CheckpointMismatchError, match=words):
            check_same_training(str(checkpoint), dataclasses.replace(written, **changed))
