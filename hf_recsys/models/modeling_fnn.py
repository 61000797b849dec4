"""FNN (Zhang, Du, Wang, "Deep Learning over Multi-field Categorical Data", ECIR 2016).

Each field contributes ``z_i = (w_i, v_i)``: its first-order weight and its k-dimensional
vector; the concatenation goes through a tanh MLP to the click logit. The paper's two-stage
recipe initialises ``w_i, v_i`` from a trained FM and then fine-tunes everything:
``FNNForCTR.from_fm(fm_model)``, or ``--set init_from_fm=PATH`` on the command line (the FM
must have been trained on the same data: same vocabularies, fields and ``embedding_dim``).
The paper also pre-trains the hidden layers as RBMs/DAEs; we do not (plain initialisation).
"""

from __future__ import annotations

from typing import Any

import torch

from .configuration_feature_layers import feature_layout
from .configuration_fnn import FNNConfig
from .feature_layers import FeatureBatch, FeatureCTRMixin, FeatureCTRPreTrainedModel, FeatureEmbedding, field_mlp
from .modeling_fm import FMForCTR
from .modeling_utils import CTROutput


class FNNForCTR(FeatureCTRMixin, FeatureCTRPreTrainedModel):
    """FNN with a CTR head."""

    config_class = FNNConfig
    base_model_prefix = "fnn"

    def __init__(self, config: FNNConfig):
        super().__init__(config)
        self.features = FeatureEmbedding(config, with_first_order=config.include_first_order)
        field_width = config.embedding_dim + int(config.include_first_order)
        self.mlp = field_mlp(config, field_width)
        self.post_init()

    def compute_logits(self, batch: FeatureBatch, output_attentions: bool = False) -> CTROutput:
        fields = self.features(batch)
        dense = fields.embeddings  # [B, F, k]
        if self.config.include_first_order:
            dense = torch.cat([fields.first_order.unsqueeze(-1), dense], dim=-1)  # [B, F, 1 + k]
        return CTROutput(logits=self.mlp(dense.flatten(1)).squeeze(-1))

    # ------------------------------------------------------------------ FM initialisation
    @classmethod
    def from_fm(cls, fm_model: FMForCTR, **config_overrides: Any) -> "FNNForCTR":
        """A new FNN with ``fm_model``'s field layout whose field embeddings (and first-order
        weights, and item tables) are copies of the FM's."""
        config = FNNConfig(**{**feature_layout(fm_model.config), **config_overrides})
        model = cls(config)
        model.copy_fm_embeddings(fm_model)
        return model

    @torch.no_grad()
    def copy_fm_embeddings(self, fm_model: FMForCTR) -> None:
        """Overwrite the field embeddings with ``fm_model``'s (the layouts must match)."""
        ours, theirs = self.config, fm_model.config
        for name in ("field_names", "num_users", "num_items", "user_feature_sizes", "item_feature_sizes",
                     "item_feature_max_values", "embedding_dim"):
            if getattr(ours, name) != getattr(theirs, name):
                raise ValueError(f"cannot initialise FNN from this FM: {name} differs "
                                 f"({getattr(ours, name)} vs {getattr(theirs, name)})")
        state = self.features.state_dict()
        source = fm_model.features.state_dict()
        self.features.load_state_dict({key: source[key] for key in state}, strict=True)

    @torch.no_grad()
    def load_item_features(self, processor: Any) -> None:
        """Install item tables; with ``config.init_from_fm`` copy the trained FM's embeddings."""
        super().load_item_features(processor)
        if self.config.init_from_fm:
            fm_model = FMForCTR.from_pretrained(self.config.init_from_fm)
            self.copy_fm_embeddings(fm_model)


__all__ = ["FNNForCTR"]
