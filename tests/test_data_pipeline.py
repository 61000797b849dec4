"""Processing, splits, sampling and sample datasets on small logs with known answers."""

import re

import numpy as np
import pandas as pd
import pytest

from hf_recsys.data.log import DataFormatError, InteractionLog
from hf_recsys.data.pipeline import DataConfig, prepare_data
from hf_recsys.data.processing import (
    TEST,
    TRAIN,
    VALID,
    kcore_filter,
    leave_one_out_split,
    sort_chronologically,
    temporal_split,
    to_implicit,
)
from hf_recsys.data.samples import InteractionSequences, sample_negatives
from hf_recsys.data.synthetic import generate_synthetic_log


def frame(rows):
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "rating"])


def test_sort_is_chronological_and_stable_on_ties():
    df = frame([("u", "c", 5, 1), ("v", "x", 1, 1), ("u", "a", 2, 1), ("u", "b", 5, 1), ("u", "d", 2, 1)])
    out = sort_chronologically(df)
    assert out[out.user_id == "u"].item_id.tolist() == ["a", "d", "c", "b"]  # ties keep file order
    assert out.user_id.tolist() == ["u", "u", "u", "u", "v"]


def test_leave_one_out_marks_last_two_and_skips_short_users():
    df = sort_chronologically(
        frame([("u", str(i), i, 1) for i in range(5)] + [("short", "a", 1, 1), ("short", "b", 2, 1)])
    )
    out = leave_one_out_split(df)
    u = out[out.user_id == "u"]
    assert u.split.tolist() == [TRAIN, TRAIN, TRAIN, VALID, TEST]
    assert u[u.split == TEST].item_id.item() == "4"
    assert (out[out.user_id == "short"].split == TRAIN).all()  # documented skip


def test_temporal_split_never_trains_on_the_future():
    rng = np.random.default_rng(0)
    df = frame([(str(rng.integers(10)), str(i), int(t), 1) for i, t in enumerate(rng.permutation(1000))])
    out = temporal_split(df, valid_fraction=0.1, test_fraction=0.2)
    assert out[out.split == TRAIN].timestamp.max() < out[out.split == VALID].timestamp.min()
    assert out[out.split == VALID].timestamp.max() < out[out.split == TEST].timestamp.min()
    assert abs((out.split == TEST).mean() - 0.2) < 0.01


def test_kcore_is_iterative():
    # item "rare" has one interaction; dropping it leaves user "b" with 1 < 2 interactions,
    # which in turn drops item "y" to one interaction: only the a/c block survives.
    rows = [("a", "x", 1, 1), ("a", "z", 2, 1), ("c", "x", 1, 1), ("c", "z", 2, 1),
            ("b", "rare", 1, 1), ("b", "y", 2, 1), ("d", "y", 3, 1)]
    out = kcore_filter(frame(rows), user_k=2, item_k=2)
    assert sorted(out.user_id.unique()) == ["a", "c"]
    assert sorted(out.item_id.unique()) == ["x", "z"]
    assert out.groupby("user_id").size().min() >= 2 and out.groupby("item_id").size().min() >= 2


def test_implicit_threshold_and_missing_rating():
    df = frame([("u", "a", 1, 5.0), ("u", "b", 2, 2.0), ("u", "c", 3, 4.0)])
    assert to_implicit(df, 4.0).item_id.tolist() == ["a", "c"]
    with pytest.raises(DataFormatError, match="rating"):
        to_implicit(df.drop(columns="rating"), 4.0)


def test_empty_log_and_missing_column_are_clear_errors():
    with pytest.raises(DataFormatError, match="empty"):
        InteractionLog(frame([]), name="mine")
    with pytest.raises(DataFormatError, match=r"lacks column\(s\) \['item_id'\]"):
        InteractionLog(pd.DataFrame({"user_id": ["u"], "timestamp": [1]}), name="mine")


BASE = {"user_id": ["u1", "u1", "u1", "u2", "u2", "u2"], "item_id": ["a", "b", "c", "a", "c", "d"],
        "timestamp": [1, 2, 3, 1, 2, 3]}


@pytest.mark.parametrize("column, values, message", [
    ("item_id", ["a", "b", None, "a", "c", "d"], "row 2: column 'item_id' is empty"),
    ("item_id", [1.0, 2.0, np.nan, 1.0, 3.0, 4.0], "row 2: column 'item_id' is empty"),
    ("item_id", [1.0, 2.5, 3.0, 1.0, 3.0, 4.0], "row 1: column 'item_id' must be an ID (a string or a whole number), got 2.5"),
    ("user_id", ["u1", " ", "u1", "u2", "u2", "u2"], "row 1: column 'user_id' is empty"),
    ("user_id", [True, False, True, True, False, False], "row 0: column 'user_id' holds true/false, not IDs"),
    ("rating", [5.0, -1.0, 3.0, 4.0, 4.0, 4.0], "row 1: column 'rating' must be a number >= 0, got -1.0"),
    ("rating", [5.0, 4.0, np.nan, 4.0, 4.0, 4.0], "row 2: column 'rating' is empty or NaN"),
    ("rating", [5.0, 4.0, 1e39, 4.0, 4.0, 4.0], "row 2: column 'rating' must be a number <= 3.40282e+38, got 1e+39"),
    ("rating", ["5", "4", "good", "4", "4", "4"], "row 2: column 'rating' must be a number, got 'good'"),
    ("timestamp", ["2020-01-01", "yesterday"] * 3, "row 1: column 'timestamp' must be a Unix time or a date/time, got 'yesterday'"),
])
def test_a_table_built_in_python_gets_the_readers_checks(column, values, message):
    """A NaN item ID used to become the item "nan" (an unknown item trained on), and a negative,
    NaN or (as float32) infinite rating passed: the readers' checks (one home, data/log.py) apply
    to a DataFrame too, naming the row instead of the line."""
    with pytest.raises(DataFormatError, match=f"^interaction log 'mine': {re.escape(message)}"):
        InteractionLog(pd.DataFrame(dict(BASE, **{column: values})), name="mine")


def test_a_table_built_in_python_may_hold_datetimes_whole_float_ids_or_no_times():
    log = InteractionLog(pd.DataFrame(dict(BASE, timestamp=pd.to_datetime(["2020-01-01"] * 6),
                                           item_id=[1.0, 2.0, 3.0, 1.0, 3.0, 4.0])))
    assert log.interactions.timestamp.iloc[0] == 1577836800 and log.interactions.item_id.tolist()[:3] == ["1", "2", "3"]
    dated = InteractionLog(pd.DataFrame(dict(BASE, timestamp=["2020-01-01", "2020-01-01T00:00:05", "2020-01-02"] * 2)))
    assert dated.interactions.timestamp.tolist()[:2] == [1577836800, 1577836805]  # as a file's date strings
    untimed = InteractionLog(pd.DataFrame({k: BASE[k] for k in ("user_id", "item_id")}))
    assert untimed.interactions.timestamp.tolist() == [0, 1, 2, 0, 1, 2] and not untimed.has_timestamps


def test_windows_are_left_padded_and_never_cross_users_or_see_the_future(tiny_data):
    seq = tiny_data.sequences
    rows = np.arange(len(seq))
    hist, times = seq.windows(rows, 5)
    for r in rng_rows(len(seq)):
        start = seq.user_start[r]
        expected = seq.items[max(start, r - 5): r]
        got = hist[r][hist[r] != 0]
        assert got.tolist() == expected.tolist()
        assert (hist[r][: 5 - len(expected)] == 0).all()  # left padding
        assert (times[r][5 - len(expected):] <= seq.timestamps[r]).all()
    with_row, _ = seq.windows(rows[:50], 5, include_row=True)
    assert (with_row[:, -1] == seq.items[:50]).all()


def rng_rows(n):
    return np.random.default_rng(0).choice(n, size=min(n, 200), replace=False)


def test_negatives_are_seeded_and_never_positives():
    users = np.repeat(np.arange(50), 20)
    items = np.random.default_rng(1).integers(2, 30, size=users.size)
    codes = np.unique(users * 30 + items)
    a = sample_negatives(users, 30, codes, np.random.default_rng(7))
    b = sample_negatives(users, 30, codes, np.random.default_rng(7))
    assert (a == b).all()
    assert not np.isin(users * 30 + a, codes).any()
    assert a.min() >= 2  # never padding or unknown


def test_a_user_who_rated_nearly_every_item_gets_the_items_left():
    # user 0 rated every item but 7 and 11: rejection sampling alone (three rounds) rarely finds them
    rated = [item for item in range(2, 40) if item not in (7, 11)]
    codes = np.unique(np.array(rated) + 0 * 40)
    negatives = sample_negatives(np.zeros(200, dtype=np.int64), 40, codes, np.random.default_rng(0), max_rounds=3)
    assert set(negatives.tolist()) == {7, 11}
    every = np.arange(2, 40)
    with pytest.raises(DataFormatError, match="interacted with every item"):
        sample_negatives(np.zeros(5, dtype=np.int64), 40, every, np.random.default_rng(0))


@pytest.mark.parametrize("users, items", [(100, 50), (10, 10), (40, 24)])
def test_a_small_synthetic_log_leaves_every_user_items_to_sample_negatives_from(users, items):
    log = generate_synthetic_log(num_users=users, num_items=items, seed=0)
    assert log.interactions.groupby("user_id").size().max() <= items - max(1, items // 8)
    data = prepare_data(log, DataConfig(max_history=5, seed=0))
    assert len(data.ctr_dataset("train")) > 0


def test_ctr_datasets_pair_positives_with_fixed_negatives(tiny_data, tiny_log):
    test = tiny_data.ctr_dataset("test")
    labels = np.asarray(test["label"])
    assert labels.sum() == (tiny_data.sequences.split == TEST).sum()
    assert len(labels) == 2 * labels.sum()  # one negative per held-out positive by default
    seq = tiny_data.sequences
    rows = np.asarray(test["row"])
    targets = np.asarray(test["target"])
    pos = labels == 1
    assert (targets[pos] == seq.items[rows[pos]]).all()
    user_items = {(u, i) for u, i in zip(seq.users, seq.items)}
    assert not any((u, t) in user_items for u, t in zip(np.asarray(test["user_index"])[~pos], targets[~pos]))
    again = prepare_data(tiny_log, DataConfig(max_history=10, seed=0)).ctr_dataset("test")
    assert again["target"] == test["target"]  # every model is scored on the same samples


def test_synthetic_log_is_seeded_and_has_sequential_structure():
    a = generate_synthetic_log(num_users=300, num_items=200, seed=5)
    b = generate_synthetic_log(num_users=300, num_items=200, seed=5)
    pd.testing.assert_frame_equal(a.interactions, b.interactions)
    assert not a.interactions.duplicated(["user_id", "item_id"]).any()
    assert {"gender", "age", "occupation", "zip"} <= set(a.users.columns)
    genre = a.items.set_index("item_id").genres.str[0]
    df = sort_chronologically(a.interactions)
    same_user = df.user_id.to_numpy()[1:] == df.user_id.to_numpy()[:-1]
    g = genre.loc[df.item_id].to_numpy()
    same_genre_rate = (g[1:] == g[:-1])[same_user].mean()
    assert same_genre_rate > 0.4  # chance is about 1/18: the next item is predictable from the last


def test_prepare_data_describes_splits(tiny_data):
    info = tiny_data.describe()
    assert info["test_interactions"] == info["valid_interactions"] == 80
    assert info["train_interactions"] + 160 == info["interactions"]
    assert tiny_data.train_item_counts.sum() == info["train_interactions"]


def test_a_temporal_split_needs_timestamps():
    """A log without times was cut at quantiles of each user's positions, holding out only long histories."""
    untimed = InteractionLog(pd.DataFrame({k: BASE[k] for k in ("user_id", "item_id")}))
    with pytest.raises(DataFormatError, match="split: temporal cuts the log at one point in time, but 'custom' has no "
                                              "timestamps"):
        prepare_data(untimed, DataConfig(split="temporal"))


def test_the_description_counts_what_each_filter_dropped():
    """The card showed what was left after --implicit-threshold, never what it dropped."""
    frame = pd.DataFrame({"user_id": ["u"] * 4 + ["v"] * 4, "item_id": list("abcdabcd"), "timestamp": list(range(8)),
                          "rating": [5, 1, 4, 2, 5, 5, 4, 1]})
    described = prepare_data(InteractionLog(frame), DataConfig(implicit_threshold=4, max_history=3)).describe()
    assert described["dropped by the implicit_threshold filter"] == 3 and described["interactions"] == 5
    assert "dropped by the k-core filter" not in described
