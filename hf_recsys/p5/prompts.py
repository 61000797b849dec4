"""Prompt families built from the interaction log, as ``datasets.Dataset`` of (source, target).

Families (P5's, on the same leave-one-out split every other model uses):

* ``sequential``: history -> next item. Training: every training interaction with at least one
  earlier one (each prefix of a user's training sequence is a prompt). Validation / test: the
  held-out item after everything before it.
* ``yesno``: "will the user like this item?" -> ``yes`` for a training interaction, ``no`` for a
  sampled item the user never interacted with.
* ``candidates``: pick the next item from a shuffled list of it and ``num_candidates - 1``
  sampled negatives.
* ``rating``: the star rating of a training interaction (only for logs with ratings).

Each family has several training templates; ``SEQUENTIAL_UNSEEN`` templates are never trained
on and measure how the model copes with a new phrasing. Templates contain no digits, because
the whole-word embedding treats words with digits as ID words.
"""

from __future__ import annotations

from typing import Optional, Sequence

import datasets
import numpy as np

from ..data.pipeline import PreparedData
from ..data.processing import TEST, TRAIN, VALID
from ..data.processor import NUM_SPECIAL, PAD_INDEX
from ..data.samples import sample_negatives
from ..models.configuration_p5 import P5_TASKS
from .indexing import ItemIndex

SEQUENTIAL_TRAIN = [
    "Given the following purchase history of {user} : {history} , predict next possible item to be purchased by the user ?",
    "Here is the purchase history of {user} : {history} . What to recommend next for the user ?",
    "{user} has bought {history} in this order . Which item will the user buy next ?",
    "Purchase history : {history} . What should the user buy next ?",
    "Items bought so far : {history} . Recommend the next item .",
]
#: held out: never trained on
SEQUENTIAL_UNSEEN = [
    "According to the purchase history of {user} : {history} , can you recommend the next possible item to the user ?",
    "The user bought {history} , one after another . Guess the next item the user buys .",
]
YESNO_TRAIN = [
    "Will {user} enjoy item {item} ? Answer yes or no .",
    "Should we recommend item {item} to {user} ?",
    "Does {user} like item {item} ?",
]
CANDIDATES_TRAIN = [
    "Pick the most suitable item from the following list for {user} : {candidates}",
    "Which item of {candidates} will {user} buy next ?",
]
RATING_TRAIN = [
    "What star rating will {user} give item {item} ?",
    "How will {user} rate item {item} ?",
]
#: held out (never trained on) for the direct and rating families
YESNO_UNSEEN = ["Would {user} be interested in item {item} ? Say yes or no ."]
CANDIDATES_UNSEEN = ["Choose the best item for {user} among {candidates}"]
RATING_UNSEEN = ["How many stars would {user} rate item {item} ?"]
#: the template ``recommend()`` writes (a training template without the user in it)
RECOMMEND_TEMPLATE = SEQUENTIAL_TRAIN[3]
SPLIT_CODES = {"train": TRAIN, "valid": VALID, "test": TEST}

for _template in (SEQUENTIAL_TRAIN + SEQUENTIAL_UNSEEN + YESNO_TRAIN + CANDIDATES_TRAIN + RATING_TRAIN
                  + YESNO_UNSEEN + CANDIDATES_UNSEEN + RATING_UNSEEN):
    if any(ch.isdigit() for ch in _template):  # pragma: no cover - a guard for editors
        raise ValueError(f"templates must not contain digits: {_template!r}")


def user_word(user_index: np.ndarray) -> np.ndarray:
    return np.char.add("user_", np.asarray(user_index).astype(str)).astype(object)


def history_words(index: ItemIndex, windows: np.ndarray) -> list[str]:
    """``[n, L]`` left-padded item indices -> one space-joined string of ID words per row."""
    texts = np.where(windows != PAD_INDEX, index.texts_of(np.maximum(windows, NUM_SPECIAL)), "")
    return [" ".join(t for t in row if t) for row in texts.tolist()]


def _fill(templates: Sequence[str], choice: np.ndarray, **columns: Sequence[str]) -> list[str]:
    names = list(columns)
    return [templates[c].format(**dict(zip(names, values))) for c, *values in zip(choice, *columns.values())]


def sequential_prompts(
    data: PreparedData,
    index: ItemIndex,
    split: str,
    max_history: int,
    templates: Sequence[str] = SEQUENTIAL_TRAIN,
    template_id: Optional[int] = None,
    seed: int = 0,
    rows: Optional[np.ndarray] = None,
) -> dict[str, list]:
    """Sequential prompts of one split.

    ``template_id`` fixes the template (evaluation); otherwise each prompt draws one.
    Columns: ``source``, ``target`` (ID text), ``target_item`` (position in ``index``),
    ``user_index``, ``row`` (the target interaction in ``data.sequences``).
    """
    sequences = data.sequences
    if rows is None:
        rows = np.flatnonzero(sequences.split == SPLIT_CODES[split])
        rows = rows[rows - sequences.user_start[rows] >= 1]  # at least one item of history
    windows, _ = sequences.windows(rows, max_history)
    rng = np.random.default_rng(seed)
    choice = np.full(len(rows), template_id) if template_id is not None else rng.integers(len(templates), size=len(rows))
    users = sequences.users[rows]
    targets = sequences.items[rows]
    return {
        "source": _fill(templates, choice, user=user_word(users), history=history_words(index, windows)),
        "target": list(index.texts_of(targets)),
        "target_item": (targets - NUM_SPECIAL).tolist(),
        "user_index": users.tolist(),
        "row": rows.tolist(),
    }


def _auxiliary_rows(data: PreparedData, count: int, rng: np.random.Generator) -> np.ndarray:
    train_rows = np.flatnonzero(data.sequences.split == TRAIN)
    return np.sort(rng.choice(train_rows, size=min(count, len(train_rows)), replace=False))


def yesno_prompts(data: PreparedData, index: ItemIndex, count: int, rng: np.random.Generator, positive_codes) -> dict[str, list]:
    rows = _auxiliary_rows(data, count, rng)
    users = data.sequences.users[rows]
    positive = rng.random(len(rows)) < 0.5
    negatives = sample_negatives(users, data.processor.num_items, positive_codes, rng)
    items = np.where(positive, data.sequences.items[rows], negatives)
    choice = rng.integers(len(YESNO_TRAIN), size=len(rows))
    return {
        "source": _fill(YESNO_TRAIN, choice, user=user_word(users), item=list(index.texts_of(items))),
        "target": np.where(positive, "yes", "no").tolist(),
    }


def candidate_prompts(
    data: PreparedData, index: ItemIndex, count: int, num_candidates: int, rng: np.random.Generator, positive_codes
) -> dict[str, list]:
    rows = _auxiliary_rows(data, count, rng)
    users = data.sequences.users[rows]
    negatives = sample_negatives(
        np.repeat(users, num_candidates - 1), data.processor.num_items, positive_codes, rng
    ).reshape(len(rows), num_candidates - 1)
    candidates = np.concatenate([data.sequences.items[rows][:, None], negatives], axis=1)
    candidates = np.take_along_axis(candidates, rng.random(candidates.shape).argsort(1), axis=1)
    lists = [" ".join(row) for row in index.texts_of(candidates).tolist()]
    choice = rng.integers(len(CANDIDATES_TRAIN), size=len(rows))
    return {
        "source": _fill(CANDIDATES_TRAIN, choice, user=user_word(users), candidates=lists),
        "target": list(index.texts_of(data.sequences.items[rows])),
    }


def rating_prompts(data: PreparedData, index: ItemIndex, count: int, rng: np.random.Generator) -> dict[str, list]:
    rows = _auxiliary_rows(data, count, rng)
    users = data.sequences.users[rows]
    ratings = np.rint(data.frame["rating"].to_numpy()[rows]).astype(np.int64)
    choice = rng.integers(len(RATING_TRAIN), size=len(rows))
    return {
        "source": _fill(RATING_TRAIN, choice, user=user_word(users), item=list(index.texts_of(data.sequences.items[rows]))),
        "target": ratings.astype(str).tolist(),
    }


def has_ratings(data: PreparedData) -> bool:
    return "rating" in data.frame.columns and data.frame["rating"].nunique() > 1


def training_prompts(
    data: PreparedData,
    index: ItemIndex,
    tasks: Sequence[str],
    max_history: int,
    aux_task_ratio: float = 0.1,
    num_candidates: int = 20,
    seed: int = 0,
) -> datasets.Dataset:
    """All training prompts of ``tasks``, shuffled. Columns ``source``, ``target``, ``task``."""
    unknown = set(tasks) - set(P5_TASKS)
    if unknown:
        raise ValueError(f"unknown P5 task(s) {sorted(unknown)}; choose from {', '.join(P5_TASKS)}")
    rng = np.random.default_rng(seed)
    parts: list[dict[str, list]] = []
    sequential = sequential_prompts(data, index, "train", max_history, seed=seed)
    num_sequential = len(sequential["source"])
    if "sequential" in tasks:
        parts.append({"source": sequential["source"], "target": sequential["target"], "task": ["sequential"] * num_sequential})
    count = max(1, int(round(aux_task_ratio * num_sequential)))
    positive_codes = data.sequences.user_positive_codes(data.processor.num_items) if {"yesno", "candidates"} & set(tasks) else None
    builders = {
        "yesno": lambda: yesno_prompts(data, index, count, rng, positive_codes),
        "candidates": lambda: candidate_prompts(data, index, count, num_candidates, rng, positive_codes),
        "rating": lambda: rating_prompts(data, index, count, rng) if has_ratings(data) else None,
    }
    for task in ("yesno", "candidates", "rating"):
        if task in tasks:
            part = builders[task]()
            if part is not None:
                parts.append({**part, "task": [task] * len(part["source"])})
    if not parts:
        raise ValueError("no training prompt: tasks is empty or the log has no training interaction")
    merged = {key: [value for part in parts for value in part[key]] for key in ("source", "target", "task")}
    return datasets.Dataset.from_dict(merged).shuffle(seed=seed)


def tokenize_prompts(dataset: datasets.Dataset, tokenizer, max_source_length: int = 512) -> datasets.Dataset:
    """Adds ``input_ids``, ``attention_mask``, ``labels`` and ``length`` (``map(batched=True)``)."""

    def encode(batch: dict[str, list]) -> dict[str, list]:
        out = tokenizer(batch["source"], truncation=True, max_length=max_source_length)
        out["labels"] = tokenizer(text_target=batch["target"])["input_ids"]
        out["length"] = [len(ids) for ids in out["input_ids"]]
        return out

    return dataset.map(encode, batched=True, batch_size=2000, desc="tokenizing prompts")


__all__ = [
    "SEQUENTIAL_TRAIN", "SEQUENTIAL_UNSEEN", "YESNO_TRAIN", "CANDIDATES_TRAIN", "RATING_TRAIN", "RECOMMEND_TEMPLATE",
    "YESNO_UNSEEN", "CANDIDATES_UNSEEN", "RATING_UNSEEN",
    "sequential_prompts", "training_prompts", "tokenize_prompts", "history_words", "has_ratings",
]
