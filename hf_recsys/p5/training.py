"""What a P5 run is built from: item index, prompts, tokenizer and T5 (:func:`build_p5`), the
collator, and the folder a trained P5 is saved as (:func:`save_p5`). The run itself is the one
``run_training`` pipeline; :mod:`.task` is P5's part of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import datasets
import torch
from transformers import AutoTokenizer, DataCollatorForSeq2Seq

from ..data.pipeline import PreparedData
from ..models.configuration_p5 import P5Config
from ..models.modeling_p5 import P5ForConditionalGeneration
from .indexing import ItemIndex, build_item_index
from .prompts import RECOMMEND_TEMPLATE, tokenize_prompts, training_prompts
from .tokenizer import item_tokens, train_prompt_tokenizer


class P5Collator:
    """Pads ``input_ids``/``attention_mask``/``labels`` (labels with -100) and drops the rest."""

    model_keys = ("input_ids", "attention_mask", "labels")

    def __init__(self, tokenizer):
        self.pad = DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100)

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        return self.pad([{k: f[k] for k in self.model_keys if k in f} for f in features])


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


__all__ = ["build_p5", "save_p5", "P5Collator", "P5Setup"]
