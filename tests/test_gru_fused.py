"""GRU4Rec's fused recurrence (modeling_gru.packed_torch_gru, shared with DIEN) is nn.GRU:
same outputs and gradients, same state_dict layout, same saved folders."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_sequence
from transformers import AutoModel

import hf_recsys  # noqa: F401  (registers the Auto classes)
from hf_recsys.models import GRU4RecConfig, GRU4RecForNextItem
from hf_recsys.models.modeling_gru import pack_histories, packed_torch_gru, update_first_gates

NUM_ITEMS = 40


def _model(num_layers: int = 1, dropout: float = 0.0, seed: int = 0) -> GRU4RecForNextItem:
    torch.manual_seed(seed)
    config = GRU4RecConfig(num_items=NUM_ITEMS, embedding_dim=8, hidden_size=12, num_layers=num_layers, dropout=dropout)
    return GRU4RecForNextItem(config)


def _histories(lengths: list[int], length: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded ``[B, L]`` ids and mask with the given history lengths (0 = empty)."""
    generator = torch.Generator().manual_seed(seed)
    mask = torch.arange(length)[None, :] >= (length - torch.tensor(lengths))[:, None]
    ids = torch.randint(2, NUM_ITEMS, (len(lengths), length), generator=generator) * mask
    return ids, mask


def _parameter_grads(model: torch.nn.Module, value: torch.Tensor) -> dict[str, torch.Tensor]:
    names, parameters = zip(*[(n, p) for n, p in model.named_parameters()])
    return dict(zip(names, torch.autograd.grad(value, parameters, allow_unused=True)))


@pytest.mark.parametrize("num_layers", [1, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fused_encode_matches_nn_gru_outputs_and_gradients(num_layers, dtype):
    model = _model(num_layers).to(dtype)
    # empty, length 1, full, ties, and a reversed-length order (the packing sorts them)
    ids, mask = _histories([0, 1, 9, 4, 4, 2, 7, 0], length=9)
    fused = model.encode(ids, mask)
    reference = model.reference_encode(ids, mask)
    tolerance = {"atol": 1e-12, "rtol": 1e-10} if dtype == torch.float64 else {"atol": 1e-6, "rtol": 1e-5}
    torch.testing.assert_close(fused, reference, **tolerance)
    weights = torch.randn(fused.shape, generator=torch.Generator().manual_seed(1), dtype=dtype)
    fused_grads = _parameter_grads(model, (fused * weights).sum())
    reference_grads = _parameter_grads(model, (reference * weights).sum())
    assert set(fused_grads) == set(reference_grads)
    for name, grad in fused_grads.items():
        assert grad is not None and grad.abs().sum() > 0, name  # every parameter learns
        torch.testing.assert_close(grad, reference_grads[name], **tolerance, msg=name)


def test_fused_training_loss_and_gradients_match_nn_gru():
    """The whole forward (per-position full cross-entropy) through either encoder."""
    model = _model(num_layers=2).double().train()  # dropout 0: training is deterministic
    ids, mask = _histories([0, 3, 9, 6, 1], length=9, seed=2)
    labels = torch.where(mask, torch.randint(2, NUM_ITEMS, ids.shape), -100)
    fused_loss = model(ids, mask, labels=labels).loss
    fused_grads = _parameter_grads(model, fused_loss)
    model.encode = lambda history_ids, history_mask, user_ids=None: model.reference_encode(history_ids, history_mask)
    reference_loss = model(ids, mask, labels=labels).loss
    reference_grads = _parameter_grads(model, reference_loss)
    torch.testing.assert_close(fused_loss, reference_loss, atol=1e-12, rtol=1e-10)
    for name, grad in fused_grads.items():
        torch.testing.assert_close(grad, reference_grads[name], atol=1e-12, rtol=1e-10, msg=name)


def test_fused_encode_equals_a_plain_nn_gru_per_history_and_empty_history():
    """Independent of the model's code: each history's queries are ``projection(nn.GRU(items))``
    at its positions; an empty history takes one step on the zero vector; padding positions
    hold the projection of a zero state."""
    model = _model(num_layers=2).double().eval()
    ids, mask = _histories([5, 0, 2, 7], length=7, seed=3)
    with torch.no_grad():
        queries = model.encode(ids, mask)
        for row in range(ids.shape[0]):
            count = int(mask[row].sum())
            inputs = model.item_embeddings(ids[row, -count:]) if count else torch.zeros(1, 8, dtype=torch.float64)
            states, _ = model.gru(inputs.unsqueeze(0))
            run = max(count, 1)
            torch.testing.assert_close(queries[row, -run:], model.projection(states[0]), atol=1e-12, rtol=1e-10)
            padding = queries[row, : ids.shape[1] - run]
            torch.testing.assert_close(padding, model.projection.bias.expand_as(padding))


def test_holes_in_the_mask_behave_as_before():
    """Masked positions inside the last ``length`` columns enter the GRU as zero vectors, as the
    nn.GRU path did (a left-padded history has no holes; this pins the old semantics)."""
    model = _model().double().eval()
    ids, mask = _histories([6, 4, 3], length=6, seed=4)
    mask[0, 2] = False  # a hole
    mask[1, 0], mask[1, 5] = True, False  # an item left of the run, padding at the end
    torch.testing.assert_close(model.encode(ids, mask), model.reference_encode(ids, mask), atol=1e-12, rtol=1e-10)


def test_packed_torch_gru_matches_nn_gru_on_a_packed_sequence_with_input_gradients():
    torch.manual_seed(5)
    gru = torch.nn.GRU(6, 5, num_layers=2).double()
    lengths = [3, 1, 4, 4, 2]
    sequences = [torch.randn(n, 6, dtype=torch.float64, requires_grad=True) for n in lengths]
    expected, _ = gru(pack_sequence(sequences, enforce_sorted=False))
    expected = torch.nn.utils.rnn.unpack_sequence(expected)
    mask = torch.arange(4)[None, :] >= (4 - torch.tensor(lengths))[:, None]
    packing = pack_histories(mask)
    grid = torch.zeros(len(lengths), 4, 6, dtype=torch.float64)
    grid = grid.index_put((mask,), torch.cat(sequences))  # row-major = each sequence in order
    states = packed_torch_gru(gru, packing.gather(grid), packing)
    got = torch.zeros(len(lengths) * 4, 5, dtype=torch.float64).index_copy(0, packing.source, states).view(len(lengths), 4, 5)
    for row, n in enumerate(lengths):
        torch.testing.assert_close(got[row, 4 - n :], expected[row])
    weights = torch.randn(got.shape, dtype=torch.float64)
    got_grads = torch.autograd.grad((got * weights).sum(), sequences + list(gru.parameters()))
    expected_value = sum((out * weights[row, 4 - n :]).sum() for row, (out, n) in enumerate(zip(expected, lengths)))
    expected_grads = torch.autograd.grad(expected_value, sequences + list(gru.parameters()))
    for got_grad, expected_grad in zip(got_grads, expected_grads):
        torch.testing.assert_close(got_grad, expected_grad)


def test_update_first_gates_is_the_documented_permutation():
    gates = torch.arange(6.0)  # hidden 2: r = [0, 1], z = [2, 3], n = [4, 5]
    assert update_first_gates(gates).tolist() == [-2.0, -3.0, 0.0, 1.0, 4.0, 5.0]


def test_state_dict_keeps_nn_gru_layout_and_saved_folders_load_with_identical_logits(tmp_path):
    model = _model(num_layers=2).eval()
    assert [name for name in model.state_dict() if name.startswith("gru.")] == [
        f"gru.{kind}_l{layer}" for layer in range(2) for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    ]
    assert not [name for name in model.state_dict() if name.startswith("layer_dropout")]
    # a folder as the nn.GRU code wrote it: the same names, weights of a separately trained GRU
    with torch.no_grad():
        trained = torch.nn.GRU(8, 12, num_layers=2, batch_first=True)
        model.gru.load_state_dict(trained.state_dict())
    model.save_pretrained(tmp_path)
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    assert isinstance(loaded, GRU4RecForNextItem)
    ids, mask = _histories([0, 4, 9, 2], length=9, seed=6)
    with torch.no_grad():
        reference_logits = model.reference_encode(ids, mask)[:, -1] @ model.item_embeddings.weight.T
        logits = loaded(ids, mask).logits
    torch.testing.assert_close(logits, reference_logits, atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids, mask).logits, model(ids, mask).logits, atol=0, rtol=0)


def test_two_layer_training_with_dropout_between_layers_learns(one_thread):
    model = _model(num_layers=2, dropout=0.3, seed=7).train()
    assert model.layer_dropout.p == 0.3
    ids, mask = _histories([8, 5, 0, 3, 8, 6], length=8, seed=8)
    labels = torch.where(mask, torch.roll(ids, -1, 1), -100)
    labels[:, -1] = -100
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    torch.manual_seed(0)
    losses = []
    for _ in range(40):
        loss = model(ids, mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.8 * losses[0]
    # dropout between layers is active in training only
    model.eval()
    with torch.no_grad():
        first, second = model.encode(ids, mask), model.encode(ids, mask)
    assert torch.equal(first, second)
