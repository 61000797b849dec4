"""Publishing for real against a Hub API served on loopback (the real Hub is unreachable).

Push with the CLI flags, download into a fresh cache, go offline, load by repo id: identical
outputs. Also a second revision, and the processor's own push_to_hub.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from hf_recsys.testing.fake_hub import FakeHub

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code: str, env: dict) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True,
                            text=True, cwd=ROOT, timeout=240)
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout


@pytest.fixture()
def hub_env(tmp_path):
    with FakeHub() as hub:
        env = dict(os.environ, HF_ENDPOINT=hub.endpoint, HF_HOME=str(tmp_path / "hf-home"), HF_TOKEN="hf_test",
                   HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_XET="1")
        env.pop("HF_HUB_OFFLINE", None)
        yield hub, env


def test_push_download_offline_load_gives_identical_outputs(hub_env, tmp_path):
    hub, env = hub_env
    folder = tmp_path / "bst"
    args = ["--output-dir", str(folder), "--max-steps", "8", "--batch-size", "32", "--synthetic-users", "60",
            "--synthetic-items", "80", "--max-history", "6", "--no-progress", "--set", "num_heads=2",
            "--push-to-hub", "--hub-model-id", "org/bst-tiny"]
    run_python(f"from hf_recsys.cli import train_main; train_main({args!r})", env)
    stored = hub.repos["org/bst-tiny"].tree("main")
    assert {"model.safetensors", "config.json", "recsys_processor.json", "README.md", "eval_results.json"} <= set(stored)
    assert b"model-index" in stored["README.md"]

    fresh = dict(env, HF_HOME=str(tmp_path / "fresh-cache"))
    run_python("from huggingface_hub import snapshot_download; snapshot_download('org/bst-tiny')", fresh)
    offline = dict(fresh, HF_HUB_OFFLINE="1", HF_ENDPOINT="http://127.0.0.1:9")  # nothing listens there
    compare = """
        import json, torch, hf_recsys
        from transformers import AutoModel
        source = SOURCE
        model = AutoModel.from_pretrained(source).eval()
        proc = hf_recsys.RecsysProcessor.from_pretrained(source)
        history = proc.item_vocab.tokens[:4]
        inputs = proc([history], max_history=model.config.max_history)
        with torch.no_grad():
            logits = model(**inputs, target_ids=torch.arange(2, 12)[:1]).logits
        print(json.dumps({"logits": logits.tolist(), "recs": model.recommend([history], k=5, processor=proc)}))
    """
    from_hub = json.loads(run_python(compare.replace("SOURCE", "'org/bst-tiny'"), offline).splitlines()[-1])
    local = json.loads(run_python(compare.replace("SOURCE", repr(str(folder))), offline).splitlines()[-1])
    assert from_hub == local


def test_revisions_and_processor_push(hub_env, tmp_path):
    hub, env = hub_env
    code = f"""
        import torch, hf_recsys
        from hf_recsys.hub import push_folder_to_hub
        from hf_recsys.models import BSTConfig, BSTForCTR
        from transformers import AutoModel
        def make(seed):
            torch.manual_seed(seed)
            return BSTForCTR(BSTConfig(num_items=20, num_heads=2, item_embedding_dim=8, category_embedding_dim=8,
                                       mlp_hidden_sizes=[8]))
        first, second = make(0), make(1)
        first.save_pretrained({str(tmp_path / 'a')!r}); second.save_pretrained({str(tmp_path / 'b')!r})
        push_folder_to_hub({str(tmp_path / 'a')!r}, "org/rev")
        push_folder_to_hub({str(tmp_path / 'b')!r}, "org/rev", revision="v2")
        main = AutoModel.from_pretrained("org/rev")
        v2 = AutoModel.from_pretrained("org/rev", revision="v2")
        w = "embeddings.item_embeddings.weight"
        assert torch.equal(main.state_dict()[w], first.state_dict()[w])
        assert torch.equal(v2.state_dict()[w], second.state_dict()[w])
        assert not torch.equal(main.state_dict()[w], v2.state_dict()[w])
        proc = hf_recsys.RecsysProcessor(items=["a", "b", "c"], users=["u"])
        proc.push_to_hub("org/proc")
        again = hf_recsys.RecsysProcessor.from_pretrained("org/proc")
        assert again.item_vocab.tokens == ["a", "b", "c"]
        print("ok")
    """
    assert run_python(code, env).strip().endswith("ok")
    assert "v2" in hub.repos["org/rev"].branches


def test_revisions_for_init_from_and_model_dir(hub_env, tmp_path):
    """``train --init-from ORG/NAME --init-revision REV`` starts from that revision's weights and
    names it in the card; ``recommend --revision`` serves it; a revision with a local folder, or
    one the repo lacks, is a one-line error naming the option."""
    hub, env = hub_env
    base = ["--max-steps", "2", "--batch-size", "32", "--synthetic-users", "40", "--synthetic-items", "50",
            "--max-history", "6", "--no-progress", "--model", "sasrec", "--set", "num_heads=2",
            "--set", "hidden_size=16"]
    main_dir, v2_dir = tmp_path / "main", tmp_path / "v2"
    code = f"""
        import torch
        from hf_recsys.cli import train_main
        from hf_recsys.hub import push_folder_to_hub
        train_main({base + ["--output-dir", str(main_dir), "--seed", "0"]!r})
        train_main({base + ["--output-dir", str(v2_dir), "--seed", "1"]!r})
        push_folder_to_hub({str(main_dir)!r}, "org/seq")
        push_folder_to_hub({str(v2_dir)!r}, "org/seq", revision="v2")
        print("pushed")
    """
    assert run_python(code, env).strip().endswith("pushed")
    check = f"""
        import json, torch
        from safetensors.torch import load_file
        from hf_recsys.hub import resolve_model_source, ModelSourceError
        from hf_recsys.cli import recommend_main
        folder = resolve_model_source("org/seq", "--init-from", "v2")
        weights = load_file(folder + "/model.safetensors")
        v2 = load_file({str(v2_dir / "model.safetensors")!r}); main = load_file({str(main_dir / "model.safetensors")!r})
        key = "item_embeddings.weight" if "item_embeddings.weight" in v2 else sorted(v2)[0]
        assert torch.equal(weights[key], v2[key]) and not torch.equal(weights[key], main[key])
        for source, revision, needle in (({str(v2_dir)!r}, "v2", "local folder"), ("org/seq", "nope", "no revision 'nope'")):
            try:
                resolve_model_source(source, "--init-from", revision)
            except ModelSourceError as error:
                assert "--init-from" in str(error) and needle in str(error), str(error)
            else:
                raise AssertionError("no error")
        print(json.dumps(recommend_main(["--model-dir", "org/seq", "--revision", "v2", "--history", "1", "2", "--k", "3"])))
    """
    out = run_python(check, env).strip().splitlines()
    local = run_python(f"""
        import json
        from hf_recsys.cli import recommend_main
        print(json.dumps(recommend_main(["--model-dir", {str(v2_dir)!r}, "--history", "1", "2", "--k", "3"])))
    """, env).strip().splitlines()
    assert json.loads(out[-1]) == json.loads(local[-1])

    tuned = tmp_path / "tuned"
    args = ["--init-from", "org/seq", "--init-revision", "v2", "--output-dir", str(tuned), "--max-steps", "1",
            "--batch-size", "32", "--synthetic-users", "40", "--synthetic-items", "50", "--max-history", "6",
            "--no-progress"]
    run_python(f"from hf_recsys.cli import train_main; train_main({args!r})", env)
    assert "initialised from: org/seq@v2" in (tuned / "README.md").read_text()
    assert json.loads((tuned / "config.json").read_text())["model_type"] == "sasrec"


# --------------------------------------------------------------------------- the model card
def _card(**overrides):
    from hf_recsys.hub import build_model_card

    arguments = dict(model_type="sasrec", description="SASRec causal Transformer (Kang & McAuley 2018)",
                     task="next_item", dataset_name="ml-1m", data_summary={"dataset": "ml-1m", "items": 3706},
                     metrics={"ndcg@10": 0.15, "hr@10": 0.28}, baseline_metrics={"ndcg@10": 0.05},
                     baseline_name="popularity", model_name="sasrec-ml1m", repo_id="org/sasrec-ml1m",
                     training_summary={"initialised from": "/home/someone/models/base", "steps": 10},
                     example_items=["1", "2", "3"], training_command="hf-recsys train --data-path /data/ml-1m")
    arguments.update(overrides)
    return str(build_model_card(**arguments))


def test_card_is_hub_grade():
    card = _card()
    meta = card.split("---")[1]
    assert "library_name: transformers" in meta
    assert "license: other" in meta and "license_name: movielens-research-only" in meta
    assert "research only" in card  # MovieLens's licence, said in the text
    assert "datasets:" not in meta  # a local log is no Hub dataset
    assert "name: org/sasrec-ml1m" in meta and "# org/sasrec-ml1m" in card
    assert "NDCG@10 (full ranking, leave-one-out)" in meta
    assert "base_model" not in meta  # a local base model is never a YAML link
    for section in ("## Intended use and limitations", "## Training data and protocol", "## Evaluation",
                    "## How to use", "## Training command", "## Citation", "@inproceedings{kang2018sasrec"):
        assert section in card, section
    assert 'from_pretrained("org/sasrec-ml1m")' in card and "path/to/this/folder" not in card
    assert 'pipeline("recommendation"' in card
    assert "/home/someone" not in card and "/data/ml-1m" not in card  # no local absolute path, ever
    assert "| NDCG@10 (full ranking, leave-one-out) | 0.1500 | 0.0500 |" in card


def test_card_of_a_temporal_split_says_so():
    """A `--split temporal` card said "leave-one-out" in its protocol and every metric name."""
    card = _card(data_summary={"dataset": "ml-1m", "split": "temporal"})
    assert "NDCG@10 (full ranking, temporal split)" in card.split("---")[1]
    assert "the latest interactions of the log (a global time cut: the last 10% of the interactions, the 10% before " \
           "them for validation)" in card and "leave-one-out" not in card
    ctr = _card(task="ctr", model_type="din", metrics={"auc": 0.8}, baseline_metrics={"auc": 0.7})
    assert "each user's last interaction (leave-one-out by time) is one of the held-out positives" in ctr
    assert "AUC (sampled negatives, leave-one-out)" in ctr


def test_card_of_a_fine_tune_from_the_hub_names_its_base_model_and_synthetic_data_the_package_licence():
    meta = _card(dataset_name="synthetic", training_summary={"initialised from": "org/base@v2"}).split("---")[1]
    assert "base_model: org/base" in meta and "license: apache-2.0" in meta and "fine-tuned" in meta


def test_p5_card_shows_the_tokenizer_and_generate():
    card = _card(model_type="p5", task="seq2seq", description="P5")
    assert "generation_inputs" in card and "model.generate(**inputs" in card and "decode_items" in card
    assert "@inproceedings{geng2022p5" in card


def _section(card: str, title: str) -> str:
    return card.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_a_pushed_card_keeps_the_data_and_training_lines_and_the_command_of_the_run(hub_env, tmp_path):
    """``hf-recsys push`` regenerates the card from the folder: it must say what the run's own
    card said (the data after the filters, the training lines) and the command that trained it."""
    hub, env = hub_env
    folder = tmp_path / "sasrec"
    train = ["train", "--model", "sasrec", "--output-dir", str(folder), "--max-steps", "3", "--synthetic-users", "40",
             "--synthetic-items", "30", "--max-history", "6", "--set", "hidden_size=8", "--set", "num_heads=2",
             "--learning-rate", "0.002", "--no-progress", "--logging-steps", "100"]
    run_python(f"from hf_recsys.cli import main; main({train!r}); main(['push', {str(folder)!r}, '--repo-id', "
               f"'org/sasrec-card'])", env)
    pushed = hub.repos["org/sasrec-card"].tree("main")["README.md"].decode()
    local = (folder / "README.md").read_text()
    for title in ("Training data and protocol", "Training", "Training command"):
        assert _section(pushed, title) == _section(local, title)
    command = _section(pushed, "Training command")
    for flags in ("--model sasrec", "--set hidden_size=8", "--max-steps 3", "--learning-rate 0.002", "--max-history 6",
                  "--synthetic-users 40"):
        assert flags in command
    assert "--output-dir" not in command and "--no-progress" not in command and "--epochs" not in command
    assert "- steps: 3" in _section(pushed, "Training") and "- users: 40" in _section(pushed, "Training data and protocol")
    assert "None" not in _section(pushed, "Training data and protocol")


def test_the_card_rebuilt_from_a_folder_matches_the_runs_own(tmp_path):
    """The card a push rebuilds named the dataset after the reader ("csv") instead of the log and
    listed the metrics in alphabetical order (HR@10, HR@20, HR@5, ...)."""
    from hf_recsys.cli import train_main
    from hf_recsys.hub import card_for_folder

    log = tmp_path / "shop.csv"
    log.write_text("user_id,item_id,timestamp\n" + "".join(f"u{k % 12},{k % 9},{k}\n" for k in range(120)))
    folder = tmp_path / "run"
    train_main(["--model", "sasrec", "--data-path", str(log), "--output-dir", str(folder), "--max-steps", "2",
                "--set", "hidden_size=8", "--set", "num_heads=2", "--no-progress"])
    local, rebuilt = (folder / "README.md").read_text(), str(card_for_folder(str(folder)))
    assert _section(rebuilt, "Evaluation (test split)") == _section(local, "Evaluation (test split)")
    assert "| HR@5 (" in _section(local, "Evaluation (test split)").split("\n")[3]
    assert local.split("---")[1] == rebuilt.split("---")[1]  # the YAML: dataset "shop", the metrics in order
    assert "name: shop" in local.split("---")[1]


def test_a_rebuilt_card_never_links_a_local_base_model(tmp_path, monkeypatch):
    """Pushed from another working folder, `--init-from base` (a local folder) looked like the Hub
    repo id "base/..." form and became a YAML base_model link; the run's own card had none."""
    from hf_recsys.cli import train_main
    from hf_recsys.hub import card_for_folder

    flags = ["--model", "sasrec", "--max-steps", "1", "--synthetic-users", "30", "--synthetic-items", "20",
             "--max-history", "4", "--set", "hidden_size=8", "--set", "num_heads=2", "--no-progress"]
    (tmp_path / "work" / "models").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "work")
    train_main([*flags, "--output-dir", "models/base"])
    train_main(["--init-from", "models/base", "--dataset", "synthetic", "--output-dir", "tuned", "--max-steps", "1",
                "--synthetic-users", "30", "--synthetic-items", "20", "--no-progress"])
    folder = tmp_path / "work" / "tuned"
    assert "base_model:" not in (folder / "README.md").read_text().split("---")[1]
    monkeypatch.chdir(tmp_path)  # models/base is no folder here
    assert "base_model:" not in str(card_for_folder(str(folder))).split("---")[1]


def _saved_folder(tiny_data, folder):
    from hf_recsys.models import MODEL_REGISTRY

    spec = MODEL_REGISTRY["sasrec"]
    model = spec.model_class(spec.config_class.from_processor(tiny_data.processor, hidden_size=16, num_heads=2))
    model.save_pretrained(folder)
    tiny_data.processor.save_pretrained(folder)
    (folder / "eval_results.json").write_text(json.dumps({"eval_ndcg@10": 0.2, "eval_popularity_ndcg@10": 0.1}))
    (folder / "README.md").write_text("# a stale local card naming /tmp/somewhere\n")
    return folder


def test_push_reads_hf_endpoint_at_call_time_and_regenerates_the_card(tiny_data, tmp_path):
    """Importing the local Hub (hence huggingface_hub) before setting HF_ENDPOINT used to send
    the push to the public Hub; `hf-recsys push` now resolves the endpoint when it runs."""
    folder = _saved_folder(tiny_data, tmp_path / "sasrec-local")
    # what the run was told, with local absolute paths; Trainer's pickled arguments (kit.save into its output_dir)
    (folder / "run_config.json").write_text(json.dumps({"run": {"model": "sasrec", "output_dir": str(folder), "source": {
        "dataset": "csv", "data_path": str(tmp_path / "logs" / "mine.csv")}}}))
    (folder / "training_args.bin").write_bytes(b"pickle naming " + str(folder).encode())
    env = {k: v for k, v in os.environ.items() if k not in ("HF_ENDPOINT", "HF_HUB_OFFLINE", "HF_TOKEN")}
    env.update(HF_HOME=str(tmp_path / "hf-home"), HF_HUB_DISABLE_XET="1", HF_HUB_DISABLE_TELEMETRY="1")
    out = run_python(f"""
        import json, os
        from hf_recsys.testing.fake_hub import FakeHub  # imports huggingface_hub first
        from hf_recsys.cli import main
        with FakeHub() as hub:
            os.environ["HF_ENDPOINT"] = hub.endpoint
            os.environ["HF_TOKEN"] = "hf_test"
            main(["push", {str(folder)!r}, "--repo-id", "org/sasrec-pushed", "--revision", "v1"])
            tree = hub.repos["org/sasrec-pushed"].tree("v1")
            print(json.dumps({{"files": sorted(tree), "card": tree["README.md"].decode(),
                              "run": json.loads(tree["run_config.json"])}}))
    """, env)
    pushed = json.loads(out.splitlines()[-1])
    assert {"processing_recsys.py", "processor_config.json", "recsys_processor.json", "config.json",
            "model.safetensors", "eval_results.json", "run_config.json"} <= set(pushed["files"])
    assert "training_args.bin" not in pushed["files"]
    assert pushed["run"]["run"]["output_dir"] == "sasrec-local" and pushed["run"]["run"]["source"]["data_path"] == "mine.csv"
    assert str(tmp_path) in (folder / "run_config.json").read_text()  # the local record keeps its paths
    card = pushed["card"]
    assert "# org/sasrec-pushed" in card and "name: org/sasrec-pushed" in card and "/tmp/" not in card
    assert "| NDCG@10 (full ranking, leave-one-out) | 0.2000 | 0.1000 |" in card
    assert (folder / "README.md").read_text().startswith("# a stale local card")  # the folder is not modified


def test_a_repo_name_alone_is_pushed_to_the_tokens_user(hub_env, tiny_data, tmp_path):
    hub, env = hub_env
    folder = _saved_folder(tiny_data, tmp_path / "model")
    result = _cli(["push", folder, "--repo-id", "justaname"], env)
    assert result.returncode == 0, result.stderr
    assert set(hub.repos) == {"me/justaname"}
    assert f"pushed {folder} to me/justaname: " in result.stdout
    card = hub.repos["me/justaname"].tree("main")["README.md"].decode()
    assert "# me/justaname" in card and "from_pretrained(\"me/justaname\"" in card


@pytest.mark.parametrize("argv, message", [
    (["push", "MISSING", "--repo-id", "org/x"], "no such folder"),
    (["push", "EMPTY", "--repo-id", "org/x"], "has no config.json"),
    (["push", "EMPTY", "--repo-id", "a/b/c"], "expected NAME or ORG/NAME"),
])
def test_push_refuses_bad_input_in_one_line(argv, message, tmp_path, capsys):
    from hf_recsys.cli import main

    (tmp_path / "EMPTY").mkdir()
    argv = [str(tmp_path / a) if a in ("MISSING", "EMPTY") else a for a in argv]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def _closed_port_endpoint() -> str:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _cli(argv: list, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hf_recsys.cli", *map(str, argv)], env=env, capture_output=True,
                          text=True, timeout=600)


def test_a_push_the_hub_refuses_or_cannot_take_is_one_line(hub_env, tiny_data, tmp_path):
    hub, env = hub_env
    folder = _saved_folder(tiny_data, tmp_path / "model")
    unreachable = _closed_port_endpoint()
    result = _cli(["push", folder, "--repo-id", "org/x"], dict(env, HF_ENDPOINT=unreachable))
    assert result.returncode == 2
    assert result.stderr.startswith(f"hf-recsys push: error: cannot push to org/x: the Hub ({unreachable}) could not "
                                    "be reached: ") and result.stderr.count("\n") == 1
    hub.refuse_writes = 401
    result = _cli(["push", folder, "--repo-id", "org/x"], env)
    assert result.returncode == 2
    assert result.stderr.startswith(f"hf-recsys push: error: the Hub ({hub.endpoint}) refused the push to org/x: ")
    assert result.stderr.rstrip().endswith("(pushing needs a token with write access: --token, HF_TOKEN or "
                                           "`hf auth login`)") and result.stderr.count("\n") == 1
    assert not hub.repos


def test_train_that_cannot_push_keeps_the_model_and_says_how_to_push_it(hub_env, tmp_path):
    _, env = hub_env
    out = tmp_path / "out"
    result = _cli(["train", "--model", "sasrec", "--synthetic-users", "40", "--synthetic-items", "30", "--max-steps", "2",
                   "--no-progress", "--output-dir", out, "--push-to-hub", "--hub-model-id", "org/x"],
                  dict(env, HF_ENDPOINT=_closed_port_endpoint()))
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("hf-recsys train: error: cannot push to org/x: the Hub (")
    assert last.endswith(f"; the model is saved in {out}: push it with `hf-recsys push {out} --repo-id org/x`")
    assert "Traceback" not in result.stderr
    assert (out / "model.safetensors").is_file() and (out / "recsys_processor.json").is_file()


@pytest.mark.parametrize("argv", [
    ["recommend", "--model-dir", "org/missing", "--history", "1"],
    ["export", "--model-dir", "org/missing", "--output", "OUT/model.onnx"],
    ["train", "--init-from", "org/missing", "--max-steps", "2"],
])
def test_a_missing_hub_repo_is_a_one_line_error_before_any_work(argv, hub_env, tmp_path):
    _, env = hub_env
    argv = [a.replace("OUT", str(tmp_path / "out")) for a in argv]
    result = subprocess.run([sys.executable, "-m", "hf_recsys.cli", *argv], env=env, capture_output=True, text=True,
                            cwd=tmp_path, timeout=240)
    assert result.returncode == 2, result.stderr[-3000:]
    option = argv[1]
    assert f"error: {option} org/missing: neither a local folder nor a repo on the Hub" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_missing_folder_whose_parent_exists_is_named_as_a_folder(tmp_path):
    """``out/typo`` could be a Hub repo id ORG/NAME; when ``out/`` is a local folder it is a
    mistyped folder, said at once: the Hub is not asked (the endpoint here answers nothing, and
    asking it would retry for seconds)."""
    (tmp_path / "out" / "sasrec").mkdir(parents=True)
    env = dict(os.environ, HF_ENDPOINT=_closed_port_endpoint(), HF_HOME=str(tmp_path / "hf-home"))
    env.pop("HF_HUB_OFFLINE", None)
    for command in (["recommend", "--model-dir", "out/typo", "--history", "1"],
                    ["train", "--init-from", "out/typo", "--output-dir", "new"]):
        result = subprocess.run([sys.executable, "-m", "hf_recsys.cli", *command], env=env, capture_output=True,
                                text=True, cwd=tmp_path, timeout=240)
        assert result.returncode == 2, result.stderr[-3000:]
        assert result.stderr.strip().splitlines() == [
            f"hf-recsys {command[0]}: error: {command[1]} out/typo: no such folder (out/ is a local folder, so "
            "out/typo is read as a folder in it, not as a Hub repo id; it holds: sasrec)"]
        assert not (tmp_path / "new").exists()


def test_without_network_the_cli_reads_the_hf_cache_and_names_a_repo_it_lacks(hub_env, tiny_data, tmp_path):
    """A Hub host name that does not resolve (no network) puts the command in offline mode, as
    ``HF_HUB_OFFLINE=1`` would: a cached repo loads, a repo not in the cache is one line saying
    so (asking the Hub would retry for about half a minute)."""
    _, env = hub_env
    folder = _saved_folder(tiny_data, tmp_path / "sasrec")
    run_python(f"from hf_recsys.hub import push_folder_to_hub; push_folder_to_hub({str(folder)!r}, 'org/cached')", env)
    run_python("from huggingface_hub import snapshot_download; snapshot_download('org/cached')", env)
    no_network = dict(env, HF_ENDPOINT="https://hub.invalid")  # .invalid never resolves (RFC 2606)
    item = tiny_data.processor.item_vocab.tokens[0]
    cached = _cli(["recommend", "--model-dir", "org/cached", "--history", item, "--k", "2", "--no-progress"], no_network)
    assert cached.returncode == 0, cached.stderr[-3000:]
    assert [type(row["item_id"]) for row in json.loads(cached.stdout)] == [str, str]
    missing = _cli(["recommend", "--model-dir", "org/elsewhere", "--history", item], no_network)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        "hf-recsys recommend: error: --model-dir org/elsewhere: no such local folder, and not in the HF cache "
        "(offline: hub.invalid cannot be reached)"]


def test_a_folder_that_cannot_give_a_usable_model_is_one_line_and_is_not_pushed(tiny_data, tmp_path, capsys):
    from hf_recsys.cli import main

    folder = _saved_folder(tiny_data, tmp_path / "sasrec")
    broken = {"no-processor": lambda f: (f / "recsys_processor.json").unlink(),
              "bad-processor": lambda f: (f / "recsys_processor.json").write_text('{"items": [1, 2'),
              "no-weights": lambda f: (f / "model.safetensors").unlink()}
    words = {"no-processor": "has no recsys_processor.json", "no-weights": "model.safetensors",
             "bad-processor": "recsys_processor.json: not a readable processor file (line 1"}
    for name, breaking in broken.items():
        copy = tmp_path / name
        shutil.copytree(folder, copy)
        breaking(copy)
        for argv in (["recommend", "--model-dir", str(copy), "--no-progress", "--history",
                      tiny_data.processor.item_vocab.tokens[0]], ["push", str(copy), "--repo-id", "org/x"]):
            capsys.readouterr()
            with pytest.raises(SystemExit) as exit_info:
                main(argv)
            err = capsys.readouterr().err
            assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1, err
            assert words[name] in err and "no item of the history is known" not in err
