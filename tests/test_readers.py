"""Tests for hf_recsys.data.readers: small files in the exact raw formats, written to tmp_path."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hf_recsys.data.log import DataFormatError, InteractionLog
from hf_recsys.data.readers import (
    ML100K_GENRES,
    load_log,
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
