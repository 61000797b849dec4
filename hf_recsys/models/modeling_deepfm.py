"""DeepFM (Guo, Tang, Ye, Li, He, "DeepFM: A Factorization-Machine based Neural Network for
CTR Prediction", IJCAI 2017).

``logit = b + sum_i w_i + sum_{i<j} <v_i, v_j> + MLP([v_1; ...; v_F])``: the FM part
(first-order terms included) and the deep part read the *same* field embeddings, so both are
trained end to end with no pre-training (what separates DeepFM from FNN).
"""

from __future__ import annotations

import torch
from torch import nn

from .configuration_deepfm import DeepFMConfig
from .feature_layers import FeatureBatch, FeatureCTRMixin, FeatureCTRPreTrainedModel, FeatureEmbedding, field_mlp, fm_pairwise
from .modeling_utils import CTROutput


class DeepFMForCTR(FeatureCTRMixin, FeatureCTRPreTrainedModel):
    """DeepFM with a CTR head."""

    config_class = DeepFMConfig
    base_model_prefix = "deepfm"

    def __init__(self, config: DeepFMConfig):
        super().__init__(config)
        self.features = FeatureEmbedding(config)
        self.bias = nn.Parameter(torch.zeros(1))
        self.deep = field_mlp(config, config.embedding_dim)
        self.post_init()

    def compute_logits(self, batch: FeatureBatch, output_attentions: bool = False) -> CTROutput:
        fields = self.features(batch)  # embeddings [B, F, k] shared by both parts
        fm_logit = self.bias + fields.first_order.sum(1) + fm_pairwise(fields.embeddings)
        deep_logit = self.deep(fields.embeddings.flatten(1)).squeeze(-1)
        return CTROutput(logits=fm_logit + deep_logit)


__all__ = ["DeepFMForCTR"]
