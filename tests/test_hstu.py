"""HSTU: causality over items and times, pointwise (not softmax) attention, packed == padded,
the time-bias fallback, save/reload, export, raw-ID recommendations and a CLI training run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from transformers import AutoModel

import hf_recsys  # noqa: F401  (registers the models)
from hf_recsys.data.log import InteractionLog
from hf_recsys.data.pipeline import DataConfig, prepare_data
from hf_recsys.models import HSTUConfig, HSTUForNextItem
from hf_recsys.models.modeling_hstu import length_groups, pointwise_attention_chunk
from hf_recsys.training.next_item import NextItemCollator, NextItemTask

NUM_ITEMS = 40


pytestmark = pytest.mark.usefixtures("one_thread_per_module")


def make_model(num_items: int = NUM_ITEMS, max_history: int = 8, randomize: bool = True, **overrides) -> HSTUForNextItem:
    torch.manual_seed(0)
    fields = dict(num_items=num_items, num_users=10, max_history=max_history, hidden_size=16, num_layers=2,
                  num_heads=2, qk_dim=8, v_dim=8, dropout=0.0)
    fields.update(overrides)
    model = HSTUForNextItem(HSTUConfig(**fields))
    if randomize:  # larger than the 0.02 init, so invariances are not satisfied by near-zero outputs
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.normal_(0.0, 0.5)
    return model.eval()


def hidden(model, ids, times=None, mask=None):
    ids = torch.as_tensor(ids)
    with torch.no_grad():
        return model(ids, history_mask=mask, history_times=times, output_hidden_states=True).hidden_states


def hourly_times(ids: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Increasing times with irregular gaps (minutes to weeks), 0 at padding."""
    generator = torch.Generator().manual_seed(seed)
    gaps = torch.randint(60, 3_000_000, ids.shape, generator=generator)
    return (1_000_000_000 + gaps.cumsum(1)) * (ids != 0)


# ----------------------------------------------------------------------------- the layer
def test_output_at_t_never_depends_on_later_items_or_times():
    model = make_model()
    history = torch.tensor([[0, 0, 5, 6, 7, 8, 9, 10]])
    times = hourly_times(history)
    base = hidden(model, history, times)
    for t in range(2, 7):
        items = history.clone()
        items[0, t + 1 :] = torch.randint(2, NUM_ITEMS, (7 - t,))
        later = times.clone()
        later[0, t + 1 :] += torch.randint(1, 10**7, (7 - t,)).cumsum(0)
        for perturbed_items, perturbed_times in ((items, times), (history, later), (items, later)):
            other = hidden(model, perturbed_items, perturbed_times)
            assert torch.allclose(base[0, : t + 1], other[0, : t + 1], atol=1e-5), f"position {t} saw the future"
            assert not torch.allclose(base[0, t + 1 :], other[0, t + 1 :])  # later positions did change


def test_attention_weights_are_pointwise_silu_over_n_not_a_softmax():
    torch.manual_seed(1)
    q, k = torch.randn(1, 1, 5, 4), torch.randn(1, 1, 5, 4)
    bias = torch.randn(5, 5)
    allowed = torch.ones(5, 5, dtype=torch.bool).tril().unsqueeze(0)
    ones = torch.ones(1, 1, 5, 1)
    row_sums = pointwise_attention_chunk(q, k, ones, allowed, bias, normalizer=10.0)[0, 0, :, 0]
    expected = (torch.nn.functional.silu(q[0, 0] @ k[0, 0].T + bias) * allowed[0]).sum(1) / 10.0
    assert torch.allclose(row_sums, expected, atol=1e-6)
    assert not torch.allclose(row_sums, torch.ones(5), atol=1e-2)  # a softmax row would sum to 1


def test_repeated_items_add_up_instead_of_averaging():
    """With the relative bias at zero and one item repeated, every weight of a row is the same
    SiLU(q.k) / n, so the first block's attention output at position t is (t + 1) times the
    one at position 0; a softmax would give the same output at every position."""
    model = make_model(num_layers=1)
    with torch.no_grad():
        model.attention_bias.position_weight.zero_()
        model.position_embeddings.weight.zero_()
    block = model.blocks[0]
    captured = {}
    handle = block.attention.register_forward_hook(lambda module, args, output: captured.setdefault("out", output))
    hidden(model, [[7, 7, 7, 7]])
    handle.remove()
    out = captured["out"]  # [4 tokens, heads * v_dim]
    for t in range(4):
        assert torch.allclose(out[t], (t + 1) * out[0], rtol=1e-4, atol=1e-6)
    assert out[0].abs().max() > 1e-4


def test_left_padding_and_masked_content_do_not_change_outputs():
    model = make_model()
    short = hidden(model, [[5, 6, 7]])
    padded = hidden(model, [[0, 0, 0, 0, 0, 5, 6, 7]])
    assert torch.allclose(short[0], padded[0, -3:], atol=1e-5)
    garbage = torch.tensor([[11, 12, 13, 14, 15, 5, 6, 7]])
    mask = torch.tensor([[False] * 5 + [True] * 3])
    assert torch.allclose(hidden(model, garbage, mask=mask)[0, -3:], short[0], atol=1e-5)
    assert not padded[0, :5].any()  # padding positions are zeros


# ----------------------------------------------------------------------------- packed == padded
def test_length_groups_hold_every_token_once_right_aligned():
    lengths = torch.tensor([5, 0, 1, 3, 17, 2, 4, 9])
    groups = length_groups(lengths)
    tokens = torch.cat([g.index[g.valid] for g in groups])
    assert sorted(tokens.tolist()) == list(range(int(lengths.sum())))
    for group in groups:
        width = group.index.shape[1]
        assert group.valid[:, -1].all()  # the most recent item sits in the last column
        counts = group.valid.sum(1)
        assert counts.max() == width and (counts > width // 2).all()  # one power-of-two bucket


@pytest.mark.parametrize("with_times", [False, True])
def test_packed_attention_equals_padded_in_outputs_and_gradients(with_times):
    # chunks of 3 queries over histories up to 20 long: chunking and recomputation both run
    model = make_model(max_history=20, attention_chunk_size=3, randomize=False).train()
    lengths = torch.tensor([20, 3, 7, 1, 12, 0])
    ids = torch.randint(2, NUM_ITEMS, (6, 20), generator=torch.Generator().manual_seed(0))
    ids = ids * (torch.arange(20) >= (20 - lengths).unsqueeze(1))
    times = hourly_times(ids) if with_times else None
    labels = torch.where(ids != 0, torch.randint(2, NUM_ITEMS, ids.shape), -100)
    results = []
    for packed in (True, False):
        model.pack_histories = packed
        model.zero_grad()
        torch.manual_seed(0)  # the same sampled negatives
        output = model(ids, labels=labels, history_times=times, output_hidden_states=True)
        output.loss.backward()
        results.append((output.hidden_states.detach(), output.loss.detach(),
                        [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in model.parameters()]))
    (h1, l1, g1), (h2, l2, g2) = results
    assert torch.allclose(h1, h2, atol=1e-5)
    assert torch.allclose(l1, l2, atol=1e-5)
    for a, b in zip(g1, g2):
        assert torch.allclose(a, b, atol=1e-5)


# ----------------------------------------------------------------------------- times
def test_time_bias_uses_times_and_falls_back_to_positions():
    model = make_model()
    history = torch.tensor([[0, 0, 5, 6, 7, 8, 9, 10]])
    without = hidden(model, history)
    with_times = hidden(model, history, hourly_times(history, seed=0))
    other_times = hidden(model, history, hourly_times(history, seed=1))
    assert not torch.allclose(without, with_times)  # the gaps change the outputs
    assert not torch.allclose(with_times, other_times)
    # only gaps matter: shifting every time by a constant changes nothing
    shifted = hidden(model, history, hourly_times(history, seed=0) + 12345 * (history != 0))
    assert torch.allclose(with_times, shifted, atol=1e-5)
    # a model told not to use them reads positions only
    model.config.use_time_bias = False
    assert torch.allclose(hidden(model, history, hourly_times(history)), without, atol=1e-6)


def test_collator_carries_times_only_for_logs_that_have_them(tiny_data):
    model = make_model(num_items=tiny_data.processor.num_items, max_history=10)
    task = NextItemTask(tiny_data, model)
    features = task.dataset("train").select(range(8)).to_list()
    batch = task.collator()(features)
    assert tiny_data.log.has_timestamps
    assert batch["history_times"].shape == batch["history_ids"].shape
    assert batch["history_times"].dtype == torch.int64
    assert not batch["history_times"][~batch["history_mask"]].any()
    # the times are the log's: the last training item of each row and its time
    sequences = tiny_data.sequences
    rows = np.asarray([f["row"] for f in features])
    assert batch["history_times"][:, -1].tolist() == sequences.timestamps[rows - 1].tolist()
    eval_batch = task.collator()(task.dataset("test").select(range(4)).to_list())
    assert eval_batch["history_times"].shape == eval_batch["history_ids"].shape
    # SASRec and the other next-item models take the same batch and ignore the times
    from hf_recsys.models import SASRecConfig, SASRecForNextItem

    sasrec = SASRecForNextItem(SASRecConfig(num_items=tiny_data.processor.num_items, max_history=10, hidden_size=8,
                                            num_heads=1, ffn_dim=8)).eval()
    with torch.no_grad():
        assert torch.equal(sasrec(**eval_batch).logits,
                           sasrec(**{k: v for k, v in eval_batch.items() if k != "history_times"}).logits)
    # a log whose "times" are only positions gives no history_times
    frame = tiny_data.log.interactions.copy()
    frame.attrs["has_timestamps"] = False
    untimed = prepare_data(InteractionLog(name="untimed", interactions=frame), DataConfig(max_history=10))
    untimed_task = NextItemTask(untimed, make_model(num_items=untimed.processor.num_items, max_history=10))
    assert "history_times" not in untimed_task.collator()(untimed_task.dataset("train").select(range(4)).to_list())
    collator = NextItemCollator(tiny_data.sequences, 10)  # the default: no times
    assert "history_times" not in collator(features)


# ----------------------------------------------------------------------------- save / serve
def _save(model, data, folder):
    model.save_pretrained(folder)
    data.processor.save_pretrained(folder)
    return folder


def test_save_load_automodel_gives_identical_scores(tiny_data, tmp_path):
    model = make_model(num_items=tiny_data.processor.num_items, max_history=10)
    folder = _save(model, tiny_data, tmp_path / "hstu")
    assert json.loads((folder / "config.json").read_text())["model_type"] == "hstu"
    loaded = AutoModel.from_pretrained(folder).eval()
    assert type(loaded) is HSTUForNextItem
    history = torch.tensor([[0, 0, 3, 4, 5, 6, 7, 8, 9, 10], [0, 0, 0, 0, 0, 0, 0, 11, 12, 13]])
    times = hourly_times(history)
    with torch.no_grad():
        for t in (None, times):
            assert torch.equal(model(history, history_times=t).logits, loaded(history, history_times=t).logits)


def test_query_and_item_embeddings_reproduce_the_scores():
    model = make_model()
    history = torch.tensor([[0, 0, 3, 4, 5, 6, 7, 8]])
    times = hourly_times(history)
    with torch.no_grad():
        logits = model(history, history_times=times).logits
        query = model.get_query_embeddings(history, history_times=times)
        items = model.get_item_embeddings()
    assert torch.allclose(query @ items.T, logits, atol=1e-4)
    assert torch.allclose(items[2:].norm(dim=1), torch.ones(NUM_ITEMS - 2), atol=1e-5)  # L2-normalised items


def test_recommend_returns_raw_ids_and_excludes_seen(tiny_data, tmp_path):
    model = make_model(num_items=tiny_data.processor.num_items, max_history=10)
    loaded = AutoModel.from_pretrained(_save(model, tiny_data, tmp_path / "hstu"))
    vocabulary = tiny_data.processor.item_vocab.tokens
    history = vocabulary[:6]
    recommended = loaded.recommend([history], k=10)[0]
    assert len(recommended) == 10 and set(recommended) <= set(vocabulary)
    assert not set(recommended) & set(history)
    encoded = tiny_data.processor([history], max_history=10)
    with torch.no_grad():
        logits = loaded(encoded["history_ids"]).logits[0]
    logits[:2] = -float("inf")
    top = loaded.recommend([history], k=1, exclude_seen=False)[0][0]
    assert top == vocabulary[int(logits.argmax()) - 2]


def test_export_takes_times_and_matches_pytorch(tiny_data, tmp_path):
    from hf_recsys.export import example_inputs, export_program, program_input_names

    model = make_model(num_items=tiny_data.processor.num_items, max_history=10)
    program = export_program(model)
    assert program_input_names(program) == ["history_ids", "history_mask", "history_times"]
    batch = example_inputs(model, batch_size=3, history_length=7, seed=5)
    batch["history_ids"][1, :4] = 0
    batch["history_mask"] = batch["history_ids"] != 0
    batch["history_times"] = batch["history_times"] * batch["history_mask"]
    scores = program.module()(*(batch[name] for name in program_input_names(program)))
    with torch.no_grad():
        expected = model(**batch).logits
    assert torch.allclose(scores, expected, atol=1e-4)


# ----------------------------------------------------------------------------- training
def test_training_lowers_the_loss_with_every_loss_type(tiny_data):
    for loss_type in ("sampled_softmax", "ce"):
        model = make_model(num_items=tiny_data.processor.num_items, max_history=10, randomize=False,
                           loss_type=loss_type, num_negatives=16).train()
        task = NextItemTask(tiny_data, model)
        batch = task.collator()(task.dataset("train").to_list())
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        losses = []
        for _ in range(15):
            torch.manual_seed(0)
            loss = model(**batch).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        assert losses[-1] < 0.8 * losses[0], (loss_type, losses)


def test_cli_trains_saves_and_reloads_hstu(tmp_path):
    from hf_recsys.cli import train_main

    out = tmp_path / "hstu"
    train_main(["--model", "hstu", "--max-steps", "20", "--batch-size", "64", "--synthetic-users", "120",
                "--synthetic-items", "60", "--max-history", "12", "--no-progress", "--output-dir", str(out),
                "--set", "num_layers=2", "--set", "hidden_size=16"])
    results = json.loads((out / "eval_results.json").read_text())
    assert 0.0 <= results["eval_ndcg@10"] <= 1.0
    loaded = AutoModel.from_pretrained(out)
    assert isinstance(loaded, HSTUForNextItem) and loaded.config.num_layers == 2
    assert len(loaded.recommend([["1", "2", "3"]], k=5)[0]) == 5


@pytest.mark.parametrize("field, value", [("num_heads", 0), ("qk_dim", 2.5), ("attention_chunk_size", 0),
                                          ("temperature", 0.0), ("time_bucket_divisor", -1.0), ("dropout", 1.0)])
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        HSTUConfig(num_items=10, **{field: value})
