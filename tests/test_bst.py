"""BST: shapes, padding invariance, target dependence, training, save/load, recommend."""

import json
import subprocess
import sys

import pytest
import torch
from transformers import AutoConfig, AutoModel, Trainer, TrainingArguments

import hf_recsys  # noqa: F401
from hf_recsys.models import BSTConfig, BSTForCTR
from hf_recsys.models.modeling_bst import time_gap_buckets


def tiny_model(position_type="learned", **kw):
    torch.manual_seed(0)
    config = BSTConfig(
        num_items=50, num_categories=6, num_users=10, user_feature_sizes=[4, 5], max_history=8,
        item_embedding_dim=8, category_embedding_dim=8, num_heads=4, ffn_dim=32,
        mlp_hidden_sizes=[16], position_type=position_type, **kw,
    )
    model = BSTForCTR(config)
    model.embeddings.item_category.copy_(torch.arange(50) % 6)
    return model.eval()


def batch(history_rows, targets, times=False):
    ids = torch.tensor(history_rows)
    out = {"history_ids": ids, "history_mask": ids != 0, "target_ids": torch.tensor(targets),
           "user_features": torch.tensor([[1, 2]] * len(targets))}
    if times:
        out["history_times"] = torch.arange(ids.shape[1]).expand_as(ids) * 3600 * (ids != 0)
        out["target_times"] = torch.full((len(targets),), ids.shape[1] * 3600)
    return out


def test_logits_shape_and_loss():
    model = tiny_model()
    out = model(**batch([[0, 0, 3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14, 15, 16]], [20, 21]),
                labels=torch.tensor([1.0, 0.0]))
    assert out.logits.shape == (2,)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(out.logits, torch.tensor([1.0, 0.0]))
    assert torch.allclose(out.loss, expected)


@pytest.mark.parametrize("position_type", ["learned", "none"])
def test_left_right_and_no_padding_give_the_same_score(position_type):
    model = tiny_model(position_type)
    left = batch([[0, 0, 0, 0, 0, 3, 4, 5]], [9])
    right = batch([[3, 4, 5, 0, 0, 0, 0, 0]], [9])
    unpadded = {**batch([[3, 4, 5]], [9])}
    with torch.no_grad():
        a, b, c = (model(**x).logits for x in (left, right, unpadded))
    assert torch.allclose(a, b, atol=1e-5) and torch.allclose(a, c, atol=1e-5)


def test_padded_positions_content_is_ignored():
    model = tiny_model()
    x = batch([[0, 0, 0, 0, 0, 3, 4, 5]], [9])
    y = dict(x)
    y["history_ids"] = torch.tensor([[17, 18, 19, 20, 21, 3, 4, 5]])  # garbage under the mask
    with torch.no_grad():
        assert torch.allclose(model(**x).logits, model(**y).logits, atol=1e-6)


def test_score_depends_on_target_and_on_history():
    model = tiny_model()
    with torch.no_grad():
        base = model(**batch([[0, 0, 0, 0, 0, 3, 4, 5]], [9])).logits
        other_target = model(**batch([[0, 0, 0, 0, 0, 3, 4, 5]], [30])).logits
        other_history = model(**batch([[0, 0, 0, 0, 0, 33, 34, 35]], [9])).logits
    assert not torch.allclose(base, other_target)
    assert not torch.allclose(base, other_history)


def test_time_gap_positions_use_time_and_need_it():
    assert time_gap_buckets(torch.tensor([0, 59, 60, 3600, 10**9]), 10).tolist() == [1, 1, 2, 6, 9]
    model = tiny_model("time_gap")
    x = batch([[0, 0, 3, 4, 5, 6, 7, 8]], [9], times=True)
    with pytest.raises(ValueError, match="history_times"):
        model(**batch([[0, 0, 3, 4, 5, 6, 7, 8]], [9]))
    y = dict(x)
    y["history_times"] = x["history_times"] // 100  # same order, different gaps
    with torch.no_grad():
        assert not torch.allclose(model(**x).logits, model(**y).logits)


def test_training_lowers_the_loss(tiny_data, tmp_path):
    from hf_recsys.training.tasks import CTRTask

    config = BSTConfig.from_processor(tiny_data.processor, item_embedding_dim=8, category_embedding_dim=8,
                                      num_heads=2, ffn_dim=32, mlp_hidden_sizes=[32], dropout=0.0)
    model = BSTForCTR(config)
    model.load_item_features(tiny_data.processor)
    task = CTRTask(tiny_data, model)
    collate = task.collator()
    train = task.dataset("train")
    probe = collate([train[i] for i in range(len(train))])
    with torch.no_grad():
        before = model(**probe).loss.item()
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=64, num_train_epochs=4,
                             learning_rate=5e-3, save_strategy="no", report_to="none", use_cpu=True,
                             remove_unused_columns=False, disable_tqdm=True, seed=0)
    Trainer(model=model, args=args, train_dataset=train, data_collator=collate).train()
    model.eval()
    with torch.no_grad():
        after = model(**probe).loss.item()
    assert after < before - 0.05


def test_save_then_automodel_gives_identical_logits(tmp_path):
    model = tiny_model()
    x = batch([[0, 0, 3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14, 15, 16]], [20, 21])
    model.save_pretrained(tmp_path)
    assert AutoConfig.from_pretrained(tmp_path).model_type == "bst"
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    assert isinstance(loaded, BSTForCTR)
    assert torch.equal(loaded.embeddings.item_category, model.embeddings.item_category)
    with torch.no_grad():
        assert torch.equal(model(**x).logits, loaded(**x).logits)
    # and in a fresh Python process, after only `import hf_recsys`
    with torch.no_grad():
        expected = model(**x).logits.tolist()
    code = (
        "import sys, json, torch, hf_recsys; from transformers import AutoModel\n"
        f"m = AutoModel.from_pretrained({str(tmp_path)!r}).eval()\n"
        "ids = torch.tensor([[0,0,3,4,5,6,7,8],[9,10,11,12,13,14,15,16]])\n"
        "out = m(history_ids=ids, history_mask=ids != 0, target_ids=torch.tensor([20, 21]),"
        " user_features=torch.tensor([[1, 2], [1, 2]])).logits\n"
        "print(json.dumps(out.tolist()))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected


def test_recommend_takes_and_returns_raw_ids(tiny_data, tmp_path):
    processor = tiny_data.processor
    config = BSTConfig.from_processor(processor, item_embedding_dim=8, category_embedding_dim=8, num_heads=2,
                                      ffn_dim=16, mlp_hidden_sizes=[8])
    model = BSTForCTR(config)
    model.load_item_features(processor)
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    loaded = AutoModel.from_pretrained(tmp_path)
    history = processor.item_vocab.tokens[:5]
    recs = loaded.recommend([history], k=7)[0]
    assert len(recs) == 7 and len(set(recs)) == 7
    assert all(r in processor.item_vocab.tokens for r in recs)
    assert not set(recs) & set(history)  # seen items excluded by default
    scored = loaded.recommend([history], k=3, exclude_seen=False, return_scores=True)[0]
    assert [s for _, s in scored] == sorted([s for _, s in scored], reverse=True)


def test_processor_targets_feed_the_model_and_match_recommend(tiny_data):
    """``model(**processor(histories))`` failed on a CTR model: the processor took no targets."""
    processor = tiny_data.processor
    model = BSTForCTR(BSTConfig.from_processor(
        processor, item_embedding_dim=8, category_embedding_dim=8, num_heads=2, ffn_dim=16, mlp_hidden_sizes=[8])).eval()
    model.load_item_features(processor)
    history = processor.item_vocab.tokens[:5]
    scored = dict(model.recommend([history], k=4, exclude_seen=False, return_scores=True, processor=processor)[0])
    candidates = list(scored)
    with torch.no_grad():
        logits = model(**processor([history] * len(candidates), targets=candidates)).logits
    assert torch.allclose(logits, torch.tensor([scored[c] for c in candidates]), atol=1e-4)
    with pytest.raises(ValueError, match="one raw item ID per history"):
        processor([history], targets="x")

