"""The recommendation processor (the "tokenizer" of a recommender).

Its home is :mod:`hf_recsys.models.processing_recsys`, next to the modeling files, so that a
saved model folder carries it as remote code (``from .processing_recsys import ...`` is a
sibling import). This module keeps the ``hf_recsys.data`` import path.
"""

from ..models.processing_recsys import (  # noqa: F401
    NUM_SPECIAL,
    PAD_INDEX,
    PROCESSOR_CONFIG_FILE,
    PROCESSOR_FILE,
    UNK_INDEX,
    RecsysProcessor,
    Vocabulary,
    VocabularyMismatchError,
)

__all__ = [
    "NUM_SPECIAL",
    "PAD_INDEX",
    "PROCESSOR_CONFIG_FILE",
    "PROCESSOR_FILE",
    "UNK_INDEX",
    "RecsysProcessor",
    "Vocabulary",
    "VocabularyMismatchError",
]
