"""Metrics, computed without ever holding an n_users x n_items matrix.

CTR: AUC (ties count one half), GAUC (per-user AUC weighted by the user's sample count, over
users that have both a positive and a negative) and logloss. Ranking: HR/NDCG/MRR@K from the
target's rank, which models compute per batch.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np
import pandas as pd

from ..constants import NEXT_ITEM_CUTOFFS


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve via average ranks (Mann-Whitney U); NaN if one class only."""
    labels = np.asarray(labels).astype(bool).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def group_auc(labels: np.ndarray, scores: np.ndarray, groups: np.ndarray) -> float:
    """GAUC: sample-count-weighted mean of per-group AUCs, over groups with both classes."""
    frame = pd.DataFrame(
        {"g": np.asarray(groups).ravel(), "y": np.asarray(labels).astype(bool).ravel(), "s": np.asarray(scores, np.float64).ravel()}
    )
    frame["rank"] = frame.groupby("g")["s"].rank(method="average")
    frame["pos_rank"] = np.where(frame["y"], frame["rank"], 0.0)
    per_group = frame.groupby("g").agg(n=("y", "size"), pos=("y", "sum"), pos_rank=("pos_rank", "sum"))
    neg = per_group["n"] - per_group["pos"]
    usable = (per_group["pos"] > 0) & (neg > 0)
    if not usable.any():
        return float("nan")
    g = per_group[usable]
    neg = neg[usable]
    aucs = (g["pos_rank"] - g["pos"] * (g["pos"] + 1) / 2) / (g["pos"] * neg)
    return float(np.average(aucs, weights=g["n"]))


def log_loss(labels: np.ndarray, probabilities: np.ndarray, eps: float = 1e-7) -> float:
    p = np.clip(np.asarray(probabilities, np.float64).ravel(), eps, 1 - eps)
    y = np.asarray(labels, np.float64).ravel()
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def ctr_metrics(labels: np.ndarray, logits: np.ndarray, users: Optional[np.ndarray] = None) -> dict[str, float]:
    """AUC, GAUC (when ``users`` is given) and logloss from logits."""
    out = {"auc": roc_auc(labels, logits), "logloss": log_loss(labels, _sigmoid(np.asarray(logits, np.float64)))}
    if users is not None:
        out["gauc"] = group_auc(labels, logits, users)
    return out


def make_ctr_compute_metrics(users: np.ndarray) -> Callable:
    """A ``compute_metrics`` for ``Trainer`` over a fixed, unshuffled evaluation set.

    ``users`` is the evaluation dataset's user column, in dataset order (the Trainer gathers
    predictions across processes in that order and drops the padding it adds).
    """

    def compute_metrics(eval_prediction) -> dict[str, float]:
        logits = np.asarray(eval_prediction.predictions).reshape(-1)
        labels = np.asarray(eval_prediction.label_ids).reshape(-1)
        return ctr_metrics(labels, logits, users[: len(labels)])

    return compute_metrics


def ranking_metrics(ranks: np.ndarray, ks: Sequence[int] = NEXT_ITEM_CUTOFFS) -> dict[str, float]:
    """HR@K, NDCG@K and MRR@K from 0-based ranks of the held-out item (one per user)."""
    ranks = np.asarray(ranks, dtype=np.float64).ravel()
    out: dict[str, float] = {}
    for k in ks:
        hit = ranks < k
        out[f"hr@{k}"] = float(hit.mean())
        out[f"ndcg@{k}"] = float(np.where(hit, 1.0 / np.log2(ranks + 2.0), 0.0).mean())
        out[f"mrr@{k}"] = float(np.where(hit, 1.0 / (ranks + 1.0), 0.0).mean())
    return out


def popularity_logits(item_counts: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Popularity baseline's score for each target: log(1 + training count)."""
    return np.log1p(item_counts[np.asarray(targets)]).astype(np.float64)


def popularity_ctr_metrics(
    item_counts: np.ndarray,
    calibration: tuple[np.ndarray, np.ndarray],
    targets: np.ndarray,
    labels: np.ndarray,
    users: Optional[np.ndarray] = None,
) -> dict[str, float]:
    """The popularity baseline on CTR samples: AUC / GAUC of ``log(1 + training count)`` of each
    target, and a logloss through a Platt scaling fitted on ``calibration`` (validation
    ``(targets, labels)``, never the samples it reports on).

    ``item_counts``: ``[num_items]`` training interactions per item index.
    """
    a, b = fit_platt(popularity_logits(item_counts, calibration[0]), np.asarray(calibration[1]))
    scores = popularity_logits(item_counts, targets)
    labels = np.asarray(labels)
    metrics = ctr_metrics(labels, scores, users)
    metrics["logloss"] = log_loss(labels, _sigmoid(a * scores + b))
    return metrics


def fit_platt(scores: np.ndarray, labels: np.ndarray, steps: int = 50) -> tuple[float, float]:
    """Fit ``sigmoid(a * score + b)`` by Newton's method, so a baseline's logloss is fair."""
    x = np.asarray(scores, np.float64)
    y = np.asarray(labels, np.float64)
    a, b = 0.0, 0.0
    for _ in range(steps):
        p = _sigmoid(a * x + b)
        w = p * (1 - p) + 1e-9
        grad = np.array([np.sum((p - y) * x), np.sum(p - y)])
        hess = np.array([[np.sum(w * x * x), np.sum(w * x)], [np.sum(w * x), np.sum(w)]])
        step = np.linalg.solve(hess + 1e-9 * np.eye(2), grad)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-10:
            break
    return float(a), float(b)
