"""DIEN's training fast paths equal the straightforward computation (docs/profile.md): the
auxiliary MLP's split, in-place first layer and the single split embedding lookup."""

from __future__ import annotations

import pytest
import torch

import hf_recsys  # noqa: F401
from hf_recsys.models import DIENConfig, DIENForCTR
from hf_recsys.models.modeling_dien import AuxiliaryScorer, auxiliary_loss
from hf_recsys.models.modeling_gru import pack_histories
from hf_recsys.models.modeling_utils import binary_cross_entropy


@pytest.fixture(autouse=True)
def single_thread():
    """Tiny steps on 2 threads of a shared machine spend most of their time in OpenMP waits."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("kind", ["mlp", "inner_product"])
def test_auxiliary_scorer_equals_the_concatenated_mlp_with_gradients(kind):
    torch.manual_seed(0)
    scorer = AuxiliaryScorer(kind, 6, [7, 5]).double()
    states = torch.randn(9, 6, dtype=torch.float64, requires_grad=True)
    items = torch.randn(2, 9, 6, dtype=torch.float64, requires_grad=True)
    inputs = [states, items, *scorer.parameters()]
    fast = scorer(states, items)
    reference = scorer.reference_forward(states, items)
    torch.testing.assert_close(fast, reference)
    weights = torch.randn(fast.shape, dtype=torch.float64)
    fast_grads = torch.autograd.grad((fast * weights).sum(), inputs, allow_unused=True)
    reference_grads = torch.autograd.grad((reference * weights).sum(), inputs, allow_unused=True)
    for fast_grad, reference_grad in zip(fast_grads, reference_grads):
        if reference_grad is None:
            assert fast_grad is None
        else:
            torch.testing.assert_close(fast_grad, reference_grad)


def _tiny_dien() -> DIENForCTR:
    torch.manual_seed(0)
    config = DIENConfig(num_items=40, num_categories=6, user_feature_sizes=[4, 5], max_history=8,
                        item_embedding_dim=4, category_embedding_dim=4, mlp_hidden_sizes=[16],
                        attention_type="mlp", attention_hidden_sizes=[12], aux_scorer="mlp",
                        aux_hidden_sizes=[10, 6], aux_loss_alpha=0.7, gru_type="augru")
    model = DIENForCTR(config).double()
    model.embeddings.load_category_table(torch.arange(40) % 6)
    with torch.no_grad():  # an auxiliary MLP far from its near-constant initial output
        for parameter in model.auxiliary_scorer.parameters():
            parameter.normal_()
    return model.train()  # no dropout configured: training is deterministic


def _reference_loss(model: DIENForCTR, batch: dict[str, torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
    """The same training loss from the model's pieces, each input embedded on its own and the
    auxiliary MLP on the explicit concatenation ``[h_t ‖ e]``."""
    mask = batch["history_mask"]
    packing = pack_histories(mask)
    packed_ids = packing.gather(batch["history_ids"])
    interests = model.interest_extractor(model.embeddings(packed_ids), packing)
    clicked = model.embeddings(packed_ids.index_select(0, packing.next_target))
    sampled = model.embeddings(packing.gather(batch["history_negatives"]).index_select(0, packing.next_target))
    states = interests.index_select(0, packing.next_source)
    aux = auxiliary_loss(model.auxiliary_scorer.reference_forward(states, torch.stack([clicked, sampled])))
    query = model.embeddings(batch["target_ids"].index_select(0, packing.order))
    final = model.evolve(interests, model.attention(query, interests, packing), packing)
    logits = model.head(final, query, batch["user_features"].index_select(0, packing.order))
    logits = logits.index_select(0, packing.inverse_order)
    return binary_cross_entropy(logits, labels) + model.config.aux_loss_alpha * aux  # both in float32, as in forward


def test_dien_training_loss_and_gradients_equal_the_piecewise_computation():
    model = _tiny_dien()
    generator = torch.Generator().manual_seed(1)
    lengths = torch.tensor([0, 1, 8, 3, 5, 8])
    mask = torch.arange(8)[None, :] >= (8 - lengths)[:, None]
    batch = {
        "history_ids": torch.randint(2, 40, (6, 8), generator=generator) * mask,
        "history_mask": mask,
        "history_negatives": torch.randint(2, 40, (6, 8), generator=generator) * mask,
        "target_ids": torch.randint(2, 40, (6,), generator=generator),
        "user_features": torch.randint(1, 4, (6, 2), generator=generator),
    }
    labels = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 0.0], dtype=torch.float64)
    parameters = list(model.parameters())
    out = model(**batch, labels=labels)
    assert out.aux_loss is not None
    loss_grads = torch.autograd.grad(out.loss, parameters, allow_unused=True)
    reference = _reference_loss(model, batch, labels)
    reference_grads = torch.autograd.grad(reference, parameters, allow_unused=True)
    torch.testing.assert_close(out.loss, reference)  # float32 losses
    for (name, _), grad, reference_grad in zip(model.named_parameters(), loss_grads, reference_grads):
        if reference_grad is None:
            assert grad is None or not grad.any(), name
        else:
            torch.testing.assert_close(grad, reference_grad, atol=1e-6, rtol=1e-5, msg=name)
