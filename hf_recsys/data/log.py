"""The in-memory form every reader returns: an interaction log plus optional side tables.

Raw IDs stay strings from the reader onwards, whatever the source format wrote, so that a
vocabulary built from one file matches IDs read from another ("42" is "42" whether it came
from a CSV integer column or a JSON string).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pandas as pd

#: Columns every interaction table carries after a reader has run.
REQUIRED_COLUMNS = ("user_id", "item_id", "timestamp")


class DataFormatError(ValueError):
    """Raised when an input file, column or ID is not what the reader expects.

    The message always names the file (and line or column where known), so a user can fix it.
    """


@dataclass
class InteractionLog:
    """An interaction log with optional user and item side features.

    Attributes:
        interactions: one row per interaction with columns ``user_id`` (str), ``item_id``
            (str), ``timestamp`` (int64; seconds, or a position when the source has no time)
            and optionally ``rating`` (float32) and further columns.
        users: optional table indexed by nothing, with a ``user_id`` column (str) and one column
            per categorical user feature (str values), e.g. gender, age, occupation.
        items: optional table with an ``item_id`` column (str) and feature columns; a
            multi-valued feature (e.g. genres) holds a Python list of str per item.
        name: a short name of the source, used in model cards ("ml-1m", "synthetic", ...).
        multi_valued_item_features: names of the ``items`` columns that hold lists.
    """

    interactions: pd.DataFrame
    users: Optional[pd.DataFrame] = None
    items: Optional[pd.DataFrame] = None
    name: str = "custom"
    multi_valued_item_features: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        missing = [c for c in REQUIRED_COLUMNS if c not in self.interactions.columns]
        if missing:
            raise DataFormatError(
                f"interaction log '{self.name}' lacks column(s) {missing}; "
                f"found {list(self.interactions.columns)}"
            )
        if len(self.interactions) == 0:
            raise DataFormatError(f"interaction log '{self.name}' is empty")
        df = self.interactions
        df["user_id"] = df["user_id"].astype(str)
        df["item_id"] = df["item_id"].astype(str)
        df["timestamp"] = df["timestamp"].astype(np.int64)
        if "rating" in df.columns:
            df["rating"] = df["rating"].astype(np.float32)
        if self.users is not None:
            if "user_id" not in self.users.columns:
                raise DataFormatError(f"user table of '{self.name}' lacks column 'user_id'")
            self.users["user_id"] = self.users["user_id"].astype(str)
        if self.items is not None:
            if "item_id" not in self.items.columns:
                raise DataFormatError(f"item table of '{self.name}' lacks column 'item_id'")
            self.items["item_id"] = self.items["item_id"].astype(str)

    @property
    def user_feature_names(self) -> list[str]:
        return [] if self.users is None else [c for c in self.users.columns if c != "user_id"]

    @property
    def item_feature_names(self) -> list[str]:
        return [] if self.items is None else [c for c in self.items.columns if c != "item_id"]

    @property
    def has_timestamps(self) -> bool:
        """False when the source only gives an order (timestamps are positions)."""
        return bool(self.interactions.attrs.get("has_timestamps", True))

    def __len__(self) -> int:
        return len(self.interactions)

    def summary(self) -> str:
        df = self.interactions
        return (
            f"{self.name}: {len(df):,} interactions, {df['user_id'].nunique():,} users, "
            f"{df['item_id'].nunique():,} items"
        )
