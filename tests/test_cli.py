"""The main job end to end: CLI -> trained, saved, reloadable folder with metrics and card."""

import json
import os
import subprocess
import sys

import pytest
import torch
from transformers import AutoModel

import hf_recsys  # noqa: F401
from hf_recsys.cli import build_train_parser, main, train_main
from hf_recsys.data.log import DataFormatError

TINY = ["--synthetic-users", "120", "--synthetic-items", "80", "--max-history", "10", "--no-progress",
        "--set", "num_heads=2", "--set", "ffn_dim=32", "--set", "mlp_hidden_sizes=[32]"]


@pytest.fixture(scope="module")
def trained_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("bst")
    train_main(["--output-dir", str(out), "--max-steps", "30", "--batch-size", "64", *TINY])
    return out


def test_cli_writes_a_hub_ready_folder(trained_folder):
    files = set(os.listdir(trained_folder))
    assert {"model.safetensors", "config.json", "recsys_processor.json", "README.md", "eval_results.json"} <= files
    assert not [f for f in files if f.startswith(".")]  # no staging leftovers
    metrics = json.loads((trained_folder / "eval_results.json").read_text())
    for key in ("eval_auc", "eval_gauc", "eval_logloss", "eval_popularity_auc", "eval_popularity_gauc"):
        assert 0.0 <= metrics[key] <= 1.0 or key.endswith("logloss")
    card = (trained_folder / "README.md").read_text()
    assert "model-index" in card and "library_name: transformers" in card and "recommendation" in card
    assert f"{metrics['eval_auc']:.4f}" in card  # the card reports this run's numbers
    # what an AUC depends on, and which side features the model read (BST: the profile and genres)
    assert "- sampled negatives per positive (training, held-out): 1, 1" in card
    assert "- side features read: user: gender, age, occupation, zip; item: genres" in card


def test_saved_folder_loads_and_recommends(trained_folder):
    model = AutoModel.from_pretrained(trained_folder)
    processor = hf_recsys.RecsysProcessor.from_pretrained(trained_folder)
    history = processor.item_vocab.tokens[:4]
    recs = model.recommend([history], k=5)[0]
    assert len(recs) == 5 and not set(recs) & set(history)


def test_recommend_command_prints_raw_ids(trained_folder, capsys):
    processor = hf_recsys.RecsysProcessor.from_pretrained(trained_folder)
    main(["recommend", "--model-dir", str(trained_folder), "--history", *processor.item_vocab.tokens[:3], "--k", "4"])
    printed = json.loads(capsys.readouterr().out)
    assert len(printed) == 4 and all(p["item_id"] in processor.item_vocab.tokens for p in printed)


def test_same_seed_scores_the_same_held_out_samples(tmp_path):
    from hf_recsys.data.pipeline import DataConfig, prepare_data
    from hf_recsys.data.synthetic import generate_synthetic_log

    log = generate_synthetic_log(num_users=50, num_items=60, seed=1)
    a = prepare_data(log, DataConfig(seed=4)).ctr_dataset("test")
    b = prepare_data(log, DataConfig(seed=4)).ctr_dataset("test")
    assert a["target"] == b["target"] and a["label"] == b["label"]


def test_help_explains_the_contract():
    text = build_train_parser().format_help()
    for flag in ("--model", "--dataset", "--data-path", "--output-dir", "--max-steps", "--epochs", "--seed",
                 "--bf16", "--fp16", "--push-to-hub", "--hub-model-id"):
        assert flag in text
    result = subprocess.run([sys.executable, "scripts/train.py", "--help"], capture_output=True, text=True,
                            cwd=os.path.dirname(os.path.dirname(__file__)))
    assert result.returncode == 0 and "--model" in result.stdout


def test_missing_data_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit):
        train_main(["--dataset", "ml-1m"])  # no --data-path: argparse error
    with pytest.raises(DataFormatError, match=str(tmp_path)):
        train_main(["--dataset", "ml-1m", "--data-path", str(tmp_path), "--output-dir", str(tmp_path / "o")])
    assert not (tmp_path / "o").exists()  # nothing half-written


def test_missing_or_wrong_model_folder_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "model.safetensors").write_bytes(b"")
    for source, expected in [(str(tmp_path / "nope"), "no such folder"), ("./nope", "no such folder"),
                             (str(tmp_path / "model.safetensors"), "is a file"),
                             (str(tmp_path / "empty"), "has no config.json")]:
        for argv in (["recommend", "--model-dir", source, "--history", "1"],
                     ["export", "--model-dir", source, "--output", str(tmp_path / "m.onnx")],
                     ["train", "--init-from", source, "--output-dir", str(tmp_path / "o"), *TINY]):
            with pytest.raises(SystemExit) as exit_info:
                main(argv)
            assert exit_info.value.code == 2
            message = capsys.readouterr().err
            assert source in message and expected in message and "Traceback" not in message
    assert not (tmp_path / "o").exists() and not (tmp_path / "m.onnx").exists()
    # scripts/train.py reports bad data the same way
    result = subprocess.run([sys.executable, "scripts/train.py", "--dataset", "ml-1m", "--data-path", str(tmp_path / "empty"),
                             "--output-dir", str(tmp_path / "o")], capture_output=True, text=True,
                            cwd=os.path.dirname(os.path.dirname(__file__)))
    assert result.returncode == 2 and str(tmp_path / "empty") in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()


def test_unknown_model_is_rejected():
    with pytest.raises(SystemExit):
        train_main(["--model", "nope"])


def test_ml1m_format_end_to_end(tmp_path):
    # the exact raw format: '::'-separated, latin-1
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    lines = []
    for u in range(1, 31):
        for j in range(8):
            lines.append(f"{u}::{(u * 3 + j * 7) % 40 + 1}::{1 + (u + j) % 5}::{978300000 + u * 1000 + j}")
    (folder / "ratings.dat").write_bytes("\n".join(lines).encode("latin-1"))
    (folder / "users.dat").write_bytes("\n".join(f"{u}::{'MF'[u % 2]}::25::{u % 20}::0{u}123" for u in range(1, 31)).encode("latin-1"))
    (folder / "movies.dat").write_bytes("\n".join(f"{m}::Misérables {m} (1995)::Drama|Comedy" for m in range(1, 41)).encode("latin-1"))
    out = tmp_path / "out"
    metrics = train_main(["--dataset", "ml-1m", "--data-path", str(folder), "--output-dir", str(out),
                          "--max-steps", "5", "--batch-size", "32", "--no-progress", "--max-history", "5",
                          "--set", "num_heads=2"])
    assert "eval_auc" in metrics
    assert json.loads((out / "recsys_processor.json").read_text())["dataset_name"] == "ml-1m"


def test_the_test_metrics_are_told_apart_from_the_validations(tmp_path, capsys):
    """Validation and test metrics were both logged as {'eval_loss': ...} lines, nothing between."""
    train_main(["--output-dir", str(tmp_path / "out"), "--max-steps", "2", "--eval-steps", "1", "--batch-size", "64",
                *TINY])
    lines = capsys.readouterr().out.splitlines()
    evals = [k for k, line in enumerate(lines) if line.startswith("{'eval_loss'")]
    marker = lines.index("[hf_recsys] training done; the held-out test split:")
    assert len(evals) == 3 and evals[1] < marker < evals[2]  # two validations, then the test


def test_next_item_cutoffs_are_the_runs_choice(tmp_path, capsys):
    """The cut-offs were fixed at 5, 10 and 20 (HSTU's paper and RecBole users report @50 too)."""
    flags = ["--model", "sasrec", "--output-dir", str(tmp_path / "k"), "--max-steps", "3", "--eval-steps", "3",
             "--synthetic-users", "60", "--synthetic-items", "50", "--no-progress", "--set", "hidden_size=8",
             "--set", "num_heads=2"]
    metrics = train_main([*flags, "--eval-cutoffs", "50", "10", "--load-best-model-at-end", "--metric-for-best-model",
                          "ndcg@50"])
    assert {"eval_hr@10", "eval_ndcg@50", "eval_mrr@50", "eval_popularity_ndcg@50"} <= set(metrics)
    assert not any("@5" == key[-2:] or "@20" in key for key in metrics)
    assert metrics["best_valid_metric"] == "ndcg@50"
    assert "| NDCG@50 (full ranking, leave-one-out) |" in (tmp_path / "k" / "README.md").read_text()
    with pytest.raises(SystemExit):  # the best-model metric must be one of them
        main(["train", *flags, "--eval-cutoffs", "20", "--load-best-model-at-end", "--output-dir", str(tmp_path / "k2")])
    assert "--metric-for-best-model ndcg@10: sasrec reports hr@20, ndcg@20, mrr@20, loss" in capsys.readouterr().err
