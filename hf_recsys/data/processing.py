"""Log processing: implicit conversion, k-core filtering, chronological order and splits.

Every function takes and returns a pandas DataFrame in the :class:`InteractionLog` schema and
is vectorised (group-by, sort, numpy); none loops over interactions in Python.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..constants import TEMPORAL_TEST_FRACTION, TEMPORAL_VALID_FRACTION
from .log import DataFormatError

logger = logging.getLogger(__name__)

TRAIN, VALID, TEST = 0, 1, 2
SPLIT_NAMES = {TRAIN: "train", VALID: "valid", TEST: "test"}


def to_implicit(interactions: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Keep interactions whose rating is at least ``threshold`` (an explicit log made implicit)."""
    if "rating" not in interactions.columns:
        raise DataFormatError("implicit conversion needs a 'rating' column; this log has none")
    kept = interactions[interactions["rating"] >= threshold]
    if kept.empty:
        raise DataFormatError(f"no interaction has rating >= {threshold}")
    return kept.reset_index(drop=True)


def kcore_filter(
    interactions: pd.DataFrame, user_k: int = 5, item_k: int = 5, max_rounds: int = 100
) -> pd.DataFrame:
    """Iteratively drop users with < ``user_k`` and items with < ``item_k`` interactions.

    Repeats until both conditions hold at once (removing items can push users under k).
    """
    df = interactions
    for _ in range(max_rounds):
        user_counts = df.groupby("user_id", sort=False)["item_id"].transform("size")
        item_counts = df.groupby("item_id", sort=False)["user_id"].transform("size")
        keep = (user_counts >= user_k) & (item_counts >= item_k)
        if keep.all():
            break
        df = df[keep.to_numpy()]
        if df.empty:
            raise DataFormatError(f"no interaction survives {user_k}/{item_k}-core filtering")
    return df.reset_index(drop=True)


def sort_chronologically(interactions: pd.DataFrame) -> pd.DataFrame:
    """Group by user, oldest first; ties on timestamp keep the order of the input file."""
    df = interactions.reset_index(drop=True)
    order = np.lexsort((np.arange(len(df)), df["timestamp"].to_numpy(), df["user_id"].to_numpy()))
    return df.iloc[order].reset_index(drop=True)


def leave_one_out_split(interactions: pd.DataFrame, min_interactions: int = 3) -> pd.DataFrame:
    """Add a ``split`` column: each user's last interaction is test, the one before valid.

    Expects the output of :func:`sort_chronologically`. Users with fewer than
    ``min_interactions`` (default 3) interactions cannot give train, valid and test items; all
    their interactions stay in train (a documented skip, logged with the count).
    """
    df = interactions.copy()
    position_from_end = df.groupby("user_id", sort=False).cumcount(ascending=False).to_numpy()
    size = df.groupby("user_id", sort=False)["item_id"].transform("size").to_numpy()
    split = np.full(len(df), TRAIN, dtype=np.int8)
    eligible = size >= min_interactions
    split[eligible & (position_from_end == 0)] = TEST
    split[eligible & (position_from_end == 1)] = VALID
    skipped = df.loc[~eligible, "user_id"].nunique()
    if skipped:
        logger.warning(
            "%d user(s) have fewer than %d interactions; they are used for training only", skipped, min_interactions
        )
    df["split"] = split
    return df


def temporal_split(
    interactions: pd.DataFrame, valid_fraction: float = TEMPORAL_VALID_FRACTION,
    test_fraction: float = TEMPORAL_TEST_FRACTION,
) -> pd.DataFrame:
    """Add a ``split`` column by global time: the latest ``test_fraction`` of interactions are
    test, the ``valid_fraction`` before them valid (cut points are timestamp quantiles, so the
    future never trains a model evaluated on the past)."""
    if not 0 < valid_fraction + test_fraction < 1:
        raise ValueError("valid_fraction + test_fraction must be in (0, 1)")
    df = interactions.copy()
    ts = df["timestamp"].to_numpy()
    valid_cut, test_cut = np.quantile(ts, [1 - valid_fraction - test_fraction, 1 - test_fraction])
    split = np.full(len(df), TRAIN, dtype=np.int8)
    split[ts > valid_cut] = VALID
    split[ts > test_cut] = TEST
    df["split"] = split
    return df
