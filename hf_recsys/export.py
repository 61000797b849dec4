"""Export scoring models for serving: ``torch.export`` programs and ONNX files.

What an exported program takes and returns depends on the model's task:

* CTR models (``bst``, ``din``, ``dien``, ``sumpool``, the feature-field models): the tensors
  of a :class:`~hf_recsys.training.collators.CTRCollator` batch that the model reads, in the
  order of :data:`INPUT_ORDER` (e.g. ``history_ids`` ``[B, L]``, ``history_mask`` ``[B, L]``
  bool, ``target_ids`` ``[B]``, ``user_features`` ``[B, F]``) -> ``logits`` ``[B]`` (apply a
  sigmoid for click probabilities).
* Next-item models (``sasrec``, ``gru4rec``, ``caser``, ``meanpool``): ``history_ids``
  ``[B, L]`` (left-padded, most recent last), ``history_mask`` ``[B, L]`` and, for models with a
  user embedding, ``user_ids`` ``[B]`` -> ``scores`` ``[B, num_items]`` (the model's logits), or
  with ``top_k=K`` -> ``scores`` ``[B, K]`` and ``item_indices`` ``[B, K]`` (int64, padding and
  unknown never returned, items of the history excluded unless ``exclude_seen=False``).

Inputs the model does not read (e.g. timestamps for a BST with learned positions) are left out
of the signature. The batch dimension is dynamic. The history length is dynamic too, except for
models whose export path unrolls a recurrence over it (``dien``, ``gru4rec``: attribute
``export_static_history_length``); feed those histories padded to ``config.max_history`` (what
``RecsysProcessor(histories, max_history=config.max_history)`` does). Models are exported in eval
mode; where a training fast path does not trace (packed sequences, host-side lengths, custom
autograd functions) the model switches to an equivalent padded path while
``torch.compiler.is_exporting()``.

Inputs from raw IDs: ``processor.encode_for_export(histories, users=..., targets=...,
input_names=[i.name for i in session.get_inputs()])`` (``hf-recsys export --example`` prints
them for a folder). P5 is not exported (:class:`ExportNotSupportedError`).

Example::

    from hf_recsys.export import export_onnx, verify_onnx
    export_onnx("outputs/bst-synthetic", "bst.onnx")       # a folder, a Hub id or a model
    verify_onnx("bst.onnx", "outputs/bst-synthetic")       # {"max_abs_diff": 3e-07, ...}
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Iterator, Optional, Union

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from .constants import NUM_SPECIAL
from .files import write_atomically
from .models import spec_of_model_type
from .models.modeling_next_item import NextItemPreTrainedModel

#: every input an exported program may take, in signature order
INPUT_ORDER = (
    "history_ids",
    "history_mask",
    "target_ids",
    "user_ids",
    "user_features",
    "history_times",
    "target_times",
    "numeric_features",
)
#: inputs whose dimension 1 is the history length
HISTORY_INPUTS = ("history_ids", "history_mask", "history_times")

ModelOrPath = Union[nn.Module, str, os.PathLike]


# --------------------------------------------------------------------------- what is exported
class ExportNotSupportedError(ValueError):
    """The model type has no exported scoring graph (P5: a text-to-text model)."""


def task_of(model: nn.Module) -> str:
    """``"ctr"`` or ``"next_item"`` (the registry's task of the model's type); raises
    :class:`ExportNotSupportedError` for a model type export does not cover."""
    if isinstance(model, NextItemPreTrainedModel):
        return "next_item"
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    spec = spec_of_model_type(model_type)
    if spec is not None:
        if spec.task not in ("ctr", "next_item"):
            raise ExportNotSupportedError(
                f"export is not supported for {spec.name} models: it covers the CTR and next-item scoring "
                f"models; {spec.name} decodes item IDs with a constrained beam search, so serve it with "
                "model.recommend() or model.generate(**model.generation_inputs(histories), ...)")
        return spec.task
    if model_type == "p5" or not hasattr(getattr(model, "config", None), "num_items"):
        raise ExportNotSupportedError(f"export is not supported for {model_type} models (no item catalogue to score)")
    # remote-code classes are not the registered ones: next-item models have an item table
    return "next_item" if hasattr(model, "output_embeddings") else "ctr"


def load_model(model_or_path: ModelOrPath) -> nn.Module:
    """A model instance, loaded with ``AutoModel.from_pretrained`` when given a folder or Hub id."""
    if isinstance(model_or_path, nn.Module):
        return model_or_path
    from transformers import AutoModel

    return AutoModel.from_pretrained(str(model_or_path))


class ScoringModule(nn.Module):
    """The exported computation: positional tensors named by ``input_names`` -> scores.

    CTR models return ``logits`` ``[B]``; next-item models ``scores`` ``[B, num_items]``, or with
    ``top_k`` the pair (``scores`` ``[B, K]``, ``item_indices`` ``[B, K]``).
    """

    def __init__(self, model: nn.Module, input_names: tuple[str, ...], top_k: Optional[int] = None, exclude_seen: bool = True):
        super().__init__()
        self.model = model
        self.task = task_of(model)
        self.input_names = tuple(input_names)
        if top_k is not None and self.task != "next_item":
            raise ValueError("top_k is for next-item models; a CTR model scores the candidates it is given")
        self.top_k = top_k
        self.exclude_seen = exclude_seen

    @property
    def output_names(self) -> tuple[str, ...]:
        if self.task == "ctr":
            return ("logits",)
        return ("scores", "item_indices") if self.top_k else ("scores",)

    def forward(self, *tensors: torch.Tensor):
        return self.score(dict(zip(self.input_names, tensors)))

    def score(self, inputs: dict[str, torch.Tensor]):
        scores = self.model(**inputs).logits
        if self.top_k is None:
            return scores
        # the history's items are never recommended by default; padding and unknown never
        # (ranked out by slicing, a view: one [B, num_items] copy fewer than masking them)
        if self.exclude_seen:
            scores = scores.scatter(1, inputs["history_ids"], float("-inf"))
        top = torch.topk(scores[:, NUM_SPECIAL:], min(self.top_k, scores.shape[1] - NUM_SPECIAL), dim=1)
        return top.values, top.indices + NUM_SPECIAL


def scoring_module(model: nn.Module, input_names: tuple[str, ...], top_k: Optional[int] = None, exclude_seen: bool = True) -> ScoringModule:
    """A :class:`ScoringModule` whose ``forward`` names its parameters after the inputs, so the
    exported program's placeholders and the ONNX graph's inputs carry those names."""
    unknown = set(input_names) - set(INPUT_ORDER)
    if unknown:
        raise ValueError(f"unknown inputs {sorted(unknown)}; exported programs take inputs from {INPUT_ORDER}")
    parameters = ", ".join(input_names)
    code = f"def forward(self, {parameters}):\n    return self.score(dict({', '.join(f'{n}={n}' for n in input_names)}))\n"
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # the names come from INPUT_ORDER only
    named = type("NamedScoringModule", (ScoringModule,), {"forward": namespace["forward"]})
    return named(model, input_names, top_k, exclude_seen)


def _accepted_inputs(model: nn.Module) -> list[str]:
    parameters = inspect.signature(model.forward).parameters
    return [name for name in INPUT_ORDER if name in parameters]


def example_inputs(
    model: nn.Module, batch_size: int = 2, history_length: Optional[int] = None, seed: int = 0
) -> dict[str, torch.Tensor]:
    """A synthetic batch in the collator's format for every input ``model.forward`` accepts.

    ``history_length`` defaults to ``config.max_history``; the first row is half padding, so the
    traced program sees a realistic mask.
    """
    config = model.config
    length = history_length or config.max_history
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device

    def randint(low: int, high: int, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.randint(low, max(high, low + 1), shape, generator=generator)

    history = randint(NUM_SPECIAL, config.num_items, (batch_size, length))
    history[0, : length // 2] = 0
    times = torch.arange(length).repeat(batch_size, 1) * 3600 + 1_000_000_000
    candidates = {
        "history_ids": history,
        "history_mask": history != 0,
        "target_ids": randint(NUM_SPECIAL, config.num_items, (batch_size,)),
        "user_ids": randint(NUM_SPECIAL, config.num_users, (batch_size,)),
        "history_times": times.masked_fill(history == 0, 0),
        "target_times": times[:, -1] + 3600,
    }
    sizes = list(getattr(config, "user_feature_sizes", []) or [])
    if sizes:
        candidates["user_features"] = torch.stack([randint(1, size, (batch_size,)) for size in sizes], dim=1)
    numeric = list(getattr(config, "numeric_feature_names", []) or [])
    if numeric:
        candidates["numeric_features"] = torch.randn(batch_size, len(numeric), generator=generator)
    if task_of(model) == "next_item":
        candidates.pop("target_ids")
    return {name: candidates[name].to(device) for name in _accepted_inputs(model) if name in candidates}


def _select_inputs(model: nn.Module, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The tensors of ``batch`` the model's forward accepts, in :data:`INPUT_ORDER` (labels,
    DIEN's training negatives and evaluation bookkeeping are dropped)."""
    accepted = _accepted_inputs(model)
    if task_of(model) == "next_item" and "target_ids" in accepted:
        accepted.remove("target_ids")
    return {name: batch[name] for name in accepted if isinstance(batch.get(name), torch.Tensor)}


def _dynamic_shapes(model: nn.Module, inputs: dict[str, torch.Tensor]) -> tuple[tuple[dict[int, Any], ...]]:
    batch = torch.export.Dim("batch", min=1)
    static_length = bool(getattr(model, "export_static_history_length", False))
    length = None if static_length else torch.export.Dim("history_length", min=1)
    shapes = []
    for name in inputs:
        dims: dict[int, Any] = {0: batch}
        if length is not None and name in HISTORY_INPUTS:
            dims[1] = length
        shapes.append(dims)
    return tuple(shapes)


def _check_example(inputs: dict[str, torch.Tensor]) -> None:
    # torch.export specialises sizes 0 and 1; an example of 1 would freeze that dimension
    for name, tensor in inputs.items():
        if tensor.shape[0] < 2 or (name in HISTORY_INPUTS and tensor.shape[1] < 2):
            raise ValueError(f"the example batch needs batch size and history length >= 2; {name} has shape {tuple(tensor.shape)}")


def export_program(
    model_or_path: ModelOrPath,
    path: Optional[Union[str, os.PathLike]] = None,
    example_batch: Optional[dict[str, Any]] = None,
    top_k: Optional[int] = None,
    exclude_seen: bool = True,
) -> torch.export.ExportedProgram:
    """``torch.export`` the model's scoring computation (see the module docstring).

    Args:
        model_or_path: a model, or a folder / Hub id for ``AutoModel.from_pretrained``.
        path: also save the program there (``torch.export.save``, ``.pt2``), atomically.
        example_batch: a collator batch to trace with (default :func:`example_inputs`).
        top_k: next-item models: return the top ``K`` items instead of all scores.
        exclude_seen: with ``top_k``, never return items of the history.

    Returns:
        The ``ExportedProgram``; call it as ``program.module()(*tensors)`` with the tensors in
        the order :func:`program_input_names` gives.
    """
    model = load_model(model_or_path).eval()
    task_of(model)  # refuses what export does not cover before anything reads the config
    inputs = _select_inputs(model, example_batch) if example_batch is not None else example_inputs(model)
    _check_example(inputs)
    inputs = inputs_read(model, inputs)
    with torch.no_grad(), quiet_onnx_exporter():
        program = torch.export.export(
            scoring_module(model, tuple(inputs), top_k, exclude_seen), tuple(inputs.values()),
            dynamic_shapes=_dynamic_shapes(model, inputs),
        )
    if path is not None:
        write_atomically(Path(path), lambda temporary: torch.export.save(program, temporary))
    return program


@contextlib.contextmanager
def quiet_onnx_exporter() -> Iterator[None]:
    """Within the block, the exporters' notes that ask nothing of a user are not shown: the ONNX
    exporter's line per torchvision operator it skips when torchvision is not installed, and
    torch.export's own use of a deprecated pytree API."""
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
            yield
    finally:
        registration.setLevel(level)


def program_input_names(program: torch.export.ExportedProgram) -> list[str]:
    """The input tensor names of a program made by :func:`export_program`, in call order."""
    return [spec.arg.name for spec in program.graph_signature.input_specs if spec.kind.name == "USER_INPUT"]


class _InputReads(TorchFunctionMode):
    """Records which of the given tensors any torch function reads (metadata such as the shape
    or device does not count)."""

    METADATA = {torch.Tensor.size, torch.Tensor.dim, torch.Tensor.__len__}
    METADATA_ATTRIBUTES = ("shape", "device", "dtype", "ndim", "is_cuda", "requires_grad")

    def __init__(self, tensors: dict[str, torch.Tensor]):
        super().__init__()
        self.names = {id(tensor): name for name, tensor in tensors.items()}
        self.read: set[str] = set()
        self.metadata = set(self.METADATA) | {getattr(torch.Tensor, a).__get__ for a in self.METADATA_ATTRIBUTES}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func not in self.metadata:
            for leaf in torch.utils._pytree.tree_leaves((args, kwargs)):
                if isinstance(leaf, torch.Tensor) and id(leaf) in self.names:
                    self.read.add(self.names[id(leaf)])
        return func(*args, **kwargs)


def inputs_read(model: nn.Module, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The entries of ``inputs`` the model's eval forward actually reads, found by running it
    once eagerly; the others (e.g. timestamps for a BST with learned positions) are left out of
    the exported signature, so callers need not make them up."""
    recorder = _InputReads(inputs)
    with torch.no_grad(), recorder:
        model(**inputs)
    return {name: tensor for name, tensor in inputs.items() if name in recorder.read}


def graph_input_names(model_or_path: ModelOrPath) -> list[str]:
    """The inputs an exported graph of the model takes, in order (what
    :func:`export_program` / :func:`export_onnx` put in its signature)."""
    model = load_model(model_or_path).eval()
    task_of(model)
    return list(inputs_read(model, example_inputs(model)))


def example_from_raw_ids(model_or_path: ModelOrPath, processor: Any = None, histories: Optional[list] = None,
                         users: Optional[list] = None) -> dict[str, Any]:
    """Inputs for the model's exported graph built from raw IDs with
    ``processor.encode_for_export`` (the first items of the vocabulary and an anonymous user
    when no history is given; CTR graphs score the seventh vocabulary item as the target).

    Returns ``{"histories", "users", "targets", "inputs"}``: the raw IDs and the arrays."""
    model = load_model(model_or_path).eval()
    names = graph_input_names(model)
    processor = processor or model._get_processor(None)
    tokens = processor.item_vocab.tokens
    histories = histories or [tokens[:3], tokens[3:5]]
    targets = [tokens[min(6, len(tokens) - 1)]] * len(histories) if "target_ids" in names else None
    max_history = model.config.max_history
    inputs = processor.encode_for_export(histories, users=users, targets=targets, input_names=names,
                                         max_history=max_history)
    return {"histories": histories, "users": users, "targets": targets, "inputs": inputs}


# --------------------------------------------------------------------------- ONNX
def export_onnx(
    model_or_path: ModelOrPath,
    path: Union[str, os.PathLike],
    example_batch: Optional[dict[str, Any]] = None,
    top_k: Optional[int] = None,
    exclude_seen: bool = True,
    opset_version: Optional[int] = None,
) -> Path:
    """Export the model's scoring computation to an ONNX file (``torch.onnx.export(...,
    dynamo=True)`` on the :func:`export_program` program) and return its path.

    The graph's inputs and outputs carry the names of the module docstring, with dynamic
    ``batch`` (and ``history_length``) axes. The file is written to a temporary name and renamed,
    so a reader never sees half a file. Weights go inside the file up to 1.8 GB and into
    ``PATH.data`` next to it beyond (ONNX's protobuf limit is 2 GB). The model type, task and
    item count are stored as metadata (``onnx.load(path).metadata_props``).
    """
    model = load_model(model_or_path).eval()
    task_of(model)
    program = export_program(model, example_batch=example_batch, top_k=top_k, exclude_seen=exclude_seen)
    input_names = program_input_names(program)
    module = scoring_module(model, tuple(input_names), top_k, exclude_seen)
    with torch.no_grad(), quiet_onnx_exporter():
        onnx_program = torch.onnx.export(
            program, (), None, dynamo=True, input_names=input_names, output_names=list(module.output_names),
            opset_version=opset_version, optimize=True, verbose=False,
        )
    metadata = {
        "hf_recsys.model_type": str(model.config.model_type),
        "hf_recsys.task": module.task,
        "hf_recsys.num_items": str(model.config.num_items),
        "hf_recsys.max_history": str(model.config.max_history),
        "hf_recsys.static_history_length": str(bool(getattr(model, "export_static_history_length", False))),
        "hf_recsys.top_k": "" if top_k is None else str(top_k),
    }
    onnx_program.model.metadata_props.update(metadata)
    path = Path(path)
    parameter_bytes = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    external = parameter_bytes > 1.8e9
    if external:
        # the .onnx file names its data file; write both under their final names in a temporary
        # folder next to the target, then move the data first and the graph last
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.") as folder:
            staged = Path(folder) / path.name
            onnx_program.save(staged, external_data=True)
            for produced in sorted(Path(folder).iterdir(), key=lambda p: p.name == path.name):
                os.replace(produced, path.parent / produced.name)
    else:
        write_atomically(path, lambda temporary: onnx_program.save(temporary, external_data=False))
    return path


def _same_ranking(indices: Any, reference_indices: Any, scores: Any, reference_scores: Any) -> bool:
    """Whether the exported top-k ranks as PyTorch's does: at every position with a finite score,
    the item returned has PyTorch's score of that position (ties may come in either order; a
    position scored ``-inf`` holds no item, whatever its index)."""
    import numpy as np

    for row in range(len(reference_indices)):
        finite = np.isfinite(reference_scores[row])
        if not np.array_equal(finite, np.isfinite(scores[row])):
            return False
        scored = dict(zip(reference_indices[row][finite].tolist(), reference_scores[row][finite].tolist()))
        tolerance = 1e-4 * max(1.0, float(np.abs(reference_scores[row][finite]).max(initial=0.0)))
        for index, score in zip(indices[row][finite].tolist(), reference_scores[row][finite].tolist()):
            if index not in scored or abs(scored[index] - score) > tolerance:
                return False
    return True


def verify_onnx(
    path: Union[str, os.PathLike],
    model_or_path: ModelOrPath,
    batch: Optional[dict[str, Any]] = None,
    top_k: Optional[int] = None,
    exclude_seen: bool = True,
) -> dict[str, Any]:
    """Run the ONNX file with onnxruntime and the model in PyTorch on the same batch.

    Args:
        batch: a collator batch (default: :func:`example_inputs` with batch size 3, which also
            differs from the export example's 2); inputs the file does not take are ignored.
        top_k / exclude_seen: as given to :func:`export_onnx`.

    Returns:
        ``{"max_abs_diff": float}`` over the float outputs, ``"max_abs_score"`` (the largest
        PyTorch score, to judge the difference against), ``"indices_equal"`` when the file
        returns item indices (the same ranking: tied items may come in either order, a ``-inf``
        position holds no item), ``"outputs"`` (names) and ``"batch_size"``.
    """
    import numpy as np
    import onnxruntime

    model = load_model(model_or_path).eval()
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    input_names = [i.name for i in session.get_inputs()]
    if batch is None:
        batch = example_inputs(model, batch_size=3, seed=1)
    tensors = _select_inputs(model, batch)
    missing = [name for name in input_names if name not in tensors]
    if missing:
        raise ValueError(f"the batch lacks inputs the ONNX file takes: {missing}")
    tensors = {name: tensors[name] for name in input_names}
    got = session.run(None, {name: t.detach().cpu().numpy() for name, t in tensors.items()})
    with torch.no_grad():
        expected = scoring_module(model, tuple(input_names), top_k, exclude_seen)(*tensors.values())
    expected = expected if isinstance(expected, tuple) else (expected,)
    report: dict[str, Any] = {"outputs": [o.name for o in session.get_outputs()], "batch_size": len(got[0])}
    difference = largest = 0.0
    for name, value, reference in zip(report["outputs"], got, expected):
        reference = reference.detach().cpu().numpy()
        if np.issubdtype(reference.dtype, np.integer):
            report["indices_equal"] = _same_ranking(value, reference, got[0], expected[0].detach().cpu().numpy())
            continue
        finite = np.isfinite(reference)
        if not np.array_equal(finite, np.isfinite(value)):
            difference = float("inf")
            continue
        if finite.any():
            difference = max(difference, float(np.abs(value[finite] - reference[finite]).max()))
            largest = max(largest, float(np.abs(reference[finite]).max()))
    report["max_abs_diff"] = difference
    report["max_abs_score"] = largest
    return report


__all__ = [
    "INPUT_ORDER",
    "ScoringModule",
    "scoring_module",
    "example_inputs",
    "export_program",
    "export_onnx",
    "verify_onnx",
    "program_input_names",
    "task_of",
    "inputs_read",
    "ExportNotSupportedError",
    "graph_input_names",
    "example_from_raw_ids",
]
