"""The feature framework of the classic CTR models: every field embedded to ``[B, F, d]``.

:class:`FeatureEmbedding` turns a CTR batch (``user_ids``, ``user_features``, ``target_ids``,
optionally ``history_ids`` and ``numeric_features``) into one embedding per field plus one
first-order weight per field, the inputs every model of the chapter starts from (LR, FM, FNN,
Wide & Deep, DeepFM, AFM, NCF, feature-MLP, CNN). Item fields (categorical or multi-hot, e.g.
genres) are looked up per target item in a table installed from the processor and saved with
the weights. :class:`FeatureCTRMixin` holds what the models share around it: the CTR
``forward`` signature, the BCE loss and ``recommend()``; a model file only implements
:meth:`FeatureCTRMixin.compute_logits`.

Sibling imports only, so ``save_pretrained`` can carry this file as remote code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn

from .configuration_feature_layers import FeatureCTRConfig
from .modeling_utils import MLP, PAD_INDEX, UNK_INDEX, CTROutput, RecommenderMixin, RecsysPreTrainedModel, binary_cross_entropy


@dataclass
class FeatureBatch:
    """The raw inputs of a feature-field model (indices as the collator gives them).

    Attributes:
        target_ids: ``[B]`` target item indices.
        user_ids: ``[B]`` user indices, or None (encoded as unknown).
        user_features: ``[B, F_user]`` user profile indices, or None (unknown).
        history_ids / history_mask: ``[B, L]`` behaviour items and validity (``use_history``).
        numeric_features: ``[B, N]`` float values of the numeric fields.
    """

    target_ids: torch.Tensor
    user_ids: Optional[torch.Tensor] = None
    user_features: Optional[torch.Tensor] = None
    history_ids: Optional[torch.Tensor] = None
    history_mask: Optional[torch.Tensor] = None
    numeric_features: Optional[torch.Tensor] = None

    @property
    def batch_size(self) -> int:
        return self.target_ids.shape[0]


@dataclass
class FieldEmbeddings:
    """What :class:`FeatureEmbedding` returns.

    Attributes:
        embeddings: ``[B, F, d]`` one vector per field (multi-hot fields: mean of the value
            vectors, padding ignored; numeric fields: value times the field's vector), or None
            when the layer was built with ``embedding_dim=0``.
        first_order: ``[B, F]`` one weight per field (same pooling), or None when the layer
            has no first-order table.
    """

    embeddings: Optional[torch.Tensor]
    first_order: Optional[torch.Tensor]


class FeatureEmbedding(nn.Module):
    """Embeds every field of a :class:`FeatureCTRConfig` with one shared lookup.

    All categorical vocabularies live in one table ``[sum of sizes, d]``; each field reads its
    own slice through an offset, so one ``embedding`` call serves every field. Index 0
    (padding) of any field embeds to zeros and is left out of multi-hot means.

    Args:
        config: the field layout and sizes.
        embedding_dim: vector size (default ``config.embedding_dim``).
        with_first_order: also keep a ``[sum of sizes, 1]`` table of first-order weights.
    """

    def __init__(self, config: FeatureCTRConfig, embedding_dim: Optional[int] = None, with_first_order: bool = True):
        super().__init__()
        self.config = config
        self.embedding_dim = config.embedding_dim if embedding_dim is None else embedding_dim
        item_sizes = list(config.item_feature_sizes) if config.use_item_features else []
        item_max_values = list(config.item_feature_max_values) if config.use_item_features else []
        if config.use_item_features and not (
            len(config.item_feature_names) == len(item_sizes) == len(item_max_values)
        ):
            raise ValueError(
                "item_feature_names, item_feature_sizes and item_feature_max_values must have the same "
                f"length; got {config.item_feature_names}, {item_sizes}, {item_max_values}"
            )
        if config.num_fields == 0:
            raise ValueError("the config enables no field: set use_user_id, use_item_id or a feature field")

        # Vocabulary slices of the shared table, in field order (the history reuses item_id's).
        sizes, single_fields = [], []
        if config.use_user_id:
            single_fields.append(len(sizes))
            sizes.append(config.num_users)
        user_sizes = list(config.user_feature_sizes) if config.use_user_features else []
        for size in user_sizes:
            single_fields.append(len(sizes))
            sizes.append(size)
        self.item_id_slice = None
        if config.use_item_id or config.use_history:
            self.item_id_slice = len(sizes)
            sizes.append(config.num_items)
            if config.use_item_id:
                single_fields.append(self.item_id_slice)
        first_item_slice = len(sizes)
        sizes += item_sizes
        offsets = [sum(sizes[:i]) for i in range(len(sizes))]  # plain Python: __init__ may run on "meta"
        self.total_vocabulary = int(sum(sizes))
        # per categorical field (field order, history excluded): its vocabulary size, and per
        # column of raw_categorical()'s [single | item values] output: its field
        self.categorical_field_sizes = [sizes[i] for i in single_fields] + item_sizes
        value_field = [field for field, width in enumerate(item_max_values) for _ in range(width)]
        self.raw_column_fields = list(range(len(single_fields))) + [len(single_fields) + f for f in value_field]
        self.num_user_features = len(user_sizes)
        self.num_item_fields = len(item_sizes)
        self.num_numeric = len(config.numeric_feature_names)

        # embedding_dim=0 keeps only first-order weights (logistic regression)
        self.embeddings = nn.Embedding(max(self.total_vocabulary, 1), self.embedding_dim) if self.embedding_dim else None
        self.first_order = nn.Embedding(max(self.total_vocabulary, 1), 1) if with_first_order else None
        # Index buffers are persistent: transformers 5 builds models on the meta device when
        # loading and only restores buffers that are in the checkpoint.
        history_offset = offsets[self.item_id_slice] if config.use_history else 0
        self.register_buffer("single_offsets", torch.tensor([offsets[i] for i in single_fields], dtype=torch.long))
        self.register_buffer("history_offset", torch.tensor([history_offset], dtype=torch.long))
        # item index -> raw value indices of every item field, side by side: [num_items, sum(max_values)]
        self.item_value_width = len(value_field)
        self.register_buffer(
            "item_value_offsets", torch.tensor([offsets[first_item_slice + f] for f in value_field], dtype=torch.long)
        )
        self.register_buffer("item_value_field", torch.tensor(value_field, dtype=torch.long))
        self.register_buffer("item_feature_table", torch.zeros(config.num_items, self.item_value_width, dtype=torch.long))
        if self.num_numeric:
            self.numeric_vectors = nn.Parameter(torch.zeros(self.num_numeric, self.embedding_dim)) if self.embedding_dim else None
            self.numeric_weights = nn.Parameter(torch.zeros(self.num_numeric)) if with_first_order else None
        # fields per side, for models that build a user and an item vector (NCF)
        num_single_user = int(config.use_user_id) + self.num_user_features
        self.user_side_fields = list(range(num_single_user))
        self.item_side_fields = list(range(num_single_user, num_single_user + int(config.use_item_id) + self.num_item_fields))
        if config.use_history:
            self.user_side_fields.append(len(single_fields) + self.num_item_fields)

    @property
    def num_fields(self) -> int:
        return self.config.num_fields

    @torch.no_grad()
    def load_item_features(self, processor: Any) -> None:
        """Copy the raw value indices of every item field from ``processor`` into
        ``item_feature_table`` ``[num_items, sum(max_values)]``."""
        if not self.num_item_fields:
            return
        columns = []
        for name, max_values in zip(self.config.item_feature_names, self.config.item_feature_max_values):
            table = torch.as_tensor(processor.item_feature_table(name, max_values=max_values), dtype=torch.long)
            columns.append(table.view(table.shape[0], -1)[:, :max_values])
        table = torch.cat(columns, dim=1)
        if table.shape != self.item_feature_table.shape:
            raise ValueError(f"processor item table {tuple(table.shape)} does not fit the config {tuple(self.item_feature_table.shape)}")
        self.item_feature_table.copy_(table)

    def raw_categorical(self, batch: FeatureBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw (un-offset) indices of the single-valued fields ``[B, S]`` and of the item field
        values ``[B, sum(max_values)]``; 0 marks padding."""
        size, device = batch.batch_size, batch.target_ids.device
        columns = []
        if self.config.use_user_id:
            user_ids = batch.user_ids if batch.user_ids is not None else torch.full((size,), UNK_INDEX, device=device)
            columns.append(user_ids.view(size, 1))
        if self.num_user_features:
            features = batch.user_features
            if features is None:
                features = torch.full((size, self.num_user_features), UNK_INDEX, dtype=torch.long, device=device)
            elif features.shape[1] != self.num_user_features:
                raise ValueError(f"user_features has {features.shape[1]} fields, the config {self.num_user_features}")
            columns.append(features)
        if self.config.use_item_id:
            columns.append(batch.target_ids.view(size, 1))
        single = torch.cat(columns, dim=1).long() if columns else batch.target_ids.new_zeros(size, 0)
        return single, self.item_feature_table[batch.target_ids]

    def forward(self, batch: FeatureBatch) -> FieldEmbeddings:
        """``batch`` -> :class:`FieldEmbeddings` with ``[B, F, d]`` embeddings and ``[B, F]``
        first-order weights, fields in ``config.field_names`` order."""
        indices, valid = self._categorical_indices(batch)
        embeddings = self._pool_fields(self.embeddings(indices), valid) if self.embeddings is not None else None
        first_order = self._pool_fields(self.first_order(indices), valid).squeeze(-1) if self.first_order is not None else None
        if self.num_numeric:
            values = batch.numeric_features
            if values is None or values.shape[1] != self.num_numeric:
                raise ValueError(f"the config has {self.num_numeric} numeric fields; pass numeric_features [B, {self.num_numeric}]")
            values = values.float()
            if embeddings is not None:
                embeddings = torch.cat([embeddings, values.unsqueeze(-1) * self.numeric_vectors], dim=1)
            if first_order is not None:
                first_order = torch.cat([first_order, values * self.numeric_weights], dim=1)
        return FieldEmbeddings(embeddings=embeddings, first_order=first_order)

    def _categorical_indices(self, batch: FeatureBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Offset indices into the shared tables ``[B, T]`` (single-valued fields, then item
        field values, then history items) and their validity ``[B, T, 1]``."""
        single, item_values = self.raw_categorical(batch)
        raw = [single, item_values]
        offset = [single + self.single_offsets, item_values + self.item_value_offsets]
        if self.config.use_history:
            if batch.history_ids is None:
                raise ValueError("use_history=True needs history_ids")
            history = batch.history_ids
            if batch.history_mask is not None:
                history = history.masked_fill(~batch.history_mask.bool(), PAD_INDEX)
            raw.append(history)
            offset.append(history + self.history_offset)
        valid = (torch.cat(raw, dim=1) != PAD_INDEX).unsqueeze(-1)
        return torch.cat(offset, dim=1), valid

    def _pool_fields(self, values: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """``[B, T, k]`` looked-up rows -> ``[B, F_categorical, k]``: single-valued fields as
        they are, each multi-hot field (item fields, history) the mean over its valid values."""
        values = values * valid
        num_single = self.single_offsets.shape[0]
        fields = [values[:, :num_single]]
        if self.num_item_fields:
            span = slice(num_single, num_single + self.item_value_width)
            sums = values.new_zeros(values.shape[0], self.num_item_fields, values.shape[-1])
            sums.index_add_(1, self.item_value_field, values[:, span])
            counts = values.new_zeros(values.shape[0], self.num_item_fields, 1)
            counts.index_add_(1, self.item_value_field, valid[:, span].to(values.dtype))
            fields.append(sums / counts.clamp(min=1.0))
        if self.config.use_history:
            span = slice(num_single + self.item_value_width, None)
            count = valid[:, span].sum(1, keepdim=True).clamp(min=1).to(values.dtype)
            fields.append(values[:, span].sum(1, keepdim=True) / count)
        return torch.cat(fields, dim=1)


def fm_pairwise(embeddings: torch.Tensor) -> torch.Tensor:
    """The FM second-order term ``sum_{i<j} <v_i, v_j>`` in O(k n) (Rendle 2010):
    ``0.5 * sum_k [(sum_i v_ik)^2 - sum_i v_ik^2]``.

    ``embeddings``: ``[B, F, d]`` -> ``[B]``.
    """
    square_of_sum = embeddings.sum(1).pow(2)
    sum_of_squares = embeddings.pow(2).sum(1)
    return 0.5 * (square_of_sum - sum_of_squares).sum(-1)


def field_mlp(config: FeatureCTRConfig, field_width: int) -> MLP:
    """The deep part of the field models: the ``[B, num_fields * field_width]`` concatenation of
    every field's vector through ``config.mlp_hidden_sizes`` (``config.activation``,
    ``config.dropout``) to one logit."""
    return MLP(
        config.num_fields * field_width,
        config.mlp_hidden_sizes,
        activation=config.activation,
        dropout=config.dropout,
        output_dim=1,
    )


class FeatureCTRPreTrainedModel(RecsysPreTrainedModel):
    """Initialisation and item-feature loading shared by the feature-field models."""

    config_class = FeatureCTRConfig
    base_model_prefix = "feature_ctr"
    main_input_name = "target_ids"

    @torch.no_grad()
    def load_item_features(self, processor: Any) -> None:
        """Install the item field tables of every :class:`FeatureEmbedding` in the model."""
        for module in self.modules():
            if isinstance(module, FeatureEmbedding):
                module.load_item_features(processor)

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        std = getattr(self.config, "initializer_range", 0.02)
        if isinstance(module, FeatureCTRMixin) and isinstance(getattr(module, "bias", None), nn.Parameter):
            module.bias.zero_()  # the global logit offset of the additive models (LR, FM, AFM, ...)
        if isinstance(module, FeatureEmbedding) and module.num_numeric:
            if module.numeric_vectors is not None:
                module.numeric_vectors.normal_(0.0, std)
            if module.numeric_weights is not None:
                module.numeric_weights.zero_()


class FeatureCTRMixin(RecommenderMixin):
    """The CTR ``forward`` every feature-field model shares; a model class combines it with
    the family's pretrained base (``class LRForCTR(FeatureCTRMixin, FeatureCTRPreTrainedModel)``,
    setting its own ``config_class``) and implements :meth:`compute_logits` on a
    :class:`FeatureBatch`."""

    def compute_logits(self, batch: FeatureBatch, output_attentions: bool = False) -> CTROutput:
        """``CTROutput`` with ``logits`` ``[B]`` (and model-specific extras), without loss."""
        raise NotImplementedError

    def forward(
        self,
        target_ids: torch.Tensor,
        user_ids: Optional[torch.Tensor] = None,
        user_features: Optional[torch.Tensor] = None,
        numeric_features: Optional[torch.Tensor] = None,
        history_ids: Optional[torch.Tensor] = None,
        history_mask: Optional[torch.Tensor] = None,
        labels: Optional[torch.Tensor] = None,
        output_attentions: bool = False,
        **kwargs,
    ) -> CTROutput:
        """
        Args:
            target_ids: ``[B]`` candidate item indices.
            user_ids: ``[B]`` user indices (unknown when omitted).
            user_features: ``[B, F_user]`` user profile indices (unknown when omitted).
            numeric_features: ``[B, N]`` values of ``config.numeric_feature_names``.
            history_ids / history_mask: ``[B, L]`` behaviours, read only with ``use_history``.
            labels: ``[B]`` 1 for a click, 0 otherwise.
            output_attentions: return attention weights for models that have them (AFM).

        Returns:
            :class:`CTROutput` with ``logits`` ``[B]`` and ``loss`` (BCE) when ``labels`` are given.
        """
        batch = FeatureBatch(target_ids, user_ids, user_features, history_ids, history_mask, numeric_features)
        output = self.compute_logits(batch, output_attentions=output_attentions)
        if labels is None:
            return output
        # a new output rather than setting .loss: ModelOutput keeps only keys set at creation
        return CTROutput(
            loss=binary_cross_entropy(output.logits, labels),
            logits=output.logits,
            attention_weights=output.attention_weights,
        )

    def score_items(self, inputs: dict[str, torch.Tensor], candidate_ids: torch.Tensor) -> torch.Tensor:
        return self._score_items_with_ctr_forward(inputs, candidate_ids)


__all__ = [
    "FeatureBatch",
    "FieldEmbeddings",
    "FeatureEmbedding",
    "FeatureCTRPreTrainedModel",
    "FeatureCTRMixin",
    "fm_pairwise",
    "field_mlp",
]
