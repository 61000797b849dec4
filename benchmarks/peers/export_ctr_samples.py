"""Export hf_recsys' CTR samples as plain feature arrays a peer library can read.

    python benchmarks/peers/export_ctr_samples.py --dataset ml-1m --data-path ../shared/data/ml-1m \
        --user-fraction 0.1 --output /tmp/ml1m-cut

The samples are exactly the ones ``hf-recsys train`` builds (``prepare_data`` -> CTR datasets
for train / valid / test, one sampled negative per positive, ``--seed``) and the histories the
CTR collator cuts for them, so a peer trained on the export and our model trained through the
package see the same inputs. Per split, ``{split}.npz`` holds (N samples, L = max history):

* ``label`` ``[N]`` float32; ``user_id`` ``[N]``; one ``user_<field>`` ``[N]`` per user profile
  field (indices of our vocabularies: 0 padding, 1 unknown);
* ``item_id`` / ``cate_id`` ``[N]``: the target and its category;
* ``hist_item_id`` / ``hist_cate_id`` ``[N, L]``: the history, oldest first, **right-padded**
  with 0 (DeepCTR-Torch's layout; ours is left-padded) and ``seq_length`` ``[N]``;
* ``neg_hist_item_id`` / ``neg_hist_cate_id`` ``[N, L]``: DIEN's sampled non-clicked item at
  each history step, as our collator draws them (``history_negatives``), aligned the same way;
* ``item_<field>`` ``[N, V]`` and ``item_<field>_length`` ``[N]``: each item field of the target
  (e.g. genres; V = values kept per item, right-padded).

``meta.json`` gives every vocabulary size, the field names and how the samples were made;
``train_item_counts.npy`` the training interactions per item index, the counts of the
popularity baseline (:func:`popularity_baseline`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Optional

import numpy as np

from hf_recsys.data.log import InteractionLog
from hf_recsys.data.pipeline import DataConfig, PreparedData, data_config_dict, prepare_data
from hf_recsys.training.collators import sample_history_negatives
from hf_recsys.training.metrics import popularity_ctr_metrics

SPLITS = ("train", "valid", "test")
#: values kept per item of a multi-valued item field (our feature-field models' default cap)
MAX_ITEM_VALUES = 8
#: the training interactions per item index: the popularity baseline's counts
ITEM_COUNTS_FILE = "train_item_counts.npy"


def sample_users(log: InteractionLog, fraction: float, seed: int) -> InteractionLog:
    """The log restricted to a random ``fraction`` of its users (drawn with ``seed``)."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"--user-fraction must be in (0, 1], got {fraction}")
    if fraction == 1.0:
        return log
    users = np.sort(log.interactions["user_id"].unique())
    rng = np.random.default_rng(seed)
    kept = set(rng.choice(users, size=max(1, int(round(fraction * len(users)))), replace=False).tolist())
    interactions = log.interactions[log.interactions["user_id"].isin(kept)].reset_index(drop=True)
    interactions.attrs = dict(log.interactions.attrs)
    users_table = None if log.users is None else log.users[log.users["user_id"].isin(kept)].reset_index(drop=True)
    return InteractionLog(
        interactions=interactions,
        users=users_table,
        items=log.items,
        name=f"{log.name}-users{fraction:g}",
        multi_valued_item_features=log.multi_valued_item_features,
    )


def load_benchmark_log(
    dataset: str,
    data_path: Optional[str],
    user_fraction: float = 1.0,
    user_seed: int = 0,
    synthetic_users: int = 2000,
    synthetic_items: int = 1000,
) -> InteractionLog:
    """A log as ``hf-recsys train`` reads it (the synthetic one with seed 0), optionally cut to
    a random share of its users."""
    if dataset == "synthetic":
        from hf_recsys.data.synthetic import generate_synthetic_log

        log = generate_synthetic_log(num_users=synthetic_users, num_items=synthetic_items, seed=0)
    else:
        from hf_recsys.data.readers import load_log

        log = load_log(dataset, data_path)
    return sample_users(log, user_fraction, user_seed)


def right_align(history: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, ...]:
    """Move each row's non-zero entries of ``history`` ``[N, L]`` to the front, in order (left
    padding -> right padding); ``others`` (same shape) are permuted the same way."""
    order = np.argsort(history == 0, axis=1, kind="stable")
    return tuple(np.take_along_axis(a, order, axis=1) for a in (history, *others))


def split_arrays(data: PreparedData, split: str, max_history: int) -> dict[str, np.ndarray]:
    """Feature arrays of one split's CTR samples (see the module docstring)."""
    samples = data.ctr_dataset(split)
    rows = np.asarray(samples["row"], dtype=np.int64)
    users = np.asarray(samples["user_index"], dtype=np.int64)
    target = np.asarray(samples["target"], dtype=np.int64)
    processor = data.processor
    # what CTRCollator gives a model: the window before each row and, for DIEN, one sampled
    # non-clicked item per step, a function of (seed, log position)
    history, _ = data.sequences.windows(rows, max_history)
    positions = rows[:, None] - max_history + np.arange(max_history)[None, :]
    negatives = sample_history_negatives(positions, history, processor.num_items, data.config.seed)
    history, negatives = right_align(history, negatives)
    categories = processor.item_category_table()
    if categories is None:
        categories = np.zeros(processor.num_items, dtype=np.int64)
    out = {
        "label": np.asarray(samples["label"], dtype=np.float32),
        "user_id": users,
        "item_id": target,
        "cate_id": categories[target],
        "hist_item_id": history,
        "hist_cate_id": np.where(history != 0, categories[history], 0),
        "neg_hist_item_id": negatives,
        "neg_hist_cate_id": np.where(negatives != 0, categories[negatives], 0),
        "seq_length": (history != 0).sum(1).astype(np.int64),
    }
    if processor.user_feature_vocabs:
        matrix = processor.user_feature_matrix()
        for j, name in enumerate(processor.user_feature_names):
            out[f"user_{name}"] = matrix[users, j]
    for name, max_values in item_fields(data).items():
        table = processor.item_feature_table(name, max_values=max_values)
        values = table[target].reshape(len(target), -1)
        out[f"item_{name}"] = values
        out[f"item_{name}_length"] = (values != 0).sum(1).astype(np.int64)
    return out


def item_fields(data: PreparedData) -> dict[str, int]:
    """Item fields our feature-field models embed and the values kept per item."""
    from hf_recsys.models.configuration_deepfm import DeepFMConfig

    config = DeepFMConfig.from_processor(data.processor)
    return dict(zip(config.item_feature_names, config.item_feature_max_values))


def export_ctr_samples(data: PreparedData, output: str, max_history: int, extra_meta: Optional[dict] = None) -> dict:
    """Write ``{split}.npz`` for train / valid / test and ``meta.json`` into ``output``."""
    os.makedirs(output, exist_ok=True)
    processor = data.processor
    meta: dict[str, Any] = {
        "dataset": data.log.name,
        "data_config": data_config_dict(data.config),
        "max_history": max_history,
        "num_items": processor.num_items,
        "num_users": processor.num_users,
        "num_categories": processor.num_categories(),
        "user_fields": {name: size for name, size in zip(processor.user_feature_names, processor.user_feature_sizes)},
        "item_fields": {
            name: {"vocabulary": processor.item_feature_size(name), "max_values": width}
            for name, width in item_fields(data).items()
        },
        "padding": "right",
        "samples": {},
        **(extra_meta or {}),
    }
    for split in SPLITS:
        arrays = split_arrays(data, split, max_history)
        np.savez(os.path.join(output, f"{split}.npz"), **arrays)
        meta["samples"][split] = int(len(arrays["label"]))
    np.save(os.path.join(output, ITEM_COUNTS_FILE), np.asarray(data.train_item_counts))
    with open(os.path.join(output, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
    return meta


def popularity_baseline(export_dir: str) -> dict[str, dict[str, float]]:
    """The popularity baseline on an export's valid and test samples, as ``hf-recsys train``
    reports it beside a CTR model (``CTRTask.baseline_metrics``): AUC / GAUC / logloss."""
    path = os.path.join(export_dir, ITEM_COUNTS_FILE)
    if not os.path.exists(path):
        raise SystemExit(f"{export_dir}: no {ITEM_COUNTS_FILE} (an export from before it was written); export "
                         "the samples again with export_ctr_samples.py")
    counts = np.load(path)
    valid = np.load(os.path.join(export_dir, "valid.npz"))
    out = {}
    for split in ("valid", "test"):
        samples = np.load(os.path.join(export_dir, f"{split}.npz"))
        out[split] = popularity_ctr_metrics(counts, (valid["item_id"], valid["label"]), samples["item_id"],
                                            samples["label"], samples["user_id"])
    return out


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="synthetic", help="a reader name (synthetic, ml-1m, beauty, csv, ...)")
    parser.add_argument("--data-path", default=None, help="folder or file of the log")
    parser.add_argument("--user-fraction", type=float, default=1.0, help="keep a random share of the users")
    parser.add_argument("--user-seed", type=int, default=0, help="seed of the user cut")
    parser.add_argument("--max-history", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0, help="seed of negative sampling (the samples)")
    parser.add_argument("--synthetic-users", type=int, default=2000)
    parser.add_argument("--synthetic-items", type=int, default=1000)


def prepare_from_args(args: argparse.Namespace) -> PreparedData:
    log = load_benchmark_log(
        args.dataset, args.data_path, args.user_fraction, args.user_seed, args.synthetic_users, args.synthetic_items
    )
    return prepare_data(log, DataConfig(max_history=args.max_history, seed=args.seed))


def main(argv: Optional[list[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_arguments(parser)
    parser.add_argument("--output", required=True, help="folder for {train,valid,test}.npz and meta.json")
    args = parser.parse_args(argv)
    if args.dataset != "synthetic" and not args.data_path:
        parser.error(f"--dataset {args.dataset} needs --data-path")
    started = time.perf_counter()
    data = prepare_from_args(args)
    meta = export_ctr_samples(data, args.output, args.max_history, {"user_fraction": args.user_fraction})
    print(f"exported {meta['samples']} samples of {meta['dataset']} to {args.output} "
          f"in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return meta


if __name__ == "__main__":
    main()
