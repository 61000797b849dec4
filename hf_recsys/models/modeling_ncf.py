"""Neural Collaborative Filtering (He, Liao, Zhang, Nie, Hu, Chua, WWW 2017).

* GMF: ``p_u ⊙ q_i``, a learned weighting of matrix factorisation.
* MLP: ``tower([p_u ; q_i])`` on separate embeddings.
* NeuMF: ``h^T [p_u^G ⊙ q_i^G ; tower([p_u^M ; q_i^M])]``: GMF and MLP keep their own
  embeddings and meet only in the last layer.

The user vector is the sum of the user-side fields (the user ID; with ``use_user_features``
also the profile fields), the item vector the sum of the item-side fields. Numeric fields have
no side and are not supported. The paper pre-trains GMF and MLP before NeuMF; we train NeuMF
from scratch with Adam (the paper's setting without pre-training).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from .configuration_ncf import NCFConfig
from .feature_layers import FeatureBatch, FeatureCTRMixin, FeatureCTRPreTrainedModel, FeatureEmbedding
from .modeling_utils import MLP, CTROutput

VARIANTS = ("gmf", "mlp", "neumf")


class NCFForCTR(FeatureCTRMixin, FeatureCTRPreTrainedModel):
    """NCF (GMF, MLP or NeuMF, chosen by ``config.variant``) with a CTR head."""

    config_class = NCFConfig
    base_model_prefix = "ncf"

    def __init__(self, config: NCFConfig):
        super().__init__(config)
        if config.variant not in VARIANTS:
            raise ValueError(f"unknown NCF variant {config.variant!r}; choose from {VARIANTS}")
        if config.numeric_feature_names:
            raise ValueError("NCF builds a user and an item vector; numeric fields belong to neither")
        predict_dim = 0
        self.gmf_features = self.mlp_features = self.mlp = None
        if config.variant in ("gmf", "neumf"):
            self.gmf_features = FeatureEmbedding(config, config.gmf_dim, with_first_order=False)
            predict_dim += config.gmf_dim
        if config.variant in ("mlp", "neumf"):
            self.mlp_features = FeatureEmbedding(config, config.mlp_embedding_dim, with_first_order=False)
            self.mlp = MLP(2 * config.mlp_embedding_dim, config.mlp_hidden_sizes, activation="relu", dropout=config.dropout)
            predict_dim += self.mlp.output_dim
        layer = self.gmf_features or self.mlp_features
        if not layer.user_side_fields or not layer.item_side_fields:
            raise ValueError("NCF needs at least one user-side and one item-side field")
        self.predict = nn.Linear(predict_dim, 1)
        self.post_init()

    @staticmethod
    def _user_item(features: FeatureEmbedding, batch: FeatureBatch) -> tuple[torch.Tensor, torch.Tensor]:
        embeddings = features(batch).embeddings  # [B, F, d]
        return embeddings[:, features.user_side_fields].sum(1), embeddings[:, features.item_side_fields].sum(1)

    def ncf_vectors(self, batch: FeatureBatch) -> tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """The GMF vector ``[B, gmf_dim]`` and the MLP tower's output ``[B, last hidden]``
        (None for the part the variant lacks); NeuMF's logit is ``predict([gmf ; mlp])``."""
        gmf = mlp = None
        if self.gmf_features is not None:
            user, item = self._user_item(self.gmf_features, batch)
            gmf = user * item
        if self.mlp_features is not None:
            user, item = self._user_item(self.mlp_features, batch)
            mlp = self.mlp(torch.cat([user, item], dim=-1))
        return gmf, mlp

    def compute_logits(self, batch: FeatureBatch, output_attentions: bool = False) -> CTROutput:
        parts = [vector for vector in self.ncf_vectors(batch) if vector is not None]
        return CTROutput(logits=self.predict(torch.cat(parts, dim=-1)).squeeze(-1))


__all__ = ["NCFForCTR"]
