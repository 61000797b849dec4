"""Wide & Deep configuration."""

from __future__ import annotations

from dataclasses import field
from typing import Optional

from .configuration_feature_layers import FeatureCTRConfig


class WideDeepConfig(FeatureCTRConfig):
    r"""Configuration of :class:`WideDeepForCTR` (Cheng et al. 2016).

    Args:
        mlp_hidden_sizes: the deep part's hidden layers (the paper: 1024-512-256).
        activation: hidden activation (the paper: ReLU).
        dropout: dropout after each hidden layer.
        wide_cross_pairs: pairs of field names whose values are crossed in the wide part,
            e.g. ``[["gender", "genres"], ["age", "genres"]]``; ``None`` crosses every user
            profile field with every item field, ``[]`` keeps only the raw features.
        wide_hash_size: buckets of the wide cross-product table.
    """

    model_type = "widedeep"

    mlp_hidden_sizes: list[int] = field(default_factory=lambda: [128, 64])
    activation: str = "relu"
    dropout: float = 0.1
    wide_cross_pairs: Optional[list[list[str]]] = None
    wide_hash_size: int = 2**17

    def resolved_cross_pairs(self) -> list[tuple[str, str]]:
        """The crossed field pairs (the default expanded)."""
        if self.wide_cross_pairs is None:
            return [(user, item) for user in self.user_field_names for item in self.item_field_names]
        return [tuple(pair) for pair in self.wide_cross_pairs]
