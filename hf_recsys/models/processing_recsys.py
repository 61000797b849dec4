"""The recommendation processor: the "tokenizer" of a recommender.

It owns the vocabularies that map raw user, item and feature IDs to the contiguous indices
a model embeds, and back. Index 0 is padding and index 1 the unknown bucket in every
vocabulary, so an ID never seen in training still encodes (to 1) instead of failing.
It is saved as one human-readable JSON file next to every model.

This module imports nothing from ``hf_recsys``: ``save_pretrained`` copies it into the model
folder (with ``processor_config.json`` naming it for ``AutoProcessor``) and the modeling files
import it as a sibling, so ``AutoProcessor.from_pretrained(folder, trust_remote_code=True)``
and ``model.recommend(raw_ids)`` work in a Python where ``hf_recsys`` is not installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from typing import Any, Callable, Iterable, Optional, Sequence, Union

import numpy as np
import pandas as pd
import torch
from transformers.utils import PushToHubMixin, cached_file

PAD_INDEX = 0  # Copied from hf_recsys.constants.PAD_INDEX
UNK_INDEX = 1  # Copied from hf_recsys.constants.UNK_INDEX
NUM_SPECIAL = 2  # Copied from hf_recsys.constants.NUM_SPECIAL
PROCESSOR_FILE = "recsys_processor.json"
#: what ``AutoProcessor`` reads: the class name and, for remote code, ``auto_map``
PROCESSOR_CONFIG_FILE = "processor_config.json"
#: how many of a fine-tuning log's most frequent items a grown processor keeps (popularity fallback)
POPULAR_ITEMS_KEPT = 1000
#: keyword arguments of ``cached_file`` that ``from_pretrained`` passes on
_HUB_KWARGS = ("cache_dir", "force_download", "proxies", "token", "revision", "local_files_only", "subfolder")


class VocabularyMismatchError(ValueError):
    """Data encoded with vocabularies other than the ones a model was trained with."""


PathLike = Union[str, os.PathLike]


# Copied from hf_recsys.files.write_atomically
def write_atomically(path: PathLike, write: Callable[[str], object]) -> str:
    """Call ``write(temporary_path)`` on a temporary file next to ``path``, then rename it over
    ``path`` (an atomic replace on one file system). On any error the temporary file is removed
    and ``path`` keeps its old content. Returns ``path`` as a string."""
    path = os.fspath(path)
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    # the temporary name ends in the real suffix: writers such as torch.export.save check it
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.",
                                             suffix=".tmp" + os.path.splitext(path)[1])
    os.close(descriptor)
    try:
        write(temporary)
        os.chmod(temporary, 0o644)  # mkstemp files are private by default
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return path


# Copied from hf_recsys.files.write_text_atomically
def write_text_atomically(path: PathLike, text: str) -> str:
    """``write_atomically`` for a UTF-8 text file."""

    def write(temporary: str) -> None:
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(text)

    return write_atomically(path, write)


def _digest(tokens: Sequence[str]) -> str:
    """A short stable hash of a token list (order matters: it is the index assignment)."""
    return hashlib.sha256("\x1f".join(tokens).encode("utf-8")).hexdigest()[:16]


def check_histories(histories: Any) -> None:
    """Raise ``TypeError`` unless ``histories`` is a list with one list of raw item IDs per
    user: a flat list of IDs or a string would otherwise be read as many one-character
    histories."""
    example = "one list of raw item IDs per user, e.g. [['item_a', 'item_b'], ['item_c']]"
    if isinstance(histories, (str, bytes)) or not isinstance(histories, (Sequence, np.ndarray)):
        raise TypeError(f"histories must be {example}; got {type(histories).__name__} {histories!r:.60}")
    for row, history in enumerate(histories):
        if isinstance(history, (str, bytes)) or not isinstance(history, (Sequence, np.ndarray)):
            raise TypeError(f"histories must be {example}; histories[{row}] is {type(history).__name__} "
                            f"{history!r:.60}")


class Vocabulary:
    """Raw string IDs <-> indices, with 0 = padding and 1 = unknown."""

    def __init__(self, tokens: Sequence[str]):
        self.tokens = [str(t) for t in tokens]
        self._index = pd.Index(self.tokens)
        if not self._index.is_unique:
            raise ValueError("vocabulary tokens must be unique")

    @classmethod
    def from_values(cls, values: Iterable[Any], order: str = "frequency") -> "Vocabulary":
        """Build from raw values; ``order="frequency"`` puts frequent IDs first (stable)."""
        series = pd.Series(values, dtype="object").astype(str)
        if order == "frequency":
            counts = series.value_counts(sort=False)
            # stable: ties keep first appearance order
            first = pd.Series(np.arange(len(counts)), index=counts.index)
            order_df = pd.DataFrame({"n": counts.values, "first": first.values}, index=counts.index)
            tokens = order_df.sort_values(["n", "first"], ascending=[False, True], kind="stable").index
        else:
            tokens = pd.unique(series)
        return cls(list(tokens))

    def __len__(self) -> int:
        """Vocabulary size including the two special indices."""
        return len(self.tokens) + NUM_SPECIAL

    def encode(self, values: Union[Sequence[Any], np.ndarray, pd.Series]) -> np.ndarray:
        """Raw IDs -> int64 indices; unknown IDs map to :data:`UNK_INDEX`."""
        arr = np.asarray(values, dtype=object).astype(str) if not isinstance(values, pd.Series) else values.astype(str)
        positions = self._index.get_indexer(arr)
        return np.where(positions < 0, UNK_INDEX, positions + NUM_SPECIAL).astype(np.int64)

    def decode(self, indices: Union[Sequence[int], np.ndarray]) -> list[Optional[str]]:
        """Indices -> raw IDs; padding and unknown decode to ``None``."""
        out: list[Optional[str]] = []
        for i in np.asarray(indices).ravel().tolist():
            out.append(self.tokens[i - NUM_SPECIAL] if i >= NUM_SPECIAL else None)
        return out


class RecsysProcessor(PushToHubMixin):
    """Vocabularies and feature tables that travel with a model.

    Load it like any processor: ``AutoProcessor.from_pretrained(folder_or_repo)`` (add
    ``trust_remote_code=True`` where ``hf_recsys`` is not installed).

    Args:
        items: item vocabulary (raw IDs, most frequent first).
        users: user vocabulary.
        user_features: per categorical user field, its vocabulary.
        user_feature_values: per field, the raw value of each known user (aligned with ``users``).
        item_features: per item field, its vocabulary.
        item_feature_values: per field, the raw value(s) of each known item (aligned with
            ``items``); multi-valued fields hold lists.
        multi_valued_item_features: names of item fields that hold lists (e.g. genres).
        max_history: the history length models were trained with.
        dataset_name: where the vocabularies came from (for model cards).
        popular_items: the most frequent items of the log the model was last trained on, most
            frequent first (fine-tuning sets it: a grown vocabulary keeps the first log's
            order); ``None``: the item vocabulary's order, which is its log's frequency order.
    """

    def __init__(
        self,
        items: Sequence[str],
        users: Sequence[str] = (),
        user_features: Optional[dict[str, Sequence[str]]] = None,
        user_feature_values: Optional[dict[str, Sequence[Optional[str]]]] = None,
        item_features: Optional[dict[str, Sequence[str]]] = None,
        item_feature_values: Optional[dict[str, Sequence[Any]]] = None,
        multi_valued_item_features: Sequence[str] = (),
        max_history: int = 50,
        dataset_name: str = "custom",
        has_timestamps: bool = True,
        popular_items: Optional[Sequence[str]] = None,
    ):
        self.item_vocab = Vocabulary(items)
        self.user_vocab = Vocabulary(users)
        self.user_feature_vocabs = {k: Vocabulary(v) for k, v in (user_features or {}).items()}
        self.item_feature_vocabs = {k: Vocabulary(v) for k, v in (item_features or {}).items()}
        self.user_feature_values = {k: list(v) for k, v in (user_feature_values or {}).items()}
        self.item_feature_values = {k: list(v) for k, v in (item_feature_values or {}).items()}
        self.multi_valued_item_features = tuple(multi_valued_item_features)
        self.max_history = int(max_history)
        self.dataset_name = dataset_name
        self.has_timestamps = bool(has_timestamps)
        self.popular_items = None if popular_items is None else [str(i) for i in popular_items]
        self._user_feature_matrix: Optional[np.ndarray] = None

    # ------------------------------------------------------------------ building
    @classmethod
    def fit(cls, log: Any, max_history: int = 50, interactions: Optional[pd.DataFrame] = None) -> "RecsysProcessor":
        """Build vocabularies from an ``InteractionLog`` (or from ``interactions``, e.g. only the
        training part).

        Items and users come from the interactions; feature vocabularies from the side tables,
        restricted to the users and items that occur.
        """
        df = log.interactions if interactions is None else interactions
        items = Vocabulary.from_values(df["item_id"]).tokens
        users = Vocabulary.from_values(df["user_id"], order="appearance").tokens
        user_features, user_values = {}, {}
        if log.users is not None:
            table = log.users.drop_duplicates("user_id").set_index("user_id").reindex(users)
            for name in log.user_feature_names:
                column = table[name]
                user_features[name] = Vocabulary.from_values(column.dropna()).tokens
                user_values[name] = [None if pd.isna(v) else str(v) for v in column.tolist()]
        item_features, item_values = {}, {}
        if log.items is not None:
            table = log.items.drop_duplicates("item_id").set_index("item_id").reindex(items)
            for name in log.item_feature_names:
                column = table[name]
                if name in log.multi_valued_item_features:
                    lists = [list(v) if isinstance(v, (list, tuple, np.ndarray)) else [] for v in column.tolist()]
                    item_features[name] = Vocabulary.from_values([x for vs in lists for x in vs]).tokens
                    item_values[name] = [[str(x) for x in vs] for vs in lists]
                elif name == "title":
                    continue  # free text is not a categorical feature
                else:
                    item_features[name] = Vocabulary.from_values(column.dropna()).tokens
                    item_values[name] = [None if pd.isna(v) else str(v) for v in column.tolist()]
        return cls(
            items=items,
            users=users,
            user_features=user_features,
            user_feature_values=user_values,
            item_features=item_features,
            item_feature_values=item_values,
            multi_valued_item_features=[n for n in log.multi_valued_item_features if n in item_features],
            max_history=max_history,
            dataset_name=log.name,
            has_timestamps=log.has_timestamps,
        )

    def extended_with(
        self,
        other: "RecsysProcessor",
        items: bool = True,
        users: bool = True,
        feature_values: bool = True,
    ) -> tuple["RecsysProcessor", dict[str, int]]:
        """This processor plus the IDs of ``other`` it does not know, appended (fine-tuning on a
        new log).

        Every index this processor assigns stays the same, so a model trained with it keeps its
        rows; new IDs get the next indices, in ``other``'s order (most frequent first). New items
        and users bring their side-feature values from ``other``; known ones keep the values
        saved here. Only the fields this processor has are kept (a model cannot embed others).

        Args:
            other: a processor fitted on the new log.
            items / users / feature_values: which vocabularies grow; one that does not keep
                its size (unknown IDs then encode to :data:`UNK_INDEX`), but new users still
                carry their raw feature values.

        Returns:
            ``(processor, counts)``: the extended processor and how many IDs ``other`` had that
            this one lacks, under ``"items"``, ``"users"`` and ``"feature:NAME"`` (counted
            whether or not they were appended).
        """

        def unseen(known: Vocabulary, tokens: Sequence[str]) -> list[str]:
            tokens = list(tokens)
            return [t for t, i in zip(tokens, known.encode(tokens)) if i == UNK_INDEX] if tokens else []

        counts: dict[str, int] = {}
        new_items = unseen(self.item_vocab, other.item_vocab.tokens)
        new_users = unseen(self.user_vocab, other.user_vocab.tokens)
        counts["items"], counts["users"] = len(new_items), len(new_users)
        added_items = new_items if items else []
        added_users = new_users if users else []

        def new_feature_tokens(vocabs: dict[str, Vocabulary], other_vocabs: dict[str, Vocabulary]) -> dict[str, list[str]]:
            out = {}
            for name, vocab in vocabs.items():
                fresh = unseen(vocab, other_vocabs[name].tokens) if name in other_vocabs else []
                counts[f"feature:{name}"] = len(fresh)
                out[name] = vocab.tokens + (fresh if feature_values else [])
            return out

        user_features = new_feature_tokens(self.user_feature_vocabs, other.user_feature_vocabs)
        item_features = new_feature_tokens(self.item_feature_vocabs, other.item_feature_vocabs)

        def values_of(added: list[str], other_vocab: Vocabulary, other_values: dict[str, list], name: str, empty):
            if not added:
                return []
            if name not in other_values:
                return [empty() for _ in added]
            positions = other_vocab.encode(added) - NUM_SPECIAL  # every added ID is in other's vocabulary
            column = other_values[name]
            return [column[p] for p in positions.tolist()]

        user_values = {
            name: list(self.user_feature_values[name])
            + values_of(added_users, other.user_vocab, other.user_feature_values, name, lambda: None)
            for name in self.user_feature_vocabs
        }
        item_values = {
            name: list(self.item_feature_values[name])
            + values_of(added_items, other.item_vocab, other.item_feature_values, name,
                        list if name in self.multi_valued_item_features else (lambda: None))
            for name in self.item_feature_vocabs
        }
        extended = type(self)(
            items=self.item_vocab.tokens + added_items,
            users=self.user_vocab.tokens + added_users,
            user_features=user_features,
            user_feature_values=user_values,
            item_features=item_features,
            item_feature_values=item_values,
            multi_valued_item_features=self.multi_valued_item_features,
            max_history=self.max_history,
            dataset_name=self.dataset_name,
            has_timestamps=self.has_timestamps,
        )
        # the new log's bestsellers that the model can return (all of them when items grow)
        known = set(extended.item_vocab.tokens)
        extended.popular_items = [i for i in other.most_frequent_items(POPULAR_ITEMS_KEPT) if i in known]
        return extended, counts

    # ------------------------------------------------------------------ sizes
    @property
    def num_items(self) -> int:
        """Item vocabulary size including padding and unknown."""
        return len(self.item_vocab)

    @property
    def num_users(self) -> int:
        return len(self.user_vocab)

    @property
    def user_feature_names(self) -> list[str]:
        return list(self.user_feature_vocabs)

    @property
    def user_feature_sizes(self) -> list[int]:
        return [len(v) for v in self.user_feature_vocabs.values()]

    def item_feature_size(self, name: str) -> int:
        return len(self.item_feature_vocabs[name])

    # ------------------------------------------------------------------ encoding
    def encode_items(self, raw_ids: Union[Sequence[Any], np.ndarray, pd.Series]) -> np.ndarray:
        return self.item_vocab.encode(raw_ids)

    def decode_items(self, indices: Union[Sequence[int], np.ndarray]) -> list[Optional[str]]:
        return self.item_vocab.decode(indices)

    def encode_users(self, raw_ids: Union[Sequence[Any], np.ndarray, pd.Series]) -> np.ndarray:
        return self.user_vocab.encode(raw_ids)

    def unknown_items(self, raw_ids: Sequence[Any]) -> list[str]:
        """The raw IDs of ``raw_ids`` that the item vocabulary lacks, in order."""
        raw_ids = list(raw_ids)
        if not raw_ids:
            return []
        unknown = self.encode_items(raw_ids) == UNK_INDEX
        return [str(i) for i, missing in zip(raw_ids, unknown.tolist()) if missing]

    def most_frequent_items(self, k: int, exclude: Sequence[Any] = ()) -> list[str]:
        """The ``k`` most frequent items of the log the model was last trained on, less
        ``exclude`` (:attr:`popular_items`, then the vocabulary's order)."""
        excluded = {str(i) for i in exclude}
        ranked = self.item_vocab.tokens
        if self.popular_items is not None:
            popular = set(self.popular_items)
            ranked = self.popular_items + [i for i in ranked if i not in popular]
        return [i for i in ranked if i not in excluded][:k]

    def user_feature_matrix(self) -> np.ndarray:
        """``[num_users, num_user_features]`` int64: the feature indices of every user index."""
        if self._user_feature_matrix is None:
            matrix = np.zeros((self.num_users, len(self.user_feature_vocabs)), dtype=np.int64)
            for j, (name, vocab) in enumerate(self.user_feature_vocabs.items()):
                values = self.user_feature_values[name]
                matrix[NUM_SPECIAL:, j] = vocab.encode(["" if v is None else v for v in values])
                missing = np.array([v is None for v in values], dtype=bool)
                matrix[NUM_SPECIAL:, j][missing] = UNK_INDEX
                matrix[UNK_INDEX, j] = UNK_INDEX
            self._user_feature_matrix = matrix
        return self._user_feature_matrix

    def item_feature_table(self, name: str, max_values: int = 4) -> np.ndarray:
        """Feature indices of every item index.

        Single-valued fields give ``[num_items]``; multi-valued fields ``[num_items, max_values]``
        padded with 0 (the first ``max_values`` values of each item).
        """
        vocab = self.item_feature_vocabs[name]
        values = self.item_feature_values[name]
        if name in self.multi_valued_item_features:
            table = np.zeros((self.num_items, max_values), dtype=np.int64)
            for i, vs in enumerate(values):  # one entry per item, not per interaction
                if vs:
                    enc = vocab.encode(vs[:max_values])
                    table[i + NUM_SPECIAL, : len(enc)] = enc
            return table
        table = np.zeros(self.num_items, dtype=np.int64)
        encoded = vocab.encode(["" if v is None else v for v in values])
        missing = np.array([v is None for v in values], dtype=bool)
        table[NUM_SPECIAL:] = np.where(missing, UNK_INDEX, encoded)
        table[UNK_INDEX] = UNK_INDEX
        return table

    def item_category_field(self) -> Optional[str]:
        """The item field the behaviour-sequence models (BST, DIN, DIEN, sum pooling) read as
        each item's category: ``category``, else the first of ``genres``, else None."""
        if "category" in self.item_feature_vocabs and "category" not in self.multi_valued_item_features:
            return "category"
        return "genres" if "genres" in self.item_feature_vocabs else None

    def item_category_table(self) -> Optional[np.ndarray]:
        """One category index per item: the ``category`` field, else the first genre, else None."""
        field = self.item_category_field()
        if field == "category":
            return self.item_feature_table("category")
        if field == "genres":
            return self.item_feature_table("genres", max_values=1)[:, 0]
        return None

    def num_categories(self) -> int:
        if "category" in self.item_feature_vocabs:
            return self.item_feature_size("category")
        if "genres" in self.item_feature_vocabs:
            return self.item_feature_size("genres")
        return NUM_SPECIAL

    def encode_batch(self, batch: dict[str, list]) -> dict[str, list]:
        """For ``datasets.Dataset.map(processor.encode_batch, batched=True)``.

        Adds ``user_index`` / ``item_index`` columns for the raw ``user_id`` / ``item_id`` columns
        present in the batch.
        """
        out: dict[str, list] = {}
        if "item_id" in batch:
            out["item_index"] = self.encode_items(batch["item_id"]).tolist()
        if "user_id" in batch:
            out["user_index"] = self.encode_users(batch["user_id"]).tolist()
        return out

    def __call__(
        self,
        histories: Sequence[Sequence[Any]],
        users: Optional[Sequence[Any]] = None,
        max_history: Optional[int] = None,
        return_tensors: str = "pt",
        keep_unknown: bool = False,
        targets: Optional[Sequence[Any]] = None,
    ) -> dict[str, torch.Tensor]:
        """Encode raw histories (oldest first) for inference, like a tokenizer call.

        IDs the item vocabulary lacks are left out of their history (the model never saw
        them), unless ``keep_unknown``, which encodes them as the unknown index 1.

        Returns ``history_ids`` ``[B, L]`` (left-padded with 0, most recent item last),
        ``history_mask`` ``[B, L]`` and, when users are given and features exist,
        ``user_ids`` ``[B]`` and ``user_features`` ``[B, F]``. With ``targets`` (one raw item
        ID per history: the candidate a CTR model scores; an unknown one is index 1), also
        ``target_ids`` ``[B]``, so that ``model(**processor(histories, targets=...))`` runs.
        """
        if return_tensors != "pt":
            raise ValueError("only return_tensors='pt' is supported")
        check_histories(histories)
        length = max_history or self.max_history
        batch = len(histories)
        ids = np.zeros((batch, length), dtype=np.int64)
        for row, history in enumerate(histories):
            encoded = self.encode_items(list(history)) if len(history) else np.zeros(0, np.int64)
            if not keep_unknown:
                encoded = encoded[encoded != UNK_INDEX]
            encoded = encoded[-length:]
            if len(encoded):
                ids[row, length - len(encoded):] = encoded
        out = {"history_ids": torch.from_numpy(ids), "history_mask": torch.from_numpy(ids != PAD_INDEX)}
        if targets is not None:
            if isinstance(targets, (str, bytes)) or len(targets) != batch:
                raise ValueError(f"targets must hold one raw item ID per history: {batch} histories, got {targets!r}")
            out["target_ids"] = torch.from_numpy(self.encode_items(list(targets)))
        if users is not None:
            user_index = self.encode_users(list(users))
            out["user_ids"] = torch.from_numpy(user_index)
            if self.user_feature_vocabs:
                out["user_features"] = torch.from_numpy(self.user_feature_matrix()[user_index])
        return out

    def encode_for_export(
        self,
        histories: Sequence[Sequence[Any]],
        users: Optional[Sequence[Any]] = None,
        targets: Optional[Sequence[Any]] = None,
        input_names: Optional[Sequence[str]] = None,
        max_history: Optional[int] = None,
        history_times: Optional[Sequence[Sequence[int]]] = None,
        target_times: Optional[Sequence[int]] = None,
    ) -> dict[str, np.ndarray]:
        """The inputs of an exported graph (ONNX / ``torch.export``, see ``hf_recsys.export``)
        from raw IDs, as numpy arrays keyed by input name.

        Args:
            histories: per row, raw item IDs, oldest first.
            users: per row, a raw user ID, or ``None`` for an anonymous user; all anonymous
                when omitted. An anonymous or unknown user is the unknown index 1 and, for
                models with user profile fields (BST: ``user_features`` ``[B, 4]`` on
                MovieLens), the unknown value 1 in every field.
            targets: CTR graphs: per row, the raw item ID to score (repeat a history to score
                several candidates).
            input_names: the graph's inputs (``[i.name for i in session.get_inputs()]``); the
                result holds exactly these. Default: every input this processor can build.
            max_history: the history length (default ``self.max_history``; a graph exported
                with a static length needs ``config.max_history``).
            history_times / target_times: Unix seconds aligned with ``histories`` / ``targets``
                for models that read times; 0 (no time information) when omitted.

        Returns:
            ``history_ids`` ``[B, L]`` int64 (left-padded with 0), ``history_mask`` ``[B, L]``
            bool, ``user_ids`` ``[B]``, ``user_features`` ``[B, F]``, ``target_ids`` ``[B]``,
            ``history_times`` ``[B, L]``, ``target_times`` ``[B]`` (int64), as asked.
        """
        length = int(max_history or self.max_history)
        encoded = self(histories, max_history=length)
        out: dict[str, np.ndarray] = {"history_ids": encoded["history_ids"].numpy(),
                                      "history_mask": encoded["history_mask"].numpy()}
        batch = len(histories)
        if users is None:
            user_index = np.full(batch, UNK_INDEX, dtype=np.int64)
        else:
            if len(users) != batch:
                raise ValueError(f"users has {len(users)} entries for {batch} histories")
            user_index = np.array([UNK_INDEX if u is None else i for u, i in
                                   zip(users, self.encode_users(["" if u is None else u for u in users]))], dtype=np.int64)
        out["user_ids"] = user_index
        if self.user_feature_vocabs:
            out["user_features"] = self.user_feature_matrix()[user_index]
        if targets is not None:
            if len(targets) != batch:
                raise ValueError(f"targets has {len(targets)} entries for {batch} histories")
            out["target_ids"] = self.encode_items(list(targets))
        times = np.zeros((batch, length), dtype=np.int64)
        if history_times is not None:
            for row, row_times in enumerate(history_times):
                row_times = list(row_times)[-length:]
                if row_times:
                    times[row, length - len(row_times):] = row_times
        out["history_times"] = np.where(out["history_mask"], times, 0)
        out["target_times"] = (np.asarray(target_times, dtype=np.int64) if target_times is not None
                               else np.zeros(batch, dtype=np.int64))
        if input_names is None:
            return out
        missing = [name for name in input_names if name not in out]
        if missing:
            hint = " (pass targets= for a CTR graph)" if "target_ids" in missing else ""
            raise ValueError(f"cannot build the graph inputs {missing} from raw IDs{hint}")
        return {name: out[name] for name in input_names}

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        return {
            "processor_class": type(self).__name__,
            "dataset_name": self.dataset_name,
            "max_history": self.max_history,
            "has_timestamps": self.has_timestamps,
            "special_tokens": {"pad": PAD_INDEX, "unknown": UNK_INDEX},
            "items": self.item_vocab.tokens,
            "users": self.user_vocab.tokens,
            "user_features": {k: v.tokens for k, v in self.user_feature_vocabs.items()},
            "user_feature_values": self.user_feature_values,
            "item_features": {k: v.tokens for k, v in self.item_feature_vocabs.items()},
            "item_feature_values": self.item_feature_values,
            "multi_valued_item_features": list(self.multi_valued_item_features),
            **({"popular_items": self.popular_items} if self.popular_items is not None else {}),
        }

    def save_pretrained(self, save_directory: Union[str, os.PathLike], push_to_hub: bool = False, **kwargs) -> str:
        """Write ``recsys_processor.json`` (the vocabularies), ``processor_config.json`` (the
        class, and ``auto_map`` for ``AutoProcessor``) and this module's file (the remote code),
        each atomically. Returns the path of ``recsys_processor.json``."""
        save_directory = os.fspath(save_directory)
        os.makedirs(save_directory, exist_ok=True)
        module_file = os.path.abspath(__file__)
        module_name = os.path.splitext(os.path.basename(module_file))[0]
        processor_config = {"processor_class": type(self).__name__,
                            "auto_map": {"AutoProcessor": f"{module_name}.{type(self).__name__}"}}
        target = os.path.join(save_directory, os.path.basename(module_file))
        if os.path.abspath(target) != module_file:
            with open(module_file, encoding="utf-8") as f:
                write_text_atomically(target, f.read())
        write_text_atomically(os.path.join(save_directory, PROCESSOR_CONFIG_FILE), json.dumps(processor_config, indent=1))
        path = write_text_atomically(
            os.path.join(save_directory, PROCESSOR_FILE), json.dumps(self.to_dict(), ensure_ascii=False, indent=1)
        )
        if push_to_hub:
            repo_id = kwargs.pop("repo_id", None) or os.path.basename(os.path.abspath(save_directory))
            self.push_to_hub(repo_id, **{k: v for k, v in kwargs.items() if k != "max_shard_size"})
        return path

    @classmethod
    def register_for_auto_class(cls, auto_class: str = "AutoProcessor") -> None:
        """Kept for the transformers idiom: ``save_pretrained`` always writes the
        ``AutoProcessor`` entry of ``auto_map``."""
        if auto_class != "AutoProcessor":
            raise ValueError(f"{cls.__name__} registers for AutoProcessor only, not {auto_class}")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Union[str, os.PathLike], **kwargs) -> "RecsysProcessor":
        """Load from a folder or a Hub repo that holds ``recsys_processor.json``.

        Hub arguments (``revision``, ``token``, ``cache_dir``, ``local_files_only``, ...) are
        passed on; what ``AutoProcessor`` adds (``trust_remote_code``, ...) is ignored."""
        hub_kwargs = {k: v for k, v in kwargs.items() if k in _HUB_KWARGS}
        path = cached_file(str(pretrained_model_name_or_path), PROCESSOR_FILE, **hub_kwargs)
        with open(path, encoding="utf-8") as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}: not a readable processor file (line {error.lineno}: {error.msg}); write "
                                 f"it again with processor.save_pretrained(folder)") from None
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise ValueError(f"{path}: not a processor file (no list of 'items'); write it again with "
                             f"processor.save_pretrained(folder)")
        return cls(
            items=data["items"],
            users=data.get("users", []),
            user_features=data.get("user_features"),
            user_feature_values=data.get("user_feature_values"),
            item_features=data.get("item_features"),
            item_feature_values=data.get("item_feature_values"),
            multi_valued_item_features=data.get("multi_valued_item_features", ()),
            max_history=data.get("max_history", 50),
            dataset_name=data.get("dataset_name", "custom"),
            has_timestamps=data.get("has_timestamps", True),
            popular_items=data.get("popular_items"),
        )

    # ------------------------------------------------------------------ fingerprint
    def vocabularies(self) -> dict[str, Vocabulary]:
        """Every vocabulary a model's indices refer to, by name: ``items``, ``users``,
        ``user_feature:NAME``, ``item_feature:NAME``."""
        named = {"items": self.item_vocab, "users": self.user_vocab}
        named.update({f"user_feature:{k}": v for k, v in self.user_feature_vocabs.items()})
        named.update({f"item_feature:{k}": v for k, v in self.item_feature_vocabs.items()})
        return named

    def fingerprint(self) -> dict[str, list]:
        """Per vocabulary, ``[number of IDs, hash of the IDs in index order]``. A model stores
        its processor's fingerprint (``config.processor_fingerprint``); data encoded by another
        processor is refused by :meth:`check_compatible`."""
        return {name: [len(vocab.tokens), _digest(vocab.tokens)] for name, vocab in self.vocabularies().items()}

    def check_compatible(self, fingerprint: Optional[dict], what: str = "the model", hint: Optional[str] = None) -> None:
        """Raise :class:`VocabularyMismatchError` unless every vocabulary ``fingerprint`` (a
        model's) names starts here with the IDs the model was trained with, in the same order; the
        items hold no more (every model embeds items, and has no row for an index past its table;
        users may be appended for grouping only, as fine-tuning with unknown IDs does). ``hint``: how to fix it,
        said at the end (default: encode the data with the model's own processor). ``None`` (a
        model saved without a fingerprint) is not checked."""
        if not fingerprint:
            return
        hint = hint or ("encode the new log with the model's own processor (hf_recsys.training.finetune.trainer_kit("
                        "model, processor, log)), not a freshly fitted one (prepare_data), and train kit.model, whose "
                        "tables grew with the log's new IDs")
        mine = self.vocabularies()
        # items and users first: the mismatch a user most likely made is the one to name
        for name, (count, digest) in sorted(fingerprint.items(), key=lambda kv: (kv[0] != "items", kv[0] != "users", kv[0])):
            vocab = mine.get(name)
            if vocab is None or len(vocab.tokens) < count or _digest(vocab.tokens[:count]) != digest:
                have = "missing" if vocab is None else f"{len(vocab.tokens):,} IDs"
                raise VocabularyMismatchError(
                    f"other vocabularies than {what}'s: the {name!r} vocabulary ({have}) does not start with the "
                    f"{count:,} IDs {what} was trained with, so the same index would mean another ID; {hint}")
            if name == "items" and len(vocab.tokens) > count:
                raise VocabularyMismatchError(
                    f"other vocabularies than {what}'s: the {name!r} vocabulary holds {len(vocab.tokens):,} IDs, "
                    f"{what} was trained with the first {count:,} and has no embedding for the other "
                    f"{len(vocab.tokens) - count:,}; {hint}")

    def __repr__(self) -> str:
        return (
            f"RecsysProcessor(items={self.num_items}, users={self.num_users}, "
            f"user_features={self.user_feature_names}, item_features={list(self.item_feature_vocabs)}, "
            f"max_history={self.max_history})"
        )
