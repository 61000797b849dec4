"""AFM configuration."""

from __future__ import annotations

from .configuration_feature_layers import FeatureCTRConfig


class AFMConfig(FeatureCTRConfig):
    r"""Configuration of :class:`AFMForCTR` (Attentional Factorization Machines, Xiao et al. 2017).

    Args:
        attention_dim: hidden size t of the attention network ``h^T ReLU(W (v_i ⊙ v_j) + b)``.
        dropout: dropout on the attention-pooled interaction vector (the paper applies
            dropout to the pair-wise interaction layer).
    """

    model_type = "afm"
    positive_fields = FeatureCTRConfig.positive_fields + ('attention_dim',)

    attention_dim: int = 16
    dropout: float = 0.1
