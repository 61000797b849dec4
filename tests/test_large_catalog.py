"""Large catalogues: ``top_k_items`` scores the catalogue in chunks (no ``[batch, num_items]``
matrix) and gives the same top-k as ranking the full score matrix."""

import math

import pytest
import torch

import hf_recsys  # noqa: F401
from hf_recsys.models import MODEL_REGISTRY


def full_matrix_top_k(model, inputs, k, exclude_seen):
    """The reference: every item scored at once, specials and seen items masked, one topk."""
    scores = model.score_items(inputs, torch.arange(model.config.num_items)).float()
    scores[:, :2] = -math.inf
    if exclude_seen:
        scores.scatter_(1, inputs["history_ids"], -math.inf)
    return scores.topk(min(k, model.config.num_items - 2), dim=1)


@pytest.mark.parametrize("name", ["sasrec", "caser", "sumpool"])  # tied table, output bias, a CTR model
@pytest.mark.parametrize("exclude_seen", [True, False])
def test_chunked_top_k_equals_the_full_ranking(name, exclude_seen):
    spec = MODEL_REGISTRY[name]
    fields = spec.config_class.__dataclass_fields__
    small = {"hidden_size": 16, "embedding_dim": 8, "item_embedding_dim": 8, "category_embedding_dim": 8,
             "num_heads": 2, "ffn_dim": 16, "mlp_hidden_sizes": [8], "window_length": 3}
    config = spec.config_class(num_items=103, num_users=9, max_history=6, **{k: v for k, v in small.items() if k in fields})
    torch.manual_seed(0)
    model = spec.model_class(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.5)
    history = torch.randint(2, 103, (4, 6))
    history[0, :3] = 0
    inputs = {"history_ids": history, "history_mask": history != 0}
    if name == "caser":
        inputs["user_ids"] = torch.tensor([2, 3, 4, 5])
    expected = full_matrix_top_k(model, inputs, 10, exclude_seen)
    for chunk_size in (7, 50, 1000):  # many chunks, chunks smaller than k... and one chunk
        values, indices = model.top_k_items(inputs, 10, exclude_seen=exclude_seen, chunk_size=chunk_size)
        assert torch.equal(indices, expected.indices), chunk_size
        assert torch.allclose(values, expected.values, rtol=1e-5, atol=1e-5)
    if exclude_seen:
        for row, seen in zip(indices.tolist(), history.tolist()):
            assert not set(row) & (set(seen) | {0, 1})
    # k above the number of candidates: every real item once, then -inf
    values, indices = model.top_k_items(inputs, 500, exclude_seen=exclude_seen, chunk_size=7)
    assert indices.shape == (4, 101)
    finite = torch.isfinite(values)
    for row in range(4):
        kept = indices[row][finite[row]].tolist()
        assert len(set(kept)) == len(kept) and min(kept) >= 2
