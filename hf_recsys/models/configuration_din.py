"""DIN configuration."""

from __future__ import annotations

from dataclasses import field

from .configuration_utils import CTR_TRAINING_DEFAULTS, RecsysConfig


class DINConfig(RecsysConfig):
    r"""Configuration of :class:`DINForCTR` (Deep Interest Network, Zhou et al., KDD 2018).

    Args:
        item_embedding_dim: size of the item ID embedding.
        category_embedding_dim: size of the category embedding concatenated to it (0: none).
            A behaviour (and the target) is embedded as ``[item ‖ category]``.
        user_feature_dim: embedding size of each user profile field.
        attention_hidden_sizes: hidden layers of the local activation unit, an MLP on
            ``[q, k, q - k, q * k]`` that ends in one output (paper figure: 36, authors' code
            80-40).
        attention_activation: activation inside the activation unit: ``"prelu"`` (paper),
            ``"sigmoid"`` (authors' code), ``"dice"`` (its batch statistics then cover every
            history position, padding included), ``"relu"``.
        attention_normalization: ``"none"`` (paper: raw weights, so the pooled vector keeps the
            intensity of the user's interest) or ``"softmax"`` over the valid positions.
        mlp_hidden_sizes: the MLP on [user profile, pooled history, target] (paper: 200-80).
        mlp_activation: ``"dice"`` (paper) or ``"prelu"`` / ``"relu"`` / ...
        dropout: dropout after each MLP layer (the paper uses none).
    """

    model_type = "din"
    positive_fields = RecsysConfig.positive_fields + ('item_embedding_dim',)
    keys_to_ignore_at_inference = ["attention_weights", "aux_loss"]
    #: training options this model is tuned for (not saved in ``config.json``)
    training_defaults = CTR_TRAINING_DEFAULTS

    item_embedding_dim: int = 32
    category_embedding_dim: int = 32
    user_feature_dim: int = 8
    attention_hidden_sizes: list[int] = field(default_factory=lambda: [80, 40])
    attention_activation: str = "prelu"
    attention_normalization: str = "none"
    mlp_hidden_sizes: list[int] = field(default_factory=lambda: [200, 80])
    mlp_activation: str = "dice"
    dropout: float = 0.0

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if self.attention_normalization not in ("none", "softmax"):
            raise ValueError(f"attention_normalization must be 'none' or 'softmax', got {self.attention_normalization!r}")

    @property
    def hidden_size(self) -> int:
        return self.item_embedding_dim + self.category_embedding_dim
