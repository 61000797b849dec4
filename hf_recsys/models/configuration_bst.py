"""BST configuration."""

from __future__ import annotations

from dataclasses import field

from .configuration_utils import CTR_TRAINING_DEFAULTS, RecsysConfig


class BSTConfig(RecsysConfig):
    r"""Configuration of :class:`BSTForCTR` (Behavior Sequence Transformer, Chen et al. 2019).

    Args:
        item_embedding_dim: size of the item ID embedding.
        category_embedding_dim: size of the item category embedding, concatenated to the item
            embedding (0 disables categories). The Transformer width is the sum of both.
        num_layers: Transformer blocks (the paper found 1 best; 0: none, the embedded history goes to
            the MLP as it is, the ablation of the self-attention).
        num_heads: attention heads (the paper uses 8).
        ffn_dim: inner size of the position-wise feed-forward layer.
        position_type: ``"time_gap"`` (the paper: log-bucketed time between each behaviour
            and the target, needs timestamps), ``"learned"`` (distance from the target) or
            ``"none"``.
        num_time_buckets: number of time-gap buckets.
        dropout: dropout in the Transformer blocks (after attention and in the feed-forward
            layer) and in the MLP.
        attention_dropout: dropout on the attention weights.
        user_feature_dim: embedding size of each user profile field.
        mlp_hidden_sizes: the MLP on [target output, mean history output, user profile];
            the paper uses 1024-512-256 with LeakyReLU.
        leaky_relu_slope: negative slope of the MLP's LeakyReLU.
    """

    model_type = "bst"
    positive_fields = RecsysConfig.positive_fields + ('item_embedding_dim', 'num_heads', 'ffn_dim', 'num_time_buckets')
    training_defaults = CTR_TRAINING_DEFAULTS

    item_embedding_dim: int = 32
    category_embedding_dim: int = 32
    num_layers: int = 1
    num_heads: int = 8
    ffn_dim: int = 256
    position_type: str = "learned"
    num_time_buckets: int = 48
    dropout: float = 0.1
    attention_dropout: float = 0.0
    user_feature_dim: int = 8
    mlp_hidden_sizes: list[int] = field(default_factory=lambda: [256, 128])
    leaky_relu_slope: float = 0.01

    @property
    def hidden_size(self) -> int:
        return self.item_embedding_dim + self.category_embedding_dim
