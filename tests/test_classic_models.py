"""The chapter's classic CTR models on the shared feature layer: LR, NCF, feature-MLP, CNN, FM,
FNN, Wide & Deep, DeepFM, AFM.

Per model: shapes, a short training run whose loss falls, save -> AutoModel -> same logits,
recommend(); then one property particular to each model, checked against a hand computation.
"""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModel

import hf_recsys  # noqa: F401  (registers the models)
from hf_recsys.models import MODEL_REGISTRY, FeatureCTRConfig, FeatureEmbedding, FMConfig, FMForCTR, FNNConfig, FNNForCTR
from hf_recsys.models.feature_layers import FeatureBatch, fm_pairwise
from hf_recsys.models.modeling_cnn import ccpm_pooling_sizes, k_max_pooling
from hf_recsys.models.modeling_widedeep import HASH_MULTIPLIER
from hf_recsys.training.collators import CTRCollator

CLASSIC = ["lr", "ncf", "featuremlp", "cnn", "fm", "fnn", "widedeep", "deepfm", "afm"]
SMALL = {
    "lr": {},
    "ncf": {"gmf_dim": 8, "mlp_embedding_dim": 8, "mlp_hidden_sizes": [16, 8]},
    "featuremlp": {"embedding_dim": 8, "mlp_hidden_sizes": [16], "dropout": 0.0},
    "cnn": {"embedding_dim": 8, "conv_channels": [4, 4], "mlp_hidden_sizes": [16], "dropout": 0.0},
    "fm": {"embedding_dim": 8},
    "fnn": {"embedding_dim": 8, "mlp_hidden_sizes": [16], "dropout": 0.0},
    "widedeep": {"embedding_dim": 8, "mlp_hidden_sizes": [16], "dropout": 0.0, "wide_hash_size": 4096},
    "deepfm": {"embedding_dim": 8, "mlp_hidden_sizes": [16], "dropout": 0.0},
    "afm": {"embedding_dim": 8, "attention_dim": 8, "dropout": 0.0},
}


def build(name: str, processor, seed: int = 0, **overrides):
    torch.manual_seed(seed)
    spec = MODEL_REGISTRY[name]
    config = spec.config_class.from_processor(processor, **{**SMALL[name], **overrides})
    model = spec.model_class(config)
    model.load_item_features(processor)
    return model


@pytest.fixture(scope="module")
def processor(tiny_data):
    return tiny_data.processor


@pytest.fixture(scope="module")
def batch(tiny_data):
    """128 training samples (both labels) as the CTR collator gives them."""
    processor = tiny_data.processor
    collator = CTRCollator(tiny_data.sequences, 10, user_feature_matrix=processor.user_feature_matrix())
    dataset = tiny_data.ctr_dataset("train")
    return collator([dataset[i] for i in range(128)])


def feature_batch(batch, **changes) -> FeatureBatch:
    inputs = dict(
        target_ids=batch["target_ids"], user_ids=batch["user_ids"], user_features=batch["user_features"],
        history_ids=batch["history_ids"], history_mask=batch["history_mask"],
    )
    return FeatureBatch(**{**inputs, **changes})


def without_labels(batch):
    return {k: v for k, v in batch.items() if k != "labels"}


# --------------------------------------------------------------------------- every model
def test_every_classic_model_is_registered_for_the_ctr_task():
    for name in CLASSIC:
        spec = MODEL_REGISTRY[name]
        assert spec.task == "ctr" and spec.config_class.model_type == name


@pytest.mark.parametrize("name", CLASSIC)
def test_shapes_and_loss(name, processor, batch):
    model = build(name, processor)
    out = model(**batch)
    assert out.logits.shape == (128,)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(out.logits, batch["labels"])
    assert torch.allclose(out.loss, expected)
    assert model(**without_labels(batch)).loss is None


@pytest.mark.parametrize("name", CLASSIC)
def test_loss_falls_in_a_short_training_run(name, processor, batch):
    model = build(name, processor).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(20):
        loss = model(**batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-3:]) / 3 < 0.85 * losses[0], losses


@pytest.mark.parametrize("name", CLASSIC)
def test_save_and_auto_model_reload_give_identical_logits(name, processor, batch, tmp_path):
    model = build(name, processor).eval()
    with torch.no_grad():
        if hasattr(model, "bias"):
            model.bias.fill_(0.3)  # a trained-looking value, not the zero a fresh init gives
        expected = model(**without_labels(batch)).logits
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == name
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    assert type(loaded) is type(model)
    with torch.no_grad():
        assert torch.equal(loaded(**without_labels(batch)).logits, expected)
    # the item field tables travel in the weights: the loaded model needs no processor
    for ours, theirs in zip(model.modules(), loaded.modules()):
        if isinstance(ours, FeatureEmbedding) and ours.num_item_fields:
            assert theirs.item_feature_table.abs().sum() > 0
            assert torch.equal(ours.item_feature_table, theirs.item_feature_table)


@pytest.mark.parametrize("name", CLASSIC)
def test_recommend_returns_unseen_raw_item_ids(name, processor, tiny_log):
    model = build(name, processor)
    user = tiny_log.interactions["user_id"].iloc[0]
    history = tiny_log.interactions.query("user_id == @user")["item_id"].tolist()[:5]
    ranked = model.recommend([history], users=[user], k=5, processor=processor)[0]
    assert len(ranked) == 5 and not set(ranked) & set(history)
    assert all(item in processor.item_vocab.tokens for item in ranked)


def test_an_unknown_user_is_named_as_scored_anonymous(processor, tiny_log, caplog):
    """An unknown user was scored as the anonymous one without a word (unknown items are named)."""
    model = build("deepfm", processor)
    user = tiny_log.interactions["user_id"].iloc[0]
    history = tiny_log.interactions.query("user_id == @user")["item_id"].tolist()[:5]
    with caplog.at_level("WARNING"):
        model.recommend([history, history, history], users=[user, "nobody", None], k=3, processor=processor)
    assert "1 user(s) are not known to the model and are scored as the anonymous user: nobody" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        model.recommend([history], users=[user], k=3, processor=processor)
    assert "not known" not in caplog.text


# --------------------------------------------------------------------------- the feature layer
def test_field_layout_follows_the_processor(processor):
    config = FeatureCTRConfig.from_processor(processor)
    assert config.field_names == ["user_id", "gender", "age", "occupation", "zip", "item_id", "genres"]
    assert config.item_feature_sizes == [processor.item_feature_size("genres")]
    longest = max(len(values) for values in processor.item_feature_values["genres"])
    assert config.item_feature_max_values == [longest] and longest > 1  # genres are multi-hot here


def test_multi_hot_field_is_the_mean_of_its_values_and_ignores_padding(processor, batch):
    config = FeatureCTRConfig.from_processor(processor, embedding_dim=4)
    torch.manual_seed(0)
    layer = FeatureEmbedding(config)
    layer.load_item_features(processor)
    fields = layer(feature_batch(batch))
    assert fields.embeddings.shape == (128, config.num_fields, 4) and fields.first_order.shape == (128, config.num_fields)
    genres = torch.as_tensor(processor.item_feature_table("genres", max_values=config.item_feature_max_values[0]))
    offset = layer.item_value_offsets[0]
    checked_multi = False
    for row, target in enumerate(batch["target_ids"].tolist()):
        values = [v for v in genres[target].tolist() if v != 0]
        checked_multi |= len(values) > 1
        expected = layer.embeddings.weight[torch.tensor(values) + offset].mean(0)
        assert torch.allclose(fields.embeddings[row, -1], expected, atol=1e-6)
        expected_weight = layer.first_order.weight[torch.tensor(values) + offset, 0].mean()
        assert torch.allclose(fields.first_order[row, -1], expected_weight, atol=1e-6)
    assert checked_multi
    # the user ID field reads the user's row; padding (0) embeds to zeros
    assert torch.equal(fields.embeddings[:, 0], layer.embeddings.weight[batch["user_ids"]])
    padded = layer(feature_batch(batch, user_ids=torch.zeros_like(batch["user_ids"])))
    assert torch.equal(padded.embeddings[:, 0], torch.zeros_like(padded.embeddings[:, 0]))


def test_history_and_numeric_fields(processor, batch):
    config = FeatureCTRConfig.from_processor(processor, embedding_dim=4, use_history=True, numeric_feature_names=["x"])
    assert config.field_names[-2:] == ["history", "x"]
    torch.manual_seed(0)
    layer = FeatureEmbedding(config)
    layer.load_item_features(processor)
    numeric = torch.rand(128, 1)
    fields = layer(feature_batch(batch, numeric_features=numeric))
    assert fields.embeddings.shape == (128, config.num_fields, 4)
    item_offset = layer.single_offsets[config.field_names.index("item_id")]
    for row in range(4):
        items = batch["history_ids"][row][batch["history_mask"][row]]
        expected = layer.embeddings.weight[items + item_offset].mean(0)  # shares the item ID table
        assert torch.allclose(fields.embeddings[row, -2], expected, atol=1e-6)
    assert torch.allclose(fields.embeddings[:, -1], numeric * layer.numeric_vectors[0])
    assert torch.allclose(fields.first_order[:, -1], numeric[:, 0] * layer.numeric_weights[0])
    with pytest.raises(ValueError, match="numeric"):
        layer(feature_batch(batch))


def test_missing_user_inputs_fall_back_to_unknown(processor, batch):
    model = build("deepfm", processor).eval()
    logits = model(target_ids=batch["target_ids"]).logits
    assert logits.shape == (128,) and torch.isfinite(logits).all()


# --------------------------------------------------------------------------- model properties
def test_lr_is_bias_plus_first_order_weights(processor, batch):
    model = build("lr", processor)
    assert model.features.embeddings is None  # no factors at all
    fields = model.features(feature_batch(batch))
    assert fields.embeddings is None
    logits = model(**without_labels(batch)).logits
    assert torch.allclose(logits, model.bias + fields.first_order.sum(1))


def test_fm_pairwise_term_equals_the_explicit_double_sum(processor, batch):
    model = build("fm", processor)
    fields = model.features(feature_batch(batch))
    v = fields.embeddings
    explicit = sum((v[:, i] * v[:, j]).sum(-1) for i in range(v.shape[1]) for j in range(i + 1, v.shape[1]))
    assert torch.allclose(fm_pairwise(v), explicit, atol=1e-6)
    expected = model.bias + fields.first_order.sum(1) + explicit
    assert torch.allclose(model(**without_labels(batch)).logits, expected, atol=1e-6)


def test_afm_attention_is_a_softmax_over_every_pair_and_depends_on_the_input(processor, batch):
    model = build("afm", processor).eval()
    with torch.no_grad():  # trained-size embeddings: at init (std 0.02) every pair scores ~0
        model.features.embeddings.weight.mul_(50.0)
    out = model(**without_labels(batch), output_attentions=True)
    num_fields = model.config.num_fields
    pairs = num_fields * (num_fields - 1) // 2
    assert out.attention_weights.shape == (128, pairs) and len(model.pair_names()) == pairs
    assert torch.allclose(out.attention_weights.sum(-1), torch.ones(128), atol=1e-6)
    assert (out.attention_weights > 0).all()
    other_items = batch["target_ids"].roll(1)
    changed = model(**{**without_labels(batch), "target_ids": other_items}, output_attentions=True)
    assert not torch.allclose(changed.attention_weights, out.attention_weights)
    assert model(**without_labels(batch)).attention_weights is None  # only when asked (Trainer eval)
    # hand computation of the logit from the pair weights
    fields = model.features(feature_batch(batch))
    left, right = zip(*[(i, j) for i in range(num_fields) for j in range(i + 1, num_fields)])
    interactions = fields.embeddings[:, list(left)] * fields.embeddings[:, list(right)]
    pooled = (out.attention_weights.unsqueeze(-1) * interactions).sum(1)
    expected = model.bias + fields.first_order.sum(1) + pooled @ model.projection.weight[0]
    assert torch.allclose(out.logits, expected, atol=1e-5)


def test_wide_part_sees_the_cross_features(processor, batch):
    model = build("widedeep", processor, wide_cross_pairs=[["gender", "genres"]])
    gender_column = model.config.field_names.index("gender")
    features = batch["user_features"]
    with torch.no_grad():
        model.cross_weights.weight.zero_()
        # weight 1 on the single cross "gender = g AND genre = c" of the first sample
        gender = int(features[0, gender_column - 1])
        genre = int(model.features.item_feature_table[batch["target_ids"][0], 0])
        cross_id = gender * processor.item_feature_size("genres") + genre
        model.cross_weights.weight[(cross_id * HASH_MULTIPLIER) % model.config.wide_hash_size] = 1.0
    wide = model.wide_cross_logits(feature_batch(batch))
    assert wide[0] == 1.0
    # flipping the crossed user field moves the cross (and so the wide logit) elsewhere
    flipped = features.clone()
    flipped[:, gender_column - 1] = torch.where(flipped[:, gender_column - 1] == 2, 3, 2)
    assert model.wide_cross_logits(feature_batch(batch, user_features=flipped))[0] == 0.0
    # a field that is not crossed does not touch the cross part
    other = features.clone()
    other[:, 1] = 1 + (other[:, 1] % 5)  # the age column
    assert torch.equal(model.wide_cross_logits(feature_batch(batch, user_features=other)), wide)
    # the default crosses every profile field with every item field
    default = build("widedeep", processor)
    assert len(default.cross_left) == len(processor.user_feature_sizes) * model.config.item_feature_max_values[0]
    with pytest.raises(ValueError, match="cannot cross"):
        build("widedeep", processor, wide_cross_pairs=[["gender", "nope"]])


def test_neumf_combines_gmf_and_mlp(processor, batch):
    neumf = build("ncf", processor, variant="neumf").eval()
    assert neumf.config.field_names == ["user_id", "item_id"]  # IDs only, as in the paper
    inputs = feature_batch(batch)
    gmf, mlp = neumf.ncf_vectors(inputs)
    logits = neumf(**without_labels(batch)).logits
    assert torch.allclose(logits, neumf.predict(torch.cat([gmf, mlp], dim=-1)).squeeze(-1))
    user = neumf.gmf_features.embeddings.weight[batch["user_ids"]]
    item_offset = neumf.gmf_features.single_offsets[1]
    item = neumf.gmf_features.embeddings.weight[batch["target_ids"] + item_offset]
    assert torch.allclose(gmf, user * item)
    # with the MLP half of the last layer zeroed, NeuMF is exactly a GMF with the same weights
    gmf_only = build("ncf", processor, variant="gmf").eval()
    with torch.no_grad():
        gmf_only.gmf_features.load_state_dict(neumf.gmf_features.state_dict())
        gmf_only.predict.weight.copy_(neumf.predict.weight[:, : neumf.config.gmf_dim])
        gmf_only.predict.bias.copy_(neumf.predict.bias)
        neumf.predict.weight[:, neumf.config.gmf_dim :] = 0.0
        assert torch.allclose(neumf(**without_labels(batch)).logits, gmf_only(**without_labels(batch)).logits, atol=1e-6)
    # side features are an option: then the user vector sums the profile fields too
    with_side = build("ncf", processor, use_user_features=True, use_item_features=True)
    assert with_side.config.num_fields == 7


def test_fnn_from_fm_copies_its_embeddings(processor, batch, tmp_path):
    fm = build("fm", processor, seed=1)
    fnn = FNNForCTR.from_fm(fm, mlp_hidden_sizes=[16])
    assert isinstance(fnn.config, FNNConfig) and fnn.config.field_names == fm.config.field_names
    for key, value in fm.features.state_dict().items():
        assert torch.equal(fnn.features.state_dict()[key], value), key
    fm_fields, fnn_fields = fm.features(feature_batch(batch)), fnn.features(feature_batch(batch))
    assert torch.equal(fm_fields.embeddings, fnn_fields.embeddings)
    # the same through the config path the command line uses (--set init_from_fm=PATH)
    fm.save_pretrained(tmp_path / "fm")
    from_path = build("fnn", processor, init_from_fm=str(tmp_path / "fm"))
    assert torch.equal(from_path.features.embeddings.weight, fm.features.embeddings.weight)
    assert torch.equal(from_path.features.first_order.weight, fm.features.first_order.weight)
    assert not torch.equal(build("fnn", processor).features.embeddings.weight, fm.features.embeddings.weight)
    with pytest.raises(ValueError, match="embedding_dim"):
        build("fnn", processor, embedding_dim=4).copy_fm_embeddings(fm)


def test_deepfm_is_an_fm_plus_a_deep_part_on_the_same_embeddings(processor, batch):
    deepfm = build("deepfm", processor).eval()
    fm = FMForCTR(FMConfig.from_processor(processor, embedding_dim=deepfm.config.embedding_dim))
    with torch.no_grad():
        fm.features.load_state_dict(deepfm.features.state_dict())
        fm.bias.copy_(deepfm.bias)
        last = deepfm.deep.layers[-1]
        deep = deepfm.deep(deepfm.features(feature_batch(batch)).embeddings.flatten(1)).squeeze(-1)
        assert torch.allclose(deepfm(**without_labels(batch)).logits, fm(**without_labels(batch)).logits + deep, atol=1e-5)
        last.weight.zero_()
        last.bias.zero_()
        assert torch.allclose(deepfm(**without_labels(batch)).logits, fm(**without_labels(batch)).logits, atol=1e-6)


def test_cnn_k_max_pooling_keeps_order_and_pooling_sizes_follow_ccpm():
    x = torch.tensor([[3.0, 1.0, 5.0, 2.0, 4.0]])
    assert torch.equal(k_max_pooling(x, 3, dim=1), torch.tensor([[3.0, 5.0, 4.0]]))
    assert ccpm_pooling_sizes(7, 2, 3) == [4, 3]  # p_1 = ceil((1 - (1/2)^1) * 7), p_l = 3
    assert ccpm_pooling_sizes(7, 3, 3) == [7, 3, 3]  # ceil(8/9 * 7), ceil(1/3 * 7), 3


def test_cnn_depends_on_the_order_of_neighbouring_fields(processor, batch):
    model = build("cnn", processor).eval()
    swapped = batch["user_features"][:, [1, 0, 2, 3]]  # swap gender and age values between columns
    with torch.no_grad():
        assert not torch.allclose(model(**without_labels(batch)).logits,
                                  model(**{**without_labels(batch), "user_features": swapped}).logits)


# --------------------------------------------------------------------------- the command-line path
def test_two_stage_fm_then_fnn_through_run_training(tmp_path):
    from hf_recsys.training.run import RunConfig, run_training

    common = dict(synthetic_users=80, synthetic_items=96, max_history=10, max_steps=4, batch_size=64,
                  eval_each_epoch=False, logging_steps=100, disable_tqdm=True)
    fm_metrics = run_training(RunConfig(model="fm", output_dir=str(tmp_path / "fm"), **common))
    assert 0.0 <= fm_metrics["eval_auc"] <= 1.0 and "eval_popularity_auc" in fm_metrics
    fnn_metrics = run_training(RunConfig(model="fnn", output_dir=str(tmp_path / "fnn"),
                                         model_overrides={"init_from_fm": str(tmp_path / "fm")}, **common))
    assert "eval_logloss" in fnn_metrics and "eval_gauc" in fnn_metrics
    loaded = AutoModel.from_pretrained(tmp_path / "fnn")
    assert isinstance(loaded, FNNForCTR) and loaded.config.init_from_fm == str(tmp_path / "fm")

