"""Wide & Deep (Cheng et al., "Wide & Deep Learning for Recommender Systems", DLRS 2016).

``logit = b + wide + deep``, trained jointly:

* wide: a linear model on the raw sparse features (the shared layer's first-order weights)
  and on *cross-product* features. A cross of fields (a, b) is the binary feature
  "a = x AND b = y"; for a multi-hot field each of its values is crossed (so a movie with two
  genres fires two crosses). Each cross gets an exact ID ``base(a, b) + x * |b| + y`` that is
  hashed (multiplicative hashing, collision-free while the cross space fits) into a table of
  ``wide_hash_size`` weights.
* deep: an MLP on the concatenated field embeddings.

The paper trains the wide part with FTRL + L1 and the deep part with AdaGrad; we train both
with the Trainer's AdamW.
"""

from __future__ import annotations

import torch
from torch import nn

from .configuration_widedeep import WideDeepConfig
from .feature_layers import FeatureBatch, FeatureCTRMixin, FeatureCTRPreTrainedModel, FeatureEmbedding, field_mlp
from .modeling_utils import CTROutput

#: Knuth's multiplicative constant (odd, so multiplication is a bijection modulo 2^n)
HASH_MULTIPLIER = 2654435761


class WideDeepForCTR(FeatureCTRMixin, FeatureCTRPreTrainedModel):
    """Wide & Deep with a CTR head."""

    config_class = WideDeepConfig
    base_model_prefix = "widedeep"

    def __init__(self, config: WideDeepConfig):
        super().__init__(config)
        self.features = FeatureEmbedding(config)
        self.bias = nn.Parameter(torch.zeros(1))
        self.deep = field_mlp(config, config.embedding_dim)
        left, right, base, right_size = self._cross_slots(config)
        # one entry per crossed (column, column) slot of raw_categorical()'s output
        self.register_buffer("cross_left", torch.tensor(left, dtype=torch.long))
        self.register_buffer("cross_right", torch.tensor(right, dtype=torch.long))
        self.register_buffer("cross_base", torch.tensor(base, dtype=torch.long))
        self.register_buffer("cross_right_size", torch.tensor(right_size, dtype=torch.long))
        self.cross_weights = nn.Embedding(config.wide_hash_size, 1) if left else None
        self.post_init()

    def _cross_slots(self, config: WideDeepConfig) -> tuple[list[int], list[int], list[int], list[int]]:
        names = config.field_names[: len(self.features.categorical_field_sizes)]
        columns_of = {name: [c for c, f in enumerate(self.features.raw_column_fields) if f == i] for i, name in enumerate(names)}
        left, right, base, right_size, next_base = [], [], [], [], 0
        for a, b in config.resolved_cross_pairs():
            for name in (a, b):
                if name not in columns_of:
                    raise ValueError(f"cannot cross field {name!r}; categorical fields are {names}")
            size_a = self.features.categorical_field_sizes[names.index(a)]
            size_b = self.features.categorical_field_sizes[names.index(b)]
            for column_a in columns_of[a]:
                for column_b in columns_of[b]:
                    left.append(column_a)
                    right.append(column_b)
                    base.append(next_base)
                    right_size.append(size_b)
            next_base += size_a * size_b
        return left, right, base, right_size

    def wide_cross_logits(self, batch: FeatureBatch) -> torch.Tensor:
        """``[B]``: the summed weights of the cross-product features that fire."""
        if self.cross_weights is None:
            return batch.target_ids.new_zeros(batch.batch_size, dtype=torch.float)
        single, item_values = self.features.raw_categorical(batch)
        raw = torch.cat([single, item_values], dim=1)  # [B, columns]
        left, right = raw[:, self.cross_left], raw[:, self.cross_right]  # [B, slots]
        cross_ids = self.cross_base + left * self.cross_right_size + right
        buckets = (cross_ids * HASH_MULTIPLIER) % self.config.wide_hash_size
        fires = (left != 0) & (right != 0)  # a padded value crosses nothing
        return (self.cross_weights(buckets).squeeze(-1) * fires).sum(1)

    def compute_logits(self, batch: FeatureBatch, output_attentions: bool = False) -> CTROutput:
        fields = self.features(batch)
        wide = self.bias + fields.first_order.sum(1) + self.wide_cross_logits(batch)
        deep = self.deep(fields.embeddings.flatten(1)).squeeze(-1)
        return CTROutput(logits=wide + deep)


__all__ = ["WideDeepForCTR", "HASH_MULTIPLIER"]
