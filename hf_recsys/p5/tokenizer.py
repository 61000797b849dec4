"""A T5-style tokenizer trained on the prompt corpus with the `tokenizers` library.

No pretrained T5 tokenizer can be downloaded here, so P5 trains its own: BPE over
Metaspace-split words (SentencePiece's ``▁`` word marker, which the whole-word embedding reads),
T5's special tokens (``<pad>`` 0, ``</s>`` 1, ``<unk>`` 2) and ``</s>`` appended to every
sequence. Collaborative-index tokens (``<CI0>`` ...) are added whole, as in Hua et al. 2023.
The result is a ``PreTrainedTokenizerFast``, saved with the model, so
``AutoTokenizer.from_pretrained(model_folder)`` loads it.
"""

from __future__ import annotations

from typing import Iterable, Sequence, Union

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

PAD, EOS, UNK = "<pad>", "</s>", "<unk>"
SPECIAL_TOKENS = [PAD, EOS, UNK]  # ids 0, 1, 2 as in T5


def item_tokens(tokens: Sequence[str], absorb_space: bool = False) -> list[Union[str, AddedToken]]:
    """Index tokens to add to a tokenizer. With ``absorb_space`` each one swallows the space
    before it (``lstrip``), so an item in a prompt is its token alone instead of ``▁`` + token."""
    if not absorb_space:
        return list(tokens)
    return [AddedToken(token, lstrip=True, normalized=False) for token in tokens]


def train_prompt_tokenizer(
    texts: Iterable[str],
    vocab_size: int = 4000,
    added_tokens: Sequence[Union[str, AddedToken]] = (),
    model_max_length: int = 512,
) -> PreTrainedTokenizerFast:
    """Train a BPE tokenizer on ``texts`` (prompts and targets).

    Args:
        texts: the training corpus; include every item ID text at least once so that every
            ID can be tokenised.
        vocab_size: BPE vocabulary size, special and added tokens included.
        added_tokens: whole tokens added before training (e.g. collaborative-index tokens);
            they are never split and BPE does not learn inside them (see :func:`item_tokens`).
    """
    tokenizer = Tokenizer(models.BPE(unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tokenizer.add_special_tokens(SPECIAL_TOKENS)
    if added_tokens:
        tokenizer.add_tokens(list(added_tokens))
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False, min_frequency=2
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    eos_id = tokenizer.token_to_id(EOS)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"$A {EOS}", pair=f"$A {EOS} $B {EOS}", special_tokens=[(EOS, eos_id)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token=PAD,
        eos_token=EOS,
        unk_token=UNK,
        model_max_length=model_max_length,
        padding_side="right",
    )
