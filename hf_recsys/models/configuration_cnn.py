"""CNN-over-field-embeddings configuration."""

from __future__ import annotations

from dataclasses import field

from .configuration_feature_layers import FeatureCTRConfig


class CNNConfig(FeatureCTRConfig):
    r"""Configuration of :class:`CNNForCTR` (convolution over the field embedding matrix, as
    in CCPM, Liu et al. 2015).

    Args:
        conv_channels: output channels of each convolution layer.
        conv_kernel_heights: how many neighbouring fields each layer's kernel spans.
        last_pooling_size: fields kept by the last k-max pooling (the paper's ``p_l = 3``).
        mlp_hidden_sizes: hidden layers between the pooled maps and the logit.
        dropout: dropout after each hidden layer.
    """

    model_type = "cnn"

    conv_channels: list[int] = field(default_factory=lambda: [8, 8])
    conv_kernel_heights: list[int] = field(default_factory=lambda: [3, 3])
    last_pooling_size: int = 3
    mlp_hidden_sizes: list[int] = field(default_factory=lambda: [64])
    dropout: float = 0.1
