"""The host-memory policy of training: freed memory stays mapped between steps and is handed
back to the OS at a fixed cadence.

PyTorch's CPU tensors come from glibc ``malloc``. By default large blocks are mapped fresh
from the kernel and unmapped again on ``free``, and the top of the heap is trimmed, so a
training step that allocates the same activations every time page-faults on all of them
again: the kernel, not the model, then takes a large share of a small model's step.
:func:`reuse_freed_memory` raises glibc's mmap and trim thresholds so that freed blocks stay
in the heap and the next step reuses them.

Memory kept that way is never returned on its own, and a heap serving tensors of changing
sizes (histories of varying width) fragments, so the resident size would follow the heap's
high-water mark instead of live memory. :class:`ReleaseFreedMemoryCallback` therefore calls
``malloc_trim(0)`` every few optimizer steps and after each evaluation: the steps in between
reuse mapped memory, and the resident size stays close to what training holds. Both are
no-ops where glibc is not the C library.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from typing import Any, Optional

from transformers import TrainerCallback

logger = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def _libc() -> Optional[Any]:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def reuse_freed_memory(threshold_bytes: int = 1 << 30) -> bool:
    """Set glibc's ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD`` to ``threshold_bytes``.

    Process-wide; call once at program start (training scripts, benchmarks). Returns False
    and changes nothing where the C library is not glibc.
    """
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        logger.info("not glibc: leaving the allocator as it is")
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    threshold = min(int(threshold_bytes), 2**31 - 1)
    # some glibc versions cap the mmap threshold at 32 MiB (64-bit); fall back to the cap
    mapped = bool(mallopt(_M_MMAP_THRESHOLD, threshold)) or bool(mallopt(_M_MMAP_THRESHOLD, 32 << 20))
    return mapped and bool(mallopt(_M_TRIM_THRESHOLD, threshold))


class ReleaseFreedMemoryCallback(TrainerCallback):
    """Hand freed heap pages back to the OS (``malloc_trim(0)``) every ``every`` optimizer
    steps and after each evaluation; see the module docstring for why. A no-op without glibc."""

    def __init__(self, every: int = 10):
        self.every = every
        self._malloc_trim = getattr(_libc(), "malloc_trim", None)

    def release(self) -> None:
        if self._malloc_trim is not None:
            self._malloc_trim(0)

    def on_step_end(self, args, state, control, **kwargs):
        if self.every and state.global_step % self.every == 0:
            self.release()

    def on_evaluate(self, args, state, control, **kwargs):
        self.release()


__all__ = ["reuse_freed_memory", "ReleaseFreedMemoryCallback"]
