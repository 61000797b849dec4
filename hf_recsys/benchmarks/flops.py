"""How close a training step comes to this machine's matmul speed.

* :func:`count_training_flops` counts the FLOPs of one forward + backward pass with
  ``torch.utils.flop_counter.FlopCounterMode`` (matrix products, convolutions and attention;
  element-wise work counts zero, the usual convention), and records the shapes of the matrix
  products so the dominant one can be timed on its own.
* :func:`matmul_gflops` times a plain float32 ``torch.mm`` / ``torch.bmm`` of a given shape
  in this process, with the current thread count: the hardware limit for that shape.
* :func:`step_efficiency` puts them together for a model and a real batch: achieved GFLOP/s
  of a training step (forward + backward + AdamW, timed) next to the matmul peak of the
  step's dominant product shape and of a 1024^3 product, and the share of the step's CPU
  time spent in matrix-product kernels (from ``torch.profiler``), which says why a model is
  far from the peak.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

aten = torch.ops.aten

#: kernels whose time counts as "matrix-product time" in the profile
GEMM_KERNELS = (
    "aten::mm", "aten::addmm", "aten::addmm_", "aten::bmm", "aten::baddbmm", "aten::baddbmm_", "aten::addbmm",
    "aten::convolution", "aten::_convolution",
    "aten::mkldnn_convolution", "aten::convolution_backward", "aten::_scaled_dot_product_flash_attention_for_cpu",
    "aten::_scaled_dot_product_flash_attention_for_cpu_backward",
)


def _cpu_attention_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    # the CPU flash-attention kernel is missing from torch's formula table: same count as SDPA
    return sdpa_flop_count(query, key, value)


def _cpu_attention_backward_flops(grad_out, query, key, value, *args, out_shape=None, **kwargs) -> int:
    return sdpa_backward_flop_count(grad_out, query, key, value)


@dataclass
class FlopCount:
    """FLOPs of one forward + backward pass.

    ``gemm_shapes`` maps ``(batch, m, k, n)`` (batch 0 for a plain ``mm``) to the FLOPs spent in
    products of that shape, over both passes.
    """

    forward: int
    backward: int
    by_operator: dict[str, int]
    gemm_shapes: dict[tuple[int, int, int, int], int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.forward + self.backward

    def dominant_gemm(self) -> Optional[tuple[int, int, int, int]]:
        """The product shape that carries the most FLOPs (None without any product)."""
        return max(self.gemm_shapes, key=self.gemm_shapes.get) if self.gemm_shapes else None


class _ShapeRecorder:
    """FLOP formulas for the matrix products that also note each product's shape."""

    def __init__(self) -> None:
        self.shapes: dict[tuple[int, int, int, int], int] = defaultdict(int)

    def _note(self, batch: int, m: int, k: int, n: int) -> int:
        flops = 2 * max(batch, 1) * m * k * n
        self.shapes[(batch, m, k, n)] += flops
        return flops

    def mm(self, a, b, *args, out_shape=None, **kwargs) -> int:
        return self._note(0, a[0], a[1], b[1])

    def addmm(self, bias, a, b, *args, out_shape=None, **kwargs) -> int:
        return self._note(0, a[0], a[1], b[1])

    def bmm(self, a, b, *args, out_shape=None, **kwargs) -> int:
        return self._note(a[0], a[1], a[2], b[2])

    def baddbmm(self, bias, a, b, *args, out_shape=None, **kwargs) -> int:
        return self._note(a[0], a[1], a[2], b[2])

    def mapping(self) -> dict[Any, Callable]:
        return {
            aten.mm: self.mm,
            aten.addmm: self.addmm,
            aten.addmm_: self.addmm,  # in-place accumulation (chunked losses, fused GRUs): not in torch's table
            aten.bmm: self.bmm,
            aten.baddbmm: self.baddbmm,
            aten.baddbmm_: self.baddbmm,
            aten._scaled_dot_product_flash_attention_for_cpu: _cpu_attention_flops,
            aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_attention_backward_flops,
        }


def _loss(model: torch.nn.Module, batch: Mapping[str, Any]) -> torch.Tensor:
    output = model(**batch)
    return output["loss"] if isinstance(output, Mapping) else output.loss


def count_training_flops(model: torch.nn.Module, batch: Mapping[str, Any]) -> FlopCount:
    """Count the FLOPs of ``model(**batch).loss`` and its backward pass (gradients are left in
    the parameters' ``.grad``; the caller zeroes them)."""
    recorder = _ShapeRecorder()
    by_operator: dict[str, int] = defaultdict(int)
    counts = []
    loss = None
    for phase in ("forward", "backward"):
        with FlopCounterMode(display=False, custom_mapping=recorder.mapping()) as counter:
            if phase == "forward":
                loss = _loss(model, batch)
            else:
                loss.backward()
        counts.append(counter.get_total_flops())
        for operator, flops in counter.get_flop_counts().get("Global", {}).items():
            by_operator[str(operator)] += int(flops)
    return FlopCount(forward=int(counts[0]), backward=int(counts[1]), by_operator=dict(by_operator),
                     gemm_shapes=dict(recorder.shapes))


def matmul_gflops(batch: int, m: int, k: int, n: int, min_seconds: float = 0.2, repeats: int = 3) -> float:
    """Best-of-``repeats`` float32 GFLOP/s of ``torch.mm`` ([m, k] @ [k, n]) or, with
    ``batch`` > 0, ``torch.bmm``, each repeat running for at least ``min_seconds``."""
    generator = torch.Generator().manual_seed(0)
    shape_a = (batch, m, k) if batch else (m, k)
    shape_b = (batch, k, n) if batch else (k, n)
    a = torch.randn(shape_a, generator=generator)
    b = torch.randn(shape_b, generator=generator)
    out = torch.empty((batch, m, n) if batch else (m, n))
    product = torch.bmm if batch else torch.mm
    flops = 2.0 * max(batch, 1) * m * k * n
    product(a, b, out=out)  # warm-up
    best = 0.0
    for _ in range(repeats):
        calls, start = 0, time.perf_counter()
        while True:
            product(a, b, out=out)
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        best = max(best, flops * calls / elapsed / 1e9)
    return best


def _gemm_time_share(step: Callable[[], None], steps: int = 3) -> tuple[float, list[tuple[str, float]]]:
    """Share of self CPU time in matrix-product kernels over ``steps`` profiled steps, and the
    five most expensive other operators (name, share)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    events = [e for e in prof.key_averages() if e.key.startswith("aten::")]
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    gemm = sum(e.self_cpu_time_total for e in events if e.key in GEMM_KERNELS)
    others = sorted((e for e in events if e.key not in GEMM_KERNELS), key=lambda e: -e.self_cpu_time_total)
    return gemm / total, [(e.key.removeprefix("aten::"), round(e.self_cpu_time_total / total, 3)) for e in others[:5]]


def step_efficiency(
    model: torch.nn.Module,
    batch: Mapping[str, Any],
    steps: int = 5,
    min_seconds: float = 1.0,
    profile: bool = True,
    learning_rate: float = 1e-3,
    matmul_seconds: float = 0.2,
) -> dict[str, Any]:
    """Achieved GFLOP/s of one training step on ``batch`` against this machine's matmul peak.

    Runs the model in training mode with its own AdamW (the caller's weights change). The step
    time is the median over at least ``steps`` timed steps (and ``min_seconds``) after two
    warm-up steps; FLOPs are those of forward + backward (AdamW's element-wise update counts
    zero). Each matmul peak is the best of three runs of at least ``matmul_seconds``.
    Returns a JSON-ready dict.
    """
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        _loss(model, batch).backward()
        optimizer.step()

    count = count_training_flops(model, batch)
    optimizer.zero_grad(set_to_none=True)
    for _ in range(2):
        step()
    times, cpu_times, started = [], [], time.perf_counter()
    while len(times) < steps or time.perf_counter() - started < min_seconds:
        wall, cpu = time.perf_counter(), time.process_time()
        step()
        times.append(time.perf_counter() - wall)
        cpu_times.append(time.process_time() - cpu)
        if len(times) >= 200:
            break
    step_seconds = statistics.median(times)
    achieved = count.total / step_seconds / 1e9
    result: dict[str, Any] = {
        "flops_forward": count.forward,
        "flops_backward": count.backward,
        "flops_per_step": count.total,
        "flops_by_operator": count.by_operator,
        "step_ms": 1000 * step_seconds,
        "step_cpu_ms": 1000 * statistics.median(cpu_times),
        "timed_steps": len(times),
        "achieved_gflops": achieved,
        "threads": torch.get_num_threads(),
    }
    dominant = count.dominant_gemm()
    if dominant is not None:
        batch_size, m, k, n = dominant
        peak = matmul_gflops(batch_size, m, k, n, min_seconds=matmul_seconds)
        result.update({
            "dominant_gemm": {"batch": batch_size, "m": m, "k": k, "n": n,
                              "flop_share": count.gemm_shapes[dominant] / max(count.total, 1)},
            "matmul_peak_gflops": peak,
            "fraction_of_matmul_peak": achieved / peak if peak else None,
        })
    square = matmul_gflops(0, 1024, 1024, 1024, min_seconds=matmul_seconds)
    result["matmul_1024_gflops"] = square
    result["fraction_of_matmul_1024"] = achieved / square if square else None
    if profile:
        share, others = _gemm_time_share(step)
        result["gemm_time_share"] = share
        result["top_other_operators"] = others
    return result


__all__ = ["FlopCount", "count_training_flops", "matmul_gflops", "step_efficiency", "GEMM_KERNELS"]
