"""The compiled (C++) time-step loops of the packed GRU (models/compiled_gru.py) compute the same
function as the pure PyTorch loops, and the pure loops are taken whenever the compiled one
cannot or must not be used."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
import torch
from torch import nn

from hf_recsys.models import compiled_gru
from hf_recsys.models.compiled_gru import PURE_PATH_ENV, compiled_gru_error, compiled_gru_ops
from hf_recsys.models.configuration_dien import DIENConfig
from hf_recsys.models.modeling_dien import DIENForCTR
from hf_recsys.models.modeling_gru import InterestGRU, pack_histories, packed_torch_gru

TOLERANCE = dict(rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def compiled_ops():
    ops = compiled_gru_ops()
    if ops is None:
        pytest.skip(
            "the compiled GRU loop could not be built on this machine (needs a C++ compiler, ninja, AVX2): "
            f"{compiled_gru_error() or PURE_PATH_ENV + ' is set'}"
        )
    return ops


def ragged_mask() -> torch.Tensor:
    """7 histories of length 9: an empty one, a full one, holes, left and right padding."""
    lengths = torch.tensor([3, 0, 9, 1, 5, 9, 2])
    mask = torch.arange(9).unsqueeze(0) >= (9 - lengths).unsqueeze(1)
    mask[4] = torch.tensor([1, 0, 1, 1, 0, 0, 1, 1, 0], dtype=torch.bool)  # holes and right padding
    return mask


class _Raising:
    """Stands in for the compiled ops: any use fails the test."""

    def __getattr__(self, name):
        raise AssertionError(f"the compiled loop was used ({name})")


def run_interest_gru(gru: InterestGRU, kind: str, compiled: bool, dtype=torch.float32, seed: int = 0):
    """Forward + backward of one recurrence kind; returns outputs and every gradient."""
    generator = torch.Generator().manual_seed(seed)
    packing = pack_histories(ragged_mask())
    count = packing.source.shape[0]
    inputs = torch.randn(count, 6, generator=generator, dtype=dtype).requires_grad_()
    scale = torch.rand(count, 1, generator=generator, dtype=dtype).requires_grad_()
    gru.compiled = compiled
    gru.zero_grad(set_to_none=True)
    if kind == "gru":
        output = gru(inputs, packing)
    elif kind == "gru_final":
        output = gru(inputs, packing, return_all=False)
    elif kind == "aigru":
        output = gru(inputs, packing, input_scale=scale, return_all=False)
    else:  # augru / agru: attention on the update
        output = gru(inputs, packing, step_scale=scale, return_all=kind == "augru_all")
    weights = torch.randn(output.shape, generator=generator, dtype=dtype)
    (output * weights).sum().backward()
    return [output.detach(), inputs.grad] + ([scale.grad] if scale.grad is not None else []) + [
        parameter.grad for parameter in gru.parameters()
    ]


@pytest.mark.parametrize(
    "kind, has_update_gate",
    [("gru", True), ("gru_final", True), ("augru", True), ("augru_all", True), ("aigru", True), ("agru", False)],
)
def test_compiled_loop_matches_pure_loop(compiled_ops, kind, has_update_gate):
    torch.manual_seed(0)
    gru = InterestGRU(6, 5, has_update_gate=has_update_gate)  # hidden 5: a partial vector
    pure = run_interest_gru(gru, kind, compiled=False)
    fast = run_interest_gru(gru, kind, compiled=True)
    assert len(pure) == len(fast)
    for expected, actual in zip(pure, fast):
        torch.testing.assert_close(actual, expected, **TOLERANCE)
    assert pure[0].abs().sum() > 0 and all(grad.abs().sum() > 0 for grad in pure[1:])


def test_compiled_loop_matches_on_wide_states(compiled_ops):
    """Hidden 64 (whole AVX2 vectors, the benchmark's width) plus a tail (67)."""
    for hidden in (64, 67):
        torch.manual_seed(1)
        gru = InterestGRU(6, hidden)
        for kind in ("gru", "augru"):
            for expected, actual in zip(run_interest_gru(gru, kind, False), run_interest_gru(gru, kind, True)):
                torch.testing.assert_close(actual, expected, **TOLERANCE)


def test_compiled_packed_torch_gru_matches(compiled_ops):
    torch.manual_seed(2)
    gru = nn.GRU(4, 8, num_layers=2, batch_first=True)
    packing = pack_histories(ragged_mask())
    inputs = torch.randn(packing.source.shape[0], 4)
    results = []
    for compiled in (False, True):
        gru.zero_grad(set_to_none=True)
        leaf = inputs.clone().requires_grad_()
        states = packed_torch_gru(gru, leaf, packing, compiled=compiled)
        (states * torch.linspace(-1, 1, states.numel()).view_as(states)).sum().backward()
        results.append([states.detach(), leaf.grad] + [p.grad for p in gru.parameters()])
    for expected, actual in zip(*results):
        torch.testing.assert_close(actual, expected, **TOLERANCE)


def dien_pair():
    config = dict(
        num_items=50, num_categories=6, item_embedding_dim=8, category_embedding_dim=8, user_feature_sizes=[3],
        max_history=9, attention_type="mlp", aux_scorer="mlp",
    )
    torch.manual_seed(3)
    pure = DIENForCTR(DIENConfig(**config))
    fast = DIENForCTR(DIENConfig(**config, compiled_recurrence=True))
    fast.load_state_dict(pure.state_dict())
    mask = ragged_mask()
    generator = torch.Generator().manual_seed(4)
    batch = dict(
        history_ids=torch.randint(2, 50, mask.shape, generator=generator) * mask,
        history_mask=mask,
        history_negatives=torch.randint(2, 50, mask.shape, generator=generator) * mask,
        target_ids=torch.randint(2, 50, (7,), generator=generator),
        user_features=torch.randint(0, 3, (7, 1), generator=generator),
        labels=torch.randint(0, 2, (7,), generator=generator).float(),
    )
    return pure, fast, batch


def test_dien_compiled_recurrence_same_loss_and_gradients(compiled_ops):
    pure, fast, batch = dien_pair()
    assert fast.interest_extractor.compiled and fast.interest_evolution.compiled and not pure.interest_extractor.compiled
    losses = []
    for model in (pure, fast):
        loss = model(**batch).loss
        loss.backward()
        losses.append(loss.detach())
    torch.testing.assert_close(losses[1], losses[0], **TOLERANCE)
    for (name, expected), actual in zip(pure.named_parameters(), fast.parameters()):
        torch.testing.assert_close(actual.grad, expected.grad, **TOLERANCE, msg=name)


def test_gru4rec_compiled_recurrence_same_loss_and_gradients(compiled_ops):
    from hf_recsys.models import GRU4RecConfig, GRU4RecForNextItem

    models = []
    for compiled in (False, True):
        torch.manual_seed(5)
        config = GRU4RecConfig(
            num_items=40, embedding_dim=8, hidden_size=12, num_layers=2, dropout=0.0, compiled_recurrence=compiled
        )
        models.append(GRU4RecForNextItem(config).train())
    mask = ragged_mask()
    ids = torch.randint(2, 40, mask.shape, generator=torch.Generator().manual_seed(6)) * mask
    labels = torch.where(mask, torch.randint(2, 40, mask.shape, generator=torch.Generator().manual_seed(7)), -100)
    losses = []
    for model in models:
        loss = model(ids, mask, labels=labels).loss
        loss.backward()
        losses.append(loss.detach())
    torch.testing.assert_close(losses[1], losses[0], **TOLERANCE)
    for (name, expected), actual in zip(models[0].named_parameters(), models[1].parameters()):
        torch.testing.assert_close(actual.grad, expected.grad, **TOLERANCE, msg=name)


def test_forced_pure_path_never_touches_the_compiled_loop(monkeypatch, caplog):
    monkeypatch.setattr(compiled_gru, "_state", {"ops": _Raising()})
    monkeypatch.setenv(PURE_PATH_ENV, "1")
    with caplog.at_level(logging.INFO, logger=compiled_gru.__name__):
        assert compiled_gru_ops() is None
        gru = InterestGRU(6, 5)
        run_interest_gru(gru, "augru", compiled=True)
    assert [record.message for record in caplog.records] == [
        f"GRU recurrence: pure PyTorch step loop ({PURE_PATH_ENV} is set)"
    ]


def test_float64_and_tracing_take_the_pure_loop(monkeypatch):
    """float64 (gradient checks) and traced / exported calls never reach the C++ loop, even
    when it is available and asked for."""
    monkeypatch.setattr(compiled_gru, "_state", {"ops": _Raising()})
    monkeypatch.delenv(PURE_PATH_ENV, raising=False)
    gru = InterestGRU(6, 5).double()
    pure = run_interest_gru(gru, "augru", compiled=False, dtype=torch.float64)
    forced = run_interest_gru(gru, "augru", compiled=True, dtype=torch.float64)
    for expected, actual in zip(pure, forced):
        torch.testing.assert_close(actual, expected, rtol=0, atol=0)
    monkeypatch.setattr(torch.jit, "is_tracing", lambda: True)
    run_interest_gru(InterestGRU(6, 5), "gru", compiled=True)  # float32 but "tracing"


def test_build_failure_falls_back_with_one_warning(monkeypatch, caplog):
    def no_compiler():
        raise RuntimeError("Ninja is required to load C++ extensions")

    monkeypatch.setattr(compiled_gru, "_state", {})
    monkeypatch.setattr(compiled_gru, "_build", no_compiler)
    monkeypatch.delenv(PURE_PATH_ENV, raising=False)
    with caplog.at_level(logging.INFO, logger=compiled_gru.__name__):
        gru = InterestGRU(6, 5)
        first = run_interest_gru(gru, "gru", compiled=True)
        second = run_interest_gru(gru, "gru", compiled=False)
        assert compiled_gru_ops() is None
    for expected, actual in zip(second, first):
        torch.testing.assert_close(actual, expected, rtol=0, atol=0)
    assert len(caplog.records) == 1 and "Ninja is required" in caplog.records[0].message
    assert caplog.records[0].levelno == logging.WARNING


def test_import_and_model_construction_do_not_compile():
    code = (
        "import hf_recsys\n"
        "from hf_recsys.models import compiled_gru\n"
        "from hf_recsys.models.configuration_dien import DIENConfig\n"
        "from hf_recsys.models.modeling_dien import DIENForCTR\n"
        "DIENForCTR(DIENConfig(num_items=10, num_categories=3, compiled_recurrence=True))\n"
        "assert compiled_gru._state == {}, compiled_gru._state\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
