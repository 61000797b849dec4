"""GRU4Rec configuration."""

from __future__ import annotations

from .configuration_next_item import NextItemConfig


class GRU4RecConfig(NextItemConfig):
    r"""Configuration of :class:`GRU4RecForNextItem` (Hidasi et al., "Session-based
    Recommendations with Recurrent Neural Networks", ICLR 2016).

    Args:
        embedding_dim: item embedding size (also the item vector size of the tied output).
        hidden_size: GRU state size.
        num_layers: stacked GRU layers.
        dropout: dropout on the input embeddings (and between GRU layers).
        loss_type / num_negatives: see :class:`NextItemConfig`.
        compiled_recurrence: run the GRU's time-step loops as a small C++ extension
            (``models/compiled_gru.py``, built on first use and cached; same function, pure
            PyTorch fallback), as ``DIENConfig.compiled_recurrence``. Off by default.
    """

    model_type = "gru4rec"
    positive_fields = NextItemConfig.positive_fields + ('embedding_dim', 'hidden_size', 'num_layers')

    embedding_dim: int = 64
    hidden_size: int = 128
    num_layers: int = 1
    dropout: float = 0.3
    compiled_recurrence: bool = False
