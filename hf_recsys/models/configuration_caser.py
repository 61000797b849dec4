"""Caser configuration."""

from __future__ import annotations

from .configuration_next_item import NextItemConfig


class CaserConfig(NextItemConfig):
    r"""Configuration of :class:`CaserForNextItem` (Tang & Wang, "Personalized Top-N Sequential
    Recommendation via Convolutional Sequence Embedding", WSDM 2018).

    Args:
        embedding_dim: item (and user) embedding size ``d``.
        window_length: ``L``, how many most recent items the convolutions see (the paper: 5).
        num_horizontal_filters: ``n_h`` filters for each height ``1..L`` (the paper: 16).
        num_vertical_filters: ``n_v`` vertical filters (the paper: 4).
        dropout: dropout on the concatenated convolution outputs (the paper: 0.5).
        use_user_embedding: concatenate a user embedding to the sequence representation (the
            paper's ``P_u``); histories of unknown users use the unknown-user row.
        loss_type / num_negatives: see :class:`NextItemConfig`.
    """

    model_type = "caser"
    positive_fields = NextItemConfig.positive_fields + ('embedding_dim', 'window_length')

    embedding_dim: int = 50
    window_length: int = 5
    num_horizontal_filters: int = 16
    num_vertical_filters: int = 4
    dropout: float = 0.5
    use_user_embedding: bool = True
