"""Held-out evaluation of P5's direct (yes/no, candidate list) and rating prompt families.

Each held-out test interaction (a user's last item, leave-one-out by time) becomes:

* ``yesno``: two prompts, the test item (label yes) and a sampled item the user never
  interacted with (label no); the score is ``log p("yes") - log p("no")`` -> accuracy (score > 0)
  and AUC;
* ``candidates``: the test item among ``num_candidates - 1`` sampled never-interacted items,
  shuffled (users with fewer never-interacted items are left out; negatives are drawn with
  replacement, so a list can repeat a negative); every candidate's ID is scored by its log-probability as the answer -> HR@1/5 and
  NDCG@5 of the test item among the candidates;
* ``rating``: the test interaction's star rating; the prediction is the most likely of the
  rating values seen in training (what constrained decoding returns) and the expectation over
  them -> RMSE / MAE.

Answers are scored by teacher forcing (the summed token log-probabilities of each option,
``</s>`` included), with the encoder run once per prompt, so every option is compared on the
same footing whatever its token length. Training templates and held-out unseen templates are
evaluated separately.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch
from transformers.modeling_outputs import BaseModelOutput

from ..data.pipeline import PreparedData
from ..data.processing import TEST, TRAIN, VALID
from ..data.processor import NUM_SPECIAL
from ..data.samples import sample_negatives
from ..training.metrics import ranking_metrics, roc_auc
from .indexing import ItemIndex
from .prompts import (
    CANDIDATES_TRAIN, CANDIDATES_UNSEEN, RATING_TRAIN, RATING_UNSEEN, YESNO_TRAIN, YESNO_UNSEEN, _fill, has_ratings,
    user_word,
)

TEMPLATES = {
    "yesno": (YESNO_TRAIN, YESNO_UNSEEN),
    "candidates": (CANDIDATES_TRAIN, CANDIDATES_UNSEEN),
    "rating": (RATING_TRAIN, RATING_UNSEEN),
}


# --------------------------------------------------------------------------- metrics
def yesno_metrics(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy of ``score > 0`` as "yes" and ROC AUC, for ``[n]`` scores and 0/1 labels."""
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels).astype(bool)
    return {"accuracy": float(((scores > 0) == labels).mean()), "auc": float(roc_auc(labels.astype(np.float64), scores))}


def candidate_metrics(scores: np.ndarray, target: np.ndarray, ks: Sequence[int] = (1, 5)) -> dict[str, float]:
    """HR@K / NDCG@K of the target among candidates.

    Args:
        scores: ``[n, C]`` candidate scores (higher is better).
        target: ``[n]`` column of the true item in ``scores``.

    Ties count against the target (its rank is the number of other candidates scored at
    least as high), so a model that scores everything equal gets no hit.
    """
    scores = np.asarray(scores, np.float64)
    target = np.asarray(target)
    target_score = scores[np.arange(len(scores)), target][:, None]
    ranks = (scores >= target_score).sum(1) - 1
    metrics = ranking_metrics(ranks, ks)
    return {k: v for k, v in metrics.items() if not k.startswith("mrr") and k != "ndcg@1"}


def rating_metrics(predicted: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """RMSE and MAE of ``[n]`` predicted against true ratings."""
    error = np.asarray(predicted, np.float64) - np.asarray(true, np.float64)
    return {"rmse": float(np.sqrt(np.mean(error**2))), "mae": float(np.mean(np.abs(error)))}


# --------------------------------------------------------------------------- scoring
@torch.no_grad()
def score_options(model, tokenizer, sources: Sequence[str], options: Sequence[Sequence[str]],
                  batch_size: int = 32) -> np.ndarray:
    """``[n, C]`` summed log-probabilities of each option text as the answer to each prompt.

    Args:
        sources: ``n`` prompts.
        options: per prompt, ``C`` answer texts (the same ``C`` for every prompt).
    """
    was_training = model.training
    model.eval()
    num_options = len(options[0]) if len(options) else 0
    out = np.zeros((len(sources), num_options), dtype=np.float64)
    device = model.device
    for start in range(0, len(sources), batch_size):
        stop = min(start + batch_size, len(sources))
        prompt = tokenizer(list(sources[start:stop]), return_tensors="pt", padding=True).to(device)
        answers = tokenizer(text_target=[o for row in options[start:stop] for o in row], return_tensors="pt",
                            padding=True)["input_ids"].to(device)
        present = answers != tokenizer.pad_token_id
        hidden = model.encoder(inputs_embeds=model.embed_prompt(prompt["input_ids"]),
                               attention_mask=prompt["attention_mask"]).last_hidden_state
        logits = model(
            encoder_outputs=BaseModelOutput(last_hidden_state=hidden.repeat_interleave(num_options, 0)),
            attention_mask=prompt["attention_mask"].repeat_interleave(num_options, 0),
            labels=answers.masked_fill(~present, -100),
        ).logits
        token_logp = logits.float().log_softmax(-1).gather(-1, answers.unsqueeze(-1)).squeeze(-1)
        out[start:stop] = (token_logp * present).sum(1).view(stop - start, num_options).cpu().numpy()
    if was_training:
        model.train()
    return out


# --------------------------------------------------------------------------- held-out prompts
def _held_out_rows(data: PreparedData, split: str, max_users: Optional[int], seed: int,
                   min_free_items: int) -> np.ndarray:
    """Held-out rows of users with at least ``min_free_items`` items they never interacted with
    (negatives are drawn from those; on a full-size log that is every user)."""
    sequences = data.sequences
    num_items = data.processor.num_items
    interacted = np.bincount(sequences.user_positive_codes(num_items) // num_items, minlength=int(sequences.users.max()) + 1)
    rows = np.flatnonzero(sequences.split == {"valid": VALID, "test": TEST}[split])
    rows = rows[num_items - NUM_SPECIAL - interacted[sequences.users[rows]] >= min_free_items]
    if max_users is not None and max_users < len(rows):
        rows = np.sort(np.random.default_rng(seed).choice(rows, size=max_users, replace=False))
    return rows


def evaluate_direct_and_rating(
    model,
    tokenizer,
    data: PreparedData,
    index: ItemIndex,
    families: Sequence[str] = ("yesno", "candidates", "rating"),
    split: str = "test",
    unseen: bool = False,
    num_candidates: int = 20,
    max_users: Optional[int] = None,
    seed: int = 0,
    batch_size: int = 32,
) -> dict[str, float]:
    """Held-out metrics of the direct and rating families (see the module docstring).

    Keys: ``yesno_accuracy``, ``yesno_auc``, ``candidates_hr@1``, ``candidates_hr@5``,
    ``candidates_ndcg@5``, ``rating_rmse``, ``rating_mae``, ``rating_rmse_expected``,
    ``rating_mae_expected`` (for the families asked for; rating only where the log has ratings),
    and baselines on the same prompts: ``yesno_auc_popularity``, ``candidates_*_popularity``
    (training counts), ``rating_rmse_train_mean`` / ``rating_mae_train_mean``.
    ``unseen`` uses the held-out templates instead of the training ones (one template per
    prompt, drawn with ``seed``).
    """
    rows = _held_out_rows(data, split, max_users, seed, min_free_items=max(num_candidates - 1, 1))
    rng = np.random.default_rng(seed)
    sequences = data.sequences
    users, items = sequences.users[rows], sequences.items[rows]
    user_words = user_word(users)
    positive_codes = sequences.user_positive_codes(data.processor.num_items)
    popularity = data.train_item_counts.astype(np.float64)  # baselines on the same prompts
    metrics: dict[str, float] = {}

    template_rng = np.random.default_rng(seed + 1)  # apart, so both template sets get the same negatives

    def templates_for(family: str) -> tuple[Sequence[str], np.ndarray]:
        templates = TEMPLATES[family][1 if unseen else 0]
        return templates, template_rng.integers(len(templates), size=len(rows))

    if "yesno" in families:
        templates, choice = templates_for("yesno")
        negatives = sample_negatives(users, data.processor.num_items, positive_codes, rng)
        sources = (_fill(templates, choice, user=user_words, item=list(index.texts_of(items)))
                   + _fill(templates, choice, user=user_words, item=list(index.texts_of(negatives))))
        scores = score_options(model, tokenizer, sources, [["yes", "no"]] * len(sources), batch_size)
        labels = np.r_[np.ones(len(rows)), np.zeros(len(rows))]
        metrics.update({f"yesno_{k}": v for k, v in yesno_metrics(scores[:, 0] - scores[:, 1], labels).items()})
        popular = popularity[np.r_[items, negatives]]
        metrics["yesno_auc_popularity"] = float(roc_auc(labels, popular))

    if "candidates" in families:
        templates, choice = templates_for("candidates")
        negatives = sample_negatives(np.repeat(users, num_candidates - 1), data.processor.num_items, positive_codes,
                                     rng).reshape(len(rows), num_candidates - 1)
        candidates = np.concatenate([items[:, None], negatives], axis=1)
        candidates = np.take_along_axis(candidates, rng.random(candidates.shape).argsort(1), axis=1)
        target = (candidates == items[:, None]).argmax(1)
        texts = index.texts_of(candidates).tolist()
        sources = _fill(templates, choice, user=user_words, candidates=[" ".join(row) for row in texts])
        scores = score_options(model, tokenizer, sources, texts, max(1, batch_size // 2))
        metrics.update({f"candidates_{k}": v for k, v in candidate_metrics(scores, target).items()})
        # popularity ranks the same lists (ties broken at random, so equal counts are no hit for free)
        popular = popularity[candidates] + rng.random(candidates.shape) * 1e-3
        metrics.update({f"candidates_{k}_popularity": v for k, v in candidate_metrics(popular, target).items()})

    if "rating" in families and has_ratings(data):
        templates, choice = templates_for("rating")
        ratings = data.frame["rating"].to_numpy()
        train_values = np.unique(np.rint(ratings[sequences.split == TRAIN]).astype(np.int64))
        sources = _fill(templates, choice, user=user_words, item=list(index.texts_of(items)))
        scores = score_options(model, tokenizer, sources, [[str(v) for v in train_values]] * len(sources), batch_size)
        most_likely = train_values[scores.argmax(1)]
        probabilities = np.exp(scores - scores.max(1, keepdims=True))
        expected = (probabilities / probabilities.sum(1, keepdims=True)) @ train_values
        true = ratings[rows]
        metrics.update({f"rating_{k}": v for k, v in rating_metrics(most_likely, true).items()})
        metrics.update({f"rating_{k}_expected": v for k, v in rating_metrics(expected, true).items()})
        train_mean = ratings[sequences.split == TRAIN].mean()
        metrics.update({f"rating_{k}_train_mean": v for k, v in rating_metrics(np.full(len(rows), train_mean), true).items()})
    metrics["direct_users"] = int(len(rows))
    return metrics


__all__ = ["evaluate_direct_and_rating", "score_options", "yesno_metrics", "candidate_metrics", "rating_metrics"]
