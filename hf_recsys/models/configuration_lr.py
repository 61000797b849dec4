"""Logistic-regression baseline configuration."""

from __future__ import annotations

from .configuration_feature_layers import FeatureCTRConfig


class LRConfig(FeatureCTRConfig):
    r"""Configuration of :class:`LRForCTR`: a bias plus one learned weight per feature value
    (the first-order terms of the shared feature layer). Takes every field of
    :class:`FeatureCTRConfig`; ``embedding_dim`` is unused.
    """

    model_type = "lr"
