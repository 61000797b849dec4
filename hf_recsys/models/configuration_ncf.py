"""NCF configuration."""

from __future__ import annotations

from dataclasses import field

from .configuration_feature_layers import FeatureCTRConfig


class NCFConfig(FeatureCTRConfig):
    r"""Configuration of :class:`NCFForCTR` (Neural Collaborative Filtering, He et al. 2017).

    Args:
        variant: ``"gmf"`` (generalised matrix factorisation), ``"mlp"`` (MLP tower on the
            concatenated user and item vectors) or ``"neumf"`` (both, fused by one layer).
        gmf_dim: size of the GMF embeddings (the paper's predictive factors).
        mlp_embedding_dim: size of the MLP tower's own embeddings.
        mlp_hidden_sizes: the tower (the paper halves the width at each layer).
        dropout: dropout in the tower.

    By default only the IDs are fields, as in the paper; ``use_user_features`` /
    ``use_item_features`` add the profile and item fields, summed into the user / item vector.
    ``embedding_dim`` is unused (each part has its own size).
    """

    model_type = "ncf"
    positive_fields = FeatureCTRConfig.positive_fields + ('gmf_dim', 'mlp_embedding_dim')

    use_user_features: bool = False
    use_item_features: bool = False
    variant: str = "neumf"
    gmf_dim: int = 16
    mlp_embedding_dim: int = 16
    mlp_hidden_sizes: list[int] = field(default_factory=lambda: [64, 32, 16])
    dropout: float = 0.0
