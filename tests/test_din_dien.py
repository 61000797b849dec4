"""DIN, DIEN and the sum-pooling baseline: attention, padding invariance, the fused GRU,
the auxiliary loss, Dice, history negatives, training, save/load and recommend."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModel

import hf_recsys  # noqa: F401
from hf_recsys.models import DIENConfig, DIENForCTR, DINConfig, DINForCTR, SumPoolConfig, SumPoolForCTR
from hf_recsys.models.modeling_dien import GRUSequenceFunction, InterestGRU, pack_histories
from hf_recsys.models.modeling_utils import Dice
from hf_recsys.training.collators import CTRCollator, sample_history_negatives


@pytest.fixture(autouse=True)
def single_thread():
    """These tiny models run hundreds of small ops a step; on a loaded 2-core machine an
    OpenMP team of 2 waits for a descheduled thread in every parallel region (measured: 2 ms
    -> 440 ms per step), so the tests run single-threaded and restore the setting after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


SIZES = dict(num_items=40, num_categories=6, num_users=10, user_feature_sizes=[4, 5], max_history=8,
             item_embedding_dim=8, category_embedding_dim=8, mlp_hidden_sizes=[16])


def tiny(model_class, config_class, **overrides):
    torch.manual_seed(0)
    config = config_class(**{**SIZES, **overrides})
    model = model_class(config)
    model.embeddings.load_category_table(torch.arange(40) % 6)
    return model.eval()


def tiny_din(**kw):
    return tiny(DINForCTR, DINConfig, attention_hidden_sizes=[12, 6], **kw)


def tiny_dien(**kw):
    return tiny(DIENForCTR, DIENConfig, attention_hidden_sizes=[12], aux_hidden_sizes=[12], **kw)


def batch(rows, targets, negatives=None):
    ids = torch.tensor(rows)
    out = {"history_ids": ids, "history_mask": ids != 0, "target_ids": torch.tensor(targets),
           "user_features": torch.tensor([[1, 2], [3, 4], [2, 2]][: len(targets)])}
    if negatives is not None:
        out["history_negatives"] = torch.tensor(negatives)
    return out


LEFT = [[0, 0, 0, 3, 4, 5, 6, 7], [0, 0, 0, 0, 0, 0, 9, 10], [11, 12, 13, 14, 15, 16, 17, 18]]
RIGHT = [[3, 4, 5, 6, 7, 0, 0, 0], [9, 10, 0, 0, 0, 0, 0, 0], [11, 12, 13, 14, 15, 16, 17, 18]]
NEG_LEFT = [[0, 0, 0, 20, 21, 22, 23, 24], [0, 0, 0, 0, 0, 0, 25, 26], [27, 28, 29, 30, 31, 32, 33, 34]]
NEG_RIGHT = [[20, 21, 22, 23, 24, 0, 0, 0], [25, 26, 0, 0, 0, 0, 0, 0], [27, 28, 29, 30, 31, 32, 33, 34]]
TARGETS = [20, 21, 22]


def with_garbage_under_mask(x):
    """The same batch with nonzero item ids at the masked positions."""
    y = dict(x)
    mask = x["history_mask"]
    y["history_ids"] = torch.where(mask, x["history_ids"], torch.full_like(x["history_ids"], 37))
    if "history_negatives" in x:
        y["history_negatives"] = torch.where(mask, x["history_negatives"], torch.full_like(mask, 38, dtype=torch.long))
    return y


# --------------------------------------------------------------------------------- DIN
def test_din_attention_depends_on_the_target_and_ignores_padding():
    model = tiny_din()
    with torch.no_grad():
        out = model(**batch(LEFT, TARGETS))
        other = model(**batch(LEFT, [30, 31, 32]))
    weights = out.attention_weights
    assert weights.shape == (3, 8)
    assert torch.all(weights[torch.tensor(LEFT) == 0] == 0)
    assert not torch.allclose(weights, other.attention_weights)
    assert not torch.allclose(out.logits, other.logits)


@pytest.mark.parametrize("normalization", ["none", "softmax"])
def test_din_padding_invariance(normalization):
    model = tiny_din(attention_normalization=normalization)
    left = batch(LEFT, TARGETS)
    with torch.no_grad():
        reference = model(**left)
        right = model(**batch(RIGHT, TARGETS))
        garbage = model(**with_garbage_under_mask(left))
        unpadded = model(**{**batch([LEFT[1][-2:]], [TARGETS[1]]), "user_features": torch.tensor([[3, 4]])})
    assert torch.allclose(reference.logits, right.logits, atol=1e-6)
    assert torch.allclose(reference.logits, garbage.logits, atol=1e-6)
    assert torch.allclose(reference.logits[1], unpadded.logits[0], atol=1e-6)
    if normalization == "softmax":
        assert torch.allclose(reference.attention_weights.sum(1), torch.ones(3))
    else:  # the paper's raw weights: no reason to sum to one
        assert not torch.allclose(reference.attention_weights.sum(1), torch.ones(3))


def test_din_activation_unit_equals_the_concatenated_form():
    model = tiny_din()
    unit = model.attention
    query = torch.randn(3, 16, requires_grad=True)
    keys = torch.randn(7, 16, requires_grad=True)
    rows = torch.tensor([0, 0, 1, 2, 2, 2, 2])
    fast = unit(query, keys, rows)
    slow = unit.reference_forward(query, keys, rows)
    assert torch.allclose(fast, slow, atol=1e-6)
    fast_grads = torch.autograd.grad(fast.square().sum(), [query, keys, unit.first.weight])
    slow_grads = torch.autograd.grad(slow.square().sum(), [query, keys, unit.first.weight])
    for a, b in zip(fast_grads, slow_grads):
        assert torch.allclose(a, b, atol=1e-5)


# --------------------------------------------------------------------------------- Dice
def test_dice_keeps_running_statistics_and_differs_between_train_and_eval():
    torch.manual_seed(0)
    dice = Dice(4)
    dice.alpha.data.fill_(0.3)
    x = torch.randn(64, 4) * 3 + 2
    dice.train()
    train_out = dice(x)
    assert torch.allclose(dice.batch_norm.running_mean, 0.1 * x.mean(0), atol=1e-5)
    assert int(dice.batch_norm.num_batches_tracked) == 1
    dice.eval()
    eval_out = dice(x)
    assert not torch.allclose(train_out, eval_out)
    # eval uses the running statistics: p = sigmoid((x - mean) / sqrt(var + eps))
    mean, var = dice.batch_norm.running_mean, dice.batch_norm.running_var
    p = torch.sigmoid((x - mean) / torch.sqrt(var + dice.batch_norm.eps))
    assert torch.allclose(eval_out, p * x + (1 - p) * 0.3 * x, atol=1e-5)
    before = dice.batch_norm.running_mean.clone()
    dice(x)
    assert torch.equal(before, dice.batch_norm.running_mean)  # eval does not update them


# --------------------------------------------------------------------------------- the GRU
def padded_reference(gru, inputs, mask, scale=None):
    """``inputs`` ``[B, L, D]`` -> states ``[B, L, H]`` from the plain, masked recurrence."""
    step_scale = None if scale is None else scale.transpose(0, 1)
    return gru.reference_forward(inputs.transpose(0, 1), mask.t(), step_scale).transpose(0, 1)


@pytest.mark.parametrize("has_update_gate", [True, False])
def test_packed_gru_matches_the_masked_recurrence_and_ignores_padding(has_update_gate):
    torch.manual_seed(0)
    gru = InterestGRU(5, 5, has_update_gate=has_update_gate).double()
    mask = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0], [1, 0, 1, 1, 0, 1]]).bool()
    inputs = torch.randn(4, 6, 5, dtype=torch.double)
    scale = torch.rand(4, 6, 1, dtype=torch.double)
    packing = pack_histories(mask)
    states = gru(packing.gather(inputs), packing, step_scale=packing.gather(scale))
    reference = padded_reference(gru, inputs, mask, scale)
    assert torch.allclose(states, packing.gather(reference), atol=1e-12)
    final = gru(packing.gather(inputs), packing, step_scale=packing.gather(scale), return_all=False)
    assert torch.allclose(final.index_select(0, packing.inverse_order), reference[:, -1], atol=1e-12)
    assert torch.all(final.index_select(0, packing.inverse_order)[2] == 0)  # empty history
    # padded steps change nothing: the reference with garbage inputs under the mask agrees
    noisy = torch.where(mask.unsqueeze(-1), inputs, torch.randn_like(inputs))
    assert torch.allclose(padded_reference(gru, noisy, mask, scale)[mask], reference[mask], atol=1e-12)


@pytest.mark.parametrize("has_update_gate,with_scale,return_all",
                         [(True, False, True), (True, True, False), (False, True, True), (False, True, False)])
def test_fused_gru_backward_passes_gradcheck(has_update_gate, with_scale, return_all):
    torch.manual_seed(0)
    mask = torch.tensor([[0, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 1]]).bool()
    packing = pack_histories(mask)
    gates = 3 if has_update_gate else 2
    hidden = 3
    args = (
        torch.randn(int(mask.sum()), gates * hidden, dtype=torch.double, requires_grad=True),
        torch.randn(gates * hidden, hidden, dtype=torch.double, requires_grad=True),
        torch.randn(gates * hidden, dtype=torch.double, requires_grad=True),
        torch.rand(int(mask.sum()), 1, dtype=torch.double, requires_grad=True) if with_scale else None,
    )

    def run(*inputs):
        return GRUSequenceFunction.apply(*inputs, packing.steps, packing.previous_slot, 3, has_update_gate, return_all)

    assert torch.autograd.gradcheck(run, args)


def test_augru_with_attention_one_is_a_plain_gru_step():
    torch.manual_seed(0)
    hidden = 4
    gru = InterestGRU(3, hidden).double()
    x = torch.randn(2, 3, dtype=torch.double)  # one sequence of two steps
    packing = pack_histories(torch.ones(1, 2, dtype=torch.bool))
    states = gru(x, packing, step_scale=torch.ones(2, 1, dtype=torch.double))

    # by hand, the paper's convention (gate rows ordered update, reset, candidate)
    w_u, w_r, w_n = gru.weight_ih.split(hidden)
    b_u, b_r, b_n = gru.bias_ih.split(hidden)
    v_u, v_r, v_n = gru.weight_hh.split(hidden)
    c_u, c_r, c_n = gru.bias_hh.split(hidden)
    h = torch.zeros(hidden, dtype=torch.double)
    for t in range(2):
        u = torch.sigmoid(w_u @ x[t] + b_u + v_u @ h + c_u)
        r = torch.sigmoid(w_r @ x[t] + b_r + v_r @ h + c_r)
        candidate = torch.tanh(w_n @ x[t] + b_n + r * (v_n @ h + c_n))
        h = (1 - u) * h + u * candidate
        assert torch.allclose(states[t], h, atol=1e-12)

    # and torch.nn.GRU, whose keep gate z = 1 - u = sigmoid(-pre-activation of u)
    reference = torch.nn.GRU(3, hidden).double()
    with torch.no_grad():
        reference.weight_ih_l0.copy_(torch.cat([w_r, -w_u, w_n]))
        reference.bias_ih_l0.copy_(torch.cat([b_r, -b_u, b_n]))
        reference.weight_hh_l0.copy_(torch.cat([v_r, -v_u, v_n]))
        reference.bias_hh_l0.copy_(torch.cat([c_r, -c_u, c_n]))
        expected, _ = reference(x.unsqueeze(1))
    assert torch.allclose(states, expected.squeeze(1), atol=1e-12)

    # attention a scales the update gate: a = 0 keeps the state, a = 0.5 halves the step
    half = gru(x[:1], pack_histories(torch.ones(1, 1, dtype=torch.bool)), step_scale=torch.full((1, 1), 0.5, dtype=torch.double))
    u = torch.sigmoid(w_u @ x[0] + b_u + c_u)
    r = torch.sigmoid(w_r @ x[0] + b_r + c_r)
    candidate = torch.tanh(w_n @ x[0] + b_n + r * c_n)
    assert torch.allclose(half[0], 0.5 * u * candidate, atol=1e-12)


# --------------------------------------------------------------------------------- DIEN
@pytest.mark.parametrize("gru_type", ["augru", "aigru", "agru"])
@pytest.mark.parametrize("attention_type,aux_scorer", [("bilinear", "inner_product"), ("mlp", "mlp")])
def test_dien_padding_invariance(gru_type, attention_type, aux_scorer):
    model = tiny_dien(gru_type=gru_type, attention_type=attention_type, aux_scorer=aux_scorer)
    left = batch(LEFT, TARGETS, NEG_LEFT)
    with torch.no_grad():
        reference = model(**left)
        right = model(**batch(RIGHT, TARGETS, NEG_RIGHT))
        garbage = model(**with_garbage_under_mask(left))
        unpadded = model(**batch([LEFT[0][3:]], [TARGETS[0]], [NEG_LEFT[0][3:]]))
    for other in (right, garbage):
        assert torch.allclose(reference.logits, other.logits, atol=1e-6)
        assert torch.allclose(reference.aux_loss, other.aux_loss, atol=1e-6)
    assert torch.allclose(reference.logits[0], unpadded.logits[0], atol=1e-6)
    weights = reference.attention_weights
    assert torch.all(weights[~left["history_mask"]] == 0)
    assert torch.allclose(weights.sum(1), torch.ones(3), atol=1e-6)  # softmax over valid steps


def test_dien_attention_depends_on_the_target():
    model = tiny_dien()
    with torch.no_grad():
        a = model(**batch(LEFT, TARGETS))
        b = model(**batch(LEFT, [30, 31, 32]))
    assert not torch.allclose(a.attention_weights, b.attention_weights)
    assert not torch.allclose(a.logits, b.logits)


def test_auxiliary_loss_by_hand_and_its_weight():
    model = tiny_dien(aux_loss_alpha=0.5)
    x = batch(LEFT, TARGETS, NEG_LEFT)
    labels = torch.tensor([1.0, 0.0, 1.0])
    with torch.no_grad():
        out = model(**x, labels=labels)
        # by hand: run the extractor per sequence on its valid items only
        terms = []
        for row, negatives in zip(LEFT, NEG_LEFT):
            items = torch.tensor([i for i in row if i])
            sampled = torch.tensor([n for i, n in zip(row, negatives) if i])
            packing = pack_histories(torch.ones(1, len(items), dtype=torch.bool))
            states = model.interest_extractor(model.embeddings(items), packing)
            clicked_logit = (states[:-1] * model.embeddings(items[1:])).sum(-1)
            sampled_logit = (states[:-1] * model.embeddings(sampled[1:])).sum(-1)
            terms.append(-F.logsigmoid(clicked_logit) - F.logsigmoid(-sampled_logit))
        expected = torch.cat(terms).mean()  # over the 4 + 1 + 7 valid (t, t + 1) pairs
    assert torch.allclose(out.aux_loss, expected, atol=1e-6)
    bce = F.binary_cross_entropy_with_logits(out.logits, labels)
    assert torch.allclose(out.loss, bce + 0.5 * expected, atol=1e-6)


def test_auxiliary_loss_is_off_at_alpha_zero_or_without_negatives():
    labels = torch.tensor([1.0, 0.0, 1.0])
    model = tiny_dien(aux_loss_alpha=0.0)
    assert not model.needs_negative_history
    out = model(**batch(LEFT, TARGETS, NEG_LEFT), labels=labels)
    assert out.aux_loss is None
    assert torch.equal(out.loss, F.binary_cross_entropy_with_logits(out.logits, labels))
    model = tiny_dien()
    assert model.needs_negative_history
    out = model(**batch(LEFT, TARGETS), labels=labels)  # inference-style inputs: no negatives
    assert out.aux_loss is None
    # the auxiliary loss trains the extractor: its gradient reaches the GRU at alpha > 0
    model.train()
    model(**batch(LEFT, TARGETS, NEG_LEFT), labels=labels).aux_loss.backward()
    assert model.interest_extractor.weight_hh.grad.abs().sum() > 0


def test_dien_score_items_matches_forward():
    model = tiny_dien()
    x = batch(LEFT, TARGETS)
    candidates = torch.tensor([5, 20, 33])
    with torch.no_grad():
        scores = model.score_items(x, candidates)
        for j, item in enumerate(candidates.tolist()):
            logits = model(**{**x, "target_ids": torch.full((3,), item)}).logits
            assert torch.allclose(scores[:, j], logits, atol=1e-5)


# --------------------------------------------------------------------------------- negatives
def test_history_negatives_are_reproducible_and_never_the_clicked_item():
    rng = np.random.default_rng(0)
    positions = np.arange(-8, 4000).reshape(-1, 8)
    clicked = rng.integers(0, 7, positions.shape)
    negatives = sample_history_negatives(positions, clicked, num_items=7, seed=5)
    assert np.all(negatives[clicked == 0] == 0)
    valid = clicked != 0
    assert np.all(negatives[valid] != clicked[valid]) and np.all(negatives[valid] >= 2)
    assert np.array_equal(negatives, sample_history_negatives(positions, clicked, num_items=7, seed=5))
    assert not np.array_equal(negatives, sample_history_negatives(positions, clicked, num_items=7, seed=6))
    assert len(np.unique(negatives[valid])) == 5  # every real item gets drawn


def test_collator_adds_history_negatives_only_when_asked(tiny_data):
    from hf_recsys.training.tasks import CTRTask

    train = tiny_data.ctr_dataset("train")
    rows = [train[i] for i in range(0, 64, 2)]
    plain = CTRCollator(tiny_data.sequences, 10)(rows)
    assert "history_negatives" not in plain
    collate = CTRCollator(tiny_data.sequences, 10, negative_history=True, num_items=tiny_data.processor.num_items, seed=1)
    out = collate(rows)
    assert set(plain) <= set(out) and all(torch.equal(plain[k], out[k]) for k in plain)
    negatives, history = out["history_negatives"], out["history_ids"]
    assert negatives.shape == history.shape
    assert torch.all((negatives == 0) == (history == 0)) and torch.all(negatives[history != 0] != history[history != 0])
    # the same interaction gets the same negative in every window that contains it
    later = collate([{**rows[0], "row": rows[0]["row"] + 1}])["history_negatives"][0]
    assert torch.equal(later[:-1][negatives[0][1:] != 0], negatives[0][1:][negatives[0][1:] != 0])
    # the task turns it on for DIEN (auxiliary loss) and not for DIN
    for model_class, config_class, expected in ((DIENForCTR, DIENConfig, True), (DINForCTR, DINConfig, False)):
        model = model_class(config_class.from_processor(tiny_data.processor, item_embedding_dim=4, category_embedding_dim=4))
        assert ("history_negatives" in CTRTask(tiny_data, model).collator()(rows)) == expected


# --------------------------------------------------------------------------------- all three
MODELS = {
    "sumpool": (SumPoolForCTR, SumPoolConfig, {}),
    "din": (DINForCTR, DINConfig, {"attention_hidden_sizes": [8]}),
    "dien": (DIENForCTR, DIENConfig, {}),
}


def build(name, processor):
    model_class, config_class, extra = MODELS[name]
    torch.manual_seed(0)
    config = config_class.from_processor(processor, item_embedding_dim=8, category_embedding_dim=8,
                                         mlp_hidden_sizes=[16], **extra)
    model = model_class(config)
    model.load_item_features(processor)
    return model


@pytest.mark.parametrize("name", sorted(MODELS))
def test_training_lowers_the_loss(name, tiny_data):
    from hf_recsys.training.tasks import CTRTask

    model = build(name, tiny_data.processor)
    task = CTRTask(tiny_data, model)
    train = task.dataset("train")
    batch_ = task.collator()([train[i] for i in range(256)])
    probe = {k: v for k, v in batch_.items() if k != "history_negatives"}  # the CTR loss alone
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

    def probe_loss():
        model.eval()
        with torch.no_grad():
            return model(**probe).loss.item()

    before = probe_loss()
    model.train()
    for _ in range(40):
        optimizer.zero_grad()
        model(**batch_).loss.backward()
        optimizer.step()
    assert probe_loss() < before - 0.1


def test_dien_trains_and_evaluates_with_trainer(tiny_data, tmp_path):
    from transformers import Trainer, TrainingArguments

    from hf_recsys.training.tasks import CTRTask

    model = build("dien", tiny_data.processor)
    task = CTRTask(tiny_data, model)
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=64, max_steps=20,
                             learning_rate=5e-3, save_strategy="no", report_to="none", use_cpu=True,
                             remove_unused_columns=False, disable_tqdm=True, seed=0, label_names=["labels"])
    trainer = Trainer(model=model, args=args, train_dataset=task.dataset("train"), eval_dataset=task.dataset("valid"),
                      data_collator=task.collator(), compute_metrics=task.compute_metrics("valid"))
    history = trainer.train()
    assert np.isfinite(history.training_loss)
    metrics = trainer.evaluate()  # attention weights and aux loss stay out of the predictions
    assert 0.0 <= metrics["eval_auc"] <= 1.0 and 0.0 <= metrics["eval_gauc"] <= 1.0 and metrics["eval_logloss"] > 0


@pytest.mark.parametrize("name", sorted(MODELS))
def test_save_automodel_identical_logits_and_recommend(name, tiny_data, tmp_path):
    from hf_recsys.training.tasks import CTRTask

    processor = tiny_data.processor
    model = build(name, processor)
    task = CTRTask(tiny_data, model)
    train = task.dataset("train")
    model.train()  # move Dice's running statistics away from their initial values
    with torch.no_grad():
        model(**task.collator()([train[i] for i in range(128)]))
    model.eval()
    probe = task.collator()([task.dataset("test")[i] for i in range(32)])
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    assert type(loaded) is type(model)
    assert torch.equal(loaded.embeddings.item_category, model.embeddings.item_category)
    with torch.no_grad():
        expected, actual = model(**probe), loaded(**probe)
    assert torch.equal(expected.logits, actual.logits)
    assert (expected.aux_loss is None) == (actual.aux_loss is None)

    history = processor.item_vocab.tokens[2:7]
    recs = loaded.recommend([history], k=5)[0]
    assert len(recs) == 5 and len(set(recs)) == 5 and not set(recs) & set(history)
    scored = loaded.recommend([history], k=4, return_scores=True)[0]
    assert [s for _, s in scored] == sorted([s for _, s in scored], reverse=True)


@pytest.mark.parametrize("gru_type", ["augru", "aigru", "agru"])
def test_dien_trains_under_bf16_autocast(gru_type):
    """``--bf16`` on DIEN: the interest GRU's input projection comes out of autocast in bf16 and
    must meet the float32 recurrence weights (it once raised 'mat1 and mat2 must have the same
    dtype'); the loss stays close to float32's and every gradient is finite."""
    model = tiny_dien(gru_type=gru_type).train()
    for module in model.modules():  # dropout off: compare the same function in two precisions
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    inputs = batch(LEFT, TARGETS, NEG_LEFT)
    labels = torch.tensor([1.0, 0.0, 1.0])
    reference = model(**inputs, labels=labels).loss
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = model(**inputs, labels=labels).loss
    loss.backward()
    assert torch.isfinite(loss) and loss.item() == pytest.approx(reference.item(), rel=3e-2)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    assert model.embeddings.item_embeddings.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ["din", "dien", "sumpool", "deepfm", "widedeep", "fm", "lr"])
def test_ctr_models_ask_for_a_constant_learning_rate(name, tmp_path):
    """DIN, DIEN, sum pooling and the feature-field models are tuned for a constant learning rate
    (the linear decay to zero of Trainer's default left DIN and DeepFM short of converging after
    two epochs). The request lives on the config class, is a valid ``TrainingArguments`` setting,
    and is not written into config.json."""
    from transformers import TrainingArguments

    from hf_recsys.models import MODEL_REGISTRY

    config_class = MODEL_REGISTRY[name].config_class
    defaults = dict(config_class.training_defaults)
    assert defaults == {"lr_scheduler_type": "constant"}
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none", **defaults)
    assert args.lr_scheduler_type == "constant"
    assert "training_defaults" not in config_class().to_dict()
    with pytest.raises(TypeError):
        config_class.training_defaults["lr_scheduler_type"] = "linear"  # shared by all of them: read-only


def test_item_fields_a_model_does_not_read_are_named(caplog):
    """`item.genre=genre` trained BST, DIN, DIEN and sum pooling with every item in the padding
    category (they read one field, `category`) and no word of it."""
    import pandas as pd

    from hf_recsys.data import DataConfig, InteractionLog, prepare_data
    from hf_recsys.models import MODEL_REGISTRY
    from hf_recsys.training.tasks import warn_unread_features

    frame = pd.DataFrame({"user_id": [f"u{k // 5}" for k in range(40)], "item_id": [str(k % 7) for k in range(40)],
                          "timestamp": list(range(40))})
    items = pd.DataFrame({"item_id": [str(k) for k in range(7)], "genre": [f"g{k % 3}" for k in range(7)],
                          "brand": [f"b{k % 2}" for k in range(7)]})
    processor = prepare_data(InteractionLog(frame, items=items, name="shop"), DataConfig(max_history=4)).processor

    def warning(name, processor):
        spec = MODEL_REGISTRY[name]
        caplog.clear()
        with caplog.at_level("WARNING", logger="hf_recsys.training.tasks"):
            warn_unread_features(spec.model_class(spec.config_class.from_processor(processor)), processor)
        return caplog.text

    for name in ("bst", "din", "dien", "sumpool"):
        assert f"shop: {name} does not read the item fields ['genre', 'brand']; it reads one item field, as the " \
               "category: map the one to use with item.category=COLUMN" in warning(name, processor)
    assert warning("deepfm", processor) == "" and warning("sasrec", processor) == ""  # reads all / reads none

    def mapped_warning(name, processor, mapped):
        spec = MODEL_REGISTRY[name]
        caplog.clear()
        with caplog.at_level("WARNING", logger="hf_recsys.training.tasks"):
            warn_unread_features(spec.model_class(spec.config_class.from_processor(processor)), processor, mapped)
        return caplog.text

    # fields the user mapped (read_table records them) that a model reads not at all are named too
    assert "shop: sasrec reads no item field; the mapped ['genre'] are not used" in mapped_warning(
        "sasrec", processor, ["item.genre"])
    items = items.rename(columns={"genre": "category"})
    processor = prepare_data(InteractionLog(frame, items=items, name="shop"), DataConfig(max_history=4)).processor
    assert "does not read the item fields ['brand']" in warning("din", processor)
