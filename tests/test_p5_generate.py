"""P5 through `generate()`: one call builds the prompt and the item constraint for raw histories."""

import pytest
import torch

from hf_recsys.p5 import build_p5

TINY = dict(d_model=32, d_kv=8, d_ff=64, num_heads=4, num_layers=1, num_decoder_layers=1, vocab_size=300,
            recommend_beams=8, dropout_rate=0.0, tasks=["sequential"])


@pytest.fixture(scope="module")
def p5(tiny_data):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    setup = build_p5(tiny_data, dict(TINY, item_indexing="sequential"), seed=0)
    yield setup.model.eval()
    torch.set_num_threads(threads)


@pytest.mark.parametrize("exclude_seen", [True, False])
def test_generate_with_generation_inputs_gives_recommend(p5, tiny_data, exclude_seen):
    tokens = tiny_data.processor.item_vocab.tokens
    histories = [tokens[:4], tokens[10:13], ["never-seen", tokens[20]]]  # unknown IDs are left out by both
    inputs = p5.generation_inputs(histories, exclude_seen=exclude_seen)
    assert callable(inputs["prefix_allowed_tokens_fn"])  # built, not a factory to call
    assert set(inputs) == {"input_ids", "attention_mask", "prefix_allowed_tokens_fn", "max_new_tokens"}
    output = p5.generate(**inputs, num_beams=8, num_return_sequences=8, length_penalty=0.0, do_sample=False)
    got = [row[:5] for row in p5.decode_items(output, num_return_sequences=8)]
    assert got == p5.recommend(histories, k=5, num_beams=8, exclude_seen=exclude_seen)
    if exclude_seen:
        assert not set(got[0]) & set(histories[0])
    flat = p5.decode_items(output)
    assert len(flat) == 8 * len(histories) and all(item is None or item in tokens for item in flat)
