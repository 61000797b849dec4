"""DeepFM configuration."""

from __future__ import annotations

from dataclasses import field

from .configuration_feature_layers import FeatureCTRConfig


class DeepFMConfig(FeatureCTRConfig):
    r"""Configuration of :class:`DeepFMForCTR` (Guo et al. 2017).

    Args:
        mlp_hidden_sizes: the deep part's hidden layers (the paper: 400-400-400).
        activation: hidden activation (the paper: ReLU).
        dropout: dropout after each hidden layer (the paper: 0.5).
    """

    model_type = "deepfm"

    mlp_hidden_sizes: list[int] = field(default_factory=lambda: [128, 64])
    activation: str = "relu"
    dropout: float = 0.1
