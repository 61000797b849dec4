"""A seeded synthetic log in the MovieLens-1M schema, with structure a model can learn.

How the structure is made (so that a sequence model clearly beats popularity):

* Items fall into ``num_clusters`` genres; within a genre they have a fixed order
  (a "franchise chain") and a Zipf popularity.
* Each user has a genre affinity drawn around a prior that depends on gender and age, so
  profile features carry signal.
* A user's genre moves by a Markov chain: stay (``stay_prob``), drift to the "next" genre
  (``drift_prob``) or jump by affinity. The last items therefore tell where the user is now.
* Inside a genre a user walks forward along the chain by 1-3 items from where they last
  were; entry points favour popular items. Repeated items are dropped (one rating per
  user-item pair, as in MovieLens).
* Ratings are higher for genres the user likes; timestamps grow with log-normal gaps.

The generator loops over time steps (at most ``max_length``), vectorised over users, so a
1M-interaction log takes a few seconds.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from .log import InteractionLog

GENRES = (
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)
AGE_BUCKETS = np.array([1, 18, 25, 35, 45, 50, 56])
ML1M_START = 956_703_932  # first timestamp of MovieLens-1M (2000-04-25)


def generate_synthetic_log(
    num_users: int = 2000,
    num_items: int = 1000,
    num_clusters: Optional[int] = None,
    mean_length: float = 40.0,
    min_length: int = 8,
    max_length: int = 200,
    stay_prob: float = 0.6,
    drift_prob: float = 0.25,
    seed: int = 0,
) -> InteractionLog:
    """Generate a MovieLens-1M-shaped log (users.dat/movies.dat/ratings.dat columns).

    Returns an :class:`InteractionLog` named ``"synthetic"`` whose ``users`` table has
    gender, age, occupation and zip, and whose ``items`` table has title and genres.
    """
    if num_clusters is None:  # 18 genres as in MovieLens, fewer for tiny catalogs
        num_clusters = max(1, min(len(GENRES), num_items // 4))
    if num_clusters > len(GENRES):
        raise ValueError(f"num_clusters must be <= {len(GENRES)}")
    if num_items < num_clusters * 4:
        raise ValueError("num_items must be at least 4 per cluster")
    rng = np.random.default_rng(seed)

    # Items: genre, chain position, popularity.
    item_cluster = np.arange(num_items) % num_clusters
    rng.shuffle(item_cluster)
    chains = [np.flatnonzero(item_cluster == c) for c in range(num_clusters)]
    chain_len = np.array([len(ch) for ch in chains])
    max_chain = chain_len.max()
    chain_table = np.full((num_clusters, max_chain), -1, dtype=np.int64)
    for c, ch in enumerate(chains):
        chain_table[c, : len(ch)] = ch
    secondary = (item_cluster + rng.integers(1, max(num_clusters, 2), num_items)) % num_clusters
    has_secondary = rng.random(num_items) < 0.3

    # Users: profile and genre affinity driven by profile.
    gender = rng.choice(np.array(["M", "F"]), num_users, p=[0.72, 0.28])
    age = rng.choice(AGE_BUCKETS, num_users, p=[0.04, 0.18, 0.35, 0.2, 0.09, 0.08, 0.06])
    occupation = rng.integers(0, 21, num_users)
    zipcode = rng.integers(10000, 99999, num_users)
    group = (gender == "F").astype(int) * len(AGE_BUCKETS) + np.searchsorted(AGE_BUCKETS, age)
    group_prior = rng.dirichlet(np.full(num_clusters, 0.3), size=2 * len(AGE_BUCKETS))
    affinity = np.stack([rng.dirichlet(group_prior[g] * 20 + 0.05) for g in group])

    lengths = np.clip(
        min_length + rng.geometric(1.0 / max(mean_length - min_length, 1.0), num_users) - 1,
        min_length,
        max_length,
    )
    steps = int(lengths.max())

    # Walk: per step, vectorised over users.
    users_idx = np.arange(num_users)
    cluster = np.array([rng.choice(num_clusters, p=a) for a in affinity])
    # Entry point into each chain favours the popular head (Zipf-like).
    entry = np.floor(chain_len[None, :] * rng.random((num_users, num_clusters)) ** 3).astype(np.int64)
    pointer = entry.copy()
    visited = np.zeros((num_users, num_clusters), dtype=bool)
    items = np.empty((num_users, steps), dtype=np.int64)
    cum_affinity = np.cumsum(affinity, axis=1)
    for t in range(steps):
        if t > 0:
            u = rng.random(num_users)
            jump = np.minimum((rng.random(num_users)[:, None] > cum_affinity).sum(1), num_clusters - 1)
            cluster = np.where(
                u < stay_prob,
                cluster,
                np.where(u < stay_prob + drift_prob, (cluster + 1) % num_clusters, jump),
            )
        step = np.where(visited[users_idx, cluster], rng.integers(1, 4, num_users), 0)
        pos = (pointer[users_idx, cluster] + step) % chain_len[cluster]
        pointer[users_idx, cluster] = pos
        visited[users_idx, cluster] = True
        items[:, t] = chain_table[cluster, pos]

    valid = np.arange(steps)[None, :] < lengths[:, None]
    user_col = np.repeat(users_idx, lengths)
    item_col = items[valid]
    gaps = np.exp(rng.normal(7.0, 2.0, item_col.size)).astype(np.int64) + 1
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    cum = np.cumsum(gaps)
    user_start_time = ML1M_START + rng.integers(0, 60 * 86400 * 12, num_users)
    times = cum - np.repeat(cum[starts], lengths) + np.repeat(user_start_time, lengths)
    liked = affinity[user_col, item_cluster[item_col]] * num_clusters
    ratings = np.clip(np.rint(2.6 + 0.8 * np.log1p(liked) + rng.normal(0, 0.9, item_col.size)), 1, 5)

    interactions = pd.DataFrame(
        {
            "user_id": (user_col + 1).astype(str),
            "item_id": (item_col + 1).astype(str),
            "rating": ratings.astype(np.float32),
            "timestamp": times.astype(np.int64),
        }
    ).drop_duplicates(["user_id", "item_id"], keep="first", ignore_index=True)
    # every user leaves an eighth of the catalog unrated, so a CTR model has items to sample
    # negatives from even when the catalog is small next to the histories
    max_distinct = num_items - max(1, num_items // 8)
    interactions = interactions[interactions.groupby("user_id", sort=False).cumcount() < max_distinct]
    interactions = interactions.reset_index(drop=True)

    users = pd.DataFrame(
        {
            "user_id": (users_idx + 1).astype(str),
            "gender": gender,
            "age": age.astype(str),
            "occupation": occupation.astype(str),
            "zip": zipcode.astype(str),
        }
    )
    genre_names = np.array(GENRES)
    genres = [
        [genre_names[c]] + ([genre_names[s]] if h else [])
        for c, s, h in zip(item_cluster, secondary, has_secondary)
    ]
    items_table = pd.DataFrame(
        {
            "item_id": (np.arange(num_items) + 1).astype(str),
            "title": [f"Synthetic Movie {i + 1} ({1950 + i % 50})" for i in range(num_items)],
            "genres": genres,
        }
    )
    return InteractionLog(
        interactions,
        users=users,
        items=items_table,
        name="synthetic",
        multi_valued_item_features=("genres",),
    )
