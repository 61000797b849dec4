"""Next-item models and full-ranking evaluation: causality, padding invariance, ranks and
metrics against hand computation, history masking, popularity baseline, collator, training,
save/load, recommend() and the "recommendation" pipeline."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from transformers import AutoModel, Trainer, TrainingArguments, pipeline

import hf_recsys  # noqa: F401  (registers models and the pipeline)
from hf_recsys.data.processing import TEST, TRAIN, VALID
from hf_recsys.models import (
    BSTConfig,
    BSTForCTR,
    CaserConfig,
    CaserForNextItem,
    GRU4RecConfig,
    GRU4RecForNextItem,
    MeanPoolConfig,
    MeanPoolForNextItem,
    SASRecConfig,
    SASRecForNextItem,
)
from hf_recsys.models.modeling_next_item import next_item_loss
from hf_recsys.training.metrics import ranking_metrics
from hf_recsys.training.next_item import (
    FullRanker,
    NextItemCollator,
    NextItemTask,
    popularity_ranks,
    training_window_rows,
)

NUM_ITEMS = 40


pytestmark = pytest.mark.usefixtures("one_thread_per_module")


def make_model(name: str, num_items: int = NUM_ITEMS, max_history: int = 8, num_users: int = 100, **overrides):
    torch.manual_seed(0)
    common = dict(num_items=num_items, num_users=num_users, max_history=max_history)
    if name == "sasrec":
        config = SASRecConfig(**common, hidden_size=16, num_heads=2, ffn_dim=32, dropout=0.0, attention_dropout=0.0, **overrides)
        return SASRecForNextItem(config)
    if name == "gru4rec":
        return GRU4RecForNextItem(GRU4RecConfig(**common, embedding_dim=16, hidden_size=16, dropout=0.0, **overrides))
    if name == "caser":
        config = CaserConfig(**common, embedding_dim=16, window_length=3, num_horizontal_filters=4, num_vertical_filters=2, dropout=0.0, **overrides)
        return CaserForNextItem(config)
    if name == "meanpool":
        return MeanPoolForNextItem(MeanPoolConfig(**common, embedding_dim=16, dropout=0.0, **overrides))
    raise ValueError(name)


MODELS = ["sasrec", "gru4rec", "caser", "meanpool"]


def randomize(model: torch.nn.Module) -> torch.nn.Module:
    """Larger random weights than the 0.02 init, so that invariance tests are not trivially
    satisfied by near-zero outputs."""
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.5)
    return model.eval()


def queries(model, ids, users=None):
    ids = torch.as_tensor(ids)
    with torch.no_grad():
        return model(ids, user_ids=users, output_hidden_states=True).hidden_states


# ----------------------------------------------------------------------------- models
@pytest.mark.parametrize("name", MODELS)
def test_output_at_t_never_depends_on_later_items(name):
    model = randomize(make_model(name))
    history = torch.tensor([[0, 0, 5, 6, 7, 8, 9, 10]])
    users = torch.tensor([3])
    base = queries(model, history, users)
    for t in range(2, 7):
        perturbed = history.clone()
        perturbed[0, t + 1 :] = torch.randint(2, NUM_ITEMS, (7 - t,))
        other = queries(model, perturbed, users)
        assert torch.allclose(base[0, : t + 1], other[0, : t + 1], atol=1e-5), f"position {t} saw the future"
        assert not torch.allclose(base[0, t + 1 :], other[0, t + 1 :])  # later positions did change


@pytest.mark.parametrize("name", MODELS)
def test_left_padding_and_masked_content_do_not_change_outputs(name):
    model = randomize(make_model(name))
    users = torch.tensor([3])
    short = queries(model, [[5, 6, 7]], users)
    padded = queries(model, [[0, 0, 0, 0, 0, 5, 6, 7]], users)
    assert torch.allclose(short[0], padded[0, -3:], atol=1e-5)
    # garbage under history_mask is ignored too
    garbage = torch.tensor([[11, 12, 13, 14, 15, 5, 6, 7]])
    mask = torch.tensor([[False] * 5 + [True] * 3])
    with torch.no_grad():
        hidden = model(garbage, history_mask=mask, user_ids=users, output_hidden_states=True).hidden_states
    assert torch.allclose(hidden[0, -3:], short[0], atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_a_batch_without_any_label_gives_zero_loss_and_gradients(name):
    model = make_model(name).train()
    history = torch.tensor([[0, 0, 5, 6, 7], [0, 4, 8, 9, 3]])
    labels = torch.full_like(history, -100)  # e.g. every next item unknown to a fine-tuned model
    loss = model(history, user_ids=torch.tensor([3, 4]), labels=labels).loss
    assert loss.item() == 0.0
    loss.backward()
    assert all(p.grad is None or not p.grad.abs().any() for p in model.parameters())


def test_caser_sees_only_its_window():
    model = randomize(make_model("caser"))  # window_length 3
    base = queries(model, [[4, 5, 6, 7, 8, 9]])
    changed = queries(model, [[30, 5, 6, 7, 8, 9]])
    assert torch.allclose(base[0, 3:], changed[0, 3:], atol=1e-6)  # windows from position 3 on exclude item 0
    assert not torch.allclose(base[0, :3], changed[0, :3])


@pytest.mark.parametrize("loss_type", ["ce", "sampled_softmax", "bce"])
def test_losses_match_hand_computation(loss_type):
    torch.manual_seed(1)
    q = torch.randn(5, 4)
    weight = torch.randn(10, 4)
    bias = torch.randn(10)
    targets = torch.tensor([2, 3, 9, 4, 2])
    torch.manual_seed(7)
    loss = next_item_loss(q, targets, weight, bias, loss_type, num_negatives=3)
    scores = q @ weight.T + bias
    torch.manual_seed(7)
    if loss_type == "ce":
        expected = torch.nn.functional.cross_entropy(scores[:, 2:], targets - 2)
    elif loss_type == "sampled_softmax":
        negatives = torch.randint(2, 10, (3,))
        rows = []
        for n in range(5):
            negative_scores = [scores[n, j] if j != targets[n] else torch.tensor(-math.inf) for j in negatives]
            logits = torch.stack([scores[n, targets[n]], *negative_scores])
            rows.append(-torch.log_softmax(logits, 0)[0])
        expected = torch.stack(rows).mean()
    else:
        negatives = torch.randint(2, 10, (5, 3))
        positive = -torch.nn.functional.logsigmoid(scores[torch.arange(5), targets]).mean()
        negative = sum(
            -torch.nn.functional.logsigmoid(-scores[n, j]) for n in range(5) for j in negatives[n] if j != targets[n]
        ) / 5
        expected = positive + negative
    assert torch.allclose(loss, expected, atol=1e-5)


def test_chunked_cross_entropy_gradients_match_autograd():
    from hf_recsys.models.modeling_next_item import full_cross_entropy

    torch.manual_seed(0)
    q = torch.randn(37, 6, requires_grad=True)
    weight = torch.randn(20, 6, requires_grad=True)
    bias = torch.randn(20, requires_grad=True)
    targets = torch.randint(0, 20, (37,))
    reference = torch.nn.functional.cross_entropy(q @ weight.T + bias, targets)
    expected = torch.autograd.grad(2.5 * reference, (q, weight, bias))
    loss = full_cross_entropy(q, weight, bias, targets, chunk_size=8)  # 5 chunks, the last one short
    got = torch.autograd.grad(2.5 * loss, (q, weight, bias))
    assert torch.allclose(loss, reference, atol=1e-5)
    for a, b in zip(got, expected):
        assert torch.allclose(a, b, atol=1e-6)


def test_sasrec_packed_blocks_equal_the_padded_transformer_block():
    from hf_recsys.models.modeling_next_item import causal_positions
    from hf_recsys.models.modeling_sasrec import causal_padding_mask

    for pre_norm in (True, False):
        model = randomize(make_model("sasrec", pre_norm=pre_norm))
        history = torch.tensor([[0, 0, 0, 5, 6, 7, 8, 9], [1, 2, 3, 4, 5, 6, 7, 8], [0, 0, 0, 0, 0, 0, 0, 12]])
        mask = history != 0
        with torch.no_grad():
            hidden = model.item_embeddings(history) * math.sqrt(16) + model.position_embeddings(causal_positions(mask))
            if model.embedding_norm is not None:
                hidden = model.embedding_norm(hidden)
            for block in model.blocks:  # the shared block on the padded batch
                hidden = block(hidden * mask.unsqueeze(-1), causal_padding_mask(mask))
            if model.final_norm is not None:
                hidden = model.final_norm(hidden)
            packed = model.encode(history, mask)
        assert torch.allclose(packed[mask], hidden[mask], atol=1e-5)
        assert (packed[~mask] == 0).all()


def test_eval_labels_give_full_cross_entropy_of_last_position():
    model = make_model("sasrec").eval()
    history = torch.tensor([[0, 3, 4, 5, 6, 7, 8, 9], [0, 0, 0, 0, 0, 0, 11, 12]])
    with torch.no_grad():
        out = model(history, labels=torch.tensor([10, 13]))
    expected = torch.nn.functional.cross_entropy(out.logits[:, 2:], torch.tensor([8, 11]))
    assert out.logits.shape == (2, NUM_ITEMS)
    assert torch.allclose(out.loss, expected)


@pytest.mark.parametrize("name", MODELS)
def test_query_and_item_embeddings_reproduce_the_logits(name):
    model = randomize(make_model(name))
    history = torch.tensor([[0, 0, 5, 6, 7, 8, 9, 10]])
    with torch.no_grad():
        logits = model(history, user_ids=torch.tensor([4])).logits
        query = model.get_query_embeddings(history, user_ids=torch.tensor([4]))
    items = model.get_item_embeddings()
    assert items.shape[0] == NUM_ITEMS
    assert torch.allclose(query @ items.T, logits, rtol=1e-4, atol=1e-3)


# ----------------------------------------------------------------------------- ranking
def test_ranks_and_metrics_match_hand_computation():
    # 6 items: 0 pad, 1 unknown, 2..5 real
    scores = torch.tensor(
        [
            [9.0, 9.0, 1.0, 4.0, 3.0, 2.0],  # target 4 (score 3): only item 3 is higher -> rank 1
            [9.0, 9.0, 5.0, 5.0, 5.0, 1.0],  # target 2 tied with 3 and 4 -> pessimistic rank 2
            [0.0, 0.0, 1.0, 2.0, 3.0, 4.0],  # target 2 is last of 4 real items -> rank 3
        ]
    )
    targets = torch.tensor([4, 2, 2])
    ranker = FullRanker(sequences=None, exclude_history=False)
    ranks = ranker.ranks(scores, targets, rows=None)
    assert ranks.tolist() == [1, 2, 3]

    metrics = ranking_metrics(ranks.numpy(), ks=(1, 2, 5))
    assert metrics["hr@1"] == 0.0
    assert metrics["hr@2"] == pytest.approx(1 / 3)
    assert metrics["hr@5"] == 1.0
    assert metrics["ndcg@2"] == pytest.approx((1 / math.log2(3)) / 3)
    assert metrics["ndcg@5"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(4) + 1 / math.log2(5)) / 3)
    assert metrics["mrr@5"] == pytest.approx((1 / 2 + 1 / 3 + 1 / 4) / 3)


def test_random_tie_breaking_is_deterministic_and_within_the_tie():
    from hf_recsys.data.samples import InteractionSequences
    import pandas as pd

    frame = pd.DataFrame({"user_index": [2] * 3 + [3] * 3, "item_index": [2, 3, 4, 5, 2, 3],
                          "timestamp": [0, 1, 2] * 2, "split": [0, 1, 2] * 2})
    sequences = InteractionSequences.from_frame(frame)
    scores = torch.tensor([[0.0, 0.0] + [1.0] * 10] * 2)  # every real item tied
    targets = torch.tensor([4, 3])
    rows = torch.tensor([2, 5])
    ranker = FullRanker(sequences, exclude_history=False, tie_breaking="random", seed=5)
    first = ranker.ranks(scores, targets, rows)
    assert torch.equal(first, ranker.ranks(scores, targets, rows))
    assert ((first >= 0) & (first <= 9)).all()
    ranks = [FullRanker(sequences, False, "random", seed=s).ranks(scores, targets, rows)[0].item() for s in range(40)]
    assert len(set(ranks)) > 3  # seeds spread the target over the tie


def test_history_items_are_masked_except_the_target(tiny_data):
    sequences = tiny_data.sequences
    test_rows = np.flatnonzero(sequences.split == TEST)[:2]
    row = int(test_rows[0])
    history = set(sequences.items[sequences.user_start[row] : row].tolist())
    target = int(sequences.items[row])
    num_items = tiny_data.processor.num_items
    # score = item index: every history item above the target would beat it unless masked
    scores = torch.arange(num_items, dtype=torch.float32).unsqueeze(0)
    ranker = FullRanker(sequences, exclude_history=True)
    masked = ranker.ranks(scores, torch.tensor([target]), torch.tensor([row])).item()
    unmasked = FullRanker(sequences, exclude_history=False).ranks(scores, torch.tensor([target]), None).item()
    competitors = set(range(2, num_items)) - {target}
    assert unmasked == sum(1 for j in competitors if j > target)
    assert masked == sum(1 for j in competitors - history if j > target)
    # the target itself is never masked, even when the user saw it before
    scores_target_first = torch.zeros(1, num_items)
    scores_target_first[0, target] = 5.0
    items = sequences.items.copy()
    items[sequences.user_start[row]] = target  # make the target a repeat of the user's first item
    repeat = FullRanker(dataclasses.replace(sequences, items=items), exclude_history=True)
    assert repeat.ranks(scores_target_first, torch.tensor([target]), torch.tensor([row])).item() == 0


def test_popularity_baseline_ranks_by_training_counts(tiny_data):
    task = NextItemTask(tiny_data, make_model("meanpool", num_items=tiny_data.processor.num_items))
    dataset = task.dataset("test")
    ranks = popularity_ranks(tiny_data, dataset, task.ranker)
    counts = tiny_data.train_item_counts
    sequences = tiny_data.sequences
    for i in range(len(dataset)):
        row, target = dataset[i]["row"], dataset[i]["target"]
        seen = set(sequences.items[sequences.user_start[row] : row].tolist()) - {target}
        competitors = [j for j in range(2, len(counts)) if j != target and j not in seen]
        expected = sum(1 for j in competitors if counts[j] >= counts[target])  # pessimistic ties
        assert ranks[i] == expected
    baseline = task.baseline_metrics("test")
    assert baseline["hr@10"] == pytest.approx(np.mean(ranks < 10))


# ----------------------------------------------------------------------------- data
def test_collator_builds_shifted_training_labels_and_eval_targets(tiny_data):
    sequences = tiny_data.sequences
    train = tiny_data.next_item_dataset("train")
    collator = NextItemCollator(sequences, max_history=10, trim_padding=False)
    batch = collator([train[0], train[1]])
    row = train[0]["row"]
    start = sequences.user_start[row]
    items = sequences.items[max(start, row - 10) : row + 1]  # window of 11 ending at the row
    history, labels = batch["history_ids"][0].tolist(), batch["labels"][0].tolist()
    n = len(items) - 1
    assert history[-n:] == items[:-1].tolist()
    assert labels[-n:] == items[1:].tolist()
    assert all(x == -100 for x in labels[:-n]) and all(x == 0 for x in history[:-n])
    assert (sequences.split[start : row + 1] == TRAIN).all()

    test = tiny_data.next_item_dataset("test")
    batch = collator([test[0], test[1]])
    row = test[0]["row"]
    assert batch["labels"].tolist() == [test[0]["target"], test[1]["target"]]
    assert batch["label_rows"].tolist() == [test[0]["row"], test[1]["row"]]
    expected = sequences.items[max(sequences.user_start[row], row - 10) : row].tolist()
    assert batch["history_ids"][0].tolist()[-len(expected):] == expected
    assert sequences.split[row - 1] == VALID  # the validation item is part of the test history
    with pytest.raises(ValueError):
        collator([train[0], test[0]])


def test_collator_trims_columns_that_are_padding_everywhere(tiny_data):
    train = tiny_data.next_item_dataset("train")
    long = NextItemCollator(tiny_data.sequences, max_history=200)([train[0], train[1]])
    width = long["history_ids"].shape[1]
    assert (long["history_ids"][:, 0] != 0).any()
    assert width == max(int((long["labels"][i] != -100).sum()) for i in range(2))


def test_collator_pads_to_a_multiple_and_the_model_does_not_notice(tiny_data):
    """``pad_to_multiple_of`` (what training uses on a GPU): each batch's width is a multiple of
    it or the whole window, never narrower than the trimmed width, and SASRec's loss and
    scores are those of the trimmed batch."""
    train = tiny_data.next_item_dataset("train")
    test = tiny_data.next_item_dataset("test")
    config = SASRecConfig.from_processor(tiny_data.processor, max_history=30, hidden_size=16, num_heads=2)
    torch.manual_seed(0)
    model = SASRecForNextItem(config).eval()
    trimmed = NextItemCollator(tiny_data.sequences, max_history=30)
    padded = NextItemCollator(tiny_data.sequences, max_history=30, pad_to_multiple_of=8)
    widths = set()
    for rows in ([train[i] for i in range(0, 12, 3)], [train[1]], [test[i] for i in range(4)]):
        a, b = trimmed(rows), padded(rows)
        width = b["history_ids"].shape[1]
        widths.add(width)
        assert width % 8 == 0 or width == 30
        assert width >= a["history_ids"].shape[1] and width - a["history_ids"].shape[1] < 8
        assert (b["history_ids"][:, : width - a["history_ids"].shape[1]] == 0).all()  # only left padding added
        out_a, out_b = model(**a), model(**b)
        torch.testing.assert_close(out_b.loss, out_a.loss, rtol=1e-5, atol=1e-6)
        if out_a.logits is not None:
            torch.testing.assert_close(out_b.logits, out_a.logits, rtol=1e-5, atol=1e-5)
    assert len(widths) > 1 or widths == {30}
    with pytest.raises(ValueError, match="pad_to_multiple_of"):
        NextItemCollator(tiny_data.sequences, max_history=30, pad_to_multiple_of=0)


def test_training_windows_cover_every_training_target_once(tiny_data):
    sequences = tiny_data.sequences
    last_rows = np.asarray(tiny_data.next_item_dataset("train")["row"])
    windows = training_window_rows(sequences, last_rows, max_history=3)
    collator = NextItemCollator(sequences, max_history=3, trim_padding=False)
    covered = []
    for end in windows:
        labels = collator([{"row": int(end), "user_index": 0, "target": 0}])["labels"][0]
        n = int((labels != -100).sum())
        covered.extend(range(end - n + 1, end + 1))  # rows of the targets this window trains on
    expected = [r for r in np.flatnonzero(sequences.split == TRAIN) if r > sequences.user_start[r]]
    assert sorted(covered) == sorted(expected)


# ----------------------------------------------------------------------------- training
def _train_batches(data, max_history=10, batch_size=32):
    collator = NextItemCollator(data.sequences, max_history)
    train = data.next_item_dataset("train")
    return [collator([train[i] for i in range(s, min(s + batch_size, len(train)))]) for s in range(0, len(train), batch_size)]


@pytest.mark.parametrize(
    "name,loss_type",
    [("sasrec", "ce"), ("sasrec", "sampled_softmax"), ("sasrec", "bce"), ("gru4rec", "ce"), ("gru4rec", "bce"),
     ("caser", "ce"), ("meanpool", "ce")],
)
def test_tiny_training_run_lowers_the_loss(tiny_data, name, loss_type):
    model = make_model(name, num_items=tiny_data.processor.num_items, max_history=10, loss_type=loss_type,
                       num_negatives=8 if loss_type != "ce" else None)
    model.train()
    batches = _train_batches(tiny_data)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    torch.manual_seed(0)

    def epoch_loss():
        with torch.no_grad():
            torch.manual_seed(123)  # the same sampled negatives before and after
            return float(np.mean([model(**b).loss.item() for b in batches]))

    before = epoch_loss()
    for _ in range(6):
        for b in batches:
            optimizer.zero_grad()
            model(**b).loss.backward()
            optimizer.step()
    after = epoch_loss()
    assert after < before - 0.1, (before, after)


def test_trainer_evaluation_matches_direct_full_ranking(tiny_data, tmp_path):
    model = make_model("sasrec", num_items=tiny_data.processor.num_items, max_history=10)
    task = NextItemTask(tiny_data, model)
    args = TrainingArguments(output_dir=str(tmp_path), per_device_eval_batch_size=16, report_to="none",
                             use_cpu=True, remove_unused_columns=False, label_names=task.label_names)
    trainer = Trainer(model=model, args=args, data_collator=task.collator(), compute_metrics=task.compute_metrics("test"),
                      preprocess_logits_for_metrics=task.preprocess_logits_for_metrics())
    metrics = trainer.evaluate(task.dataset("test"))

    dataset = task.dataset("test")
    collator = NextItemCollator(tiny_data.sequences, 10, trim_padding=False)
    batch = collator([dataset[i] for i in range(len(dataset))])
    model.eval()
    with torch.no_grad():
        logits = model(batch["history_ids"]).logits
    ranks = FullRanker(tiny_data.sequences).ranks(logits, batch["labels"], batch["label_rows"])
    expected = ranking_metrics(ranks.numpy())
    for key in ("hr@10", "ndcg@10", "mrr@20"):
        assert metrics[f"eval_{key}"] == pytest.approx(expected[key], abs=1e-6)


def test_task_releases_freed_memory_through_a_trainer_callback(tiny_data):
    from transformers import TrainerCallback

    from hf_recsys.training.next_item import ReleaseFreedMemoryCallback

    callbacks = NextItemTask(tiny_data, make_model("meanpool", num_items=tiny_data.processor.num_items)).callbacks()
    assert any(isinstance(c, ReleaseFreedMemoryCallback) for c in callbacks)
    assert all(isinstance(c, TrainerCallback) for c in callbacks)
    ReleaseFreedMemoryCallback().release()  # callable on this platform (a no-op without glibc)


def test_run_training_end_to_end_writes_ranking_metrics(tmp_path):
    from hf_recsys.training.run import RunConfig, run_training

    run = RunConfig(model="gru4rec", output_dir=str(tmp_path / "out"), max_steps=4, batch_size=64,
                    synthetic_users=120, synthetic_items=60, max_history=12, disable_tqdm=True,
                    model_overrides={"embedding_dim": 8, "hidden_size": 8})
    metrics = run_training(run)
    saved = json.loads((tmp_path / "out" / "eval_results.json").read_text())
    for key in ("eval_hr@10", "eval_ndcg@10", "eval_mrr@10", "eval_popularity_ndcg@10"):
        assert key in saved and 0.0 <= saved[key] <= 1.0
    assert metrics["eval_split"] == "test"


# ----------------------------------------------------------------------------- save / serve
def _save(model, data, folder):
    model.save_pretrained(folder)
    data.processor.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("name", MODELS)
def test_save_load_automodel_gives_identical_logits(tiny_data, tmp_path, name):
    model = randomize(make_model(name, num_items=tiny_data.processor.num_items, max_history=10))
    folder = _save(model, tiny_data, tmp_path / name)
    loaded = AutoModel.from_pretrained(folder).eval()
    assert type(loaded) is type(model)
    history = torch.tensor([[0, 0, 3, 4, 5, 6, 7, 8, 9, 10]])
    with torch.no_grad():
        before = model(history, user_ids=torch.tensor([2])).logits
        after = loaded(history, user_ids=torch.tensor([2])).logits
    # identical weights; the GRU kernel may pick another path for the reloaded weight layout (1e-6)
    assert torch.allclose(before, after, rtol=1e-5, atol=1e-5)


def test_recommend_returns_raw_ids_and_excludes_seen(tiny_data, tmp_path):
    model = randomize(make_model("sasrec", num_items=tiny_data.processor.num_items, max_history=10))
    folder = _save(model, tiny_data, tmp_path / "sasrec")
    loaded = AutoModel.from_pretrained(folder)
    vocabulary = tiny_data.processor.item_vocab.tokens
    history = vocabulary[:6]
    k = len(vocabulary) - 3
    recommended = loaded.recommend([history], k=k)[0]
    assert set(recommended) <= set(vocabulary)
    assert not set(recommended) & set(history)
    assert len(recommended) == len(vocabulary) - 6  # every other item, none twice
    with_seen = loaded.recommend([history], k=5, exclude_seen=False, return_scores=True)[0]
    scores = [s for _, s in with_seen]
    assert scores == sorted(scores, reverse=True)
    # the top item is the argmax of the model's own logits
    encoded = tiny_data.processor([history], max_history=10)
    with torch.no_grad():
        logits = loaded(encoded["history_ids"]).logits[0]
    logits[:2] = -math.inf
    assert with_seen[0][0] == vocabulary[int(logits.argmax()) - 2]


def test_recommendation_pipeline_for_next_item_and_ctr_models(tiny_data, tmp_path):
    model = randomize(make_model("caser", num_items=tiny_data.processor.num_items, max_history=10))
    folder = str(_save(model, tiny_data, tmp_path / "caser"))
    recommender = pipeline("recommendation", model=folder)
    history = tiny_data.processor.item_vocab.tokens[:4]
    out = recommender(history, k=5)
    assert len(out) == 5 and all(set(x) == {"item_id", "score"} for x in out)
    assert [x["item_id"] for x in out] == model.recommend([history], k=5, processor=tiny_data.processor)[0]
    assert not {x["item_id"] for x in out} & set(history)
    assert [x["score"] for x in out] == sorted((x["score"] for x in out), reverse=True)
    many = recommender([history, {"history": history[:2], "user": tiny_data.processor.user_vocab.tokens[0]}], k=3)
    assert len(many) == 2 and all(len(x) == 3 for x in many)

    torch.manual_seed(0)
    bst = BSTForCTR(BSTConfig(num_items=tiny_data.processor.num_items, max_history=10, item_embedding_dim=8,
                              category_embedding_dim=0, num_heads=2, ffn_dim=16, mlp_hidden_sizes=[8]))
    folder = str(_save(bst.eval(), tiny_data, tmp_path / "bst"))
    out = pipeline("recommendation", model=folder)(history, k=4)
    assert [x["item_id"] for x in out] == bst.recommend([history], k=4, processor=tiny_data.processor)[0]


def test_training_pads_for_a_gpu_only_when_it_trains_on_one(tiny_data, monkeypatch, tmp_path):
    """With a CUDA GPU present, ``Trainer`` goes there and the collator pads widths to multiples
    of 8; ``--use-cpu`` keeps training (and the trimmed collator) on the CPU."""
    from hf_recsys.cli import build_train_parser, run_config_from_args
    from hf_recsys.training.run import trains_on_cpu, training_arguments

    model = SASRecForNextItem(SASRecConfig.from_processor(tiny_data.processor, max_history=30, hidden_size=16,
                                                          num_heads=2))
    task = NextItemTask(tiny_data, model)
    assert task.collator(torch.device("cuda")).pad_to_multiple_of == 8
    assert task.collator(torch.device("cpu")).pad_to_multiple_of is None
    assert task.collator().pad_to_multiple_of is None

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    on_gpu = run_config_from_args(build_train_parser().parse_args(["--output-dir", str(tmp_path)]))
    forced = run_config_from_args(build_train_parser().parse_args(["--output-dir", str(tmp_path), "--use-cpu"]))
    assert not trains_on_cpu(on_gpu) and trains_on_cpu(forced)
    args = training_arguments(forced, task)
    assert args.use_cpu and args.device.type == "cpu"
    assert task.collator(args.device).pad_to_multiple_of is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert trains_on_cpu(on_gpu)
