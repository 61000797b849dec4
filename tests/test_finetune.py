"""Fine-tuning a published model on a new log (``--init-from``), with unknown IDs grown or
mapped to the unknown index, and gradient checkpointing of the Transformer blocks.

Publishing goes through the loopback Hub (``hf_recsys.testing.fake_hub``) in a subprocess, as in
test_hub.py; the rest runs in-process from local folders.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from transformers import AutoModel

import hf_recsys  # noqa: F401  (registers the models)
from hf_recsys.data.log import InteractionLog
from hf_recsys.data.pipeline import DataConfig, PreparedData, prepare_data
from hf_recsys.data.processor import RecsysProcessor
from hf_recsys.data.synthetic import generate_synthetic_log
from hf_recsys.models import MODEL_REGISTRY
from hf_recsys.testing.fake_hub import FakeHub
from hf_recsys.training.finetune import VOCABULARY_SIZE_FIELDS, grow_model, prepare_finetuning
from hf_recsys.training.run import RunConfig, run_training
from hf_recsys.training.tasks import TASKS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# tiny architectures; fields a model lacks are not passed
TINY = dict(num_heads=2, ffn_dim=16, hidden_size=16, item_embedding_dim=8, category_embedding_dim=8,
            mlp_hidden_sizes=[16], embedding_dim=8, num_layers=1, user_feature_dim=4)
PUBLISHED_LOG = dict(num_users=40, num_items=40, mean_length=10, min_length=4, max_length=20, seed=0)
NEW_LOG = dict(num_users=60, num_items=56, mean_length=10, min_length=4, max_length=20, seed=0)


def tiny_overrides(name):
    fields = set(MODEL_REGISTRY[name].config_class.__dataclass_fields__)
    return {k: v for k, v in TINY.items() if k in fields}


@pytest.fixture(scope="module")
def published_data():
    return prepare_data(generate_synthetic_log(**PUBLISHED_LOG), DataConfig(max_history=6, seed=0))


@pytest.fixture(scope="module")
def new_processor():
    return prepare_data(generate_synthetic_log(**NEW_LOG), DataConfig(max_history=6, seed=0)).processor


def build(name, data, seed=0):
    spec = MODEL_REGISTRY[name]
    torch.manual_seed(seed)
    model = spec.model_class(spec.config_class.from_processor(data.processor, **tiny_overrides(name)))
    model.load_item_features(data.processor)
    return model.eval()


def publish(name, data, folder, seed=0):
    model = build(name, data, seed)
    model.save_pretrained(folder)
    data.processor.save_pretrained(folder)
    return model


def old_id_batch(name, model, data):
    """A collated batch of the published data (old IDs only)."""
    task = TASKS[MODEL_REGISTRY[name].task](data, model)
    dataset = task.dataset("test")
    return task.collator()([dataset[i] for i in range(min(16, len(dataset)))])


CTR_AND_NEXT_ITEM = sorted(name for name, spec in MODEL_REGISTRY.items() if spec.task != "seq2seq")


@pytest.mark.parametrize("name", CTR_AND_NEXT_ITEM)
def test_grown_model_keeps_the_published_function_on_known_ids(name, published_data, new_processor):
    published = build(name, published_data)
    processor, counts = published_data.processor.extended_with(new_processor)
    assert counts["items"] > 0 and counts["users"] > 0
    grown = grow_model(published, processor).eval()

    # every vocabulary size follows the grown processor, as a fresh model's config would
    fresh_config = type(published.config).from_processor(processor, **tiny_overrides(name))
    for field in VOCABULARY_SIZE_FIELDS:
        if hasattr(grown.config, field):
            assert getattr(grown.config, field) == getattr(fresh_config, field), field
    assert grown.config.num_items == processor.num_items > published.config.num_items

    batch = old_id_batch(name, published, published_data)
    inputs = {k: v for k, v in batch.items() if k not in ("labels", "label_rows")}
    with torch.no_grad():
        before, after = published(**inputs).logits, grown(**inputs).logits
    if before.dim() == 2:  # next-item: scores of every item; the old ones must not move
        after = after[:, : before.shape[1]]
    torch.testing.assert_close(after, before, rtol=0, atol=1e-6)


def test_grow_copies_old_rows_and_initialises_new_rows_like_the_model(published_data, new_processor):
    published = build("sasrec", published_data)
    processor, _ = published_data.processor.extended_with(new_processor)
    grown = grow_model(published, processor)
    old, new = published.item_embeddings.weight, grown.item_embeddings.weight
    assert torch.equal(new[: old.shape[0]], old)  # bit-identical
    added = new[old.shape[0]:]
    assert added.abs().sum() > 0 and abs(added.std().item() - grown.config.initializer_range) < 0.01
    # FM: one shared table; every field's old rows must land in its new slice
    fm = build("fm", published_data)
    grown_fm = grow_model(fm, processor)
    user_rows = fm.config.num_users
    assert torch.equal(grown_fm.features.embeddings.weight[:user_rows], fm.features.embeddings.weight[:user_rows])
    assert grown_fm.features.total_vocabulary > fm.features.total_vocabulary


def test_finetune_unknown_keeps_vocabularies_and_encodes_new_ids_as_unknown(published_data, tmp_path):
    folder = tmp_path / "published"
    published = publish("bst", published_data, folder)
    saved = RecsysProcessor.from_pretrained(folder)
    log = generate_synthetic_log(**NEW_LOG)
    setup = prepare_finetuning(log, DataConfig(seed=0), MODEL_REGISTRY["bst"], str(folder), "unknown")
    assert setup.processor.item_vocab.tokens == saved.item_vocab.tokens
    assert setup.model.config.num_items == saved.num_items
    frame = setup.data.frame
    is_new = ~frame["item_id"].isin(saved.item_vocab.tokens)
    assert is_new.any() and setup.counts["items"] == frame.loc[is_new, "item_id"].nunique()
    assert (frame.loc[is_new, "item_index"] == 1).all() and (frame.loc[~is_new, "item_index"] > 1).all()
    assert setup.data.sequences.items.max() < saved.num_items
    # new users stay separate sequences, but the model only ever sees index 1 for them
    task = TASKS["ctr"](setup.data, setup.model)
    collate = setup.wrap_collator(task.collator())
    rows = task.dataset("train")
    batch = collate([rows[i] for i in range(len(rows))])
    assert batch["user_ids"].max() < saved.num_users and (batch["user_ids"] == 1).any()

    out = tmp_path / "finetuned"
    run_training(RunConfig(model="bst", output_dir=str(out), init_from=str(folder), unknown_items="unknown",
                           max_steps=2, batch_size=32, synthetic_users=60, synthetic_items=56,
                           disable_tqdm=True, logging_steps=1000))
    assert RecsysProcessor.from_pretrained(out).to_dict()["items"] == saved.item_vocab.tokens
    reloaded = AutoModel.from_pretrained(out)
    assert reloaded.config.num_items == published.config.num_items


def test_unknown_next_items_are_inputs_but_never_targets(published_data, tmp_path):
    folder = tmp_path / "published"
    publish("sasrec", published_data, folder)
    setup = prepare_finetuning(generate_synthetic_log(**NEW_LOG), DataConfig(seed=0), MODEL_REGISTRY["sasrec"],
                               str(folder), "unknown")
    task = TASKS["next_item"](setup.data, setup.model)
    everything = setup.data.sequences.items[np.asarray(PreparedData.next_item_dataset(setup.data, "test")["row"])]
    assert (everything == 1).any()  # some held-out items are new ...
    assert 1 not in task.dataset("test")["target"]  # ... and are not ranked
    collate = setup.wrap_collator(task.collator())
    train = task.dataset("train")
    batch = collate([train[i] for i in range(len(train))])
    assert (batch["history_ids"] == 1).any() and not (batch["labels"] == 1).any()
    setup.model.train()
    assert torch.isfinite(setup.model(**batch).loss)
    test = task.dataset("test")
    setup.model.eval()
    held_out = collate([test[i] for i in range(len(test))])
    with torch.no_grad():
        assert torch.isfinite(setup.model(**{k: v for k, v in held_out.items() if k != "label_rows"}).loss)


def test_init_from_refuses_a_model_of_another_type(published_data, tmp_path):
    folder = tmp_path / "published"
    publish("bst", published_data, folder)
    with pytest.raises(ValueError, match="--model sasrec expects a 'sasrec' model.*holds a 'bst' model"):
        prepare_finetuning(generate_synthetic_log(**NEW_LOG), DataConfig(), MODEL_REGISTRY["sasrec"], str(folder))


def test_a_model_flag_that_contradicts_init_from_is_a_usage_error_before_any_work(published_data, tmp_path, capsys):
    from hf_recsys.cli import run_command

    folder = tmp_path / "published"
    publish("bst", published_data, folder)
    with pytest.raises(SystemExit) as exit_info:
        run_command("train", ["--init-from", str(folder), "--model", "sasrec", "--output-dir", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"error: argument --model: sasrec, but --init-from {folder} holds a bst model; "
                        "pass --model bst or leave --model out (see `hf-recsys train --help`)")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flags, message", [
    # the window is the model's: the flag used to be dropped while the card recorded it
    (["--max-history", "9"], "error: argument --max-history: 9, but --init-from {folder} was trained with history 6, "
                             "which fine-tuning keeps; leave --max-history out"),
    # a shape change used to train with the new layers random, after a multi-line transformers report
    (["--set", "num_layers=3"], "error: --set num_layers=3: changes the shape of the --init-from model"),
])
def test_init_from_refuses_options_it_cannot_honour_in_one_line(flags, message, published_data, tmp_path, capsys):
    from hf_recsys.cli import run_command

    folder = tmp_path / "published"
    publish("sasrec", published_data, folder)
    capsys.readouterr()  # saving's progress bars
    with pytest.raises(SystemExit) as exit_info:
        run_command("train", ["--init-from", str(folder), "--synthetic-users", "40", "--synthetic-items", "40",
                              "--max-steps", "1", "--no-progress", "--output-dir", str(tmp_path / "out"), *flags])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message.format(folder=folder) in err and err.count("\n") == 1 and "LOAD REPORT" not in err
    assert not (tmp_path / "out").exists()


def test_finetune_from_a_hub_published_model_grows_and_recommends_new_items(published_data, tmp_path):
    """Publish to the loopback Hub, fine-tune from ``org/name`` with ``--unknown-items grow``,
    then reload the saved folder and recommend items the published model never knew. The
    learning rate (1e-30: --learning-rate must be > 0) is too small to move a float32 weight, so the
    saved rows are the ones training started from."""
    folder = tmp_path / "published"
    publish("bst", published_data, folder)
    out = tmp_path / "finetuned"
    args = ["--init-from", "org/bst-pub", "--output-dir", str(out), "--max-steps", "2", "--batch-size", "32",
            "--learning-rate", "1e-30", "--synthetic-users", "60", "--synthetic-items", "56", "--no-progress"]
    code = f"""
        import json, torch, hf_recsys
        from hf_recsys.cli import train_main
        from hf_recsys.hub import push_folder_to_hub
        from transformers import AutoModel
        push_folder_to_hub({str(folder)!r}, "org/bst-pub")
        train_main({args!r})
        published = AutoModel.from_pretrained({str(folder)!r})
        model = AutoModel.from_pretrained({str(out)!r})
        processor = hf_recsys.RecsysProcessor.from_pretrained({str(out)!r})
        recs = model.recommend([processor.item_vocab.tokens[:3]], k=processor.num_items)[0]
        old = published.embeddings.item_embeddings.weight
        print(json.dumps({{
            "old_rows_identical": bool(torch.equal(model.embeddings.item_embeddings.weight[: old.shape[0]], old)),
            "published_items": published.config.num_items,
            "num_items": model.config.num_items, "processor_items": processor.num_items,
            "new_items": processor.item_vocab.tokens[published.config.num_items - 2:],
            "recs": recs, "category_rows": model.embeddings.item_category.shape[0],
        }}))
    """
    with FakeHub() as hub:
        env = dict(os.environ, HF_ENDPOINT=hub.endpoint, HF_HOME=str(tmp_path / "hf-home"), HF_TOKEN="hf_test",
                   HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_XET="1")
        env.pop("HF_HUB_OFFLINE", None)
        result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True,
                                text=True, cwd=ROOT, timeout=240)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "--unknown-items grow: appended them" in result.stdout
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["old_rows_identical"]
    assert f"the new log has {len(report['new_items'])} items" in result.stdout and report["new_items"]
    assert report["num_items"] == report["processor_items"] == report["category_rows"] > report["published_items"]
    assert set(report["new_items"]) <= set(report["recs"])  # new raw IDs come back from recommend()


# --------------------------------------------------------------------------- gradient checkpointing
def _gradients(model, batch, checkpointing):
    if checkpointing:
        model.activation_checkpointing_enable()
    else:
        model.activation_checkpointing_disable()
    model.train()
    model.zero_grad()
    calls = []
    hooks = [block.ffn.register_forward_hook(lambda *_: calls.append(1)) for block in model.blocks]
    saved_bytes = []  # what the forward pass keeps for backward

    def keep(tensor):
        saved_bytes.append(tensor.numel() * tensor.element_size())
        return tensor

    torch.manual_seed(7)  # same dropout masks in both runs (checkpoint replays the RNG state)
    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        loss = model(**batch).loss
    forward_calls = len(calls)
    loss.backward()
    for hook in hooks:
        hook.remove()
    gradients = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return gradients, forward_calls, len(calls), sum(saved_bytes)


@pytest.mark.parametrize("name", ["bst", "sasrec"])
def test_gradient_checkpointing_recomputes_blocks_and_gives_the_same_gradients(name, published_data):
    model = build(name, published_data)
    assert model.supports_gradient_checkpointing
    task = TASKS[MODEL_REGISTRY[name].task](published_data, model)
    rows = task.dataset("train")
    batch = task.collator()([rows[i] for i in range(min(32, len(rows)))])
    plain, _, plain_calls, plain_bytes = _gradients(model, batch, checkpointing=False)
    checkpointed, forward_calls, checkpointed_calls, checkpointed_bytes = _gradients(model, batch, checkpointing=True)
    assert model.is_activation_checkpointing
    blocks = len(model.blocks)
    assert plain_calls == forward_calls == blocks
    assert checkpointed_calls == 2 * blocks  # each block ran again in the backward pass
    assert checkpointed_bytes < 0.7 * plain_bytes  # and kept less for it
    assert plain.keys() == checkpointed.keys()
    for key in plain:
        torch.testing.assert_close(checkpointed[key], plain[key], rtol=1e-5, atol=1e-7)


def test_models_without_transformer_blocks_refuse_checkpointing(published_data):
    model = build("din", published_data)
    assert not model.supports_gradient_checkpointing
    with pytest.raises(ValueError, match="does not support activation checkpointing"):
        model.activation_checkpointing_enable()


def test_gradient_checkpointing_flag_reaches_the_model(tmp_path, monkeypatch):
    from hf_recsys.models.modeling_utils import TransformerBlock

    seen = []
    original = TransformerBlock.checkpointed
    monkeypatch.setattr(TransformerBlock, "checkpointed",
                        lambda self, *a: seen.append(self.gradient_checkpointing) or original(self, *a))
    from hf_recsys.cli import train_main

    train_main(["--model", "sasrec", "--output-dir", str(tmp_path / "out"), "--max-steps", "1",
                "--batch-size", "16", "--synthetic-users", "30", "--synthetic-items", "30", "--max-history", "5",
                "--no-progress", "--gradient-checkpointing", "--set", "hidden_size=16", "--set", "num_layers=1"])
    assert seen and seen[0] is True


def test_extended_processor_keeps_every_index_and_takes_new_features_from_the_new_log():
    old_log = generate_synthetic_log(**PUBLISHED_LOG)
    new_log = generate_synthetic_log(**NEW_LOG)
    saved = prepare_data(old_log, DataConfig(max_history=6)).processor
    fitted = prepare_data(new_log, DataConfig(max_history=6)).processor
    grown, counts = saved.extended_with(fitted)
    assert grown.item_vocab.tokens[: len(saved.item_vocab.tokens)] == saved.item_vocab.tokens
    assert np.array_equal(grown.encode_items(saved.item_vocab.tokens), saved.encode_items(saved.item_vocab.tokens))
    new_items = [t for t in fitted.item_vocab.tokens if t not in set(saved.item_vocab.tokens)]
    assert counts["items"] == len(new_items) and grown.item_vocab.tokens[len(saved.item_vocab.tokens):] == new_items
    # known items keep their saved genres, new items bring theirs from the new log
    genres = grown.item_feature_table("genres", max_values=3)
    assert np.array_equal(genres[: saved.num_items], saved.item_feature_table("genres", max_values=3))
    item = new_items[0]
    row = grown.encode_items([item])[0]
    expected = fitted.item_feature_values["genres"][fitted.encode_items([item])[0] - 2][:3]
    assert grown.item_feature_vocabs["genres"].decode(genres[row][genres[row] > 0]) == expected
    # users: same for the profile fields; the old user feature rows are unchanged
    assert np.array_equal(grown.user_feature_matrix()[: saved.num_users], saved.user_feature_matrix())
    assert grown.num_users == saved.num_users + counts["users"]
    # nothing appended when a vocabulary is told not to grow; new IDs then encode to 1
    same_items, _ = saved.extended_with(fitted, items=False, feature_values=False)
    assert same_items.item_vocab.tokens == saved.item_vocab.tokens and same_items.encode_items([item])[0] == 1
    assert same_items.user_feature_vocabs["zip"].tokens == saved.user_feature_vocabs["zip"].tokens


def test_a_grown_processor_falls_back_to_the_new_logs_bestsellers(tmp_path):
    """The popularity fallback returned the first log's top items after fine-tuning (a grown
    vocabulary keeps that log's order), so new items never appeared in it."""
    old_log = generate_synthetic_log(**PUBLISHED_LOG)
    new_log = generate_synthetic_log(**NEW_LOG)
    saved = prepare_data(old_log, DataConfig(max_history=6)).processor
    fitted = prepare_data(new_log, DataConfig(max_history=6)).processor
    grown, _ = saved.extended_with(fitted)
    assert saved.most_frequent_items(5) == saved.item_vocab.tokens[:5]
    assert grown.most_frequent_items(5) == fitted.item_vocab.tokens[:5] != saved.item_vocab.tokens[:5]
    top = fitted.item_vocab.tokens[0]
    assert grown.most_frequent_items(3, exclude=[top]) == fitted.item_vocab.tokens[1:4]
    grown.save_pretrained(tmp_path)
    assert type(grown).from_pretrained(tmp_path).most_frequent_items(5) == fitted.item_vocab.tokens[:5]
    # with the vocabulary kept (--unknown-items unknown): the new log's bestsellers the model knows
    kept, _ = saved.extended_with(fitted, items=False, feature_values=False)
    known = [i for i in fitted.item_vocab.tokens if i in set(saved.item_vocab.tokens)]
    assert kept.most_frequent_items(5) == known[:5]


def test_a_new_log_that_shares_no_item_with_the_model(published_data, tmp_path, caplog):
    """With --unknown-items unknown such a log trained on nothing (loss 0) and wrote NaN metrics."""
    from hf_recsys.data.log import DataFormatError

    folder = tmp_path / "published"
    publish("sasrec", published_data, folder)
    log = generate_synthetic_log(**NEW_LOG)
    log.interactions["item_id"] = "other-" + log.interactions["item_id"]
    with pytest.raises(DataFormatError, match="none of its .* items is known to .*use --unknown-items grow"):
        prepare_finetuning(log, DataConfig(), MODEL_REGISTRY["sasrec"], str(folder), "unknown")
    with caplog.at_level("WARNING", logger="hf_recsys.training.finetune"):
        prepare_finetuning(log, DataConfig(), MODEL_REGISTRY["sasrec"], str(folder), "grow")
    assert "fine-tuning learns every item anew" in caplog.text


def test_a_new_log_without_the_features_the_model_reads_is_named(published_data, tmp_path, caplog):
    """BST reads user profile fields; fine-tuned on a log without them, its new users got the
    unknown value of each with no note. A log that has them gets no warning."""
    folder = tmp_path / "published"
    publish("bst", published_data, folder)
    assert published_data.processor.user_feature_names  # the synthetic log has profiles
    with_features = generate_synthetic_log(**NEW_LOG)
    with caplog.at_level("WARNING", logger="hf_recsys.training.finetune"):
        prepare_finetuning(with_features, DataConfig(), MODEL_REGISTRY["bst"], str(folder), "grow")
    assert "which this log does not have" not in caplog.text
    without = InteractionLog(with_features.interactions.copy(), name="bare")
    with caplog.at_level("WARNING", logger="hf_recsys.training.finetune"):
        prepare_finetuning(without, DataConfig(), MODEL_REGISTRY["bst"], str(folder), "grow")
    names = published_data.processor.user_feature_names
    assert f"bare: the model reads the user features {names}, which this log does not have: its " in caplog.text
