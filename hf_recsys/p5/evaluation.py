"""Sequential-recommendation evaluation of P5: constrained beam search, HR@K / NDCG@K.

Leave-one-out by time, every user of the split, full ranking over all items (the beam search
ranks the whole catalogue; an item outside the top ``max(ks)`` beams counts as a miss): no
sampled candidates. The popularity baseline is scored on the same users.
"""

from __future__ import annotations

import time
from typing import Optional, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ..data.pipeline import PreparedData
from ..data.processor import NUM_SPECIAL
from ..training.metrics import ranking_metrics
from .indexing import ItemIndex
from .prompts import SEQUENTIAL_TRAIN, sequential_prompts

MISS = 1_000_000_000  # rank given to a target the beams did not reach


def evaluation_rows(data: PreparedData, split: str, max_users: Optional[int] = None, seed: int = 0) -> np.ndarray:
    """Held-out rows of ``split`` with some history; ``max_users`` draws a seeded subset."""
    from ..data.processing import TEST, VALID

    sequences = data.sequences
    rows = np.flatnonzero(sequences.split == {"valid": VALID, "test": TEST}[split])
    rows = rows[rows - sequences.user_start[rows] >= 1]
    if max_users is not None and max_users < len(rows):
        rows = np.sort(np.random.default_rng(seed).choice(rows, size=max_users, replace=False))
    return rows


@torch.no_grad()
def evaluate_sequential(
    model,
    tokenizer,
    data: PreparedData,
    index: ItemIndex,
    split: str = "test",
    templates: Sequence[str] = SEQUENTIAL_TRAIN,
    template_id: int = 0,
    ks: Sequence[int] = (5, 10),
    num_beams: int = 20,
    batch_size: int = 32,
    max_users: Optional[int] = None,
    exclude_seen: bool = False,
    seed: int = 0,
    disable_progress: Optional[bool] = None,
) -> dict[str, float]:
    """HR@K and NDCG@K of ``model`` on ``split`` with one fixed prompt template.

    Args:
        model: a :class:`~hf_recsys.models.P5ForConditionalGeneration` whose item index is set.
        max_users: evaluate a seeded subset of users instead of all (for quick looks).
        exclude_seen: never recommend an item of the user's history (off by default, as in
            P5 and Hua et al.).
        disable_progress: hide the progress bar (None: shown on a terminal only, as ``Trainer``'s).
    """
    rows = evaluation_rows(data, split, max_users, seed)
    prompts = sequential_prompts(
        data, index, split, model.config.max_history, templates=templates, template_id=template_id, rows=rows
    )
    sources, targets = prompts["source"], np.asarray(prompts["target_item"])
    order = np.argsort([len(s) for s in sources], kind="stable")  # similar lengths share a batch
    k = max(ks)
    ranks = np.full(len(rows), MISS, dtype=np.int64)
    started = time.perf_counter()
    # minutes on a CPU for every Beauty user: say how far it is
    for start in tqdm(range(0, len(order), batch_size), desc=f"P5 beam search ({split}, {len(rows):,} users)",
                      unit="batch", disable=disable_progress):
        batch = order[start : start + batch_size]
        encoded = tokenizer([sources[i] for i in batch], return_tensors="pt", padding=True)
        exclude = None
        if exclude_seen:
            sequences = data.sequences
            exclude = [
                (sequences.items[sequences.user_start[r] : r] - NUM_SPECIAL).tolist() for r in rows[batch]
            ]
        items, _ = model.generate_items(
            encoded["input_ids"].to(model.device), encoded["attention_mask"].to(model.device),
            k=k, num_beams=max(num_beams, k), exclude=exclude,
        )
        for position, found in zip(batch, items):
            hits = [j for j, item in enumerate(found) if item == targets[position]]
            if hits:
                ranks[position] = hits[0]
    seconds = time.perf_counter() - started
    metrics = {key: value for key, value in ranking_metrics(ranks, ks).items() if not key.startswith("mrr")}
    metrics["users"] = int(len(rows))
    metrics["eval_seconds"] = seconds
    return metrics


def popularity_metrics(data: PreparedData, split: str = "test", ks: Sequence[int] = (5, 10),
                       max_users: Optional[int] = None, seed: int = 0, exclude_seen: bool = False) -> dict[str, float]:
    """The same metrics for "recommend the most popular training items" on the same users;
    ``exclude_seen`` leaves each user's history out of the list, as :func:`evaluate_sequential`
    does for the model (a target in the history is then a miss for both)."""
    rows = evaluation_rows(data, split, max_users, seed)
    counts = data.train_item_counts.astype(np.float64)
    counts[:NUM_SPECIAL] = -1
    # rank of each item in the popularity order (ties broken by index, like a stable sort)
    order = np.argsort(-counts, kind="stable")
    rank_of = np.empty_like(order)
    rank_of[order] = np.arange(len(order))
    sequences = data.sequences
    targets = sequences.items[rows]
    ranks = rank_of[targets].astype(np.int64)
    if exclude_seen:
        for i, row in enumerate(rows):
            seen = np.unique(sequences.items[sequences.user_start[row] : row])
            # the seen items ranked above the target move it up; a seen target cannot be recommended
            ranks[i] = MISS if np.isin(targets[i], seen) else ranks[i] - int((rank_of[seen] < ranks[i]).sum())
    return {key: value for key, value in ranking_metrics(ranks, ks).items() if not key.startswith("mrr")}


__all__ = ["evaluate_sequential", "popularity_metrics", "evaluation_rows"]
