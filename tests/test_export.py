"""Export for serving: every scoring model traces with ``torch.export`` and gives PyTorch's
scores on a batch of another size (and, where the length is dynamic, another history length);
a representative set also goes to ONNX and runs in onnxruntime with the same scores."""

import json

import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

import onnx  # noqa: E402
import onnxruntime  # noqa: E402

import hf_recsys  # noqa: E402,F401
from hf_recsys.export import (  # noqa: E402
    example_inputs,
    export_onnx,
    export_program,
    inputs_read,
    program_input_names,
    task_of,
    verify_onnx,
)
from hf_recsys.models import MODEL_REGISTRY  # noqa: E402

SCORING_MODELS = sorted(name for name, spec in MODEL_REGISTRY.items() if spec.task in ("ctr", "next_item"))
# ONNX conversion costs seconds per model: one per kind of export path (packed data-dependent
# shapes, an unrolled recurrence; a Transformer with dynamic length and a baseline below)
ONNX_MODELS = ("din", "dien")
EXPECTED_INPUTS = {  # what each program takes: the inputs the model reads, in INPUT_ORDER
    "bst": ["history_ids", "history_mask", "target_ids", "user_features"],  # learned positions: no times
    "fm": ["target_ids", "user_ids", "user_features"],  # no history field by default
    "sasrec": ["history_ids", "history_mask"],
    "caser": ["history_ids", "history_mask", "user_ids"],  # the user embedding
}
SMALL = {"hidden_size": 16, "embedding_dim": 8, "item_embedding_dim": 8, "category_embedding_dim": 8,
         "num_heads": 2, "num_attention_heads": 2, "ffn_dim": 16, "mlp_hidden_sizes": [8],
         "max_history": 4, "window_length": 3}


@pytest.fixture(scope="module", autouse=True)
def reuse_onnx_op_registry():
    """``torch.onnx.export`` rebuilds its ATen -> ONNX op registry from torchlib on every call
    (seconds each); build it once for this file. An export without a custom translation table
    does not change the registry. Skipped if the private hook moves."""
    try:
        from torch.onnx._internal.exporter import _registration
        original = _registration.ONNXRegistry.__dict__["from_torchlib"]
    except (ImportError, KeyError):
        yield
        return
    built = {}

    def from_torchlib(cls, *args, **kwargs):
        key = (cls, args, tuple(sorted(kwargs.items())))
        if key not in built:
            built[key] = original.__func__(cls, *args, **kwargs)
        return built[key]

    _registration.ONNXRegistry.from_torchlib = classmethod(from_torchlib)
    yield
    _registration.ONNXRegistry.from_torchlib = original


def build(name, processor, **overrides):
    spec = MODEL_REGISTRY[name]
    fields = spec.config_class.__dataclass_fields__
    config = spec.config_class.from_processor(processor, **{k: v for k, v in SMALL.items() if k in fields}, **overrides)
    torch.manual_seed(0)
    model = spec.model_class(config)
    model.load_item_features(processor)
    with torch.no_grad():  # larger than the 0.02 init, so agreement is not trivial
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.5)
    return model.eval()


def probe_batch(model, batch_size=5, empty_row=True):
    """A batch of another size than the export example (2), with another history length when
    the program's length is dynamic, a half-padded history, full ones and (``empty_row``) an
    empty one."""
    static = getattr(model, "export_static_history_length", False)
    length = model.config.max_history if static else model.config.max_history + 2
    batch = example_inputs(model, batch_size=batch_size, history_length=length, seed=7)
    for key in ("history_ids", "history_mask", "history_times"):
        if key in batch and empty_row:
            batch[key][1] = 0
    return batch


def pytorch_scores(model, batch):
    with torch.no_grad():
        return model(**batch).logits


# the ONNX tests below cover din, dien, sasrec and meanpool, torch.export included
@pytest.mark.parametrize("name", [n for n in SCORING_MODELS if n not in (*ONNX_MODELS, "sasrec", "meanpool")])
def test_torch_export_gives_pytorch_scores_on_a_new_batch_size(name, tiny_data, tmp_path):
    model = build(name, tiny_data.processor)
    program = export_program(model)
    if name == "caser":  # saved and loaded as a .pt2 file
        export_program(model, tmp_path / "caser.pt2")
        program = torch.export.load(str(tmp_path / "caser.pt2"))
    names = program_input_names(program)
    batch = probe_batch(model)
    got = program.module()(*[batch[n] for n in names])
    expected = pytorch_scores(model, batch)
    expected_shape = (5,) if task_of(model) == "ctr" else (5, model.config.num_items)
    assert got.shape == expected.shape == expected_shape
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-5), float((got - expected).abs().max())
    assert expected.std() > 1e-3  # not a degenerate model
    if name in EXPECTED_INPUTS:
        assert names == EXPECTED_INPUTS[name]


def test_inputs_read_drops_what_the_model_ignores(tiny_data):
    bst = build("bst", tiny_data.processor)
    assert bst.config.position_type == "learned"
    collated = example_inputs(bst, batch_size=3)
    assert {"history_times", "target_times", "history_ids"} <= set(collated)
    assert list(inputs_read(bst, collated)) == EXPECTED_INPUTS["bst"]
    time_gap = build("bst", tiny_data.processor, position_type="time_gap")
    assert list(inputs_read(time_gap, collated)) == [*EXPECTED_INPUTS["bst"], "history_times", "target_times"]


@pytest.mark.parametrize("name", ONNX_MODELS)
def test_onnxruntime_gives_pytorch_scores(name, tiny_data, tmp_path):
    model = build(name, tiny_data.processor)
    path = export_onnx(model, tmp_path / f"{name}.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{name}.onnx"]  # one file, no temporary left
    batch = probe_batch(model)
    report = verify_onnx(path, model, batch=batch)
    assert report["batch_size"] == 5
    assert report["max_abs_diff"] <= 1e-5 * max(1.0, report["max_abs_score"]), report
    # the same through a plain onnxruntime session, as a server would run it
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {i.name: batch[i.name].numpy() for i in session.get_inputs()}
    assert isinstance(session.get_inputs()[0].shape[0], str)  # a symbolic batch dimension
    (scores,) = session.run(None, feeds)
    assert torch.allclose(torch.from_numpy(scores), pytorch_scores(model, batch), rtol=1e-5, atol=1e-5)
    metadata = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    assert metadata["hf_recsys.model_type"] == model.config.model_type
    assert metadata["hf_recsys.task"] == task_of(model)


def test_next_item_top_k_export_from_a_saved_folder(tiny_data, tmp_path, capfd):
    model = build("sasrec", tiny_data.processor)
    model.save_pretrained(tmp_path / "sasrec")
    capfd.readouterr()
    path = export_onnx(str(tmp_path / "sasrec"), tmp_path / "sasrec-top5.onnx", top_k=5)
    export_program(str(tmp_path / "sasrec"), tmp_path / "sasrec.pt2")
    err = capfd.readouterr().err  # the Python API printed the exporters' notes (the CLI hid them)
    assert "torchvision" not in err and "LeafSpec" not in err and "Expect archive file" not in err, err
    batch = probe_batch(model, batch_size=4, empty_row=False)  # an empty history ties every score
    report = verify_onnx(path, model, batch=batch, top_k=5)
    assert report["outputs"] == ["scores", "item_indices"]
    assert report["indices_equal"], report
    assert report["max_abs_diff"] <= 1e-5 * max(1.0, report["max_abs_score"]), report
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == EXPECTED_INPUTS["sasrec"]
    values, indices = session.run(None, {i.name: batch[i.name].numpy() for i in session.get_inputs()})
    logits = pytorch_scores(model, batch)
    logits[:, :2] = float("-inf")
    logits.scatter_(1, batch["history_ids"], float("-inf"))
    expected = logits.topk(5, dim=1)
    assert torch.equal(torch.from_numpy(indices), expected.indices)
    assert torch.allclose(torch.from_numpy(values), expected.values, rtol=1e-5, atol=1e-5)
    for row, history in zip(indices, batch["history_ids"]):  # no padding, unknown or seen item
        assert not set(row.tolist()) & ({0, 1} | set(history.tolist()))


def test_cli_exports_and_verifies(tiny_data, tmp_path, capsys):
    from hf_recsys.cli import main

    model = build("meanpool", tiny_data.processor)
    model.save_pretrained(tmp_path / "meanpool")
    main(["export", "--model-dir", str(tmp_path / "meanpool"), "--output", str(tmp_path / "m.onnx"), "--verify"])
    report = json.loads(capsys.readouterr().out)
    assert report["path"] == str(tmp_path / "m.onnx")
    assert report["max_abs_diff"] <= 1e-5 * max(1.0, report["max_abs_score"]), report
    # a top-k as long as the catalogue: its -inf tail (seen items) holds no item, ties in any order
    items = model.config.num_items - 2
    main(["export", "--model-dir", str(tmp_path / "meanpool"), "--output", str(tmp_path / "all.onnx"), "--verify",
          "--top-k", str(items)])
    assert json.loads(capsys.readouterr().out)["indices_equal"]


def test_a_failed_verification_exits_non_zero(tiny_data, tmp_path, capsys, monkeypatch):
    import hf_recsys.cli as cli

    model = build("meanpool", tiny_data.processor)
    model.save_pretrained(tmp_path / "meanpool")
    import hf_recsys.export as export

    monkeypatch.setattr(export, "verify_onnx", lambda *a, **k: {"max_abs_diff": 0.5, "max_abs_score": 2.0,
                                                                 "indices_equal": False})
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["export", "--model-dir", str(tmp_path / "meanpool"), "--output", str(tmp_path / "m.onnx"),
                  "--verify", "--top-k", "3"])
    assert exit_info.value.code == 1
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(
        "hf-recsys export: error: --verify: the top-k items differ from PyTorch's; the scores differ by up to 0.5")


# --------------------------------------------------------------------------- inputs from raw IDs
def test_onnx_top_k_from_raw_ids_equals_recommend(tiny_data, tmp_path):
    """A next-item graph fed by processor.encode_for_export on raw histories returns the items
    recommend() returns."""
    model = build("sasrec", tiny_data.processor)
    model.save_pretrained(tmp_path / "sasrec")
    tiny_data.processor.save_pretrained(tmp_path / "sasrec")
    path = export_onnx(str(tmp_path / "sasrec"), tmp_path / "top5.onnx", top_k=5)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    tokens = tiny_data.processor.item_vocab.tokens
    histories = [tokens[:4], tokens[20:23] + ["never-seen"], tokens[40:41]]
    inputs = tiny_data.processor.encode_for_export(histories, input_names=[i.name for i in session.get_inputs()],
                                                   max_history=model.config.max_history)
    _, indices = session.run(None, inputs)
    got = [tiny_data.processor.decode_items(row) for row in indices]
    assert got == model.recommend(histories, k=5, processor=tiny_data.processor)


def test_ctr_graph_from_raw_ids_scores_like_recommend_for_an_anonymous_user(tiny_data, tmp_path):
    """BST's graph takes user_features [B, 4]: an anonymous user is the unknown value in every
    field, as recommend() without users. Scoring every item as the target through onnxruntime
    ranks the catalogue as recommend() does."""
    model = build("bst", tiny_data.processor)
    path = export_onnx(model, tmp_path / "bst.onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    processor = tiny_data.processor
    assert "user_features" in names
    catalogue = processor.item_vocab.tokens
    history = catalogue[5:9]
    inputs = processor.encode_for_export([history] * len(catalogue), targets=catalogue, input_names=names,
                                         max_history=model.config.max_history)
    assert inputs["user_features"].shape == (len(catalogue), len(processor.user_feature_names))
    assert (inputs["user_features"] == 1).all()
    (logits,) = session.run(None, inputs)
    ranked = [catalogue[i] for i in (-logits).argsort(kind="stable") if catalogue[i] not in history][:5]
    assert ranked == model.recommend([history], k=5, processor=processor)[0]


def test_encode_for_export_names_what_it_cannot_build(tiny_data):
    with pytest.raises(ValueError, match="target_ids.*targets="):
        tiny_data.processor.encode_for_export([["1"]], input_names=["history_ids", "target_ids"])


def test_cli_prints_example_inputs_and_refuses_p5_in_one_line(tiny_data, tmp_path, capsys):
    from hf_recsys.cli import main
    from hf_recsys.models import P5Config, P5ForConditionalGeneration

    model = build("bst", tiny_data.processor)
    model.save_pretrained(tmp_path / "bst")
    tiny_data.processor.save_pretrained(tmp_path / "bst")
    main(["export", "--model-dir", str(tmp_path / "bst"), "--example"])
    report = json.loads(capsys.readouterr().out)
    example = report["example_inputs"]
    assert len(example["user_features"][0]) == len(tiny_data.processor.user_feature_names)
    assert example["history_ids"][0][-3:] == tiny_data.processor.encode_items(tiny_data.processor.item_vocab.tokens[:3]).tolist()

    with pytest.raises(SystemExit) as exit_info:  # was a traceback, exit status 1
        main(["export", "--model-dir", str(tmp_path / "bst"), "--output", str(tmp_path / "bst.onnx"), "--top-k", "3"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "argument --top-k: is for next-item models; bst is a CTR model" in err
    assert "Loading weights" not in err  # refused from config.json, before the weights load
    assert not (tmp_path / "bst.onnx").exists()

    p5 = P5ForConditionalGeneration(P5Config(d_model=16, d_kv=4, d_ff=16, num_heads=2, num_layers=1,
                                             num_decoder_layers=1, vocab_size=64))
    p5.save_pretrained(tmp_path / "p5")
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "--model-dir", str(tmp_path / "p5"), "--output", str(tmp_path / "p5.onnx")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "export is not supported for p5" in err and "Traceback" not in err
    assert not (tmp_path / "p5.onnx").exists()


def test_a_top_k_above_the_catalogue_is_capped_with_a_note(tiny_data, tmp_path, capfd):
    """--top-k 5000 on a small catalogue was capped silently, the extra entries scored -inf; the
    exporter's notes on torchvision and a torch deprecation came out as warnings."""
    from hf_recsys.cli import main

    model = build("meanpool", tiny_data.processor)
    model.save_pretrained(tmp_path / "meanpool")
    items = model.config.num_items - 2
    main(["export", "--model-dir", str(tmp_path / "meanpool"), "--output", str(tmp_path / "m.onnx"), "--top-k", "5000"])
    err = capfd.readouterr().err
    assert f"note: --top-k 5000 is more than the model's {items} items; the graph returns {items}" in err
    assert "torchvision" not in err and "LeafSpec" not in err
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    batch = probe_batch(model, batch_size=2, empty_row=False)
    scores, _ = session.run(None, {i.name: batch[i.name].numpy() for i in session.get_inputs()})
    assert scores.shape == (2, items)
