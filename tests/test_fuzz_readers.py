"""Fuzz test: malformed and hostile log files through every reader and through the command line.

Each generated file either reads into a log that holds exactly what the file holds (checked
against the rows the generator wrote, where it wrote valid rows) or raises a
:class:`~hf_recsys.data.log.DataFormatError` whose message is one line naming the file. Any
other exception fails. A subset goes through ``hf-recsys train``: exit status 2, one line on
stderr, no traceback and no model folder; two well-formed files train one step on exactly
their rows.

Cases are seeded. ``python tests/test_fuzz_readers.py`` prints every case and what it got.
"""

from __future__ import annotations

import gzip
import json
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pandas as pd
import pytest

from hf_recsys.data.log import DataFormatError, InteractionLog
from hf_recsys.data.readers import load_log

SEEDS = (0, 1)


# --------------------------------------------------------------------------------------------
# Generators
# --------------------------------------------------------------------------------------------


@dataclass
class Rows:
    """The interactions a generator meant to write (None where it wrote no valid log)."""

    users: list
    items: list
    times: list
    ratings: list


def _rows(rng: np.random.Generator, n: int = 40, id_prefix: str = "") -> Rows:
    users = [f"{id_prefix}{u}" for u in rng.integers(1, 9, n)]
    items = [f"{id_prefix}{i}" for i in rng.integers(1, 15, n)]
    times = (1_000_000_000 + np.arange(n) * 60).tolist()
    ratings = rng.integers(1, 6, n).astype(float).tolist()
    return Rows(users, items, times, ratings)


def _table_text(rows: Rows, sep: str = ",", header: bool = True, newline: str = "\n") -> str:
    lines = [sep.join(["user_id", "item_id", "timestamp", "rating"])] if header else []
    lines += [sep.join([u, i, str(t), f"{r:g}"]) for u, i, t, r in
              zip(rows.users, rows.items, rows.times, rows.ratings)]
    return newline.join(lines) + newline


def _replace_line(text: str, k: int, line: str) -> str:
    lines = text.split("\n")
    lines[min(k, len(lines) - 2)] = line
    return "\n".join(lines)


# Each mutation: (rng, rows, sep) -> (bytes, expected Rows or None when the file is not valid).
def m_valid(rng, rows, sep):
    return _table_text(rows, sep).encode(), rows


def m_crlf_bom(rng, rows, sep):
    return b"\xef\xbb\xbf" + _table_text(rows, sep, newline="\r\n").encode(), rows


def m_random_bytes(rng, rows, sep):
    return rng.integers(0, 256, int(rng.integers(1, 5000)), dtype=np.uint8).tobytes(), None


def m_random_text(rng, rows, sep):
    alphabet = np.array(list("abcXYZ0123456789,;\t|\"' \n.-:{}[]"))
    return "".join(rng.choice(alphabet, int(rng.integers(1, 3000)))).encode(), None


def m_truncated(rng, rows, sep):
    data = _table_text(rows, sep).encode()
    return data[: int(rng.integers(1, len(data) - 1))], None


def m_short_line(rng, rows, sep):
    text = _table_text(rows, sep)
    return _replace_line(text, int(rng.integers(1, 30)), rows.users[0]).encode(), None


def m_long_line(rng, rows, sep):
    text = _table_text(rows, sep)
    return _replace_line(text, int(rng.integers(1, 30)), sep.join(["1", "2", "3", "4", "5"])).encode(), None


def m_wrong_sep(rng, rows, sep):
    other = {",": ";", "\t": ",", ";": "|"}[sep]
    return _table_text(rows, other).encode(), None


def m_mixed_sep(rng, rows, sep):
    text = _table_text(rows, sep)
    k = int(rng.integers(1, 30))
    return _replace_line(text, k, ";".join(["1", "2", "3", "4"])).encode(), None


def m_huge_ids(rng, rows, sep):
    big = "9" * int(rng.integers(20, 400))
    r = Rows([big] + rows.users[1:], ["1e308"] + rows.items[1:], rows.times, rows.ratings)
    return _table_text(r, sep).encode(), r  # IDs are text in a CSV: kept exactly


def m_huge_timestamp(rng, rows, sep):
    r = Rows(rows.users, rows.items, ["9" * 40] + rows.times[1:], rows.ratings)
    return _table_text(r, sep).encode(), None


def m_mixed_encoding(rng, rows, sep):
    text = _table_text(rows, sep)
    k = int(rng.integers(1, 30))
    lines = text.split("\n")
    lines[k] = sep.join(["Josxe9", "Caf\u00e9", "5", "1"])
    head = "\n".join(lines[:k]).encode("utf-8") + b"\n"
    return head + lines[k].encode("latin-1") + b"\n" + \
        "\n".join(lines[k + 1:]).encode("utf-8"), None


def m_nan_inf(rng, rows, sep):
    bad = str(rng.choice(["nan", "NaN", "inf", "-inf", "-1", "1e400", "NA", "null"]))
    r = Rows(rows.users, rows.items, rows.times, rows.ratings)
    text = _table_text(r, sep)
    k = int(rng.integers(1, 30))
    return _replace_line(text, k, sep.join([r.users[k], r.items[k], str(r.times[k]), bad])).encode(), None


def m_nan_timestamp(rng, rows, sep):
    bad = str(rng.choice(["nan", "inf", "", "yesterday"]))
    text = _table_text(rows, sep)
    k = int(rng.integers(1, 30))
    return _replace_line(text, k, sep.join([rows.users[k], rows.items[k], bad, "3"])).encode(), None


def m_empty_id(rng, rows, sep):
    text = _table_text(rows, sep)
    k = int(rng.integers(1, 30))
    cells = [rows.users[k], "", str(rows.times[k]), "3"] if rng.random() < 0.5 else \
        [" ", rows.items[k], str(rows.times[k]), "3"]
    return _replace_line(text, k, sep.join(cells)).encode(), None


def m_empty_column(rng, rows, sep):
    lines = [sep.join(["user_id", "item_id", "timestamp", "rating"])]
    lines += [sep.join([u, i, str(t), ""]) for u, i, t in zip(rows.users, rows.items, rows.times)]
    return ("\n".join(lines) + "\n").encode(), None


def m_empty_header_name(rng, rows, sep):
    text = _table_text(rows, sep)
    return text.replace("rating", "", 1).encode(), None


def m_empty_file(rng, rows, sep):
    return [b"", b"\n\n\n", b"   \n", sep.join(["user_id", "item_id", "timestamp"]).encode() + b"\n"][
        int(rng.integers(0, 4))], None


def m_duplicates(rng, rows, sep):
    n = int(rng.integers(2000, 20000))
    r = Rows(["u1"] * n, ["i1"] * n, [5] * n, [3.0] * n)
    return _table_text(r, sep).encode(), r


def m_nul_bytes(rng, rows, sep):
    data = bytearray(_table_text(rows, sep).encode())
    data[int(rng.integers(0, len(data)))] = 0
    return bytes(data), None


def m_unbalanced_quote(rng, rows, sep):
    text = _table_text(rows, sep)
    k = int(rng.integers(1, 30))
    return _replace_line(text, k, sep.join(['"' + rows.users[k], rows.items[k], "5", "1"])).encode(), None


def m_quoted_ids(rng, rows, sep):
    lines = [sep.join(["user_id", "item_id", "timestamp", "rating"])]
    lines += [sep.join([f'"{u}{sep}x"', i, str(t), f"{r:g}"]) for u, i, t, r in
              zip(rows.users, rows.items, rows.times, rows.ratings)]
    r = Rows([f"{u}{sep}x" for u in rows.users], rows.items, rows.times, rows.ratings)
    return ("\n".join(lines) + "\n").encode(), r


def m_giant_field(rng, rows, sep):
    text = _table_text(rows, sep)
    return _replace_line(text, 3, sep.join(["x" * 500_000, "i", "5", "1"])).encode(), None


TABLE_MUTATIONS: dict[str, Callable] = {f.__name__[2:]: f for f in [
    m_valid, m_crlf_bom, m_random_bytes, m_random_text, m_truncated, m_short_line, m_long_line,
    m_wrong_sep, m_mixed_sep, m_huge_ids, m_huge_timestamp, m_mixed_encoding, m_nan_inf,
    m_nan_timestamp, m_empty_id, m_empty_column, m_empty_header_name, m_empty_file, m_duplicates,
    m_nul_bytes, m_unbalanced_quote, m_quoted_ids, m_giant_field,
]}


def _jsonl(records) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records).encode()


def _records(rows: Rows) -> list[dict]:
    return [{"user_id": u, "item_id": i, "timestamp": t, "rating": r}
            for u, i, t, r in zip(rows.users, rows.items, rows.times, rows.ratings)]


def j_cases(rng, rows) -> dict[str, tuple[bytes, Optional[Rows]]]:
    recs = _records(rows)
    k = int(rng.integers(0, len(recs)))
    def with_(value_key, value):
        out = [dict(r) for r in recs]
        out[k][value_key] = value
        return out
    big = int("9" * 25)
    return {
        "valid": (_jsonl(recs), rows),
        "random_bytes": (rng.integers(0, 256, 3000, dtype=np.uint8).tobytes(), None),
        "truncated": (_jsonl(recs)[: int(rng.integers(5, 200))], None),
        "not_json": (_jsonl(recs[:k] + ["{user_id: 1, item_id"] + recs[k:]), None),
        "array_line": (_jsonl(recs[:k] + ["[1, 2, 3]"] + recs[k:]), None),
        "huge_id": (_jsonl(with_("user_id", big)), None),
        "nested_id": (_jsonl(with_("item_id", {"a": 1})), None),
        "float_id": (_jsonl(with_("item_id", 1.5)), None),
        "nan_rating": (_jsonl(recs[:k] + ['{"user_id": "u", "item_id": "i", "timestamp": 1, "rating": NaN}']
                              + recs[k:]), None),
        "neg_rating": (_jsonl(with_("rating", -2)), None),
        "string_rating": (_jsonl(with_("rating", "five")), None),
        "null_item": (_jsonl(with_("item_id", None)), None),
        "missing_key": (_jsonl([{k2: v for k2, v in r.items() if k2 != "item_id"} for r in recs]), None),
        "bool_timestamp": (_jsonl(with_("timestamp", True)), None),
        "empty": (b"\n\n", None),
    }


def _amazon_records(rows: Rows) -> list[dict]:
    return [{"reviewerID": f"A{u}", "asin": f"B{i}", "overall": r, "unixReviewTime": t}
            for u, i, t, r in zip(rows.users, rows.items, rows.times, rows.ratings)]


def a_cases(rng, rows) -> dict[str, tuple[bytes, Optional[Rows]]]:
    recs = _amazon_records(rows)
    k = int(rng.integers(0, len(recs)))
    def with_(key, value):
        out = [dict(r) for r in recs]
        out[k][key] = value
        return out
    expect = Rows([f"A{u}" for u in rows.users], [f"B{i}" for i in rows.items], rows.times, rows.ratings)
    return {
        "valid": (_jsonl(recs), expect),
        "random_bytes": (rng.integers(0, 256, 2000, dtype=np.uint8).tobytes(), None),
        "truncated": (_jsonl(recs)[: int(rng.integers(5, 300))], None),
        "bad_json": (_jsonl(recs[:k] + ['{"reviewerID": "A1", "asin": '] + recs[k:]), None),
        "rating_7": (_jsonl(with_("overall", 7)), None),
        "rating_0": (_jsonl(with_("overall", 0)), None),
        "numeric_asin": (_jsonl(with_("asin", 12345)), None),
        "no_time": (_jsonl(with_("unixReviewTime", None)), None),
        "huge_time": (_jsonl(with_("unixReviewTime", int("9" * 30))), None),
    }


def s_cases(rng, rows) -> dict[str, tuple[bytes, Optional[Rows]]]:
    by_user: dict[str, list[str]] = {}
    for u, i in zip(rows.users, rows.items):
        by_user.setdefault(u, []).append(i)
    text = "".join(f"{u} {' '.join(items)}\n" for u, items in by_user.items())
    lines = text.split("\n")
    return {
        "valid": (text.encode(), None),
        "random_bytes": (rng.integers(0, 256, 2000, dtype=np.uint8).tobytes(), None),
        "user_only": (("\n".join(lines[:2] + ["lonely"] + lines[2:])).encode(), None),
        "dup_user": ((text + lines[0] + "\n").encode(), None),
        "tabs_crlf": (text.replace(" ", "\t").replace("\n", "\r\n").encode(), None),
        "latin1": ((text + "Jos\u00e9 caf\u00e9 th\u00e9\n").encode("latin-1"), None),
        "truncated": (text.encode()[: int(rng.integers(1, len(text)))], None),
        "empty": (b"  \n\n", None),
    }


def ml1m_cases(rng, rows) -> dict[str, tuple[bytes, Optional[Rows]]]:
    lines = [f"{u}::{i}::{int(r)}::{t}" for u, i, t, r in zip(rows.users, rows.items, rows.times, rows.ratings)]
    k = int(rng.integers(0, len(lines)))
    def with_line(line):
        return ("\n".join(lines[:k] + [line] + lines[k + 1:]) + "\n").encode()
    text = "\n".join(lines) + "\n"
    return {
        "valid": (text.encode(), rows),
        "random_bytes": (rng.integers(0, 256, 3000, dtype=np.uint8).tobytes(), None),
        "truncated": (text.encode()[: int(rng.integers(1, len(text)))], None),
        "unknown_movie": (with_line("1::99999::3::978300760"), None),
        "unknown_user": (with_line("999::1::3::978300760"), None),
        "rating_6": (with_line("1::1::6::978300760"), None),
        "rating_half": (with_line("1::1::3.5::978300760"), None),
        "rating_nan": (with_line("1::1::nan::978300760"), None),
        "text_id": (with_line("1::abc::3::978300760"), None),
        "huge_id": (with_line("1::" + "9" * 30 + "::3::978300760"), None),
        "single_colon": (with_line("1:1:3:978300760"), None),
        "extra_field": (with_line("1::1::3::978300760::x"), None),
        "negative_id": (with_line("-1::1::3::978300760"), None),
    }


def ml100k_cases(rng, rows) -> dict[str, tuple[bytes, Optional[Rows]]]:
    lines = [f"{u}\t{i}\t{int(r)}\t{t}" for u, i, t, r in zip(rows.users, rows.items, rows.times, rows.ratings)]
    k = int(rng.integers(0, len(lines)))
    def with_line(line):
        return ("\n".join(lines[:k] + [line] + lines[k + 1:]) + "\n").encode()
    text = "\n".join(lines) + "\n"
    return {
        "valid": (text.encode(), rows),
        "random_bytes": (rng.integers(0, 256, 3000, dtype=np.uint8).tobytes(), None),
        "unknown_movie": (with_line("1\t4242\t3\t881250949"), None),
        "rating_0": (with_line("1\t1\t0\t881250949"), None),
        "commas": (text.replace("\t", ",").encode(), None),
        "inf_time": (with_line("1\t1\t3\tinf"), None),
    }


def mlcsv_cases(rng, rows) -> dict[str, tuple[bytes, Optional[Rows]]]:
    header = "userId,movieId,rating,timestamp"
    lines = [f"{u},{i},{r / 2 + 0.5:g},{t}" for u, i, t, r in zip(rows.users, rows.items, rows.times, rows.ratings)]
    k = int(rng.integers(0, len(lines)))
    def with_line(line):
        return ("\n".join([header] + lines[:k] + [line] + lines[k + 1:]) + "\n").encode()
    expect = Rows(rows.users, rows.items, rows.times, [r / 2 + 0.5 for r in rows.ratings])
    return {
        "valid": (("\n".join([header] + lines) + "\n").encode(), expect),
        "random_bytes": (rng.integers(0, 256, 3000, dtype=np.uint8).tobytes(), None),
        "rating_0": (with_line("1,1,0,10"), None),
        "rating_inf": (with_line("1,1,inf,10"), None),
        "unknown_movie": (with_line("1,777,3,10"), None),
        "wrong_header": (("\n".join(["user,movie,rating,timestamp"] + lines) + "\n").encode(), None),
    }


# --------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------


@dataclass
class Case:
    family: str
    mutation: str
    seed: int

    @property
    def id(self) -> str:
        return f"{self.family}-{self.mutation}-{self.seed}"


def _cases() -> list[Case]:
    rng = np.random.default_rng(0)
    rows = _rows(rng)
    out = []
    for seed in SEEDS:
        out += [Case(f, m, seed) for f in ("csv", "tsv") for m in TABLE_MUTATIONS]
    for seed in SEEDS:
        out += [Case("jsonl", m, seed) for m in j_cases(rng, rows)]
        out += [Case("amazon", m, seed) for m in a_cases(rng, rows)]
        out += [Case("sequences", m, seed) for m in s_cases(rng, rows)]
        out += [Case("ml-1m", m, seed) for m in ml1m_cases(rng, rows)]
        out += [Case("ml-100k", m, seed) for m in ml100k_cases(rng, rows)]
        out += [Case("ml-latest", m, seed) for m in mlcsv_cases(rng, rows)]
        out += [Case("parquet", m, seed) for m in PARQUET_CASES]
    return out


PARQUET_CASES = ("valid", "random_bytes", "truncated", "nan_id", "inf_rating", "neg_rating",
                 "bool_id", "missing_item", "datetime_ts", "empty")

ML_MOVIES = "".join(f"{i}::Movie {i} (1999)::Drama|Comedy\n" for i in range(1, 15))
ML_USERS = "".join(f"{u}::F::25::3::12345\n" for u in range(1, 9))


def _write_case(case: Case, folder: Path) -> tuple[Path, str, Optional[Rows]]:
    """Write the case's file(s) under ``folder``; return the path to read, the reader name and
    the rows a correct read holds (None: the file is not a valid log)."""
    rng = np.random.default_rng(1000 * case.seed + zlib.crc32(case.mutation.encode()) % 1000)
    rows = _rows(rng)
    if case.family in ("csv", "tsv"):
        sep = "," if case.family == "csv" else "\t"
        data, expect = TABLE_MUTATIONS[case.mutation](rng, rows, sep)
        path = folder / f"log.{case.family}"
        path.write_bytes(data)
        return path, case.family, expect
    if case.family == "csv.gz":
        n = 1_000_000
        path = folder / "dups.csv.gz"
        with gzip.open(path, "wb", compresslevel=9) as fh:
            fh.write(b"user_id,item_id,timestamp\n" + b"u1,i1,5\n" * n)
        return path, "csv", Rows(["u1"] * n, ["i1"] * n, [5] * n, [])
    if case.family == "jsonl":
        data, expect = j_cases(rng, rows)[case.mutation]
        path = folder / "log.jsonl"
        path.write_bytes(data)
        return path, "jsonl", expect
    if case.family == "amazon":
        data, expect = a_cases(rng, rows)[case.mutation]
        path = folder / "reviews.json"
        path.write_bytes(data)
        return path, "amazon", expect
    if case.family == "sequences":
        data, expect = s_cases(rng, rows)[case.mutation]
        path = folder / "user_sequence.txt"
        path.write_bytes(data)
        return path, "beauty", expect
    if case.family == "ml-1m":
        data, expect = ml1m_cases(rng, rows)[case.mutation]
        (folder / "ratings.dat").write_bytes(data)
        (folder / "movies.dat").write_text(ML_MOVIES, encoding="latin-1")
        (folder / "users.dat").write_text(ML_USERS, encoding="latin-1")
        return folder, "ml-1m", expect
    if case.family == "ml-100k":
        data, expect = ml100k_cases(rng, rows)[case.mutation]
        (folder / "u.data").write_bytes(data)
        flags = "|".join(["0"] * 19)
        (folder / "u.item").write_text("".join(f"{i}|M {i}|01-Jan-1995||http://x|{flags}\n"
                                               for i in range(1, 15)), encoding="latin-1")
        return folder, "ml-100k", expect
    if case.family == "ml-latest":
        data, expect = mlcsv_cases(rng, rows)[case.mutation]
        (folder / "ratings.csv").write_bytes(data)
        (folder / "movies.csv").write_text("movieId,title,genres\n" + "".join(
            f"{i},Movie {i},Drama\n" for i in range(1, 15)))
        return folder, "ml-latest", expect
    if case.family == "parquet":
        path = folder / "log.parquet"
        frame = pd.DataFrame({"user_id": rows.users, "item_id": rows.items, "timestamp": rows.times,
                              "rating": rows.ratings})
        expect: Optional[Rows] = None
        m = case.mutation
        if m == "valid":
            expect = rows
        elif m == "nan_id":
            frame["user_id"] = frame["user_id"].astype(float)
            frame.loc[3, "user_id"] = np.nan
        elif m == "inf_rating":
            frame.loc[4, "rating"] = np.inf
        elif m == "neg_rating":
            frame.loc[5, "rating"] = -3.0
        elif m == "bool_id":
            frame["item_id"] = frame["item_id"] == "1"
        elif m == "missing_item":
            frame = frame.drop(columns="item_id")
        elif m == "datetime_ts":
            frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="s")
            expect = rows
        elif m == "empty":
            frame = frame.iloc[:0]
        if m == "random_bytes":
            path.write_bytes(rng.integers(0, 256, 2000, dtype=np.uint8).tobytes())
        else:
            frame.to_parquet(path)
            if m == "truncated":
                path.write_bytes(path.read_bytes()[: int(rng.integers(10, 400))])
        return path, "parquet", expect
    raise AssertionError(case.family)


CASES = _cases()


def _check_log(log: InteractionLog, expect: Optional[Rows]) -> None:
    df = log.interactions
    assert len(df) > 0
    for col in ("user_id", "item_id"):
        values = df[col].astype(str)
        assert (values.str.strip() != "").all(), col
    assert df["timestamp"].dtype == np.int64
    if "rating" in df:
        assert np.isfinite(df["rating"].to_numpy()).all() and (df["rating"] >= 0).all()
    if expect is not None:
        assert df["user_id"].tolist() == [str(u) for u in expect.users]
        assert df["item_id"].tolist() == [str(i) for i in expect.items]
        if log.has_timestamps:
            assert df["timestamp"].tolist() == [int(t) for t in expect.times]
        if expect.ratings:
            assert df["rating"].tolist() == pytest.approx(expect.ratings)


def run_case(case: Case, folder: Path) -> str:
    """``"read N rows"`` or ``"DataFormatError: MESSAGE"``; raises on anything else."""
    path, reader, expect = _write_case(case, folder)
    try:
        log = load_log(reader, path)
    except DataFormatError as exc:
        message = str(exc)
        assert "\n" not in message and message.strip() == message
        assert path.name in message or folder.name in message, message
        assert expect is None, f"a valid file was refused: {message}"
        return "DataFormatError: " + message.replace(str(folder) + "/", "").replace(str(folder), ".")
    _check_log(log, expect)
    return f"read {len(log)} rows"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fuzz_reader(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path)


def test_enough_cases() -> None:
    assert len(CASES) >= 200
    assert {c.family for c in CASES} >= {"csv", "tsv", "jsonl", "parquet", "amazon", "sequences",
                                        "ml-1m", "ml-100k", "ml-latest"}


def test_million_duplicates_are_dropped_with_a_count(tmp_path: Path) -> None:
    from hf_recsys.data.pipeline import DataConfig, prepare_data

    path, reader, _ = _write_case(Case("csv.gz", "million_duplicates", 0), tmp_path)
    log = load_log(reader, path)
    assert len(log) == 1_000_000  # the reader reads what the file holds
    extra = pd.DataFrame({"user_id": ["u2"] * 3, "item_id": ["a", "b", "c"], "timestamp": [1, 2, 3]})
    log = InteractionLog(pd.concat([log.interactions, extra], ignore_index=True), name="dups")
    data = prepare_data(log, DataConfig())
    assert data.duplicates_dropped == 1_000_000 - 1
    with pytest.raises(DataFormatError, match="999,999 exact duplicate"):
        prepare_data(log, DataConfig(duplicates="error"))


# --------------------------------------------------------------------------------------------
# Through the command line
# --------------------------------------------------------------------------------------------

CLI_FAMILIES = {"csv": "csv", "amazon": "amazon", "ml-1m": "ml-1m", "sequences": "beauty"}
CLI_CASES = [c for c in CASES if c.seed == 0 and c.family in CLI_FAMILIES and c.mutation in (
    "random_bytes", "nan_inf", "mixed_encoding", "empty_file", "huge_timestamp",
    "nul_bytes", "unknown_movie", "rating_7", "user_only", "short_line", "empty_id")]
TINY = ["--max-history", "5", "--no-progress", "--max-steps", "1", "--batch-size", "8",
        "--set", "embedding_dim=8", "--set", "hidden_size=8", "--use-cpu"]


def _cli(argv: list[str]) -> int:
    from hf_recsys.cli import run_command

    try:
        run_command("train", argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.mark.parametrize("case", CLI_CASES, ids=[c.id for c in CLI_CASES])
def test_fuzz_cli_refuses_bad_files(case: Case, tmp_path: Path, capsys) -> None:
    path, reader, expect = _write_case(case, tmp_path)
    assert expect is None
    out = tmp_path / "model"
    code = _cli(["--model", "gru4rec", "--dataset", reader, "--data-path", str(path),
                 "--output-dir", str(out), *TINY])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("hf-recsys train: error: ") and (path.name in err or str(tmp_path) in err)
    assert not out.exists()


@pytest.mark.parametrize("mutation", ["valid", "duplicates"])
def test_fuzz_cli_trains_on_exactly_the_file(mutation: str, tmp_path: Path, capsys) -> None:
    rng = np.random.default_rng(7)
    rows = _rows(rng, n=60)
    data, expect = TABLE_MUTATIONS[mutation](rng, rows, ",")
    if mutation == "duplicates":  # the duplicates of one user plus a real log
        data = _table_text(rows, ",").encode() + data.split(b"\n", 1)[1]
    path = tmp_path / "mylog.csv"
    path.write_bytes(data)
    out = tmp_path / "model"
    code = _cli(["--model", "gru4rec", "--dataset", "csv", "--data-path", str(path),
                 "--output-dir", str(out), *TINY])
    assert code == 0, capsys.readouterr().err
    frame = pd.read_csv(path, dtype=str).drop_duplicates()
    card = (out / "README.md").read_text()
    assert f"- interactions: {len(frame)}" in card
    assert f"- users: {frame['user_id'].nunique()}" in card


if __name__ == "__main__":  # print every case and what it got
    import tempfile

    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                outcome = run_case(case, Path(tmp))
            except Exception as exc:  # noqa: BLE001 - the report shows failures too
                outcome = f"FAILED {type(exc).__name__}: {exc}"
        print(f"{case.id:45s} {outcome[:200]}")
    sys.exit(0)
