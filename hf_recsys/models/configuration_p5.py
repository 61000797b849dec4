"""P5 configuration."""

from __future__ import annotations

import string
from dataclasses import field
from typing import Any

from transformers import T5Config

from .configuration_utils import check_positive_integers

#: how item IDs can be written as text (``hf_recsys.p5.indexing`` builds each)
P5_ITEM_INDEXINGS = ("random", "sequential", "collaborative", "independent", "cid+iid")
#: the prompt families P5 trains on
P5_TASKS = ("sequential", "yesno", "candidates", "rating")


class P5Config(T5Config):
    r"""Configuration of :class:`P5ForConditionalGeneration` (P5, Geng et al. RecSys 2022):
    recommendation as text-to-text on T5, with P5's whole-word embedding.

    The T5 fields keep their meaning; the defaults describe a small T5 trained from scratch
    (no pretrained checkpoint can be downloaded here). ``vocab_size`` is set from the tokenizer
    trained on the prompt corpus.

    Args:
        num_layers: Transformer blocks of the encoder (T5's own docstring calls it the decoder's).
        num_decoder_layers: Transformer blocks of the decoder (``None``: as many as the encoder).
        num_heads: attention heads of every encoder and decoder block.
        decoder_start_token_id: the token the decoder starts from (T5's: the padding token, 0).
        use_whole_word_embeddings: add P5's whole-word embedding to the token embeddings of
            the encoder input. The k-th user/item ID word of a prompt gets index k on all of its
            sub-word pieces; every other token gets 0 (a zero vector).
        max_whole_words: size of the whole-word table; ID words past ``max_whole_words - 1``
            share the last index.
        whole_word_order: ``"from_end"`` (default) numbers the ID words of a prompt from its
            end, so the most recent history item always gets whole-word index 1;
            ``"from_start"`` is P5's numbering (the k-th ID word from the start gets k), with
            which the index of the most recent item grows with the history length, so a small
            model trained from scratch can memorise users instead of learning transitions.
        embedding_init_std: standard deviation of the initial token and whole-word embeddings;
            ``None`` keeps T5's (``initializer_factor``, i.e. 1.0). T5 pairs that scale with
            Adafactor, whose steps are relative to a weight's scale; with AdamW a rarely seen
            item token moves little from a 1.0-scale start.
        item_indexing: how item IDs were written as text, ``"random"``, ``"sequential"``,
            ``"collaborative"``, ``"independent"`` (one token per item) or ``"cid+iid"``
            (collaborative tokens, then a token of the item's own; Hua et al. 2023); the mapping itself is saved next to the weights in
            ``p5_item_index.json``.
        compact_item_words: write each item of a prompt as its ID token alone, without the
            ``▁`` word-start token that otherwise precedes it (the ID token absorbs the space
            before it and starts a whole word of its own). Only for ``"independent"``
            indexing, where every item is one token; a prompt gets one token shorter per item
            it names.
        max_history: most recent items written into a prompt.
        tasks: prompt families trained on: ``"sequential"``, ``"yesno"``, ``"candidates"``,
            ``"rating"`` (the last only where the log has ratings).
        aux_task_ratio: samples of each non-sequential family per sequential sample.
        num_candidates: length of the candidate list of the ``"candidates"`` family.
        recommend_template: the prompt ``recommend()`` writes; ``{history}`` is replaced by the
            ID words of the history, oldest first.
        recommend_beams: beam width of ``recommend()``'s constrained beam search (at least
            ``k``: a smaller width is raised to ``k``).
        num_clusters: with ``"collaborative"`` / ``"cid+iid"`` indexing, the sub-clusters a
            cluster is split into (recursive spectral clustering of item co-occurrence).
        max_cluster_size: with those indexings, a cluster of more items is split again.
    """

    model_type = "p5"

    vocab_size: int = 4000
    d_model: int = 128
    d_kv: int = 32
    d_ff: int = 512
    num_layers: int = 2
    num_decoder_layers: int | None = 2
    num_heads: int = 4
    dropout_rate: float | int = 0.1
    decoder_start_token_id: int | None = 0
    use_whole_word_embeddings: bool = True
    embedding_init_std: float | None = None
    max_whole_words: int = 64
    whole_word_order: str = "from_end"
    item_indexing: str = "sequential"
    compact_item_words: bool = False
    num_clusters: int = 32
    max_cluster_size: int = 32
    max_history: int = 20
    tasks: list[str] = field(default_factory=lambda: ["sequential", "yesno", "candidates", "rating"])
    aux_task_ratio: float = 0.1
    num_candidates: int = 20
    recommend_template: str = "Purchase history : {history} . What should the user buy next ?"
    recommend_beams: int = 20

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if self.item_indexing not in P5_ITEM_INDEXINGS:
            raise ValueError(f"unknown item_indexing {self.item_indexing!r}; choose from {', '.join(P5_ITEM_INDEXINGS)}")
        tasks = [self.tasks] if isinstance(self.tasks, str) else list(self.tasks)
        unknown = [task for task in tasks if task not in P5_TASKS]
        if unknown or not tasks:
            raise ValueError(f"tasks must be a non-empty list of {', '.join(P5_TASKS)}; got {self.tasks!r}")
        if self.compact_item_words and self.item_indexing != "independent":
            raise ValueError(f"compact_item_words needs item_indexing='independent' (one token per item), not "
                             f"{self.item_indexing!r}")
        check_positive_integers(self, ("num_clusters", "max_cluster_size"))
        # recommend() fills {history} alone: without it every history gets the same answer
        fields = {name for _, name, _, _ in string.Formatter().parse(self.recommend_template) if name is not None}
        if fields != {"history"}:
            raise ValueError(f"recommend_template must hold {{history}} and no other field; got "
                             f"{self.recommend_template!r}")

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs: Any) -> "P5Config":
        # P5 folders saved before ``whole_word_order`` existed were trained with P5's numbering
        if config_dict.get("model_type") == cls.model_type and "whole_word_order" not in config_dict:
            config_dict = {**config_dict, "whole_word_order": "from_start"}
        return super().from_dict(config_dict, **kwargs)
