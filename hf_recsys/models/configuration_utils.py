"""Conventions every hf_recsys config follows.

Sizes that come from the data (vocabulary sizes, feature cardinalities) are config fields,
filled by :meth:`RecsysConfig.from_processor`, so a saved ``config.json`` alone says what a
model can embed. Index 0 is padding and 1 the unknown bucket in every vocabulary.
"""

from __future__ import annotations

from dataclasses import field
from types import MappingProxyType
from typing import Any, Sequence

from transformers import PreTrainedConfig

#: ``TrainingArguments`` values the CTR models (BST, DIN, DIEN, sum pooling and the feature-field
#: models) are tuned for; a training run uses them for every option the user leaves unset. A
#: constant learning rate: Adam's step sizes already adapt per parameter, and ``Trainer``'s
#: default linear decay to zero stops a two-epoch run before the embeddings and the activation
#: unit have fitted (the ablation is in ``docs/experiments/ctr-quality.md``).
CTR_TRAINING_DEFAULTS = MappingProxyType({"lr_scheduler_type": "constant"})


def check_positive_integers(config: PreTrainedConfig, names: Sequence[str]) -> None:
    """Raise ``ValueError`` naming the first of ``names`` whose value in ``config`` is not an
    integer >= 1."""
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


class RecsysConfig(PreTrainedConfig):
    """Fields shared by all recommenders.

    Args:
        num_items: item vocabulary size, padding and unknown included.
        num_users: user vocabulary size, padding and unknown included.
        num_categories: item category vocabulary size (0 or 2 when the data has none).
        user_feature_sizes: cardinality of each categorical user profile field.
        user_feature_names: the names of those fields, in the same order.
        max_history: history length the model was trained with.
        initializer_range: std of the normal initialisation of embeddings and linear layers.
        processor_fingerprint: per vocabulary of the processor the sizes came from, ``[number
            of IDs, hash]`` (:meth:`RecsysProcessor.fingerprint`); training refuses data encoded
            with other vocabularies. ``None``: not checked.
    """

    #: ``TrainingArguments`` values a training run uses where the user sets none (a class
    #: attribute, not saved in config.json); see :data:`CTR_TRAINING_DEFAULTS`
    training_defaults = MappingProxyType({})

    #: integer fields that must be at least 1 (a layer of size 0 is no layer), checked when the
    #: config is made: ``--set hidden_size=0`` is an error naming the field, not a failure deep in
    #: the model or a model that silently embeds nothing (a class attribute, not saved)
    positive_fields = ("max_history",)

    model_type = "recsys"

    num_items: int = 1000
    num_users: int = 2
    num_categories: int = 2
    user_feature_sizes: list[int] = field(default_factory=list)
    user_feature_names: list[str] = field(default_factory=list)
    max_history: int = 50
    initializer_range: float = 0.02
    pad_token_id: int | None = 0
    processor_fingerprint: dict | None = None

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        check_positive_integers(self, self.positive_fields)

    @classmethod
    def from_processor(cls, processor: Any, **overrides: Any) -> "RecsysConfig":
        """Take every data-dependent size from a :class:`~hf_recsys.RecsysProcessor`."""
        sizes = dict(
            num_items=processor.num_items,
            num_users=processor.num_users,
            num_categories=processor.num_categories(),
            user_feature_sizes=processor.user_feature_sizes,
            user_feature_names=processor.user_feature_names,
            max_history=processor.max_history,
            processor_fingerprint=processor.fingerprint(),
        )
        sizes.update(overrides)
        return cls(**sizes)
