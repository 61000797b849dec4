"""Fine-tuning a saved model with your own `transformers.Trainer` (hf_recsys.training.trainer_kit),
the example script, publishing the result and loading it back where hf_recsys is not installed."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from transformers import AutoModel, AutoProcessor, Trainer, TrainingArguments

import hf_recsys  # noqa: F401
from hf_recsys.data.pipeline import DataConfig, prepare_data
from hf_recsys.data.processor import VocabularyMismatchError
from hf_recsys.data.synthetic import generate_synthetic_log
from hf_recsys.models import MODEL_REGISTRY
from hf_recsys.testing.fake_hub import FakeHub
from hf_recsys.training import trainer_kit
from hf_recsys.training.tasks import CTRTask

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = {"bst": dict(hidden_size=16, num_heads=2, ffn_dim=16, mlp_hidden_sizes=[8]),
         "sasrec": dict(hidden_size=16, num_heads=2)}


pytestmark = pytest.mark.usefixtures("one_thread")


def small(config_class, name):
    fields = getattr(config_class, "__dataclass_fields__", {})
    return {k: v for k, v in SMALL[name].items() if k in fields}


def save_base(tiny_data, folder, name="bst"):
    """A saved model folder (model + processor), as `hf-recsys train` leaves it."""
    spec = MODEL_REGISTRY[name]
    torch.manual_seed(0)
    model = spec.model_class(spec.config_class.from_processor(tiny_data.processor, **small(spec.config_class, name)))
    model.load_item_features(tiny_data.processor)
    model.save_pretrained(folder)
    tiny_data.processor.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def new_log():
    return generate_synthetic_log(num_users=50, num_items=110, mean_length=10, min_length=4, max_length=20, seed=11)


def args(tmp_path, **kwargs):
    return TrainingArguments(**{"output_dir": str(tmp_path / "trainer"), "max_steps": 3, "per_device_train_batch_size": 16,
                                "report_to": "none", "save_strategy": "no", "use_cpu": True, **kwargs})


def make_trainer(kit, training_args, **kwargs):
    return Trainer(model=kit.model, args=training_args, train_dataset=kit.train_dataset,
                   eval_dataset=kit.eval_dataset, data_collator=kit.data_collator,
                   compute_metrics=kit.compute_metrics,
                   preprocess_logits_for_metrics=kit.preprocess_logits_for_metrics,
                   processing_class=kit.processor, **kwargs)


@pytest.mark.parametrize("name", ["bst", "sasrec"])
def test_kit_encodes_with_the_saved_vocabularies_and_trains_with_default_arguments(name, tiny_data, new_log, tmp_path):
    base = save_base(tiny_data, tmp_path / "base", name)
    kit = trainer_kit(AutoModel.from_pretrained(base), AutoProcessor.from_pretrained(base), new_log)
    saved = tiny_data.processor.item_vocab.tokens
    assert kit.processor.item_vocab.tokens[: len(saved)] == saved  # known IDs keep their indices
    assert kit.processor.num_items > tiny_data.processor.num_items  # new items appended ...
    assert kit.model.config.num_items == kit.processor.num_items  # ... and the model grown
    # remove_unused_columns is left at its default (True): the kit's callback keeps the columns
    trainer = make_trainer(kit, args(tmp_path), callbacks=kit.callbacks)
    trainer.train()
    metrics = kit.evaluate(trainer)
    assert "eval_popularity_" + ("auc" if name == "bst" else "ndcg@10") in metrics
    out = tmp_path / "out"
    kit.save(trainer, str(out), metrics)
    assert {"README.md", "eval_results.json", "recsys_processor.json", "processor_config.json", "config.json",
            "model.safetensors"} <= set(os.listdir(out))
    # no command was given: the card made one up (`hf-recsys train --dataset <log name> ...`) that could not run
    card = (out / "README.md").read_text()
    assert "## Training command" not in card
    assert f"- dataset: {new_log.name}" in card  # the new log, not the base model's (its licence follows)
    # the new log's own counts (the vocabularies also hold the base model's IDs), and which seed is which
    described = kit.task.data.describe()
    assert f"- users: {described['users']}\n" in card and f"- interactions: {described['interactions']}\n" in card
    assert f"- items: {described['items']}\n" in card and described["items"] < kit.processor.num_items - 2
    assert "- seed (split, sampled negatives): 0\n" in card and "- seed (Trainer: initialisation, shuffling): 42\n" in card
    assert "weights kept" not in card  # the last weights: no best checkpoint was loaded
    reloaded = AutoProcessor.from_pretrained(out)
    assert reloaded.item_vocab.tokens == kit.processor.item_vocab.tokens
    history = new_log.interactions["item_id"].astype(str).tolist()[:4]
    model = AutoModel.from_pretrained(out).eval()
    assert model.recommend([history], k=3) == trainer.model.eval().recommend([history], k=3, processor=kit.processor)


def test_the_card_of_a_kit_run_names_the_best_weights_trainer_kept(tiny_data, new_log, tmp_path):
    base = save_base(tiny_data, tmp_path / "base")
    kit = trainer_kit(AutoModel.from_pretrained(base), AutoProcessor.from_pretrained(base), new_log)
    best = args(tmp_path, max_steps=4, eval_strategy="steps", eval_steps=2, save_strategy="steps", save_steps=2,
                load_best_model_at_end=True, metric_for_best_model=kit.task.main_metric)
    trainer = make_trainer(kit, best, callbacks=kit.callbacks)
    trainer.train()
    out = tmp_path / "best"
    kit.save(trainer, str(out))
    step = trainer.state.best_model_checkpoint.rpartition("-")[2]
    assert f"- weights kept: best validation auc {trainer.state.best_metric:.4f} at step {step}\n" in (
        out / "README.md").read_text()


def test_a_plain_trainer_masks_the_history_in_next_item_metrics(tiny_data, new_log, tmp_path):
    """Next-item models name ``label_rows`` in ``forward``, so a ``Trainer`` built without
    ``label_names`` passes each held-out row to the metrics, which mask the user's history as
    ``hf-recsys train`` does; ``label_names=["labels"]`` leaves the history unmasked."""
    base = save_base(tiny_data, tmp_path / "base", "sasrec")
    kit = trainer_kit(AutoModel.from_pretrained(base), AutoProcessor.from_pretrained(base), new_log)
    plain = make_trainer(kit, args(tmp_path), callbacks=kit.callbacks)
    assert plain.label_names == ["labels", "label_rows"] == kit.task.label_names
    masked = kit.evaluate(plain)
    unmasked = kit.evaluate(make_trainer(kit, args(tmp_path, label_names=["labels"]), callbacks=kit.callbacks))
    ranking = [f"eval_{m}@{k}" for m in ("hr", "ndcg", "mrr") for k in (5, 10, 20)]
    assert all(masked[name] >= unmasked[name] for name in ranking)
    assert masked["eval_mrr@20"] > unmasked["eval_mrr@20"]


def test_without_the_callbacks_the_dropped_columns_are_explained(tiny_data, new_log, tmp_path):
    base = save_base(tiny_data, tmp_path / "base")
    kit = trainer_kit(AutoModel.from_pretrained(base), AutoProcessor.from_pretrained(base), new_log)
    trainer = make_trainer(kit, args(tmp_path))  # no callbacks, remove_unused_columns=True
    with pytest.raises(ValueError, match="remove_unused_columns=False"):
        trainer.train()


def test_a_freshly_fitted_vocabulary_is_refused(tiny_data, new_log, tmp_path):
    """The README's prepare_data route with a published model: the data's indices would mean
    other IDs than the model's. That is an error now, at the task and at train start."""
    base = save_base(tiny_data, tmp_path / "base")
    model = AutoModel.from_pretrained(base)
    fresh = prepare_data(new_log, DataConfig(max_history=model.config.max_history))
    with pytest.raises(VocabularyMismatchError, match="items"):
        CTRTask(fresh, model)
    kit = trainer_kit(model, AutoProcessor.from_pretrained(base), new_log)
    other = AutoModel.from_pretrained(base)  # the published model, not the kit's grown one ...
    other.config.processor_fingerprint = fresh.processor.fingerprint()  # ... claiming another vocabulary
    trainer = Trainer(model=other, args=args(tmp_path), train_dataset=kit.train_dataset,
                      data_collator=kit.data_collator, callbacks=kit.callbacks)
    with pytest.raises(VocabularyMismatchError):
        trainer.train()
    with pytest.raises(VocabularyMismatchError):
        trainer_kit(model, fresh.processor, new_log)  # a processor that is not the model's


def test_training_the_model_as_loaded_on_the_kits_grown_data_is_refused(tiny_data, new_log, tmp_path):
    """``Trainer(model=model)`` (the model as loaded, not ``kit.model``) on the kit's datasets,
    whose new items have indices past the model's table, was an IndexError inside the model."""
    base = save_base(tiny_data, tmp_path / "base")
    model = AutoModel.from_pretrained(base)
    kit = trainer_kit(model, AutoProcessor.from_pretrained(base), new_log)
    assert kit.processor.num_items > model.config.num_items
    trainer = Trainer(model=model, args=args(tmp_path), train_dataset=kit.train_dataset,
                      data_collator=kit.data_collator, callbacks=kit.callbacks)
    with pytest.raises(VocabularyMismatchError, match=r"'items' vocabulary holds .* no embedding for the other .*kit\.model"):
        trainer.train()


def test_a_model_saved_with_another_processor_is_refused_when_it_recommends(tiny_data, new_log, tmp_path):
    """``save_model`` of the kit's grown model beside the processor as loaded (not the kit's):
    the folder loaded and served, leaving the new items out with a log line only."""
    base = save_base(tiny_data, tmp_path / "base")
    loaded = AutoProcessor.from_pretrained(base)
    kit = trainer_kit(AutoModel.from_pretrained(base), loaded, new_log)
    folder = tmp_path / "mixed"
    kit.model.save_pretrained(folder)
    loaded.save_pretrained(folder)  # the processor as loaded: fewer items than the grown model
    model = AutoModel.from_pretrained(folder)
    history = loaded.item_vocab.tokens[:3]
    with pytest.raises(VocabularyMismatchError, match="pass the processor saved with the model"):
        model.recommend([history], k=3)
    assert len(model.recommend([history], k=3, processor=kit.processor)[0]) == 3
    with pytest.raises(VocabularyMismatchError, match="'items' vocabulary holds"):
        AutoModel.from_pretrained(base).recommend([history], k=3, processor=kit.processor)  # grown processor, old model

    bare = tmp_path / "model-only"
    kit.model.save_pretrained(bare)
    with pytest.raises(ValueError, match=r"has no recsys_processor.json .*processor.save_pretrained\(folder\)"):
        AutoModel.from_pretrained(bare).recommend([history], k=3)


def test_the_new_log_may_be_a_dataframe_or_a_file(tiny_data, new_log, tmp_path):
    """A DataFrame or a path was an AttributeError ('DataFrame' object has no attribute 'interactions')."""
    base = save_base(tiny_data, tmp_path / "base")
    frame = new_log.interactions[["user_id", "item_id", "timestamp"]].copy()
    from_log = trainer_kit(base, None, new_log)
    from_frame = trainer_kit(base, None, frame.copy())
    assert len(from_frame.train_dataset) == len(from_log.train_dataset)
    frame.to_csv(tmp_path / "new.csv", index=False)
    assert len(trainer_kit(base, None, str(tmp_path / "new.csv")).train_dataset) == len(from_log.train_dataset)
    with pytest.raises(TypeError, match="log must be an InteractionLog, a pandas DataFrame"):
        trainer_kit(base, None, frame.to_dict("records"))


def test_hyperparameter_search_runs_two_optuna_trials(tiny_data, new_log, tmp_path):
    pytest.importorskip("optuna")
    base = save_base(tiny_data, tmp_path / "base")
    kit = trainer_kit(base, None, new_log)  # a folder works too
    config = kit.model.config  # the grown config: its vocabulary sizes and fingerprint are the kit's

    def model_init(trial=None):  # built from a config, as for a search from scratch
        model = type(kit.model)(config)
        model.load_item_features(kit.processor)
        return model

    trainer = Trainer(model_init=model_init, args=args(tmp_path, eval_strategy="no"),
                      train_dataset=kit.train_dataset, eval_dataset=kit.eval_dataset,
                      data_collator=kit.data_collator, compute_metrics=kit.compute_metrics,
                      processing_class=kit.processor, callbacks=kit.callbacks)
    best = trainer.hyperparameter_search(
        direction="maximize", backend="optuna", n_trials=2,
        hp_space=lambda trial: {"learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True)},
        compute_objective=lambda metrics: metrics["eval_auc"],
    )
    assert 1e-4 <= best.hyperparameters["learning_rate"] <= 1e-2
    assert isinstance(best.objective, float)


def _run(code: str, env: dict, cwd: str = ROOT, blocked: bool = False) -> subprocess.CompletedProcess:
    prelude = textwrap.dedent("""
        import sys
        class _Block:
            def find_spec(self, name, path=None, target=None):
                if name == "hf_recsys" or name.startswith("hf_recsys."):
                    raise ImportError("hf_recsys is blocked")
        sys.meta_path.insert(0, _Block())
    """) if blocked else ""
    result = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                            cwd=cwd, env=env, stdin=subprocess.DEVNULL, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Do you wish" not in result.stdout + result.stderr
    return result


def test_example_script_then_push_then_load_without_the_package(tiny_data, new_log, tmp_path):
    """The docs' path: fine-tune a saved model with the example's Trainer on a new log, push
    with `hf-recsys push` to a local Hub, load it back with trust_remote_code=True in a Python
    where hf_recsys cannot be imported: the same recommendations from raw IDs."""
    base = save_base(tiny_data, tmp_path / "base")
    own_names = {"user_id": "Customer ID", "item_id": "sku", "timestamp": "ts"}  # a user's own column names
    new_log.interactions[list(own_names)].rename(columns=own_names).to_csv(tmp_path / "new_log.csv", index=False)
    out = tmp_path / "finetuned"
    env = dict(os.environ, HF_HOME=str(tmp_path / "hf-home"), OMP_NUM_THREADS="1")
    script = [sys.executable, os.path.join(ROOT, "examples", "finetune_with_trainer.py"), "--model-dir", base,
              "--data-path", str(tmp_path / "new_log.csv"), "--output-dir", str(out), "--max-steps", "3",
              "--batch-size", "16"]
    refused = subprocess.run(script, cwd=str(tmp_path), env=env, timeout=300, capture_output=True, text=True)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr and not out.exists()
    assert "missing column(s) 'user_id', 'item_id'" in refused.stderr.strip().splitlines()[-1]
    subprocess.run(script + ["--columns", "user_id=Customer ID,item_id=sku,timestamp=ts"], check=True,
                   cwd=str(tmp_path), env=env, timeout=300, capture_output=True)
    assert AutoProcessor.from_pretrained(out).item_vocab.tokens[:5] == tiny_data.processor.item_vocab.tokens[:5]
    card = (out / "README.md").read_text()
    assert str(tmp_path) not in card and "base_model" not in card  # a local base is named, never its path
    history = new_log.interactions["item_id"].astype(str).tolist()[-6:]
    expected = AutoModel.from_pretrained(out).eval().recommend([history], k=5)

    with FakeHub() as hub:
        hub_env = dict(env, HF_ENDPOINT=hub.endpoint, HF_TOKEN="hf_test", HF_HUB_DISABLE_TELEMETRY="1",
                       HF_HUB_DISABLE_XET="1", HF_HOME=str(tmp_path / "fresh"))
        hub_env.pop("HF_HUB_OFFLINE", None)
        _run(f"from hf_recsys.cli import main; main(['push', {str(out)!r}, '--repo-id', 'org/bst-finetuned'])", hub_env)
        stored = hub.repos["org/bst-finetuned"].tree("main")
        assert {"processing_recsys.py", "processor_config.json", "recsys_processor.json", "modeling_bst.py"} <= set(stored)
        pushed_card = stored["README.md"].decode()
        assert "# org/bst-finetuned" in pushed_card and "name: org/bst-finetuned" in pushed_card
        assert 'from_pretrained("org/bst-finetuned")' in pushed_card
        no_package = dict(hub_env)
        no_package.pop("PYTHONPATH", None)
        result = _run(f"""
            import json
            from transformers import AutoModel, AutoProcessor
            model = AutoModel.from_pretrained("org/bst-finetuned", trust_remote_code=True).eval()
            processor = AutoProcessor.from_pretrained("org/bst-finetuned", trust_remote_code=True)
            print(json.dumps({{"recs": model.recommend([{history!r}], k=5), "items": processor.num_items}}))
        """, no_package, cwd=str(tmp_path), blocked=True)
    got = json.loads(result.stdout.splitlines()[-1])
    assert got["recs"] == expected
    assert got["items"] == AutoProcessor.from_pretrained(out).num_items


def test_kit_with_unknown_items_keeps_the_model_and_its_vocabularies(tiny_data, new_log, tmp_path):
    base = save_base(tiny_data, tmp_path / "base")
    model = AutoModel.from_pretrained(base)
    kit = trainer_kit(model, AutoProcessor.from_pretrained(base), new_log, unknown_items="unknown")
    assert kit.model is model and kit.model.config.num_items == tiny_data.processor.num_items
    assert kit.processor.item_vocab.tokens == tiny_data.processor.item_vocab.tokens
    assert "; unknown_items='unknown': encoded them" in kit.summary  # the Python argument, not a CLI flag
    trainer = make_trainer(kit, args(tmp_path), callbacks=kit.callbacks)
    trainer.train()
    with pytest.raises(ValueError, match="unknown_items"):
        trainer_kit(model, AutoProcessor.from_pretrained(base), new_log, unknown_items="drop")
    # held-out samples of an item the model cannot tell apart are not evaluated (one shared,
    # frequent "unknown" item would inflate every metric); training still reads them
    data = kit.task.data
    for split in ("valid", "test"):
        targets = data.ctr_dataset(split)["target"]
        assert len(targets) and 1 not in targets
    assert 1 in data.ctr_dataset("train")["target"]


@pytest.mark.parametrize("flags, message", [
    (["--model-dir", "MISSING"], "--model-dir {tmp}/MISSING: no such folder"),
    (["--learning-rate", "-1"], "argument --learning-rate: must be > 0, got -1"),
    (["--output-dir", "BASE"], "--output-dir {tmp}/BASE already holds a model's files"),
])
def test_the_example_script_checks_its_options_before_any_work(flags, message, tiny_data, tmp_path, capsys):
    """A missing model folder and a negative learning rate were tracebacks after the log was read,
    and an output folder holding a model was overwritten without a word."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("finetune_example", os.path.join(ROOT, "examples", "finetune_with_trainer.py"))
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    base = save_base(tiny_data, tmp_path / "BASE")
    options = {"--model-dir": base, "--data-path": str(tmp_path / "no-log.csv"), "--output-dir": str(tmp_path / "out")}
    options.update({flag: str(tmp_path / value) if value in ("MISSING", "BASE") else value
                    for flag, value in zip(flags[::2], flags[1::2])})
    with pytest.raises(SystemExit):
        example.main([token for pair in options.items() for token in pair])
    assert message.format(tmp=tmp_path) in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_log_with_no_new_ids_says_there_is_nothing_to_append(tiny_data, tmp_path):
    """The summary said "appended them: items 130 -> 130" when no ID was new."""
    base = save_base(tiny_data, tmp_path / "base")
    kit = trainer_kit(AutoModel.from_pretrained(base), AutoProcessor.from_pretrained(base), tiny_data.log)
    assert "the new log has 0 items and 0 users the saved vocabularies lack" in kit.summary
    assert kit.summary.endswith("unknown_items='grow': nothing to append")
