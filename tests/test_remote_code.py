"""Saved folders carry their modeling code: every registered model loads with
`trust_remote_code=True` in a Python where `hf_recsys` cannot be imported, with identical outputs."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

import hf_recsys  # noqa: F401
from hf_recsys.models import MODEL_REGISTRY
import hf_recsys.training.run  # noqa: F401  (registers every task, next_item included)
from hf_recsys.training.tasks import TASKS

SMALL = {"hidden_size": 16, "embedding_dim": 8, "item_embedding_dim": 8, "category_embedding_dim": 8,
         "num_heads": 2, "num_attention_heads": 2, "ffn_dim": 16, "mlp_hidden_sizes": [8]}


def small_overrides(config_class):
    fields = getattr(config_class, "__dataclass_fields__", {})
    return {k: v for k, v in SMALL.items() if k in fields}


@pytest.fixture()
def one_thread():
    """Both sides compute with one thread: with two, a CPU kernel may split a reduction
    differently from run to run (seen: CNN's logits differed in the last bit in about one run in
    three), and the comparison below is exact."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_every_model_loads_as_remote_code_without_the_package(tiny_data, tmp_path, one_thread):
    saved = {}
    for name, spec in sorted(MODEL_REGISTRY.items()):
        if not hasattr(spec.config_class, "from_processor"):  # P5: built from prompts and a tokenizer
            continue
        torch.manual_seed(0)
        config = spec.config_class.from_processor(tiny_data.processor, **small_overrides(spec.config_class))
        model = spec.model_class(config)
        model.load_item_features(tiny_data.processor)
        model.eval()
        task = TASKS[spec.task](tiny_data, model)
        dataset = task.dataset("test")
        batch = task.collator()([dataset[i] for i in range(min(8, len(dataset)))])
        batch.pop("labels", None)
        with torch.no_grad():
            expected = model(**batch).logits
        folder = tmp_path / name
        model.save_pretrained(folder)
        config_json = json.loads((folder / "config.json").read_text())
        assert "auto_map" in config_json, name
        assert any(f.startswith("modeling_") for f in os.listdir(folder)), name
        torch.save({"batch": batch, "expected": expected}, folder / "probe.pt")
        saved[name] = str(folder)

    code = textwrap.dedent(f"""
        import sys
        sys.modules["hf_recsys"] = None  # the package is not importable here
        import torch
        from transformers import AutoModel
        torch.set_num_threads(1)
        for name, folder in {saved!r}.items():
            probe = torch.load(folder + "/probe.pt")
            model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
            assert "hf_recsys" not in type(model).__module__, type(model).__module__
            with torch.no_grad():
                got = model(**probe["batch"]).logits
            assert torch.equal(got, probe["expected"]), name
            print("ok", name)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(tmp_path),
                            env=dict(os.environ, HF_HOME=str(tmp_path / "hf-home")), timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.count("ok ") == len(saved)
