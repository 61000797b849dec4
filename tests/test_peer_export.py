"""The peer harness' exporter writes the samples our CTR collator builds, re-aligned to right
padding, with DIEN's history negatives and a user cut that keeps whole users."""

import json
import os
import sys
from types import SimpleNamespace

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks", "peers"))

from export_ctr_samples import export_ctr_samples, popularity_baseline, right_align, sample_users  # noqa: E402

from hf_recsys.training.collators import CTRCollator  # noqa: E402


def test_right_align_moves_valid_entries_first_in_order():
    history = np.array([[0, 0, 3, 4], [5, 6, 7, 8], [0, 0, 0, 0]])
    negatives = np.array([[0, 0, 30, 40], [50, 60, 70, 80], [0, 0, 0, 0]])
    aligned, moved = right_align(history, negatives)
    assert aligned.tolist() == [[3, 4, 0, 0], [5, 6, 7, 8], [0, 0, 0, 0]]
    assert moved.tolist() == [[30, 40, 0, 0], [50, 60, 70, 80], [0, 0, 0, 0]]


def test_export_matches_the_collator(tiny_data, tmp_path):
    meta = export_ctr_samples(tiny_data, str(tmp_path), max_history=10)
    assert json.load(open(tmp_path / "meta.json"))["samples"] == meta["samples"]
    collator = CTRCollator(tiny_data.sequences, 10, user_feature_matrix=tiny_data.processor.user_feature_matrix(),
                           negative_history=True, num_items=tiny_data.processor.num_items, seed=tiny_data.config.seed)
    for split in ("train", "valid", "test"):
        arrays = np.load(tmp_path / f"{split}.npz")
        samples = tiny_data.ctr_dataset(split)
        assert len(arrays["label"]) == len(samples) == meta["samples"][split]
        batch = collator([samples[i] for i in range(len(samples))])
        left = batch["history_ids"].numpy()
        expected, expected_negatives = right_align(left, batch["history_negatives"].numpy())
        np.testing.assert_array_equal(arrays["hist_item_id"], expected)
        np.testing.assert_array_equal(arrays["neg_hist_item_id"], expected_negatives)
        np.testing.assert_array_equal(arrays["seq_length"], (left != 0).sum(1))
        np.testing.assert_array_equal(arrays["item_id"], batch["target_ids"].numpy())
        np.testing.assert_array_equal(arrays["label"], batch["labels"].numpy())
        # right padding: every valid step before every padded one
        valid = arrays["hist_item_id"] != 0
        assert (valid[:, 1:] <= valid[:, :-1]).all()
        categories = tiny_data.processor.item_category_table()
        np.testing.assert_array_equal(arrays["cate_id"], categories[arrays["item_id"]])
        np.testing.assert_array_equal(arrays["hist_cate_id"][valid], categories[arrays["hist_item_id"][valid]])
        features = batch["user_features"].numpy()
        for j, name in enumerate(tiny_data.processor.user_feature_names):
            np.testing.assert_array_equal(arrays[f"user_{name}"], features[:, j])


def test_the_exports_popularity_is_the_one_training_reports(tiny_data, tmp_path):
    """The peer table's popularity row is the baseline ``hf-recsys train`` prints beside a CTR
    model, computed from the export alone."""
    from hf_recsys.training.tasks import CTRTask

    export_ctr_samples(tiny_data, str(tmp_path), max_history=10)
    baseline = popularity_baseline(str(tmp_path))
    task = CTRTask(tiny_data, model=SimpleNamespace(config=SimpleNamespace()))  # the baseline reads no model
    for split in ("valid", "test"):
        expected = task.baseline_metrics(split)
        assert set(baseline[split]) == {"auc", "gauc", "logloss"}
        for key, value in expected.items():
            assert baseline[split][key] == pytest.approx(value, abs=1e-12), (split, key)
    assert 0.0 < baseline["test"]["auc"] < 1.0


def test_sample_users_keeps_whole_users(tiny_log):
    cut = sample_users(tiny_log, 0.25, seed=1)
    users = set(cut.interactions["user_id"])
    assert len(users) == 20
    full_counts = tiny_log.interactions["user_id"].value_counts()
    cut_counts = cut.interactions["user_id"].value_counts()
    assert all(cut_counts[u] == full_counts[u] for u in users)
    assert set(cut.users["user_id"]) == users
    assert sample_users(tiny_log, 0.25, seed=1).interactions.equals(cut.interactions)
    with pytest.raises(ValueError, match="--user-fraction"):
        sample_users(tiny_log, 0.0, seed=1)



class Interrupted(Exception):
    pass


def test_our_side_of_the_harness_resumes_to_the_same_model(tiny_data, tmp_path, monkeypatch):
    """A resumable run (``--checkpoint-dir``) stopped after a save and run again goes on from that
    save and ends where the uninterrupted run ended."""
    import ctr_peers

    from hf_recsys.training.clock import TrainingClock

    monkeypatch.setattr(ctr_peers, "CHECKPOINT_STEPS", 8)
    training = {"epochs": 1.0, "batch_size": 32}

    def run(folder):
        return ctr_peers.train_ours(tiny_data, "din", 0, training=training, eval_splits=("test",),
                                    checkpoint_dir=str(tmp_path / folder))

    uninterrupted = run("whole")

    def stop_after_the_second_save(self, args, state, control, **kwargs):
        if state.global_step == 16:
            raise Interrupted

    with monkeypatch.context() as patch:
        patch.setattr(TrainingClock, "on_save", stop_after_the_second_save, raising=False)
        with pytest.raises(Interrupted):
            run("interrupted")
    assert os.listdir(tmp_path / "interrupted") == ["checkpoint-16"]
    steps = []
    with monkeypatch.context() as patch:
        patch.setattr(TrainingClock, "on_step_end", lambda self, args, state, control, **kw: steps.append(state.global_step),
                      raising=False)
        resumed = run("interrupted")
    assert steps[0] == 17 and resumed["test"] == uninterrupted["test"]  # went on after checkpoint-16
