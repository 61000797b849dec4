"""FNN configuration."""

from __future__ import annotations

from dataclasses import field
from typing import Optional

from .configuration_feature_layers import FeatureCTRConfig


class FNNConfig(FeatureCTRConfig):
    r"""Configuration of :class:`FNNForCTR` (Factorisation-machine supported Neural Network,
    Zhang et al. 2016).

    Args:
        mlp_hidden_sizes: hidden layers on the concatenated field vectors.
        activation: hidden activation (the paper uses tanh).
        dropout: dropout after each hidden layer.
        include_first_order: feed each field's first-order weight next to its vector, as the
            paper's ``z_i = (w_i, v_i)`` does.
        init_from_fm: path (or Hub ID) of a trained :class:`FMForCTR` with the same field
            layout; ``load_item_features`` (called once before training) copies its
            embeddings and first-order weights: the paper's two-stage recipe.
    """

    model_type = "fnn"

    mlp_hidden_sizes: list[int] = field(default_factory=lambda: [128, 64])
    activation: str = "tanh"
    dropout: float = 0.1
    include_first_order: bool = True
    init_from_fm: Optional[str] = None
