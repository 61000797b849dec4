"""Next-item retrieval: collator, full-ranking evaluation and the ``"next_item"`` task.

Evaluation protocol (leave-one-out, full ranking; Krichene & Rendle, KDD 2020):

* every real item is a candidate (no sampled candidate sets); padding and unknown never are;
* by default the items the user interacted with before the held-out one are removed from the
  candidates (``exclude_history``), except the held-out item itself when it is a repeat;
* the held-out item's 0-based rank is the number of remaining candidates that score **at least
  as high** (ties counted pessimistically: a model that gives many items the same score gets
  no credit for the tie), or, with ``tie_breaking="random"``, the number that score higher
  plus a uniform share of the ties drawn from a hash of (seed, row), the same for every model;
* ranks are computed per evaluation batch inside ``Trainer``'s ``preprocess_logits_for_metrics``,
  so only one ``[batch, num_items]`` score matrix exists at a time and the metrics are
  HR/NDCG/MRR@{5,10,20} from :func:`~hf_recsys.training.metrics.ranking_metrics`.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional, Sequence

import datasets
import numpy as np
import torch
from transformers import TrainerCallback

from ..constants import IGNORE_INDEX, NEXT_ITEM_CUTOFFS, NUM_SPECIAL
from ..data.pipeline import PreparedData
from ..data.processing import TRAIN
from ..data.samples import InteractionSequences
from .allocator import ReleaseFreedMemoryCallback
from .metrics import ranking_metrics
from .tasks import Task, register_task

logger = logging.getLogger(__name__)

TIE_BREAKING = ("pessimistic", "random")


def _column(features: Sequence[dict[str, Any]], key: str) -> np.ndarray:
    return np.fromiter((f[key] for f in features), dtype=np.int64, count=len(features))


class NextItemCollator:
    """Collates next-item rows (``row``, ``user_index``, ``target``) into model inputs.

    The mode follows the split of the rows' interactions:

    * training rows (the user's last training interaction, or an earlier window end): the
      window of ``max_history + 1`` items ending at the row gives ``history_ids`` (all but the
      last) and ``labels`` ``[B, L]`` (the next item after each position; -100 after padding);
    * validation / test rows (the held-out item): ``history_ids`` are the ``max_history``
      items before it, ``labels`` ``[B]`` the held-out item, and ``label_rows`` ``[B]`` the
      row itself (the ranking uses it to find the user's history).

    Always adds ``history_mask`` and ``user_ids``; with ``timestamps`` (the log has interaction
    times) also ``history_times`` ``[B, L]`` (int64, 0 at padding), which models that read
    times (HSTU's time bias) use and the others ignore. Columns that are padding in every row of the
    batch are cut off (``trim_padding``): outputs do not depend on the amount of left padding,
    and short-history batches then cost less. ``pad_to_multiple_of`` keeps the width a multiple
    of it (or the whole window), so batches come in a few widths only: on recent GPUs attention
    runs through cuDNN, which builds a graph for every new shape, so each new width costs a
    slow first step.
    """

    def __init__(self, sequences: InteractionSequences, max_history: int, trim_padding: bool = True,
                 pad_to_multiple_of: Optional[int] = None, timestamps: bool = False):
        if pad_to_multiple_of is not None and pad_to_multiple_of < 1:
            raise ValueError(f"pad_to_multiple_of must be a positive int, got {pad_to_multiple_of}")
        self.sequences = sequences
        self.max_history = max_history
        self.trim_padding = trim_padding
        self.pad_to_multiple_of = pad_to_multiple_of
        self.timestamps = timestamps

    def __call__(self, features: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        rows = _column(features, "row")
        is_train = self.sequences.split[rows] == TRAIN
        if is_train.any() and not is_train.all():
            raise ValueError("a next-item batch mixes training and held-out rows")
        if is_train[0]:
            window, window_times = self.sequences.windows(rows, self.max_history + 1, include_row=True)
            history, following, times = window[:, :-1], window[:, 1:], window_times[:, :-1]
            labels = np.where(history != 0, following, IGNORE_INDEX)
        else:
            history, times = self.sequences.windows(rows, self.max_history)
            labels = _column(features, "target")
        keep = self._first_used_column(history)
        history = np.ascontiguousarray(history[:, keep:])
        batch = {
            "history_ids": torch.from_numpy(history),
            "history_mask": torch.from_numpy(history != 0),
            "user_ids": torch.from_numpy(_column(features, "user_index")),
        }
        if self.timestamps:
            batch["history_times"] = torch.from_numpy(np.ascontiguousarray(times[:, keep:]))
        if is_train[0]:
            batch["labels"] = torch.from_numpy(np.ascontiguousarray(labels[:, keep:]))
        else:
            batch["labels"] = torch.from_numpy(labels)
            batch["label_rows"] = torch.from_numpy(rows)
        return batch

    def _first_used_column(self, history: np.ndarray) -> int:
        if not self.trim_padding:
            return 0
        used = (history != 0).any(axis=0)
        # keep at least one column so an all-empty batch still has a shape
        first = int(np.argmax(used)) if used.any() else history.shape[1] - 1
        if self.pad_to_multiple_of:
            width = -(-(history.shape[1] - first) // self.pad_to_multiple_of) * self.pad_to_multiple_of
            first = max(0, history.shape[1] - width)
        return first


def training_window_rows(sequences: InteractionSequences, last_rows: np.ndarray, max_history: int) -> np.ndarray:
    """Window ends that cover every training target once: for each user's last training row
    ``r``, the rows ``r, r - L, r - 2L, ...`` whose windows still hold an (input, target) pair.

    The default training set uses only ``r`` (the user's most recent ``L`` targets, as SASRec
    does); this gives longer-than-``L`` sequences their older targets too.
    """
    last_rows = np.asarray(last_rows, np.int64)
    targets = last_rows - sequences.user_start[last_rows]  # (input, target) pairs before r
    windows = -(-targets // max_history)
    group_start = np.repeat(np.cumsum(windows) - windows, windows)
    offset = np.arange(windows.sum()) - group_start
    return np.repeat(last_rows, windows) - max_history * offset


def _uniform_from_rows(rows: np.ndarray, seed: int) -> np.ndarray:
    """A deterministic uniform [0, 1) number per row (splitmix64 of seed and row)."""
    with np.errstate(over="ignore"):
        z = np.asarray(rows, np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


class FullRanker:
    """Turns ``[B, num_items]`` scores into the 0-based rank of each held-out item.

    Args:
        sequences: the flat log (to find each user's items before the held-out row).
        exclude_history: drop the user's earlier items from the candidates (never the target).
        tie_breaking: ``"pessimistic"`` (ties rank above the target) or ``"random"``.
        seed: seed of the random tie-breaking.
    """

    def __init__(
        self,
        sequences: InteractionSequences,
        exclude_history: bool = True,
        tie_breaking: str = "pessimistic",
        seed: int = 0,
    ):
        if tie_breaking not in TIE_BREAKING:
            raise ValueError(f"tie_breaking must be one of {TIE_BREAKING}, got {tie_breaking!r}")
        self.sequences = sequences
        self.exclude_history = exclude_history
        self.tie_breaking = tie_breaking
        self.seed = seed

    def history_pairs(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(batch_index, item)`` of every interaction before each of ``rows`` (vectorised)."""
        rows = np.asarray(rows, np.int64)
        starts = self.sequences.user_start[rows]
        lengths = rows - starts
        batch_index = np.repeat(np.arange(len(rows)), lengths)
        offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        return batch_index, self.sequences.items[np.repeat(starts, lengths) + offsets]

    def excluded_history(
        self, rows: np.ndarray, targets: np.ndarray, num_items: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Distinct ``(batch_index, item)`` pairs of the history items removed from each row's
        candidates: real items (not padding / unknown) other than the row's target."""
        batch_index, items = self.history_pairs(rows)
        keep = (items >= NUM_SPECIAL) & (items != np.asarray(targets)[batch_index])
        keys = np.unique(batch_index[keep] * np.int64(num_items) + items[keep])  # a repeated item counts once
        return keys // num_items, keys % num_items

    def _count_competitors(
        self, scores: torch.Tensor, target_scores: torch.Tensor, targets: torch.Tensor,
        excluded: Optional[tuple[torch.Tensor, torch.Tensor]], compare: Callable,
    ) -> torch.Tensor:
        """``[B]`` number of candidates ``c`` with ``compare(scores[c], target score)``: one pass
        over all of ``scores``, minus the non-candidates (padding / unknown, excluded history
        items, the target itself), which are few. Exact integer counts, and ``scores`` is
        neither copied nor modified."""
        counts = compare(scores, target_scores).sum(1)
        special = torch.arange(NUM_SPECIAL, device=scores.device)
        counts -= (compare(scores[:, :NUM_SPECIAL], target_scores) & (special != targets.unsqueeze(1))).sum(1)
        counts -= compare(target_scores, target_scores).squeeze(1).long()
        if excluded is not None:
            batch_index, items = excluded
            hits = compare(scores[batch_index, items], target_scores.squeeze(1)[batch_index])
            counts -= torch.zeros_like(counts).index_add_(0, batch_index, hits.long())
        return counts

    @torch.no_grad()
    def ranks(self, scores: torch.Tensor, targets: torch.Tensor, rows: Optional[torch.Tensor]) -> torch.Tensor:
        """``scores`` ``[B, I]``, ``targets`` ``[B]`` item indices, ``rows`` ``[B]`` held-out rows
        (None: no history masking) -> ``[B]`` int64 ranks (``num_items`` for a NaN score).

        Equal to :meth:`reference_ranks` (tested), without its masked ``[B, I]`` copy: pessimistic
        ranks take one comparison pass over the scores (``>=``), random tie-breaking two."""
        targets = targets.long()
        target_scores = scores.gather(1, targets.unsqueeze(1))
        excluded = None
        if self.exclude_history and rows is not None:
            batch_index, items = self.excluded_history(rows.cpu().numpy(), targets.cpu().numpy(), scores.shape[1])
            excluded = (torch.from_numpy(batch_index).to(scores.device), torch.from_numpy(items).to(scores.device))
        if self.tie_breaking == "pessimistic" or rows is None:
            ranks = self._count_competitors(scores, target_scores, targets, excluded, torch.ge)
        else:
            higher = self._count_competitors(scores, target_scores, targets, excluded, torch.gt)
            ties = self._count_competitors(scores, target_scores, targets, excluded, torch.eq)
            uniform = torch.from_numpy(_uniform_from_rows(rows.cpu().numpy(), self.seed)).to(scores.device)
            ranks = higher + torch.floor(uniform * (ties + 1).double()).long()
        return torch.where(torch.isnan(target_scores.squeeze(1)), scores.shape[1], ranks)

    @torch.no_grad()
    def reference_ranks(self, scores: torch.Tensor, targets: torch.Tensor, rows: Optional[torch.Tensor]) -> torch.Tensor:
        """The straightforward form of :meth:`ranks` (a masked copy of the scores); for tests."""
        scores = scores.float().clone()
        targets = targets.long()
        target_scores = scores.gather(1, targets.unsqueeze(1))
        scores[:, :NUM_SPECIAL] = -torch.inf
        if self.exclude_history and rows is not None:
            batch_index, items = self.history_pairs(rows.cpu().numpy())
            scores[torch.from_numpy(batch_index).to(scores.device), torch.from_numpy(items).to(scores.device)] = -torch.inf
        scores.scatter_(1, targets.unsqueeze(1), -torch.inf)  # the target is not its own competitor
        higher = (scores > target_scores).sum(1)
        ties = (scores == target_scores).sum(1)
        if self.tie_breaking == "pessimistic" or rows is None:
            ranks = higher + ties
        else:
            uniform = torch.from_numpy(_uniform_from_rows(rows.cpu().numpy(), self.seed)).to(scores.device)
            ranks = higher + torch.floor(uniform * (ties + 1).double()).long()
        return torch.where(torch.isnan(target_scores.squeeze(1)), scores.shape[1], ranks)

    def preprocess_logits_for_metrics(self, logits: Any, labels: Any) -> torch.Tensor:
        """For ``Trainer``: ``labels`` is ``(targets, label_rows)``, as ``Trainer`` gathers them by
        default for next-item models (their ``forward`` takes both), or just the targets when
        ``TrainingArguments.label_names=["labels"]`` (then no history masking)."""
        if isinstance(logits, (tuple, list)):
            logits = logits[0]
        if isinstance(labels, (tuple, list)):
            targets, rows = labels[0], labels[1]
        else:
            targets, rows = labels, None
            if self.exclude_history and not getattr(self, "_warned", False):
                logger.warning("evaluation batches carry no label_rows: history items are not masked")
                self._warned = True
        return self.ranks(logits, targets, rows)


def make_ranking_compute_metrics(ks: Sequence[int] = NEXT_ITEM_CUTOFFS) -> Callable:
    """``compute_metrics`` over the ranks ``preprocess_logits_for_metrics`` produced."""

    def compute_metrics(eval_prediction) -> dict[str, float]:
        ranks = np.asarray(eval_prediction.predictions).reshape(-1)
        return ranking_metrics(ranks, ks)

    return compute_metrics


def popularity_ranks(
    data: PreparedData, dataset: datasets.Dataset, ranker: FullRanker, batch_size: int = 1024
) -> np.ndarray:
    """Ranks of the held-out items under the popularity baseline (training interaction
    counts), with the same candidates, masking and tie rule as the models, batch by batch."""
    counts = torch.as_tensor(data.train_item_counts, dtype=torch.float32)
    rows = np.asarray(dataset["row"], np.int64)
    targets = np.asarray(dataset["target"], np.int64)
    out = []
    for start in range(0, len(rows), batch_size):
        batch_rows = torch.from_numpy(rows[start : start + batch_size])
        scores = counts.expand(len(batch_rows), -1)
        out.append(ranker.ranks(scores, torch.from_numpy(targets[start : start + batch_size]), batch_rows))
    return torch.cat(out).numpy() if out else np.zeros(0, np.int64)


class NextItemTask(Task):
    """Next-item models: one training sequence per user, full-ranking evaluation.

    Args:
        data / model: as for every task.
        exclude_history: mask the user's earlier items out of the evaluation candidates.
        tie_breaking: ``"pessimistic"`` (default) or ``"random"``; see the module docstring.
        train_windows: ``"last"`` (each user's most recent ``max_history`` targets, SASRec's
            setting) or ``"all"`` (older windows too, so every training target is used).
        ks: cut-offs of HR/NDCG/MRR.
    """

    name = "next_item"
    baseline_name = "popularity"
    main_metric = "ndcg@10"
    #: evaluation batches carry the held-out row, so the ranking can mask the user's history
    label_names = ["labels", "label_rows"]

    def __init__(
        self,
        data: PreparedData,
        model: torch.nn.Module,
        exclude_history: bool = True,
        tie_breaking: str = "pessimistic",
        train_windows: str = "last",
        ks: Sequence[int] = NEXT_ITEM_CUTOFFS,
    ):
        super().__init__(data, model)
        if train_windows not in ("last", "all"):
            raise ValueError(f"train_windows must be 'last' or 'all', got {train_windows!r}")
        self.train_windows = train_windows
        self.ks = tuple(ks)
        self.ranker = FullRanker(data.sequences, exclude_history, tie_breaking, seed=data.config.seed)
        self._datasets: dict[str, datasets.Dataset] = {}

    @classmethod
    def from_run(cls, run, spec, log, data_config) -> "NextItemTask":
        """:meth:`Task.from_run`, ranking at the run's ``--eval-cutoffs``."""
        task = super().from_run(run, spec, log, data_config)
        task.ks = tuple(run.eval_cutoffs)
        return task

    @classmethod
    def validation_metrics_of(cls, run) -> tuple[str, ...]:
        return (*(f"{name}@{k}" for name in ("hr", "ndcg", "mrr") for k in run.eval_cutoffs), "loss")

    @property
    def max_history(self) -> int:
        return int(self.model.config.max_history)

    def dataset(self, split: str) -> datasets.Dataset:
        dataset = self.data.next_item_dataset(split)
        if split != "train" or self.train_windows == "last":
            return dataset
        if split not in self._datasets:
            sequences = self.data.sequences
            rows = training_window_rows(sequences, np.asarray(dataset["row"]), self.max_history)
            self._datasets[split] = datasets.Dataset.from_dict(
                {"row": rows, "user_index": sequences.users[rows], "target": sequences.items[rows]}
            )
        return self._datasets[split]

    def num_training_targets(self) -> int:
        """(input, target) pairs one training epoch sees."""
        rows = np.asarray(self.dataset("train")["row"], np.int64)
        return int(np.minimum(rows - self.data.sequences.user_start[rows], self.max_history).sum())

    def collator(self, device: Optional[torch.device] = None) -> NextItemCollator:
        # for a GPU keep to a few batch widths (see NextItemCollator); on the CPU every trimmed
        # column is saved work
        multiple = 8 if device is not None and device.type == "cuda" else None
        return NextItemCollator(self.data.sequences, self.max_history, pad_to_multiple_of=multiple,
                                timestamps=self.data.log.has_timestamps)

    def compute_metrics(self, split: str) -> Callable:
        return make_ranking_compute_metrics(self.ks)

    def preprocess_logits_for_metrics(self) -> Callable:
        return self.ranker.preprocess_logits_for_metrics

    def callbacks(self, run=None, args=None, resume_from: Optional[str] = None) -> list[TrainerCallback]:
        """``Trainer`` callbacks this task needs (``run_training`` passes them on)."""
        return [ReleaseFreedMemoryCallback()]

    def baseline_metrics(self, split: str) -> dict[str, float]:
        """Popularity (training counts) ranked over all items for the same users."""
        return ranking_metrics(popularity_ranks(self.data, self.dataset(split), self.ranker), self.ks)


register_task(NextItemTask)


__all__ = [
    "NextItemCollator",
    "NextItemTask",
    "FullRanker",
    "make_ranking_compute_metrics",
    "popularity_ranks",
    "training_window_rows",
    "ReleaseFreedMemoryCallback",
]
