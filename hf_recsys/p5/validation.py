"""Validation during long P5 runs: HR/NDCG@K on held-out validation items every few epochs.

A P5 run on a CPU lasts hours, and more epochs are not always better (the training prompts can
be memorised). :class:`ValidationCallback` evaluates the model on a seeded subset of the
*validation* items (the item before each user's test item; the test split stays untouched
until the end) every ``every_epochs`` epochs and at the end of training, records the curve in
the trainer's log history, and, when asked, puts back the weights of the best evaluation
(by validation NDCG@10) before the test evaluation: model selection on validation data, as
RecBole's early stopping does.

Options (``--set`` keys of a P5 run, not config fields): ``eval_valid_every=E`` (epochs; 0 = off),
``eval_valid_users=N`` (default 2,000), ``eval_restore_best=True|False`` (default True).
Each resumable checkpoint carries the curve and the best weights so far, so a run resumed in a
later sitting still chooses among all its evaluations.
"""

from __future__ import annotations

import json
import os
from typing import Any, Optional

import torch
from safetensors.torch import load_file, save_file
from transformers import TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from ..data.pipeline import PreparedData
from .evaluation import evaluate_sequential
from .indexing import ItemIndex

#: the metric that picks the best evaluation
SELECTION_METRIC = "ndcg@10"


class ValidationCallback(TrainerCallback):
    """Evaluates on validation users every ``every_epochs`` epochs and when training ends.

    ``history`` holds one dict per evaluation (``epoch``, ``step``, ``hr@5`` ... ``ndcg@10``,
    ``users``, ``eval_seconds``); the same goes into ``state.log_history`` with a ``valid_``
    prefix. The evaluation runs in eval mode (no dropout) inside a forked RNG, so the training
    that follows draws the same dropout masks and batches as without it. Its time counts
    against ``--time-budget-minutes``.
    """

    #: what a checkpoint folder carries besides Trainer's own files
    STATE_FILE, BEST_WEIGHTS_FILE = "p5_validation.json", "p5_validation_best.safetensors"

    def __init__(self, tokenizer, data: PreparedData, index: ItemIndex, every_epochs: float,
                 max_users: Optional[int] = 2000, restore_best: bool = True, batch_size: int = 32,
                 seed: int = 0):
        if every_epochs <= 0:
            raise ValueError(f"eval_valid_every must be a positive number of epochs, got {every_epochs}")
        self.tokenizer, self.data, self.index = tokenizer, data, index
        self.every_epochs, self.max_users, self.restore_best = float(every_epochs), max_users, restore_best
        self.batch_size, self.seed = batch_size, seed
        self.history: list[dict[str, Any]] = []
        self.best: Optional[dict[str, Any]] = None
        self._best_weights: Optional[dict[str, torch.Tensor]] = None
        self._next_epoch = self.every_epochs

    def _evaluate(self, model, state) -> None:
        was_training = model.training
        model.eval()
        with torch.random.fork_rng(devices=[]):
            metrics = evaluate_sequential(
                model, self.tokenizer, self.data, self.index, "valid", num_beams=model.config.recommend_beams,
                batch_size=self.batch_size, max_users=self.max_users, seed=self.seed, disable_progress=True)
        model.train(was_training)
        entry = {"epoch": round(float(state.epoch or 0.0), 4), "step": state.global_step, **metrics}
        self.history.append(entry)
        state.log_history.append({f"valid_{k}": v for k, v in metrics.items()} | {"epoch": entry["epoch"],
                                                                                   "step": entry["step"]})
        improved = self.best is None or entry[SELECTION_METRIC] > self.best[SELECTION_METRIC]
        if improved:
            self.best = entry
            if self.restore_best:  # a copy on the CPU: a few MB for the small T5s trained here
                self._best_weights = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        print(f"[hf_recsys] validation at epoch {entry['epoch']:.2f} (step {entry['step']}, "
              f"{metrics['users']:,} users): HR@10 {metrics['hr@10']:.4f}  NDCG@10 {metrics['ndcg@10']:.4f}"
              f"{'  (best so far)' if improved else ''}  [{metrics['eval_seconds']:.0f} s]", flush=True)

    def on_save(self, args, state, control, **kwargs):
        folder = os.path.join(args.output_dir, f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}")  # Trainer's own name
        if not os.path.isdir(folder):
            return
        with open(os.path.join(folder, self.STATE_FILE), "w") as f:
            json.dump({"history": self.history, "best": self.best, "next_epoch": self._next_epoch}, f, indent=1)
        if self._best_weights is not None:
            save_file(self._best_weights, os.path.join(folder, self.BEST_WEIGHTS_FILE))

    def load_checkpoint(self, folder: str) -> None:
        """Continue from a checkpoint written by :meth:`on_save` (a resumed run)."""
        path = os.path.join(folder, self.STATE_FILE)
        if not os.path.exists(path):
            return  # saved without validation: the curve starts at the resume
        with open(path) as f:
            saved = json.load(f)
        self.history, self.best, self._next_epoch = saved["history"], saved["best"], saved["next_epoch"]
        weights = os.path.join(folder, self.BEST_WEIGHTS_FILE)
        if self.restore_best and os.path.exists(weights):
            self._best_weights = load_file(weights)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if model is not None and state.epoch is not None and state.epoch >= self._next_epoch - 1e-9:
            while self._next_epoch <= state.epoch + 1e-9:
                self._next_epoch += self.every_epochs
            self._evaluate(model, state)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        if model is None:
            return
        if not self.history or self.history[-1]["step"] != state.global_step:
            self._evaluate(model, state)  # the final weights compete too
        if self.restore_best and self._best_weights is not None and self.best["step"] != state.global_step:
            model.load_state_dict(self._best_weights)
            print(f"[hf_recsys] restored the weights of step {self.best['step']} (epoch {self.best['epoch']:.2f}), "
                  f"the best validation NDCG@10 ({self.best[SELECTION_METRIC]:.4f})", flush=True)

    def summary(self) -> dict[str, Any]:
        """What ``eval_results.json`` records: the curve and the evaluation whose weights were kept."""
        if self.restore_best and self.best is not None:
            selected = self.best["step"]
        else:
            selected = self.history[-1]["step"] if self.history else None
        return {"valid_history": self.history, "valid_selected_step": selected}


__all__ = ["ValidationCallback", "SELECTION_METRIC"]
