"""hf-recsys tune: a recipe's search space searched on the validation split with optuna."""

import json

import pytest
import yaml

from hf_recsys.cli import run_command
from hf_recsys.recipes import load_recipe
from hf_recsys.training.search import SearchSpaceError, parse_space

pytestmark = pytest.mark.usefixtures("one_thread_per_module")
pytest.importorskip("optuna")

RECIPE = """\
description: tiny DIN for the search test
train:
  model: din
  synthetic_users: 40
  synthetic_items: 50
  max_history: 5
  batch_size: 64
  epochs: 1
  no_progress: true
expected: {metric: auc, mean: 0.7, std: 0.01, seeds: [0, 1, 2]}
search:
  trials: 3
  space:
    learning_rate: {low: 1.0e-4, high: 1.0e-1, log: true}
    model.dropout: [0.0, 0.3]
"""


@pytest.fixture()
def recipe(tmp_path):
    path = tmp_path / "din-tiny.yaml"
    path.write_text(RECIPE)
    return path


def test_tune_searches_the_space_on_validation_and_writes_the_best_recipe(tmp_path, recipe, monkeypatch, capsys):
    from hf_recsys.training.tasks import CTRTask

    read = []
    real_dataset = CTRTask.dataset
    monkeypatch.setattr(CTRTask, "dataset", lambda self, split: read.append(split) or real_dataset(self, split))
    out = tmp_path / "search"
    tuned = tmp_path / "tuned.yaml"
    fixed = ["--max-history", "4"]  # an option fixed for every trial
    result = run_command("tune", ["--recipe", str(recipe), "--output-dir", str(out), "--write-recipe", str(tuned),
                                  *fixed])
    assert "test" not in read  # trials are scored on validation only
    assert result["metric"] == "auc" and result["direction"] == "maximize"
    assert len(result["trials"]) == 3
    for trial in result["trials"]:
        assert 1e-4 <= trial["params"]["learning_rate"] <= 1e-1 and trial["params"]["model.dropout"] in (0.0, 0.3)
    complete = [t for t in result["trials"] if t["state"] == "COMPLETE"]
    assert result["best_value"] == max(t["value"] for t in complete)
    saved = json.loads((out / "search.json").read_text())
    assert saved["command"].startswith("hf-recsys tune --recipe") and saved["best_params"] == result["best_params"]
    best = load_recipe(str(tuned))
    assert best.train["learning_rate"] == result["best_params"]["learning_rate"]
    assert best.model_config["dropout"] == result["best_params"]["model.dropout"]
    assert best.search["result"]["validation"] == result["best_value"]
    # the tuned recipe trains as the trials did, and drops the result measured with the old values
    assert best.train["max_history"] == 4 and not best.expected and load_recipe(str(recipe)).expected
    # the same command again continues the stored study: three trials are already there
    again = run_command("tune", ["--recipe", str(recipe), "--output-dir", str(out), *fixed])
    assert len(again["trials"]) == 3
    # other fixed options would mix their trials with these: refused, naming the difference
    with pytest.raises(SystemExit):
        run_command("tune", ["--recipe", str(recipe), "--output-dir", str(out), "--max-history", "6"])
    assert "holds a search of other settings (max_history 4 there, 6 here)" in capsys.readouterr().err
    # a searched option cannot also be fixed
    with pytest.raises(SystemExit):
        run_command("tune", ["--recipe", str(recipe), "--output-dir", str(out), *fixed, "--learning-rate", "0.01"])
    assert "--learning-rate is searched" in capsys.readouterr().err
    # a search interrupted mid-trial leaves that trial running in the study: it is marked failed
    import optuna

    study = optuna.load_study(study_name="hf-recsys", storage=f"sqlite:///{out / 'search.db'}")
    study.ask()
    # one more trial asked for: only that one runs
    more = run_command("tune", ["--recipe", str(recipe), "--output-dir", str(out), "--trials", "4", *fixed])
    assert [t["state"] for t in more["trials"]].count("FAIL") == 1
    assert len([t for t in more["trials"] if t["state"] in ("COMPLETE", "PRUNED")]) == 4
    assert "RUNNING" not in [t["state"] for t in more["trials"]]


@pytest.mark.parametrize("space, words", [
    ({"hidden": [1, 2]}, "search.space.hidden: not searchable"),
    ({"learning_rate": {"low": 1, "high": 0.1}}, "low must be a number below high"),
    ({"learning_rate": {"low": 0, "high": 1, "log": True}}, "log range needs low > 0"),
    ({"model.dropout": []}, "empty list"),
    ({"epochs": {"from": 1}}, "give a list of choices"),
])
def test_a_bad_search_space_names_the_entry(space, words):
    with pytest.raises(SearchSpaceError, match=words):
        parse_space(space)


def test_tune_refuses_a_recipe_without_a_space_and_a_model_without_trainer_validation(tmp_path, capsys):
    plain = tmp_path / "plain.yaml"
    plain.write_text("train:\n  model: din\n")
    with pytest.raises(SystemExit) as exit_info:
        run_command("tune", ["--recipe", str(plain)])
    assert exit_info.value.code == 2 and "no search.space" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run_command("tune", ["--trials", "0", "--recipe", str(plain)])
    assert "--trials" in capsys.readouterr().err
    p5 = tmp_path / "p5.yaml"
    p5.write_text(yaml.safe_dump({"train": {"model": "p5"}, "search": {"space": {"learning_rate": [0.001]}}}))
    with pytest.raises(SystemExit) as exit_info:
        run_command("tune", ["--recipe", str(p5), "--output-dir", str(tmp_path / "p5")])
    assert exit_info.value.code == 2 and "--eval-valid-every" in capsys.readouterr().err


@pytest.mark.parametrize("target, message", [
    ("missing/tuned.yaml", "no folder"),
    (".", "is a folder; give the path of a .yaml file"),
])
def test_a_recipe_that_cannot_be_written_is_refused_before_the_search(tmp_path, recipe, monkeypatch, capsys,
                                                                       target, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        run_command("tune", ["--recipe", str(recipe), "--output-dir", "search", "--write-recipe", target])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"error: argument --write-recipe: {target}" in err and message in err
    assert not (tmp_path / "search").exists()  # no trial ran


@pytest.mark.parametrize("entry, words", [
    ("model.nonexistent: [1, 2]", "search.space.model.nonexistent: 1 cannot be trained: --set nonexistent"),
    ("model.dropout: [0.1, big]", "search.space.model.dropout: 'big' cannot be trained"),
    ("batch_size: {low: 0, high: 64}", "search.space.batch_size: 0 cannot be trained"),
    ("learning_rate: {low: -0.1, high: 0.01}", "search.space.learning_rate: -0.1 cannot be trained"),
])
def test_a_searched_value_the_run_would_refuse_is_refused_before_any_trial(entry, words, tmp_path, capsys):
    """An unknown model field, a batch size of 0 or a negative learning rate ran trials (or failed
    in one with a traceback) instead of being refused as `train` refuses them."""
    path = tmp_path / "bad.yaml"
    path.write_text(RECIPE.replace("    model.dropout: [0.0, 0.3]\n", f"    {entry}\n")
                    .replace("    learning_rate: {low: 1.0e-4, high: 1.0e-1, log: true}\n", "")
                    if entry.startswith("learning_rate") else RECIPE.replace("    model.dropout: [0.0, 0.3]\n", f"    {entry}\n"))
    with pytest.raises(SystemExit) as exit_info:
        run_command("tune", ["--recipe", str(path), "--output-dir", str(tmp_path / "search")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and words in err and "Traceback" not in err, err
    assert not (tmp_path / "search").exists()


def test_a_recipe_asking_for_no_trials_is_refused(tmp_path, capsys):
    path = tmp_path / "none.yaml"
    path.write_text(RECIPE.replace("  trials: 3\n", "  trials: 0\n"))
    with pytest.raises(SystemExit) as exit_info:
        run_command("tune", ["--recipe", str(path), "--output-dir", str(tmp_path / "search")])
    assert exit_info.value.code == 2 and "search.trials: a whole number >= 1, got 0" in capsys.readouterr().err


def test_a_trial_trains_the_model_train_trains_with_its_values(tmp_path):
    """A trial's validation score differed from `hf-recsys train` with the same values (other
    initial weights and batches), so the best trial's score did not carry over to its recipe."""
    path = tmp_path / "one.yaml"
    path.write_text(RECIPE.replace("  trials: 3\n", "  trials: 1\n")
                    .replace("{low: 1.0e-4, high: 1.0e-1, log: true}", "[0.01]").replace("[0.0, 0.3]", "[0.1]")
                    .replace("  epochs: 1\n", "  epochs: 2\n"))
    result = run_command("tune", ["--recipe", str(path), "--output-dir", str(tmp_path / "search")])
    metrics = run_command("train", ["--recipe", str(path), "--learning-rate", "0.01", "--set", "dropout=0.1",
                                    "--load-best-model-at-end", "--output-dir", str(tmp_path / "train")])
    assert result["best_value"] == pytest.approx(metrics["best_valid_value"], abs=1e-6)
