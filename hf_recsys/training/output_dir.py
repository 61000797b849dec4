"""The output folder's policy, as ``Trainer``'s ``overwrite_output_dir`` had it.

* A folder that holds a model (its files, below, or ``checkpoints/checkpoint-N``) is refused
  unless the run overwrites it (``--overwrite-output-dir``) or resumes in it
  (``--resume-from-checkpoint``).
* When the new model is saved, the previous model's files that the new one does not write are
  removed, so the folder holds one model: no stale tokenizer beside a new BST, no old remote
  code. Files that are not a model's (notes, scripts, data) are kept.
* Overwriting (not resuming) removes the previous run's ``checkpoints/`` before training, so
  ``--resume-from-checkpoint latest`` can never pick up the other model's state.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
from typing import Iterable

from ..constants import EVAL_RESULTS_FILE, RUN_CONFIG_FILE

#: files a saved model, its processor, tokenizer, card and run record are made of
MODEL_FILES = frozenset({
    "config.json", "generation_config.json", "model.safetensors", "model.safetensors.index.json",
    "pytorch_model.bin", "pytorch_model.bin.index.json", "recsys_processor.json", "processor_config.json",
    "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
    "added_tokens.json", "spiece.model", "vocab.json", "vocab.txt", "merges.txt", "chat_template.jinja",
    "chat_template.json", "p5_item_index.json", "README.md", EVAL_RESULTS_FILE, RUN_CONFIG_FILE,
    "training_args.bin", "trainer_state.json", "all_results.json", "train_results.json",
})
MODEL_FILE_PATTERNS = ("model-*-of-*.safetensors", "pytorch_model-*-of-*.bin")
#: remote-code modules ``save_pretrained`` copies beside a model (transformers' naming)
REMOTE_CODE_PATTERNS = ("configuration_*.py", "modeling_*.py", "processing_*.py", "tokenization_*.py",
                        "feature_layers.py", "compiled_gru.py")
CHECKPOINTS_DIR = "checkpoints"


def _auto_map_modules(folder: str) -> set[str]:
    """``NAME.py`` of every module named in the ``auto_map`` of the folder's JSON configs."""
    modules: set[str] = set()
    for name in ("config.json", "processor_config.json", "tokenizer_config.json", "preprocessor_config.json"):
        try:
            with open(os.path.join(folder, name)) as f:
                auto_map = json.load(f).get("auto_map") or {}
        except (OSError, ValueError, AttributeError):
            continue
        for target in auto_map.values():
            for reference in target if isinstance(target, (list, tuple)) else [target]:
                if isinstance(reference, str) and "." in reference:
                    modules.add(reference.split("--")[-1].rsplit(".", 1)[0] + ".py")
    return modules


def model_files(folder: str) -> list[str]:
    """The top-level entries of ``folder`` that belong to a saved model (sorted)."""
    if not os.path.isdir(folder):
        return []
    remote = _auto_map_modules(folder)
    found = []
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if name == CHECKPOINTS_DIR and os.path.isdir(path):
            if any(entry.startswith("checkpoint-") for entry in os.listdir(path)):
                found.append(name)
        elif os.path.isfile(path) and (
            name in MODEL_FILES or name in remote
            or any(fnmatch.fnmatchcase(name, p) for p in MODEL_FILE_PATTERNS + REMOTE_CODE_PATTERNS)
        ):
            found.append(name)
    return sorted(found)


def check_output_dir(output_dir: str, overwrite: bool, resuming: bool) -> None:
    """Raise ``ValueError`` (naming ``--output-dir``) when the run may not write into ``output_dir``."""
    if not str(output_dir).strip():
        raise ValueError("--output-dir is empty: name the folder the model goes to")
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise ValueError(f"--output-dir {output_dir} is a file, not a folder")
    if overwrite or resuming:
        return
    found = model_files(output_dir)
    if found:
        shown = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
        resume = ("; to continue the interrupted run whose checkpoints these are, add --resume-from-checkpoint"
                  if CHECKPOINTS_DIR in found else "")
        raise ValueError(f"--output-dir {output_dir} already holds a model's files ({shown}); pass "
                         f"--overwrite-output-dir to replace them (files that are not a model's are kept), or choose "
                         f"another folder{resume}")


def clear_previous_checkpoints(output_dir: str) -> None:
    """Remove ``output_dir/checkpoints`` (an overwritten run's resumable states)."""
    shutil.rmtree(os.path.join(output_dir, CHECKPOINTS_DIR), ignore_errors=True)


def remove_previous_model(output_dir: str, keep: Iterable[str], keep_checkpoints: bool = True) -> list[str]:
    """Delete the model files of ``output_dir`` that are not in ``keep`` (the names the new
    model is about to write); return what was deleted."""
    keep = set(keep)
    removed = []
    for name in model_files(output_dir):
        if name in keep or (name == CHECKPOINTS_DIR and keep_checkpoints):
            continue
        path = os.path.join(output_dir, name)
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.remove(path)
        removed.append(name)
    return removed
