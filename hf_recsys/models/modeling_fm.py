"""Factorisation machine (Rendle, "Factorization Machines", ICDM 2010), on fields.

``logit = b + sum_i w_i + sum_{i<j} <v_i, v_j>``, the pairwise sum computed in O(k n) through
``0.5 * sum_k [(sum_i v_ik)^2 - sum_i v_ik^2]``. A multi-hot field enters as the mean of its
value vectors (each value with x = 1/n), so pairs inside one field (genre x genre) are left
out, as in DeepFM's field formulation. Also the first stage of FNN (see ``FNNForCTR.from_fm``).
"""

from __future__ import annotations

import torch
from torch import nn

from .configuration_fm import FMConfig
from .feature_layers import FeatureBatch, FeatureCTRMixin, FeatureCTRPreTrainedModel, FeatureEmbedding, fm_pairwise
from .modeling_utils import CTROutput


class FMForCTR(FeatureCTRMixin, FeatureCTRPreTrainedModel):
    """Factorisation machine with a CTR head."""

    config_class = FMConfig
    base_model_prefix = "fm"

    def __init__(self, config: FMConfig):
        super().__init__(config)
        self.features = FeatureEmbedding(config)
        self.bias = nn.Parameter(torch.zeros(1))
        self.post_init()

    def compute_logits(self, batch: FeatureBatch, output_attentions: bool = False) -> CTROutput:
        fields = self.features(batch)  # embeddings [B, F, k], first_order [B, F]
        return CTROutput(logits=self.bias + fields.first_order.sum(1) + fm_pairwise(fields.embeddings))


__all__ = ["FMForCTR"]
