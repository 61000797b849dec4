"""FM configuration."""

from __future__ import annotations

from .configuration_feature_layers import FeatureCTRConfig


class FMConfig(FeatureCTRConfig):
    r"""Configuration of :class:`FMForCTR` (factorisation machine, Rendle 2010).

    Takes every field of :class:`FeatureCTRConfig`; ``embedding_dim`` is the factor size k.
    """

    model_type = "fm"
