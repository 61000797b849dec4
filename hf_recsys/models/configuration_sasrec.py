"""SASRec configuration."""

from __future__ import annotations

from .configuration_next_item import NextItemConfig


class SASRecConfig(NextItemConfig):
    r"""Configuration of :class:`SASRecForNextItem` (Kang & McAuley, "Self-Attentive Sequential
    Recommendation", ICDM 2018): a causal Transformer decoder over the item sequence.

    Args:
        hidden_size: item embedding and Transformer width (the output layer is tied to the
            item embeddings, so it is also the item vector size).
        num_layers: Transformer blocks (the paper: 2; 0: none, each position's query is its item's
            embedding plus its position, normalised: the ablation of the self-attention).
        num_heads: attention heads (the paper: 1; RecBole: 2).
        ffn_dim: inner size of the position-wise feed-forward layer.
        hidden_act: feed-forward activation (``"gelu"`` or ``"relu"``, the paper's).
        dropout: dropout on embeddings and in the blocks.
        attention_dropout: dropout on attention weights.
        pre_norm: pre-LN blocks with a final LayerNorm (the paper's code normalises before
            attention and at the end) when True; post-LN blocks with a LayerNorm on the
            embeddings (BERT / RecBole style) when False.
        scale_embeddings: multiply item embeddings by ``sqrt(hidden_size)`` before adding
            positions, as the paper's code does.
        layer_norm_eps: LayerNorm epsilon.
        loss_type / num_negatives: see :class:`NextItemConfig` (full cross-entropy by default).
    """

    model_type = "sasrec"
    positive_fields = NextItemConfig.positive_fields + ('hidden_size', 'num_heads', 'ffn_dim')

    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 2
    ffn_dim: int = 256
    hidden_act: str = "gelu"
    dropout: float = 0.2
    attention_dropout: float = 0.2
    pre_norm: bool = True
    scale_embeddings: bool = True
    layer_norm_eps: float = 1e-8
