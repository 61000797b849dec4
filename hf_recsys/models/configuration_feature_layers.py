"""The configuration every feature-field CTR model shares (LR, NCF, FM, FNN, Wide & Deep,
DeepFM, AFM, feature-MLP, CNN).

A sample is a set of *fields*, in this order:

``user_id`` | one field per categorical user profile feature | ``item_id`` | one field per
item feature (categorical or multi-hot, e.g. ``genres``) | ``history`` (optional multi-hot of
the behaviour items) | one field per numeric feature.

Every size comes from the processor (:meth:`FeatureCTRConfig.from_processor`), so a saved
``config.json`` alone says what the model embeds.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from .configuration_utils import CTR_TRAINING_DEFAULTS, RecsysConfig


class FeatureCTRConfig(RecsysConfig):
    r"""Fields shared by the feature-field CTR models.

    Args:
        embedding_dim: size of every field embedding.
        use_user_id / use_item_id: embed the user / target item ID as a field.
        use_user_features: embed each categorical user profile field (``user_feature_sizes``).
        use_item_features: embed each item field (``item_feature_names``).
        use_history: add the behaviour history as one multi-hot field (mean of the item ID
            embeddings of the valid history items; shares the item ID table). Off by default:
            the classic models score (user, item, features) only.
        item_feature_names: item fields, looked up per target item from a table installed by
            ``load_item_features`` (saved with the weights).
        item_feature_sizes: vocabulary size of each item field (padding and unknown included).
        item_feature_max_values: values kept per item for each field: 1 for a categorical
            field, the most values an item has (capped by ``max_item_feature_values``) for a
            multi-hot field such as genres.
        max_item_feature_values: cap on values per item of a multi-hot field.
        numeric_feature_names: numeric fields, given to ``forward`` as ``numeric_features``
            ``[B, N]`` (a field's embedding is its value times a learned vector).
    """

    model_type = "feature_ctr"
    positive_fields = RecsysConfig.positive_fields + ('embedding_dim',)
    #: training options these models are tuned for (not saved in ``config.json``)
    training_defaults = CTR_TRAINING_DEFAULTS

    embedding_dim: int = 16
    use_user_id: bool = True
    use_user_features: bool = True
    use_item_id: bool = True
    use_item_features: bool = True
    use_history: bool = False
    item_feature_names: list[str] = field(default_factory=list)
    item_feature_sizes: list[int] = field(default_factory=list)
    item_feature_max_values: list[int] = field(default_factory=list)
    max_item_feature_values: int = 8
    numeric_feature_names: list[str] = field(default_factory=list)

    @classmethod
    def from_processor(cls, processor: Any, **overrides: Any) -> "FeatureCTRConfig":
        """Record user fields (as :class:`RecsysConfig` does) and every item field of the
        processor: its vocabulary size and how many values an item holds."""
        names = list(overrides.get("item_feature_names", list(processor.item_feature_vocabs)))
        cap = int(overrides.get("max_item_feature_values", cls.max_item_feature_values))
        max_values = []
        for name in names:
            if name in processor.multi_valued_item_features:
                longest = max((len(values) for values in processor.item_feature_values[name]), default=1)
                max_values.append(max(1, min(cap, longest)))
            else:
                max_values.append(1)
        item_fields = dict(
            item_feature_names=names,
            item_feature_sizes=[processor.item_feature_size(name) for name in names],
            item_feature_max_values=max_values,
        )
        item_fields.update(overrides)
        return super().from_processor(processor, **item_fields)

    # ------------------------------------------------------------------ field layout
    @property
    def user_field_names(self) -> list[str]:
        if not self.use_user_features:
            return []
        names = list(self.user_feature_names)
        return names if len(names) == len(self.user_feature_sizes) else [
            f"user_feature_{i}" for i in range(len(self.user_feature_sizes))
        ]

    @property
    def item_field_names(self) -> list[str]:
        return list(self.item_feature_names) if self.use_item_features else []

    @property
    def field_names(self) -> list[str]:
        """Every field, in the order of the ``[B, num_fields, d]`` embedding matrix."""
        names = ["user_id"] if self.use_user_id else []
        names += self.user_field_names
        names += ["item_id"] if self.use_item_id else []
        names += self.item_field_names
        names += ["history"] if self.use_history else []
        return names + list(self.numeric_feature_names)

    @property
    def num_fields(self) -> int:
        return len(self.field_names)


def feature_layout(config: FeatureCTRConfig) -> dict[str, Any]:
    """The data-dependent and field-layout fields of ``config`` (what two models must share to
    exchange field embeddings, e.g. FM -> FNN), as keyword arguments for another config."""
    names = [*RecsysConfig.__annotations__, *FeatureCTRConfig.__annotations__]
    return {name: getattr(config, name) for name in names if hasattr(config, name)}
