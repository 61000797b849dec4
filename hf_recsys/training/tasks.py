"""A task ties a model family to its data, collator, metrics and baseline.

``TASKS[name](data, model)`` gives the train/eval datasets, the collator, the
``compute_metrics`` for ``Trainer``, and the baseline's metrics on the same samples.
New families register with :func:`register_task`.
"""

from __future__ import annotations

from typing import Callable, Optional

import datasets
import numpy as np
import torch

from ..data.pipeline import PreparedData
from .collators import CTRCollator
from .metrics import ctr_metrics, fit_platt, log_loss, make_ctr_compute_metrics, popularity_logits


class Task:
    """Interface of a task; see :class:`CTRTask` for the reference implementation."""

    name = "task"
    baseline_name = "popularity"
    #: the metric used to compare against the baseline when a run finishes
    main_metric = "auc"

    def __init__(self, data: PreparedData, model: torch.nn.Module):
        # a model trained with other vocabularies would read every index as another ID
        data.processor.check_compatible(getattr(model.config, "processor_fingerprint", None), "the model")
        self.data = data
        self.model = model

    def dataset(self, split: str) -> datasets.Dataset:
        raise NotImplementedError

    def collator(self, device: Optional[torch.device] = None) -> Callable:
        """Batches for training on ``device`` (where ``Trainer`` puts the model; None: the CPU)."""
        raise NotImplementedError

    def compute_metrics(self, split: str) -> Callable:
        raise NotImplementedError

    def preprocess_logits_for_metrics(self) -> Optional[Callable]:
        return None

    def baseline_metrics(self, split: str) -> dict[str, float]:
        raise NotImplementedError


class CTRTask(Task):
    """Click-through-rate models: (history, target, label) samples with sampled negatives."""

    name = "ctr"
    main_metric = "auc"

    def dataset(self, split: str) -> datasets.Dataset:
        return self.data.ctr_dataset(split)

    def collator(self, device: Optional[torch.device] = None) -> CTRCollator:
        processor = self.data.processor
        return CTRCollator(
            self.data.sequences,
            self.model.config.max_history,
            user_feature_matrix=processor.user_feature_matrix() if processor.user_feature_vocabs else None,
            # models with an auxiliary loss over sampled non-clicked items (DIEN) ask for them
            negative_history=bool(getattr(self.model, "needs_negative_history", False)),
            num_items=processor.num_items,
            seed=self.data.config.seed,
        )

    def compute_metrics(self, split: str) -> Callable:
        return make_ctr_compute_metrics(np.asarray(self.dataset(split)["user_index"]))

    def baseline_metrics(self, split: str) -> dict[str, float]:
        """Popularity (training count of the target) on the same samples; its logloss uses a
        Platt scaling fitted on the validation samples, never on the split it reports."""
        counts = self.data.train_item_counts
        valid = self.dataset("valid")
        a, b = fit_platt(popularity_logits(counts, valid["target"]), np.asarray(valid["label"]))
        samples = self.dataset(split)
        scores = popularity_logits(counts, samples["target"])
        labels = np.asarray(samples["label"])
        metrics = ctr_metrics(labels, scores, np.asarray(samples["user_index"]))
        metrics["logloss"] = log_loss(labels, 1.0 / (1.0 + np.exp(-(a * scores + b))))
        return metrics


TASKS: dict[str, type[Task]] = {"ctr": CTRTask}


def register_task(task_class: type[Task]) -> None:
    TASKS[task_class.name] = task_class
