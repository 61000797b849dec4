"""AFM (Xiao, Ye, He, Zhang, Wu, Chua, "Attentional Factorization Machines", IJCAI 2017).

Every pair of fields ``i < j`` gives an interaction vector ``v_i ⊙ v_j`` ``[B, P, k]``
(P = F(F-1)/2). An attention network scores each *pair*, ``a'_ij = h^T ReLU(W (v_i ⊙ v_j) + b)``,
a softmax across the P pairs gives ``a_ij``, and
``logit = b0 + sum_i w_i + p^T sum_{i<j} a_ij (v_i ⊙ v_j)``.
The attention runs over the pairs before they are summed, not over an already pooled vector.
"""

from __future__ import annotations

import torch
from torch import nn

from .configuration_afm import AFMConfig
from .feature_layers import FeatureBatch, FeatureCTRMixin, FeatureCTRPreTrainedModel, FeatureEmbedding
from .modeling_utils import CTROutput, FastDropout


class PairAttention(nn.Module):
    """Softmax attention over pair interaction vectors: ``[B, P, k]`` -> weights ``[B, P]``."""

    def __init__(self, embedding_dim: int, attention_dim: int):
        super().__init__()
        self.hidden = nn.Linear(embedding_dim, attention_dim)
        self.score = nn.Linear(attention_dim, 1, bias=False)

    def forward(self, interactions: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.score(torch.relu(self.hidden(interactions))).squeeze(-1), dim=-1)


class AFMForCTR(FeatureCTRMixin, FeatureCTRPreTrainedModel):
    """AFM with a CTR head; ``output_attentions=True`` returns the pair weights ``[B, P]``
    (pairs in ``pair_names()`` order)."""

    config_class = AFMConfig
    base_model_prefix = "afm"

    def __init__(self, config: AFMConfig):
        super().__init__(config)
        if config.num_fields < 2:
            raise ValueError("AFM needs at least two fields to form a pair")
        self.features = FeatureEmbedding(config)
        left, right = torch.triu_indices(config.num_fields, config.num_fields, offset=1)
        self.register_buffer("pair_left", left.clone())
        self.register_buffer("pair_right", right.clone())
        self.attention = PairAttention(config.embedding_dim, config.attention_dim)
        self.dropout = FastDropout(config.dropout)
        self.projection = nn.Linear(config.embedding_dim, 1, bias=False)
        self.bias = nn.Parameter(torch.zeros(1))
        self.post_init()

    def pair_names(self) -> list[tuple[str, str]]:
        names = self.config.field_names
        return [(names[i], names[j]) for i, j in zip(self.pair_left.tolist(), self.pair_right.tolist())]

    def compute_logits(self, batch: FeatureBatch, output_attentions: bool = False) -> CTROutput:
        fields = self.features(batch)
        embeddings = fields.embeddings  # [B, F, k]
        interactions = embeddings[:, self.pair_left] * embeddings[:, self.pair_right]  # [B, P, k]
        weights = self.attention(interactions)  # [B, P], sums to 1 over pairs
        pooled = self.dropout((weights.unsqueeze(-1) * interactions).sum(1))  # [B, k]
        logits = self.bias + fields.first_order.sum(1) + self.projection(pooled).squeeze(-1)
        return CTROutput(logits=logits, attention_weights=weights if output_attentions else None)


__all__ = ["AFMForCTR", "PairAttention"]
