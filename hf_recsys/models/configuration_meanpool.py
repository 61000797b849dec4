"""Mean-pooling next-item baseline configuration."""

from __future__ import annotations

from .configuration_next_item import NextItemConfig


class MeanPoolConfig(NextItemConfig):
    r"""Configuration of :class:`MeanPoolForNextItem`, the order-blind floor of every next-item
    table: the query is the mean of the history's item embeddings (optionally through a linear
    map), scored against the same embeddings.

    Args:
        embedding_dim: item embedding size.
        use_projection: pass the mean through a learned linear map (lets the model learn
            "people who had these buy those" instead of "more of the same").
        dropout: dropout on the item embeddings.
        loss_type / num_negatives: see :class:`NextItemConfig`.
    """

    model_type = "meanpool"
    positive_fields = NextItemConfig.positive_fields + ('embedding_dim',)

    embedding_dim: int = 64
    use_projection: bool = True
    dropout: float = 0.1
