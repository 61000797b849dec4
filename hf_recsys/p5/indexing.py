"""How items are written as text: random, sequential and collaborative indexing.

Hua et al. 2023 ("How to Index Item IDs for Recommendation Foundation Models") show the choice
matters and that P5's original *sequential* indexing leaks: it numbered items by their order in
the users' full sequences, test items included, so a test item's number is often "last history
item + 1". Every index here is built from **training interactions only**:

* ``random``: a seeded random permutation of 1..N.
* ``sequential``: items numbered 1, 2, ... in order of first appearance when reading the users'
  training sequences one after another. Items that never occur in training (held-out only) are
  numbered after all training items, in sorted raw-ID order, so their number says nothing about
  where they were held out.
* ``collaborative``: recursive spectral clustering of the item co-occurrence graph (items
  co-occur when one user's training sequence holds both); an ID is the path of cluster tokens
  from the root to the item, e.g. ``<CI3><CI0><CI17>``, the last token telling items of one leaf
  apart. Items of a cluster share ID prefixes, hence tokens.
* ``independent``: one whole token per item, ``<IIDn>`` with ``n`` a seeded random number
  (Hua et al.'s "independent indexing"): no sub-word piece is shared between items, so the
  first decoding step is a softmax over the items, as in SASRec's full cross-entropy.
* ``cid+iid``: the collaborative ID followed by one independent token per item, e.g.
  ``<CI3><CI0><CI17><IID942>`` (Hua et al. 2023's best, "CID+IID"): the cluster tokens carry
  what similar items share, the item's own token gives each item parameters of its own.

The index (raw item ID -> ID text) is saved next to the model as ``p5_item_index.json``.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from typing import Optional, Union

import numpy as np

from ..data.pipeline import PreparedData
from ..data.processing import TRAIN
from ..data.processor import NUM_SPECIAL
from ..models.configuration_p5 import P5_ITEM_INDEXINGS
from ..models.modeling_p5 import ITEM_INDEX_FILE

logger = logging.getLogger(__name__)

INDEXING_METHODS = P5_ITEM_INDEXINGS


def collaborative_token(i: int) -> str:
    return f"<CI{i}>"


def independent_token(i: int) -> str:
    return f"<IID{i}>"


@dataclass
class ItemIndex:
    """Raw item IDs and the text each one is written as in prompts.

    Attributes:
        method: one of :data:`INDEXING_METHODS`.
        items: raw item IDs, in the order of the processor's item vocabulary (position ``i`` is
            processor index ``i + 2``).
        ids: the ID text of each item (no spaces: an ID is one word).
        added_tokens: whole tokens the tokenizer must know (collaborative tokens).
        meta: how the index was built (seed, cluster sizes, ...).
    """

    method: str
    items: list[str]
    ids: list[str]
    added_tokens: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.items) != len(self.ids):
            raise ValueError("items and ids must have the same length")
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("item ID texts must be unique")
        if any(" " in t for t in self.ids):
            raise ValueError("an item ID text must be one word (no spaces)")

    def __len__(self) -> int:
        return len(self.items)

    def texts_of(self, item_indices: np.ndarray) -> np.ndarray:
        """ID texts of processor item indices (array of str, same shape)."""
        table = np.asarray(self.ids, dtype=object)
        return table[np.asarray(item_indices) - NUM_SPECIAL]

    def save_pretrained(self, save_directory: Union[str, os.PathLike]) -> str:
        os.makedirs(save_directory, exist_ok=True)
        path = os.path.join(save_directory, ITEM_INDEX_FILE)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(
                {"method": self.method, "items": self.items, "ids": self.ids,
                 "added_tokens": self.added_tokens, "meta": self.meta},
                f, ensure_ascii=False,
            )
        return path

    @classmethod
    def from_pretrained(cls, folder: Union[str, os.PathLike]) -> "ItemIndex":
        from transformers.utils import cached_file

        with open(cached_file(str(folder), ITEM_INDEX_FILE), encoding="utf-8") as f:
            data = json.load(f)
        return cls(data.get("method", "custom"), data["items"], data["ids"], data.get("added_tokens", []), data.get("meta", {}))


def _training_items_in_order(data: PreparedData) -> np.ndarray:
    """Item indices of the training interactions, users one after another, each in time order."""
    sequences = data.sequences
    return sequences.items[sequences.split == TRAIN]


def random_index(data: PreparedData, seed: int = 0) -> ItemIndex:
    num = data.processor.num_items - NUM_SPECIAL
    numbers = np.random.default_rng(seed).permutation(num) + 1
    return ItemIndex("random", list(data.processor.item_vocab.tokens), [str(n) for n in numbers], meta={"seed": seed})


def sequential_index(data: PreparedData) -> ItemIndex:
    """Numbers by first appearance in the training sequences; unseen items last, by raw ID."""
    tokens = data.processor.item_vocab.tokens
    num = len(tokens)
    train_items = _training_items_in_order(data) - NUM_SPECIAL
    unique, first = np.unique(train_items, return_index=True)
    in_training_order = unique[np.argsort(first, kind="stable")]
    unseen = np.setdiff1d(np.arange(num), unique)
    unseen = unseen[np.argsort(np.asarray(tokens, dtype=object)[unseen].astype(str), kind="stable")]
    order = np.concatenate([in_training_order, unseen])
    numbers = np.empty(num, dtype=np.int64)
    numbers[order] = np.arange(1, num + 1)
    return ItemIndex(
        "sequential", list(tokens), [str(n) for n in numbers],
        meta={"training_items": int(len(unique)), "items_numbered_after_training": int(len(unseen))},
    )


def cooccurrence_matrix(data: PreparedData):
    """Sparse ``[N, N]`` item co-occurrence counts over the users' training sequences
    (number of users whose training sequence holds both items; zero diagonal)."""
    from scipy import sparse

    sequences = data.sequences
    train = sequences.split == TRAIN
    num = data.processor.num_items - NUM_SPECIAL
    users = sequences.users[train]
    items = sequences.items[train] - NUM_SPECIAL
    user_items = sparse.csr_matrix(
        (np.ones(len(items), dtype=np.float32), (users, items)), shape=(int(sequences.users.max()) + 1, num)
    )
    user_items.data[:] = 1.0  # a repeated item counts once per user
    graph = (user_items.T @ user_items).tocsr()
    graph.setdiag(0)
    graph.eliminate_zeros()
    return graph


def _kmeans(points: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 30) -> np.ndarray:
    """Lloyd's k-means with k-means++ seeding; returns labels ``[n]``."""
    n = len(points)
    centers = [points[rng.integers(n)]]
    distance = ((points - centers[0]) ** 2).sum(1)
    for _ in range(1, k):
        total = distance.sum()
        pick = rng.choice(n, p=distance / total) if total > 0 else rng.integers(n)
        centers.append(points[pick])
        distance = np.minimum(distance, ((points - points[pick]) ** 2).sum(1))
    centers = np.stack(centers)
    labels = np.zeros(n, dtype=np.int64)
    for _ in range(iterations):
        d = (points**2).sum(1)[:, None] - 2 * points @ centers.T + (centers**2).sum(1)[None, :]
        new_labels = d.argmin(1)
        if (new_labels == labels).all() and _ > 0:
            break
        labels = new_labels
        for c in range(k):
            members = labels == c
            if members.any():
                centers[c] = points[members].mean(0)
    return labels


def spectral_partition(graph, k: int, rng: np.random.Generator) -> np.ndarray:
    """Split the nodes of a symmetric sparse graph into at most ``k`` clusters (Ng, Jordan &
    Weiss: top-k eigenvectors of D^-1/2 A D^-1/2, rows normalised, k-means)."""
    from scipy import sparse
    from scipy.sparse.linalg import eigsh

    n = graph.shape[0]
    degree = np.asarray(graph.sum(1)).ravel()
    scale = 1.0 / np.sqrt(np.maximum(degree, 1e-12))
    scale[degree == 0] = 0.0
    normalized = sparse.diags(scale) @ graph @ sparse.diags(scale)
    if n <= 600:
        _, vectors = np.linalg.eigh(normalized.toarray())
        vectors = vectors[:, -k:]
    else:
        _, vectors = eigsh(normalized.astype(np.float64), k=k, which="LA", v0=rng.standard_normal(n), maxiter=5000, tol=1e-4)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = vectors / np.maximum(norms, 1e-12)
    # isolated items (no co-occurrence) have no spectral signal: spread them evenly
    labels = _kmeans(vectors, k, rng)
    isolated = degree == 0
    labels[isolated] = np.arange(int(isolated.sum())) % k
    return labels


def collaborative_index(
    data: PreparedData, num_clusters: int = 32, max_cluster_size: int = 32, seed: int = 0
) -> ItemIndex:
    """IDs from recursive spectral clustering of the training co-occurrence graph.

    A cluster larger than ``max_cluster_size`` is split into ``num_clusters`` sub-clusters;
    a leaf's items get distinct last tokens. Token ``<CIj>`` is shared by all levels.
    """
    graph = cooccurrence_matrix(data)
    rng = np.random.default_rng(seed)
    num = graph.shape[0]
    paths: list[Optional[list[int]]] = [None] * num
    popularity = np.asarray(graph.sum(1)).ravel()

    def assign(nodes: np.ndarray, prefix: list[int]) -> None:
        if len(nodes) <= max_cluster_size:
            for position, node in enumerate(nodes[np.argsort(-popularity[nodes], kind="stable")]):
                paths[node] = prefix + [position]
            return
        labels = spectral_partition(graph[nodes][:, nodes], min(num_clusters, len(nodes)), rng)
        groups = [nodes[labels == c] for c in range(labels.max() + 1)]
        groups = sorted((g for g in groups if len(g)), key=len, reverse=True)
        if len(groups) < 2 or len(groups[0]) > 0.95 * len(nodes) and len(prefix) >= 2:
            # no useful spectral split (or a giant cluster keeps coming back, which would make
            # IDs long): cut evenly, most popular first
            ordered = nodes[np.argsort(-popularity[nodes], kind="stable")]
            groups = [g for g in np.array_split(ordered, num_clusters) if len(g)]
        for c, group in enumerate(groups):
            assign(group, prefix + [c])

    assign(np.arange(num), [])
    ids = ["".join(collaborative_token(t) for t in path) for path in paths]
    depth = np.array([len(p) for p in paths])
    width = max(num_clusters, max_cluster_size)
    return ItemIndex(
        "collaborative", list(data.processor.item_vocab.tokens), ids,
        added_tokens=[collaborative_token(i) for i in range(width)],
        meta={"num_clusters": num_clusters, "max_cluster_size": max_cluster_size, "seed": seed,
              "mean_depth": float(depth.mean()), "max_depth": int(depth.max())},
    )


def independent_index(data: PreparedData, seed: int = 0) -> ItemIndex:
    """One added token per item, ``<IIDn>``, ``n`` a seeded random permutation of 1..N."""
    tokens = data.processor.item_vocab.tokens
    numbers = np.random.default_rng(seed).permutation(len(tokens)) + 1
    return ItemIndex(
        "independent", list(tokens), [independent_token(n) for n in numbers.tolist()],
        added_tokens=[independent_token(n) for n in range(1, len(numbers) + 1)],
        meta={"seed": seed, "independent_tokens": int(len(numbers))},
    )


def cid_iid_index(
    data: PreparedData, num_clusters: int = 32, max_cluster_size: int = 32, seed: int = 0
) -> ItemIndex:
    """Collaborative IDs (:func:`collaborative_index`) each followed by an independent token.

    The independent token of an item is ``<IIDn>`` with ``n`` a seeded random number in
    1..N, so it says nothing about the item beyond being its own (N tokens are added to the
    vocabulary). The collaborative part alone is already unique; the extra token gives every
    item an embedding and an output row of its own, which Hua et al. found best on Beauty.
    """
    collaborative = collaborative_index(data, num_clusters, max_cluster_size, seed)
    numbers = np.random.default_rng(seed).permutation(len(collaborative)) + 1
    ids = [cid + independent_token(n) for cid, n in zip(collaborative.ids, numbers.tolist())]
    return ItemIndex(
        "cid+iid", collaborative.items, ids,
        added_tokens=collaborative.added_tokens + [independent_token(n) for n in range(1, len(numbers) + 1)],
        meta=dict(collaborative.meta, independent_tokens=int(len(numbers))),
    )


def build_item_index(method: str, data: PreparedData, seed: int = 0, num_clusters: int = 32,
                     max_cluster_size: int = 32) -> ItemIndex:
    if method == "random":
        return random_index(data, seed)
    if method == "sequential":
        return sequential_index(data)
    if method == "collaborative":
        return collaborative_index(data, num_clusters, max_cluster_size, seed)
    if method == "independent":
        return independent_index(data, seed)
    if method == "cid+iid":
        return cid_iid_index(data, num_clusters, max_cluster_size, seed)
    raise ValueError(f"unknown item indexing {method!r}; choose from {INDEXING_METHODS}")


__all__ = ["ItemIndex", "INDEXING_METHODS", "build_item_index", "random_index", "sequential_index",
           "collaborative_index", "independent_index", "cid_iid_index", "cooccurrence_matrix", "spectral_partition"]
