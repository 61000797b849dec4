"""HSTU configuration."""

from __future__ import annotations

from typing import Optional

from .configuration_next_item import NextItemConfig


class HSTUConfig(NextItemConfig):
    r"""Configuration of :class:`HSTUForNextItem` (Zhai et al., "Actions Speak Louder than Words:
    Trillion-Parameter Sequential Transducers for Generative Recommendations", ICML 2024).

    The defaults are the paper's HSTU-large setting for MovieLens-1M (the reference code's
    ``configs/ml-1m/hstu-sampled-softmax-n128-large-final.gin``): 8 blocks, 2 heads,
    ``d_qk = d_v = 25``, item embedding 50, dropout 0.2, sampled softmax with 128 negatives at
    temperature 0.05 over L2-normalised embeddings. The history length (200 in the paper) is
    ``max_history``, set from the data (``--max-history 200``). The smaller "HSTU" row of the
    paper is ``num_layers=2, num_heads=1, qk_dim=50, v_dim=50``.

    Args:
        hidden_size: item embedding and residual stream width (the paper: 50).
        num_layers: HSTU blocks (HSTU-large: 8).
        num_heads: attention heads (HSTU-large: 2).
        qk_dim: query / key size per head (``d_qk``; HSTU-large: 25).
        v_dim: value and gate (``U``) size per head (``d_v``; HSTU-large: 25).
        dropout: dropout on the embeddings and before each block's output projection.
        num_time_buckets: log-scaled buckets of the time gap between a query's and a key's
            interaction, each with a learned attention bias (the reference code: 128).
        time_bucket_divisor: a gap of ``dt`` seconds falls in bucket
            ``floor(ln(max(dt, 1)) / time_bucket_divisor)``, clamped to ``num_time_buckets``
            (the reference code: 0.301).
        use_time_bias: add the time-gap bias when the batch carries ``timestamps``; without
            them (or when False) the relative bias is the position term alone.
        l2_normalize: L2-normalise the user (query) and item embeddings before the dot product
            (the reference code's ``l2_norm`` setting), so scores are cosines over ``temperature``.
        temperature: divisor of the cosine scores when ``l2_normalize`` (the reference code: 0.05).
        layer_norm_eps: epsilon of the (parameter-free) LayerNorms.
        attention_chunk_size: queries per attention chunk. Attention runs per length bucket
            of the batch and, inside it, per chunk of this many queries against the keys up to
            the chunk's end; in training a chunk's score matrix is recomputed in the backward
            pass instead of kept, so memory stays linear in the number of real items.
        loss_type / num_negatives: see :class:`NextItemConfig`; the default here is the
            paper's sampled softmax with 128 negatives.
    """

    model_type = "hstu"
    positive_fields = NextItemConfig.positive_fields + ('hidden_size', 'num_layers', 'num_heads', 'qk_dim', 'v_dim',
                                                       'num_time_buckets', 'attention_chunk_size')

    hidden_size: int = 50
    num_layers: int = 8
    num_heads: int = 2
    qk_dim: int = 25
    v_dim: int = 25
    dropout: float = 0.2
    num_time_buckets: int = 128
    time_bucket_divisor: float = 0.301
    use_time_bias: bool = True
    l2_normalize: bool = True
    temperature: float = 0.05
    layer_norm_eps: float = 1e-6
    attention_chunk_size: int = 256
    loss_type: str = "sampled_softmax"
    num_negatives: Optional[int] = 128

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        for name in ("temperature", "time_bucket_divisor"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
