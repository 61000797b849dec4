"""Logistic regression on the feature fields: the baseline the chapter's models improve on.

``logit = b + sum_i w_i``, one weight per categorical value (multi-hot fields: the mean of
their values' weights; numeric fields: value times weight). No interactions at all.
"""

from __future__ import annotations

import torch
from torch import nn

from .configuration_lr import LRConfig
from .feature_layers import FeatureBatch, FeatureCTRMixin, FeatureCTRPreTrainedModel, FeatureEmbedding
from .modeling_utils import CTROutput


class LRForCTR(FeatureCTRMixin, FeatureCTRPreTrainedModel):
    """Logistic regression with a CTR head."""

    config_class = LRConfig
    base_model_prefix = "lr"

    def __init__(self, config: LRConfig):
        super().__init__(config)
        self.features = FeatureEmbedding(config, embedding_dim=0)
        self.bias = nn.Parameter(torch.zeros(1))
        self.post_init()

    def compute_logits(self, batch: FeatureBatch, output_attentions: bool = False) -> CTROutput:
        first_order = self.features(batch).first_order  # [B, F]
        return CTROutput(logits=self.bias + first_order.sum(1))


__all__ = ["LRForCTR"]
