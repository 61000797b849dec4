"""The checks every registered model passes, whatever its family.

The suite runs over ``hf_recsys.models.MODEL_REGISTRY``, so a model registered tomorrow is
tested here without a line added to this file, except its tiny configuration in
:data:`TINY_CONFIGS` (a registered model without one fails :class:`TestEveryModel` instead of
being skipped) and, for a new task, its :data:`TASK_CHECKS` entry. For every model:

* it has a pretrained base (its own ``XPreTrainedModel`` or its family's) carrying ``config_class``, ``base_model_prefix`` and
  ``_init_weights``;
* ``save_pretrained`` -> ``AutoModel.from_pretrained`` gives bit-identical outputs;
* padding: a row's output does not depend on the other rows of its batch, nor on what sits
  under the padding mask;
* ``recommend()`` takes and returns raw IDs and leaves out the history;
* a forward under bf16 autocast is finite and close to float32;
* where the task supports it, ``torch.export`` gives the PyTorch scores, and growing the ID
  vocabularies (fine-tuning on a log with new IDs) keeps the outputs on the old IDs;
  where it does not, the library refuses with a clear error.
"""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModel, PreTrainedModel

import hf_recsys  # noqa: F401  (registers the models)
from hf_recsys.data.pipeline import DataConfig, prepare_data
from hf_recsys.data.synthetic import generate_synthetic_log
from hf_recsys.models import MODEL_REGISTRY
from hf_recsys.training import next_item  # noqa: F401  (registers the "next_item" task)
from hf_recsys.training.tasks import TASKS

#: A tiny architecture per registered model type (a few thousand parameters, milliseconds a
#: forward). A new model adds its entry here; without one its tests fail.
TINY_CONFIGS: dict[str, dict] = {
    "bst": dict(item_embedding_dim=8, category_embedding_dim=8, num_heads=2, ffn_dim=16, user_feature_dim=4,
                mlp_hidden_sizes=[16], dropout=0.0),
    "sumpool": dict(item_embedding_dim=8, category_embedding_dim=8, user_feature_dim=4, mlp_hidden_sizes=[16, 8]),
    "din": dict(item_embedding_dim=8, category_embedding_dim=8, user_feature_dim=4, attention_hidden_sizes=[8],
                mlp_hidden_sizes=[16, 8]),
    "dien": dict(item_embedding_dim=8, category_embedding_dim=8, user_feature_dim=4, attention_hidden_sizes=[8],
                 aux_hidden_sizes=[8], mlp_hidden_sizes=[16, 8]),
    "lr": dict(),
    "ncf": dict(gmf_dim=8, mlp_embedding_dim=8, mlp_hidden_sizes=[16, 8]),
    "featuremlp": dict(embedding_dim=8, mlp_hidden_sizes=[16], dropout=0.0),
    "cnn": dict(embedding_dim=8, conv_channels=[4, 4], mlp_hidden_sizes=[16], dropout=0.0),
    "fm": dict(embedding_dim=8),
    "fnn": dict(embedding_dim=8, mlp_hidden_sizes=[16], dropout=0.0),
    "widedeep": dict(embedding_dim=8, mlp_hidden_sizes=[16], dropout=0.0, wide_hash_size=4096),
    "deepfm": dict(embedding_dim=8, mlp_hidden_sizes=[16], dropout=0.0),
    "afm": dict(embedding_dim=8, attention_dim=8, dropout=0.0),
    "sasrec": dict(hidden_size=16, num_layers=1, num_heads=2, ffn_dim=16, dropout=0.0, attention_dropout=0.0),
    "hstu": dict(hidden_size=16, num_layers=2, num_heads=2, qk_dim=8, v_dim=8, dropout=0.0),
    "gru4rec": dict(hidden_size=16, dropout=0.0),
    "caser": dict(hidden_size=16, window_length=3, num_horizontal_filters=4, num_vertical_filters=2, dropout=0.0),
    "meanpool": dict(hidden_size=16, dropout=0.0),
    "p5": dict(d_model=32, d_kv=8, d_ff=64, num_heads=4, num_layers=1, num_decoder_layers=1, vocab_size=300,
               recommend_beams=8, dropout_rate=0.0, tasks=["sequential"], item_indexing="sequential"),
}

#: What each task's models support beyond the checks every model passes. A new task adds an entry.
TASK_CHECKS: dict[str, set[str]] = {
    "ctr": {"export", "vocabulary_growth"},
    "next_item": {"export", "vocabulary_growth"},
    "seq2seq": set(),  # P5 reads text prompts: no ID-input program to export, its vocabulary is the tokenizer's
}

MODEL_NAMES = sorted(MODEL_REGISTRY)
LOG = dict(num_users=40, num_items=48, mean_length=10, min_length=4, max_length=20, seed=1)
GROWN_LOG = dict(num_users=60, num_items=64, mean_length=10, min_length=4, max_length=20, seed=2)
MAX_HISTORY = 6
BATCH_ROWS = 8


pytestmark = pytest.mark.usefixtures("one_thread_per_module")


@pytest.fixture(scope="module")
def data():
    return prepare_data(generate_synthetic_log(**LOG), DataConfig(max_history=MAX_HISTORY, seed=0))


# --------------------------------------------------------------------------- harnesses
class IDModelHarness:
    """Builds a tiny CTR or next-item model and batches from the task's own dataset and collator."""

    def __init__(self, name: str, data):
        self.name, self.data = name, data
        spec = MODEL_REGISTRY[name]
        config = spec.config_class.from_processor(data.processor, **tiny_config(name))
        torch.manual_seed(0)
        self.model = spec.model_class(config)
        self.model.load_item_features(data.processor)
        with torch.no_grad():  # larger than the initialisation, so that equal outputs are not trivially equal
            for parameter in self.model.parameters():
                parameter.normal_(0.0, 0.2)
        self.model.eval()
        self.task = TASKS[spec.task](data, self.model)
        self.rows = self.task.dataset("test")

    def batch(self, rows: list[int]) -> dict[str, torch.Tensor]:
        """Model inputs (no labels) for the given rows of the test split."""
        collated = self.task.collator()([self.rows[i] for i in rows])
        accepted = set(self.model._inputs_for_scoring(collated)) - {"labels"}
        return {key: value for key, value in collated.items() if key in accepted}

    def outputs(self, model, batch) -> torch.Tensor:
        with torch.no_grad():
            return model(**batch).logits.float()

    def save(self, folder) -> None:
        self.model.save_pretrained(folder)
        self.data.processor.save_pretrained(folder)

    def histories(self) -> list[list[str]]:
        tokens = self.data.processor.item_vocab.tokens  # raw IDs, without padding and unknown
        return [tokens[:3], tokens[3:7]]

    def known_items(self) -> set[str]:
        return set(self.data.processor.item_vocab.tokens)


class P5Harness:
    """Builds a tiny P5 (tokenizer, item index and model) and batches of its training prompts."""

    def __init__(self, name: str, data):
        from hf_recsys.p5 import build_p5

        self.name, self.data = name, data
        torch.manual_seed(0)
        self.setup = build_p5(data, dict(tiny_config(name), num_clusters=4, max_cluster_size=8), seed=0)
        self.model = self.setup.model.eval()
        self.prompts = self.setup.train_prompts

    def batch(self, rows: list[int]) -> dict[str, torch.Tensor]:
        tokenizer = self.setup.tokenizer
        encoded = tokenizer([self.prompts["source"][i] for i in rows], return_tensors="pt", padding=True)
        targets = tokenizer([self.prompts["target"][i] for i in rows], return_tensors="pt", padding=True)
        labels = targets["input_ids"].masked_fill(targets["attention_mask"] == 0, -100)
        return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"], "labels": labels}

    def outputs(self, model, batch) -> torch.Tensor:
        """Decoder logits at the label positions (padded label positions set to 0)."""
        with torch.no_grad():
            logits = model(**batch).logits.float()
        return logits.masked_fill((batch["labels"] == -100).unsqueeze(-1), 0.0)

    def save(self, folder) -> None:
        from hf_recsys.p5 import save_p5

        save_p5(str(folder), self.model, self.setup.tokenizer, self.setup.index, self.data.processor)

    def histories(self) -> list[list[str]]:
        items = self.setup.index.items
        return [list(items[:3]), list(items[3:7])]

    def known_items(self) -> set[str]:
        return set(self.setup.index.items)


HARNESSES = {"ctr": IDModelHarness, "next_item": IDModelHarness, "seq2seq": P5Harness}


def tiny_config(name: str) -> dict:
    if name not in TINY_CONFIGS:
        pytest.fail(f"model type {name!r} is registered but has no tiny configuration: add it to "
                    "TINY_CONFIGS in tests/test_common_models.py")
    return dict(TINY_CONFIGS[name], max_history=MAX_HISTORY)


def harness_for(name: str, data):
    task = MODEL_REGISTRY[name].task
    if task not in HARNESSES or task not in TASK_CHECKS:
        pytest.fail(f"task {task!r} of model {name!r} has no harness in tests/test_common_models.py: add one")
    return HARNESSES[task](name, data)


_built: dict[str, object] = {}


@pytest.fixture(params=MODEL_NAMES)
def harness(request, data):
    """One tiny model per registered type, built once for the module."""
    name = request.param
    if name not in _built:
        _built[name] = harness_for(name, data)
    return _built[name]


def assert_same(actual: torch.Tensor, expected: torch.Tensor, atol: float = 1e-5) -> None:
    assert actual.shape == expected.shape
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=atol)


# --------------------------------------------------------------------------- the checks
def test_every_registered_model_has_a_tiny_config_and_a_harness():
    missing = sorted(set(MODEL_REGISTRY) - set(TINY_CONFIGS))
    assert not missing, f"add tiny configurations for {missing} to TINY_CONFIGS"
    tasks = {spec.task for spec in MODEL_REGISTRY.values()}
    assert tasks <= set(HARNESSES) and tasks <= set(TASK_CHECKS)


class TestEveryModel:
    """The common checks, once per registered model type."""

    def test_has_a_pretrained_base_with_config_class_prefix_and_init(self, harness):
        spec = MODEL_REGISTRY[harness.name]
        bases = [
            cls for cls in spec.model_class.__mro__[1:]
            if issubclass(cls, PreTrainedModel) and cls.__name__.endswith("PreTrainedModel") and cls is not PreTrainedModel
        ]
        assert bases, f"{spec.model_class.__name__} has no XPreTrainedModel base"
        assert spec.model_class.config_class is spec.config_class
        assert spec.model_class.base_model_prefix
        assert any("_init_weights" in vars(cls) for cls in bases)
        assert isinstance(harness.model, bases[0])

    def test_save_and_automodel_reload_give_identical_outputs(self, harness, tmp_path):
        batch = harness.batch(list(range(BATCH_ROWS)))
        expected = harness.outputs(harness.model, batch)
        assert expected.abs().sum() > 0
        harness.save(tmp_path)
        loaded = AutoModel.from_pretrained(tmp_path).eval()
        assert type(loaded) is type(harness.model)
        assert torch.equal(harness.outputs(loaded, batch), expected)

    def test_a_row_does_not_depend_on_its_batch_nor_on_padded_content(self, harness):
        rows = list(range(BATCH_ROWS))
        batch = harness.batch(rows)
        together = harness.outputs(harness.model, batch)
        for row in rows:
            alone = harness.outputs(harness.model, harness.batch([row]))[0]
            in_batch = together[row] if alone.dim() == 0 else together[row][: alone.shape[0]]  # P5: own label length
            assert_same(in_batch, alone)
        if "history_mask" not in batch:
            return  # P5: prompts are padded with the tokenizer's pad token, covered above
        padded = ~batch["history_mask"].bool()
        assert padded.any(), "the batch should mix history lengths"
        generator = torch.Generator().manual_seed(0)
        noise = torch.randint(2, harness.model.config.num_items, padded.shape, generator=generator)
        garbage = dict(batch, history_ids=torch.where(padded, noise, batch["history_ids"]))
        assert_same(harness.outputs(harness.model, garbage), together)

    def test_recommend_takes_and_returns_raw_ids(self, harness, tmp_path):
        histories = harness.histories()
        if isinstance(harness, IDModelHarness):  # loaded from a folder: the processor comes with it
            harness.save(tmp_path)
            model = AutoModel.from_pretrained(tmp_path).eval()
        else:
            model = harness.model
        recommended = model.recommend(histories, k=5)
        assert len(recommended) == len(histories)
        for history, items in zip(histories, recommended):
            assert len(items) == 5 and len(set(items)) == 5
            assert set(items) <= harness.known_items()
            assert not set(items) & set(history)  # exclude_seen is the default

    def test_recommend_excludes_items_of_the_history_before_the_window_the_model_reads(self, harness):
        """A history longer than ``config.max_history``: the model reads its last items only,
        but none of its items is recommended back (it was: the ones before the window)."""
        model = harness.model.eval()
        given = {"processor": harness.data.processor} if isinstance(harness, IDModelHarness) else {}
        window = sorted(harness.known_items())[:model.config.max_history]
        top = model.recommend([window], k=1, **given)[0][0]
        longer = [top, *window]
        assert top not in model.recommend([longer], k=5, **given)[0]
        # the window read is the same, so is the ranking
        assert (model.recommend([longer], k=3, exclude_seen=False, **given)
                == model.recommend([window], k=3, exclude_seen=False, **given))

    def test_forward_under_bf16_autocast_is_finite_and_close_to_float32(self, harness):
        batch = harness.batch(list(range(BATCH_ROWS)))
        reference = harness.outputs(harness.model, batch)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = harness.outputs(harness.model, batch)
        assert torch.isfinite(low).all()
        scale = reference.abs().max().clamp(min=1.0)
        assert (low - reference).abs().max() <= 0.05 * scale

    def test_export_gives_the_pytorch_scores_or_is_refused(self, harness):
        from hf_recsys.export import export_program, program_input_names, task_of

        if "export" not in TASK_CHECKS[MODEL_REGISTRY[harness.name].task]:
            with pytest.raises(ValueError, match="not supported for p5"):
                task_of(harness.model)
            return
        program = export_program(harness.model)
        batch = harness.batch(list(range(BATCH_ROWS)))
        names = program_input_names(program)
        exported = program.module()(*[batch[name] for name in names])
        assert_same(exported.float(), harness.outputs(harness.model, batch), atol=1e-4)

    def test_growing_the_vocabularies_keeps_the_outputs_on_known_ids(self, harness):
        if "vocabulary_growth" not in TASK_CHECKS[MODEL_REGISTRY[harness.name].task]:
            return  # nothing to grow: the model's vocabulary is its tokenizer's
        from hf_recsys.training.finetune import grow_model

        new = prepare_data(generate_synthetic_log(**GROWN_LOG), DataConfig(max_history=MAX_HISTORY, seed=0))
        processor, counts = harness.data.processor.extended_with(new.processor)
        assert counts["items"] > 0
        grown = grow_model(harness.model, processor).eval()
        assert grown.config.num_items == processor.num_items > harness.model.config.num_items
        batch = harness.batch(list(range(BATCH_ROWS)))
        before, after = harness.outputs(harness.model, batch), harness.outputs(grown, batch)
        if before.dim() == 2:  # next-item: every item's score; the old items' must not move
            after = after[:, : before.shape[1]]
        assert_same(after, before, atol=1e-6)


SIZE_FIELDS = [(name, field) for name, spec in sorted(MODEL_REGISTRY.items())
               for field in getattr(spec.config_class, "positive_fields", ())]


@pytest.mark.parametrize("model_name, field", SIZE_FIELDS)
def test_a_size_of_zero_is_refused_when_the_config_is_made(model_name, field):
    config_class = MODEL_REGISTRY[model_name].config_class
    assert getattr(config_class(), field) >= 1  # the default is valid
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError, match=f"^{field} must be a positive integer, got {bad}"):
            config_class(**{field: bad})


def test_every_embedding_size_of_a_model_is_checked():
    """A model's own size fields are named in ``positive_fields`` unless 0 means "none"."""
    zero_means_none = {"category_embedding_dim", "user_feature_dim"}
    for name, spec in MODEL_REGISTRY.items():
        fields = set(getattr(spec.config_class, "positive_fields", ()))
        sizes = {f for f in vars(spec.config_class()) if f.endswith(("embedding_dim", "hidden_size"))}
        assert sizes - zero_means_none <= fields or name == "p5", (name, sizes - fields)
