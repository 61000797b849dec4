"""The train command line is generated from the dataclasses: every field is an option with its
help text, every bound is checked before any work, and RunConfig keeps its flat Python form."""

import dataclasses
import json
import warnings

import pytest

from hf_recsys.cli import build_recommend_parser, build_train_parser, run_config_from_args
from hf_recsys.data.log import DataFormatError
from hf_recsys.data.pipeline import DataConfig
from hf_recsys.dataclass_parser import DataclassArgumentParser, check_fields, flag_of
from hf_recsys.training.arguments import COMPONENTS, RunConfig, infer_dataset


def _cli_fields(cls):
    """(field, type) of every command-line field of ``cls`` and the dataclasses it holds."""
    hints = __import__("typing").get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            yield from _cli_fields(hints[f.name])
        elif f.init and f.metadata.get("cli", True):
            yield f, hints[f.name]


def _squeezed(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("parser, cls", [(build_train_parser(), RunConfig),
                                         (build_recommend_parser(), None)])
def test_every_field_is_an_option_with_its_help_text(parser, cls):
    cls = cls or parser.dataclass_type
    text = _squeezed(parser.format_help())
    fields = list(_cli_fields(cls))
    assert len(fields) > (30 if cls is RunConfig else 5)
    for f, tp in fields:
        assert flag_of(f) in text, f.name
        assert _squeezed(f.metadata["help"]).replace("%%", "%") in text, f.name


def test_a_new_data_config_field_becomes_an_option_with_its_help():
    @dataclasses.dataclass
    class Grown(DataConfig):
        sep: str = dataclasses.field(default=",", metadata={"help": "the field separator of a delimited file"})
        min_rating: float = dataclasses.field(default=0.0, metadata={"help": "lowest rating kept", "ge": 0})

    @dataclasses.dataclass
    class Run:
        data: Grown = dataclasses.field(default_factory=Grown)

    parser = DataclassArgumentParser(Run, prog="t")
    assert "the field separator of a delimited file" in parser.format_help()
    run = parser.parse_dataclass(["--sep", ";", "--max-history", "9"])
    assert run.data.sep == ";" and run.data.max_history == 9
    with pytest.raises(SystemExit):
        parser.parse_dataclass(["--min-rating", "-1"])


def test_a_field_without_help_or_with_a_taken_name_is_refused_when_the_parser_is_built():
    @dataclasses.dataclass
    class NoHelp:
        x: int = 1

    with pytest.raises(TypeError, match="no metadata help"):
        DataclassArgumentParser(NoHelp)

    @dataclasses.dataclass
    class Inner:
        x: int = dataclasses.field(default=1, metadata={"help": "inner"})

    @dataclasses.dataclass
    class Other:
        x: int = dataclasses.field(default=2, metadata={"help": "other"})

    @dataclasses.dataclass
    class Outer:
        inner: Inner = dataclasses.field(default_factory=Inner)
        other: Other = dataclasses.field(default_factory=Other)

    with pytest.raises(TypeError, match="already taken"):
        DataclassArgumentParser(Outer)

    @dataclasses.dataclass
    class Holder:  # a held field named like the holder's own is set by the holder, not an option
        x: int = dataclasses.field(default=1, metadata={"help": "outer"})
        inner: Inner = dataclasses.field(default_factory=Inner)

    assert DataclassArgumentParser(Holder).format_help().count("--x") == 2  # usage line and help


BAD_VALUES = [
    ("--epochs", "0"), ("--epochs", "-1"), ("--epochs", "nan"), ("--epochs", "inf"), ("--max-steps", "0"),
    ("--max-steps", "-5"), ("--batch-size", "0"), ("--eval-batch-size", "-2"), ("--learning-rate", "-1"),
    ("--learning-rate", "0"), ("--weight-decay", "-0.1"), ("--warmup-steps", "-1"), ("--max-history", "0"),
    ("--user-core", "-1"), ("--item-core", "-3"), ("--train-negatives", "0"), ("--eval-negatives", "0"),
    ("--logging-steps", "0"), ("--save-steps", "-1"), ("--save-total-limit", "0"), ("--seed", "-1"),
    ("--synthetic-users", "0"), ("--synthetic-users", "9"), ("--synthetic-items", "-4"), ("--synthetic-items", "9"),
    ("--dataloader-workers", "-1"),
    ("--time-budget-minutes", "0"), ("--eval-users", "0"), ("--eval-valid-every", "-1"),
    ("--eval-valid-users", "0"), ("--batch-size", "2.5"), ("--epochs", "many"), ("--split", "random"),
    ("--model", "nope"), ("--unknown-items", "drop"),
]


@pytest.mark.parametrize("flag, value", BAD_VALUES)
def test_a_bad_value_is_a_usage_error_naming_the_flag(flag, value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_train_parser().parse_dataclass([flag, value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}" in err and "Traceback" not in err


@pytest.mark.parametrize("argv, words", [
    (["--bf16", "--fp16"], "--bf16 and --fp16"),
    (["--time-budget-minutes", "5", "--resume-from-checkpoint"], "--time-budget-minutes"),
    (["--time-budget-minutes", "5", "--warmup-steps", "10"], "--warmup-steps 10"),
    (["--push-to-hub"], "--hub-model-id"),
    (["--hub-model-id", "org/x"], "--hub-model-id only applies with --push-to-hub"),
    (["--hub-private"], "--hub-private only applies with --push-to-hub"),
    (["--hub-revision", "dev"], "--hub-revision only applies with --push-to-hub"),
    (["--save-total-limit", "2"], "--save-total-limit 2: this run saves no checkpoints"),
    (["--dataset", "ml-1m"], "--dataset ml-1m needs --data-path"),
    (["--unknown-items", "unknown"], "--init-from"),
    (["--init-revision", "v1"], "--init-from"),
])
def test_contradicting_options_are_a_usage_error(argv, words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_train_parser().parse_dataclass(argv)
    assert exit_info.value.code == 2 and words in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--k", "0"], ["--k", "-3"], ["--k", "x"]])
def test_recommend_k_must_be_at_least_one(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_recommend_parser().parse_dataclass(["--model-dir", "m", "--history", "1", *argv])
    assert exit_info.value.code == 2 and "argument --k" in capsys.readouterr().err


def test_defaults_come_from_the_dataclasses():
    parser = build_train_parser()
    run = run_config_from_args(parser.parse_args([]), parser)
    assert run == RunConfig()
    assert run.dataset == "synthetic" and run.output_dir == "outputs/bst-synthetic" and run.max_steps == -1


def test_flags_land_in_the_components():
    parser = build_train_parser()
    run = parser.parse_dataclass([
        "--model", "p5", "--max-history", "7", "--epochs", "3", "--seed", "4", "--set", "num_layers=2",
        "--set", "d_ff=64", "--eval-valid-every", "0.5", "--no-eval-restore-best", "--no-progress",
        "--no-eval-each-epoch", "--resume-from-checkpoint", "--push-to-hub", "--hub-model-id", "org/p5", "--hub-private"])
    assert run.data.max_history == 7 and run.training.epochs == 3.0 and run.seed == 4 and run.data.seed == 4
    assert run.model_overrides == {"num_layers": 2, "d_ff": 64}
    assert run.seq2seq_eval.eval_valid_every == 0.5 and run.seq2seq_eval.eval_restore_best is False
    assert run.disable_tqdm is True and run.training.eval_each_epoch is False
    assert run.resume_from_checkpoint == "latest" and run.hub_private is True
    assert run.output_dir == "outputs/p5-synthetic"


def test_flat_python_construction_and_replace_keep_working():
    run = RunConfig(model="p5", max_history=12, epochs=1.5, synthetic_users=30, eval_users=9, seed=3)
    assert (run.data.max_history, run.training.epochs, run.source.synthetic_users) == (12, 1.5, 30)
    assert run.seq2seq_eval.eval_users == 9 and run.data.seed == 3
    other = dataclasses.replace(run, max_history=4)
    assert other.max_history == 4 and run.max_history == 12  # components are not shared
    run.batch_size = 7
    assert run.training.batch_size == 7
    with pytest.raises(ValueError, match=r"batch_size \(--batch-size\) must be > 0"):
        RunConfig(batch_size=0)
    with pytest.raises(ValueError, match=r"eval_users \(--eval-users\) expects an integer, got 'many'"), \
            pytest.warns(FutureWarning):
        RunConfig(model="p5", model_overrides={"eval_users": "many"})


@pytest.mark.parametrize("argv, words", [
    (["--data-path", "LOG", "--synthetic-users", "50"], "--synthetic-users sizes the synthetic log; this run trains on"),
    (["--data-path", "LOG", "--synthetic-items", "50"], "--synthetic-items sizes the synthetic log"),
    (["--model", "din", "--eval-users", "5"], "--eval-users applies to the text-to-text model p5 only, not to din"),
    (["--model", "sasrec", "--no-eval-restore-best"], "--no-eval-restore-best applies to the text-to-text model p5"),
    (["--model", "sasrec", "--train-negatives", "50"],
     "--train-negatives samples negatives for the CTR models; sasrec is evaluated by full ranking over every item"),
    (["--model", "hstu", "--eval-negatives", "5"], "--eval-negatives samples negatives for the CTR models; hstu"),
    (["--columns", "user_id=foo"], "--columns reads a table file (--data-path); the synthetic log has none"),
    (["--sep", ";"], "--sep reads a table file (--data-path); the synthetic log has none"),
    (["--set", "numeric_feature_names=['age']", "--model", "deepfm"], "numeric_feature_names comes from the data, not --set"),
    (["--model", "din", "--eval-cutoffs", "50"], "--eval-cutoffs applies to the next-item models; din is evaluated by AUC"),
    (["--model", "sasrec", "--eval-cutoffs", "0", "10"], "--eval-cutoffs 0 10: give distinct whole numbers >= 1"),
])
def test_an_option_the_run_would_ignore_is_a_usage_error(argv, words, tmp_path, capsys):
    (tmp_path / "log.csv").write_text("user_id,item_id\nu,i\n")
    argv = [str(tmp_path / "log.csv") if a == "LOG" else a for a in argv]
    with pytest.raises(SystemExit) as exit_info:
        build_train_parser().parse_dataclass(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and words in err and len(err.strip().splitlines()) == 1
    run = build_train_parser().parse_dataclass([])
    assert (run.synthetic_users, run.synthetic_items) == (2000, 1000)


def test_every_component_field_reads_through_the_run():
    run = RunConfig()
    for owner, component in COMPONENTS.items():
        for f in dataclasses.fields(component):
            if f.init and f.metadata.get("cli", True):
                assert getattr(run, f.name) == getattr(getattr(run, owner), f.name)


def test_old_set_keys_of_the_p5_evaluation_still_work_with_a_warning():
    parser = build_train_parser()
    with pytest.warns(FutureWarning, match="--eval-users 50.*--no-eval-unseen-template"):
        run = parser.parse_dataclass(["--model", "p5", "--set", "eval_users=50", "--set", "eval_unseen_template=False",
                                      "--set", "d_model=32"])
    assert run.seq2seq_eval.eval_users == 50 and run.seq2seq_eval.eval_unseen_template is False
    assert run.model_overrides == {"d_model": 32}
    with pytest.raises(SystemExit), pytest.warns(FutureWarning):
        parser.parse_dataclass(["--set", "eval_valid_every=-1"])


def test_run_config_round_trips_through_json_and_reads_old_flat_records():
    run = RunConfig(model="p5", max_history=8, implicit_threshold=4.0, push_to_hub=True, hub_model_id="org/p5",
                    hub_token="secret", eval_users=3)
    saved = json.loads(json.dumps(run.to_dict()))
    assert saved["hub_token"] is None and "secret" not in json.dumps(saved)
    again = RunConfig.from_dict(saved)
    assert again == dataclasses.replace(run, hub_token=None)
    old = {"model": "p5", "dataset": "beauty", "data_path": "x/user_sequence.txt", "output_dir": "o", "epochs": 3.0,
           "max_history": 20, "seed": 2, "model_overrides": {"d_model": 64}, "disable_tqdm": True, "gone": 1,
           "synthetic_users": 2000, "synthetic_items": 1000,  # older records kept the synthetic defaults,
           "hub_model_id": "org/x", "save_total_limit": 2}  # and options that a run without push or checkpoints ignored
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = RunConfig.from_dict(old)
    assert (run.dataset, run.max_history, run.epochs, run.seed, run.data.seed) == ("beauty", 20, 3.0, 2, 2)


def test_check_fields_names_a_bad_value_of_a_component():
    run = RunConfig()
    run.data.max_history = 0
    with pytest.raises(ValueError, match=r"max_history \(--max-history\) must be > 0, got 0"):
        check_fields(run)


# ---- --data-path without --dataset


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_the_dataset_is_inferred_from_the_data_path(tmp_path):
    import gzip

    table = _write(tmp_path / "mylog.csv", "user_id,item_id\n1,2\n")
    assert infer_dataset(table) == "csv"
    for name, reader in (("log.tsv", "tsv"), ("log.jsonl", "jsonl"), ("log.csv.gz", "csv"), ("log.parquet", "parquet")):
        _write(tmp_path / name, "user_id\titem_id\n")
        assert infer_dataset(tmp_path / name) == reader, name
    amazon = tmp_path / "Beauty_5.json.gz"
    with gzip.open(amazon, "wt") as f:
        f.write(json.dumps({"reviewerID": "A1", "asin": "B2", "overall": 5.0, "unixReviewTime": 1}) + "\n")
    assert infer_dataset(amazon) == "amazon"
    assert infer_dataset(_write(tmp_path / "ml" / "ratings.dat", "1::2::3::4\n").parent) == "ml-1m"
    assert infer_dataset(tmp_path / "ml" / "ratings.dat") == "ml-1m"
    assert infer_dataset(_write(tmp_path / "ml-100k" / "u.data", "1\t2\t3\t4\n").parent) == "ml-100k"
    movielens_csv = _write(tmp_path / "ml-25m" / "ratings.csv", "userId,movieId,rating,timestamp\n")
    assert infer_dataset(movielens_csv.parent) == "ml-25m"
    assert infer_dataset(_write(tmp_path / "mine" / "ratings.csv", "uid,iid\n1,2\n")) == "csv"  # not MovieLens
    assert infer_dataset(_write(tmp_path / "beauty" / "user_sequence.txt", "u1 i1 i2\n").parent) == "beauty"


@pytest.mark.parametrize("name, words", [
    ("missing.csv", "no such file or folder"),
    ("log.txt", "sequences or tsv"),
    ("log.xlsx", "cannot tell the format"),
])
def test_a_path_that_does_not_say_its_format_is_an_error_naming_the_choices(tmp_path, name, words):
    if name != "missing.csv":
        _write(tmp_path / name, "1 2 3\n")
    with pytest.raises(DataFormatError, match=words):
        infer_dataset(tmp_path / name)


def test_a_folder_with_two_datasets_or_none_is_an_error_naming_the_choices(tmp_path):
    _write(tmp_path / "both" / "ratings.dat", "1::2::3::4\n")
    _write(tmp_path / "both" / "user_sequence.txt", "u1 i1\n")
    with pytest.raises(DataFormatError, match=r"ml-1m or beauty"):
        infer_dataset(tmp_path / "both")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match="ratings.dat"):
        infer_dataset(tmp_path / "empty")


def test_data_path_with_the_synthetic_dataset_is_refused(tmp_path, capsys):
    table = _write(tmp_path / "mylog.csv", "user_id,item_id\n1,2\n")
    with pytest.raises(SystemExit):
        build_train_parser().parse_dataclass(["--dataset", "synthetic", "--data-path", str(table)])
    assert "generates its own log" in capsys.readouterr().err
    run = build_train_parser().parse_dataclass(["--data-path", str(table)])
    assert run.dataset == "csv" and run.output_dir == "outputs/bst-csv"
    with pytest.raises(SystemExit):
        build_train_parser().parse_dataclass(["--data-path", str(tmp_path / "nope.csv")])
    assert f"--data-path {tmp_path / 'nope.csv'}: no such file" in capsys.readouterr().err


def test_quiet_filters_noise_and_restores_the_progress_bars():
    import datasets
    import huggingface_hub.utils as hub_utils
    from transformers.utils import logging as transformers_logging

    from hf_recsys.cli import quiet

    before = (datasets.is_progress_bar_enabled(), transformers_logging.is_progress_bar_enabled(),
              hub_utils.are_progress_bars_disabled())
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with quiet(True):
            assert not datasets.is_progress_bar_enabled() and not transformers_logging.is_progress_bar_enabled()
            assert hub_utils.are_progress_bars_disabled()
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, then device pinned "
                          "memory won't be used.", UserWarning)
            warnings.warn("something a user should read", UserWarning)
    assert [str(w.message) for w in seen] == ["something a user should read"]
    after = (datasets.is_progress_bar_enabled(), transformers_logging.is_progress_bar_enabled(),
             hub_utils.are_progress_bars_disabled())
    assert after == before


def test_scripts_train_and_hf_recsys_train_print_the_same_generated_help():
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root, "COLUMNS": "100"}
    script = subprocess.run([sys.executable, "scripts/train.py", "--help"], capture_output=True, text=True, cwd=root,
                            env=env)
    command = subprocess.run([sys.executable, "-m", "hf_recsys.cli", "train", "--help"], capture_output=True,
                             text=True, cwd=root, env=env)
    assert script.returncode == command.returncode == 0
    assert script.stdout == command.stdout
    assert all(flag_of(f) in _squeezed(script.stdout) for f, _ in _cli_fields(RunConfig))


def test_the_summary_line_counts_the_filtered_data_and_the_users_in_training_only():
    import pandas as pd

    from hf_recsys.data.log import InteractionLog
    from hf_recsys.data.pipeline import prepare_data

    rows = [(u, f"i{(u + j) % 9}", j, 5.0 if j % 2 else 1.0) for u in range(10) for j in range(8)]
    rows += [(100, "i1", 0, 5.0), (100, "i2", 1, 5.0)]  # two positives: too short to hold out
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "rating"]).astype(
        {"user_id": str, "item_id": str})
    data = prepare_data(InteractionLog(frame, name="mine"), DataConfig(implicit_threshold=4.0))
    described = data.describe()
    assert described["interactions"] == 10 * 4 + 2 and described["users"] == 11
    assert described["train_only_users"] == data.train_only_users == 1
    assert data.summary() == ("mine: 42 interactions, 11 users, 9 items (train 22 / valid 10 / test 10; "
                              "1 users in training only)")


@pytest.mark.parametrize("model, entry, words", [
    ("din", "nonexistent=3", "din has no config field 'nonexistent'"),
    ("din", "num_heads=2", "din has no config field 'num_heads'"),
    ("din", "dropout=2", "--set dropout=2: dropout"),
    ("bst", "num_heads=0", "--set num_heads=0"),
    ("bst", "num_heads=3", "not divisible by 3 heads"),
    ("sasrec", "num_items=5", "num_items comes from the data"),
    ("hstu", "max_history=10", "--max-history"),
    ("din", "item_embedding_dim=abc", "--set item_embedding_dim='abc': item_embedding_dim is an integer, got 'abc'"),
    ("din", "item_embedding_dim=-4", "item_embedding_dim must be >= 0, got -4"),
    ("din", "dropout=nan", "dropout is a number, got 'nan'"),
    ("din", "mlp_hidden_sizes=64", "mlp_hidden_sizes is a list"),
    ("din", "mlp_hidden_sizes=[64, -1]", "mlp_hidden_sizes entry 1 must be >= 0, got -1"),
    ("din", "attention_activation=3", "attention_activation is a string, got 3"),
    ("sasrec", "num_negatives=None", None),
])
def test_a_bad_set_entry_is_a_usage_error_naming_it_before_any_work(model, entry, words, capsys):
    if words is None:  # a value of the field's type is accepted
        build_train_parser().parse_dataclass(["--model", model, "--set", entry])
        return
    with pytest.raises(SystemExit) as exit_info:
        build_train_parser().parse_dataclass(["--model", model, "--set", entry])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_every_models_own_defaults_pass_the_set_check():
    import dataclasses

    from hf_recsys.models import MODEL_REGISTRY
    from hf_recsys.training.arguments import check_model_overrides

    for name, spec in MODEL_REGISTRY.items():
        fields = {f.name: f for f in dataclasses.fields(spec.config_class)}
        key = "dropout" if "dropout" in fields else "dropout_rate" if "dropout_rate" in fields else "initializer_range"
        check_model_overrides(name, {key: fields[key].default})


@pytest.mark.parametrize("argv", [
    [],
    ["--model", "sasrec", "--set", "loss_type=ce", "--set", "hidden_size=8", "--set", "hidden_act=gelu",
     "--learning-rate", "3e-4", "--no-eval-each-epoch", "--seed", "3", "--epochs", "2.5", "--max-history", "7"],
    ["--model", "din", "--dataset", "ml-1m", "--data-path", "DATA", "--columns", "user_id=Customer ID,item_id=sku",
     "--implicit-threshold", "4", "--split", "temporal", "--use-cpu", "--max-steps", "9"],
])
def test_the_command_line_of_a_run_parses_back_to_the_same_run(argv, tmp_path):
    (tmp_path / "ratings.dat").write_text("1::2::5::978300760\n")
    parser = build_train_parser()
    argv = [str(tmp_path) if a == "DATA" else a for a in argv]
    run = parser.parse_dataclass(argv)
    tokens = parser.command_line(run)
    assert parser.parse_dataclass(tokens) == run
    assert set(tokens) >= {a for a in argv if a.startswith("--") and a not in ("--dataset",)}


def test_unknown_items_is_refused_without_init_from_even_at_its_default_value_and_defaults_to_grow_with_it(capsys):
    parser = build_train_parser()
    for value in ("grow", "unknown"):
        with pytest.raises(SystemExit):
            parser.parse_dataclass(["--unknown-items", value])
        assert "--unknown-items only applies with --init-from" in capsys.readouterr().err
    assert parser.parse_dataclass([]).unknown_items is None
    assert parser.parse_dataclass(["--init-from", "org/model", "--dataset", "synthetic"]).unknown_items == "grow"
    # without a log, a fine-tuning run used to train on the embedded synthetic one without a word
    with pytest.raises(SystemExit):
        parser.parse_dataclass(["--init-from", "org/model"])
    assert "--init-from fine-tunes on a new log: give it with --data-path" in capsys.readouterr().err


@pytest.mark.parametrize("argv, status, stream, words", [
    (["trian"], 2, "err", "unknown command 'trian'; did you mean train? the commands are train, recommend"),
    (["--version"], 0, "out", "hf-recsys 0.1.0 (transformers "),
    ([], 0, "out", "usage:\n    hf-recsys train"),
    (["train", "--lerning-rate", "1"], 2, "err", "unrecognized arguments: --lerning-rate 1; did you mean --learning-rate?"),
    (["train", "--lerning-rate=1", "--epoks", "2"], 2, "err",
     "did you mean --learning-rate for --lerning-rate, --epochs for --epoks?"),
    (["train", "--zzz"], 2, "err", "unrecognized arguments: --zzz (see"),
    (["--verison"], 2, "err", "unknown command '--verison'; did you mean --version?"),
    (["export", "--modle-dir", "x", "--output", "y.onnx"], 2, "err",
     "the following arguments are required: --model-dir; --modle-dir is not an option; did you mean --model-dir?"),
])
def test_a_mistyped_command_or_option_is_named_with_the_closest_one(argv, status, stream, words, capsys):
    """`hf-recsys trian` printed the module docstring; `--version` was an unknown command."""
    from hf_recsys.cli import main

    with pytest.raises(SystemExit) as exit:
        main(argv)
    assert exit.value.code == status
    assert words in getattr(capsys.readouterr(), stream)


@pytest.mark.parametrize("argv, words", [
    (["export", "--model-dir", "M", "--output", "m.onnx", "--include-seen"],
     "argument --include-seen: applies to the top K items of --top-k"),
    (["zoo", "build", "--recipes", "sasrec-beauty", "--hub-org", "me"],
     "argument --hub-org: names where --push-to-hub uploads; without --push-to-hub nothing is pushed"),
    (["tune", "--trials", "2"], "the following arguments are required: --recipe"),
])
def test_options_without_effect_elsewhere_are_usage_errors(argv, words, capsys):
    from hf_recsys.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and words in err and len(err.strip().splitlines()) == 1, err
