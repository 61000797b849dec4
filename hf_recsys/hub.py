"""Model cards and Hub publishing.

The card is generated from the run (or, on ``hf-recsys push``, from the saved folder): YAML
metadata a Hub maintainer expects (``library_name``, ``license``, ``tags``, ``base_model`` for
fine-tunes, ``datasets`` only for Hub dataset ids, a ``model-index`` named by the repo id whose
metric names state the protocol), then what the model is (paper and BibTeX), intended use and
limitations, the training data and protocol, the held-out metrics next to the baseline's, how
to use it, and the training command. It never holds a local absolute path.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Optional, Sequence

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .constants import EVAL_RESULTS_FILE, RUN_CONFIG_FILE, TEMPORAL_TEST_FRACTION, TEMPORAL_VALID_FRACTION
from .files import write_atomically

METRIC_NAMES = {"auc": "AUC", "gauc": "GAUC", "logloss": "Log loss"}
PACKAGE_LICENSE = "apache-2.0"

#: Papers behind the model types: (citation line, BibTeX).
PAPERS: dict[str, tuple[str, str]] = {
    "bst": ("Chen et al., Behavior Sequence Transformer for E-commerce Recommendation in Alibaba, DLP-KDD 2019 "
            "(arXiv:1905.06874)",
            "@inproceedings{chen2019bst,\n  title={Behavior Sequence Transformer for E-commerce Recommendation in "
            "Alibaba},\n  author={Chen, Qiwei and Zhao, Huan and Li, Wei and Huang, Pipei and Ou, Wenwu},\n  "
            "booktitle={Proceedings of the 1st International Workshop on Deep Learning Practice for "
            "High-Dimensional Sparse Data},\n  year={2019}\n}"),
    "din": ("Zhou et al., Deep Interest Network for Click-Through Rate Prediction, KDD 2018 (arXiv:1706.06978)",
            "@inproceedings{zhou2018din,\n  title={Deep Interest Network for Click-Through Rate Prediction},\n  "
            "author={Zhou, Guorui and Zhu, Xiaoqiang and Song, Chenru and Fan, Ying and Zhu, Han and Ma, Xiao and "
            "Yan, Yanghui and Jin, Junqi and Li, Han and Gai, Kun},\n  booktitle={KDD},\n  year={2018}\n}"),
    "dien": ("Zhou et al., Deep Interest Evolution Network for Click-Through Rate Prediction, AAAI 2019 "
             "(arXiv:1809.03672)",
             "@inproceedings{zhou2019dien,\n  title={Deep Interest Evolution Network for Click-Through Rate "
             "Prediction},\n  author={Zhou, Guorui and Mou, Na and Fan, Ying and Pi, Qi and Bian, Weijie and Zhou, "
             "Chang and Zhu, Xiaoqiang and Gai, Kun},\n  booktitle={AAAI},\n  year={2019}\n}"),
    "sasrec": ("Kang and McAuley, Self-Attentive Sequential Recommendation, ICDM 2018 (arXiv:1808.09781)",
               "@inproceedings{kang2018sasrec,\n  title={Self-Attentive Sequential Recommendation},\n  "
               "author={Kang, Wang-Cheng and McAuley, Julian},\n  booktitle={ICDM},\n  year={2018}\n}"),
    "gru4rec": ("Hidasi et al., Session-based Recommendations with Recurrent Neural Networks, ICLR 2016 "
                "(arXiv:1511.06939)",
                "@inproceedings{hidasi2016gru4rec,\n  title={Session-based Recommendations with Recurrent Neural "
                "Networks},\n  author={Hidasi, Bal{\\'a}zs and Karatzoglou, Alexandros and Baltrunas, Linas and "
                "Tikk, Domonkos},\n  booktitle={ICLR},\n  year={2016}\n}"),
    "caser": ("Tang and Wang, Personalized Top-N Sequential Recommendation via Convolutional Sequence Embedding, "
              "WSDM 2018 (arXiv:1809.07426)",
              "@inproceedings{tang2018caser,\n  title={Personalized Top-N Sequential Recommendation via "
              "Convolutional Sequence Embedding},\n  author={Tang, Jiaxi and Wang, Ke},\n  booktitle={WSDM},\n  "
              "year={2018}\n}"),
    "p5": ("Geng et al., Recommendation as Language Processing (RLP): A Unified Pretrain, Personalized Prompt & "
           "Predict Paradigm (P5), RecSys 2022 (arXiv:2203.13366)",
           "@inproceedings{geng2022p5,\n  title={Recommendation as Language Processing (RLP): A Unified Pretrain, "
           "Personalized Prompt \\& Predict Paradigm (P5)},\n  author={Geng, Shijie and Liu, Shuchang and Fu, "
           "Zuohui and Ge, Yingqiang and Zhang, Yongfeng},\n  booktitle={RecSys},\n  year={2022}\n}"),
    "ncf": ("He et al., Neural Collaborative Filtering, WWW 2017 (arXiv:1708.05031)",
            "@inproceedings{he2017ncf,\n  title={Neural Collaborative Filtering},\n  author={He, Xiangnan and "
            "Liao, Lizi and Zhang, Hanwang and Nie, Liqiang and Hu, Xia and Chua, Tat-Seng},\n  booktitle={WWW},\n"
            "  year={2017}\n}"),
    "fm": ("Rendle, Factorization Machines, ICDM 2010",
           "@inproceedings{rendle2010fm,\n  title={Factorization Machines},\n  author={Rendle, Steffen},\n  "
           "booktitle={ICDM},\n  year={2010}\n}"),
    "fnn": ("Zhang et al., Deep Learning over Multi-field Categorical Data, ECIR 2016 (arXiv:1601.02376)",
            "@inproceedings{zhang2016fnn,\n  title={Deep Learning over Multi-field Categorical Data},\n  "
            "author={Zhang, Weinan and Du, Tianming and Wang, Jun},\n  booktitle={ECIR},\n  year={2016}\n}"),
    "widedeep": ("Cheng et al., Wide & Deep Learning for Recommender Systems, DLRS 2016 (arXiv:1606.07792)",
                 "@inproceedings{cheng2016widedeep,\n  title={Wide \\& Deep Learning for Recommender Systems},\n  "
                 "author={Cheng, Heng-Tze and others},\n  booktitle={DLRS},\n  year={2016}\n}"),
    "deepfm": ("Guo et al., DeepFM: A Factorization-Machine based Neural Network for CTR Prediction, IJCAI 2017 "
               "(arXiv:1703.04247)",
               "@inproceedings{guo2017deepfm,\n  title={DeepFM: A Factorization-Machine based Neural Network for CTR "
               "Prediction},\n  author={Guo, Huifeng and Tang, Ruiming and Ye, Yunming and Li, Zhenguo and He, "
               "Xiuqiang},\n  booktitle={IJCAI},\n  year={2017}\n}"),
    "afm": ("Xiao et al., Attentional Factorization Machines, IJCAI 2017 (arXiv:1708.04617)",
            "@inproceedings{xiao2017afm,\n  title={Attentional Factorization Machines: Learning the Weight of "
            "Feature Interactions via Attention Networks},\n  author={Xiao, Jun and Ye, Hao and He, Xiangnan and "
            "Zhang, Hanwang and Wu, Fei and Chua, Tat-Seng},\n  booktitle={IJCAI},\n  year={2017}\n}"),
    "cnn": ("Liu et al., A Convolutional Click Prediction Model, CIKM 2015",
            "@inproceedings{liu2015ccpm,\n  title={A Convolutional Click Prediction Model},\n  author={Liu, Qiang "
            "and Yu, Feng and Wu, Shu and Wang, Liang},\n  booktitle={CIKM},\n  year={2015}\n}"),
    "hstu": ("Zhai et al., Actions Speak Louder than Words: Trillion-Parameter Sequential Transducers for "
             "Generative Recommendations, ICML 2024 (arXiv:2402.17152)",
             "@inproceedings{zhai2024hstu,\n  title={Actions Speak Louder than Words: Trillion-Parameter Sequential "
             "Transducers for Generative Recommendations},\n  author={Zhai, Jiaqi and others},\n  "
             "booktitle={ICML},\n  year={2024}\n}"),
}
PAPERS["sumpool"] = PAPERS["din"]  # the DIN paper's base model

#: Data licences by log name: (license id for the YAML, license_name, sentence for the card).
_MOVIELENS = ("other", "movielens-research-only",
              "MovieLens data (GroupLens, University of Minnesota) may be used for research only, not "
              "commercially, under the GroupLens usage licence (https://grouplens.org/datasets/movielens/); "
              "a model trained on it inherits that restriction. Check the licence before any other use.")
DATA_LICENSES: dict[str, tuple[str, Optional[str], str]] = {
    "ml-1m": _MOVIELENS, "ml-100k": _MOVIELENS, "ml-20m": _MOVIELENS, "ml-25m": _MOVIELENS,
    "ml-latest": _MOVIELENS, "ml-latest-small": _MOVIELENS, "movielens": _MOVIELENS,
    "amazon": ("other", "amazon-reviews-research",
               "Amazon review data (McAuley et al.) is distributed for research; check its terms before any other use."),
    "beauty": ("other", "amazon-reviews-research",
               "The Beauty log is Amazon review data (McAuley et al.), distributed for research; check its terms "
               "before any other use."),
    "synthetic": (PACKAGE_LICENSE, None,
                  "The training data is hf_recsys' seeded synthetic log: no third-party data, the package's licence "
                  "(Apache-2.0) applies."),
}

#: Hub dataset ids for log names, where one is known to hold the same data.
HUB_DATASETS: dict[str, str] = {}


def _metric_type(key: str) -> str:
    return key.split("@")[0] if "@" in key else key


#: how each task's held-out metrics are computed: (the card's sentence, the metric rows' label);
#: ``{held_out}`` / ``{split}`` say which interactions were held out (:data:`HELD_OUT`)
PROTOCOLS = {
    "ctr": ("{held_out} the held-out positives, each scored against sampled negatives the user never interacted "
            "with (fixed by the seed); AUC, GAUC (per-user AUC weighted by impressions) and log loss",
            "sampled negatives, {split}"),
    "next_item": ("{held_out} the held-out targets, each ranked against every item of the catalogue (full ranking, "
                  "no sampled negatives; the items of the history the model reads are excluded, never the target); "
                  "HR, NDCG and MRR at cut-off K", "full ranking, {split}"),
}

#: by data split: (the start of the protocol sentence, the split in the metric label)
HELD_OUT = {
    "leave_one_out": ("each user's last interaction (leave-one-out by time) is one of", "leave-one-out"),
    "temporal": (f"the latest interactions of the log (a global time cut: the last {TEMPORAL_TEST_FRACTION:.0%} of "
                 f"the interactions, the {TEMPORAL_VALID_FRACTION:.0%} before them for validation) are",
                 "temporal split"),
}


#: the order of the metrics in a card: by cut-off K, then as here
METRIC_ORDER = ("hr", "ndcg", "mrr", "auc", "gauc", "logloss")


def _metric_order(key: str) -> tuple:
    name, _, cutoff = key.partition("@")
    return (int(cutoff) if cutoff.isdigit() else 0,
            METRIC_ORDER.index(name) if name in METRIC_ORDER else len(METRIC_ORDER), key)


def _metric_label(key: str, label: str) -> str:
    name = key.upper() if "@" in key else METRIC_NAMES.get(key, key)
    return f"{name} ({label})"


def data_license(dataset_name: str) -> tuple[str, Optional[str], str]:
    """``(license, license_name, sentence)`` for a log name; unknown logs say so."""
    key = str(dataset_name).strip().lower()
    if key in DATA_LICENSES:
        return DATA_LICENSES[key]
    if key.startswith("ml-") or "movielens" in key:
        return _MOVIELENS
    return ("other", "training-data-terms",
            f"The model was trained on the log {dataset_name!r}, whose licence hf_recsys does not know: the terms of "
            "that data apply to the model.")


_ABSOLUTE = re.compile(r"(?:(?<=^)|(?<=[\s'\"(=]))(?:/[^\s'\"),]+|[A-Za-z]:\\[^\s'\"),]+|~/[^\s'\"),]+)")


def public_text(value: Any) -> str:
    """``value`` as text with every local absolute path replaced by its last component."""
    return _ABSOLUTE.sub(lambda m: os.path.basename(m.group(0).rstrip("/\\")) or "folder", str(value))


def _public_json(value: Any) -> Any:
    """A JSON value with every local absolute path in its strings shortened (:func:`public_text`)."""
    if isinstance(value, dict):
        return {key: _public_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_public_json(item) for item in value]
    return public_text(value) if isinstance(value, str) else value


def _is_repo_id(value: Optional[str]) -> bool:
    return bool(value) and re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", str(value)) is not None \
        and not os.path.exists(os.path.expanduser(str(value)))


def _card_value(value: Any) -> str:
    """A value as a card line shows it: lists comma-separated, booleans yes / no, local paths
    shortened."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_card_value(v) for v in value)
    return public_text(value)


def _usage(task: str, model_type: str, load_from: str, example: list[str]) -> str:
    if model_type == "p5":
        return f"""```python
import hf_recsys  # or pass trust_remote_code=True to from_pretrained where hf_recsys is not installed
from transformers import AutoModelForSeq2SeqLM

model = AutoModelForSeq2SeqLM.from_pretrained("{load_from}")
# raw item IDs in (oldest first), raw item IDs out: constrained beam search over the item index
print(model.recommend([{example!r}], k=10))

# the same with the tokenizer and generate(): the prompt and the item-ID constraint in one call
inputs = model.generation_inputs([{example!r}])
output = model.generate(**inputs, num_beams=10, num_return_sequences=10, length_penalty=0.0)
print(model.decode_items(output, num_return_sequences=10))
```"""
    return f"""```python
import hf_recsys  # registers the model types and the pipeline task
from transformers import AutoModel, AutoProcessor, pipeline

# without hf_recsys installed, AutoModel and AutoProcessor load with trust_remote_code=True
# (the pipeline below needs `import hf_recsys`: it registers the "recommendation" task)

model = AutoModel.from_pretrained("{load_from}")
# raw item IDs in (oldest first), raw item IDs out; the vocabularies live in recsys_processor.json
print(model.recommend([{example!r}], k=10))

# the processor maps raw IDs to the model's inputs (history_ids, history_mask, ...)
processor = AutoProcessor.from_pretrained("{load_from}")
inputs = processor([{example!r}])

# the same as a pipeline: [{{"item_id": ..., "score": ...}}, ...]
recommender = pipeline("recommendation", model="{load_from}")
print(recommender({example!r}, k=10))
```"""


def build_model_card(
    *,
    model_type: str,
    description: str,
    task: str,
    dataset_name: str,
    data_summary: dict[str, Any],
    metrics: dict[str, float],
    baseline_metrics: dict[str, float],
    baseline_name: str,
    model_name: Optional[str] = None,
    repo_id: Optional[str] = None,
    training_summary: Optional[dict[str, Any]] = None,
    example_items: Optional[list[str]] = None,
    base_model: Optional[str] = None,
    training_command: Optional[str] = None,
    hub_dataset: Optional[str] = None,
    license_dataset: Optional[str] = None,
    protocol: Optional[Sequence[str]] = None,
    base_model_on_hub: Optional[bool] = None,
) -> ModelCard:
    """A Hub model card for ``metrics`` (held-out, no ``eval_`` prefix).

    Args:
        model_type: the registry name (``bst``, ``sasrec``, ``p5``, ...): picks paper and usage.
        task: ``ctr``, ``next_item`` or ``seq2seq``.
        dataset_name: the log's name (picks the licence); ``hub_dataset`` a Hub dataset id for
            the YAML ``datasets`` (default: :data:`HUB_DATASETS`, else none: a local log is no
            Hub dataset).
        model_name / repo_id: the title and ``model-index`` name is ``repo_id`` when given.
        base_model: the model this one was fine-tuned from (a Hub repo id goes into the YAML;
            a local folder is named in the text only). Default: the ``"initialised from"``
            entry of ``training_summary``.
        training_command: the command that trained it, shown in a bash block.
        license_dataset: the log whose licence the model inherits (default ``dataset_name``).
        protocol: ``(sentence, label)``: how the metrics were computed, for a model whose task
            evaluates otherwise than :data:`PROTOCOLS` says (P5's beam search), with the same
            ``{held_out}`` / ``{split}`` fields; default: the task's.
        base_model_on_hub: whether ``base_model`` is a Hub repo (a YAML link) or a local folder;
            default: a repo id form that is no folder here (a rebuilt card passes what the run saw).
    """
    protocol_text, metric_protocol = protocol or PROTOCOLS["ctr" if task == "ctr" else "next_item"]
    held_out, split = HELD_OUT.get(str(data_summary.get("split", "leave_one_out")), HELD_OUT["leave_one_out"])
    protocol_text, metric_protocol = (protocol_text.format(held_out=held_out, split=split),
                                      metric_protocol.format(held_out=held_out, split=split))
    training_summary = dict(training_summary or {})
    metrics = dict(sorted(metrics.items(), key=lambda item: _metric_order(item[0])))
    if base_model is None:
        base_model = training_summary.get("initialised from")
    base_model = public_text(base_model).split("@")[0] if base_model else None
    name = repo_id or public_text(model_name or model_type)
    license_id, license_name, license_text = data_license(license_dataset or dataset_name)
    hub_dataset = hub_dataset or HUB_DATASETS.get(str(dataset_name).lower())
    eval_results = [
        EvalResult(
            task_type="recommendation" if task != "ctr" else "click-through-rate-prediction",
            task_name="Next-item recommendation" if task != "ctr" else "Click-through-rate prediction",
            dataset_type=hub_dataset or str(dataset_name),
            dataset_name=str(dataset_name),
            dataset_split="test",
            metric_type=_metric_type(key),
            metric_name=_metric_label(key, metric_protocol),
            metric_value=round(float(value), 6),
        )
        for key, value in metrics.items()
        if isinstance(value, (int, float))
    ]
    card_data = ModelCardData(
        library_name="transformers",
        license=license_id,
        license_name=license_name,
        tags=["recommendation", "recommender-system", "hf_recsys", model_type, task.replace("_", "-")]
        + (["fine-tuned"] if base_model else []),
        base_model=base_model if (_is_repo_id(base_model) if base_model_on_hub is None else base_model_on_hub)
        else None,
        datasets=[hub_dataset] if hub_dataset else None,
        metrics=sorted({_metric_type(k) for k in metrics}) or None,
        model_name=name,
        eval_results=eval_results or None,
        pipeline_tag=None,
    )
    load_from = repo_id or "ORG/NAME"
    example = [str(i) for i in (example_items or ["ITEM_ID_1", "ITEM_ID_2", "ITEM_ID_3"])]
    rows = "\n".join(
        f"| {_metric_label(key, metric_protocol)} | {metrics[key]:.4f} | "
        + (f"{baseline_metrics[key]:.4f} |" if key in baseline_metrics else "– |")
        for key in metrics
        if isinstance(metrics[key], (int, float))
    ) or "| (no held-out metrics recorded) | | |"
    data_lines = "\n".join(f"- {str(k).replace('_', ' ')}: {_card_value(v)}" for k, v in data_summary.items()
                           if v is not None)
    train_lines = "\n".join(f"- {k}: {public_text(v)}" for k, v in training_summary.items() if v is not None)
    citation, bibtex = PAPERS.get(model_type, (None, None))
    paper = f"Paper: {citation}." if citation else "A baseline of hf_recsys; it follows no single paper."
    fine_tuned = (f"\n\nFine-tuned from `{base_model}` on a new log: the saved vocabularies were kept (known IDs keep "
                  "their indices) and new IDs appended." if base_model else "")
    intended = ("Recommending items of the catalogue it was trained on from a user's recent history of raw item "
                "IDs (oldest first): research, benchmarking, and a starting point for fine-tuning on a log from "
                "the same domain.")
    limitations = ("It knows only the items and users of the logs it was trained on (a fine-tuned model: the "
                   "published model's and the new log's): item IDs it does not know are "
                   "left out of a history and never recommended; new items need fine-tuning. Offline "
                   "held-out metrics do not measure the effect of recommendations on users (popularity bias, "
                   "feedback loops). " + license_text)
    command = f"\n## Training command\n\n```bash\n{public_text(training_command)}\n```\n" if training_command else ""
    citation_block = f"\n## Citation\n\n```bibtex\n{bibtex}\n```\n" if bibtex else ""
    content = f"""---
{card_data.to_yaml()}
---

# {name}

{description}: a `{model_type}` recommender trained with `hf_recsys` and the `transformers` `Trainer`.
{paper}{fine_tuned}

## Intended use and limitations

{intended}

{limitations}

## Training data and protocol

{data_lines}

Held-out metrics come from the test split: {protocol_text}.

## Evaluation (test split)

| metric | {model_type} | {baseline_name} |
|---|---|---|
{rows}

## How to use

{_usage(task, model_type, load_from, example)}

## Training

{train_lines}
{command}{citation_block}"""
    return ModelCard(content)


def _flat_run(run: dict) -> dict:
    """A ``run_config.json`` ``run`` entry with its sections (``source``, ``training``, ``data``:
    how ``RunConfig`` nests them) merged in; the entry's own keys win."""
    flat: dict = {}
    for section in ("data", "source", "training"):
        if isinstance(run.get(section), dict):
            flat.update(run[section])
    return flat | {k: v for k, v in run.items() if not isinstance(v, dict) or k == "model_overrides"}


def _training_command(run: dict) -> Optional[str]:
    """``hf-recsys train ...`` from a saved ``run_config.json``'s flattened ``run`` entry, for
    folders whose record has no ``command`` (paths shortened)."""
    if not run or not run.get("model"):
        return None
    if run.get("command"):
        return public_text(run["command"])
    parts = ["hf-recsys train", f"--model {run['model']}"]
    if run.get("dataset"):
        parts.append(f"--dataset {run['dataset']}")
    if run.get("data_path"):
        parts.append(f"--data-path {os.path.basename(os.path.normpath(str(run['data_path'])))}")
    flags = (("max_history", "--max-history"), ("epochs", "--epochs"), ("max_steps", "--max-steps"),
             ("batch_size", "--batch-size"), ("learning_rate", "--learning-rate"), ("seed", "--seed"))
    counted_in_steps = (run.get("max_steps") or 0) > 0
    for key, flag in flags:
        value = run.get(key)
        if value is not None and not (key == "max_steps" and value <= 0) and not (key == "epochs" and counted_in_steps):
            parts.append(f"{flag} {value}")
    if run.get("init_from"):
        parts.append(f"--init-from {public_text(run['init_from'])}")
    for key, value in (run.get("model_overrides") or {}).items():
        parts.append(f"--set {key}={value}")
    return " \\\n    ".join(parts)


def card_for_folder(
    folder: str,
    repo_id: Optional[str] = None,
    base_model: Optional[str] = None,
    training_summary: Optional[dict[str, Any]] = None,
) -> ModelCard:
    """The model card of a saved folder, from what it holds: ``config.json``,
    ``recsys_processor.json``, ``eval_results.json`` (``eval_*`` and ``eval_popularity_*``)
    and ``run_config.json`` when present. ``hf-recsys push`` regenerates the card with this,
    named by the repo id."""
    from .models import spec_of_model_type
    from .models.processing_recsys import PROCESSOR_FILE

    def read(name: str) -> dict:
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            return {}
        with open(path, encoding="utf-8") as f:
            return json.load(f)

    config, processor, results, run_record = (read("config.json"), read(PROCESSOR_FILE),
                                              read(EVAL_RESULTS_FILE), read(RUN_CONFIG_FILE))
    model_type = config.get("model_type", "model")
    spec = spec_of_model_type(model_type)
    name = spec.name if spec else model_type
    task = spec.task if spec else "next_item"
    metrics, baseline, baseline_name = {}, {}, "popularity"
    for key, value in results.items():
        if not key.startswith("eval_") or not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        short = key[len("eval_"):]
        if short.startswith(f"{baseline_name}_"):
            baseline[short[len(baseline_name) + 1:]] = value
        elif not any(s in short for s in ("runtime", "per_second", "loss", "epoch", "steps")) or short == "logloss":
            metrics[short] = value
    run = _flat_run(run_record.get("run", {}))
    written = run_record.get("card") or {}  # the lines the run's own card had
    summary = {"items": len(processor.get("items", [])), "users": len(processor.get("users", [])),
               "max history": config.get("max_history")}
    summary.update({k: v for k, v in (run_record.get("data") or {}).items() if k in ("split", "implicit_threshold", "seed")})
    if training_summary is None:
        training_summary = written.get("training_summary") or {
            k.replace("_", " "): run.get(k) for k in ("trainer", "epochs", "max_steps", "steps", "batch_size",
                                                      "learning_rate", "seed", "unknown_items") if run.get(k) is not None}
    # the log's name, as the run's own card has it (run["dataset"] is the reader, e.g. "csv")
    # (a trainer_kit run records the log's name there; the processor's is the first log it was fitted on)
    dataset_name = ((written.get("data_summary") or {}).get("dataset") or run.get("dataset")
                    or processor.get("dataset_name") or "custom")
    # a fine-tuned model was trained on both logs: the more restrictive licence is named
    licence_of = next((d for d in (processor.get("dataset_name"), dataset_name)
                       if d and data_license(d)[0] != PACKAGE_LICENSE), dataset_name)
    return build_model_card(
        model_type=name,
        description=spec.description if spec else model_type,
        task=task,
        dataset_name=dataset_name,
        data_summary=written.get("data_summary") or {"dataset": dataset_name, **summary},
        metrics=metrics,
        baseline_metrics=baseline,
        baseline_name=baseline_name,
        model_name=os.path.basename(os.path.normpath(folder)),
        repo_id=repo_id,
        training_summary=training_summary,
        example_items=(processor.get("items") or [])[:3] or None,
        base_model=base_model if base_model is not None else (run.get("init_from") or None),
        # a Python run (trainer_kit) has only the command its script gave: none is made up for it
        training_command=run_record.get("command") or run.get("command")
        or (None if run.get("trainer") else _training_command(run)),
        license_dataset=licence_of,
        protocol=written.get("protocol"),
        base_model_on_hub=written.get("base_model_on_hub"),
    )


class ModelSourceError(ValueError):
    """A ``--model-dir`` / ``--init-from`` that is neither a saved model folder nor a Hub repo id."""


def check_model_source(source: str, option: str = "--model-dir") -> str:
    """Refuse, naming ``option`` and ``source``, what ``from_pretrained`` would fail on with a Hub
    error: a missing local folder, or a folder without ``config.json``. Returns ``source``.

    Anything that exists locally or looks like a path (``/``, ``.``, ``~``, more than one ``/``)
    is a folder; ``ORG/NAME`` that does not exist locally is left to the Hub (or its cache).
    """
    source = str(source)
    expanded = os.path.expanduser(source)
    if os.path.isdir(expanded):
        if not os.path.isfile(os.path.join(expanded, "config.json")):
            raise ModelSourceError(f"{option} {source}: the folder has no config.json; pass a folder written by "
                                   "`hf-recsys train` (or save_pretrained), or a Hub repo id ORG/NAME")
        return source
    if os.path.exists(expanded):
        raise ModelSourceError(f"{option} {source}: is a file; pass the folder that holds config.json")
    if source.startswith(("/", ".", "~")) or source.count("/") > 1 or "\\" in source:
        raise ModelSourceError(f"{option} {source}: no such folder (a Hub repo id looks like ORG/NAME)")
    parent = source.split("/", 1)[0]
    if "/" in source and os.path.isdir(os.path.expanduser(parent)):
        # ORG/NAME whose ORG is a folder here: a mistyped folder, said at once (asking the Hub offline retries for long)
        raise ModelSourceError(f"{option} {source}: no such folder ({parent}/ is a local folder, so {source} is read "
                               f"as a folder in it, not as a Hub repo id; it holds: {_listing(parent)})")
    return source


def _listing(folder: str, limit: int = 5) -> str:
    names = sorted(n for n in os.listdir(os.path.expanduser(folder)) if not n.startswith("."))
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "") or "nothing"


def unpublishable(folder: str) -> Optional[str]:
    """Why the saved model ``folder`` could not be used once published (no weights, or no
    readable ``recsys_processor.json`` for a model that reads raw IDs through it), or None."""
    from .models.processing_recsys import PROCESSOR_FILE, RecsysProcessor

    weights = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
    if not any(os.path.isfile(os.path.join(folder, name)) for name in weights):
        return "has no weights (model.safetensors); save the model with save_pretrained(folder)"
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        try:
            model_type = json.load(f).get("model_type")
        except json.JSONDecodeError as error:
            return f"config.json is not readable (line {error.lineno}: {error.msg})"
    if model_type == "p5":  # P5 reads IDs through its item index and tokenizer
        return None
    if not os.path.isfile(os.path.join(folder, PROCESSOR_FILE)):
        return (f"has no {PROCESSOR_FILE} (the ID vocabularies, without which the model cannot read raw IDs); "
                f"save it with processor.save_pretrained(folder)")
    try:
        RecsysProcessor.from_pretrained(folder)
    except ValueError as error:
        return str(error)
    return None


def load_model(source: str, option: str = "--model-dir", **kwargs: Any) -> Any:
    """``AutoModel.from_pretrained(source)`` for a source :func:`resolve_model_source` accepted;
    a folder or repo whose weights or config cannot be read is a :class:`ModelSourceError`
    naming ``option``, not a traceback."""
    from transformers import AutoModel

    try:
        return AutoModel.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelSourceError(f"{option} {source}: cannot load the model: {reason}") from error


def load_processor(source: str, option: str = "--model-dir", **kwargs: Any) -> Any:
    """The ``RecsysProcessor`` of ``source``: a missing or unreadable ``recsys_processor.json``
    (the ID vocabularies, without which raw IDs cannot be read) is a :class:`ModelSourceError`
    naming the file."""
    from .models.processing_recsys import PROCESSOR_FILE, RecsysProcessor

    try:
        return RecsysProcessor.from_pretrained(source, **kwargs)
    except OSError as error:
        raise ModelSourceError(f"{option} {source}: has no {PROCESSOR_FILE} (the ID vocabularies that `hf-recsys "
                               f"train` or processor.save_pretrained(folder) writes beside the model)") from error
    except ValueError as error:
        raise ModelSourceError(f"{option} {source}: {error}") from error


def resolve_model_source(source: str, option: str = "--model-dir", revision: Optional[str] = None) -> str:
    """:func:`check_model_source`, then, with a ``revision`` (a branch, tag or commit of a Hub
    repo), the local snapshot of that revision (downloaded into the HF cache, or read from it
    offline), so that config, weights, processor and tokenizer all come from the same commit.
    Without ``revision`` the source is returned as it is (``from_pretrained`` takes ``main``)."""
    source = check_model_source(source, option)
    if os.path.isdir(os.path.expanduser(source)):
        if revision is not None:
            raise ModelSourceError(f"{option} {source} is a local folder; a revision ({revision!r}) applies to a Hub "
                                   "repo id ORG/NAME only")
        return source
    go_offline_if_hub_unreachable()
    if revision is None:
        check_hub_source(source, option)
        return source
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import RevisionNotFoundError

    try:
        return snapshot_download(repo_id=source, revision=revision, endpoint=os.environ.get("HF_ENDPOINT") or None)
    except RevisionNotFoundError as error:
        raise ModelSourceError(f"{option} {source}: the Hub repo has no revision {revision!r}") from error
    except OSError as error:  # no such repo, offline without a cached copy, or the Hub unreachable
        raise ModelSourceError(_hub_failure(source, option, error)) from error


def hub_host() -> str:
    """The host name of the Hub endpoint (``HF_ENDPOINT``, else huggingface.co)."""
    from urllib.parse import urlparse

    from huggingface_hub import constants

    return urlparse(os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).hostname or ""


def _offline_by_environment() -> bool:
    return any(os.environ.get(name, "").upper() in ("1", "ON", "YES", "TRUE") for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def go_offline_if_hub_unreachable() -> bool:
    """Switch this process to the Hub's offline mode (as ``HF_HUB_OFFLINE=1`` does: models come
    from the HF cache only) when the Hub's host name cannot be resolved, i.e. there is no
    network; a Hub request would otherwise retry for about half a minute before failing.
    Returns whether the process is offline."""
    import socket

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return True
    try:
        socket.getaddrinfo(hub_host(), 443)
    except (socket.gaierror, UnicodeError):
        constants.HF_HUB_OFFLINE = True
    return constants.HF_HUB_OFFLINE


def check_hub_source(source: str, option: str = "--model-dir") -> None:
    """Fetch the ``config.json`` of the Hub repo ``source`` (or find it in the HF cache when
    offline), so that a repo that is missing, private or unreachable is a
    :class:`ModelSourceError` naming ``option`` before any work, not a Hub traceback."""
    from transformers.utils import cached_file

    try:
        cached_file(source, "config.json")
    except OSError as error:
        raise ModelSourceError(_hub_failure(source, option, error)) from error


def _hub_failure(source: str, option: str, error: OSError) -> str:
    """One line: why the Hub could not give ``source``, and a hint when it was meant as a folder."""
    from huggingface_hub import is_offline_mode
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    # huggingface_hub raises its errors itself (snapshot_download); transformers re-raises them as the cause
    causes = (error, error.__cause__)
    if any(isinstance(cause, GatedRepoError) for cause in causes):
        message = f"{option} {source}: the Hub repo is gated; accept its terms on the Hub and log in (HF_TOKEN)"
    elif any(isinstance(cause, RepositoryNotFoundError) for cause in causes):
        message = (f"{option} {source}: neither a local folder nor a repo on the Hub (a private repo needs a "
                   "token: HF_TOKEN or `hf auth login`)")
    elif is_offline_mode():
        message = (f"{option} {source}: no such local folder, and not in the HF cache (offline: "
                   f"{'HF_HUB_OFFLINE is set' if _offline_by_environment() else hub_host() + ' cannot be reached'})")
    else:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        message = f"{option} {source}: not a local folder, and not loaded from the Hub: {reason}"
    return message


def write_model_card(card: ModelCard, output_dir: str) -> str:
    """Write README.md atomically."""
    return write_atomically(os.path.join(output_dir, "README.md"), card.save)


#: never uploaded: checkpoints, TensorBoard runs, hidden and temporary files, and Trainer's
#: pickled TrainingArguments (``training_args.bin``: local paths, and a pickle to unpickle)
PUSH_IGNORE = ("checkpoint-*", "checkpoints/*", "runs/*", ".*", "*/.*", "*.tmp", "training_args.bin")


def hub_api(token: Optional[str] = None) -> Any:
    """An ``HfApi`` for the endpoint and token the environment names *now*: ``HF_ENDPOINT`` and
    ``HF_TOKEN`` are read at call time, so a process that imported ``huggingface_hub`` before
    setting them (e.g. to point at a local Hub) still talks to the Hub they name."""
    from huggingface_hub import HfApi

    return HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None, token=token or os.environ.get("HF_TOKEN") or None)


class HubPushError(ValueError):
    """A push the Hub refused, or a Hub that could not be reached; the message is one line."""


#: the packages whose exceptions mean "the Hub said no" or "the Hub could not be reached"
_HUB_ERROR_PACKAGES = {"huggingface_hub", "httpx", "httpx2", "requests", "urllib3"}


def _push_failure(repo_id: str, error: BaseException) -> Optional[str]:
    """One line for an exception of the Hub client during a push, or None for any other error."""
    if not any(klass.__module__.split(".")[0] in _HUB_ERROR_PACKAGES for klass in type(error).__mro__):
        return None  # e.g. a file of the folder that cannot be read: its own traceback says more
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    status = getattr(getattr(error, "response", None), "status_code", None)
    if status is None:
        return f"cannot push to {repo_id}: the Hub ({endpoint}) could not be reached: {reason}"
    hint = " (pushing needs a token with write access: --token, HF_TOKEN or `hf auth login`)" if status in (401, 403) else ""
    return f"the Hub ({endpoint}) refused the push to {repo_id}: {reason}{hint}"


def push_folder_to_hub(
    folder: str,
    repo_id: str,
    *,
    token: Optional[str] = None,
    private: Optional[bool] = None,
    revision: Optional[str] = None,
    commit_message: str = "Upload hf_recsys model",
    regenerate_card: bool = True,
) -> str:
    """Create the repo if needed and upload the saved folder (weights, config, processor and
    its remote code, card, metrics) in one commit. The card is regenerated from the folder,
    named by ``repo_id`` (``regenerate_card=False`` uploads README.md as it is); the folder
    itself is not modified. ``repo_id`` is ``ORG/NAME``, or ``NAME`` for a repo of the token's
    user. Returns the commit URL (a ``huggingface_hub.CommitInfo``, whose ``repo_url.repo_id`` is
    the full id); a Hub that refuses or cannot be reached raises :class:`HubPushError` with one
    line."""
    try:
        return _push_folder(folder, repo_id, token, private, revision, commit_message, regenerate_card)
    except Exception as error:
        message = _push_failure(repo_id, error)
        if message is None:
            raise
        raise HubPushError(message) from error


def _push_folder(folder: str, repo_id: str, token: Optional[str], private: Optional[bool], revision: Optional[str],
                 commit_message: str, regenerate_card: bool) -> str:
    import fnmatch

    from huggingface_hub import CommitOperationAdd

    api = hub_api(token)
    # a bare NAME goes under the token's user, as the Hub does; the card names the full id
    repo_id = api.create_repo(repo_id, private=private, exist_ok=True).repo_id
    if revision:
        api.create_branch(repo_id, branch=revision, exist_ok=True)
    operations = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = os.path.join(root, name)
            relative = os.path.relpath(path, folder).replace(os.sep, "/")
            if any(fnmatch.fnmatch(relative, pattern) for pattern in PUSH_IGNORE):
                continue
            if relative == "README.md" and regenerate_card:
                continue
            if relative == RUN_CONFIG_FILE:  # what the run was told, less the local paths
                with open(path, encoding="utf-8") as f:
                    public = json.dumps(_public_json(json.load(f)), indent=2).encode("utf-8")
                operations.append(CommitOperationAdd(path_in_repo=relative, path_or_fileobj=public))
                continue
            operations.append(CommitOperationAdd(path_in_repo=relative, path_or_fileobj=path))
    if regenerate_card and os.path.isfile(os.path.join(folder, "config.json")):
        card = str(card_for_folder(folder, repo_id=repo_id))
        operations.append(CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=card.encode("utf-8")))
    info = api.create_commit(repo_id=repo_id, operations=operations, revision=revision,
                             commit_message=commit_message)
    return info
