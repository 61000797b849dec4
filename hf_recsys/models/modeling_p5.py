"""P5 (Geng et al., "Recommendation as Language Processing (RLP): A Unified Pretrain,
Personalized Prompt & Predict Paradigm (P5)", RecSys 2022) on ``T5ForConditionalGeneration``.

Every task is a prompt in and text out. Users and items appear in prompts as ID words
(``user_17``, ``1024``, or collaborative-index tokens), which the tokenizer splits into
sub-word pieces; P5's *whole-word embedding* tells the model which pieces form one ID by adding
an embedding of "the k-th ID word of this prompt" to each of its pieces' token embeddings. The
sum is passed to the standard T5 encoder as ``inputs_embeds``, in training and in
``generate()`` alike. By default ID words are counted from the end of the prompt
(``config.whole_word_order="from_end"``), so the most recent history item always carries the
same whole-word embedding; P5's count from the start made that index depend on the history
length, and a small T5 from scratch then memorised users instead of learning transitions.

Whole-word IDs are computed inside the model from ``input_ids`` (two boolean tables over the
vocabulary, saved with the weights: does a token start a word, does it contain a digit), so a
caller cannot forget them at inference, which the original P5 evaluation did. A word is a token
starting with the SentencePiece/Metaspace marker ``▁`` (or a special token) plus the tokens
that follow it until the next word start; an ID word is a word with a digit in it. Prompt
templates therefore contain no digits.

Recommendation is constrained beam search: a prefix trie over the tokenised item IDs gives the
allowed next tokens (``ItemTrie.prefix_allowed_tokens_fn`` for ``generate()``, or the same rule
batched in :class:`TrieLogitsProcessor`), so only valid item IDs are generated; the ``num_beams`` finished
hypotheses are distinct token sequences and therefore distinct items; ranking uses the summed
log-probability of each ID (``length_penalty=0``), so IDs of different token lengths compete
fairly. Items can be excluded per row (e.g. the history): a trie branch is closed for a row
once all of its items are excluded for that row, so no beam is wasted on them.
"""

from __future__ import annotations

import json
import math
from typing import Any, Optional, Sequence

import torch
from torch import nn

from transformers import LogitsProcessor, LogitsProcessorList, T5ForConditionalGeneration
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutput, Seq2SeqLMOutput

from .configuration_p5 import P5Config
from .modeling_utils import FastDropout, check_top_k, cold_histories
from .processing_recsys import RecsysProcessor, check_histories

#: the file, next to the weights, that maps raw item IDs to the ID text the model writes
ITEM_INDEX_FILE = "p5_item_index.json"
WORD_START = "\u2581"  # SentencePiece / Metaspace word-start marker


# --------------------------------------------------------------------------- whole-word IDs
def compute_whole_word_ids(
    input_ids: torch.Tensor,
    token_starts_word: torch.Tensor,
    token_is_id_piece: torch.Tensor,
    max_whole_words: int,
    from_end: bool = False,
) -> torch.Tensor:
    """Whole-word IDs of a batch of prompts.

    Args:
        input_ids: ``[B, L]`` token IDs.
        token_starts_word: ``[V]`` bool, True for tokens that begin a new word.
        token_is_id_piece: ``[V]`` bool, True for tokens that contain a digit.
        max_whole_words: size of the whole-word table.
        from_end: count ID words from the end of the prompt (the last ID word is 1) instead
            of from its start (P5's numbering). From the end, the most recent history item
            always gets the same embedding, whatever the history length; from the start its
            index grows with the history, which lets a small model memorise (user, length)
            instead of learning item-to-item transitions (see the P5 tests).

    Returns:
        ``[B, L]`` int64: ``k`` on every piece of the k-th ID word (1-based, capped at
        ``max_whole_words - 1``), 0 on all other tokens (template words, padding, ``</s>``).
    """
    starts = token_starts_word[input_ids]
    word_index = starts.long().cumsum(1)  # 0 for pieces before the first word start
    pieces = token_is_id_piece[input_ids].long()
    # does any piece of word w contain a digit? one scatter over the word indices
    word_has_digit = torch.zeros(input_ids.shape[0], input_ids.shape[1] + 1, dtype=torch.long, device=input_ids.device)
    word_has_digit.scatter_reduce_(1, word_index, pieces, reduce="amax")
    in_id_word = word_has_digit.gather(1, word_index).bool() & (word_index > 0)
    ordinal = (starts & in_id_word).long().cumsum(1)
    if from_end:
        ordinal = ordinal[:, -1:] - ordinal + 1
    return torch.where(in_id_word, ordinal.clamp(max=max_whole_words - 1), 0)


def whole_word_tables(tokenizer: Any, vocab_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(token_starts_word, token_is_id_piece)``, both ``[vocab_size]`` bool, from a tokenizer's
    vocabulary. Special tokens start a word of their own and are never ID pieces. An added
    token that absorbs the space before it (``lstrip``, see ``P5Config.compact_item_words``)
    starts a word too: it stands where ``▁`` + token would."""
    starts = torch.zeros(vocab_size, dtype=torch.bool)
    digits = torch.zeros(vocab_size, dtype=torch.bool)
    special = set(getattr(tokenizer, "all_special_ids", []))
    absorbs_space = {index for index, added in getattr(tokenizer, "added_tokens_decoder", {}).items()
                     if getattr(added, "lstrip", False)}
    for token, index in tokenizer.get_vocab().items():
        if index >= vocab_size:
            continue
        if index in special:
            starts[index] = True
            continue
        starts[index] = token.startswith(WORD_START) or index in absorbs_space
        digits[index] = any(ch.isdigit() for ch in token)
    return starts, digits


# --------------------------------------------------------------------------- item trie
class ItemTrie:
    """A prefix trie over the token sequences of item IDs (each ending with ``</s>``).

    ``allowed(prefix)`` gives the tokens that continue a valid item ID after ``prefix``;
    ``item_of(tokens)`` maps a complete sequence back to its item position. Each node counts
    the items below it, so per-row exclusions close branches whose items are all excluded.
    """

    def __init__(self, sequences: Sequence[Sequence[int]]):
        self.children: list[dict[int, int]] = [{}]
        self.count: list[int] = [0]
        self.item_at: list[int] = [-1]
        self.paths: list[list[int]] = []  # nodes visited by each item (root excluded)
        for item, tokens in enumerate(sequences):
            node, path = 0, []
            self.count[0] += 1
            for token in tokens:
                child = self.children[node].get(token)
                if child is None:
                    child = len(self.children)
                    self.children[node][token] = child
                    self.children.append({})
                    self.count.append(0)
                    self.item_at.append(-1)
                self.count[child] += 1
                node = child
                path.append(node)
            if self.item_at[node] != -1:
                raise ValueError(f"items {self.item_at[node]} and {item} have the same token sequence")
            if self.children[node]:
                raise ValueError(f"item {item}'s token sequence does not end the ID (missing </s>?)")
            self.item_at[node] = item
            self.paths.append(path)
        self.max_length = max((len(p) for p in self.paths), default=0)

    def __len__(self) -> int:
        return len(self.paths)

    def walk(self, tokens: Sequence[int]) -> Optional[int]:
        """The node reached by ``tokens`` from the root, or None if no item ID starts so."""
        node = 0
        for token in tokens:
            node = self.children[node].get(token)
            if node is None:
                return None
        return node

    def excluded_counts(self, items: Sequence[int]) -> dict[int, int]:
        """Per node, how many of ``items`` (distinct item positions) lie below it."""
        counts: dict[int, int] = {}
        for item in set(items):
            for node in self.paths[item]:
                counts[node] = counts.get(node, 0) + 1
        return counts

    def allowed(self, node: int, excluded: Optional[dict[int, int]] = None) -> list[int]:
        children = self.children[node]
        if not excluded:
            return list(children)
        return [t for t, c in children.items() if self.count[c] > excluded.get(c, 0)]

    def prefix_allowed_tokens_fn(self, eos_token_id: int, excluded: Optional[Sequence[Optional[dict[int, int]]]] = None):
        """A ``prefix_allowed_tokens_fn`` for ``generate()``: ``fn(batch_id, sent)`` gives the
        tokens that continue a valid item ID after the decoder sequence ``sent`` (its first token
        is the decoder start token). :class:`TrieLogitsProcessor` does the same, batched."""

        def allowed(batch_id: int, sent: torch.Tensor) -> list[int]:
            node = self.walk(sent.tolist()[1:])
            row_excluded = excluded[batch_id] if excluded else None
            return (self.allowed(node, row_excluded) if node is not None else []) or [eos_token_id]

        return allowed

    def item_of(self, tokens: Sequence[int]) -> int:
        """Item position of a generated sequence (stops at the first leaf), -1 if invalid."""
        node = 0
        for token in tokens:
            node = self.children[node].get(token)
            if node is None:
                return -1
            if self.item_at[node] >= 0:
                return self.item_at[node]
        return -1


class TrieLogitsProcessor(LogitsProcessor):
    """Masks every token that does not continue a valid (and, per row, not excluded) item ID.

    What ``generate(prefix_allowed_tokens_fn=trie.prefix_allowed_tokens_fn(...))`` does, but
    batched: the beams are mapped to trie nodes, one boolean vocabulary mask is built per
    distinct (node, row exclusions) and cached for the whole ``generate`` call, and the scores
    are masked in one ``masked_fill``. transformers' processor indexes a mask once per beam
    with a Python list of allowed tokens; at the root that list is most of the vocabulary, so
    for a small model that indexing dominates a beam-search step.

    Args:
        trie: the item trie.
        num_beams: beams per prompt (rows ``b * num_beams ... (b + 1) * num_beams - 1`` belong
            to prompt ``b``).
        eos_token_id: allowed alone where nothing else is (a dead beam, score -inf, just ends).
        excluded: per prompt, the output of :meth:`ItemTrie.excluded_counts` (or None).
    """

    def __init__(self, trie: ItemTrie, num_beams: int, eos_token_id: int,
                 excluded: Optional[Sequence[Optional[dict[int, int]]]] = None):
        self.trie = trie
        self.num_beams = num_beams
        self.eos_token_id = eos_token_id
        self.excluded = excluded
        self._masks: dict[tuple[Optional[int], int], torch.Tensor] = {}

    def _mask(self, key: tuple[Optional[int], int], vocab_size: int, device: torch.device) -> torch.Tensor:
        mask = self._masks.get(key)
        if mask is None:
            node, prompt = key
            tokens = self.trie.allowed(node, self.excluded[prompt] if prompt >= 0 else None) if node is not None else []
            mask = torch.zeros(vocab_size, dtype=torch.bool, device=device)
            mask[tokens or [self.eos_token_id]] = True
            self._masks[key] = mask
        return mask

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        keys: dict[tuple[Optional[int], int], int] = {}
        rows = []
        for row, prefix in enumerate(input_ids[:, 1:].tolist()):  # drop the decoder start token
            prompt = row // self.num_beams
            key = (self.trie.walk(prefix), prompt if self.excluded and self.excluded[prompt] else -1)
            rows.append(keys.setdefault(key, len(keys)))
        masks = torch.stack([self._mask(key, scores.shape[-1], scores.device) for key in keys])
        allowed = masks[torch.tensor(rows, device=scores.device)]
        return scores.masked_fill(~allowed, -math.inf)


# --------------------------------------------------------------------------- model
class P5ForConditionalGeneration(T5ForConditionalGeneration):
    """T5 with P5's whole-word embedding, item-constrained generation and ``recommend()``.

    Inputs are those of T5 (``input_ids`` ``[B, L]``, ``attention_mask`` ``[B, L]``,
    ``labels`` ``[B, T]`` with -100 at padding) plus optional ``whole_word_ids`` ``[B, L]``;
    when omitted they are computed from ``input_ids``. Output: ``Seq2SeqLMOutput`` with
    ``logits`` ``[B, T, vocab]`` and the token cross-entropy ``loss``.
    """

    config_class = P5Config
    # our loss is T5's token mean; Trainer must scale it for gradient accumulation
    accepts_loss_kwargs = False

    def __init__(self, config: P5Config):
        super().__init__(config)
        if getattr(config, "whole_word_order", "from_start") not in ("from_start", "from_end"):
            raise ValueError(f"whole_word_order must be 'from_start' or 'from_end', got {config.whole_word_order!r}")
        self.whole_word_embeddings = nn.Embedding(config.max_whole_words, config.d_model, padding_idx=0)
        self.register_buffer("token_starts_word", torch.zeros(config.vocab_size, dtype=torch.bool))
        self.register_buffer("token_is_id_piece", torch.zeros(config.vocab_size, dtype=torch.bool))
        # nn.Dropout's Bernoulli sampling dominates a small T5's step on CPU (see FastDropout)
        for parent in list(self.modules()):
            for name, child in list(parent.named_children()):
                if isinstance(child, nn.Dropout):
                    setattr(parent, name, FastDropout(child.p))
        self._item_trie: Optional[ItemTrie] = None
        self._item_ids: Optional[list[str]] = None
        self._item_texts: Optional[list[str]] = None
        self._tokenizer: Any = None
        # T5's own post_init() already marked this module initialised, before the whole-word
        # table existed: clear the mark so that _init_weights below runs for the whole model
        self._is_hf_initialized = False
        self.post_init()

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, P5ForConditionalGeneration) and hasattr(module, "whole_word_embeddings"):
            std = getattr(self.config, "embedding_init_std", None)
            if std is not None:
                init.normal_(module.shared.weight, mean=0.0, std=std)
            else:
                std = self.config.initializer_factor * 1.0
            init.normal_(module.whole_word_embeddings.weight, mean=0.0, std=std)
            init.zeros_(module.whole_word_embeddings.weight[0])

    def save_pretrained(self, save_directory: Any, *args: Any, **kwargs: Any) -> Any:
        """``PreTrainedModel.save_pretrained``; the saved ``auto_map`` also names this class for
        ``AutoModelForSeq2SeqLM`` (registration gives a class one auto class only, AutoModel),
        so ``AutoModelForSeq2SeqLM.from_pretrained(folder, trust_remote_code=True)`` works
        where hf_recsys is not installed."""
        if self._auto_class is not None:
            module = type(self).__module__.rsplit(".", 1)[-1]
            self.config.auto_map = {**(getattr(self.config, "auto_map", None) or {}),
                                    "AutoModelForSeq2SeqLM": f"{module}.{type(self).__name__}"}
        return super().save_pretrained(save_directory, *args, **kwargs)

    # ------------------------------------------------------------------ embeddings
    def set_whole_word_tables(self, tokenizer: Any) -> None:
        """Install the word-start / ID-piece tables of ``tokenizer`` (once, before training)."""
        starts, digits = whole_word_tables(tokenizer, self.config.vocab_size)
        # assigning replaces the buffers, so a resized vocabulary works too
        self.token_starts_word = starts.to(self.token_starts_word.device)
        self.token_is_id_piece = digits.to(self.token_is_id_piece.device)

    def whole_word_ids(self, input_ids: torch.Tensor) -> torch.Tensor:
        """``[B, L]`` whole-word IDs of ``input_ids`` ``[B, L]`` (see :func:`compute_whole_word_ids`)."""
        return compute_whole_word_ids(
            input_ids, self.token_starts_word, self.token_is_id_piece, self.config.max_whole_words,
            from_end=getattr(self.config, "whole_word_order", "from_start") == "from_end",
        )

    def embed_prompt(self, input_ids: torch.Tensor, whole_word_ids: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Token embeddings plus whole-word embeddings: ``[B, L]`` -> ``[B, L, d_model]``."""
        embedded = self.shared(input_ids)
        if self.config.use_whole_word_embeddings:
            if whole_word_ids is None:
                whole_word_ids = self.whole_word_ids(input_ids)
            embedded = embedded + self.whole_word_embeddings(whole_word_ids)
        return embedded

    def forward(
        self,
        input_ids: Optional[torch.LongTensor] = None,
        attention_mask: Optional[torch.Tensor] = None,
        whole_word_ids: Optional[torch.LongTensor] = None,
        decoder_input_ids: Optional[torch.LongTensor] = None,
        decoder_attention_mask: Optional[torch.BoolTensor] = None,
        encoder_outputs: Optional[tuple] = None,
        inputs_embeds: Optional[torch.Tensor] = None,
        decoder_inputs_embeds: Optional[torch.Tensor] = None,
        labels: Optional[torch.LongTensor] = None,
        use_cache: Optional[bool] = None,
        **kwargs: Any,
    ) -> Seq2SeqLMOutput:
        # the decoder cache travels in kwargs, under the name the installed transformers uses
        # (past_key_values in early 5.x releases, cache in later ones)
        if encoder_outputs is None and inputs_embeds is None and input_ids is not None:
            inputs_embeds = self.embed_prompt(input_ids, whole_word_ids)
            input_ids = None
        return super().forward(
            input_ids=input_ids,
            attention_mask=attention_mask,
            decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask,
            encoder_outputs=encoder_outputs,
            inputs_embeds=inputs_embeds,
            decoder_inputs_embeds=decoder_inputs_embeds,
            labels=labels,
            use_cache=use_cache,
            **kwargs,
        )

    @torch.no_grad()
    def generate(
        self,
        inputs: Optional[torch.Tensor] = None,
        whole_word_ids: Optional[torch.Tensor] = None,
        attention_mask: Optional[torch.Tensor] = None,
        **kwargs: Any,
    ):
        """``GenerationMixin.generate`` with the prompt encoded through :meth:`embed_prompt`.

        The encoder runs here, once, on token + whole-word embeddings; beam search then reuses
        its output (``encoder_outputs``), so whole-word IDs hold for every decoding strategy.
        """
        input_ids = inputs if inputs is not None else kwargs.pop("input_ids", None)
        if input_ids is not None and kwargs.get("encoder_outputs") is None:
            if attention_mask is None:
                attention_mask = (input_ids != self.config.pad_token_id).long()
            encoder_outputs = self.encoder(
                inputs_embeds=self.embed_prompt(input_ids, whole_word_ids), attention_mask=attention_mask
            )
            kwargs["encoder_outputs"] = BaseModelOutput(last_hidden_state=encoder_outputs.last_hidden_state)
        return super().generate(input_ids, attention_mask=attention_mask, **kwargs)

    # ------------------------------------------------------------------ items
    def set_item_index(self, item_ids: Sequence[str], item_texts: Sequence[str], tokenizer: Any) -> None:
        """Build the decoding trie: raw ``item_ids[i]`` is written as ``item_texts[i]``."""
        encoded = tokenizer(list(item_texts), add_special_tokens=True)["input_ids"]
        self._item_trie = ItemTrie(encoded)
        self._item_ids = [str(i) for i in item_ids]
        self._item_texts = list(item_texts)
        self._tokenizer = tokenizer

    def _ensure_item_index(self) -> None:
        if self._item_trie is not None:
            return
        source = getattr(self.config, "_name_or_path", None) or getattr(self, "name_or_path", None)
        if not source:
            raise ValueError("no item index: load the model from a folder or call set_item_index()")
        from transformers import AutoTokenizer
        from transformers.utils import cached_file

        with open(cached_file(str(source), ITEM_INDEX_FILE), encoding="utf-8") as f:
            index = json.load(f)
        # config= spares AutoTokenizer reading config.json itself: without hf_recsys, a p5 config
        # is remote code, and reading it again would ask "Do you wish to run the custom code?"
        tokenizer = AutoTokenizer.from_pretrained(source, config=self.config)
        self.set_item_index(index["items"], index["ids"], tokenizer)

    @property
    def item_trie(self) -> ItemTrie:
        self._ensure_item_index()
        return self._item_trie

    @torch.no_grad()
    def generate_items(
        self,
        input_ids: torch.Tensor,
        attention_mask: Optional[torch.Tensor] = None,
        k: int = 10,
        num_beams: Optional[int] = None,
        exclude: Optional[Sequence[Sequence[int]]] = None,
    ) -> tuple[list[list[int]], list[list[float]]]:
        """Top-``k`` distinct items for each prompt by trie-constrained beam search.

        Args:
            input_ids / attention_mask: ``[B, L]`` tokenised prompts.
            k: items per prompt (at most ``num_beams``).
            num_beams: beam width (default ``config.recommend_beams``, raised to ``k`` if smaller).
            exclude: per prompt, item positions (in the item index) that must not be returned.

        Returns:
            ``(items, scores)``: per prompt, item positions best first and their summed
            log-probabilities. A row has fewer than ``k`` entries only when fewer valid items
            exist.
        """
        trie = self.item_trie
        num_beams = max(num_beams or self.config.recommend_beams, k)
        k = min(k, len(trie))
        eos = self.config.eos_token_id
        excluded = [trie.excluded_counts(row) if row else None for row in exclude] if exclude is not None else None
        was_training = self.training
        self.eval()
        output = self.generate(
            input_ids,
            attention_mask=attention_mask,
            num_beams=num_beams,
            num_return_sequences=num_beams,
            max_new_tokens=trie.max_length,
            logits_processor=LogitsProcessorList([TrieLogitsProcessor(trie, num_beams, eos, excluded)]),
            length_penalty=0.0,
            do_sample=False,
            return_dict_in_generate=True,
            output_scores=True,
        )
        if was_training:
            self.train()
        sequences = output.sequences[:, 1:].tolist()
        scores = output.sequences_scores.float().tolist()
        items, item_scores = [], []
        for row in range(input_ids.shape[0]):
            found, values, seen = [], [], set()
            for j in range(row * num_beams, (row + 1) * num_beams):
                item = trie.item_of(sequences[j])
                if item < 0 or item in seen or not math.isfinite(scores[j]):
                    continue
                seen.add(item)
                found.append(item)
                values.append(scores[j])
                if len(found) == k:
                    break
            items.append(found)
            item_scores.append(values)
        return items, item_scores

    def _prompts(self, histories: Sequence[Sequence[Any]], exclude_seen: bool) -> tuple[list[str], list[list[int]]]:
        """Per raw history, the ``config.recommend_template`` prompt and the item positions to
        exclude (the history's, with ``exclude_seen``). Raw IDs the item index does not know are
        left out of the prompt."""
        self._ensure_item_index()
        position = {raw: i for i, raw in enumerate(self._item_ids)}
        prompts, exclusions = [], []
        for history in histories:
            known = [position[str(raw)] for raw in history if str(raw) in position]
            exclusions.append(list(known) if exclude_seen else [])
            known = known[-self.config.max_history :] if self.config.max_history > 0 else known
            words = " ".join(self._item_texts[i] for i in known)
            prompts.append(self.config.recommend_template.format(history=words))
        return prompts, exclusions

    def generation_inputs(self, histories: Sequence[Sequence[Any]], exclude_seen: bool = True) -> dict[str, Any]:
        """Everything ``generate()`` needs to recommend for raw histories, in one call.

        Returns a dict to pass as ``model.generate(**inputs, num_beams=K, num_return_sequences=K)``:
        ``input_ids`` / ``attention_mask`` ``[B, L]`` (the ``config.recommend_template`` prompts,
        tokenised), ``prefix_allowed_tokens_fn`` (the item trie's constraint, already built for
        this batch: only valid item IDs, and none of the history's with ``exclude_seen``) and
        ``max_new_tokens`` (the longest item ID). :meth:`decode_items` turns the output into raw
        IDs. :meth:`recommend` is the same search, batched in a logits processor.
        """
        prompts, exclusions = self._prompts(histories, exclude_seen)
        trie = self.item_trie
        encoded = self._tokenizer(prompts, return_tensors="pt", padding=True)
        excluded = [trie.excluded_counts(row) if row else None for row in exclusions] if exclude_seen else None
        return {
            "input_ids": encoded["input_ids"].to(self.device),
            "attention_mask": encoded["attention_mask"].to(self.device),
            "prefix_allowed_tokens_fn": trie.prefix_allowed_tokens_fn(self.config.eos_token_id, excluded),
            "max_new_tokens": trie.max_length,
        }

    def decode_items(self, sequences: Any, num_return_sequences: Optional[int] = None) -> list[Any]:
        """Raw item IDs of generated sequences (``generate()``'s output, or its ``.sequences``).

        Without ``num_return_sequences``: one raw ID (or ``None``, not an item) per sequence.
        With it: per prompt, the distinct raw IDs of its sequences, best first.
        """
        sequences = getattr(sequences, "sequences", sequences)
        trie = self.item_trie
        ids = [trie.item_of(row[1:]) for row in sequences.tolist()]
        raw = [self._item_ids[i] if i >= 0 else None for i in ids]
        if num_return_sequences is None:
            return raw
        grouped = []
        for start in range(0, len(raw), num_return_sequences):
            row = []
            for item in raw[start : start + num_return_sequences]:
                if item is not None and item not in row:
                    row.append(item)
            grouped.append(row)
        return grouped

    @torch.no_grad()
    def recommend(
        self,
        histories: Sequence[Sequence[Any]],
        k: int = 10,
        exclude_seen: bool = True,
        users: Optional[Sequence[Any]] = None,
        return_scores: bool = False,
        num_beams: Optional[int] = None,
        batch_size: int = 32,
        fallback: Optional[str] = None,
    ) -> list[list[Any]]:
        """Top-``k`` raw item IDs for each raw history (oldest first).

        The history is written into ``config.recommend_template`` (a training template with
        no user in it, so a new user works too; ``users`` is accepted for API compatibility
        and not used). Raw IDs the item index does not know are left out of the prompt (a
        warning names them); a history with none it knows is a ``ValueError``, unless
        ``fallback="popularity"`` asks for the most frequent training items (score ``None``),
        as for every hf_recsys model.
        """
        check_top_k(k)
        check_histories(histories)
        self._ensure_item_index()
        known = set(self._item_ids)
        cold = set(cold_histories(histories, [[str(i) for i in h if str(i) not in known] for h in histories], fallback))
        results: list[list[Any]] = [[] for _ in histories]
        if cold:
            processor = RecsysProcessor.from_pretrained(self.name_or_path)  # the training log's item counts
            for row in cold:
                popular = processor.most_frequent_items(k, exclude=histories[row] if exclude_seen else ())
                results[row] = [(i, None) for i in popular] if return_scores else popular
        warm = [row for row in range(len(histories)) if row not in cold]
        prompts, exclusions = self._prompts([histories[row] for row in warm], exclude_seen)
        for start in range(0, len(prompts), batch_size):
            encoded = self._tokenizer(prompts[start : start + batch_size], return_tensors="pt", padding=True)
            items, scores = self.generate_items(
                encoded["input_ids"].to(self.device),
                encoded["attention_mask"].to(self.device),
                k=k,
                num_beams=num_beams,
                exclude=exclusions[start : start + batch_size] if exclude_seen else None,
            )
            for row, row_items, row_scores in zip(warm[start : start + batch_size], items, scores):
                raw = [self._item_ids[i] for i in row_items]
                results[row] = list(zip(raw, row_scores)) if return_scores else raw
        return results


__all__ = ["P5ForConditionalGeneration", "ItemTrie", "TrieLogitsProcessor", "compute_whole_word_ids", "whole_word_tables", "ITEM_INDEX_FILE"]
