"""Saved folders carry their modeling code: every registered model loads with
`trust_remote_code=True` in a Python where `hf_recsys` cannot be imported, with identical outputs."""

import json
import os
import subprocess
import sys
import textwrap

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


def _blocked_python(code: str, cwd, env_home) -> subprocess.CompletedProcess:
    """Run ``code`` in a Python where ``import hf_recsys`` fails (a meta-path blocker), with
    stdin closed so that a "Do you wish to run the custom code?" prompt fails instead of waiting."""
    prelude = textwrap.dedent("""
        import sys
        class _Block:
            def find_spec(self, name, path=None, target=None):
                if name == "hf_recsys" or name.startswith("hf_recsys."):
                    raise ImportError("hf_recsys is blocked in this test")
        sys.meta_path.insert(0, _Block())
    """)
    env = dict(os.environ, HF_HOME=str(env_home))
    env.pop("PYTHONPATH", None)
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                          cwd=str(cwd), env=env, stdin=subprocess.DEVNULL, timeout=300)


def test_recommend_and_auto_processor_work_as_remote_code_for_every_model(tiny_data, tmp_path, one_thread):
    """Raw IDs in, raw IDs out, where hf_recsys cannot be imported: the processor travels with
    the model (processor_config.json + processing_recsys.py), P5's tokenizer and item index load
    without a trust prompt, and AutoProcessor gives the same vocabularies."""
    from hf_recsys.p5 import build_p5, save_p5

    history = tiny_data.processor.item_vocab.tokens[:5]
    saved = {}
    for name, spec in sorted(MODEL_REGISTRY.items()):
        folder = tmp_path / name
        torch.manual_seed(0)
        if spec.task == "seq2seq":
            setup = build_p5(tiny_data, dict(d_model=32, d_kv=8, d_ff=64, num_heads=4, num_layers=1,
                                             num_decoder_layers=1, vocab_size=300, recommend_beams=8,
                                             tasks=["sequential"]), seed=0)
            model = setup.model.eval()
            save_p5(str(folder), model, setup.tokenizer, setup.index, tiny_data.processor)
            model = type(model).from_pretrained(folder).eval()
        else:
            config = spec.config_class.from_processor(tiny_data.processor, **small_overrides(spec.config_class))
            model = spec.model_class(config)
            model.load_item_features(tiny_data.processor)
            model.eval()
            model.save_pretrained(folder)
            tiny_data.processor.save_pretrained(folder)
            model = spec.model_class.from_pretrained(folder).eval()
        saved[name] = (str(folder), model.recommend([history], k=5)[0])

    result = _blocked_python(f"""
        import json, torch
        from transformers import AutoModel, AutoProcessor
        torch.set_num_threads(1)
        try:
            import hf_recsys
            raise SystemExit("hf_recsys was importable")
        except ImportError:
            pass
        out = {{}}
        for name, (folder, _) in {saved!r}.items():
            model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
            processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
            assert "hf_recsys" not in type(processor).__module__, type(processor).__module__
            out[name] = {{"recs": model.recommend([{history!r}], k=5)[0],
                          "items": processor.item_vocab.tokens[:3]}}
        print(json.dumps(out))
    """, tmp_path, tmp_path / "hf-home")
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Do you wish" not in result.stdout + result.stderr
    got = json.loads(result.stdout.splitlines()[-1])
    for name, (_, expected) in saved.items():
        assert got[name]["recs"] == expected, name
        assert got[name]["items"] == tiny_data.processor.item_vocab.tokens[:3], name


def test_auto_processor_loads_the_processor_with_the_package(tiny_data, tmp_path):
    from transformers import AutoProcessor

    from hf_recsys import RecsysProcessor

    spec = MODEL_REGISTRY["sasrec"]
    model = spec.model_class(spec.config_class.from_processor(tiny_data.processor, **small_overrides(spec.config_class)))
    model.save_pretrained(tmp_path)
    tiny_data.processor.save_pretrained(tmp_path)
    processor = AutoProcessor.from_pretrained(tmp_path)
    assert isinstance(processor, RecsysProcessor)
    assert processor.to_dict() == tiny_data.processor.to_dict()
