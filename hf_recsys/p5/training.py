"""The P5 training run: log -> item index -> prompts -> tokenizer -> T5 -> Seq2SeqTrainer ->
constrained-beam-search evaluation -> a folder that loads with the Auto classes.

``run_training`` (what ``scripts/train.py --model p5`` calls) hands P5 runs to
:func:`run_p5_training`. P5 options are config fields, set with ``--set KEY=VALUE``
(``item_indexing``, ``tasks``, ``d_model``, ...). The evaluation's options are
``RunConfig.seq2seq_eval`` (``--eval-users``, ``--eval-valid-every``, ...; see
:class:`~hf_recsys.training.arguments.Seq2SeqEvaluationArguments` and :mod:`.validation`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Optional

import datasets
import numpy as np
import torch
from transformers import (
    AutoTokenizer,
    DataCollatorForSeq2Seq,
    Seq2SeqTrainer,
    Seq2SeqTrainingArguments,
    set_seed,
)
from transformers.trainer_pt_utils import LengthGroupedSampler

from ..data.pipeline import DataConfig, PreparedData, prepare_data
from ..models.configuration_p5 import P5Config
from ..models.modeling_p5 import P5ForConditionalGeneration
from ..training.clock import TrainingClock
from ..training.samplers import SeededLengthGroupedSampler
from .direct_evaluation import evaluate_direct_and_rating
from .evaluation import evaluate_sequential, popularity_metrics
from .indexing import ItemIndex, build_item_index
from .prompts import RECOMMEND_TEMPLATE, SEQUENTIAL_TRAIN, SEQUENTIAL_UNSEEN, tokenize_prompts, training_prompts
from .tokenizer import item_tokens, train_prompt_tokenizer
from .validation import ValidationCallback

logger = logging.getLogger(__name__)

#: options of the evaluation (``RunConfig.seq2seq_eval``), not config fields
EVAL_OPTIONS = ("eval_users", "eval_unseen_template", "eval_exclude_seen", "eval_valid_every", "eval_valid_users",
                "eval_restore_best")


def beauty_recipe(method: str) -> dict[str, Any]:
    """The config fields of the Beauty recipe (``scripts/p5_beauty.py``, and the P5 paths of
    ``scripts/profile_hot_paths.py``) for item indexing ``method``: sequential prompts only, no
    dropout, embeddings started at 0.1, and independent IDs written as one token per item."""
    return {"item_indexing": method, "tasks": ["sequential"], "vocab_size": 8000, "dropout_rate": 0.0,
            "embedding_init_std": 0.1, "compact_item_words": method == "independent"}


class P5Collator:
    """Pads ``input_ids``/``attention_mask``/``labels`` (labels with -100) and drops the rest."""

    model_keys = ("input_ids", "attention_mask", "labels")

    def __init__(self, tokenizer):
        self.pad = DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100)

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        return self.pad([{k: f[k] for k in self.model_keys if k in f} for f in features])


class P5Trainer(Seq2SeqTrainer):
    """``Seq2SeqTrainer`` with two fixes for resuming P5 from a checkpoint.

    * Length-grouped batches in an order that depends only on ``data_seed`` (else ``seed``) and
      the epoch (:class:`~hf_recsys.training.samplers.SeededLengthGroupedSampler`).
    * No "missing keys" warning for the tied copies of the shared embedding (encoder/decoder
      ``embed_tokens``, ``lm_head``), which checkpoints leave out and loading the shared table
      restores; a missing key that is not such a copy still warns.
    """

    def _get_train_sampler(self, train_dataset=None):
        sampler = super()._get_train_sampler(train_dataset)
        if isinstance(sampler, LengthGroupedSampler):
            seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
            return SeededLengthGroupedSampler(sampler.batch_size, sampler.lengths, seed)
        return sampler

    def _issue_warnings_after_load(self, load_result: Any) -> None:
        tied_to = getattr(self.model, "all_tied_weights_keys", None) or {}
        missing = set(load_result.missing_keys)
        restored_by_tying = {key for key in missing if key in tied_to and tied_to[key] not in missing}
        super()._issue_warnings_after_load(load_result._replace(  # torch's (missing, unexpected) namedtuple
            missing_keys=[key for key in load_result.missing_keys if key not in restored_by_tying]))


@dataclass
class P5Setup:
    """Everything a P5 training run builds before training."""

    config: P5Config
    index: ItemIndex
    tokenizer: Any
    model: P5ForConditionalGeneration
    train_prompts: datasets.Dataset
    train_dataset: datasets.Dataset


def build_p5(
    data: PreparedData,
    overrides: Optional[dict[str, Any]] = None,
    seed: int = 0,
    init_from: Optional[str] = None,
) -> P5Setup:
    """Item index, training prompts, tokenizer and model for ``data``.

    Without ``init_from`` the tokenizer is trained on the prompt corpus and the T5 starts from
    scratch (``vocab_size`` in ``overrides`` is the BPE vocabulary size asked for). With
    ``init_from`` (a local T5 checkpoint folder) its tokenizer and weights are used; tokens the
    index needs are added and the embeddings resized; the whole-word embedding starts fresh.
    """
    overrides = dict(overrides or {})
    if init_from is None:
        config = P5Config(**overrides)
    else:  # the checkpoint's T5 sizes, as a P5 config (its model_type would say "t5")
        from ..hub import check_model_source

        config_dict, _ = P5Config.get_config_dict(check_model_source(init_from, "--init-from"))
        for key in ("model_type", "architectures", "auto_map"):
            config_dict.pop(key, None)
        config = P5Config.from_dict(config_dict, **overrides)
    config.recommend_template = overrides.get("recommend_template", RECOMMEND_TEMPLATE)
    if config.compact_item_words and config.item_indexing != "independent":
        raise ValueError(f"compact_item_words needs item_indexing='independent' (one token per item), "
                         f"got {config.item_indexing!r}")
    index = build_item_index(config.item_indexing, data, seed, config.num_clusters, config.max_cluster_size)
    added_tokens = item_tokens(index.added_tokens, absorb_space=config.compact_item_words)
    prompts = training_prompts(
        data, index, config.tasks, config.max_history, config.aux_task_ratio, config.num_candidates, seed
    )
    if init_from is None:
        corpus = _corpus(prompts, index)
        tokenizer = train_prompt_tokenizer(corpus, vocab_size=config.vocab_size, added_tokens=added_tokens)
        config.vocab_size = len(tokenizer)
        model = P5ForConditionalGeneration(config)
    else:
        tokenizer = AutoTokenizer.from_pretrained(init_from)
        if added_tokens:
            tokenizer.add_tokens(added_tokens)
        model = P5ForConditionalGeneration.from_pretrained(init_from, config=config)
        if len(tokenizer) > model.config.vocab_size:
            model.resize_token_embeddings(len(tokenizer))
    model.set_whole_word_tables(tokenizer)
    model.set_item_index(index.items, index.ids, tokenizer)
    train_dataset = tokenize_prompts(prompts, tokenizer)
    return P5Setup(config=model.config, index=index, tokenizer=tokenizer, model=model,
                   train_prompts=prompts, train_dataset=train_dataset)


def _corpus(prompts: datasets.Dataset, index: ItemIndex):
    """Tokenizer training text: prompts, targets and every item ID (so each can be tokenised)."""
    yield from prompts["source"]
    yield from prompts["target"]
    yield from index.ids


def save_p5(folder: str, model: P5ForConditionalGeneration, tokenizer, index: ItemIndex, processor=None) -> None:
    """Write weights, config, tokenizer and item index (and the processor) into ``folder``."""
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    index.save_pretrained(folder)
    if processor is not None:
        processor.save_pretrained(folder)


def run_p5_training(run) -> dict[str, float]:
    """Train and evaluate P5 for a :class:`~hf_recsys.training.run.RunConfig`; save the folder.

    Returns the metrics written to ``output_dir/eval_results.json``: ``eval_hr@5``,
    ``eval_ndcg@5``, ``eval_hr@10``, ``eval_ndcg@10`` (seen template), the same with
    ``eval_unseen_`` (held-out template), and the popularity baseline's on the same users; for
    each trained direct/rating family, its held-out metrics (``eval_yesno_auc``,
    ``eval_candidates_hr@1``, ``eval_rating_rmse``, ...; see :mod:`.direct_evaluation`).
    """
    from ..hub import build_model_card, write_model_card
    from ..models import MODEL_REGISTRY
    from ..training.run import (
        _save_atomically, budget_warmup_fraction, card_training_summary, checkpoint_arguments, init_source_name,
        load_run_log, resolve_checkpoint, trains_on_cpu, write_run_record,
    )
    from ..training.time_budget import apply_time_budget

    resume_from = resolve_checkpoint(run)  # a missing checkpoint or bad option fails before the data is prepared
    config_overrides, eval_options = dict(run.model_overrides), dataclasses.asdict(run.seq2seq_eval)
    set_seed(run.seed)
    started = time.perf_counter()
    log = load_run_log(run)
    data = prepare_data(
        log,
        DataConfig(max_history=run.max_history, implicit_threshold=run.implicit_threshold,
                   user_core=run.user_core, item_core=run.item_core, split=run.split, seed=run.seed),
    )
    config_overrides.setdefault("max_history", min(run.max_history, P5Config.max_history))
    init_source = None
    if run.init_from:
        from ..hub import resolve_model_source

        init_source = resolve_model_source(run.init_from, "--init-from", run.init_revision)
    setup = build_p5(data, config_overrides, run.seed, init_source)
    model, tokenizer, index = setup.model, setup.tokenizer, setup.index
    prep_seconds = time.perf_counter() - started

    args = Seq2SeqTrainingArguments(
        **checkpoint_arguments(run, run.output_dir),
        per_device_train_batch_size=run.batch_size,
        learning_rate=run.learning_rate,
        weight_decay=run.weight_decay,
        warmup_steps=run.warmup_steps if run.warmup_steps else 0.05,  # T5 from scratch needs a warmup
        num_train_epochs=run.epochs,
        max_steps=run.max_steps,
        eval_strategy="no",
        logging_steps=run.logging_steps,
        seed=run.seed,
        data_seed=run.seed,
        bf16=run.bf16,
        fp16=run.fp16,
        use_cpu=trains_on_cpu(run),
        remove_unused_columns=False,
        train_sampling_strategy="group_by_length",  # prompts of similar length share a batch
        dataloader_num_workers=run.dataloader_workers,
        report_to="none",
        disable_tqdm=run.disable_tqdm,
    )
    trainer = P5Trainer(
        model=model, args=args, train_dataset=setup.train_dataset,
        data_collator=P5Collator(tokenizer), processing_class=tokenizer, callbacks=[TrainingClock()],
    )
    if run.time_budget_minutes:
        apply_time_budget(trainer, run.time_budget_minutes, budget_warmup_fraction(run, default=0.05))
    # each prompt holds num_beams beams; 32 was fastest on the CPU, a GPU takes what it is given
    eval_batch = max(1, run.eval_batch_size if args.device.type == "cuda" else min(run.eval_batch_size, 32))
    validation = None
    if eval_options["eval_valid_every"]:
        if args.world_size > 1:  # ranks would pick (and restore) different weights
            raise ValueError("eval_valid_every needs a single process; evaluate the saved folder instead")
        validation = ValidationCallback(tokenizer, data, index, eval_options["eval_valid_every"],
                                        eval_options["eval_valid_users"], eval_options["eval_restore_best"],
                                        eval_batch, run.seed)
        trainer.add_callback(validation)
    tasks = dict(zip(*np.unique(setup.train_prompts["task"], return_counts=True)))
    if trainer.is_world_process_zero():
        print(f"[hf_recsys] {data.summary()}; {len(setup.train_dataset):,} training prompts "
              f"({', '.join(f'{k} {v:,}' for k, v in tasks.items())}); {index.method} item indexing; "
              f"tokenizer of {len(tokenizer):,} tokens; {model.num_parameters():,} parameters")
    if validation and resume_from:
        validation.load_checkpoint(resume_from)
    train_output = trainer.train(resume_from_checkpoint=resume_from)
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]

    metrics: dict[str, Any] = {}
    if trainer.is_world_process_zero():
        model = trainer.model
        seen = evaluate_sequential(model, tokenizer, data, index, "test", SEQUENTIAL_TRAIN, 0,
                                   num_beams=model.config.recommend_beams, batch_size=eval_batch,
                                   max_users=eval_options["eval_users"],
                                   exclude_seen=eval_options["eval_exclude_seen"], seed=run.seed,
                                   disable_progress=run.disable_tqdm)
        metrics.update({f"eval_{k}": v for k, v in seen.items()})
        if eval_options["eval_unseen_template"]:
            unseen = evaluate_sequential(model, tokenizer, data, index, "test", SEQUENTIAL_UNSEEN, 0,
                                         num_beams=model.config.recommend_beams, batch_size=eval_batch,
                                         max_users=eval_options["eval_users"],
                                         exclude_seen=eval_options["eval_exclude_seen"], seed=run.seed,
                                         disable_progress=run.disable_tqdm)
            metrics.update({f"eval_unseen_{k}": v for k, v in unseen.items() if k != "users"})
        direct_families = [t for t in ("yesno", "candidates", "rating") if t in model.config.tasks]
        if direct_families:  # the direct and rating families, on the same held-out interactions
            for prefix, unseen_templates in (("eval_", False), ("eval_unseen_", True)):
                if unseen_templates and not eval_options["eval_unseen_template"]:
                    continue
                direct = evaluate_direct_and_rating(
                    model, tokenizer, data, index, direct_families, "test", unseen_templates,
                    model.config.num_candidates, eval_options["eval_users"], run.seed, eval_batch)
                metrics.update({f"{prefix}{k}": v for k, v in direct.items() if k != "direct_users"})
        baseline = popularity_metrics(data, "test", max_users=eval_options["eval_users"], seed=run.seed)
        metrics.update({f"eval_popularity_{k}": v for k, v in baseline.items()})
        metrics.update({
            "eval_split": "test",
            "item_indexing": index.method,
            # the time of every sitting of a resumed run; the throughput of this one
            **TrainingClock.of(trainer).metrics(),
            "train_steps": train_output.global_step,
            "train_epochs": trainer.state.epoch,
            "train_loss_first": losses[0] if losses else None,
            "train_loss_last": losses[-1] if losses else None,
            "data_prep_s": prep_seconds,
            **(validation.summary() if validation else {}),
        })
        quality = {k: seen[k] for k in ("hr@5", "ndcg@5", "hr@10", "ndcg@10")}
        spec = MODEL_REGISTRY[run.model]
        card = build_model_card(
            model_name=os.path.basename(os.path.abspath(run.output_dir)),
            model_type=spec.name,
            description=spec.description,
            task="next_item",
            dataset_name=log.name,
            data_summary={**data.describe(), "item_indexing": index.method},
            metrics=quality,
            baseline_metrics=baseline,
            baseline_name="popularity",
            repo_id=run.hub_model_id,
            example_items=list(index.items[:3]),
            training_summary={
                **card_training_summary(run, train_output.global_step, resume_from),
                "initialised from": init_source_name(run),
                "weights kept": (f"step {metrics['valid_selected_step']} "
                                 f"({'best validation NDCG@10' if validation.restore_best else 'last'} of "
                                 f"{len(validation.history)} validation evaluations on "
                                 f"{validation.history[0]['users']:,} users)" if validation else None),
                "training prompts": len(setup.train_dataset),
            },
        )

        _save_atomically(
            run.output_dir,
            [
                lambda folder: save_p5(folder, model, tokenizer, index, data.processor),
                lambda folder: write_model_card(card, folder),
                lambda folder: write_run_record(folder, metrics, run, data.config),
            ],
        )
        print(f"\n[hf_recsys] held-out test metrics (p5, {index.method} indexing, {seen['users']:,} users) "
              f"vs popularity:")
        for key in ("hr@5", "ndcg@5", "hr@10", "ndcg@10"):
            unseen_value = metrics.get(f"eval_unseen_{key}")
            extra = f"   unseen template: {unseen_value:.4f}" if unseen_value is not None else ""
            print(f"  {key:>8}: {seen[key]:.4f}   popularity: {baseline[key]:.4f}{extra}")
        for key in sorted(k[len("eval_"):] for k in metrics if k.startswith(("eval_yesno", "eval_candidates", "eval_rating"))):
            unseen_value = metrics.get(f"eval_unseen_{key}")
            extra = f"   unseen template: {unseen_value:.4f}" if unseen_value is not None else ""
            print(f"  {key:>22}: {metrics['eval_' + key]:.4f}{extra}")
        resumed_at = metrics["train_resumed_at_step"]
        sittings = (f" ({metrics['train_sitting_runtime_s']:.0f} s of them in this sitting, from step {resumed_at})"
                    if resumed_at else "")
        print(f"  training: {train_output.global_step} steps in {metrics['train_runtime_s']:.0f} s{sittings}; "
              f"evaluation {seen['eval_seconds']:.0f} s\n")
        if run.push_to_hub:
            from ..hub import push_folder_to_hub

            if not run.hub_model_id:
                raise ValueError("--push-to-hub needs --hub-model-id ORG/NAME")
            url = push_folder_to_hub(run.output_dir, run.hub_model_id, token=run.hub_token,
                                     private=run.hub_private, revision=run.hub_revision)
            print(f"[hf_recsys] pushed to {url}")
    trainer.accelerator.wait_for_everyone()
    return metrics


__all__ = ["run_p5_training", "build_p5", "save_p5", "beauty_recipe", "P5Collator", "P5Setup"]
