"""Model cards and Hub publishing.

The card is generated from the run: metadata (library, tags, datasets, metrics and a
``model-index`` with the held-out results), what the model is, how the data was split, the
metrics next to the baseline's, and a usage snippet that loads and recommends.
"""

from __future__ import annotations

import os
from typing import Any, Optional

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .files import write_atomically

METRIC_NAMES = {"auc": "AUC", "gauc": "GAUC", "logloss": "Log loss"}


def _metric_type(key: str) -> str:
    return key.split("@")[0] if "@" in key else key


def build_model_card(
    *,
    model_name: str,
    model_type: str,
    description: str,
    task: str,
    dataset_name: str,
    data_summary: dict[str, Any],
    metrics: dict[str, float],
    baseline_metrics: dict[str, float],
    baseline_name: str,
    repo_id: Optional[str] = None,
    training_summary: Optional[dict[str, Any]] = None,
    example_items: Optional[list[str]] = None,
) -> ModelCard:
    """A model card with YAML metadata and a model-index for ``metrics`` (held-out, no prefix)."""
    eval_results = [
        EvalResult(
            task_type="recommendation" if task == "next_item" else "click-through-rate-prediction",
            task_name="Next-item recommendation" if task == "next_item" else "Click-through-rate prediction",
            dataset_type=dataset_name,
            dataset_name=dataset_name,
            dataset_split="test",
            metric_type=_metric_type(key),
            metric_name=key.upper() if "@" in key else METRIC_NAMES.get(key, key),
            metric_value=round(float(value), 6),
        )
        for key, value in metrics.items()
        if isinstance(value, (int, float))
    ]
    card_data = ModelCardData(
        library_name="transformers",
        tags=["recommendation", "hf_recsys", model_type, task.replace("_", "-")],
        datasets=[dataset_name],
        metrics=sorted({_metric_type(k) for k in metrics}),
        model_name=model_name,
        eval_results=eval_results or None,
        pipeline_tag=None,
    )
    load_from = repo_id or "path/to/this/folder"
    example = [str(i) for i in (example_items or ["ITEM_ID_1", "ITEM_ID_2", "ITEM_ID_3"])]
    rows = "\n".join(
        f"| {key} | {metrics[key]:.4f} | {baseline_metrics[key]:.4f} |"
        if key in baseline_metrics
        else f"| {key} | {metrics[key]:.4f} | – |"
        for key in metrics
    )
    data_lines = "\n".join(f"- {k}: {v}" for k, v in data_summary.items())
    train_lines = "\n".join(f"- {k}: {v}" for k, v in (training_summary or {}).items() if v is not None)
    content = f"""---
{card_data.to_yaml()}
---

# {model_name}

{description}, trained with `hf_recsys` and the `transformers` `Trainer`.

## Data and split

{data_lines}

Held-out metrics come from the test split: each user's last interaction (leave-one-out by
time) as the positive{", scored against sampled negatives the user never interacted with (fixed by the seed)" if task == "ctr" else ", ranked against every item (full ranking, no sampling)"}.

## Results (test split)

| metric | {model_type} | {baseline_name} |
|---|---|---|
{rows}

## Training

{train_lines}

## Usage

```python
import hf_recsys  # registers the model types with the Auto classes
from transformers import AutoModel

model = AutoModel.from_pretrained("{load_from}")
# raw item IDs in (oldest first), raw item IDs out; the vocabularies live in recsys_processor.json
print(model.recommend([{example!r}], k=10))
```
"""
    return ModelCard(content)


class ModelSourceError(ValueError):
    """A ``--model-dir`` / ``--init-from`` that is neither a saved model folder nor a Hub repo id."""


def check_model_source(source: str, option: str = "--model-dir") -> str:
    """Refuse, naming ``option`` and ``source``, what ``from_pretrained`` would fail on with a Hub
    error: a missing local folder, or a folder without ``config.json``. Returns ``source``.

    Anything that exists locally or looks like a path (``/``, ``.``, ``~``, more than one ``/``)
    is a folder; ``ORG/NAME`` that does not exist locally is left to the Hub (or its cache).
    """
    source = str(source)
    expanded = os.path.expanduser(source)
    if os.path.isdir(expanded):
        if not os.path.isfile(os.path.join(expanded, "config.json")):
            raise ModelSourceError(f"{option} {source}: the folder has no config.json; pass a folder written by "
                                   "`hf-recsys train` (or save_pretrained), or a Hub repo id ORG/NAME")
        return source
    if os.path.exists(expanded):
        raise ModelSourceError(f"{option} {source}: is a file; pass the folder that holds config.json")
    if source.startswith(("/", ".", "~")) or source.count("/") > 1 or "\\" in source:
        raise ModelSourceError(f"{option} {source}: no such folder (a Hub repo id looks like ORG/NAME)")
    return source


def resolve_model_source(source: str, option: str = "--model-dir", revision: Optional[str] = None) -> str:
    """:func:`check_model_source`, then, with a ``revision`` (a branch, tag or commit of a Hub
    repo), the local snapshot of that revision (downloaded into the HF cache, or read from it
    offline), so that config, weights, processor and tokenizer all come from the same commit.
    Without ``revision`` the source is returned as it is (``from_pretrained`` takes ``main``)."""
    source = check_model_source(source, option)
    if revision is None:
        return source
    if os.path.isdir(os.path.expanduser(source)):
        raise ModelSourceError(f"{option} {source} is a local folder; a revision ({revision!r}) applies to a Hub "
                               "repo id ORG/NAME only")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    try:
        return snapshot_download(repo_id=source, revision=revision)
    except RevisionNotFoundError as error:
        raise ModelSourceError(f"{option} {source}: the Hub repo has no revision {revision!r}") from error
    except RepositoryNotFoundError as error:
        raise ModelSourceError(f"{option} {source}: no such Hub repo (or no access to it)") from error


def write_model_card(card: ModelCard, output_dir: str) -> str:
    """Write README.md atomically."""
    return write_atomically(os.path.join(output_dir, "README.md"), card.save)


def push_folder_to_hub(
    folder: str,
    repo_id: str,
    *,
    token: Optional[str] = None,
    private: Optional[bool] = None,
    revision: Optional[str] = None,
    commit_message: str = "Upload hf_recsys model",
) -> str:
    """Create the repo if needed and upload the whole saved folder (weights, config,
    processor, card) in one commit. Returns the commit URL."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    if revision:
        api.create_branch(repo_id, branch=revision, exist_ok=True)
    info = api.upload_folder(
        repo_id=repo_id,
        folder_path=folder,
        revision=revision,
        commit_message=commit_message,
        ignore_patterns=["checkpoint-*", "checkpoints/*", "runs/*", ".*"],
    )
    return str(info)
