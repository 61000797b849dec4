"""Feature-MLP: the user's and the item's field embeddings, concatenated, through an MLP.

The plain "embedding + MLP" model: every field (IDs, profile, genres) is embedded and the
concatenation ``[B, F * d]`` goes through ReLU layers to one logit. No explicit interaction
term: the MLP has to learn them.
"""

from __future__ import annotations

from .configuration_featuremlp import FeatureMLPConfig
from .feature_layers import FeatureBatch, FeatureCTRMixin, FeatureCTRPreTrainedModel, FeatureEmbedding, field_mlp
from .modeling_utils import CTROutput


class FeatureMLPForCTR(FeatureCTRMixin, FeatureCTRPreTrainedModel):
    """Feature-MLP with a CTR head."""

    config_class = FeatureMLPConfig
    base_model_prefix = "featuremlp"

    def __init__(self, config: FeatureMLPConfig):
        super().__init__(config)
        self.features = FeatureEmbedding(config, with_first_order=False)
        self.mlp = field_mlp(config, config.embedding_dim)
        self.post_init()

    def compute_logits(self, batch: FeatureBatch, output_attentions: bool = False) -> CTROutput:
        embeddings = self.features(batch).embeddings  # [B, F, d]
        return CTROutput(logits=self.mlp(embeddings.flatten(1)).squeeze(-1))


__all__ = ["FeatureMLPForCTR"]
