"""``hf-recsys recommend``, ``model.recommend`` and the recommendation pipeline on a user's own IDs:
unknown items are left out and said, a history with nothing known is refused unless the
popularity fallback is asked, malformed arguments are errors, never guessed; non-ASCII IDs print
as they are."""

import json

import pytest

from hf_recsys.cli import main

ITEMS = ["café", "東京", "naïve", "Zürich", "smörgåsbord", "piñata", "crème", "façade", "jalapeño", "über"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("recommend")
    log = root / "log.csv"
    rows = [(f"usér-{u}", ITEMS[(u * 3 + j) % len(ITEMS)], 1_600_000_000 + u * 100 + j)
            for u in range(24) for j in range(5)]
    log.write_text("user_id,item_id,timestamp\n" + "".join(f"{u},{i},{t}\n" for u, i, t in rows), encoding="utf-8")
    out = {}
    for model in ("caser", "meanpool"):  # caser has a user embedding, meanpool no user input
        out[model] = root / model
        main(["train", "--model", model, "--data-path", str(log), "--output-dir", str(out[model]), "--max-steps", "1",
              "--batch-size", "16", "--max-history", "4", "--no-progress", "--logging-steps", "100"])
    return out


def recommend(capsys, *argv):
    main(["recommend", *argv])
    captured = capsys.readouterr()
    return captured.out, captured.err


def failing(capsys, *argv):
    with pytest.raises(SystemExit) as exit_info:
        main(["recommend", *argv])
    return exit_info.value.code, capsys.readouterr().err


def test_json_output_keeps_non_ascii_ids_readable(folders, capsys):
    out, _ = recommend(capsys, "--model-dir", str(folders["meanpool"]), "--history", "café", "東京", "--k", "3")
    recommended = json.loads(out)
    assert len(recommended) == 3 and {r["item_id"] for r in recommended} <= set(ITEMS)
    assert "\\u" not in out and any(r["item_id"] in out for r in recommended)
    assert len(out.strip().splitlines()) == 2 + len(recommended)  # one item per line, between the brackets


def test_a_history_of_unknown_items_is_an_error_unless_popularity_is_asked(folders, capsys):
    code, err = failing(capsys, "--model-dir", str(folders["meanpool"]), "--history", "nope", "gone", "--k", "3")
    assert code == 2 and "no item of the history is known" in err and "nope" in err and "--fallback popularity" in err
    out, err = recommend(capsys, "--model-dir", str(folders["meanpool"]), "--history", "nope", "--k", "3",
                         "--fallback", "popularity")
    recommended = json.loads(out)
    assert [r["score"] for r in recommended] == [None] * 3 and "most frequent" in err
    processor = json.loads((folders["meanpool"] / "recsys_processor.json").read_text())
    assert [r["item_id"] for r in recommended] == processor["items"][:3]


def test_unknown_items_in_a_history_are_named_and_left_out(folders, capsys):
    out, err = recommend(capsys, "--model-dir", str(folders["meanpool"]), "--history", "café", "nope", "--k", "2")
    assert len(json.loads(out)) == 2 and "nope" in err and "left out" in err
    known_only, _ = recommend(capsys, "--model-dir", str(folders["meanpool"]), "--history", "café", "--k", "2")
    assert json.loads(out) == json.loads(known_only)


@pytest.fixture(scope="module")
def loaded(folders):
    from transformers import AutoModel, pipeline

    return AutoModel.from_pretrained(str(folders["meanpool"])), pipeline("recommendation", model=str(folders["meanpool"]))


def test_the_python_api_leaves_unknown_items_out_and_names_them(loaded, caplog):
    model, recommender = loaded
    known = model.recommend([["café", "東京"]], k=3, return_scores=True)
    with caplog.at_level("WARNING"):
        mixed = model.recommend([["café", "nope", "東京", "gone"]], k=3, return_scores=True)
    assert mixed == known and "left out: nope, gone" in caplog.text
    assert [(r["item_id"], r["score"]) for r in recommender(["nope", "café", "東京"], k=3)] == known[0]


def test_the_python_api_refuses_a_history_with_nothing_known_unless_popularity_is_asked(loaded, folders):
    model, recommender = loaded
    for call in (lambda: model.recommend([["nope"]], k=3), lambda: model.recommend([[]], k=3),
                 lambda: recommender([], k=3), lambda: recommender(["nope"], k=3)):
        with pytest.raises(ValueError, match=r"histories\[0\] has no item the model knows.*fallback='popularity'"):
            call()
    popular = json.loads((folders["meanpool"] / "recsys_processor.json").read_text())["items"]
    rows = model.recommend([["nope"], ["café"]], k=3, return_scores=True, fallback="popularity")
    assert rows[0] == [(i, None) for i in popular[:3]] and all(s is not None for _, s in rows[1])
    assert all(r["score"] is not None for r in recommender([popular[0]], k=2, fallback="popularity"))
    assert [r["item_id"] for r in recommender(["nope"], k=2, fallback="popularity")] == popular[:2]


@pytest.mark.parametrize("histories", ["café", ["café", "東京"], [["café"], "東京"], 7])
def test_a_history_that_is_not_a_list_of_ids_per_user_is_a_type_error(loaded, histories):
    model, _ = loaded
    with pytest.raises(TypeError, match="one list of raw item IDs per user"):
        model.recommend(histories, k=2)


@pytest.mark.parametrize("k", [0, -1, 2.5, "3", True])
def test_k_that_is_not_a_positive_integer_is_an_error_in_python_too(loaded, k):
    model, recommender = loaded
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        model.recommend([["café"]], k=k)
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        recommender(["café"], k=k)


@pytest.mark.parametrize("users", [["u1"], "u1"])
def test_users_must_match_the_histories_one_to_one(loaded, users):
    """A users list of another length was an IndexError from inside recommend."""
    model, _ = loaded
    with pytest.raises(ValueError, match="users must hold one raw user ID \\(or None\\) per history: 2 histories"):
        model.recommend([["café"], ["東京"]], k=2, users=users)


def test_an_unknown_user_is_an_error_for_a_model_with_a_user_input(folders, capsys):
    code, err = failing(capsys, "--model-dir", str(folders["caser"]), "--history", "café", "--user", "stranger")
    assert code == 2 and "argument --user" in err and "stranger" in err
    out, _ = recommend(capsys, "--model-dir", str(folders["caser"]), "--history", "café", "--user", "usér-3",
                       "--k", "2")
    assert len(json.loads(out)) == 2


def test_a_model_without_a_user_input_ignores_the_user_and_says_so(folders, capsys):
    out, err = recommend(capsys, "--model-dir", str(folders["meanpool"]), "--history", "café", "--user", "stranger",
                         "--k", "2")
    assert len(json.loads(out)) == 2 and "no user input" in err


@pytest.mark.parametrize("k", ["0", "-3"])
def test_k_below_one_is_a_usage_error(folders, capsys, k):
    code, err = failing(capsys, "--model-dir", str(folders["meanpool"]), "--history", "café", "--k", k)
    assert code == 2 and "argument --k" in err


def test_asking_for_more_items_than_the_model_has_returns_them_all_and_says_so(folders, capsys):
    out, err = recommend(capsys, "--model-dir", str(folders["meanpool"]), "--history", "café", "東京", "--k", "50")
    assert len(json.loads(out)) == len(ITEMS) - 2
    assert f"only {len(ITEMS) - 2} item(s) to recommend (--k 50): the model knows {len(ITEMS)} items" in err
    out, err = recommend(capsys, "--model-dir", str(folders["meanpool"]), "--history", "café", "--k", "3")
    assert "only" not in err
