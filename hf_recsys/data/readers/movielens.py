"""MovieLens readers: ML-1M (``::``-separated ``.dat`` files), ML-100K (``u.data`` and its
``|``-separated side files) and the CSV releases (ML-20M, ML-25M, ml-latest).

Each release has a schema and is held to it: user and movie IDs are integers, ratings lie on
the release's scale, and where the release ships the table that defines its movies
(``movies.dat``, ``u.item``, ``movies.csv``) or users (``users.dat``, ``u.user``), a rating of a
movie or by a user that table lacks is an error naming the file and line, never a new item.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from ..log import DataFormatError, InteractionLog
from ._common import (
    _UNIT_SEP,
    PathLike,
    _check_header,
    _check_numbers,
    _data_line_numbers,
    _decode,
    _fail,
    _folder,
    _lines,
    _read_bytes,
    _read_delimited,
    _shorten,
)
from .sequences import read_sequences

ML1M_URL = "https://files.grouplens.org/datasets/movielens/ml-1m.zip"
ML100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
ML20M_URL = "https://files.grouplens.org/datasets/movielens/ml-20m.zip"

#: The 19 genre names of MovieLens-100K, in the column order of ``u.item`` (as in ``u.genre``).
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)

# A single byte that does not occur in MovieLens text; "::" is replaced by it so that the fast


#: The rating scale of each release: (lowest, highest, whole stars only).
ML_RATING_SCALE = {"ml-1m": (1.0, 5.0, True), "ml-100k": (1.0, 5.0, True),
                   "csv": (0.5, 5.0, False)}


def _check_ml_rows(path: Path, df: pd.DataFrame, text: str, release: str, *,
                   user_col: str = "user_id", item_col: str = "item_id",
                   header: bool = False) -> None:
    """Integer user and movie IDs and ratings on the release's scale, or a DataFormatError
    naming the line."""
    def line_of(k: int) -> int:
        return int(_data_line_numbers(text, header=header)[k])

    for col, what in ((user_col, "user ID"), (item_col, "movie ID")):
        ok = df[col].str.fullmatch(r"\d{1,18}")
        if not ok.all():
            k = int(np.argmax(~ok.to_numpy()))
            raise _fail(path, f"column '{col}' ({what}) must be a whole number, got "
                              f"{df[col].iloc[k]!r}", line=line_of(k), column=col)
    low, high, whole = ML_RATING_SCALE[release]
    _check_numbers(path, df["rating"], "rating", what="rating", line_of=line_of, low=low,
                   high=high, integer=whole)


def _check_defined(path: Path, ids: pd.Series, known: pd.Series, defined_in: Path, what: str,
                   line_of) -> None:
    """Every ID in ``ids`` occurs in ``known`` (the table that defines them), or an error."""
    missing = ~ids.isin(known).to_numpy()
    if missing.any():
        k = int(np.argmax(missing))
        n = int(missing.sum())
        raise _fail(path, f"{what} {ids.iloc[k]!r} is not defined in {defined_in.name} "
                          f"({n:,} such row{'s' if n != 1 else ''} in the file)",
                    line=line_of(k))


def _check_unique_ids(path: Path, ids: pd.Series, text: str, what: str) -> None:
    """Each ID defined once in a side table, and a whole number."""
    ok = ids.str.fullmatch(r"\d{1,18}").to_numpy()
    if not ok.all():
        k = int(np.argmax(~ok))
        raise _fail(path, f"{what} must be a whole number, got {ids.iloc[k]!r}",
                    line=int(_data_line_numbers(text)[k]))
    dup = ids.duplicated().to_numpy()
    if dup.any():
        k = int(np.argmax(dup))
        first = int(np.argmax((ids == ids.iloc[k]).to_numpy()))
        lines = _data_line_numbers(text)
        raise _fail(path, f"{what} {ids.iloc[k]!r} is already defined on line {lines[first]}",
                    line=int(lines[k]))


def _split_ml_titles(path: Path, text: str) -> pd.DataFrame:
    """Parse ``MovieID::Title::Genres`` lines; the title may itself contain ':' or '::'."""
    lines = _lines(text)
    lines = lines[lines.str.strip() != ""]
    if lines.empty:
        raise DataFormatError(f"{path}: file is empty")
    parts = lines.str.extract(r"^([^:]*)::(.*)::([^:]*)$")
    bad = parts[0].isna() | (parts[0].str.strip() == "")
    if bad.any():
        i = bad.idxmax()
        raise DataFormatError(
            f"{path}: line {i + 1}: expected MovieID::Title::Genres, got {_shorten(lines[i])!r}"
        )
    return pd.DataFrame({
        "item_id": parts[0].str.strip().to_numpy(dtype=object),
        "title": parts[1].to_numpy(dtype=object),
        "genres": _genre_lists(parts[2]),
    })


def _genre_lists(genres: pd.Series) -> list[list[str]]:
    """'A|B' -> ['A', 'B']; '' and '(no genres listed)' -> []. One small list per item."""
    out = []
    for g in genres.fillna("").astype(str).tolist():
        g = g.strip()
        out.append([x for x in g.split("|") if x] if g and g != "(no genres listed)" else [])
    return out




def _read_double_colon(path: Path, names: Sequence[str], numeric: Mapping[str, str],
                       required: Iterable[str]) -> tuple[pd.DataFrame, str]:
    """A ``::``-separated latin-1 file as a frame, and its text (for line numbers)."""
    raw = _read_bytes(path)
    if not raw.strip():
        raise DataFormatError(f"{path}: file is empty", path=path)
    text = raw.decode("latin-1")
    if "\x00" in text[:65536]:
        raise _fail(path, "is a binary file, not MovieLens text (found NUL bytes)")
    data = raw.replace(b"::", _UNIT_SEP.encode())
    df = _read_delimited(
        path, data, _UNIT_SEP, names, numeric, encoding="latin-1", required=required,
        diag_text=text, diag_sep="::",
    )
    return df, text


def _ml1m_side_tables(folder: Path) -> tuple[Optional[pd.DataFrame], Optional[pd.DataFrame]]:
    users = items = None
    users_path = folder / "users.dat"
    if users_path.exists():
        cols = ["user_id", "gender", "age", "occupation", "zip"]
        users, text = _read_double_colon(users_path, cols, {"age": "int", "occupation": "int"},
                                         required=("user_id", "gender"))
        _check_unique_ids(users_path, users["user_id"], text, "UserID")
        bad = ~users["gender"].isin(["F", "M"]).to_numpy()
        if bad.any():
            k = int(np.argmax(bad))
            raise _fail(users_path, f"Gender must be F or M, got {users['gender'].iloc[k]!r}",
                        line=int(_data_line_numbers(text)[k]), column="gender")
        users = users.astype(str)
    movies_path = folder / "movies.dat"
    if movies_path.exists():
        text = _read_bytes(movies_path).decode("latin-1")
        items = _split_ml_titles(movies_path, text)
        _check_unique_ids(movies_path, items["item_id"], text, "MovieID")
    return users, items


def _check_against_side_tables(path: Path, df: pd.DataFrame, text: Optional[str],
                               users: Optional[pd.DataFrame], users_path: Path,
                               items: Optional[pd.DataFrame], items_path: Path,
                               line_numbers=None) -> None:
    """Ratings name only users and movies their side tables define (where those exist)."""
    def line_of(k: int) -> int:
        if line_numbers is not None:
            return int(line_numbers(k))
        return int(_data_line_numbers(text)[k])

    if items is not None:
        _check_defined(path, df["item_id"], items["item_id"], items_path, "movie", line_of)
    if users is not None:
        _check_defined(path, df["user_id"], users["user_id"], users_path, "user", line_of)


def read_movielens_1m(path: PathLike) -> InteractionLog:
    """Read MovieLens-1M from a folder holding ``ratings.dat`` (and optionally ``users.dat``,
    ``movies.dat``).

    * ``ratings.dat``: ``UserID::MovieID::Rating::Timestamp`` -> interactions with ``rating``
      (float32) and ``timestamp`` (Unix seconds).
    * ``users.dat``: ``UserID::Gender::Age::Occupation::Zip-code`` -> ``users`` with columns
      ``user_id, gender, age, occupation, zip`` (all str).
    * ``movies.dat``: ``MovieID::Title::Genres`` (latin-1, genres ``|``-separated) -> ``items``
      with ``item_id, title, genres`` (a list of str per movie).

    When ``ratings.dat`` is absent but ``sequences_chronological.txt`` (one line per user,
    ``USER ITEM ITEM ...`` in time order) exists, interactions come from it via
    :func:`read_sequences`: no ratings, timestamps are positions and
    ``interactions.attrs["has_timestamps"]`` is False. Side tables are attached either way.

    Args:
        path: the folder (a path to ``ratings.dat`` itself is accepted too).

    Raises:
        DataFormatError: folder or data missing, or a malformed line (with its line number).
    """
    hint = (f"Download {ML1M_URL} and unzip it so that PATH/ratings.dat exists "
            "(this library never downloads data itself).")
    folder = _folder(path, "MovieLens-1M", "ratings.dat", hint)
    ratings = folder / "ratings.dat"
    sequences = folder / "sequences_chronological.txt"
    users, items = _ml1m_side_tables(folder)
    if ratings.exists():
        df, text = _read_double_colon(
            ratings, ["user_id", "item_id", "rating", "timestamp"],
            {"rating": "float", "timestamp": "int"}, required=("user_id", "item_id"),
        )
        _check_ml_rows(ratings, df, text, "ml-1m")
        _check_against_side_tables(ratings, df, text, users, folder / "users.dat", items,
                                   folder / "movies.dat")
        df = df[["user_id", "item_id", "timestamp", "rating"]]
    elif sequences.exists():
        df = read_sequences(sequences, name="ml-1m").interactions

        def line_of(k: int) -> int:  # the line of the user of row k (error path only)
            lines = _lines(_read_bytes(sequences).decode("utf-8", errors="replace"))
            first = lines.str.split(n=1).str[0]
            return int(np.argmax((first == df["user_id"].iloc[k]).to_numpy())) + 1

        _check_against_side_tables(sequences, df, None, users, folder / "users.dat", items,
                                   folder / "movies.dat", line_numbers=line_of)
    else:
        raise DataFormatError(
            f"{folder}: no MovieLens-1M ratings found (neither ratings.dat nor "
            f"sequences_chronological.txt). {hint}", path=folder
        )
    return InteractionLog(df, users=users, items=items, name="ml-1m",
                          multi_valued_item_features=("genres",) if items is not None else ())


def _read_ml100k_genres(folder: Path) -> list[str]:
    path = folder / "u.genre"
    if not path.exists():
        return list(ML100K_GENRES)
    lines = _lines(_read_bytes(path).decode("latin-1"))
    lines = lines[lines.str.strip() != ""]
    parts = lines.str.rsplit("|", n=1)
    bad = parts.str.len() != 2
    if bad.any():
        i = bad.idxmax()
        raise DataFormatError(f"{path}: line {i + 1}: expected 'name|index', got {lines[i]!r}")
    names = parts.str[0].tolist()
    idx = pd.to_numeric(parts.str[1], errors="coerce")
    if idx.isna().any():
        i = idx.isna().idxmax()
        raise DataFormatError(f"{path}: line {i + 1}: genre index must be an integer, "
                              f"got {lines[i]!r}")
    order = np.argsort(idx.to_numpy(), kind="stable")
    return [names[k] for k in order]


def read_movielens_100k(path: PathLike) -> InteractionLog:
    """Read MovieLens-100K from a folder holding ``u.data`` (optionally ``u.user``, ``u.item``,
    ``u.genre``).

    * ``u.data``: tab-separated ``user item rating timestamp``.
    * ``u.user``: ``id|age|gender|occupation|zip`` -> ``users`` with columns
      ``user_id, gender, age, occupation, zip`` (all str, same schema as ML-1M).
    * ``u.item``: ``|``-separated latin-1 ``id|title|release date|video release date|IMDb URL``
      followed by one 0/1 flag per genre -> ``items`` with ``item_id, title, genres`` (list of
      str). Genre names come from ``u.genre`` when present, else :data:`ML100K_GENRES`.

    Raises:
        DataFormatError: folder or ``u.data`` missing, or a malformed line (with its number).
    """
    hint = (f"Download {ML100K_URL} and unzip it so that PATH/u.data exists "
            "(this library never downloads data itself).")
    folder = _folder(path, "MovieLens-100K", "u.data", hint)
    data_path = folder / "u.data"
    if not data_path.exists():
        raise DataFormatError(f"{folder}: no u.data found. {hint}", path=folder)

    users = items = None
    user_path = folder / "u.user"
    if user_path.exists():
        raw_users = _read_bytes(user_path)
        users = _read_delimited(
            user_path, raw_users, "|", ["user_id", "age", "gender", "occupation", "zip"],
            {"age": "int"}, encoding="latin-1", required=("user_id",),
        )
        _check_unique_ids(user_path, users["user_id"], raw_users.decode("latin-1"), "user id")
        users = users[["user_id", "gender", "age", "occupation", "zip"]].astype(str)
    item_path = folder / "u.item"
    if item_path.exists():
        genres = _read_ml100k_genres(folder)
        flag_cols = [f"g{k}" for k in range(len(genres))]
        names = ["item_id", "title", "release_date", "video_release_date", "url", *flag_cols]
        raw_items = _read_bytes(item_path)
        raw = _read_delimited(
            item_path, raw_items, "|", names, {c: "int" for c in flag_cols},
            encoding="latin-1", required=("item_id",),
        )
        _check_unique_ids(item_path, raw["item_id"], raw_items.decode("latin-1"), "movie id")
        flags = raw[flag_cols].to_numpy() != 0
        genre_arr = np.array(genres, dtype=object)
        items = pd.DataFrame({
            "item_id": raw["item_id"].astype(str).to_numpy(dtype=object),
            "title": raw["title"].astype(str).to_numpy(dtype=object),
            "genres": [genre_arr[row].tolist() for row in flags],
        })

    raw_data = _read_bytes(data_path)
    text = raw_data.decode("latin-1")
    if "\x00" in text[:65536]:
        raise _fail(data_path, "is a binary file, not MovieLens text (found NUL bytes)")
    df = _read_delimited(
        data_path, raw_data, "\t", ["user_id", "item_id", "rating", "timestamp"],
        {"rating": "float", "timestamp": "int"}, encoding="latin-1",
        required=("user_id", "item_id"),
    )
    _check_ml_rows(data_path, df, text, "ml-100k")
    _check_against_side_tables(data_path, df, text, users, user_path, items, item_path)
    df = df[["user_id", "item_id", "timestamp", "rating"]]
    return InteractionLog(df, users=users, items=items, name="ml-100k",
                          multi_valued_item_features=("genres",) if items is not None else ())


def read_movielens_csv(path: PathLike, name: str = "ml-20m") -> InteractionLog:
    """Read MovieLens-20M / 25M / latest from a folder holding ``ratings.csv``.

    * ``ratings.csv``: header ``userId,movieId,rating,timestamp``.
    * ``movies.csv`` (optional): ``movieId,title,genres`` with ``|``-separated genres;
      ``(no genres listed)`` becomes an empty list -> ``items`` with ``item_id, title, genres``.

    Args:
        path: the folder (a path to ``ratings.csv`` itself is accepted too).
        name: the log's name ("ml-20m", "ml-25m", "ml-latest", ...).

    Raises:
        DataFormatError: folder, file or column missing, or a malformed line (with its number).
    """
    hint = (f"Download e.g. {ML20M_URL} and unzip it so that PATH/ratings.csv exists "
            "(this library never downloads data itself).")
    folder = _folder(path, "MovieLens CSV", "ratings.csv", hint)
    ratings = folder / "ratings.csv"
    if not ratings.exists():
        raise DataFormatError(f"{folder}: no ratings.csv found. {hint}")
    data = _read_bytes(ratings)
    text = _decode(ratings, data, None, "CSV")
    wanted = ["userId", "movieId", "rating", "timestamp"]
    _check_header(ratings, data, ",", wanted)
    df = _read_delimited(ratings, data, ",", wanted, {"rating": "float", "timestamp": "int"},
                         header=True, required=("userId", "movieId"))
    df = df.rename(columns={"userId": "user_id", "movieId": "item_id"})
    _check_ml_rows(ratings, df, text, "csv", header=True)
    df = df[["user_id", "item_id", "timestamp", "rating"]]

    items = None
    movies = folder / "movies.csv"
    if movies.exists():
        mdata = _read_bytes(movies)
        _decode(movies, mdata, None, "CSV")
        _check_header(movies, mdata, ",", ["movieId", "title", "genres"])
        try:
            m = pd.read_csv(io.BytesIO(mdata), dtype=str, keep_default_na=False,
                            usecols=["movieId", "title", "genres"])
        except (ValueError, pd.errors.ParserError) as exc:
            raise DataFormatError(f"{movies}: cannot parse file: {exc}", path=movies) from exc
        dup = m["movieId"].duplicated().to_numpy()
        if dup.any():
            k = int(np.argmax(dup))
            raise _fail(movies, f"movieId {m['movieId'].iloc[k]!r} is defined twice",
                        column="movieId")
        items = pd.DataFrame({
            "item_id": m["movieId"].to_numpy(dtype=object),
            "title": m["title"].to_numpy(dtype=object),
            "genres": _genre_lists(m["genres"]),
        })
        _check_against_side_tables(ratings, df, None, None, movies, items, movies,
                                   line_numbers=lambda k: _data_line_numbers(text, header=True)[k])
    return InteractionLog(df, items=items, name=name,
                          multi_valued_item_features=("genres",) if items is not None else ())
