"""CNN over the field embedding matrix (after CCPM: Liu, Yu, Wu, Wang, "A Convolutional
Click Prediction Model", CIKM 2015).

The ``[F, d]`` matrix of field embeddings is an image with one channel. Each layer convolves
across neighbouring fields (kernel ``(h, 1)``, wide convolution: padded by ``h - 1`` on both
sides, one kernel per embedding dimension as in the paper), applies tanh, and keeps the ``p_i``
largest activations per map in their original order (flexible k-max pooling,
``p_i = ceil((1 - (i/l)^(l-i)) F)``, ``p_l = last_pooling_size``). The last maps are
flattened into an MLP. Field order matters: neighbouring fields are the ones a kernel mixes.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .configuration_cnn import CNNConfig
from .feature_layers import FeatureBatch, FeatureCTRMixin, FeatureCTRPreTrainedModel, FeatureEmbedding
from .modeling_utils import MLP, CTROutput


def k_max_pooling(x: torch.Tensor, k: int, dim: int) -> torch.Tensor:
    """The ``k`` largest values along ``dim``, kept in their original order."""
    index = x.topk(min(k, x.shape[dim]), dim=dim).indices.sort(dim=dim).values
    return x.gather(dim, index)


def ccpm_pooling_sizes(num_fields: int, num_layers: int, last: int) -> list[int]:
    """CCPM's flexible p-max pooling sizes, one per layer."""
    sizes = []
    for i in range(1, num_layers + 1):
        size = last if i == num_layers else math.ceil((1 - (i / num_layers) ** (num_layers - i)) * num_fields)
        sizes.append(max(1, size))
    return sizes


class CNNPreTrainedModel(FeatureCTRPreTrainedModel):
    config_class = CNNConfig
    base_model_prefix = "cnn"

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, nn.Conv2d):
            # tanh convolutions: Xavier keeps the small field embeddings' signal alive; a
            # random bias would saturate tanh with a sample-independent constant
            nn.init.xavier_uniform_(module.weight, gain=nn.init.calculate_gain("tanh"))
            if module.bias is not None:
                module.bias.zero_()


class CNNForCTR(FeatureCTRMixin, CNNPreTrainedModel):
    """CNN over field embeddings with a CTR head."""

    def __init__(self, config: CNNConfig):
        super().__init__(config)
        if len(config.conv_channels) != len(config.conv_kernel_heights) or not config.conv_channels:
            raise ValueError("conv_channels and conv_kernel_heights need one entry per layer (at least one)")
        self.features = FeatureEmbedding(config, with_first_order=False)
        self.pooling_sizes = ccpm_pooling_sizes(config.num_fields, len(config.conv_channels), config.last_pooling_size)
        self.convolutions = nn.ModuleList()
        channels, length = 1, config.num_fields
        for out_channels, height, pooled in zip(config.conv_channels, config.conv_kernel_heights, self.pooling_sizes):
            self.convolutions.append(nn.Conv2d(channels, out_channels, kernel_size=(height, 1), padding=(height - 1, 0)))
            channels, length = out_channels, min(pooled, length + height - 1)
        self.mlp = MLP(
            channels * length * config.embedding_dim,
            config.mlp_hidden_sizes,
            activation="relu",
            dropout=config.dropout,
            output_dim=1,
        )
        self.post_init()

    def compute_logits(self, batch: FeatureBatch, output_attentions: bool = False) -> CTROutput:
        maps = self.features(batch).embeddings.unsqueeze(1)  # [B, 1, F, d]
        for convolution, pooled in zip(self.convolutions, self.pooling_sizes):
            maps = k_max_pooling(torch.tanh(convolution(maps)), pooled, dim=2)  # [B, C, p, d]
        return CTROutput(logits=self.mlp(maps.flatten(1)).squeeze(-1))


__all__ = ["CNNPreTrainedModel", "CNNForCTR", "k_max_pooling", "ccpm_pooling_sizes"]
