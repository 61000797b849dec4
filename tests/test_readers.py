"""Tests for hf_recsys.data.readers: small files in the exact raw formats, written to tmp_path."""

from __future__ import annotations

import gzip
import json
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hf_recsys.data.log import DataError, DataFormatError, DataOptionError, InteractionLog
from hf_recsys.data.pipeline import DataConfig, prepare_data, read_data
from hf_recsys.data.readers import (
    ML100K_GENRES,
    READERS,
    infer_reader,
    load_log,
    register_reader,
    read_amazon,
    read_movielens_100k,
    read_movielens_1m,
    read_movielens_csv,
    read_sequences,
    read_table,
)

BEAUTY = Path("/work/shared/data/beauty/user_sequence.txt")
ML1M_SHARED = Path("/work/shared/data/ml-1m")


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


# --------------------------------------------------------------------------------------------
# MovieLens-1M
# --------------------------------------------------------------------------------------------

ML1M_RATINGS = (
    "1::1193::5::978300760\n"
    "1::661::3::978302109\n"
    "2::1193::4::978298413\n"
    "10::73::2::978224375\n"
)
ML1M_USERS = "1::F::1::10::48067\n2::M::56::16::70072\n10::F::35::1::95370\n"
ML1M_MOVIES = (
    "73::Misérables, Les (1995)::Drama|Musical\n"
    "661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
    "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
    "2000::Star Wars: Episode IV - A New Hope (1977)::Action|Sci-Fi\n"
)


@pytest.fixture
def ml1m(tmp_path: Path) -> Path:
    folder = tmp_path / "ml-1m"
    write(folder / "ratings.dat", ML1M_RATINGS, "latin-1")
    write(folder / "users.dat", ML1M_USERS, "latin-1")
    write(folder / "movies.dat", ML1M_MOVIES, "latin-1")
    return folder


def test_ml1m_interactions(ml1m: Path) -> None:
    log = read_movielens_1m(ml1m)
    assert isinstance(log, InteractionLog)
    assert log.name == "ml-1m"
    df = log.interactions
    assert len(df) == 4
    assert list(df.columns) == ["user_id", "item_id", "timestamp", "rating"]
    assert df["user_id"].tolist() == ["1", "1", "2", "10"]
    assert df["item_id"].tolist() == ["1193", "661", "1193", "73"]
    assert all(isinstance(x, str) for x in df["user_id"]) and all(
        isinstance(x, str) for x in df["item_id"])
    assert df["timestamp"].dtype == np.int64
    assert df["timestamp"].tolist() == [978300760, 978302109, 978298413, 978224375]
    assert df["rating"].dtype == np.float32
    assert df["rating"].tolist() == [5.0, 3.0, 4.0, 2.0]
    assert log.has_timestamps


def test_ml1m_side_tables(ml1m: Path) -> None:
    log = read_movielens_1m(ml1m)
    users = log.users
    assert list(users.columns) == ["user_id", "gender", "age", "occupation", "zip"]
    assert users["user_id"].tolist() == ["1", "2", "10"]
    assert users["gender"].tolist() == ["F", "M", "F"]
    assert users["age"].tolist() == ["1", "56", "35"]
    assert users["occupation"].tolist() == ["10", "16", "1"]
    assert users["zip"].tolist() == ["48067", "70072", "95370"]
    items = log.items
    assert list(items.columns) == ["item_id", "title", "genres"]
    assert items["item_id"].tolist() == ["73", "661", "1193", "2000"]
    assert items["title"].iloc[0] == "Misérables, Les (1995)"  # latin-1 decoded
    assert items["title"].iloc[3] == "Star Wars: Episode IV - A New Hope (1977)"
    assert items["genres"].tolist() == [
        ["Drama", "Musical"], ["Animation", "Children's", "Musical"], ["Drama"],
        ["Action", "Sci-Fi"],
    ]
    assert log.multi_valued_item_features == ("genres",)
    assert log.user_feature_names == ["gender", "age", "occupation", "zip"]


def test_ml1m_without_side_files(tmp_path: Path) -> None:
    write(tmp_path / "ratings.dat", ML1M_RATINGS)
    log = read_movielens_1m(tmp_path)
    assert log.users is None and log.items is None
    assert len(log) == 4
    # a path to ratings.dat itself is accepted too
    assert len(read_movielens_1m(tmp_path / "ratings.dat")) == 4


def test_ml1m_sequences_fallback(tmp_path: Path) -> None:
    folder = tmp_path / "ml-1m"
    write(folder / "sequences_chronological.txt", "1 1193 661\n2 1193\n10 73 661 1193\n")
    write(folder / "users.dat", ML1M_USERS, "latin-1")
    write(folder / "movies.dat", ML1M_MOVIES, "latin-1")
    log = read_movielens_1m(folder)
    df = log.interactions
    assert log.name == "ml-1m"
    assert len(df) == 6
    assert df["user_id"].tolist() == ["1", "1", "2", "10", "10", "10"]
    assert df["item_id"].tolist() == ["1193", "661", "1193", "73", "661", "1193"]
    assert df["timestamp"].tolist() == [0, 1, 0, 0, 1, 2]
    assert "rating" not in df.columns
    assert df.attrs["has_timestamps"] is False and not log.has_timestamps
    assert log.users["gender"].tolist() == ["F", "M", "F"]
    assert log.items["title"].iloc[0] == "Misérables, Les (1995)"


def test_ml1m_missing_folder_and_files(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="ml-1m.zip") as exc:
        read_movielens_1m(tmp_path / "nowhere")
    assert "nowhere" in str(exc.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataFormatError) as exc:
        read_movielens_1m(empty)
    msg = str(exc.value)
    assert str(empty) in msg and "ratings.dat" in msg
    assert "https://files.grouplens.org/datasets/movielens/ml-1m.zip" in msg


@pytest.mark.parametrize(
    "bad_line, lineno, needle",
    [
        ("3::1193::5", 3, "expected 4 fields"),  # too few fields
        ("3::1193::5::978300760::9", 3, "expected 4 fields"),  # too many fields
        ("3::1193::five::978300760", 3, "rating"),  # non-numeric rating
        ("3::1193::5::yesterday", 3, "timestamp"),  # non-numeric timestamp
        ("3::::5::978300760", 3, "item_id"),  # empty ID
    ],
)
def test_ml1m_malformed_line(tmp_path: Path, bad_line: str, lineno: int, needle: str) -> None:
    lines = ML1M_RATINGS.splitlines()
    lines.insert(lineno - 1, bad_line)
    write(tmp_path / "ratings.dat", "\n".join(lines) + "\n")
    with pytest.raises(DataFormatError) as exc:
        read_movielens_1m(tmp_path)
    msg = str(exc.value)
    assert "ratings.dat" in msg
    assert f"line {lineno}:" in msg
    assert needle in msg


def test_ml1m_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    write(tmp_path / "ratings.dat", "1::2::3::4\n\n1::2::3\n")
    with pytest.raises(DataFormatError, match=r"ratings\.dat: line 3:"):
        read_movielens_1m(tmp_path)


def test_ml1m_empty_ratings(tmp_path: Path) -> None:
    write(tmp_path / "ratings.dat", "")
    with pytest.raises(DataFormatError, match=r"ratings\.dat.*empty"):
        read_movielens_1m(tmp_path)


def test_ml1m_malformed_movies(ml1m: Path) -> None:
    write(ml1m / "movies.dat", "73::Misérables, Les (1995)::Drama\n74 no separators\n", "latin-1")
    with pytest.raises(DataFormatError, match=r"movies\.dat: line 2:"):
        read_movielens_1m(ml1m)


# --------------------------------------------------------------------------------------------
# MovieLens-100K
# --------------------------------------------------------------------------------------------


def _u_item_line(item: int, title: str, genres: list[int]) -> str:
    flags = ["0"] * 19
    for g in genres:
        flags[g] = "1"
    return f"{item}|{title}|01-Jan-1995||http://us.imdb.com/x|" + "|".join(flags)


@pytest.fixture
def ml100k(tmp_path: Path) -> Path:
    folder = tmp_path / "ml-100k"
    write(folder / "u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n")
    write(folder / "u.user", "196|49|M|writer|55105\n186|39|F|executive|00000\n22|25|M|writer|40206\n")
    write(folder / "u.item", "\n".join([
        _u_item_line(242, "Kolya (1996)", [5]),
        _u_item_line(302, "L.A. Confidential (1997)", [6, 10, 13, 16]),
        _u_item_line(377, "Misérables, Les (1995)", [8, 12]),
        _u_item_line(400, "Nothing (1990)", []),
    ]) + "\n", "latin-1")
    return folder


def test_ml100k(ml100k: Path) -> None:
    log = read_movielens_100k(ml100k)
    assert log.name == "ml-100k"
    df = log.interactions
    assert len(df) == 3
    assert df["user_id"].tolist() == ["196", "186", "22"]
    assert df["item_id"].tolist() == ["242", "302", "377"]
    assert df["timestamp"].tolist() == [881250949, 891717742, 878887116]
    assert df["rating"].tolist() == [3.0, 3.0, 1.0]
    assert list(log.users.columns) == ["user_id", "gender", "age", "occupation", "zip"]
    assert log.users["gender"].tolist() == ["M", "F", "M"]
    assert log.users["age"].tolist() == ["49", "39", "25"]
    assert log.users["zip"].tolist() == ["55105", "00000", "40206"]  # leading zeros kept
    items = log.items
    assert list(items.columns) == ["item_id", "title", "genres"]
    assert items["item_id"].tolist() == ["242", "302", "377", "400"]
    assert items["title"].tolist()[2] == "Misérables, Les (1995)"
    assert items["genres"].tolist() == [
        ["Comedy"], ["Crime", "Film-Noir", "Mystery", "Thriller"], ["Drama", "Musical"], []]
    assert log.multi_valued_item_features == ("genres",)


def test_ml100k_genre_names_from_u_genre(ml100k: Path) -> None:
    names = [f"G{k}" for k in range(19)]
    write(ml100k / "u.genre", "".join(f"{n}|{k}\n" for k, n in enumerate(names)) + "\n")
    log = read_movielens_100k(ml100k)
    assert log.items["genres"].iloc[0] == ["G5"]
    assert ML100K_GENRES[5] == "Comedy"


def test_ml100k_bad_input(tmp_path: Path, ml100k: Path) -> None:
    with pytest.raises(DataFormatError, match="ml-100k.zip"):
        read_movielens_100k(tmp_path / "missing")
    write(ml100k / "u.data", "196\t242\t3\t881250949\n186\t302\t3\n")
    with pytest.raises(DataFormatError, match=r"u\.data: line 2:"):
        read_movielens_100k(ml100k)


# --------------------------------------------------------------------------------------------
# MovieLens-20M CSV
# --------------------------------------------------------------------------------------------


def test_ml20m_csv(tmp_path: Path) -> None:
    write(tmp_path / "ratings.csv",
          "userId,movieId,rating,timestamp\n1,2,3.5,1112486027\n1,29,4.0,1112484676\n"
          "7,32,0.5,1112484819\n")
    write(tmp_path / "movies.csv",
          'movieId,title,genres\n2,Jumanji (1995),Adventure|Children|Fantasy\n'
          '29,"City of Lost Children, The (Cité des enfants perdus, La) (1995)",'
          'Adventure|Drama|Fantasy|Mystery|Sci-Fi\n32,Some Film (2015),(no genres listed)\n')
    log = read_movielens_csv(tmp_path)
    assert log.name == "ml-20m"
    df = log.interactions
    assert len(df) == 3
    assert df["user_id"].tolist() == ["1", "1", "7"]
    assert df["item_id"].tolist() == ["2", "29", "32"]
    assert df["rating"].tolist() == [3.5, 4.0, 0.5]
    assert df["timestamp"].tolist() == [1112486027, 1112484676, 1112484819]
    items = log.items
    assert items["title"].iloc[1] == "City of Lost Children, The (Cité des enfants perdus, La) (1995)"
    assert items["genres"].tolist() == [
        ["Adventure", "Children", "Fantasy"],
        ["Adventure", "Drama", "Fantasy", "Mystery", "Sci-Fi"],
        [],
    ]
    assert load_log("ml-25m", tmp_path).name == "ml-25m"


def test_ml20m_bad_input(tmp_path: Path) -> None:
    write(tmp_path / "ratings.csv", "userId,itemId,rating,timestamp\n1,2,3.5,1\n")
    with pytest.raises(DataFormatError) as exc:
        read_movielens_csv(tmp_path)
    msg = str(exc.value)
    assert "ratings.csv" in msg and "movieId" in msg and "itemId" in msg
    write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n1,2,3.5,1\n1,3,good,2\n")
    with pytest.raises(DataFormatError, match=r"ratings\.csv: line 3:.*rating"):
        read_movielens_csv(tmp_path)
    write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n")
    with pytest.raises(DataFormatError, match=r"ratings\.csv.*no data rows"):
        read_movielens_csv(tmp_path)


# --------------------------------------------------------------------------------------------
# Amazon
# --------------------------------------------------------------------------------------------

AMAZON_REVIEWS = [
    {"reviewerID": "A2SUAM1J3GNN3B", "asin": "0000013714", "reviewerName": "J. McDonald",
     "helpful": [2, 3], "reviewText": "I bought this for my husband...", "overall": 5.0,
     "summary": "Heavenly Highway Hymns", "unixReviewTime": 1252800000,
     "reviewTime": "09 13, 2009"},
    {"reviewerID": "A1B2", "asin": "B000X", "overall": 3.0, "unixReviewTime": 1300000000,
     "style": {"Size:": " Large"}, "vote": "2", "image": ["http://x"]},
    {"reviewerID": "A2SUAM1J3GNN3B", "asin": "B000X", "overall": 1, "unixReviewTime": 1400000000},
]


def _jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def _check_amazon(log: InteractionLog) -> None:
    df = log.interactions
    assert log.name == "amazon"
    assert len(df) == 3
    assert df["user_id"].tolist() == ["A2SUAM1J3GNN3B", "A1B2", "A2SUAM1J3GNN3B"]
    assert df["item_id"].tolist() == ["0000013714", "B000X", "B000X"]  # leading zeros kept
    assert df["rating"].tolist() == [5.0, 3.0, 1.0]
    assert df["timestamp"].tolist() == [1252800000, 1300000000, 1400000000]
    assert df["timestamp"].dtype == np.int64


def test_amazon_json_lines(tmp_path: Path) -> None:
    _check_amazon(read_amazon(write(tmp_path / "reviews_Beauty_5.json", _jsonl(AMAZON_REVIEWS))))


def test_amazon_json_lines_gz(tmp_path: Path) -> None:
    path = tmp_path / "reviews_Beauty_5.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(_jsonl(AMAZON_REVIEWS))
    _check_amazon(read_amazon(path))
    _check_amazon(load_log("amazon", path))


def test_amazon_ratings_csv(tmp_path: Path) -> None:
    path = write(tmp_path / "ratings_Beauty.csv",
                 "A2SUAM1J3GNN3B,0000013714,5.0,1252800000\nA1B2,B000X,3.0,1300000000\n"
                 "A2SUAM1J3GNN3B,B000X,1.0,1400000000\n")
    _check_amazon(read_amazon(path))


def test_amazon_meta(tmp_path: Path) -> None:
    reviews = write(tmp_path / "reviews.json", _jsonl(AMAZON_REVIEWS))
    meta = write(tmp_path / "meta.json", _jsonl([
        {"asin": "0000013714", "title": "Hymns",
         "categories": [["Books", "Christian Books & Bibles", "Hymnals"], ["Music"]]},
        {"asin": "B000X", "category": ["Beauty", "Skin Care", "Face"]},
        {"asin": "B000Y"},
    ]))
    log = read_amazon(reviews, meta_path=meta)
    assert log.items["item_id"].tolist() == ["0000013714", "B000X", "B000Y"]
    assert log.items["category"].tolist() == ["Hymnals", "Face", ""]
    # 2014 metadata is written as Python literals (single quotes)
    meta14 = write(tmp_path / "meta14.json",
                   "{'asin': '0000013714', 'categories': [['Books', 'Hymnals']]}\n"
                   "{'asin': 'B000X', 'categories': [['Beauty', 'Face']], 'price': 1.5}\n")
    log = read_amazon(reviews, meta_path=meta14)
    assert log.items["category"].tolist() == ["Hymnals", "Face"]


def test_amazon_bad_input(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="nothing.json"):
        read_amazon(tmp_path / "nothing.json")
    with pytest.raises(DataFormatError, match=r"empty\.json.*empty"):
        read_amazon(write(tmp_path / "empty.json", ""))
    recs = AMAZON_REVIEWS[:2] + [{"reviewerID": "A9", "overall": 2.0, "unixReviewTime": 5}]
    with pytest.raises(DataFormatError, match=r"noasin\.json: line 3:.*asin"):
        read_amazon(write(tmp_path / "noasin.json", _jsonl(recs)))
    text = _jsonl(AMAZON_REVIEWS[:2]) + '{"reviewerID": "A9", "asin": "B1", "overall": 2.0, \n'
    with pytest.raises(DataFormatError, match=r"broken\.json: line 3:"):
        read_amazon(write(tmp_path / "broken.json", text))
    recs = AMAZON_REVIEWS[:1] + [dict(AMAZON_REVIEWS[1], unixReviewTime="soon")]
    with pytest.raises(DataFormatError, match=r"badtime\.json: line 2:.*unixReviewTime"):
        read_amazon(write(tmp_path / "badtime.json", _jsonl(recs)))
    with pytest.raises(DataFormatError, match=r"r\.csv: line 2:.*timestamp"):
        read_amazon(write(tmp_path / "r.csv", "A,B,5.0,1\nA,C,4.0,notatime\n"))


# --------------------------------------------------------------------------------------------
# Sequences (P5 / Beauty)
# --------------------------------------------------------------------------------------------


def test_read_sequences(tmp_path: Path) -> None:
    path = write(tmp_path / "user_sequence.txt",
                 "A1YJEY40YUW4SE B004756YJA B004ZT0SSG 7806397051\n"
                 "A1PQFP6SAJ6D80 B0030HKJ8I\n"
                 "\n"
                 "7 0001 0002\n")
    log = read_sequences(path)
    df = log.interactions
    assert log.name == "sequences"
    assert len(df) == 6
    assert df["user_id"].tolist() == ["A1YJEY40YUW4SE"] * 3 + ["A1PQFP6SAJ6D80", "7", "7"]
    assert df["item_id"].tolist() == ["B004756YJA", "B004ZT0SSG", "7806397051", "B0030HKJ8I",
                                      "0001", "0002"]
    assert df["timestamp"].tolist() == [0, 1, 2, 0, 0, 1]
    assert df["timestamp"].dtype == np.int64
    assert df.attrs["has_timestamps"] is False
    assert not log.has_timestamps
    assert "rating" not in df.columns
    beauty = load_log("beauty", tmp_path)  # folder -> folder/user_sequence.txt
    assert beauty.name == "beauty" and len(beauty) == 6


def test_read_sequences_bad_input(tmp_path: Path) -> None:
    path = write(tmp_path / "seq.txt", "u1 i1 i2\nu2 i3\nu3\nu4 i1\n")
    with pytest.raises(DataFormatError) as exc:
        read_sequences(path)
    assert "seq.txt" in str(exc.value) and "line 3" in str(exc.value)
    with pytest.raises(DataFormatError, match=r"dup\.txt: line 3:.*line 1"):
        read_sequences(write(tmp_path / "dup.txt", "u1 i1\nu2 i2\nu1 i3\n"))
    with pytest.raises(DataFormatError, match=r"blank\.txt.*empty"):
        read_sequences(write(tmp_path / "blank.txt", "\n\n"))
    with pytest.raises(DataFormatError, match="absent.txt"):
        read_sequences(tmp_path / "absent.txt")


@pytest.mark.skipif(not BEAUTY.exists(), reason="shared Beauty data not available")
def test_real_beauty() -> None:
    log = load_log("beauty", BEAUTY.parent)
    df = log.interactions
    assert len(df) == 198_502
    assert df["user_id"].nunique() == 22_363
    assert df["item_id"].nunique() == 12_101
    assert not log.has_timestamps
    first = BEAUTY.read_text().split("\n", 1)[0].split()
    assert df["user_id"].iloc[0] == first[0]
    assert df["item_id"].iloc[: len(first) - 1].tolist() == first[1:]


@pytest.mark.skipif(not (ML1M_SHARED / "sequences_chronological.txt").exists(),
                    reason="shared MovieLens-1M sequences not available")
def test_real_ml1m_sequences() -> None:
    log = read_movielens_1m(ML1M_SHARED)
    df = log.interactions
    assert len(df) == 1_000_209
    assert df["user_id"].nunique() == 6_040
    assert df["item_id"].nunique() == 3_706
    assert not log.has_timestamps
    assert len(log.users) == 6_040 and log.users["gender"].isin(["F", "M"]).all()
    assert "Misérables, Les (1995)" in set(log.items["title"])
    assert set(df["item_id"].unique()) <= set(log.items["item_id"])


# --------------------------------------------------------------------------------------------
# Generic tables
# --------------------------------------------------------------------------------------------

MAPPING = {"user_id": "uid", "item_id": "iid", "timestamp": "ts", "rating": "stars"}


def test_read_table_csv(tmp_path: Path) -> None:
    path = write(tmp_path / "log.csv",
                 "uid,iid,ts,stars,device\n007,NA,1600000000,4.5,phone\n8,x,1600000100,2,web\n")
    log = read_table(path, columns=MAPPING)
    df = log.interactions
    assert log.name == "log"
    assert list(df.columns) == ["user_id", "item_id", "timestamp", "rating", "device"]
    assert df["user_id"].tolist() == ["007", "8"]  # IDs stay strings, leading zeros kept
    assert df["item_id"].tolist() == ["NA", "x"]  # "NA" is an ID, not a missing value
    assert df["timestamp"].tolist() == [1600000000, 1600000100]
    assert df["rating"].dtype == np.float32 and df["rating"].tolist() == [4.5, 2.0]
    assert df["device"].tolist() == ["phone", "web"]
    assert len(load_log("csv", path, columns=MAPPING)) == 2


def test_read_table_parquet_datetimes(tmp_path: Path) -> None:
    path = tmp_path / "log.parquet"
    pd.DataFrame({
        "uid": [1, 2, 3],
        "iid": [10, 20, 10],
        "ts": pd.to_datetime(["1970-01-01 00:00:10", "2020-01-01 00:00:00", "2020-01-01 00:00:01"]),
        "stars": [1.0, 2.0, 3.0],
    }).to_parquet(path)
    log = read_table(path, columns=MAPPING, name="pq")
    df = log.interactions
    assert log.name == "pq"
    assert df["user_id"].tolist() == ["1", "2", "3"]
    assert df["item_id"].tolist() == ["10", "20", "10"]
    assert df["timestamp"].tolist() == [10, 1577836800, 1577836801]


def test_read_table_jsonl_datetime_strings(tmp_path: Path) -> None:
    path = write(tmp_path / "log.jsonl", _jsonl([
        {"uid": "u1", "iid": 5, "ts": "2020-01-01T00:00:00Z", "stars": 5, "extra": [1, 2]},
        {"uid": "u2", "iid": 6, "ts": "2020-01-01 00:01:00", "stars": 4, "extra": []},
    ]))
    df = read_table(path, columns=MAPPING).interactions
    assert df["user_id"].tolist() == ["u1", "u2"]
    assert df["item_id"].tolist() == ["5", "6"]
    assert df["timestamp"].tolist() == [1577836800, 1577836860]
    assert df["rating"].tolist() == [5.0, 4.0]
    assert df["extra"].tolist() == [[1, 2], []]


def test_read_table_tsv_without_timestamp(tmp_path: Path) -> None:
    path = write(tmp_path / "log.tsv", "user_id\titem_id\na\t1\nb\t2\na\t3\n")
    log = read_table(path, columns={"timestamp": None})
    assert log.interactions["timestamp"].tolist() == [0, 0, 1]
    assert not log.has_timestamps


def test_read_table_bad_input(tmp_path: Path) -> None:
    path = write(tmp_path / "log.csv", "uid,iid,time\n1,2,3\n")
    with pytest.raises(DataFormatError) as exc:
        read_table(path, columns=MAPPING)
    msg = str(exc.value)
    assert "log.csv" in msg and "'ts'" in msg and "'time'" in msg and "'uid'" in msg
    with pytest.raises(DataFormatError, match="absent.csv"):
        read_table(tmp_path / "absent.csv")
    with pytest.raises(DataFormatError, match=r"log\.xyz"):
        read_table(write(tmp_path / "log.xyz", "a,b\n"))
    bad_ts = write(tmp_path / "badts.csv", "user_id,item_id,timestamp\n1,2,3\n1,3,whenever\n")
    with pytest.raises(DataFormatError, match=r"badts\.csv: line 3:.*timestamp"):
        read_table(bad_ts)
    bad_rating = write(tmp_path / "badr.csv", "user_id,item_id,timestamp,rating\n1,2,3,x\n")
    with pytest.raises(DataFormatError, match=r"badr\.csv: line 2:.*rating"):
        read_table(bad_rating)
    with pytest.raises(DataFormatError, match=r"hdr\.csv.*no data rows"):
        read_table(write(tmp_path / "hdr.csv", "user_id,item_id,timestamp\n"))


# --------------------------------------------------------------------------------------------
# load_log
# --------------------------------------------------------------------------------------------


def test_load_log_dispatch(ml1m: Path, ml100k: Path) -> None:
    assert load_log("ml-1m", ml1m).name == "ml-1m"
    assert load_log("ML_100K", str(ml100k)).name == "ml-100k"
    with pytest.raises(ValueError, match="ml-1m"):
        load_log("netflix", ml1m)
    with pytest.raises(ValueError, match="path"):
        load_log("ml-1m")
    with pytest.raises(ValueError, match="path"):
        load_log("beauty")


# --------------------------------------------------------------------------------------------
# The registry: names, inference from a path, adding a format
# --------------------------------------------------------------------------------------------


def test_infer_reader_from_folders_and_files(tmp_path: Path, ml1m: Path, ml100k: Path) -> None:
    assert infer_reader(ml1m) == "ml-1m"
    assert infer_reader(ml1m / "ratings.dat") == "ml-1m"
    assert infer_reader(ml100k) == "ml-100k"
    write(tmp_path / "ml-25m" / "ratings.csv", "userId,movieId,rating,timestamp\n1,2,3.5,4\n")
    assert infer_reader(tmp_path / "ml-25m") == "ml-25m"  # the family member named like the folder
    write(tmp_path / "b" / "user_sequence.txt", "u1 i1 i2\n")
    assert infer_reader(tmp_path / "b") == "beauty"
    assert infer_reader(tmp_path / "b" / "user_sequence.txt") == "beauty"
    for name, reader in [("x.csv", "csv"), ("x.csv.gz", "csv"), ("x.tsv", "tsv"),
                         ("x.parquet", "parquet"), ("x.jsonl", "jsonl"), ("x.json.gz", "jsonl")]:
        (tmp_path / name).write_bytes(b"")
        assert infer_reader(tmp_path / name) == reader, name
    amazon = write(tmp_path / "reviews_Beauty_5.json", _jsonl(AMAZON_REVIEWS))
    assert infer_reader(amazon) == "amazon"  # the first record decides between jsonl and amazon
    assert len(load_log(None, amazon)) == 3


def test_infer_reader_errors_name_the_choices(tmp_path: Path) -> None:
    txt = write(tmp_path / "log.txt", "a\tb\n")
    with pytest.raises(DataOptionError, match=r"log\.txt: could be read as .*tsv.*sequences|"
                                             r"log\.txt: could be read as .*sequences.*tsv") as exc:
        infer_reader(txt)
    assert exc.value.option == "dataset"
    with pytest.raises(DataFormatError, match=r"log\.xyz.*'\.xyz'.*\.csv"):
        infer_reader(write(tmp_path / "log.xyz", "a,b\n"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match=r"empty: cannot tell.*ratings\.dat"):
        infer_reader(tmp_path / "empty")
    with pytest.raises(DataFormatError, match="no such file"):
        infer_reader(tmp_path / "absent.csv")


def test_register_reader_adds_a_format_in_one_line(tmp_path: Path) -> None:
    def read_pairs(path, name="pairs"):
        rows = [line.split("->") for line in Path(path).read_text().split()]
        return InteractionLog(pd.DataFrame({"user_id": [r[0] for r in rows],
                                            "item_id": [r[1] for r in rows],
                                            "timestamp": range(len(rows))}), name=name)

    register_reader("pairs", read_pairs, suffixes=(".pairs",))
    try:
        path = write(tmp_path / "log.pairs", "u1->a u1->b u2->a\n")
        assert "pairs" in READERS and infer_reader(path) == "pairs"
        assert load_log(None, path).interactions["item_id"].tolist() == ["a", "b", "a"]
        assert load_log("PAIRS", path).name == "pairs"
    finally:
        READERS.pop("pairs")


def test_table_options_only_for_tables(ml1m: Path) -> None:
    with pytest.raises(DataOptionError, match=r"sep: applies to table files.*ml-1m") as exc:
        load_log("ml-1m", ml1m, sep=";")
    assert exc.value.option == "sep"
    assert len(load_log("ml-1m", ml1m, sep=None, no_header=False)) == 4


def test_read_data_infers_the_reader_and_passes_options(tmp_path: Path) -> None:
    path = write(tmp_path / "mylog.csv", "5;7\n6;8\n5;9\n")
    log = read_data(None, str(path), DataConfig(no_header=True, sep=";"))
    assert log.name == "mylog"
    assert log.interactions["item_id"].tolist() == ["7", "8", "9"]
    with pytest.raises(DataOptionError, match="data_path"):
        read_data(None, None)


# --------------------------------------------------------------------------------------------
# Errors: one line, with path / line / column
# --------------------------------------------------------------------------------------------


def test_data_error_is_one_line_with_attributes(tmp_path: Path) -> None:
    assert DataError is DataFormatError and issubclass(DataOptionError, DataFormatError)
    assert str(DataFormatError("a\nb\r\n  c\n")) == "a b c"
    path = write(tmp_path / "log.csv", "user_id,item_id,timestamp\n1,2,3\n1,,4\n")
    with pytest.raises(DataFormatError) as exc:
        read_table(path)
    err = exc.value
    assert err.path == str(path) and err.line == 3 and err.column == "item_id"
    assert "\n" not in str(err)


def test_binary_file_as_csv_is_one_line_error(tmp_path: Path) -> None:
    """Issue 20 (4): a binary file passed as CSV ended in a raw UnicodeDecodeError."""
    rng = np.random.default_rng(0)
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
    with pytest.raises(DataFormatError, match=r"photo\.csv: is a binary file") as exc:
        load_log("csv", path)
    assert "\n" not in str(exc.value)
    # a binary file without NUL bytes near the start: still a DataFormatError naming the line
    path.write_bytes(b"user_id,item_id\n1,2\n" + bytes(range(128, 256)) * 4)
    with pytest.raises(DataFormatError, match=r"photo\.csv: line 3: byte 0x80 is not valid utf-8"):
        load_log("csv", path)


def test_encoding_option(tmp_path: Path) -> None:
    path = write(tmp_path / "l1.csv", "user_id,item_id\nJosé,Café\n", "latin-1")
    with pytest.raises(DataFormatError, match=r"l1\.csv: line 2: byte 0xe9.*encoding.*latin-1"):
        read_table(path)
    df = read_table(path, encoding="latin-1").interactions
    assert df["user_id"].tolist() == ["José"] and df["item_id"].tolist() == ["Café"]
    with pytest.raises(DataOptionError, match="encoding: unknown text encoding 'klingon'"):
        read_table(path, encoding="klingon")
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffuser_id,item_id\n1,2\n".encode("utf-8"))
    assert read_table(bom).interactions["user_id"].tolist() == ["1"]


# --------------------------------------------------------------------------------------------
# The columns / no_header / sep options
# --------------------------------------------------------------------------------------------


def test_columns_spec_string_and_positions(tmp_path: Path) -> None:
    path = write(tmp_path / "log.csv", "uid,iid,ts,stars\nu1,i1,10,4\nu2,i2,20,5\n")
    df = read_table(path, columns="user_id=uid, item_id=iid,timestamp=ts,rating=stars").interactions
    assert df.values.tolist() == [["u1", "i1", 10, 4.0], ["u2", "i2", 20, 5.0]]
    headless = write(tmp_path / "h.tsv", "10\tu1\ti1\n20\tu2\ti2\n")
    df = read_table(headless, columns="user_id=1,item_id=2,timestamp=0", no_header=True).interactions
    assert df[["user_id", "item_id", "timestamp"]].values.tolist() == [["u1", "i1", 10],
                                                                       ["u2", "i2", 20]]
    df = read_table(write(tmp_path / "h4.csv", "u1,i1,5,3.5\n"), no_header=True).interactions
    assert df.values.tolist() == [["u1", "i1", 5, 3.5]]  # default order without columns
    with pytest.raises(DataFormatError, match=r"h\.tsv: no column at position 7 \(for rating\)"):
        read_table(headless, columns="user_id=1,item_id=2,rating=7", no_header=True)
    with pytest.raises(DataOptionError, match=r"columns: with no_header, give the position of item_id"):
        read_table(headless, columns="user_id=1,timestamp=0", no_header=True)
    both = write(tmp_path / "both.csv", "user_id,item_id,timestamp\nu,a,5\n")
    assert read_table(both, columns={"timestamp": None}).interactions["timestamp"].tolist() == [0]
    with pytest.raises(DataFormatError, match=r"the file has its own column 'user_id', which user_id=uid would"):
        read_table(write(tmp_path / "clash.csv", "uid,user_id,item_id\nu,v,a\n"), columns="user_id=uid")
    with pytest.raises(DataFormatError, match=r"wide\.csv: a file without a header and 6"):
        read_table(write(tmp_path / "wide.csv", "1,2,3,4,5,6\n"), no_header=True)


@pytest.mark.parametrize("spec, no_header, needle", [
    ("usr=uid", False, "unknown key 'usr'"),
    ("user_id=a,user_id=b", False, "key 'user_id' is given twice"),
    ("user_id=a,item_id=a", False, "'item_id' and 'user_id' both name column 'a'"),
    ("user_id", False, "entry 'user_id' is not KEY=COLUMN"),
    ("user_id=", False, "key 'user_id' has no column name"),
    ("user_id=uid", True, "with no_header, 'user_id' must name a 0-based column position"),
    ("user_id=-1", True, "must name a 0-based column position"),
    (",", False, "columns: empty"),
])
def test_columns_spec_errors_name_the_option(spec: str, no_header: bool, needle: str) -> None:
    with pytest.raises(DataOptionError, match=re.escape(needle)) as exc:
        DataConfig(columns=spec, no_header=no_header)
    assert exc.value.option == "columns" and str(exc.value).startswith("columns: ")


def test_data_config_option_errors() -> None:
    for kwargs, option in [({"sep": "::"}, "sep"), ({"sep": ""}, "sep"),
                           ({"encoding": "nope"}, "encoding"), ({"duplicates": "merge"}, "duplicates")]:
        with pytest.raises(DataOptionError, match=f"^{option}: ") as exc:
            DataConfig(**kwargs)
        assert exc.value.option == option
    assert DataConfig(sep="tab", columns="user_id=0", no_header=True).reader_options() == {
        "columns": "user_id=0", "no_header": True, "sep": "tab"}
    for f in ("columns", "no_header", "sep", "encoding", "duplicates"):
        assert DataConfig.__dataclass_fields__[f].metadata["help"]
    assert DataConfig.__dataclass_fields__["duplicates"].metadata["choices"] == ["drop", "keep", "error"]


def test_sep_option_and_detection(tmp_path: Path, caplog) -> None:
    path = write(tmp_path / "semi.csv", "user_id;item_id;timestamp\n1;2;3\n")
    with caplog.at_level(logging.WARNING, logger="hf_recsys.data.readers"):
        assert read_table(path).interactions["item_id"].tolist() == ["2"]
    assert "semicolon" in caplog.text and "sep ';'" in caplog.text
    assert read_table(path, sep=";").interactions["timestamp"].tolist() == [3]
    tabbed = write(tmp_path / "t.csv", "user_id\titem_id\n1\t2\n")
    assert read_table(tabbed, sep="tab").interactions["item_id"].tolist() == ["2"]
    assert read_table(tabbed, sep="\\t").interactions["item_id"].tolist() == ["2"]


def test_missing_columns_hint(tmp_path: Path) -> None:
    ml = write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n1,2,3.5,4\n")
    with pytest.raises(DataFormatError, match=r"missing column\(s\) 'user_id', 'item_id'.*dataset ml-latest"):
        read_table(ml)
    assert read_table(ml, columns="user_id=userId,item_id=movieId").interactions["item_id"].tolist() == ["2"]
    with pytest.raises(DataFormatError, match=r"the file has columns \['uid', 'iid'\]; say which is which"):
        read_table(write(tmp_path / "x.csv", "uid,iid\n1,2\n"))


def test_truncated_and_overlong_lines(tmp_path: Path) -> None:
    short = write(tmp_path / "short.csv", "user_id,item_id,timestamp\n1,2,3\n4\n")
    with pytest.raises(DataFormatError, match=r"short\.csv: line 3: column 'item_id'.*empty.*cut short"):
        read_table(short)
    long = write(tmp_path / "long.csv", "user_id,item_id,timestamp\n1,2,3\n4,5,6,7\n")
    with pytest.raises(DataFormatError, match=r"long\.csv: line 3: expected 3 fields.*found 4"):
        read_table(long)


# --------------------------------------------------------------------------------------------
# Timestamps, ratings, IDs
# --------------------------------------------------------------------------------------------


def test_log_without_timestamps_keeps_file_order(tmp_path: Path, caplog) -> None:
    path = write(tmp_path / "clicks.csv", "user_id,item_id\nu,c\nv,a\nu,b\nu,a\n")
    with caplog.at_level(logging.INFO, logger="hf_recsys.data.readers"):
        log = read_table(path)
    assert "no timestamp column" in caplog.text and "order of the rows in the file" in caplog.text
    assert not log.has_timestamps
    assert log.interactions["timestamp"].tolist() == [0, 0, 1, 2]
    data = prepare_data(log, DataConfig())
    assert data.describe()["has_timestamps"] is False
    u = data.frame[data.frame["user_id"] == "u"]
    assert u["item_id"].tolist() == ["c", "b", "a"]  # a then b then c would be sorted by ID
    with pytest.raises(DataFormatError, match=r"missing column\(s\) 'ts' \(for timestamp\)"):
        read_table(path, columns="timestamp=ts")  # asked for and absent: an error, not a guess


@pytest.mark.parametrize("value, needle", [
    ("nan", "is empty or NaN"),
    ("NA", "is empty or NaN"),
    ("", "is empty or NaN"),
    ("inf", "must be a finite number, got inf"),
    ("-1", "must be a number >= 0, got -1"),
    ("four", "must be a number, got 'four'"),
    ("1e39", "must be a number <= 3.40282e+38, got 1e+39"),
])
def test_bad_ratings_name_the_line(tmp_path: Path, value: str, needle: str) -> None:
    """Issue 20 (6): negative and NaN ratings passed."""
    path = write(tmp_path / "r.csv", f"user_id,item_id,timestamp,rating\n1,2,3,4\n1,3,4,{value}\n")
    with pytest.raises(DataFormatError, match=r"r\.csv: line 3: column 'rating' \(rating\) " + re.escape(needle)):
        read_table(path)


def test_bad_ratings_in_json_and_parquet(tmp_path: Path) -> None:
    path = write(tmp_path / "r.jsonl", '{"user_id": 1, "item_id": 2, "timestamp": 3, "rating": NaN}\n')
    with pytest.raises(DataFormatError, match=r"r\.jsonl: line 1: column 'rating' \(rating\) is empty or NaN"):
        read_table(path)
    pq = tmp_path / "r.parquet"
    pd.DataFrame({"user_id": [1, 2], "item_id": [1, 1], "timestamp": [1, 2],
                  "rating": [1.0, -np.inf]}).to_parquet(pq)
    with pytest.raises(DataFormatError, match=r"r\.parquet: row 2: .*finite"):
        read_table(pq)
    pd.DataFrame({"user_id": [1, 2], "item_id": [1, 1], "timestamp": [1.0, np.inf]}).to_parquet(pq)
    with pytest.raises(DataFormatError, match=r"r\.parquet: row 2: column 'timestamp'.*finite"):
        read_table(pq)


def test_huge_ids(tmp_path: Path) -> None:
    big = "123456789012345678901234567890"
    df = read_table(write(tmp_path / "big.csv", f"user_id,item_id\n{big},1\n")).interactions
    assert df["user_id"].tolist() == [big]  # CSV IDs stay the exact text
    path = write(tmp_path / "big.jsonl", f'{{"user_id": {big}, "item_id": 1}}\n')
    with pytest.raises(DataFormatError, match=r"big\.jsonl: line 1: key 'user_id' holds a number too large"):
        read_table(path)
    path = write(tmp_path / "ok.jsonl", f'{{"user_id": "{big}", "item_id": 1}}\n')
    assert read_table(path).interactions["user_id"].tolist() == [big]
    path = write(tmp_path / "f.jsonl", '{"user_id": 1.5, "item_id": 1}\n')
    with pytest.raises(DataFormatError, match=r"f\.jsonl: line 1: column 'user_id'.*got 1\.5"):
        read_table(path)
    path = write(tmp_path / "n.jsonl", '{"user_id": [1], "item_id": 1}\n')
    with pytest.raises(DataFormatError, match=r"n\.jsonl: line 1: column 'user_id'.*must be an ID"):
        read_table(path)


# --------------------------------------------------------------------------------------------
# Duplicates and extra columns
# --------------------------------------------------------------------------------------------


def test_duplicates_policy(tmp_path: Path, caplog) -> None:
    """Issue 20 (6): exact duplicate rows were kept (and could make a user's validation and test
    item the same item)."""
    text = "user_id,item_id,timestamp\n" + "u,a,1\nu,b,2\nu,c,3\nu,c,3\nv,a,1\nv,b,2\nv,c,3\n"
    log = read_table(write(tmp_path / "d.csv", text))
    with caplog.at_level(logging.WARNING):
        data = prepare_data(log, DataConfig())
    assert "dropped 1 exact duplicate" in caplog.text and "'u'" in caplog.text
    assert data.duplicates_dropped == 1 and data.describe()["duplicates_dropped"] == 1
    u = data.frame[data.frame["user_id"] == "u"]
    assert u["item_id"].tolist() == ["a", "b", "c"]  # valid b, test c: no longer c and c
    kept = prepare_data(log, DataConfig(duplicates="keep"))
    assert len(kept.frame) == 7 and kept.duplicates_dropped == 0
    with pytest.raises(DataFormatError, match=r"d: 1 exact duplicate interaction\(s\) \(same user_id, "
                                              r"item_id, timestamp\), e\.g\. user 'u', item 'c', timestamp 3"):
        prepare_data(log, DataConfig(duplicates="error"))
    # without timestamps, positions do not tell rows apart: same user and item is a duplicate
    again = read_table(write(tmp_path / "n.csv", "user_id,item_id\nu,a\nu,b\nu,c\nu,c\nv,a\nv,b\n"))
    assert prepare_data(again, DataConfig()).duplicates_dropped == 1
    assert prepare_data(again, DataConfig(duplicates="keep")).describe()["interactions"] == 6
    with pytest.raises(DataFormatError, match=r"n: 1 exact duplicate.*user 'u', item 'c' \(the log has no"):
        prepare_data(again, DataConfig(duplicates="error"))
    # a sequence file lists each interaction once: a repeated item is a repeated interaction
    seq = read_sequences(write(tmp_path / "s.txt", "u a b c c\nv a b c\n"))
    assert prepare_data(seq, DataConfig(duplicates="error")).describe()["interactions"] == 7


def test_extra_columns_are_named_or_become_features(tmp_path: Path, caplog) -> None:
    """Issue 20 (6): extra columns were dropped without a word although the docstring said
    they were kept."""
    path = write(tmp_path / "x.csv", "user_id,item_id,timestamp,genre,age,device\n"
                                     "u,a,1,rock,30,web\nu,b,2,jazz,30,app\nv,a,3,rock,41,web\n")
    with caplog.at_level(logging.WARNING, logger="hf_recsys.data.readers"):
        log = read_table(path)
    assert "'genre', 'age', 'device' are not used by any model" in caplog.text
    assert list(log.interactions.columns)[3:] == ["genre", "age", "device"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hf_recsys.data.readers"):
        log = read_table(path, columns="item.genre=genre,user.age=age")
    assert "'device' are not used" in caplog.text and "genre" not in caplog.text
    assert log.items.to_dict("list") == {"item_id": ["a", "b"], "genre": ["rock", "jazz"]}
    assert log.users.to_dict("list") == {"user_id": ["u", "v"], "age": ["30", "41"]}
    processor = prepare_data(log, DataConfig()).processor
    assert "genre" in processor.item_feature_vocabs and "age" in processor.user_feature_vocabs
    with pytest.raises(DataFormatError, match=r"x\.csv: line 3: column 'device' \(item\.device\) must "
                                              r"have one value per item; item 'a' has 'web' on line 2"):
        read_table(write(tmp_path / "x.csv", "user_id,item_id,timestamp,device\nu,a,1,web\nv,a,2,app\n"),
                   columns="item.device=device")


# --------------------------------------------------------------------------------------------
# MovieLens schema
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("line, needle", [
    ("3::9999::4::978300760", r"ratings\.dat: line 5: movie '9999' is not defined in movies\.dat"),
    ("77::73::4::978300760", r"ratings\.dat: line 5: user '77' is not defined in users\.dat"),
    ("1::73::6::978300760", r"ratings\.dat: line 5: column 'rating'.*between 1 and 5, got 6\.0"),
    ("1::73::3.5::978300760", r"ratings\.dat: line 5: column 'rating'.*whole number"),
    ("1::73::nan::978300760", r"ratings\.dat: line 5: column 'rating' must be a number, got 'nan'"),
    ("1::abc::3::978300760", r"ratings\.dat: line 5: column 'item_id' \(movie ID\) must be a whole"),
    ("x1::73::3::978300760", r"ratings\.dat: line 5: column 'user_id' \(user ID\) must be a whole"),
])
def test_ml1m_schema(ml1m: Path, line: str, needle: str) -> None:
    write(ml1m / "ratings.dat", ML1M_RATINGS + line + "\n", "latin-1")
    with pytest.raises(DataFormatError, match=needle):
        read_movielens_1m(ml1m)


def test_ml1m_side_table_schema(ml1m: Path) -> None:
    write(ml1m / "users.dat", ML1M_USERS + "11::X::1::10::48067\n", "latin-1")
    with pytest.raises(DataFormatError, match=r"users\.dat: line 4: Gender must be F or M, got 'X'"):
        read_movielens_1m(ml1m)
    write(ml1m / "users.dat", ML1M_USERS + "2::F::1::10::48067\n", "latin-1")
    with pytest.raises(DataFormatError, match=r"users\.dat: line 4: UserID '2' is already defined on line 2"):
        read_movielens_1m(ml1m)
    write(ml1m / "users.dat", ML1M_USERS, "latin-1")
    write(ml1m / "movies.dat", ML1M_MOVIES + "x7::Bad::Drama\n", "latin-1")
    with pytest.raises(DataFormatError, match=r"movies\.dat: line 5: MovieID must be a whole number"):
        read_movielens_1m(ml1m)
    write(ml1m / "movies.dat", ML1M_MOVIES, "latin-1")
    (ml1m / "ratings.dat").write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(DataFormatError, match=r"ratings\.dat: is a binary file"):
        read_movielens_1m(ml1m)


def test_ml100k_and_csv_schema(ml100k: Path, tmp_path: Path) -> None:
    write(ml100k / "u.data", "196\t242\t3\t881250949\n196\t999\t3\t881250949\n")
    with pytest.raises(DataFormatError, match=r"u\.data: line 2: movie '999' is not defined in u\.item"):
        read_movielens_100k(ml100k)
    write(ml100k / "u.data", "196\t242\t0\t881250949\n")
    with pytest.raises(DataFormatError, match=r"u\.data: line 1: column 'rating'.*between 1 and 5"):
        read_movielens_100k(ml100k)
    folder = tmp_path / "ml-latest-small"
    write(folder / "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.5,10\n1,3,0.5,11\n")
    write(folder / "movies.csv", "movieId,title,genres\n1,Toy Story (1995),Comedy\n")
    with pytest.raises(DataFormatError, match=r"ratings\.csv: line 3: movie '3' is not defined in movies\.csv"):
        read_movielens_csv(folder)
    write(folder / "ratings.csv", "userId,movieId,rating,timestamp\n1,1,5.5,10\n")
    with pytest.raises(DataFormatError, match=r"ratings\.csv: line 2: column 'rating'.*between 0\.5 and 5"):
        read_movielens_csv(folder)


@pytest.mark.parametrize("kwargs, message", [
    ({"max_history": 0}, "max_history (--max-history) must be > 0, got 0"),
    ({"max_history": "10"}, "max_history (--max-history) expects an integer, got '10'"),
    ({"user_core": -1}, "user_core (--user-core) must be >= 0, got -1"),
    ({"train_negatives": 0}, "train_negatives (--train-negatives) must be >= 1, got 0"),
    ({"split": "random"}, "split (--split) invalid choice 'random'"),
    ({"implicit_threshold": float("nan")}, "implicit_threshold (--implicit-threshold) must be a finite number"),
])
def test_data_config_checks_its_ranges_when_made(kwargs, message) -> None:
    """DataConfig(max_history=0) used to be accepted, and prepare_data built a model input of no items."""
    with pytest.raises(DataOptionError) as exc:
        DataConfig(**kwargs)
    assert str(exc.value).startswith(message) and exc.value.option == next(iter(kwargs))


def test_an_unmapped_time_column_is_pointed_out_when_the_log_has_no_times(tmp_path: Path, caplog) -> None:
    """The warning only said how to make a column a feature, though the user forgot timestamp=."""
    path = write(tmp_path / "odd.csv", "Customer ID,SKU code,ts (unix),qty\nu1,a,1600000000,1\nu1,b,1600000100,2\n"
                                       "u2,a,1600000000,3\n")
    with caplog.at_level(logging.WARNING, logger="hf_recsys.data.readers"):
        read_table(path, columns="user_id=Customer ID,item_id=SKU code")
    assert "'ts (unix)' looks like times: map it with timestamp=ts (unix)" in caplog.text
    assert "'qty' looks like" not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hf_recsys.data.readers"):
        read_table(path, columns="user_id=Customer ID,item_id=SKU code,timestamp=ts (unix)")
    assert "looks like times" not in caplog.text


def test_a_column_name_with_a_comma_is_double_quoted(tmp_path: Path) -> None:
    path = write(tmp_path / "comma.csv", '"user,id",sku,ts\nu1,a,1\nu1,b,2\n')
    for spec in ('user_id="user,id",item_id=sku,timestamp=ts', '"user_id=user,id",item_id=sku,timestamp=ts'):
        assert read_table(path, columns=spec).interactions["user_id"].tolist() == ["u1", "u1"]


def test_the_csv_dataset_reads_a_file_whose_suffix_names_no_format(tmp_path: Path) -> None:
    """--dataset csv on log.dat said the format could not be told from the suffix."""
    from hf_recsys.data.readers import load_log

    path = write(tmp_path / "log.dat", "user_id,item_id,timestamp\nu1,a,1\nu1,b,2\n")
    assert load_log("csv", path).interactions["item_id"].tolist() == ["a", "b"]
    with pytest.raises(DataFormatError, match="--dataset / format="):
        read_table(path)


def _times(tmp_path: Path, values: list[str]) -> list[int]:
    path = tmp_path / "t.csv"
    path.write_text("u,i,t\n" + "".join(f"{'ab'[k % 2]},{k},{v}\n" for k, v in enumerate(values)))
    return read_table(path, columns="user_id=u,item_id=i,timestamp=t").interactions["timestamp"].tolist()


def test_dates_are_read_in_one_format_for_the_whole_column(tmp_path: Path, caplog) -> None:
    """Row by row ("mixed") parsing read 13/01/2020 day first and 02/05/2020 month first in one
    column, which reordered the user's history."""
    day_first = _times(tmp_path, ["13/01/2020", "01/02/2020", "02/05/2020", "01/03/2020"])
    assert day_first == [1578873600, 1580515200, 1588377600, 1583020800]  # 13 Jan, 1 Feb, 2 May, 1 Mar
    with caplog.at_level(logging.WARNING):
        month_first = _times(tmp_path, ["02/01/2020", "01/02/2020"])
    assert month_first == [1580515200, 1577923200] and "read as %m/%d/%Y (month first)" in caplog.text
    with pytest.raises(DataFormatError, match=r"t\.csv: line 3: column 't' \(timestamp\) must be a date/time in one "
                                              r"format for the whole column \(as '02/05/2020': %m/%d/%Y"):
        _times(tmp_path, ["02/05/2020", "2020-01-13"])


def test_unix_times_in_milliseconds_are_read_as_such_and_mixed_units_refused(tmp_path: Path, caplog) -> None:
    """Milliseconds were taken for seconds: time gaps a thousand times too long."""
    with caplog.at_level(logging.INFO):
        assert _times(tmp_path, ["1577836800000", "1577836801999"]) == [1577836800, 1577836801]
    assert "the timestamps are read as Unix times in milliseconds (every one is 1e+11 or more" in caplog.text
    assert _times(tmp_path, ["1577836800000000", "1577836801000000"]) == [1577836800, 1577836801]  # microseconds
    with pytest.raises(DataFormatError, match=r"line 3: .* must be a Unix time in the unit of the other rows "
                                              r"\(milliseconds: the largest is 1577836800000\), got 1577836801"):
        _times(tmp_path, ["1577836800000", "1577836801"])
    frame = pd.DataFrame({"user_id": ["a", "a"], "item_id": ["1", "2"], "timestamp": [1.5778368e12, 1.5778368e12 + 2500]})
    assert InteractionLog(frame).interactions["timestamp"].tolist() == [1577836800, 1577836802]


def test_a_click_label_column_is_pointed_out(tmp_path: Path, caplog) -> None:
    """An impression log's `label` column (0/1) was named as "not used ... map it as a feature":
    its non-clicks trained as positives."""
    path = tmp_path / "clicks.csv"
    path.write_text("user_id,item_id,timestamp,label\n" + "".join(f"u{k % 3},{k},{k},{k % 2}\n" for k in range(12)))
    with caplog.at_level(logging.WARNING):
        log = read_table(path)
    assert len(log) == 12
    assert ("column 'label' holds 0 and 1 like a click label, but every row is read as an interaction (a positive; "
            "negatives are sampled): to keep only the rows with 1, map it as the rating (rating=label) and pass "
            "--implicit-threshold 1") in caplog.text
    assert "to use one as a feature" not in caplog.text  # the feature advice was wrong for a label
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        read_table(path, columns="rating=label")
    assert "click label" not in caplog.text


def test_an_empty_feature_cell_is_missing_not_a_category(tmp_path: Path) -> None:
    """An empty CSV cell became the category "" (and an item with the value on one row and an
    empty cell on another was refused); JSON 5 and 5.0 were two categories."""
    path = tmp_path / "f.csv"
    path.write_text("user_id,item_id,timestamp,genre\nu,a,1,x\nu,b,2,\nv,a,3,\nv,c,4,y\n")
    log = read_table(path, columns="item.genre=genre")
    genres = dict(zip(log.items["item_id"], log.items["genre"]))
    assert genres == {"a": "x", "b": None, "c": "y"}
    processor = prepare_data(log, DataConfig(max_history=3)).processor
    assert processor.item_feature_vocabs["genre"].tokens == ["x", "y"]  # no "" category
    jsonl = tmp_path / "f.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in [{"user_id": "u", "item_id": "a", "size": 5},
                                                       {"user_id": "u", "item_id": "b", "size": 5.0},
                                                       {"user_id": "v", "item_id": "c", "size": None}]) + "\n")
    sizes = read_table(jsonl, columns="item.size=size").items
    assert dict(zip(sizes["item_id"], sizes["size"])) == {"a": "5", "b": "5", "c": None}


def test_a_file_column_that_a_mapping_would_overwrite_says_how_to_keep_it(tmp_path: Path) -> None:
    path = tmp_path / "clash.csv"
    path.write_text("customer,user_id,item_id,timestamp\nc1,x,1,1\nc1,x,2,2\nc2,y,1,3\n")
    with pytest.raises(DataFormatError, match=r"clash\.csv: the file has its own column 'user_id', which "
                                              r"user_id=customer would overwrite; map that column too \(as a "
                                              r"feature, user\.NAME=user_id or item\.NAME=user_id, when it holds "
                                              r"one value per user or item\) or rename or drop it in the file"):
        read_table(path, columns="user_id=customer")
    log = read_table(path, columns="user_id=customer,user.account=user_id")  # the remedy the message names
    assert log.interactions["user_id"].tolist() == ["c1", "c1", "c2"] and log.users["account"].tolist() == ["x", "y"]


def test_dates_pandas_cannot_name_are_read_in_one_day_month_order(tmp_path: Path, caplog) -> None:
    """`2/5/2020 1:00 PM` (a form pandas cannot guess) was refused after dates became one format
    per column; row by row, each row could take its own day/month order."""
    day_first = _times(tmp_path, ["2/5/2020 1:00 PM", "2/6/2020 1:00 PM", "13/5/2020 2:00 PM"])
    assert day_first == [1588424400, 1591102800, 1589378400]  # 2 May, 2 June, 13 May
    with caplog.at_level(logging.WARNING):
        assert _times(tmp_path, ["2/5/2020 1:00 PM", "2/6/2020 1:00 PM"]) == [1580907600, 1580994000]  # month first
    assert "the dates such as '2/5/2020 1:00 PM' read day first or month first; read month first" in caplog.text
    with pytest.raises(DataFormatError, match=r"line 4: .* this row puts the day first, the row of '2/13/2020 1:00 PM' "
                                              r"the month"):
        _times(tmp_path, ["2/5/2020 1:00 PM", "2/13/2020 1:00 PM", "13/5/2020 2:00 PM"])
    with pytest.raises(DataFormatError, match=r"line 3: .* this row reads only as %d/%m/%Y, the row of '01/13/2020' "
                                              r"only as %m/%d/%Y"):
        _times(tmp_path, ["02/05/2020", "13/01/2020", "01/13/2020"])


def test_a_table_records_the_side_features_it_was_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("user_id,item_id,timestamp,genre,age\nu,a,1,x,30\nv,b,2,y,40\n")
    assert read_table(path, columns="item.genre=genre,user.age=age").interactions.attrs["mapped_features"] == [
        "user.age", "item.genre"]
    assert read_table(path).interactions.attrs["mapped_features"] == []
