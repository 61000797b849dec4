"""The traps of the command line (issue 20), each reproduced through ``hf-recsys`` itself.

Only the command-line entry points are used, so each test states behaviour a user sees."""

import json
import os
import re
import subprocess
import sys

import pytest

from hf_recsys.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--max-history", "6", "--no-progress", "--batch-size", "32", "--logging-steps", "1000",
        "--set", "num_heads=2", "--set", "ffn_dim=16", "--set", "mlp_hidden_sizes=[16]"]


def train(*argv):
    return main(["train", *TINY, *argv])


def exit_code(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code, capsys.readouterr().err


def write_log(path, rows=None):
    """A small CSV log whose IDs the synthetic log never has."""
    rows = rows or [(f"user-{u}", f"film-{(u * 7 + j * 3) % 23}", 1_600_000_000 + u * 100 + j, 1 + (u + j) % 5)
                    for u in range(30) for j in range(6)]
    path.write_text("user_id,item_id,timestamp,rating\n" + "".join(f"{u},{i},{t},{r}\n" for u, i, t, r in rows))
    return path


# ---- 1. --data-path without --dataset trains on the file


def test_data_path_without_dataset_trains_on_the_file(tmp_path):
    log = write_log(tmp_path / "mylog.csv")
    out = tmp_path / "out"
    main(["train", *TINY, "--data-path", str(log), "--output-dir", str(out), "--max-steps", "2"])
    processor = json.loads((out / "recsys_processor.json").read_text())
    items = set(processor["items"])
    assert items and all(i.startswith("film-") for i in items)
    assert processor["dataset_name"] == "mylog"


# ---- 2. a folder that holds another model


def fake_old_p5_model(folder):
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "p5_item_index.json",
                 "generation_config.json", "modeling_p5.py", "configuration_p5.py", "README.md", "eval_results.json"):
        (folder / name).write_text("{}")
    (folder / "checkpoints" / "checkpoint-9").mkdir(parents=True)
    (folder / "notes.txt").write_text("my notes")
    (folder / "train.py").write_text("# my script")


def test_a_folder_holding_a_model_is_refused_without_overwrite(tmp_path, capsys):
    out = tmp_path / "out"
    fake_old_p5_model(out)
    before = sorted(os.listdir(out))
    code, err = exit_code(["train", *TINY, "--output-dir", str(out), "--max-steps", "1"], capsys)
    assert code == 2 and "--overwrite-output-dir" in err and "config.json" in err and "Traceback" not in err
    assert sorted(os.listdir(out)) == before


def test_overwrite_leaves_only_the_new_model_and_the_users_files(tmp_path):
    out = tmp_path / "out"
    fake_old_p5_model(out)
    train("--output-dir", str(out), "--max-steps", "2", "--overwrite-output-dir")
    files = set(os.listdir(out))
    assert {"notes.txt", "train.py"} <= files  # the user's files are kept
    for stale in ("tokenizer.json", "tokenizer_config.json", "p5_item_index.json", "generation_config.json",
                  "modeling_p5.py", "configuration_p5.py", "checkpoints"):
        assert stale not in files, stale
    assert json.loads((out / "config.json").read_text())["model_type"] == "bst"
    assert (out / "notes.txt").read_text() == "my notes"
    assert not [f for f in files if f.startswith(".")]


def test_a_folder_with_only_unrelated_files_is_trained_into(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    train("--output-dir", str(out), "--max-steps", "1")
    assert (out / "notes.txt").read_text() == "keep me" and (out / "model.safetensors").exists()


# ---- 3. and 4. numbers that cannot work


@pytest.mark.parametrize("argv", [["--epochs", "0"], ["--epochs", "-1"], ["--max-steps", "0"], ["--max-steps", "-5"],
                                  ["--batch-size", "0"], ["--learning-rate", "-1"]])
def test_a_bad_number_is_a_usage_error_and_writes_nothing(argv, tmp_path, capsys):
    out = tmp_path / "out"
    code, err = exit_code(["train", *TINY, "--output-dir", str(out), *argv], capsys)
    assert code == 2 and f"argument {argv[0]}" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("argv, message", [
    (["--columns", "user_id=uid,itemid=sku"], "argument --columns: unknown key 'itemid'"),
    (["--sep", "ab"], "argument --sep: expected one character"),
    (["--encoding", "no-such-codec"], "argument --encoding: unknown text encoding 'no-such-codec'"),
])
def test_a_bad_data_option_names_its_flag_and_writes_nothing(argv, message, tmp_path, capsys):
    log = tmp_path / "log.csv"
    log.write_text("uid,sku\nu1,a\nu1,b\nu2,a\n")
    out = tmp_path / "out"
    code, err = exit_code(["train", "--data-path", str(log), "--output-dir", str(out), *argv], capsys)
    assert code == 2 and message in err and "Traceback" not in err
    assert not out.exists()


def test_bad_numbers_exit_2_with_one_line_and_no_traceback_from_the_shell(tmp_path):
    for argv in (["hf_recsys.cli", "train", "--batch-size", "0"], ["hf_recsys.cli", "recommend", "--model-dir",
                                                                   str(tmp_path), "--history", "1", "--k", "-3"]):
        result = subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True, cwd=ROOT,
                                env={**os.environ, "PYTHONPATH": ROOT})
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines()[-1].startswith(f"hf-recsys {argv[1]}: error: argument")


# ---- 5. the summary counts what trains, as the card does


def test_the_printed_summary_matches_the_card_with_an_implicit_threshold(tmp_path, capsys):
    out = tmp_path / "out"
    train("--output-dir", str(out), "--max-steps", "1", "--synthetic-users", "60", "--synthetic-items", "40",
          "--implicit-threshold", "4")
    printed = capsys.readouterr().out
    summary = re.search(r"\[hf_recsys\] synthetic: ([\d,]+) interactions, ([\d,]+) users, ([\d,]+) items", printed)
    assert summary, printed
    card = (out / "README.md").read_text()
    from_card = [int(re.search(rf"^- {key}: (\d+)$", card, re.M).group(1))
                 for key in ("interactions", "users", "items")]
    assert [int(n.replace(",", "")) for n in summary.groups()] == from_card
    # the filter removed something: the numbers are those of the filtered log
    all_rows = json.loads((out / "run_config.json").read_text())
    assert all_rows["data"]["implicit_threshold"] == 4.0
    assert from_card[0] < 60 * 10


# ---- Ctrl-C


def test_ctrl_c_prints_one_line_and_exits_130(tmp_path):
    code = ("import hf_recsys.training.run as run\n"
            "def interrupted(config):\n    raise KeyboardInterrupt\n"
            "run.run_training = interrupted\n"
            "from hf_recsys.cli import main\n"
            f"main(['train', '--output-dir', {str(tmp_path / 'out')!r}])\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": ROOT})
    assert result.returncode == 130
    assert result.stderr.strip() == "hf-recsys train: interrupted"
    assert not (tmp_path / "out").exists()


# ---- --no-progress


def test_no_progress_silences_every_bar(tmp_path, capfd):
    train("--output-dir", str(tmp_path / "out"), "--max-steps", "2")
    captured = capfd.readouterr()
    for text in (captured.err, captured.out):
        assert "it/s]" not in text and "Writing model shards" not in text and "%|" not in text
    # export loads the model with its loading bar, unless --no-progress
    main(["export", "--model-dir", str(tmp_path / "out"), "--example"])
    assert "Loading weights" in capfd.readouterr().err
    main(["export", "--model-dir", str(tmp_path / "out"), "--example", "--no-progress"])
    captured = capfd.readouterr()
    assert "Loading weights" not in captured.err and "%|" not in captured.err and "example_inputs" in captured.out


@pytest.mark.parametrize("argv, words", [
    (["--fp16", "--use-cpu"], "--fp16 needs a CUDA GPU"),
    (["--resume-from-checkpoint"], "no checkpoint-N folder"),
    (["--resume-from-checkpoint", "nowhere"], "no folder nowhere"),
    # both were tracebacks after the data was prepared, leaving an empty output folder
    (["--model", "gru4rec", "--gradient-checkpointing"], "--gradient-checkpointing: gru4rec has no layers it "
                                                          "recomputes in the backward pass (models that do: bst, sasrec"),
    (["--time-budget-minutes", "5", "WORLD_SIZE=2"], "--time-budget-minutes works in a single process only"),
    (["--output-dir", ""], "--output-dir is empty"),
])
def test_device_and_checkpoint_checks_are_usage_errors_before_any_work(argv, words, tmp_path, capsys, monkeypatch):
    if "WORLD_SIZE=2" in argv:  # as torchrun --nproc_per_node 2 sets it
        monkeypatch.setenv("WORLD_SIZE", "2")
        argv = [a for a in argv if a != "WORLD_SIZE=2"]
    code, err = exit_code(["train", "--output-dir", str(tmp_path / "out"), *argv], capsys)
    assert code == 2 and words in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_an_output_dir_that_is_a_file_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "model").write_text("not a folder")
    code, err = exit_code(["train", "--output-dir", str(tmp_path / "model")], capsys)
    assert code == 2 and "is a file" in err


def test_export_top_k_below_one_is_a_usage_error(tmp_path, capsys):
    code, err = exit_code(["export", "--model-dir", str(tmp_path), "--output", str(tmp_path / "m.onnx"),
                           "--top-k", "0"], capsys)
    assert code == 2 and "argument --top-k" in err and not (tmp_path / "m.onnx").exists()


def test_a_binary_file_given_as_a_log_is_one_line_naming_it(tmp_path):
    (tmp_path / "log.csv").write_bytes(bytes(range(256)) * 8)
    result = subprocess.run([sys.executable, "-m", "hf_recsys.cli", "train", "--data-path", str(tmp_path / "log.csv"),
                             "--output-dir", str(tmp_path / "out")], capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": ROOT})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and str(tmp_path / "log.csv") in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_log_with_no_item_left_to_sample_as_a_negative_is_a_one_line_error(tmp_path, capsys):
    log = tmp_path / "log.csv"
    log.write_text("uid,sku\n" + "".join(f"u{u},{i}\n" for u in range(3) for i in "abcd"))
    out = tmp_path / "out"
    code, err = exit_code(["train", "--model", "bst", "--dataset", "csv", "--data-path", str(log),
                           "--columns", "user_id=uid,item_id=sku", "--output-dir", str(out)], capsys)
    assert code == 2 and "error: could not sample negatives" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("model", ["din", "sasrec"])
@pytest.mark.parametrize("per_user, words", [(1, "no training samples"), (2, "no test interactions")])
def test_a_log_too_short_to_train_or_test_on_is_a_one_line_error_before_any_folder(model, per_user, words, tmp_path,
                                                                                    capsys):
    log = write_log(tmp_path / "short.csv", [(f"user-{u}", f"film-{(u + j) % 7}", 1_600_000_000 + u * 10 + j, 4)
                                             for u in range(40) for j in range(per_user)])
    out = tmp_path / "out"
    code, err = exit_code(["train", "--model", model, "--data-path", str(log), "--output-dir", str(out),
                           "--max-steps", "2", "--no-progress"], capsys)
    assert code == 2 and f"error: {log}: {words}" in err and "Traceback" not in err
    assert not out.exists()


def test_the_summary_counts_the_users_and_items_of_the_log_not_of_the_grown_vocabularies(tmp_path, capsys):
    first = tmp_path / "first"
    tiny = ["--max-history", "6", "--no-progress", "--batch-size", "32", "--logging-steps", "1000", "--max-steps", "2"]
    main(["train", *tiny, "--model", "sasrec", "--set", "hidden_size=8", "--set", "num_heads=2",
          "--data-path", str(write_log(tmp_path / "a.csv")), "--output-dir", str(first)])
    capsys.readouterr()
    new_rows = [(f"new-{u}", f"clip-{(u + j) % 5}", 1_700_000_000 + u * 10 + j, 4) for u in range(8) for j in range(4)]
    main(["train", *tiny, "--init-from", str(first), "--data-path", str(write_log(tmp_path / "b.csv", new_rows)),
          "--output-dir", str(tmp_path / "second")])
    assert "b: 32 interactions, 8 users, 5 items" in capsys.readouterr().out


def test_what_the_package_logs_as_a_warning_reads_like_the_commands_other_warnings(tmp_path, capsys):
    log = tmp_path / "semi.csv"
    log.write_text("user_id;item_id;stars\n" + "".join(f"u{u};i{(u + j) % 9};3\n" for u in range(30) for j in range(5)))
    main(["train", "--model", "sasrec", "--data-path", str(log), "--max-steps", "1", "--output-dir", str(tmp_path / "o"),
          "--no-progress", "--set", "hidden_size=8", "--set", "num_heads=2"])
    lines = [line for line in capsys.readouterr().err.splitlines() if str(log) in line]
    assert len(lines) == 2 and all(line.startswith(f"hf-recsys train: warning: {log}: ") for line in lines)
    assert "semicolon" in lines[0] and "'stars' are not used" in lines[1]


@pytest.mark.parametrize("argv, words", [
    (["--output", "model.txt"], "argument --output: model.txt: name the file .onnx (ONNX) or .pt2 (torch.export)"),
    (["--output", "model.pt2", "--format", "onnx"], "argument --format: onnx, but --output model.pt2 names a torch file"),
    (["--output", "model.onnx", "--format", "torch"], "argument --format: torch, but --output model.onnx names an onnx file"),
    (["--output", "model.pt2", "--verify"], "argument --verify: checks an ONNX file in onnxruntime"),
])
def test_an_export_whose_file_and_format_disagree_is_a_usage_error_before_loading(argv, words, tmp_path, capsys):
    code, err = exit_code(["export", "--model-dir", str(tmp_path / "not-read"), *argv], capsys)
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1
