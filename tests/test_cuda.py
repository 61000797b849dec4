"""The GPU paths of every model: the same numbers on the accelerator as on the CPU.

Run on a machine with CUDA (``python -m pytest tests/test_cuda.py``); skipped without one.
``HF_RECSYS_TEST_DEVICE=cpu`` runs the very same checks with the CPU as the "device", which is
how this file is exercised where there is no GPU: the comparisons are then CPU against CPU and
check the file's own logic (batches, tolerances, tie handling), while the run on a GPU checks
the package's CUDA paths against the CPU.

What is checked:

* every ``"ctr"`` / ``"next_item"`` model of ``MODEL_REGISTRY`` (parametrized over the names, so a
  new model is covered): float32 loss and logits equal the CPU's; a train-mode backward gives
  finite gradients equal to the CPU's; under autocast (bf16, and fp16 on CUDA) the loss is
  finite and close to float32; ``recommend`` returns the CPU's top items;
* the fused packed GRU (DIEN, GRU4Rec) equals ``torch.nn.GRU`` on the device, in outputs and
  input / weight gradients, with an empty history in the batch; with
  ``compiled_recurrence=True`` off the CPU the pure loop is taken and gives the same result;
* one ``run_training`` per task (DIN, SASRec, tiny P5): metrics finite and in range, and the
  saved folder loads on the CPU and scores like the trained model moved to the CPU.
"""

from __future__ import annotations

import copy
import json
import math
import os
from typing import Any, Iterator

import pytest
import torch
from test_classic_models import SMALL as CLASSIC_SIZES  # the classic CTR models' tiny sizes
from torch import nn
from transformers import AutoModel

import hf_recsys  # noqa: F401  (registers the models)
from hf_recsys.benchmarks.device import to_device
from hf_recsys.models import MODEL_REGISTRY, compiled_gru
from hf_recsys.models.compiled_gru import PURE_PATH_ENV, compiled_loop_applies
from hf_recsys.models.modeling_gru import InterestGRU, pack_histories, packed_torch_gru, update_first_gates
from hf_recsys.models.modeling_utils import FastDropout, SelfAttention
from hf_recsys.training import next_item  # noqa: F401  (registers the "next_item" task)
from hf_recsys.training.tasks import TASKS

DEVICE_ENV = "HF_RECSYS_TEST_DEVICE"


def _select_device() -> torch.device:
    requested = os.environ.get(DEVICE_ENV, "").strip()
    if requested:
        return torch.device(requested)
    if torch.cuda.is_available():
        return torch.device("cuda")
    pytest.skip(f"needs a CUDA device ({DEVICE_ENV}=cpu runs the same checks on the CPU)", allow_module_level=True)


_DEVICE = _select_device()

#: CPU fp16 autocast covers few ops (and is not what anyone trains with): bf16 only there
AUTOCAST_DTYPES = [torch.bfloat16, torch.float16] if _DEVICE.type == "cuda" else [torch.bfloat16]

#: tiny sizes on top of the processor's data-dependent ones; models missing here get their
#: defaults (still small enough for the tiny catalogue, only slower)
TINY: dict[str, dict[str, Any]] = {
    **CLASSIC_SIZES,
    "bst": dict(item_embedding_dim=8, category_embedding_dim=8, num_heads=2, ffn_dim=16, user_feature_dim=4,
                mlp_hidden_sizes=[16, 8]),
    "din": dict(item_embedding_dim=8, category_embedding_dim=8, user_feature_dim=4, attention_hidden_sizes=[12, 6],
                mlp_hidden_sizes=[16, 8]),
    "dien": dict(item_embedding_dim=8, category_embedding_dim=8, user_feature_dim=4, attention_hidden_sizes=[12],
                 aux_hidden_sizes=[12], mlp_hidden_sizes=[16, 8], attention_type="mlp", aux_scorer="mlp"),
    "sumpool": dict(item_embedding_dim=8, category_embedding_dim=8, user_feature_dim=4, mlp_hidden_sizes=[16, 8]),
    "sasrec": dict(hidden_size=16, num_heads=2, ffn_dim=32),
    "gru4rec": dict(embedding_dim=16, hidden_size=16, num_layers=2),
    "caser": dict(embedding_dim=16, window_length=3, num_horizontal_filters=4, num_vertical_filters=2),
    "meanpool": dict(embedding_dim=16),
}

MODELS = sorted(name for name, spec in MODEL_REGISTRY.items() if spec.task in ("ctr", "next_item"))
BATCH_SIZE = 24

#: float32 on both sides, TF32 off: only summation order differs
FP32 = dict(rtol=1e-4, atol=1e-4)
#: gradients go through more reductions (embedding-bag style scatter-adds on the GPU are
#: atomics, in any order)
GRAD = dict(rtol=1e-3, atol=1e-4)


# --------------------------------------------------------------------------- fixtures & helpers
@pytest.fixture(scope="module")
def device() -> torch.device:
    return _DEVICE


@pytest.fixture(autouse=True)
def exact_float32_matmuls() -> Iterator[None]:
    """TF32 (on by default for cuDNN convolutions, opt-in for matmuls) rounds float32 inputs to
    10 mantissa bits: the float32 comparisons need it off. Restored after each test."""
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


pytestmark = pytest.mark.usefixtures("one_thread_per_module")


def build(name: str, processor: Any) -> nn.Module:
    """A tiny model of ``name`` sized from ``processor``, with weights moved off the ~0.02
    initialisation (so scores are not all ties near zero and comparisons mean something)."""
    torch.manual_seed(0)
    spec = MODEL_REGISTRY[name]
    model = spec.model_class(spec.config_class.from_processor(processor, **TINY.get(name, {})))
    model.load_item_features(processor)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype) * 0.2)
    return model.eval()


def make_batch(name: str, data: Any, model: nn.Module) -> dict[str, torch.Tensor]:
    """``BATCH_SIZE`` training samples as the model's task collates them for ``Trainer``."""
    task = TASKS[MODEL_REGISTRY[name].task](data, model)
    dataset = task.dataset("train")
    step = max(1, len(dataset) // BATCH_SIZE)  # spread over users (and both labels for CTR)
    return task.collator()([dataset[i] for i in range(0, step * BATCH_SIZE, step)])


def on_device(model: nn.Module, device: torch.device) -> nn.Module:
    """A copy of ``model`` (same state_dict, buffers included) on ``device``."""
    return copy.deepcopy(model).to(device)


def cpu_and_device(name: str, data: Any, device: torch.device) -> tuple[nn.Module, dict, nn.Module, dict]:
    """A tiny ``name`` model and its batch on the CPU, and the same model and batch on ``device``."""
    cpu_model = build(name, data.processor)
    batch = make_batch(name, data, cpu_model)
    return cpu_model, batch, on_device(cpu_model, device), to_device(batch, device)


def disable_dropout(model: nn.Module) -> nn.Module:
    """Zero every dropout the package uses, so that train mode is deterministic where nothing
    else is random (CPU and CUDA dropout draw different masks, and cannot be compared)."""
    for module in model.modules():
        if isinstance(module, FastDropout):
            module.p, module.threshold = 0.0, 0
        elif isinstance(module, nn.modules.dropout._DropoutNd):
            module.p = 0.0
        elif isinstance(module, (SelfAttention, nn.RNNBase)):
            module.dropout = 0.0
    return model


def train_mode_is_deterministic(model: nn.Module, batch: dict[str, torch.Tensor]) -> bool:
    """Whether two train-mode losses under different seeds agree (on CPU copies, so the
    model's BatchNorm statistics are untouched)."""
    losses = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        losses.append(copy.deepcopy(model).train()(**batch).loss.detach())
    return bool(torch.equal(losses[0], losses[1]))


def loss_and_grads(model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    loss = model(**batch).loss
    loss.backward()
    grads = {name: p.grad.detach().cpu() for name, p in model.named_parameters() if p.grad is not None}
    return loss.detach().cpu(), grads


def raw_histories(processor: Any, batch: dict[str, torch.Tensor], rows: int = 6) -> tuple[list, list]:
    """Raw item-ID histories and raw user IDs of the first ``rows`` rows of a collated batch."""
    histories = [[t for t in processor.decode_items(row.tolist()) if t is not None]
                 for row in batch["history_ids"][:rows]]
    users = None
    if "user_ids" in batch:
        tokens = processor.user_vocab.tokens
        users = [tokens[i] for i in batch["user_ids"][:rows].tolist()]
    return histories, users


def assert_same_top_items(device_recs: list, cpu_all: list, k: int, atol: float) -> None:
    """``device_recs``: the device's top-``k`` ``(item, score)`` per user; ``cpu_all``: the CPU's
    scores of every candidate. Same items in the same order, up to swaps of near-ties."""
    for device_row, cpu_row in zip(device_recs, cpu_all):
        cpu_scores = dict(cpu_row)
        assert len(device_row) == min(k, len(cpu_row))
        for position, (item, score) in enumerate(device_row):
            assert item in cpu_scores, f"{item} is not a candidate on the CPU"
            assert math.isclose(score, cpu_scores[item], rel_tol=1e-4, abs_tol=atol), (item, score, cpu_scores[item])
            # the CPU's item at this rank scores the same (a different item only on a tie)
            assert math.isclose(cpu_row[position][1], score, rel_tol=1e-4, abs_tol=atol), (position, device_row, cpu_row[:k])
        ties = sum(a != b for (a, _), (b, _) in zip(device_row, cpu_row))
        assert ties <= len(device_row) // 2, f"too many differing ranks: {device_row} vs {cpu_row[:k]}"


# --------------------------------------------------------------------------- every model
def test_every_ctr_and_next_item_model_is_covered():
    covered = {name for name, spec in MODEL_REGISTRY.items() if spec.task in ("ctr", "next_item")}
    assert set(MODELS) == covered and {"din", "dien", "bst", "sasrec", "gru4rec"} <= covered


@pytest.mark.parametrize("name", MODELS)
def test_float32_forward_and_backward_match_the_cpu(name, tiny_data, device):
    cpu_model, batch, device_model, device_batch = cpu_and_device(name, tiny_data, device)
    assert next(device_model.parameters()).device.type == device.type

    # eval mode, float32: the same loss and logits
    with torch.no_grad():
        expected = cpu_model(**batch)
        actual = device_model(**device_batch)
    assert expected.loss is not None and torch.isfinite(expected.loss)
    assert actual.logits.device.type == device.type and actual.logits.dtype == torch.float32
    torch.testing.assert_close(actual.loss.cpu(), expected.loss, **FP32)
    torch.testing.assert_close(actual.logits.cpu(), expected.logits, **FP32)

    # backward: train mode where that is deterministic without dropout (BatchNorm / Dice use
    # batch statistics there), else eval mode
    for model in (cpu_model, device_model):
        disable_dropout(model)
    train = train_mode_is_deterministic(cpu_model, batch)
    cpu_loss, cpu_grads = loss_and_grads(cpu_model.train(train), batch)
    device_loss, device_grads = loss_and_grads(device_model.train(train), device_batch)
    torch.testing.assert_close(device_loss, cpu_loss, **FP32)
    assert set(device_grads) == set(cpu_grads) and cpu_grads
    for key, grad in device_grads.items():
        assert torch.isfinite(grad).all(), key
        torch.testing.assert_close(grad, cpu_grads[key], **GRAD, msg=lambda m: f"{key} (train={train}): {m}")
    assert any(g.abs().sum() > 0 for g in cpu_grads.values())

    # the model's own dropout on the device (a different kernel on CUDA): finite loss and grads
    dropout_model = on_device(build(name, tiny_data.processor), device).train()
    torch.manual_seed(0)
    dropout_model(**device_batch).loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in dropout_model.parameters() if p.grad is not None)


@pytest.mark.parametrize("name", MODELS)
def test_autocast_loss_is_finite_and_close_to_float32(name, tiny_data, device):
    cpu_model, batch, device_model, device_batch = cpu_and_device(name, tiny_data, device)
    with torch.no_grad():
        reference = float(device_model(**device_batch).loss)
    # losses are reduced in float32 by design; the rest runs in the autocast dtype
    for dtype in AUTOCAST_DTYPES:
        with torch.no_grad(), torch.autocast(device.type, dtype=dtype):
            mixed = device_model(**device_batch)
        assert torch.isfinite(mixed.loss), dtype
        assert torch.isfinite(mixed.logits).all(), dtype
        assert abs(float(mixed.loss) - reference) <= 3e-2 * abs(reference), (dtype, float(mixed.loss), reference)
        # and a mixed-precision backward (what Trainer(bf16=True) runs) gives finite gradients
        device_model.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype):
            loss = device_model(**device_batch).loss
        loss.float().backward()
        grads = [p.grad for p in device_model.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads), dtype


@pytest.mark.parametrize("name", MODELS)
def test_recommend_on_the_device_returns_the_cpu_top_items(name, tiny_data, device):
    processor = tiny_data.processor
    cpu_model = build(name, processor)
    batch = make_batch(name, tiny_data, cpu_model)
    histories, users = raw_histories(processor, batch)
    device_model = on_device(cpu_model, device)
    k = 10
    everything = processor.num_items
    cpu_all = cpu_model.recommend(histories, k=everything, users=users, processor=processor, return_scores=True)
    device_recs = device_model.recommend(histories, k=k, users=users, processor=processor, return_scores=True)
    assert all(len(row) == k for row in device_recs)
    for history, row in zip(histories, device_recs):
        assert not {item for item, _ in row} & set(history)  # seen items are excluded on the device too
    # scores spread well beyond the tolerance (20x), so equal ranks are a real check
    assert max(row[0][1] - row[k - 1][1] for row in cpu_all) > 2e-3
    assert_same_top_items(device_recs, cpu_all, k, atol=1e-4)


# --------------------------------------------------------------------------- the fused GRU
def _ragged_mask(device: torch.device) -> torch.Tensor:
    """8 left-padded histories of length 9, one of them empty, one full, ties in length."""
    lengths = torch.tensor([3, 0, 9, 1, 5, 5, 2, 7], device=device)
    return torch.arange(9, device=device).unsqueeze(0) >= (9 - lengths).unsqueeze(1)


def _nn_gru_per_row(gru: nn.GRU, inputs: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
    """``nn.GRU`` over each non-empty row's valid items, from a zero state: ``[n_b, H]`` each."""
    return [gru(inputs[b, mask[b]].unsqueeze(0))[0][0] for b in range(mask.shape[0]) if mask[b].any()]


def test_packed_torch_gru_equals_nn_gru_on_the_device(device):
    torch.manual_seed(0)
    gru = nn.GRU(6, 8, num_layers=2, batch_first=True).to(device)
    mask = _ragged_mask(device)
    inputs = torch.randn(*mask.shape, 6, device=device, requires_grad=True)
    packing = pack_histories(mask)
    assert packing.source.device.type == device.type
    fused = packed_torch_gru(gru, packing.gather(inputs), packing)
    grid = fused.new_zeros(mask.numel(), 8).index_put((packing.source,), fused).view(*mask.shape, 8)
    reference = _nn_gru_per_row(gru, inputs, mask)
    rows = [b for b in range(mask.shape[0]) if mask[b].any()]
    assert len(rows) == mask.shape[0] - 1  # the empty history is in the batch, and has no output
    for b, expected in zip(rows, reference):
        torch.testing.assert_close(grid[b, mask[b]], expected, **FP32)
    assert torch.equal(grid[1], torch.zeros_like(grid[1]))

    weights = torch.randn(grid.shape, device=device, generator=torch.Generator(device).manual_seed(1))
    parameters = [inputs, *gru.parameters()]
    fused_grads = torch.autograd.grad((grid * weights).sum(), parameters)
    reference_value = sum((out * weights[b, mask[b]]).sum() for b, out in zip(rows, reference))
    reference_grads = torch.autograd.grad(reference_value, parameters)
    names = ["inputs"] + [n for n, _ in gru.named_parameters()]
    for name, actual, expected in zip(names, fused_grads, reference_grads):
        assert actual.abs().sum() > 0, name
        torch.testing.assert_close(actual, expected, **FP32, msg=lambda m: f"{name}: {m}")
    assert torch.equal(fused_grads[0][1], torch.zeros_like(fused_grads[0][1]))  # the empty row


def test_interest_gru_equals_nn_gru_and_augru_its_reference_on_the_device(device):
    """DIEN's interest extractor (an ``InterestGRU`` with update gate) is ``nn.GRU`` with its
    gates reordered; the AUGRU step (attention on the update) matches its plain-op reference."""
    torch.manual_seed(0)
    reference_gru = nn.GRU(6, 8, batch_first=True).to(device)
    gru = InterestGRU(6, 8).to(device)
    with torch.no_grad():
        for ours, theirs in (("weight_ih", "weight_ih_l0"), ("weight_hh", "weight_hh_l0"),
                             ("bias_ih", "bias_ih_l0"), ("bias_hh", "bias_hh_l0")):
            getattr(gru, ours).copy_(update_first_gates(getattr(reference_gru, theirs)))
    mask = _ragged_mask(device)
    inputs = torch.randn(*mask.shape, 6, device=device, requires_grad=True)
    packing = pack_histories(mask)
    states = gru(packing.gather(inputs), packing)
    grid = states.new_zeros(mask.numel(), 8).index_put((packing.source,), states).view(*mask.shape, 8)
    rows = [b for b in range(mask.shape[0]) if mask[b].any()]
    reference = _nn_gru_per_row(reference_gru, inputs, mask)
    for b, expected in zip(rows, reference):
        torch.testing.assert_close(grid[b, mask[b]], expected, **FP32)
    weights = torch.randn(grid.shape, device=device, generator=torch.Generator(device).manual_seed(2))
    ours = torch.autograd.grad((grid * weights).sum(), [inputs, gru.weight_hh, gru.weight_ih])
    theirs = torch.autograd.grad(sum((o * weights[b, mask[b]]).sum() for b, o in zip(rows, reference)),
                                 [inputs, reference_gru.weight_hh_l0, reference_gru.weight_ih_l0])
    torch.testing.assert_close(ours[0], theirs[0], **FP32)
    torch.testing.assert_close(ours[1], update_first_gates(theirs[1]), **FP32)  # same reordering
    torch.testing.assert_close(ours[2], update_first_gates(theirs[2]), **FP32)

    # AUGRU: the final state of each sequence against the padded, time-major reference
    scale = torch.rand(*mask.shape, 1, device=device, requires_grad=True)
    final = gru(packing.gather(inputs), packing, step_scale=packing.gather(scale), return_all=False)
    final = final.index_select(0, packing.inverse_order)  # sorted -> original rows
    expected = gru.reference_forward(inputs.transpose(0, 1), mask.t(), step_scale=scale.transpose(0, 1))[-1]
    torch.testing.assert_close(final, expected, **FP32)
    assert torch.equal(final[1], torch.zeros_like(final[1]))  # the empty history keeps the zero state
    got = torch.autograd.grad(final.square().sum(), [inputs, scale, gru.weight_hh])
    want = torch.autograd.grad(expected.square().sum(), [inputs, scale, gru.weight_hh])
    for actual, wanted in zip(got, want):
        torch.testing.assert_close(actual, wanted, **FP32)


def test_gru4rec_fused_encode_equals_nn_gru_encode_on_the_device(tiny_data, device):
    model = on_device(build("gru4rec", tiny_data.processor), device)
    batch = to_device(make_batch("gru4rec", tiny_data, model), device)
    ids, mask = batch["history_ids"].clone(), batch["history_mask"].clone()
    ids[0], mask[0] = 0, False  # an empty history: one step on the padding vector
    fused = model.encode(ids, mask)
    # cuDNN's RNN refuses a backward in eval mode; the reference runs nn.GRU's own CUDA loop
    with torch.backends.cudnn.flags(enabled=False):
        reference = model.reference_encode(ids, mask)
    torch.testing.assert_close(fused, reference, **FP32)
    weights = torch.randn(fused.shape, device=device, generator=torch.Generator(device).manual_seed(3))
    parameters = list(model.parameters())
    for actual, expected in zip(torch.autograd.grad((fused * weights).sum(), parameters, allow_unused=True),
                                torch.autograd.grad((reference * weights).sum(), parameters, allow_unused=True)):
        assert (actual is None) == (expected is None)
        if actual is not None:
            torch.testing.assert_close(actual, expected, **FP32)


class _Raising:
    """Stands in for the compiled C++ ops: any use fails the test."""

    def __getattr__(self, name: str):
        raise AssertionError(f"the compiled (CPU-only) GRU loop was used off the CPU ({name})")


@pytest.mark.parametrize("name", ["dien", "gru4rec"])
def test_compiled_recurrence_falls_back_to_the_pure_loop_off_the_cpu(name, tiny_data, device, monkeypatch):
    """``compiled_recurrence=True`` is a CPU kernel: on another device the pure loop must run
    (the C++ ops are replaced by a stand-in that fails if touched) and give the same loss and
    gradients. On the CPU the compiled loop would apply; the check there runs the pure loop
    (``HF_RECSYS_PURE_GRU``), so no C++ build is triggered."""
    probe = torch.zeros(1, device=device)
    assert compiled_loop_applies(probe) == (device.type == "cpu")
    if device.type == "cpu":
        monkeypatch.setenv(PURE_PATH_ENV, "1")
    else:
        monkeypatch.delenv(PURE_PATH_ENV, raising=False)
        monkeypatch.setattr(compiled_gru, "_state", {"ops": _Raising()})
    pure = build(name, tiny_data.processor)
    batch = to_device(make_batch(name, tiny_data, pure), device)
    compiled = copy.deepcopy(pure)
    compiled.config.compiled_recurrence = True
    for module in compiled.modules():
        if isinstance(module, InterestGRU):
            module.compiled = True
    results = []
    for model in (pure, compiled):
        model = disable_dropout(model.to(device)).train()
        results.append(loss_and_grads(model, batch))
    torch.testing.assert_close(results[1][0], results[0][0], **FP32)
    for key, grad in results[0][1].items():
        torch.testing.assert_close(results[1][1][key], grad, **FP32, msg=lambda m: f"{key}: {m}")


# --------------------------------------------------------------------------- end to end
class _Recorder:
    """Wraps a ``Trainer`` class so that the test can reach the trained model afterwards."""

    def __init__(self, trainer_class: type):
        self.trainer_class = trainer_class
        self.trainers: list[Any] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        trainer = self.trainer_class(*args, **kwargs)
        self.trainers.append(trainer)
        return trainer


def _run(name: str, tmp_path, monkeypatch, **overrides: Any) -> tuple[dict, nn.Module, str]:
    from hf_recsys.training.run import RunConfig, run_training
    from hf_recsys.training.tasks import task_of_model

    task_class = task_of_model(name)
    recorders = [_Recorder(task_class.trainer_class)]
    monkeypatch.setattr(task_class, "trainer_class", recorders[0])
    output_dir = str(tmp_path / name)
    settings = dict(dataset="synthetic", synthetic_users=60, synthetic_items=60, max_history=10, max_steps=20,
                    batch_size=32, eval_batch_size=256, learning_rate=5e-3, logging_steps=10, eval_each_epoch=False,
                    disable_tqdm=True, bf16=torch.cuda.is_available())
    metrics = run_training(RunConfig(model=name, output_dir=output_dir, **{**settings, **overrides}))
    (trainer,) = [t for recorder in recorders for t in recorder.trainers]
    trained = trainer.model
    # Trainer picks CUDA whenever there is one, whatever HF_RECSYS_TEST_DEVICE says
    assert next(trained.parameters()).device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert trainer.state.global_step == 20
    return metrics, trained.to("cpu").eval(), output_dir


def _assert_same_weights(loaded: nn.Module, trained: nn.Module) -> None:
    trained_state = trained.state_dict()
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, trained_state[key].to(value.dtype)), key


@pytest.mark.parametrize("name", ["din", "sasrec"])
def test_run_training_end_to_end(name, tmp_path, monkeypatch):
    metrics, trained, output_dir = _run(name, tmp_path, monkeypatch)
    if MODEL_REGISTRY[name].task == "ctr":
        for key in ("eval_auc", "eval_gauc", "eval_popularity_auc"):
            assert 0.0 <= metrics[key] <= 1.0, (key, metrics[key])
        assert math.isfinite(metrics["eval_logloss"]) and metrics["eval_logloss"] > 0
    else:
        for key in ("eval_hr@10", "eval_ndcg@10", "eval_mrr@10", "eval_popularity_hr@10"):
            assert 0.0 <= metrics[key] <= 1.0, (key, metrics[key])
        assert metrics["eval_ndcg@10"] <= metrics["eval_hr@10"]
    assert all(math.isfinite(v) for v in metrics.values() if isinstance(v, float))
    loaded = AutoModel.from_pretrained(output_dir).eval()
    assert type(loaded) is type(trained) and next(loaded.parameters()).device.type == "cpu"
    _assert_same_weights(loaded, trained)
    processor = loaded._get_processor()  # the folder's processor
    tokens = [t for t in processor.item_vocab.tokens[2:]]
    histories = [tokens[:4], tokens[5:12], tokens[20:23]]
    users = [processor.user_vocab.tokens[i] for i in (2, 3, 4)]
    expected = trained.recommend(histories, k=10, users=users, processor=processor, return_scores=True)
    actual = loaded.recommend(histories, k=10, users=users, return_scores=True)
    assert [[i for i, _ in row] for row in actual] == [[i for i, _ in row] for row in expected]
    for row_a, row_e in zip(actual, expected):
        assert all(math.isclose(a, e, rel_tol=1e-5, abs_tol=1e-5) for (_, a), (_, e) in zip(row_a, row_e))


def test_run_training_end_to_end_p5(tmp_path, monkeypatch):
    overrides = dict(d_model=32, d_kv=8, d_ff=64, num_heads=4, num_layers=1, num_decoder_layers=1, vocab_size=300,
                     dropout_rate=0.0, tasks=["sequential"], recommend_beams=10, item_indexing="collaborative",
                     num_clusters=4, max_cluster_size=8, eval_unseen_template=False)
    metrics, trained, output_dir = _run("p5", tmp_path, monkeypatch, synthetic_users=40, synthetic_items=40,
                                        model_overrides=overrides)
    for key in ("eval_hr@5", "eval_hr@10", "eval_ndcg@5", "eval_ndcg@10", "eval_popularity_hr@10"):
        assert 0.0 <= metrics[key] <= 1.0, (key, metrics[key])
    assert metrics["eval_hr@5"] <= metrics["eval_hr@10"] and metrics["eval_users"] == 40
    assert math.isfinite(metrics["train_loss_first"]) and math.isfinite(metrics["train_loss_last"])
    loaded = AutoModel.from_pretrained(output_dir).eval()
    assert type(loaded) is type(trained)
    _assert_same_weights(loaded, trained)
    items = json.load(open(os.path.join(output_dir, "p5_item_index.json")))["items"]
    histories = [items[:3], items[10:15]]
    expected = trained.recommend(histories, k=5, return_scores=True)
    actual = loaded.recommend(histories, k=5, return_scores=True)
    assert [[i for i, _ in row] for row in actual] == [[i for i, _ in row] for row in expected]
    assert all(len(row) == 5 for row in actual)
    for row_a, row_e in zip(actual, expected):
        assert all(math.isclose(a, e, rel_tol=1e-4, abs_tol=1e-4) for (_, a), (_, e) in zip(row_a, row_e))
