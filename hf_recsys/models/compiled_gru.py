"""An optional compiled time-step loop for :class:`~.modeling_gru.GRUSequenceFunction`.

In eager PyTorch each step of the packed recurrence is one ``addmm`` plus five to seven small
elementwise kernels on small ``[rows of the step, hidden]`` blocks, and each of those costs
far more Python and dispatcher overhead than arithmetic. This module holds the same
loops (forward and the hand-written backward) in C++: per step one ``addmm`` and one fused pass
over the step's rows that does all the gate math with ATen's AVX2 vector functions (the
sigmoid and tanh ATen's own CPU kernels use). The math, the buffers it fills and the order of
the operations are those of the Python loop, so the two paths agree to float32 rounding.

The extension is built with ``torch.utils.cpp_extension.load_inline`` the first time a model
asks for it (never on import), once per machine: the library is cached in torch's extensions
folder (``TORCH_EXTENSIONS_DIR``) and later processes only load it. Anything that stops the
build or the load (no compiler, no ninja, a CPU without AVX2) makes :func:`compiled_gru_ops`
return None and the callers keep the pure PyTorch loop; one log line says which path is used.
``HF_RECSYS_PURE_GRU=1`` forces the pure path.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any, Optional

import torch

logger = logging.getLogger(__name__)

#: set to 1 / true to never build or use the compiled loop
PURE_PATH_ENV = "HF_RECSYS_PURE_GRU"
EXTENSION_NAME = "hf_recsys_gru_steps"

_SOURCE = r"""
#include <ATen/ATen.h>
#include <ATen/cpu/vec/vec.h>
#include <torch/library.h>

namespace {

using Vec = at::vec::Vectorized<float>;
constexpr int64_t kWidth = Vec::size();

inline Vec load(const float* p, int64_t left) {
  return left >= kWidth ? Vec::loadu(p) : Vec::loadu(p, left);
}
inline void store(const Vec& v, float* p, int64_t left) {
  if (left >= kWidth) v.store(p); else v.store(p, left);
}
// ATen's vectorised CPU sigmoid: 1 / (1 + exp(-x))
inline Vec sigmoid(const Vec& x) { return (Vec(1.0f) + x.neg().exp()).reciprocal(); }
// tanh(x) = sign(x) (1 - 2 / (exp(2|x|) + 1)): one vector exp, cheaper than Sleef's tanh;
// within ~1e-7 absolute of it (the cancellation near 0 costs relative, not absolute, accuracy)
inline Vec tanh(const Vec& x) {
  const Vec one(1.0f), two(2.0f);
  const Vec magnitude = one - two / ((x.abs() * two).exp() + one);
  return Vec::blendv(magnitude, magnitude.neg(), x < Vec(0.0f));
}

void check_float(const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.device().is_cpu() && t.scalar_type() == at::kFloat && t.is_contiguous(),
              name, " must be a contiguous float32 CPU tensor");
}

// One forward pass of GRUSequenceFunction's loop. Buffers as in the Python code:
// state [B, H] (zero), states_with_zero [N + 1, H], hidden_gates [N, G*H],
// sigmoid_gates [N, SW], candidates [N, H], scaled_updates [N, H] (AUGRU) or None.
void forward_steps(const at::Tensor& input_gates, const at::Tensor& weight_hh, const at::Tensor& bias_hh,
                   const c10::optional<at::Tensor>& step_scale, at::IntArrayRef sizes, bool has_update_gate,
                   const at::Tensor& state, const at::Tensor& states_with_zero, const at::Tensor& hidden_gates,
                   const at::Tensor& sigmoid_gates, const at::Tensor& candidates,
                   const c10::optional<at::Tensor>& scaled_updates) {
  for (const at::Tensor* t : {&input_gates, &weight_hh, &bias_hh, &state, &states_with_zero, &hidden_gates,
                              &sigmoid_gates, &candidates})
    check_float(*t, "GRU buffer");
  const int64_t hidden = weight_hh.size(1), gate_width = weight_hh.size(0), sigmoid_width = gate_width - hidden;
  const float* input = input_gates.data_ptr<float>();
  float* gates = hidden_gates.data_ptr<float>();
  float* sigmoids = sigmoid_gates.data_ptr<float>();
  float* candidate = candidates.data_ptr<float>();
  float* carried = state.data_ptr<float>();
  float* states = states_with_zero.data_ptr<float>() + hidden;  // row 0 stays zero
  const float* scale = step_scale.has_value() ? step_scale->data_ptr<float>() : nullptr;
  float* scaled = scaled_updates.has_value() ? scaled_updates->data_ptr<float>() : nullptr;
  const at::Tensor weight_t = weight_hh.t();
  int64_t offset = 0;
  for (const int64_t count : sizes) {
    at::Tensor out = hidden_gates.narrow(0, offset, count);
    at::addmm_out(out, bias_hh, state.narrow(0, 0, count), weight_t);
    for (int64_t i = 0; i < count; ++i) {
      const int64_t row = offset + i;
      const float* x = input + row * gate_width;
      const float* g = gates + row * gate_width;
      float* s = sigmoids + row * sigmoid_width;
      for (int64_t j = 0; j < sigmoid_width; j += kWidth) {
        const int64_t left = sigmoid_width - j;
        store(sigmoid(load(x + j, left) + load(g + j, left)), s + j, left);
      }
      const float* reset = s + sigmoid_width - hidden;
      float* c = candidate + row * hidden;
      float* h = carried + i * hidden;
      float* out_state = states + row * hidden;
      const Vec row_scale(scale != nullptr ? scale[row] : 0.0f);
      for (int64_t j = 0; j < hidden; j += kWidth) {
        const int64_t left = hidden - j;
        const Vec cand = tanh(load(x + sigmoid_width + j, left) + load(reset + j, left) * load(g + sigmoid_width + j, left));
        store(cand, c + j, left);
        Vec weight = row_scale;
        if (has_update_gate) {
          weight = load(s + j, left);
          if (scale != nullptr) weight = weight * row_scale;
        }
        if (scaled != nullptr) store(weight, scaled + row * hidden + j, left);
        Vec previous = load(h + j, left);
        previous = previous + weight * (cand - previous);
        store(previous, h + j, left);
        store(previous, out_state + j, left);
      }
    }
    offset += count;
  }
}

// The backward loop (BPTT) of GRUSequenceFunction. The factors the Python code precomputes for
// all items ([w, h~ - h], [1 - h~^2, s u (1 - u)], [r (1 - r) (W_hn h + b_hn), r]) are formed
// per row from the saved forward buffers instead. Writes step_grads [N, H + G*H] (per item
// [d pre-tanh | d pre-u | d pre-r | d (W_hn h + b_hn)]), consumes the carried gradient
// carry [B, H] and, when given, fills grad_scale [N, 1]; grad_output [N, H] when every state
// was returned.
void backward_steps(const at::Tensor& weight_hh, const c10::optional<at::Tensor>& step_scale,
                    const at::Tensor& states_with_zero, const at::Tensor& hidden_gates,
                    const at::Tensor& sigmoid_gates, const at::Tensor& candidates,
                    const c10::optional<at::Tensor>& scaled_updates, const at::Tensor& previous_slot,
                    const c10::optional<at::Tensor>& grad_output, at::IntArrayRef sizes, bool has_update_gate,
                    const at::Tensor& step_grads, const at::Tensor& carry,
                    const c10::optional<at::Tensor>& grad_scale) {
  for (const at::Tensor* t : {&weight_hh, &states_with_zero, &hidden_gates, &sigmoid_gates, &candidates,
                              &step_grads, &carry})
    check_float(*t, "GRU buffer");
  TORCH_CHECK(previous_slot.scalar_type() == at::kLong && previous_slot.is_contiguous(), "previous_slot must be int64");
  const int64_t hidden = weight_hh.size(1), gate_width = weight_hh.size(0), sigmoid_width = gate_width - hidden;
  const int64_t grad_width = hidden + gate_width;
  const float* scale = step_scale.has_value() ? step_scale->data_ptr<float>() : nullptr;
  const float* states = states_with_zero.data_ptr<float>();
  const float* gates = hidden_gates.data_ptr<float>();
  const float* sigmoids = sigmoid_gates.data_ptr<float>();
  const float* candidate = candidates.data_ptr<float>();
  const float* scaled = scaled_updates.has_value() ? scaled_updates->data_ptr<float>() : nullptr;
  const int64_t* previous_of = previous_slot.data_ptr<int64_t>();
  const float* incoming = grad_output.has_value() ? grad_output->data_ptr<float>() : nullptr;
  float* grads = step_grads.data_ptr<float>();
  float* carried = carry.data_ptr<float>();
  float* scale_grads = grad_scale.has_value() ? grad_scale->data_ptr<float>() : nullptr;
  const Vec one(1.0f);
  int64_t end = 0;
  for (const int64_t count : sizes) end += count;
  for (int64_t t = static_cast<int64_t>(sizes.size()) - 1; t >= 0; --t) {
    const int64_t count = sizes[t];
    const int64_t offset = end - count;
    end = offset;
    for (int64_t i = 0; i < count; ++i) {
      const int64_t row = offset + i;
      float* dh = carried + i * hidden;
      const float* s = sigmoids + row * sigmoid_width;
      const float* reset = s + sigmoid_width - hidden;
      const float* c = candidate + row * hidden;
      const float* h = states + previous_of[row] * hidden;
      const float* hn = gates + row * gate_width + sigmoid_width;  // W_hn h + b_hn
      float* g = grads + row * grad_width;
      const float row_scale = scale != nullptr ? scale[row] : 0.0f;
      Vec scale_grad(0.0f);
      for (int64_t j = 0; j < hidden; j += kWidth) {
        const int64_t left = hidden - j;
        Vec d = load(dh + j, left);
        if (incoming != nullptr) d = d + load(incoming + row * hidden + j, left);
        const Vec cand = load(c + j, left);
        Vec weight;  // w: the step's weight on the candidate
        Vec update;
        if (has_update_gate) {
          update = load(s + j, left);
          weight = scaled != nullptr ? load(scaled + row * hidden + j, left) : update;
        } else {
          weight = Vec(row_scale);
        }
        const Vec candidate_grad = d * weight;                       // dL/dh~
        const Vec update_grad = d * (cand - load(h + j, left));       // dL/dw
        const Vec pre_tanh = candidate_grad * (one - cand * cand);
        store(pre_tanh, g + j, left);
        if (has_update_gate) {
          Vec pre_update = update_grad * (update - update * update);
          if (scale != nullptr) pre_update = pre_update * Vec(row_scale);
          store(pre_update, g + hidden + j, left);
          scale_grad = scale_grad + update_grad * update;
        } else {
          scale_grad = scale_grad + update_grad;
        }
        const Vec r = load(reset + j, left);
        store(pre_tanh * ((r - r * r) * load(hn + j, left)), g + sigmoid_width + j, left);
        store(pre_tanh * r, g + sigmoid_width + hidden + j, left);
        store(d - candidate_grad, dh + j, left);                     // dh (1 - w)
      }
      if (scale_grads != nullptr) {
        float lanes[kWidth];
        scale_grad.store(lanes);
        float total = 0.0f;
        for (int64_t k = 0; k < kWidth; ++k) total += lanes[k];
        scale_grads[row] = total;
      }
    }
    carry.narrow(0, 0, count).addmm_(step_grads.narrow(0, offset, count).narrow(1, hidden, gate_width), weight_hh);
  }
}

}  // namespace

TORCH_LIBRARY(hf_recsys_gru_steps, m) {
  m.def("forward_steps(Tensor input_gates, Tensor weight_hh, Tensor bias_hh, Tensor? step_scale, int[] sizes, "
        "bool has_update_gate, Tensor(a!) state, Tensor(b!) states_with_zero, Tensor(c!) hidden_gates, "
        "Tensor(d!) sigmoid_gates, Tensor(e!) candidates, Tensor(f!)? scaled_updates) -> ()");
  m.def("backward_steps(Tensor weight_hh, Tensor? step_scale, Tensor states_with_zero, Tensor hidden_gates, "
        "Tensor sigmoid_gates, Tensor candidates, Tensor? scaled_updates, Tensor previous_slot, Tensor? grad_output, "
        "int[] sizes, bool has_update_gate, Tensor(a!) step_grads, Tensor(b!) carry, Tensor(c!)? grad_scale) -> ()");
}

TORCH_LIBRARY_IMPL(hf_recsys_gru_steps, CPU, m) {
  m.impl("forward_steps", &forward_steps);
  m.impl("backward_steps", &backward_steps);
}
"""

_lock = threading.Lock()
_state: dict[str, Any] = {}


def pure_path_forced() -> bool:
    """True when ``HF_RECSYS_PURE_GRU`` asks for the pure PyTorch loop."""
    return os.environ.get(PURE_PATH_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _build() -> Any:
    if not hasattr(torch.backends, "cpu") or torch.backends.cpu.get_cpu_capability() not in ("AVX2", "AVX512"):
        raise RuntimeError("the CPU has no AVX2")
    from torch.utils import cpp_extension

    cpp_extension.load_inline(
        name=EXTENSION_NAME,
        cpp_sources=[_SOURCE],
        extra_cflags=["-O3", "-mavx2", "-mfma", "-DCPU_CAPABILITY=AVX2", "-DCPU_CAPABILITY_AVX2"],
        is_python_module=False,
        no_implicit_headers=True,
        verbose=False,
    )
    return torch.ops.hf_recsys_gru_steps


def compiled_gru_ops() -> Optional[Any]:
    """The compiled step loops (``torch.ops.hf_recsys_gru_steps``), or None for the pure path.

    Built (or loaded from torch's extension cache) on the first call, never on import; the
    outcome is remembered for the process and logged once."""
    if pure_path_forced():
        if "forced" not in _state:
            _state["forced"] = True
            logger.info("GRU recurrence: pure PyTorch step loop (%s is set)", PURE_PATH_ENV)
        return None
    if "ops" in _state:
        return _state["ops"]
    with _lock:
        if "ops" not in _state:
            try:
                _state["ops"] = _build()
                logger.info("GRU recurrence: compiled C++ step loop (%s)", EXTENSION_NAME)
            except Exception as error:  # no compiler / ninja / AVX2: keep the pure loop
                _state["ops"] = None
                _state["error"] = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
                logger.warning(
                    "GRU recurrence: pure PyTorch step loop (the compiled loop is unavailable: %s)", _state["error"]
                )
    return _state["ops"]


def compiled_gru_error() -> Optional[str]:
    """Why the last build attempt failed (None if it did not fail or was not tried)."""
    return _state.get("error")


def compiled_loop_applies(*tensors: Optional[torch.Tensor]) -> bool:
    """Whether tensors of this call can take the compiled loop: float32 on the CPU, and not
    inside tracing / export / ``torch.compile`` (which must see plain ATen ops)."""
    for tensor in tensors:
        if tensor is not None and (tensor.device.type != "cpu" or tensor.dtype != torch.float32):
            return False
    if torch.jit.is_tracing() or torch.compiler.is_compiling():
        return False
    onnx = sys.modules.get("torch.onnx")  # not imported unless someone exports
    if onnx is not None and onnx.is_in_onnx_export():
        return False
    return True


__all__ = ["PURE_PATH_ENV", "compiled_gru_error", "compiled_gru_ops", "compiled_loop_applies", "pure_path_forced"]
