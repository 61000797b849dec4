"""The faster code paths equal the straightforward ones they replace (docs/profile.md)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hf_recsys.data.samples import InteractionSequences
from hf_recsys.models import SASRecConfig, SASRecForNextItem
from hf_recsys.models.modeling_next_item import full_cross_entropy
from hf_recsys.training.next_item import FullRanker


def _sequences(num_users: int, length: int, num_items: int, seed: int) -> InteractionSequences:
    """A flat log of ``num_users`` users with ``length`` interactions each (repeats allowed)."""
    rng = np.random.default_rng(seed)
    total = num_users * length
    return InteractionSequences(
        items=rng.integers(1, num_items, total).astype(np.int64),  # the unknown item 1 and repeats too
        timestamps=np.arange(total, dtype=np.int64),
        users=np.repeat(np.arange(num_users), length).astype(np.int64),
        user_start=np.repeat(np.arange(num_users) * length, length).astype(np.int64),
        split=np.zeros(total, np.int8),
    )


@pytest.mark.parametrize("tie_breaking", ["pessimistic", "random"])
@pytest.mark.parametrize("exclude_history", [True, False])
def test_fast_ranks_equal_reference_ranks(tie_breaking, exclude_history):
    num_users, length, num_items = 12, 9, 15
    sequences = _sequences(num_users, length, num_items, seed=0)
    generator = torch.Generator().manual_seed(0)
    # rounded scores: many ties, with history items, specials and the target among them
    scores = torch.randint(-3, 4, (num_users, num_items), generator=generator).float()
    scores[0, 5] = float("nan")  # a NaN competitor never counts
    rows = torch.arange(num_users) * length + torch.randint(1, length, (num_users,), generator=generator)
    targets = torch.from_numpy(sequences.items[rows.numpy()]).clone()
    targets[1] = 1  # an unknown-item target (a special column)
    scores[2, targets[2]] = float("nan")  # a NaN target ranks last
    ranker = FullRanker(sequences, exclude_history=exclude_history, tie_breaking=tie_breaking, seed=3)
    fast = ranker.ranks(scores, targets, rows)
    assert torch.equal(fast, ranker.reference_ranks(scores, targets, rows))
    assert fast[2].item() == num_items
    # the scores are not modified in place
    assert torch.isnan(scores[0, 5]) and scores[:, :2].isfinite().all()
    # an expanded (stride-0) score matrix, as the popularity baseline passes
    row_scores = scores[3].expand(num_users, -1)
    assert torch.equal(ranker.ranks(row_scores, targets, rows), ranker.reference_ranks(row_scores, targets, rows))


@pytest.mark.parametrize("with_bias", [False, True])
def test_transposed_chunked_cross_entropy_matches_autograd(with_bias):
    generator = torch.Generator().manual_seed(1)
    queries = torch.randn(37, 6, generator=generator, requires_grad=True)
    items = torch.randn(23, 6, generator=generator, requires_grad=True)
    bias = torch.randn(23, generator=generator, requires_grad=True) if with_bias else None
    targets = torch.randint(0, 23, (37,), generator=generator)
    loss = full_cross_entropy(queries, items, bias, targets, chunk_size=16)
    grads = torch.autograd.grad(loss, [t for t in (queries, items, bias) if t is not None])
    logits = queries @ items.T + (bias if bias is not None else 0.0)
    expected = F.cross_entropy(logits, targets)
    expected_grads = torch.autograd.grad(expected, [t for t in (queries, items, bias) if t is not None])
    torch.testing.assert_close(loss, expected)
    for got, want in zip(grads, expected_grads):
        torch.testing.assert_close(got, want)


def test_training_with_one_label_per_sequence_uses_the_same_full_cross_entropy():
    config = SASRecConfig(num_items=30, max_history=8, hidden_size=16, num_heads=2, ffn_dim=32, dropout=0.0,
                          attention_dropout=0.0)
    torch.manual_seed(0)
    model = SASRecForNextItem(config)
    history = torch.randint(2, 30, (5, 8))
    history[0, :3] = 0
    labels = torch.randint(2, 30, (5,))
    model.train()
    trained = model(history_ids=history, labels=labels)
    assert trained.logits is None  # training never reads the [B, num_items] logits
    trained.loss.backward()
    fused_grad = model.item_embeddings.weight.grad.clone()
    model.zero_grad()
    model.eval()  # no dropout in either mode here, so eval mode is the same function
    evaluated = model(history_ids=history, labels=labels)
    evaluated.loss.backward()
    torch.testing.assert_close(trained.loss, evaluated.loss)
    torch.testing.assert_close(fused_grad, model.item_embeddings.weight.grad)


def test_attention_dropout_path_is_unbiased_and_keeps_sdpa_semantics():
    from hf_recsys.models.modeling_utils import scaled_dot_product_attention

    generator = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(3, 2, 6, 4, generator=generator) for _ in range(3))
    mask = torch.rand(3, 1, 6, 6, generator=generator) > 0.3
    mask[0, 0, 2] = False  # a fully masked query row
    mask[1:, 0].diagonal(dim1=-2, dim2=-1).fill_(True)
    plain = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    # no dropout: exactly PyTorch's function
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, attn_mask=mask), plain)
    torch.manual_seed(0)
    draws = torch.stack([scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=0.25) for _ in range(4000)])
    assert (draws[:, 0, :, 2] == 0).all()  # fully masked row -> zeros, as in SDPA
    torch.testing.assert_close(draws.mean(0), plain, atol=0.06, rtol=0.0)  # inverted dropout: unbiased
    # causal flag equals an explicit lower-triangular mask
    torch.manual_seed(1)
    causal = scaled_dot_product_attention(q, k, v, dropout_p=0.25, is_causal=True)
    torch.manual_seed(1)
    explicit = scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(6, 6, dtype=torch.bool).tril(), dropout_p=0.25)
    torch.testing.assert_close(causal, explicit)


def test_fast_dropout_keeps_every_byte_position_with_the_same_probability():
    from hf_recsys.models.modeling_utils import FastDropout

    torch.manual_seed(0)
    dropout = FastDropout(0.25).train()
    kept = (dropout(torch.ones(20000, 8)) != 0).float().mean(0)  # column j = byte j of each word
    torch.testing.assert_close(kept, torch.full((8,), 0.75), atol=0.02, rtol=0.0)
