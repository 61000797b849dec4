"""Building blocks every hf_recsys model shares: the pretrained base, outputs, MLP tower,
Dice, user-feature embeddings, SDPA self-attention and the ``recommend`` mixin.

Model files import from here with ``from .modeling_utils import ...`` (a sibling import), so
``save_pretrained`` with ``register_for_auto_class`` can copy this file next to the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.utils import ModelOutput, logging

from .configuration_utils import RecsysConfig
from .processing_recsys import check_histories

logger = logging.get_logger(__name__)

PAD_INDEX = 0  # Copied from hf_recsys.constants.PAD_INDEX
UNK_INDEX = 1  # Copied from hf_recsys.constants.UNK_INDEX
NUM_SPECIAL = 2  # Copied from hf_recsys.constants.NUM_SPECIAL
IGNORE_INDEX = -100  # Copied from hf_recsys.constants.IGNORE_INDEX


# --------------------------------------------------------------------------- outputs
@dataclass
class CTROutput(ModelOutput):
    """Output of click-through-rate models.

    Args:
        loss: scalar binary cross-entropy, when ``labels`` were given.
        logits: ``[B]`` click logits (apply a sigmoid for probabilities).
        attention_weights: ``[B, L]`` weights over the history, for models that have them.
        aux_loss: scalar auxiliary loss (DIEN), already included in ``loss``.
    """

    loss: Optional[torch.Tensor] = None
    logits: Optional[torch.Tensor] = None
    attention_weights: Optional[torch.Tensor] = None
    aux_loss: Optional[torch.Tensor] = None


@dataclass
class NextItemOutput(ModelOutput):
    """Output of next-item (retrieval) models.

    Args:
        loss: scalar training loss, when ``labels`` were given.
        logits: ``[B, num_items]`` scores of every item for the last position, or
            ``[B, L, num_items]`` when all positions were asked for.
        hidden_states: ``[B, L, H]`` sequence representations.
    """

    loss: Optional[torch.Tensor] = None
    logits: Optional[torch.Tensor] = None
    hidden_states: Optional[torch.Tensor] = None


# --------------------------------------------------------------------------- layers
def uniform_random_bytes(shape: Sequence[int], device: torch.device) -> torch.Tensor:
    """A ``uint8`` tensor of independent uniform bytes, cut from 64-bit random words.

    The explicit bounds matter: int64 ``random_()`` without them draws from ``[0, 2**63)``,
    so every 8th byte (the top one) would never reach 128, and a dropout built on it would
    keep those elements with probability ``(128 - t) / 128`` instead of ``(256 - t) / 256``.
    """
    count = math.prod(shape)
    words = torch.empty((count + 7) // 8, dtype=torch.int64, device=device).random_(-(2**63), 2**63 - 1)
    return words.view(torch.uint8)[:count].view(tuple(shape))


class FastDropout(nn.Module):
    """Inverted dropout that draws 8 random bits per element from 64-bit words.

    On CPU ``nn.Dropout`` draws a Bernoulli sample per element, which costs more than a
    matmul of the same size; one random byte per element is far cheaper. Keep probabilities
    are therefore quantised to 1/256. On GPU this is ``F.dropout``. Uses the global torch
    generator, so ``set_seed`` makes it reproducible.
    """

    def __init__(self, p: float = 0.1):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p
        self.threshold = int(round(p * 256))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.threshold == 0:
            return x
        if x.is_cuda:  # the GPU's Bernoulli is cheap
            return F.dropout(x, self.p, True)
        keep = uniform_random_bytes(x.shape, x.device) >= self.threshold
        return torch.where(keep, x * (256.0 / (256 - self.threshold)), 0.0)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Dice(nn.Module):
    """Dice activation (Zhou et al. 2018): ``p * x + (1 - p) * alpha * x`` with
    ``p = sigmoid(BN(x))``. The BatchNorm is a real module (running statistics, used in eval)
    and ``alpha`` is learned per feature.
    """

    def __init__(self, num_features: int, eps: float = 1e-8):
        super().__init__()
        self.batch_norm = nn.BatchNorm1d(num_features, eps=eps, affine=False)
        self.alpha = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``[N, C]`` or ``[N, L, C]``."""
        if x.dim() == 3:
            normed = self.batch_norm(x.transpose(1, 2)).transpose(1, 2)
        else:
            normed = self.batch_norm(x)
        return _DiceGate.apply(x, normed, self.alpha)


class _DiceGate(torch.autograd.Function):
    """``x * (alpha + (1 - alpha) * sigmoid(z))`` (= Dice's ``p x + (1 - p) alpha x``) with a
    hand-written backward: 3 passes over ``x`` forward and 5 backward instead of autograd's
    ~6 and ~12 (Dice in DIN's activation unit runs on every behaviour of the batch)."""

    @staticmethod
    def forward(ctx, x, z, alpha):
        p = torch.sigmoid(z)
        factor = torch.addcmul(alpha, p, 1 - alpha)
        ctx.save_for_backward(x, p, alpha, factor)
        return x * factor

    @staticmethod
    def backward(ctx, grad):
        x, p, alpha, factor = ctx.saved_tensors
        grad_factor = grad * x
        grad_alpha_terms = grad_factor - grad_factor * p  # d factor / d alpha = 1 - p
        grad_alpha = grad_alpha_terms.reshape(-1, grad_alpha_terms.shape[-1]).sum(0)
        grad_z = grad_factor.mul_(p * (1 - p)).mul_(1 - alpha)
        return grad * factor, grad_z, grad_alpha


class PReLU(nn.PReLU):
    """``nn.PReLU`` (same parameter, same values) with a hand-written CPU path for ``[N, C]``
    inputs: its backward is a few fused element-wise passes instead of PyTorch's generic
    PReLU backward kernel (DIN's activation unit runs on every behaviour of the batch)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.is_cuda:
            return super().forward(x)
        return _PReLUFunction.apply(x, self.weight)


class _PReLUFunction(torch.autograd.Function):
    """``relu(x) + w * min(x, 0)`` on ``[N, C]`` with ``w`` ``[C]`` or ``[1]``."""

    @staticmethod
    def forward(ctx, x, weight):
        negative = torch.clamp(x, max=0)
        ctx.save_for_backward(x, weight, negative)
        return torch.addcmul(torch.relu(x), negative, weight)

    @staticmethod
    def backward(ctx, grad):
        x, weight, negative = ctx.saved_tensors
        positive = torch.gt(x, 0, out=torch.empty_like(x))  # 1.0 / 0.0 (bool masks are slow here)
        slope = torch.addcmul(weight, positive, 1 - weight)  # 1 where x > 0, w elsewhere
        grad_weight = (grad * negative).sum(0)
        if weight.numel() == 1:
            grad_weight = grad_weight.sum().reshape(1)
        return grad * slope, grad_weight


def make_activation(name: str, num_features: int, negative_slope: float = 0.01) -> nn.Module:
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(negative_slope)
    if name == "prelu":
        return PReLU(num_features)
    if name == "dice":
        return Dice(num_features)
    if name == "gelu":
        return nn.GELU()
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "tanh":
        return nn.Tanh()
    raise ValueError(f"unknown activation {name!r}")


class MLP(nn.Module):
    """Linear -> activation -> dropout tower, with an optional final linear projection.

    ``x``: ``[..., input_dim]`` -> ``[..., output_dim or hidden_sizes[-1]]``.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_sizes: Sequence[int],
        activation: str = "relu",
        dropout: float = 0.0,
        output_dim: Optional[int] = None,
        negative_slope: float = 0.01,
    ):
        super().__init__()
        layers: list[nn.Module] = []
        dim = input_dim
        for size in hidden_sizes:
            layers += [nn.Linear(dim, size), make_activation(activation, size, negative_slope)]
            if dropout:
                layers.append(FastDropout(dropout))
            dim = size
        if output_dim is not None:
            layers.append(nn.Linear(dim, output_dim))
            dim = output_dim
        self.layers = nn.Sequential(*layers)
        self.output_dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class UserFeatureEmbedding(nn.Module):
    """One embedding table per categorical user field; outputs the concatenation.

    ``features``: ``[B, F]`` indices -> ``[B, F * dim]`` (``[B, 0]`` when there are no fields).
    """

    def __init__(self, sizes: Sequence[int], dim: int):
        super().__init__()
        self.tables = nn.ModuleList(nn.Embedding(size, dim, padding_idx=PAD_INDEX) for size in sizes)
        self.output_dim = dim * len(self.tables)

    def forward(self, features: Optional[torch.Tensor], batch_size: int, device: torch.device) -> torch.Tensor:
        if not self.tables:
            return torch.zeros(batch_size, 0, device=device)
        if features is None:
            features = torch.full((batch_size, len(self.tables)), UNK_INDEX, dtype=torch.long, device=device)
        return torch.cat([table(features[:, i]) for i, table in enumerate(self.tables)], dim=-1)


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    attn_mask: Optional[torch.Tensor] = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
) -> torch.Tensor:
    """``F.scaled_dot_product_attention`` (``[B, heads, S, d]`` in and out, boolean mask True
    where a query may attend), with attention dropout on CPU drawn like :class:`FastDropout`.

    With ``dropout_p > 0`` PyTorch's CPU path samples a Bernoulli mask (plus checks for
    fully-masked rows), which dominates the attention of a small model; here the mask comes
    from random bytes. Without dropout, or on GPU, this is ``F.scaled_dot_product_attention``
    itself. Fully masked query rows give zeros, as there. The keep probability is quantised
    to 1/256, as in :class:`FastDropout`.
    """
    if dropout_p == 0.0 or q.is_cuda:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal)
    length, key_length = q.shape[-2], k.shape[-2]
    if is_causal:
        causal = torch.ones(length, key_length, dtype=torch.bool, device=q.device).tril()
        attn_mask = causal if attn_mask is None else attn_mask & causal
    scores = torch.matmul(q * (1.0 / math.sqrt(q.shape[-1])), k.transpose(-2, -1))
    if attn_mask is not None and attn_mask.dtype == torch.bool:
        scores = scores.masked_fill(~attn_mask, torch.finfo(scores.dtype).min)
    elif attn_mask is not None:
        scores = scores + attn_mask
    probabilities = torch.softmax(scores, dim=-1)
    threshold = int(round(dropout_p * 256))
    keep = uniform_random_bytes(probabilities.shape, q.device) >= threshold
    if attn_mask is not None and attn_mask.dtype == torch.bool:
        keep = keep & attn_mask  # a fully masked row gets weight 0 everywhere
    probabilities = torch.where(keep, probabilities * (256.0 / (256 - threshold)), 0.0)
    return torch.matmul(probabilities, v)


class SelfAttention(nn.Module):
    """Multi-head self-attention through ``F.scaled_dot_product_attention``.

    ``x``: ``[B, S, H]``; ``attention_mask``: boolean, broadcastable to ``[B, heads, S, S]``,
    True where a query may attend to a key; ``is_causal`` adds the causal mask.
    """

    def __init__(self, hidden_size: int, num_heads: int, dropout: float = 0.0):
        super().__init__()
        if hidden_size % num_heads:
            raise ValueError(f"hidden size {hidden_size} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size)
        self.out = nn.Linear(hidden_size, hidden_size)
        self.dropout = dropout

    def forward(
        self, x: torch.Tensor, attention_mask: Optional[torch.Tensor] = None, is_causal: bool = False
    ) -> torch.Tensor:
        batch, length, hidden = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.num_heads, hidden // self.num_heads).permute(2, 0, 3, 1, 4)
        if is_causal and attention_mask is not None:
            causal = torch.ones(length, length, dtype=torch.bool, device=x.device).tril()
            attention_mask = attention_mask & causal
            is_causal = False
        attended = scaled_dot_product_attention(
            q, k, v, attn_mask=attention_mask, dropout_p=self.dropout if self.training else 0.0, is_causal=is_causal
        )
        return self.out(attended.transpose(1, 2).reshape(batch, length, hidden))


class TransformerBlock(GradientCheckpointingLayer):
    """Self-attention + position-wise feed-forward, post-LN (BST, original SASRec) or pre-LN.

    A ``GradientCheckpointingLayer``: after ``model.activation_checkpointing_enable()`` (or
    ``TrainingArguments(activation_checkpointing=True)``) its ``forward`` keeps no activations
    in training and is recomputed in the backward pass. Callers that run the block's
    computation through another function (SASRec's packed forward) go through
    :meth:`checkpointed` to get the same.
    """

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        ffn_size: int,
        dropout: float = 0.1,
        attention_dropout: float = 0.1,
        activation: str = "gelu",
        pre_norm: bool = False,
        layer_norm_eps: float = 1e-6,
    ):
        super().__init__()
        self.attention = SelfAttention(hidden_size, num_heads, attention_dropout)
        self.ffn = nn.Sequential(
            nn.Linear(hidden_size, ffn_size),
            make_activation(activation, ffn_size),
            FastDropout(dropout),
            nn.Linear(ffn_size, hidden_size),
        )
        self.norm1 = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.dropout = FastDropout(dropout)
        self.pre_norm = pre_norm

    def forward(
        self, x: torch.Tensor, attention_mask: Optional[torch.Tensor] = None, is_causal: bool = False
    ) -> torch.Tensor:
        if self.pre_norm:
            x = x + self.dropout(self.attention(self.norm1(x), attention_mask, is_causal))
            return x + self.dropout(self.ffn(self.norm2(x)))
        x = self.norm1(x + self.dropout(self.attention(x, attention_mask, is_causal)))
        return self.norm2(x + self.dropout(self.ffn(x)))

    def checkpointed(self, function: Any, *args: Any) -> Any:
        """``function(*args)``, recomputed in the backward pass when this block's activation
        checkpointing is on (training only); tensors that need gradients go in ``args``."""
        if self.gradient_checkpointing and self.training:
            return self._gradient_checkpointing_func(function, *args)
        return function(*args)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` ``[B, L, H]`` over positions where ``mask`` ``[B, L]`` is True (0 if none)."""
    weights = mask.to(x.dtype).unsqueeze(-1)
    return (x * weights).sum(1) / weights.sum(1).clamp(min=1.0)


def positions_from_end(mask: torch.Tensor) -> torch.Tensor:
    """``[B, L]`` distance of each valid position from the most recent one (1 = most recent,
    0 at padding). Independent of left or right padding."""
    return mask.long().flip(1).cumsum(1).flip(1) * mask.long()


def binary_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """BCE computed in float32 whatever the autocast dtype."""
    return F.binary_cross_entropy_with_logits(logits.float(), labels.float())


# --------------------------------------------------------------------------- base model
class RecsysPreTrainedModel(PreTrainedModel):
    """Weight initialisation and conventions shared by every hf_recsys model."""

    config_class = RecsysConfig
    base_model_prefix = "recsys"
    main_input_name = "history_ids"
    # our losses are means over the batch; Trainer must scale them for gradient accumulation
    accepts_loss_kwargs = False
    _no_split_modules: list[str] = []

    @property
    def supports_gradient_checkpointing(self) -> bool:
        """True for models built from checkpointable layers (``TransformerBlock``: BST, SASRec), so
        ``activation_checkpointing_enable()`` works on them and refuses the others clearly."""
        return any(isinstance(module, GradientCheckpointingLayer) for module in self.modules())

    def load_item_features(self, processor: Any) -> None:
        """Copy item side features the model embeds (e.g. categories) from a processor.

        Called once before training; the tables are buffers, saved with the weights.
        """

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        std = getattr(self.config, "initializer_range", 0.02)
        if isinstance(module, nn.Linear):
            module.weight.normal_(0.0, std)
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.normal_(0.0, std)
            if module.padding_idx is not None:
                module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            module.weight.fill_(1.0)
            module.bias.zero_()
        elif isinstance(module, Dice):
            module.alpha.zero_()


# --------------------------------------------------------------------------- recommending
def cold_histories(histories: Sequence[Sequence[Any]], unknown: Sequence[Sequence[str]], fallback: Optional[str]) -> list[int]:
    """The rows of ``histories`` with no item the model knows (``unknown``: each history's IDs
    the model lacks). They are an error unless ``fallback="popularity"``; the unknown IDs of the
    other rows are named in a warning, as they are left out."""
    if fallback not in (None, "popularity"):
        raise ValueError(f"fallback must be None or 'popularity', got {fallback!r}")
    cold = [row for row, history in enumerate(histories) if len(unknown[row]) == len(history)]
    if cold and fallback is None:
        row = cold[0]
        raise ValueError(
            f"histories[{row}] has no item the model knows ({', '.join(unknown[row][:5]) or 'it is empty'}); "
            f"pass fallback='popularity' for the model's most frequent training items"
        )
    left_out = [item for row in unknown for item in row]
    if left_out:
        logger.warning(f"{len(left_out)} item(s) of the histories are not known to the model and are left out: "
                       f"{', '.join(left_out[:5])}{' ...' if len(left_out) > 5 else ''}")
    return cold


def check_top_k(k: Any) -> None:
    """Raise ``ValueError`` unless ``k`` (how many items to recommend) is an integer >= 1."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1 (how many items to recommend), got {k!r}")


class RecommenderMixin:
    """``recommend()`` on raw item IDs for any model that can score items.

    A model implements :meth:`score_items`; this mixin encodes raw histories with the saved
    processor, masks padding, unknown and (optionally) already-seen items, and decodes the
    top-k indices back to raw IDs.
    """

    def score_items(self, inputs: dict[str, torch.Tensor], candidate_ids: torch.Tensor) -> torch.Tensor:
        """Scores ``[B, C]`` of ``candidate_ids`` ``[C]`` for each row of ``inputs``."""
        raise NotImplementedError

    def _score_items_with_ctr_forward(
        self, inputs: dict[str, torch.Tensor], candidate_ids: torch.Tensor, max_pairs: int = 65536
    ) -> torch.Tensor:
        """Score candidates with a CTR ``forward`` by pairing every history with every item."""
        batch = inputs["history_ids"].shape[0]
        chunk = max(1, max_pairs // max(batch, 1))
        scores = []
        for start in range(0, len(candidate_ids), chunk):
            items = candidate_ids[start : start + chunk]
            repeated = {k: v.repeat_interleave(len(items), dim=0) for k, v in inputs.items()}
            repeated["target_ids"] = items.repeat(batch)
            scores.append(self(**repeated).logits.view(batch, len(items)).float())
        return torch.cat(scores, dim=1)

    def _get_processor(self, processor: Any = None) -> Any:
        """``processor``, else the one saved beside the model; either must hold the vocabularies
        the model was trained with (``config.processor_fingerprint``), checked once per processor."""
        if processor is None:
            processor = getattr(self, "_recsys_processor", None) or self._load_own_processor()
        if getattr(self, "_checked_processor", None) is not processor:
            processor.check_compatible(getattr(self.config, "processor_fingerprint", None), "the model",
                                       hint="pass the processor saved with the model (processor.save_pretrained into "
                                            "the model's folder; with trainer_kit, kit.save(trainer, folder) saves "
                                            "kit.model and kit.processor together)")
            self._checked_processor = processor
        return processor

    def _load_own_processor(self) -> Any:
        # a sibling import: saved folders carry processing_recsys.py, so this works as remote code
        from .processing_recsys import PROCESSOR_FILE, RecsysProcessor

        source = getattr(self.config, "_name_or_path", None) or getattr(self, "name_or_path", None)
        if not source:
            raise ValueError("this model was not loaded from a folder; pass processor=RecsysProcessor(...)")
        try:
            self._recsys_processor = RecsysProcessor.from_pretrained(source)
        except OSError as error:
            raise ValueError(f"{source} has no {PROCESSOR_FILE} (the ID vocabularies, which read raw IDs): save the "
                             "processor beside the model (processor.save_pretrained(folder)), or pass "
                             "processor=") from error
        return self._recsys_processor

    @torch.no_grad()
    def recommend(
        self,
        histories: Sequence[Sequence[Any]],
        k: int = 10,
        exclude_seen: bool = True,
        users: Optional[Sequence[Any]] = None,
        processor: Any = None,
        return_scores: bool = False,
        fallback: Optional[str] = None,
    ) -> list[list[Any]]:
        """Top-``k`` raw item IDs for each raw history (oldest item first).

        Item IDs the model does not know are left out of their history (a warning names them).
        A history with no known item has nothing to rank from: it is an error, unless
        ``fallback="popularity"``, which gives it the model's most frequent training items
        (with score ``None``).

        Args:
            histories: one list of raw item IDs per user, e.g. ``[["a", "b"], ["c"]]``.
            k: how many items to return per user (at least 1).
            exclude_seen: drop the items of the history, all of it (the model reads only the
                last ``config.max_history``).
            users: raw user IDs (for models that use the user profile or ID).
            processor: a :class:`RecsysProcessor`; loaded from the model's folder when omitted.
            return_scores: return ``(item_id, score)`` pairs instead of IDs.
            fallback: ``None`` or ``"popularity"``, for histories with no known item.
        """
        check_top_k(k)
        processor = self._get_processor(processor)
        check_histories(histories)
        if users is not None and (isinstance(users, (str, bytes)) or len(users) != len(histories)):
            got = f"got {users!r}" if isinstance(users, (str, bytes)) else f"{len(users)} users"
            raise ValueError(f"users must hold one raw user ID (or None) per history: {len(histories)} histories, {got}")
        if users is not None:
            self._warn_unknown_users(users, processor)
        cold = cold_histories(histories, [processor.unknown_items(history) for history in histories], fallback)
        results: list[list[Any]] = [[] for _ in histories]
        for row in cold:
            popular = processor.most_frequent_items(k, exclude=histories[row] if exclude_seen else ())
            results[row] = [(i, None) for i in popular] if return_scores else popular
        cold_rows = set(cold)
        warm = [row for row in range(len(histories)) if row not in cold_rows]
        if not warm:
            return results
        was_training = self.training
        self.eval()
        inputs = processor([histories[row] for row in warm], users=None if users is None else [users[row] for row in warm],
                           max_history=self.config.max_history)
        inputs = {key: value.to(self.device) for key, value in inputs.items()}
        seen = None
        if exclude_seen and max(len(histories[row]) for row in warm) > self.config.max_history:
            seen = processor([histories[row] for row in warm], max_history=max(len(histories[row]) for row in warm))
            seen = seen["history_ids"].to(self.device)
        values, indices = self.top_k_items(self._inputs_for_scoring(inputs), k, exclude_seen=exclude_seen, seen_ids=seen)
        if was_training:
            self.train()
        for row, row_ids, row_scores in zip(warm, indices.tolist(), values.tolist()):
            ids = processor.decode_items(row_ids)
            pairs = [(i, s) for i, s in zip(ids, row_scores) if i is not None and s > -math.inf]
            results[row] = pairs if return_scores else [i for i, _ in pairs]
        return results

    def _warn_unknown_users(self, users: Sequence[Any], processor: Any) -> None:
        """Name the users the processor does not know, for a model that reads the user (its ID,
        or profile fields the processor has): they are scored as the anonymous user."""
        accepted = self._forward_inputs()
        if "user_ids" not in accepted and not ("user_features" in accepted and processor.user_feature_names):
            return
        given = [user for user in users if user is not None]
        unknown = [str(user) for user, index in zip(given, processor.encode_users(given)) if index == UNK_INDEX]
        if unknown:
            logger.warning(f"{len(unknown)} user(s) are not known to the model and are scored as the anonymous user: "
                           f"{', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''}")

    def _item_scorer(self, inputs: dict[str, torch.Tensor]) -> Any:
        """A function ``candidate_ids [C] -> scores [B, C]`` for the rows of ``inputs``. Models
        whose per-history work does not depend on the candidate override it to do that once."""
        return lambda candidate_ids: self.score_items(inputs, candidate_ids)

    @torch.no_grad()
    def top_k_items(
        self, inputs: dict[str, torch.Tensor], k: int, exclude_seen: bool = True, chunk_size: int = 65536,
        seen_ids: Optional[torch.Tensor] = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Top-``k`` scores ``[B, k]`` and item indices ``[B, k]`` over the whole catalogue.

        Candidates are scored ``chunk_size`` at a time and merged into a running top-k, so
        memory is ``O(B x chunk_size)`` whatever the catalogue size (a ``[256, 1M]`` float32
        score matrix alone is 1 GB). Padding and unknown are never returned, nor, with
        ``exclude_seen``, the items of ``seen_ids`` ``[B, S]`` (default: ``inputs["history_ids"]``,
        the history the model reads); ``k`` is capped at the number of real items, and a row with
        fewer candidates than ``k`` ends with ``-inf`` scores.
        """
        num_items = self.config.num_items
        k = min(k, num_items - 2)
        score = self._item_scorer(inputs)
        seen = (inputs["history_ids"] if seen_ids is None else seen_ids) if exclude_seen else None
        best_values = best_indices = None
        for start in range(2, num_items, chunk_size):  # 0 (padding) and 1 (unknown) are skipped
            candidates = torch.arange(start, min(start + chunk_size, num_items), device=self.device)
            scores = score(candidates).float()
            if seen is not None:
                local = seen - start
                inside = (local >= 0) & (local < len(candidates))
                # seen items outside this chunk land in one spare column
                mask = torch.zeros(scores.shape[0], len(candidates) + 1, dtype=torch.bool, device=scores.device)
                mask.scatter_(1, torch.where(inside, local, len(candidates)), True)
                scores.masked_fill_(mask[:, :-1], -math.inf)
            values, indices = scores.topk(min(k, len(candidates)), dim=1)
            indices = indices + start
            if best_values is not None:
                merged = torch.cat([best_values, values], dim=1)
                values, order = merged.topk(min(k, merged.shape[1]), dim=1)
                indices = torch.cat([best_indices, indices], dim=1).gather(1, order)
            best_values, best_indices = values, indices
        return best_values, best_indices

    def _forward_inputs(self) -> Any:
        """The names ``forward`` takes."""
        import inspect

        return inspect.signature(self.forward).parameters

    def _inputs_for_scoring(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Keep the processor outputs that ``forward`` accepts."""
        accepted = self._forward_inputs()
        return {k: v for k, v in inputs.items() if k in accepted}


# --------------------------------------------------------------------------- item embeddings
class ItemCategoryEmbedding(nn.Module):
    """Embeds item indices as ``[item ‖ category]`` (the DIN / DIEN behaviour embedding).

    The item -> category map is a buffer (saved with the weights, so a loaded model is
    self-contained), filled once from a processor with :meth:`load_category_table`.
    ``category_dim = 0`` embeds items alone. ``[...]`` indices -> ``[..., output_dim]``;
    index 0 (padding) embeds to zeros.
    """

    def __init__(self, num_items: int, item_dim: int, num_categories: int, category_dim: int):
        super().__init__()
        self.item_embeddings = nn.Embedding(num_items, item_dim, padding_idx=PAD_INDEX)
        self.category_embeddings = (
            nn.Embedding(num_categories, category_dim, padding_idx=PAD_INDEX) if category_dim else None
        )
        self.register_buffer("item_category", torch.zeros(num_items, dtype=torch.long), persistent=True)
        self.output_dim = item_dim + category_dim

    @torch.no_grad()
    def load_category_table(self, table: Any) -> None:
        """``table``: ``[num_items]`` category index of every item index (None: no categories)."""
        if table is not None and self.category_embeddings is not None:
            self.item_category.copy_(torch.as_tensor(table, dtype=torch.long))

    def forward(self, item_ids: torch.Tensor) -> torch.Tensor:
        embedded = self.item_embeddings(item_ids)
        if self.category_embeddings is None:
            return embedded
        return torch.cat([embedded, self.category_embeddings(self.item_category[item_ids])], dim=-1)


class BehaviourCTRMixin(RecommenderMixin):
    """What the behaviour-sequence CTR models (DIN, DIEN, sum pooling, BST) share: the item ->
    category table goes into ``self.embeddings`` (an :class:`ItemCategoryEmbedding` or anything
    with ``load_category_table``), and ``recommend()`` scores candidates through ``forward``."""

    def load_item_features(self, processor) -> None:
        """Install the item -> category table ``[num_items]`` from the processor."""
        self.embeddings.load_category_table(processor.item_category_table())

    def score_items(self, inputs: dict[str, torch.Tensor], candidate_ids: torch.Tensor) -> torch.Tensor:
        """Scores ``[B, C]`` of ``candidate_ids`` ``[C]``: every history paired with every item."""
        return self._score_items_with_ctr_forward(inputs, candidate_ids)

    def _build_ctr_head(self, input_size: int, activation: str, negative_slope: float = 0.01) -> None:
        """Create ``self.user_features`` (one table per user profile field) and ``self.mlp``, the
        tower from the concatenation of ``input_size`` features and the user profile to one
        click logit (``config.mlp_hidden_sizes``, ``config.dropout``)."""
        config = self.config
        self.user_features = UserFeatureEmbedding(config.user_feature_sizes, config.user_feature_dim)
        self.mlp = MLP(
            input_size + self.user_features.output_dim,
            config.mlp_hidden_sizes,
            activation=activation,
            dropout=config.dropout,
            output_dim=1,
            negative_slope=negative_slope,
        )

    def _user_profile(self, user_features: Optional[torch.Tensor], like: torch.Tensor) -> torch.Tensor:
        """``[B, F * user_feature_dim]`` embedded profile (unknown when ``user_features`` is None);
        ``like`` gives the batch size and device."""
        return self.user_features(user_features, like.shape[0], like.device)

    def _click_output(self, features: Sequence[torch.Tensor], labels: Optional[torch.Tensor], **extra: Any) -> CTROutput:
        """The MLP on the concatenated ``features`` ``[B, *]``: :class:`CTROutput` with ``logits``
        ``[B]``, the BCE ``loss`` when ``labels`` are given, and ``extra`` fields."""
        logits = self.mlp(torch.cat(list(features), dim=-1)).squeeze(-1)
        loss = binary_cross_entropy(logits, labels) if labels is not None else None
        return CTROutput(loss=loss, logits=logits, **extra)


class PooledHistoryCTRMixin(BehaviourCTRMixin):
    """The DIN paper's "embedding & MLP" shape: the history is pooled into one vector (summed,
    or weighted by an attention on the target), and ``[user profile, pooled history, target]``
    goes to the MLP. A model sets ``self.embeddings``, builds its head with
    :meth:`_build_ctr_head` and implements :meth:`pool_history`."""

    def pool_history(
        self, history_ids: torch.Tensor, target_ids: torch.Tensor, history_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """The pooled history ``[B, D]``, the embedded target ``[B, D]`` and extra output fields."""
        raise NotImplementedError

    def forward(
        self,
        history_ids: torch.Tensor,
        target_ids: torch.Tensor,
        history_mask: Optional[torch.Tensor] = None,
        user_features: Optional[torch.Tensor] = None,
        labels: Optional[torch.Tensor] = None,
        **kwargs,
    ) -> CTROutput:
        """
        Args:
            history_ids: ``[B, L]`` item indices, left- or right-padded with 0.
            target_ids: ``[B]`` candidate item indices.
            history_mask: ``[B, L]`` True at real behaviours (default: ``history_ids != 0``).
            user_features: ``[B, F]`` user profile feature indices.
            labels: ``[B]`` 1 for a click, 0 otherwise.

        Returns:
            :class:`CTROutput` with ``logits`` ``[B]``, the pooling's extra fields (DIN:
            ``attention_weights`` ``[B, L]``, 0 at padding) and ``loss`` when ``labels`` are given.
        """
        if history_mask is None:
            history_mask = history_ids != 0
        pooled, query, extra = self.pool_history(history_ids, target_ids, history_mask)
        return self._click_output([self._user_profile(user_features, query), pooled, query], labels, **extra)
