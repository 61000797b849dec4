"""DIEN configuration."""

from __future__ import annotations

from dataclasses import field

from .configuration_utils import CTR_TRAINING_DEFAULTS, RecsysConfig

GRU_TYPES = ("augru", "aigru", "agru")
ATTENTION_TYPES = ("bilinear", "mlp")
AUX_SCORERS = ("inner_product", "mlp")


class DIENConfig(RecsysConfig):
    r"""Configuration of :class:`DIENForCTR` (Deep Interest Evolution Network, Zhou et al.,
    AAAI 2019).

    Both GRUs have the width of a behaviour embedding (``item_embedding_dim +
    category_embedding_dim``), as in the authors' code, so hidden states and item embeddings
    can be compared directly (auxiliary loss, attention).

    Args:
        item_embedding_dim: size of the item ID embedding.
        category_embedding_dim: size of the category embedding concatenated to it (0: none).
        user_feature_dim: embedding size of each user profile field.
        gru_type: the interest evolving layer: ``"augru"`` (paper's best: attention scales
            the update gate), ``"aigru"`` (attention scales the GRU input) or ``"agru"``
            (attention replaces the update gate).
        attention_type: how the target attends to each interest state h_t before the softmax
            over valid steps: ``"bilinear"`` (paper eq. 5: ``h_t W e_target``) or ``"mlp"``
            (DIN's activation unit, as in the authors' code).
        attention_hidden_sizes / attention_activation: the activation unit for ``"mlp"``.
        aux_loss_alpha: weight of the auxiliary loss in the training loss (0 disables it).
        aux_scorer: how h_t is scored against the next behaviour: ``"inner_product"``
            (paper eq. 3) or ``"mlp"`` on ``[h_t ‖ e]`` (authors' code).
        aux_hidden_sizes: hidden layers of the ``"mlp"`` scorer (authors' code: 100-50).
        mlp_hidden_sizes: final MLP on [user profile, target, final interest] (paper: 200-80).
        mlp_activation: ``"dice"`` (paper) or ``"prelu"`` / ``"relu"`` / ...
        dropout: dropout after each final MLP layer (the paper uses none).
        compiled_recurrence: run both GRUs' time-step loops as a small C++ extension
            (``models/compiled_gru.py``; built with the system compiler on first use, ~15-20 s
            once per machine, then cached), same function as the pure PyTorch loop; falls back
            to it when the build fails, for float64 / non-CPU tensors, and when
            ``HF_RECSYS_PURE_GRU=1``. Off by default.
    """

    model_type = "dien"
    positive_fields = RecsysConfig.positive_fields + ('item_embedding_dim',)
    keys_to_ignore_at_inference = ["attention_weights", "aux_loss"]
    #: training options this model is tuned for (not saved in ``config.json``)
    training_defaults = CTR_TRAINING_DEFAULTS

    item_embedding_dim: int = 32
    category_embedding_dim: int = 32
    user_feature_dim: int = 8
    gru_type: str = "augru"
    attention_type: str = "bilinear"
    attention_hidden_sizes: list[int] = field(default_factory=lambda: [80, 40])
    attention_activation: str = "prelu"
    aux_loss_alpha: float = 1.0
    aux_scorer: str = "inner_product"
    aux_hidden_sizes: list[int] = field(default_factory=lambda: [100, 50])
    mlp_hidden_sizes: list[int] = field(default_factory=lambda: [200, 80])
    mlp_activation: str = "dice"
    dropout: float = 0.0
    compiled_recurrence: bool = False

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        for name, allowed in (("gru_type", GRU_TYPES), ("attention_type", ATTENTION_TYPES), ("aux_scorer", AUX_SCORERS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.aux_loss_alpha < 0:
            raise ValueError(f"aux_loss_alpha must be >= 0, got {self.aux_loss_alpha}")

    @property
    def hidden_size(self) -> int:
        return self.item_embedding_dim + self.category_embedding_dim
