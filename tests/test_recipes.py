"""Recipes (`hf-recsys train --recipe`) and `hf-recsys zoo build` against a Hub on loopback."""

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from hf_recsys.cli import build_train_parser, run_command, run_config_from_args
from hf_recsys.recipes import RecipeError, available_recipes, expand_recipe_argv, load_recipe
from hf_recsys.testing.fake_hub import FakeHub
from hf_recsys.zoo import plan_seed_runs, plan_zoo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = {"synthetic_users": 60, "synthetic_items": 80, "max_history": 6, "batch_size": 32, "max_steps": 4,
        "no_progress": True}


def write_recipe(directory, name, train, model_config=None):
    import yaml

    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"description": f"tiny {name}", "train": train,
                                    "model_config": model_config or {}}))
    return path


def test_every_shipped_recipe_is_accepted_by_the_train_parser():
    names = available_recipes()
    assert {"bst-ml1m", "din-ml1m", "dien-ml1m", "deepfm-ml1m", "sasrec-ml1m", "sasrec-beauty", "p5-beauty"} <= set(names)
    parser = build_train_parser()
    for name in names:
        recipe = load_recipe(name)
        recipe.check_flags(parser)
        run = run_config_from_args(parser.parse_args(recipe.argv()), parser)
        assert run.model == recipe.train["model"], name
        assert run.dataset == recipe.train["dataset"], name
        assert run.epochs == recipe.train["epochs"], name
        assert run.model_overrides == recipe.model_config, name


def test_command_line_flags_override_the_recipe(tmp_path):
    path = write_recipe(tmp_path, "r", {"model": "din", "epochs": 3, "learning_rate": 0.01},
                        {"attention_hidden_sizes": [8, 4], "dropout": 0.1})
    parser = build_train_parser()
    argv = expand_recipe_argv(["--recipe", str(path), "--epochs", "1", "--set", "dropout=0.3"], parser)
    run = run_config_from_args(parser.parse_args(argv), parser)
    assert run.model == "din" and run.epochs == 1.0 and run.learning_rate == 0.01
    assert run.model_overrides == {"attention_hidden_sizes": [8, 4], "dropout": 0.3}
    assert expand_recipe_argv(["--epochs", "1"], parser) == ["--epochs", "1"]


@pytest.mark.parametrize("content, message", [
    ({"train": {"modle": "bst"}}, "train.modle: not a flag"),
    ({"train": {"model": "bst"}, "extras": 1}, "unknown section 'extras'"),
    ({"train": ["model"]}, "train must be a mapping"),
    # a bad value was a usage error naming only the flag, which the user may never have typed
    ({"train": {"model": "bst", "max_history": "ten"}}, "train.max_history: expects an integer, got 'ten'"),
    ({"train": {"model": "bst", "epochs": -1}}, "train.epochs: must be > 0, got -1"),
    ({"train": {"model": "bsx"}}, "train.model: 'bsx' is not one of"),
    # a list for a one-value flag, and a word for a switch, were "unrecognized arguments"
    ({"train": {"model": "bst", "max_steps": [5, 6]}}, "train.max_steps: [5, 6]: one value, not a list"),
    ({"train": {"model": "bst", "eval_each_epoch": "no"}}, "train.eval_each_epoch: 'no': a switch: true or false"),
    ({"train": {"model": "bst", "bf16": 1}}, "train.bf16: 1: a switch: true or false"),
    ({"train": {"model": "bst", "max_steps": True}}, "train.max_steps: True: a value, not true / false"),
    # a bad model field names the recipe
    ({"train": {"model": "bst"}, "model_config": {"num_heads": "many"}}, "comes from recipe /"),
])
def test_a_bad_recipe_is_one_line_naming_the_file_and_key(tmp_path, capsys, content, message):
    import yaml

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(content))
    with pytest.raises(SystemExit) as exit_info:
        run_command("train", ["--recipe", str(path), "--output-dir", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err and message in err, err
    assert not (tmp_path / "out").exists()
    if "--set" in err:
        assert f"--set comes from recipe {path}" in err


def test_an_unknown_recipe_name_lists_the_recipes():
    with pytest.raises(RecipeError, match="bst-ml1m"):
        load_recipe("no-such-recipe")
    with pytest.raises(RecipeError, match="bst-ml1m.yaml does not exist; the recipe named bst-ml1m is --recipe bst-ml1m"):
        load_recipe("bst-ml1m.yaml")


@pytest.mark.parametrize("command", ["train", "tune"])
@pytest.mark.parametrize("recipe, message", [("no-such-recipe", "no recipe named 'no-such-recipe' (recipes: "),
                                             ("gone.yaml", "recipe file gone.yaml does not exist")])
def test_a_recipe_that_is_not_there_is_a_usage_error_naming_the_flag(command, recipe, message, tmp_path, monkeypatch,
                                                                     capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        run_command(command, ["--recipe", recipe, "--output-dir", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"hf-recsys {command}: error: argument --recipe: {message}") and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_plan_names_folders_and_repos_after_the_recipes(tmp_path):
    write_recipe(tmp_path, "bst-tiny", {"model": "bst", "dataset": "ml-1m", "data_path": "ml-1m", "max_steps": 100,
                                        "seed": 1}, model_config={"num_heads": 2})
    [entry] = plan_zoo(None, str(tmp_path / "zoo"), data_root="/data", hub_org="org", push_to_hub=True,
                       extra_argv=["--max-steps", "3", "--set", "dropout=0.2"], recipe_dir=str(tmp_path))
    assert entry.repo_id == "org/bst-tiny" and entry.output_dir == str(tmp_path / "zoo" / "bst-tiny")
    parser = build_train_parser()
    run = run_config_from_args(parser.parse_args(entry.argv), parser)
    assert run.data_path == "/data/ml-1m" and run.push_to_hub and run.hub_model_id == "org/bst-tiny"
    assert run.max_steps == 3 and run.model_overrides == {"num_heads": 2, "dropout": 0.2}
    # an option the data root or the extra flags override is written once, as it is read
    for flag in ("--data-path", "--max-steps", "--output-dir"):
        assert entry.argv.count(flag) == 1, entry.argv
    assert entry.argv.count("--set") == 2
    seed_run = plan_seed_runs(["bst-tiny"], [4], str(tmp_path / "zoo"), data_root="/data", recipe_dir=str(tmp_path))[0]
    assert seed_run.argv.count("--seed") == 1 and seed_run.argv.count("--output-dir") == 1
    assert seed_run.argv[seed_run.argv.index("--output-dir") + 1] == str(tmp_path / "zoo" / "bst-tiny" / "seed-4")
    with pytest.raises(ValueError, match="--hub-org"):
        plan_zoo(None, "zoo", push_to_hub=True, recipe_dir=str(tmp_path))


def test_zoo_build_pushes_tiny_recipes_that_load_back_through_automodel(tmp_path):
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    write_recipe(recipes, "bst-tiny", dict(TINY, model="bst"), {"num_heads": 2})
    write_recipe(recipes, "sasrec-tiny", dict(TINY, model="sasrec"))
    with FakeHub() as hub:
        env = dict(os.environ, HF_ENDPOINT=hub.endpoint, HF_HOME=str(tmp_path / "hf-home"), HF_TOKEN="hf_test",
                   HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_XET="1", OMP_NUM_THREADS="1")
        env.pop("HF_HUB_OFFLINE", None)
        build = subprocess.run(
            [sys.executable, "-m", "hf_recsys.cli", "zoo", "build", "--recipe-dir", str(recipes), "--output-root",
             str(tmp_path / "zoo"), "--push-to-hub", "--hub-org", "org"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert build.returncode == 0, build.stderr[-3000:]
        summary = json.loads((tmp_path / "zoo" / "zoo.json").read_text())
        assert set(summary) == {"bst-tiny", "sasrec-tiny"}
        assert set(hub.repos) == {"org/bst-tiny", "org/sasrec-tiny"}
        for name, repo in hub.repos.items():
            assert {"config.json", "model.safetensors", "recsys_processor.json", "README.md"} <= set(repo.tree("main"))
            assert f"- recipe: {name.split('/')[1]}" in repo.tree("main")["README.md"].decode()  # the card names it
        load = textwrap.dedent("""
            import json, hf_recsys
            from transformers import AutoModel
            out = {}
            for repo in ("org/bst-tiny", "org/sasrec-tiny"):
                model = AutoModel.from_pretrained(repo)
                history = hf_recsys.RecsysProcessor.from_pretrained(repo).item_vocab.tokens[2:5]
                out[repo] = [type(model).__name__, len(model.recommend([history], k=3)[0])]
            print(json.dumps(out))
        """)
        fresh = dict(env, HF_HOME=str(tmp_path / "fresh"))
        loaded = subprocess.run([sys.executable, "-c", load], env=fresh, cwd=ROOT, capture_output=True, text=True,
                                timeout=300)
        assert loaded.returncode == 0, loaded.stderr[-3000:]
        names = json.loads(loaded.stdout.strip().splitlines()[-1])
        assert names == {"org/bst-tiny": ["BSTForCTR", 3], "org/sasrec-tiny": ["SASRecForNextItem", 3]}, names


def test_a_switch_that_is_on_by_default_is_turned_off_by_false():
    from hf_recsys.cli import build_train_parser
    from hf_recsys.recipes import Recipe, parser_flags

    parser = build_train_parser()
    flags = parser_flags(parser)
    recipe = Recipe("r", "r.yaml", train={"eval_each_epoch": False, "no_progress": True, "bf16": False})
    recipe.check_flags(parser)
    assert recipe.argv(flags) == ["--no-eval-each-epoch", "--no-progress"]
    assert Recipe("r", "r.yaml", train={"eval_each_epoch": True}).argv(flags) == []
    run = parser.parse_args(recipe.argv(flags))
    assert run.eval_each_epoch is False


@pytest.mark.parametrize("name", available_recipes())
def test_every_shipped_search_space_names_real_options(name):
    from hf_recsys.models import MODEL_REGISTRY
    from hf_recsys.training.search import parse_space

    recipe = load_recipe(name)
    if recipe.train["model"] == "p5":  # validated by its own beam-search callback, not searched
        assert not recipe.search
        return
    dimensions = parse_space(recipe.search["space"], f"{name}: search.space")
    config_fields = MODEL_REGISTRY[recipe.train["model"]].config_class.__annotations__
    for dimension in dimensions:
        if dimension.is_model_field:
            assert dimension.field in config_fields, (name, dimension.name)
    # every recipe keeps its best validation weights (early stopping implies it)
    assert recipe.train.get("load_best_model_at_end") or recipe.train.get("early_stopping_patience")


def test_a_run_of_a_recipe_is_compared_with_its_expected_spread(tmp_path, capsys):
    recipe = tmp_path / "din-tiny.yaml"
    recipe.write_text(textwrap.dedent("""\
        train:
          model: din
          synthetic_users: 40
          synthetic_items: 50
          max_history: 5
          max_steps: 2
          no_progress: true
        expected:
          metric: auc
          mean: 0.99
          std: 0.001
          seeds: [0, 1, 2]
        """))
    metrics = run_command("train", ["--recipe", str(recipe), "--output-dir", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert f"recipe din-tiny expects test auc 0.9900 ± 0.0010 (seeds 0, 1, 2); this run: {metrics['eval_auc']:.4f}" in out
    assert ("OUTSIDE" in out) == (abs(metrics["eval_auc"] - 0.99) > 0.002)
    run_command("train", ["--recipe", str(recipe), "--output-dir", str(tmp_path / "longer"), "--max-steps", "3"])
    assert ("not compared with recipe din-tiny's expected auc: this run sets --max-steps over the recipe"
            in capsys.readouterr().out)
    broken = tmp_path / "broken.yaml"
    broken.write_text("train:\n  model: din\nexpected:\n  metric: auc\n  mean: 0.9\n")
    with pytest.raises(RecipeError, match=r"expected.std is missing"):
        load_recipe(str(broken))


def test_zoo_list_says_which_recipes_have_a_reproduced_result(tmp_path, capsys):
    (tmp_path / "din-tiny.yaml").write_text(textwrap.dedent("""\
        description: DIN on a tiny log.
        train:
          model: din
        expected:
          metric: auc
          mean: 0.8123
          std: 0.0045
          seeds: [0, 1, 2]
        """))
    (tmp_path / "sasrec-tiny.yaml").write_text("description: SASRec on a tiny log.\ntrain:\n  model: sasrec\n")
    run_command("zoo", ["list", "--recipe-dir", str(tmp_path)])
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["din-tiny: DIN on a tiny log. [expected test auc 0.8123 ± 0.0045 over 3 seeds]",
                     "sasrec-tiny: SASRec on a tiny log. [not reproduced over seeds yet]"]
    run_command("zoo", ["list", "--recipe-dir", str(tmp_path), "--recipes", "sasrec-tiny"])
    assert capsys.readouterr().out.splitlines() == ["sasrec-tiny: SASRec on a tiny log. [not reproduced over seeds yet]"]
    with pytest.raises(SystemExit) as exit_info:
        run_command("zoo", ["list", "--recipe-dir", str(tmp_path), "--recipes", "bst-tiny"])
    assert exit_info.value.code == 2
    assert "argument --recipes: no recipe named 'bst-tiny' (recipes: din-tiny, sasrec-tiny;" in capsys.readouterr().err


def test_a_shipped_recipe_without_its_data_asks_for_data_path(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no ml-1m folder here
    with pytest.raises(SystemExit) as exit_info:
        run_command("train", ["--recipe", "bst-ml1m", "--output-dir", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert "data_path ml-1m is not here; give --data-path PATH" in capsys.readouterr().err
    parser = build_train_parser()
    argv = expand_recipe_argv(["--recipe", "bst-ml1m", "--data-path", str(tmp_path)], parser)
    assert argv[-2:] == ["--data-path", str(tmp_path)]


def test_zoo_reproduce_states_the_spread_over_seeds_and_continues_where_it_stopped(tmp_path, capsys):
    from hf_recsys.recipes import load_recipe
    from hf_recsys.zoo import plan_seed_runs

    recipes = tmp_path / "recipes"
    recipes.mkdir()
    write_recipe(recipes, "din-tiny", dict(TINY, model="din", epochs=2, early_stopping_patience=1,
                                           max_steps=-1))
    argv = ["reproduce", "--recipes", "din-tiny", "--recipe-dir", str(recipes), "--output-root",
            str(tmp_path / "zoo"), "--seeds", "0", "1", "--write-expected"]
    report = run_command("zoo", argv)
    summary = report["recipes"]["din-tiny"]
    aucs = [json.loads((tmp_path / "zoo" / "din-tiny" / f"seed-{s}" / "eval_results.json").read_text())["eval_auc"]
            for s in (0, 1)]
    assert aucs[0] != aucs[1]  # the seed reaches the run
    assert summary["metric"] == "auc" and summary["seeds"] == [0, 1]
    assert summary["mean"] == pytest.approx(sum(aucs) / 2)
    assert summary["std"] == pytest.approx(abs(aucs[0] - aucs[1]) / 2 ** 0.5)
    assert [run["seed"] for run in summary["runs"]] == [0, 1]
    assert summary["runs"][1]["argv"][-4:] == ["--seed", "1", "--output-dir", str(tmp_path / "zoo" / "din-tiny" / "seed-1")]
    assert json.loads((tmp_path / "zoo" / "reproduce.json").read_text())["recipes"]["din-tiny"]["mean"] == summary["mean"]
    expected = load_recipe("din-tiny", recipes).expected
    assert expected["metric"] == "auc" and expected["seeds"] == [0, 1]
    assert expected["mean"] == round(summary["mean"], 4) and expected["command"].startswith("hf-recsys zoo reproduce")
    assert str(tmp_path) not in expected["command"] and "--output-root zoo" in expected["command"]  # recipes are published
    out = capsys.readouterr().out
    assert f"din-tiny: test auc {summary['mean']:.4f} ± {summary['std']:.4f} (seeds 0, 1)" in out

    # the same command again reads the finished seeds instead of training them
    before = {s: (tmp_path / "zoo" / "din-tiny" / f"seed-{s}" / "model.safetensors").stat().st_mtime_ns for s in (0, 1)}
    again = run_command("zoo", argv)
    assert again["recipes"]["din-tiny"]["mean"] == summary["mean"]
    assert before == {s: (tmp_path / "zoo" / "din-tiny" / f"seed-{s}" / "model.safetensors").stat().st_mtime_ns
                      for s in (0, 1)}
    assert "seed 0: finished, read from" in capsys.readouterr().err

    # --report-only trains nothing: an unfinished seed is named, and expected needs every seed
    partial = run_command("zoo", argv[:-1] + ["2", "--report-only", "--write-expected"])
    assert not (tmp_path / "zoo" / "din-tiny" / "seed-2").exists()
    assert partial["recipes"]["din-tiny"]["seeds"] == [0, 1]
    assert partial["recipes"]["din-tiny"]["missing_seeds"] == [2]
    assert partial["recipes"]["din-tiny"]["mean"] == summary["mean"]
    # the recipe's command is the one that trains its seeds; the report keeps the one that read them
    assert partial["recipes"]["din-tiny"]["command"].startswith("hf-recsys zoo reproduce --recipes din-tiny --seeds 0 1 2 ")
    assert "--report-only" not in partial["recipes"]["din-tiny"]["command"] and "--report-only" in partial["command"]
    assert load_recipe("din-tiny", recipes).expected["seeds"] == [0, 1]
    captured = capsys.readouterr()
    assert f"din-tiny: test auc {summary['mean']:.4f} ± {summary['std']:.4f} (seeds 0, 1; not finished: 2)" in captured.out
    assert "din-tiny seed 2: not finished, left out" in captured.err
    assert "expected not written into" in captured.err and "seed 2 not finished" in captured.err
    # nothing finished: nothing to summarise, no file written
    empty = tmp_path / "empty-zoo"
    run_command("zoo", ["reproduce", "--recipes", "din-tiny", "--recipe-dir", str(recipes), "--output-root", str(empty),
                        "--report-only"])
    assert not empty.exists()
    assert "din-tiny: no seed has finished" in capsys.readouterr().out

    # a seed interrupted after a checkpoint resumes from it
    (tmp_path / "zoo2" / "din-tiny" / "seed-2" / "checkpoints" / "checkpoint-4").mkdir(parents=True)
    (tmp_path / "zoo2" / "din-tiny" / "seed-2" / "checkpoints" / "checkpoint-4" / "trainer_state.json").write_text("{}")
    runs = plan_seed_runs(["din-tiny"], [2, 3], str(tmp_path / "zoo2"), recipe_dir=str(recipes))
    assert runs[0].train_argv[-2:] == ["--resume-from-checkpoint", "latest"]
    assert "--resume-from-checkpoint" not in runs[1].train_argv and not runs[0].finished
    assert "--resume-from-checkpoint" not in runs[0].argv  # the recorded command is the one a user types

    # a recipe named twice counts its seeds once; two recipe files of one name are refused
    assert len(plan_seed_runs(["din-tiny", str(recipes / "din-tiny.yaml")], [0], str(tmp_path / "zoo"),
                              recipe_dir=str(recipes))) == 1
    other = tmp_path / "elsewhere"
    other.mkdir()
    write_recipe(other, "din-tiny", dict(TINY, model="din"))
    with pytest.raises(ValueError, match="two recipes are named din-tiny"):
        plan_seed_runs(["din-tiny", str(other / "din-tiny.yaml")], [0], str(tmp_path / "zoo"), recipe_dir=str(recipes))

    # finished seeds trained with other options are not read as this command's
    with pytest.raises(SystemExit) as exit_info:
        run_command("zoo", argv[:-1] + ["--report-only", "--learning-rate", "0.0123"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "din-tiny seed 0: " in err
    assert re.search(r"holds a finished run trained with other options: learning_rate \S+ \(this command: 0.0123\)", err)
    # --write-expected states the recipe as it is: flags that change its run are refused
    fresh = [str(tmp_path / "zoo3") if value == str(tmp_path / "zoo") else value for value in argv]
    with pytest.raises(SystemExit) as exit_info:
        run_command("zoo", fresh + ["--learning-rate", "0.0123"])
    assert "--write-expected states what recipe din-tiny gives as it is" in capsys.readouterr().err
    assert not (tmp_path / "zoo3").exists()


def test_zoo_reproduce_options_are_checked_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ml-1m folder here
    for argv, message in ((["reproduce"], "reproduce needs --recipes"),
                          (["reproduce", "--recipes", "bst-ml1m"], "data_path ml-1m is not here; give --data-root DIR"),
                          (["build", "--recipes", "bst-ml1m"], "data_path ml-1m is not here; give --data-root DIR"),
                          (["reproduce", "--recipes", "bst-ml1m", "--seeds", "0", "0"], "a seed is given twice"),
                          (["reproduce", "--recipes", "bst-ml1m", "--seeds", "-1"], "--seeds: must be >= 0"),
                          (["build", "--seeds", "1"], "--seeds is an option of `zoo reproduce`"),
                          (["build", "--report-only"], "--report-only is an option of `zoo reproduce`"),
                          (["reproduce", "--recipes", "bst-ml1m", "--push-to-hub"], "--push-to-hub is an option of `zoo build`"),
                          (["list", "--seeds", "1"], "--seeds is an option of `zoo reproduce`, not of `zoo list`"),
                          (["list", "--data-root", "data"],
                           "--data-root is an option of `zoo build` and `zoo reproduce`, not of `zoo list`"),
                          (["list", "--max-steps", "5"], "unrecognized arguments: --max-steps 5"),
                          (["build", "--recipes", "bst-ml1m", "no-such-recipe"],
                           "error: argument --recipes: no recipe named 'no-such-recipe' (recipes: ")):
        with pytest.raises(SystemExit) as exit_info:
            run_command("zoo", argv + (["--output-root", str(tmp_path / "zoo")] if argv[0] != "list" else []))
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err, argv
    assert not (tmp_path / "zoo").exists()


def test_the_recorded_command_finds_a_recipe_file_by_its_path():
    """A recipe given as a file was recorded by its name, which `zoo reproduce` cannot find."""
    from argparse import Namespace
    from types import SimpleNamespace

    from hf_recsys.cli import reproducing_command

    runs = [SimpleNamespace(seed=0), SimpleNamespace(seed=1)]
    args = Namespace(recipes=["/x/my-recipe.yaml", "bst-ml1m"], recipe_dir=None, data_root=None, output_root="out")
    assert reproducing_command("my-recipe", runs, args, []) == (
        "hf-recsys zoo reproduce --recipes /x/my-recipe.yaml --seeds 0 1 --output-root out")
    assert reproducing_command("bst-ml1m", runs, args, []).startswith("hf-recsys zoo reproduce --recipes bst-ml1m ")


def test_a_usage_error_about_an_option_the_recipe_set_names_the_recipe(tmp_path, capsys):
    """`--recipe din-ml1m --max-steps 10` named --early-stopping-patience, a flag never typed."""
    with pytest.raises(SystemExit) as exit_info:
        run_command("train", ["--recipe", "din-ml1m", "--data-path", str(tmp_path), "--max-steps", "10"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert "--early-stopping-patience with --max-steps needs --eval-steps N" in err
    assert "; --early-stopping-patience comes from recipe din-ml1m" in err and "--max-steps comes from" not in err


def test_your_own_file_under_a_recipe_is_read_by_its_format(tmp_path, capsys):
    """`--recipe sasrec-beauty --data-path log.csv` read the CSV as Beauty's sequence file."""
    log = tmp_path / "log.csv"
    log.write_text("user_id,item_id,timestamp\n1,a,1\n")
    parser = build_train_parser()
    from hf_recsys.cli import log_format

    argv = expand_recipe_argv(["--recipe", "sasrec-beauty", "--data-path", str(log)], parser, log_format=log_format)
    assert "--dataset" not in argv
    assert f"--data-path {log} reads as csv, not as the recipe's beauty (give --dataset beauty" in capsys.readouterr().err
    kept = expand_recipe_argv(["--recipe", "sasrec-beauty", "--data-path", str(log), "--dataset", "beauty"], parser,
                              log_format=log_format)
    assert kept[kept.index("--dataset") + 1] == "beauty"


def test_zoo_build_goes_on_where_it_stopped_and_checks_every_log_first(tmp_path, capsys):
    """A rerun of `zoo build` retrained nothing but failed on the finished folders; a recipe whose
    log was missing failed after the recipes before it had trained."""
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    write_recipe(recipes, "a-tiny", dict(TINY, model="sasrec"))
    argv = ["build", "--recipe-dir", str(recipes), "--output-root", str(tmp_path / "zoo")]
    first = run_command("zoo", argv)
    weights = tmp_path / "zoo" / "a-tiny" / "model.safetensors"
    written = weights.stat().st_mtime_ns
    capsys.readouterr()
    again = run_command("zoo", argv)
    assert weights.stat().st_mtime_ns == written and again["a-tiny"]["metrics"] == first["a-tiny"]["metrics"]
    assert "a-tiny: finished, read from" in capsys.readouterr().err
    tiny_file = {k: v for k, v in TINY.items() if not k.startswith("synthetic_")}
    write_recipe(recipes, "b-tiny", dict(tiny_file, model="sasrec", dataset="csv", data_path="nope.csv"))
    with pytest.raises(SystemExit) as exit_info:
        run_command("zoo", ["build", "--recipe-dir", str(recipes), "--data-root", str(tmp_path), "--output-root",
                            str(tmp_path / "zoo-b")])
    assert exit_info.value.code == 2
    assert f"b-tiny: --data-path {tmp_path / 'nope.csv'}: no such file or folder" in capsys.readouterr().err
    assert not (tmp_path / "zoo-b").exists()  # a-tiny did not train first


def test_zoo_reproduce_of_a_recipe_folder_takes_every_recipe_there(tmp_path, capsys):
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    for name in ("a-tiny", "b-tiny"):
        write_recipe(recipes, name, dict(TINY, model="sasrec"))
    report = run_command("zoo", ["reproduce", "--recipe-dir", str(recipes), "--output-root", str(tmp_path / "zoo"),
                                 "--report-only"])
    assert sorted(report["recipes"]) == ["a-tiny", "b-tiny"]


def test_recipe_without_its_value_is_the_train_commands_usage_error(capsys):
    """`hf-recsys train --recipe` printed a fragment of another parser's usage under the name hf-recsys."""
    with pytest.raises(SystemExit) as exit_info:
        run_command("train", ["--recipe"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith("hf-recsys train: error: argument --recipe: expected one argument")

