"""Sum-pooling CTR baseline configuration."""

from __future__ import annotations

from dataclasses import field

from .configuration_utils import CTR_TRAINING_DEFAULTS, RecsysConfig


class SumPoolConfig(RecsysConfig):
    r"""Configuration of :class:`SumPoolForCTR`, the floor DIN and DIEN are compared against:
    the same embeddings and MLP as DIN, but the history is summed without attention.

    Args:
        item_embedding_dim: size of the item ID embedding.
        category_embedding_dim: size of the category embedding concatenated to it (0: none).
        user_feature_dim: embedding size of each user profile field.
        mlp_hidden_sizes: the MLP on [target, summed history, user profile] (DIN paper: 200-80).
        mlp_activation: ``"dice"`` (DIN paper), ``"prelu"``, ``"relu"``, ...
        dropout: dropout after each MLP layer (the papers use none).
    """

    model_type = "sumpool"
    positive_fields = RecsysConfig.positive_fields + ('item_embedding_dim',)
    keys_to_ignore_at_inference = ["attention_weights", "aux_loss"]
    #: training options this model is tuned for (not saved in ``config.json``)
    training_defaults = CTR_TRAINING_DEFAULTS

    item_embedding_dim: int = 32
    category_embedding_dim: int = 32
    user_feature_dim: int = 8
    mlp_hidden_sizes: list[int] = field(default_factory=lambda: [200, 80])
    mlp_activation: str = "dice"
    dropout: float = 0.0

    @property
    def hidden_size(self) -> int:
        return self.item_embedding_dim + self.category_embedding_dim
