"""The ``"seq2seq"`` task: how ``run_training`` trains, evaluates and saves P5.

``scripts/train.py --model p5`` runs the one pipeline of :mod:`hf_recsys.training.run`; this
task supplies P5's parts: the item index, prompts, tokenizer and T5 (:func:`.training.build_p5`),
length-grouped batches of prompts, validation during training (:mod:`.validation`),
constrained-beam-search evaluation on the test users next to popularity, and a folder holding
the tokenizer and item index beside the weights.

P5 options are config fields, set with ``--set KEY=VALUE`` (``item_indexing``, ``tasks``,
``d_model``, ...). The evaluation's options are the typed fields of ``RunConfig.seq2seq_eval``
(:class:`~hf_recsys.training.arguments.Seq2SeqEvaluationArguments`: ``--eval-users``,
``--eval-valid-every``, ...; validation during training is :mod:`.validation`).

Importing this module registers the task (``hf_recsys/__init__.py`` does).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Optional

import datasets
import numpy as np
import torch

from ..data.log import InteractionLog
from ..data.pipeline import DataConfig, PreparedData, prepare_data
from ..models import ModelSpec
from ..models.configuration_p5 import P5Config
from ..training.arguments import Seq2SeqEvaluationArguments
from ..training.tasks import Evaluation, Task, init_source_name, register_task
from .direct_evaluation import evaluate_direct_and_rating
from .evaluation import evaluate_sequential, evaluation_rows, popularity_metrics
from .prompts import SEQUENTIAL_TRAIN, SEQUENTIAL_UNSEEN
from .training import P5Collator, P5Setup, build_p5, save_p5
from .validation import ValidationCallback

if TYPE_CHECKING:
    from transformers import Trainer, TrainingArguments

    from ..training.run import RunConfig

#: the evaluation options and their defaults (``RunConfig.seq2seq_eval``), not config fields
EVAL_OPTIONS = {f.name: f.default for f in dataclasses.fields(Seq2SeqEvaluationArguments)}
#: the held-out metrics of the sequential evaluation (the card's and the summary's)
SEQUENTIAL_METRICS = ("hr@5", "ndcg@5", "hr@10", "ndcg@10")
#: the prompt families evaluated by :func:`~.direct_evaluation.evaluate_direct_and_rating`
DIRECT_FAMILIES = ("yesno", "candidates", "rating")


def run_options(run: "RunConfig") -> tuple[dict[str, Any], dict[str, Any]]:
    """``run`` -> (P5 config fields from ``--set``, evaluation options from the typed
    ``run.seq2seq_eval`` fields, which ``RunConfig`` has already checked). The one place that reads them."""
    return dict(run.model_overrides), dataclasses.asdict(run.seq2seq_eval)


class P5Task(Task):
    """P5 (text-to-text on T5): prompts in, item IDs out; evaluated by constrained beam search.

    Metrics (``eval_results.json``): ``eval_hr@5``, ``eval_ndcg@5``, ``eval_hr@10``,
    ``eval_ndcg@10`` (seen template), the same with ``eval_unseen_`` (held-out template), and
    the popularity baseline's on the same users; for each trained direct/rating family, its
    held-out metrics (``eval_yesno_auc``, ``eval_candidates_hr@1``, ``eval_rating_rmse``, ...;
    see :mod:`.direct_evaluation`); ``valid_history`` / ``valid_selected_step`` with validation.
    """

    name = "seq2seq"
    family = "p5"
    main_metric = "ndcg@10"
    evaluates_in_trainer = False  # beam search over users, after training (and in ValidationCallback)
    validation_metrics = ()
    validation_hint = "p5 validates with --eval-valid-every E, which keeps the best validation weights"
    budget_warmup = 0.05  # T5 from scratch needs a warmup

    def __init__(self, data: PreparedData, setup: P5Setup, eval_options: Optional[dict[str, Any]] = None):
        super().__init__(data, setup.model)
        self.setup, self.tokenizer, self.index = setup, setup.tokenizer, setup.index
        self.eval_options = dict(EVAL_OPTIONS, **(eval_options or {}))
        self.validation: Optional[ValidationCallback] = None
        self.eval_batch = 32
        self._seen: dict[str, Any] = {}

    # ------------------------------------------------------------------ before training
    @classmethod
    def check_run(cls, run: "RunConfig") -> None:
        run_options(run)

    @classmethod
    def from_run(cls, run: "RunConfig", spec: ModelSpec, log: InteractionLog, data_config: DataConfig) -> "P5Task":
        """Item index, prompts, tokenizer and T5 for the prepared log; with ``run.init_from`` (a
        T5 folder or Hub id) its tokenizer and weights are the start."""
        config_overrides, eval_options = run_options(run)
        data = prepare_data(log, data_config)
        config_overrides.setdefault("max_history", min(run.max_history, P5Config.max_history))
        init_source = None
        if run.init_from:
            from ..hub import resolve_model_source

            init_source = resolve_model_source(run.init_from, "--init-from", run.init_revision)
        return cls(data, build_p5(data, config_overrides, run.seed, init_source), eval_options)

    def training_arguments(self, run: "RunConfig") -> dict[str, Any]:
        return {
            "warmup_steps": run.warmup_steps if run.warmup_steps else 0.05,  # T5 from scratch needs a warmup
            "train_sampling_strategy": "group_by_length",  # prompts of similar length share a batch
        }

    def dataset(self, split: str) -> datasets.Dataset:
        if split != "train":
            raise ValueError(f"P5 evaluates {split!r} users by beam search (evaluate_sequential), not a Trainer dataset")
        return self.setup.train_dataset

    def collator(self, device: Optional[torch.device] = None) -> P5Collator:
        return P5Collator(self.tokenizer)

    def processing_class(self) -> Any:
        return self.tokenizer

    def callbacks(self, run: Optional["RunConfig"] = None, args: Optional["TrainingArguments"] = None,
                  resume_from: Optional[str] = None) -> list:
        """With ``eval_valid_every``, the :class:`~.validation.ValidationCallback` (carrying on
        from ``resume_from``'s curve and best weights)."""
        if run is not None and args is not None:
            # each prompt holds num_beams beams; 32 was fastest on the CPU, a GPU takes what it is given
            self.eval_batch = max(1, run.eval_batch_size if args.device.type == "cuda" else min(run.eval_batch_size, 32))
        options = self.eval_options
        if not options["eval_valid_every"]:
            return []
        if args is not None and args.world_size > 1:  # ranks would pick (and restore) different weights
            raise ValueError("eval_valid_every needs a single process; evaluate the saved folder instead")
        self.validation = ValidationCallback(self.tokenizer, self.data, self.index, options["eval_valid_every"],
                                             options["eval_valid_users"], options["eval_restore_best"],
                                             self.eval_batch, self.data.config.seed)
        if resume_from:
            self.validation.load_checkpoint(resume_from)
        return [self.validation]

    def describe(self, log: InteractionLog) -> str:
        prompts = self.setup.train_prompts
        tasks = dict(zip(*np.unique(prompts["task"], return_counts=True)))
        return (f"[hf_recsys] {self.data.summary()}; {len(self.setup.train_dataset):,} training prompts "
                f"({', '.join(f'{k} {v:,}' for k, v in tasks.items())}); {self.index.method} item indexing; "
                f"tokenizer of {len(self.tokenizer):,} tokens; {self.model.num_parameters():,} parameters")

    # ------------------------------------------------------------------ after training
    def baseline_metrics(self, split: str) -> dict[str, float]:
        """Popularity's HR/NDCG@K on the same (seeded subset of) users."""
        return popularity_metrics(self.data, split, max_users=self.eval_options["eval_users"], seed=self.data.config.seed,
                                  exclude_seen=self.eval_options["eval_exclude_seen"])

    def evaluate(self, trainer: "Trainer", run: "RunConfig") -> Evaluation:
        """Beam search on the test users (main process only: the others return nothing)."""
        if not trainer.is_world_process_zero():
            return Evaluation()
        model, options, seed = trainer.model, self.eval_options, run.seed
        metrics: dict[str, Any] = {}
        direct_families = [t for t in DIRECT_FAMILIES if t in model.config.tasks]
        if run.disable_tqdm:  # no progress bar says that the run is now testing, and how
            users = len(evaluation_rows(self.data, "test", options["eval_users"], seed))
            templates = "the training and an unseen prompt template" if options["eval_unseen_template"] else "its prompt template"
            print(f"[hf_recsys] testing: beam search ({model.config.recommend_beams} beams) for {users:,} users with "
                  f"{templates}" + (f", then the {', '.join(direct_families)} prompts" if direct_families else ""),
                  flush=True)

        def sequential(template: str) -> dict[str, Any]:
            return evaluate_sequential(model, self.tokenizer, self.data, self.index, "test", template, 0,
                                       num_beams=model.config.recommend_beams, batch_size=self.eval_batch,
                                       max_users=options["eval_users"], exclude_seen=options["eval_exclude_seen"],
                                       seed=seed, disable_progress=run.disable_tqdm)

        seen = self._seen = sequential(SEQUENTIAL_TRAIN)
        metrics.update({f"eval_{k}": v for k, v in seen.items()})
        if options["eval_unseen_template"]:
            metrics.update({f"eval_unseen_{k}": v for k, v in sequential(SEQUENTIAL_UNSEEN).items() if k != "users"})
        if direct_families:  # the direct and rating families, on the same held-out interactions
            for prefix, unseen_templates in (("eval_", False), ("eval_unseen_", True)):
                if unseen_templates and not options["eval_unseen_template"]:
                    continue
                direct = evaluate_direct_and_rating(
                    model, self.tokenizer, self.data, self.index, direct_families, "test", unseen_templates,
                    model.config.num_candidates, options["eval_users"], seed, self.eval_batch)
                metrics.update({f"{prefix}{k}": v for k, v in direct.items() if k != "direct_users"})
        baseline = popularity_metrics(self.data, "test", max_users=options["eval_users"], seed=seed,
                                      exclude_seen=options["eval_exclude_seen"])
        metrics.update({f"eval_{self.baseline_name}_{k}": v for k, v in baseline.items()})
        losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
        metrics.update({
            "item_indexing": self.index.method,
            "train_loss_first": losses[0] if losses else None,
            "train_loss_last": losses[-1] if losses else None,
            **(self.validation.summary() if self.validation else {}),
        })
        return Evaluation(metrics=metrics, quality={k: seen[k] for k in SEQUENTIAL_METRICS}, baseline=baseline)

    def card_fields(self, run: "RunConfig", metrics: dict[str, Any]) -> dict[str, Any]:
        validation = self.validation
        kept = None
        if validation:
            kept = (f"step {metrics['valid_selected_step']} "
                    f"({'best validation NDCG@10' if validation.restore_best else 'last'} of "
                    f"{len(validation.history)} validation evaluations on {validation.history[0]['users']:,} users)")
        return {
            "task": "next_item",  # the card describes what P5 is used for: recommending the next item
            "data_summary": {**self.data.describe(), "item_indexing": self.index.method},
            "example_items": list(self.index.items[:3]),
            "training": {"initialised from": init_source_name(run), "weights kept": kept,
                         "training prompts": len(self.setup.train_dataset)},
            "protocol": self.protocol(metrics),
        }

    def protocol(self, metrics: dict[str, Any]) -> tuple[str, str]:
        """How the card's metrics were computed: P5 ranks by beam search, not over every item."""
        options = self.eval_options
        users = (f"a seeded subset of {metrics['eval_users']:,} test users" if options["eval_users"]
                 else "every test user")
        seen = ("every earlier item of the user is excluded (--eval-exclude-seen)" if options["eval_exclude_seen"]
                else "items of the user's history are not excluded, as in the P5 paper")
        return (f"{{held_out}} the held-out targets, and the model's top K are the best K of a constrained beam "
                f"search with {self.model.config.recommend_beams} beams over the item index, prompted with the first "
                f"training template ({seen}); HR and NDCG at cut-off K on {users}; the popularity list is masked in "
                f"the same way", "beam search top-K, {split}")

    def writers(self, trainer: "Trainer") -> list:
        """Weights, config, tokenizer, item index and processor."""
        return [lambda folder: save_p5(folder, trainer.model, self.tokenizer, self.index, self.data.processor)]

    def print_summary(self, model_name: str, evaluation: Evaluation, metrics: dict[str, Any]) -> None:
        seen, baseline = self._seen, evaluation.baseline
        print(f"\n[hf_recsys] held-out test metrics ({model_name}, {self.index.method} indexing, {seen['users']:,} users) "
              f"vs {self.baseline_name}:")
        for key in SEQUENTIAL_METRICS:
            unseen_value = metrics.get(f"eval_unseen_{key}")
            extra = f"   unseen template: {unseen_value:.4f}" if unseen_value is not None else ""
            print(f"  {key:>8}: {seen[key]:.4f}   {self.baseline_name}: {baseline[key]:.4f}{extra}")
        for key in sorted(k[len("eval_"):] for k in metrics if k.startswith(tuple(f"eval_{f}" for f in DIRECT_FAMILIES))):
            unseen_value = metrics.get(f"eval_unseen_{key}")
            extra = f"   unseen template: {unseen_value:.4f}" if unseen_value is not None else ""
            print(f"  {key:>22}: {metrics['eval_' + key]:.4f}{extra}")
        resumed_at = metrics["train_resumed_at_step"]
        sittings = (f" ({metrics['train_sitting_runtime_s']:.0f} s of them in this sitting, from step {resumed_at})"
                    if resumed_at else "")
        print(f"  training: {metrics['train_steps']} steps in {metrics['train_runtime_s']:.0f} s{sittings}; "
              f"evaluation {seen['eval_seconds']:.0f} s\n")

    @classmethod
    def evaluation_speed(cls, metrics: dict[str, Any]) -> dict[str, Any]:
        users, seconds = metrics.get("eval_users"), metrics.get("eval_eval_seconds")
        return {"eval_per_s": users / seconds if users and seconds else None, "eval_runtime_s": seconds,
                "eval_users": users, "train_steps": metrics.get("train_steps")}


register_task(P5Task)


__all__ = ["P5Task", "EVAL_OPTIONS", "run_options"]
