"""Device and precision plumbing of the speed benchmarks (``scripts/bench_*_speed.py``).

``--device cuda`` moves model and batches to a GPU and reads the clock after
``torch.cuda.synchronize()`` (CUDA calls return before the GPU has finished); ``--bf16`` is
bfloat16 autocast on either device, ``--fp16`` float16 autocast with a ``GradScaler`` on CUDA.
Settings that do not apply to the chosen device are refused, never silently ignored, so a
reported run never names a setting that had no effect.
"""

from __future__ import annotations

import argparse
import contextlib
from typing import Callable, Mapping, Optional

import torch


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    """``--device``, and ``--bf16`` / ``--fp16`` (mutually exclusive)."""
    parser.add_argument("--device", default="cpu", help='"cpu", or "cuda" / "cuda:N" for a GPU')
    precision = parser.add_mutually_exclusive_group()
    precision.add_argument("--bf16", action="store_true", help="bfloat16 autocast (on the chosen device)")
    precision.add_argument("--fp16", action="store_true", help="CUDA only: float16 autocast with torch.amp.GradScaler")


def check_device(parser: argparse.ArgumentParser, args: argparse.Namespace,
                 cpu_only: Optional[Mapping[str, str]] = None) -> torch.device:
    """``args.device`` as a ``torch.device``, after refusing a CUDA device that is not there,
    ``--fp16`` on the CPU, and, on CUDA, each set option of ``cpu_only`` (attribute name ->
    why it is CPU-only) through ``parser.error``."""
    try:
        device = torch.device(args.device)
    except RuntimeError as error:
        parser.error(f"--device {args.device!r}: {error}")
    if device.type not in ("cpu", "cuda"):
        parser.error(f"--device {args.device!r}: only cpu and cuda are supported")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            parser.error(f"--device {args.device}: torch {torch.__version__} sees no CUDA device")
        if device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        for name, why in (cpu_only or {}).items():
            if getattr(args, name, None):
                parser.error(f"--{name.replace('_', '-')} {why}; it does not apply to --device cuda")
    elif args.fp16:
        parser.error("--fp16 needs --device cuda (float16 autocast with a CUDA GradScaler); on the CPU use --bf16")
    return device


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued kernels (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def to_device(batch: dict, device: torch.device) -> dict:
    """``batch`` with every tensor on ``device`` (anything else left as it is)."""
    return {key: value.to(device) if isinstance(value, torch.Tensor) else value for key, value in batch.items()}


def precision_name(args: argparse.Namespace) -> str:
    return "bf16 autocast" if args.bf16 else "fp16 autocast + GradScaler" if args.fp16 else "float32"


def clock_name(device: torch.device) -> str:
    if device.type == "cuda":
        return "wall clock (perf_counter) after torch.cuda.synchronize()"
    return "wall clock (perf_counter) and process CPU time (time.process_time)"


def training_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, device: torch.device,
                  bf16: bool = False, fp16: bool = False) -> Callable[[dict], torch.Tensor]:
    """One ``Trainer``-like step (forward, backward, optimizer) under the asked-for precision;
    returns ``step(batch) -> loss``."""
    dtype = torch.bfloat16 if bf16 else torch.float16 if fp16 else None
    # float16 gradients underflow without loss scaling; bfloat16 has float32's exponent range
    scaler = torch.amp.GradScaler(device.type) if fp16 else None

    def step(batch: dict) -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext():
            loss = model(**batch).loss
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        return loss

    return step


__all__ = ["add_device_arguments", "check_device", "synchronize", "to_device", "precision_name", "clock_name",
           "training_step"]
