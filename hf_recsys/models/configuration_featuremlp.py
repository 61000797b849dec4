"""Feature-MLP configuration."""

from __future__ import annotations

from dataclasses import field

from .configuration_feature_layers import FeatureCTRConfig


class FeatureMLPConfig(FeatureCTRConfig):
    r"""Configuration of :class:`FeatureMLPForCTR`: user and item field embeddings
    concatenated into an MLP.

    Args:
        mlp_hidden_sizes: hidden layers.
        activation: hidden activation.
        dropout: dropout after each hidden layer.
    """

    model_type = "featuremlp"

    mlp_hidden_sizes: list[int] = field(default_factory=lambda: [128, 64])
    activation: str = "relu"
    dropout: float = 0.1
