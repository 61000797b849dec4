"""The processor: vocabularies, feature tables, persistence, datasets.map support."""

import json
import os

import datasets
import numpy as np

from hf_recsys.data.processor import PAD_INDEX, PROCESSOR_FILE, UNK_INDEX, RecsysProcessor, Vocabulary


def test_vocabulary_round_trip_with_padding_and_unknown():
    vocab = Vocabulary.from_values(["b", "a", "b", "c", "b", "a"])
    assert vocab.tokens == ["b", "a", "c"]  # most frequent first, ties by first appearance
    encoded = vocab.encode(["a", "zzz", "c"])
    assert encoded.tolist() == [3, UNK_INDEX, 4]
    assert vocab.decode([3, 4, PAD_INDEX, UNK_INDEX]) == ["a", "c", None, None]
    assert len(vocab) == 5


def test_processor_features_match_the_raw_tables(tiny_data, tiny_log):
    processor = tiny_data.processor
    users = tiny_log.users.set_index("user_id")
    matrix = processor.user_feature_matrix()
    raw_user = processor.user_vocab.tokens[5]
    row = matrix[processor.encode_users([raw_user])[0]]
    for j, name in enumerate(processor.user_feature_names):
        assert processor.user_feature_vocabs[name].decode([row[j]]) == [str(users.loc[raw_user, name])]
    categories = processor.item_category_table()
    genres = tiny_log.items.set_index("item_id").genres
    raw_item = processor.item_vocab.tokens[7]
    category = categories[processor.encode_items([raw_item])[0]]
    assert processor.item_feature_vocabs["genres"].decode([category]) == [genres.loc[raw_item][0]]
    assert categories[PAD_INDEX] == PAD_INDEX


def test_save_and_load_round_trip_is_human_readable_and_atomic(tiny_data, tmp_path):
    processor = tiny_data.processor
    processor.save_pretrained(tmp_path)
    # vocabularies, the AutoProcessor entry and the remote code; no temporary file left behind
    assert sorted(os.listdir(tmp_path)) == ["processing_recsys.py", "processor_config.json", PROCESSOR_FILE]
    data = json.loads((tmp_path / PROCESSOR_FILE).read_text())
    assert data["items"][:3] == processor.item_vocab.tokens[:3]
    loaded = RecsysProcessor.from_pretrained(tmp_path)
    raw = processor.item_vocab.tokens[:20] + ["never-seen"]
    assert (loaded.encode_items(raw) == processor.encode_items(raw)).all()
    assert (loaded.user_feature_matrix() == processor.user_feature_matrix()).all()
    assert (loaded.item_category_table() == processor.item_category_table()).all()
    assert loaded.max_history == processor.max_history


def test_encode_batch_works_with_datasets_map(tiny_data):
    processor = tiny_data.processor
    raw = datasets.Dataset.from_dict({"user_id": processor.user_vocab.tokens[:4], "item_id": ["nope"] + processor.item_vocab.tokens[:3]})
    mapped = raw.map(processor.encode_batch, batched=True)
    assert mapped["item_index"] == [UNK_INDEX, 2, 3, 4]
    assert mapped["user_index"] == [2, 3, 4, 5]


def test_call_encodes_raw_histories_left_padded(tiny_data):
    processor = tiny_data.processor
    items = processor.item_vocab.tokens
    batch = processor([items[:3], items[:15]], users=processor.user_vocab.tokens[:2], max_history=10)
    ids = batch["history_ids"]
    assert ids.shape == (2, 10)
    assert ids[0].tolist() == [0] * 7 + [2, 3, 4]
    assert ids[1].tolist() == list(range(7, 17))  # the 10 most recent of 15
    assert batch["history_mask"][0].sum() == 3
    assert batch["user_features"].shape == (2, len(processor.user_feature_names))
