"""Train one DeepCTR-Torch model on samples exported by ``export_ctr_samples.py``.

Runs in DeepCTR-Torch's own virtualenv (it pins numpy < 2 and an old pandas)::

    python -m venv /work/venvs/deepctr
    /work/venvs/deepctr/bin/pip install "numpy<2" "pandas<2.3" "scipy<1.14" "setuptools<81" \
        torch==2.13.0 deepctr-torch==0.3.0 scikit-learn requests  # deepctr-torch imports requests
    /work/venvs/deepctr/bin/python benchmarks/peers/run_deepctr.py --data EXPORT --model DIN --output OUT

It imports nothing from hf_recsys. Every model keeps DeepCTR-Torch's own defaults (layer sizes,
activations, initialisation std 1e-4, embedding L2, Adam at a constant 1e-3, summed BCE); the
harness only chooses the inputs, which are the ones our models get:

* DIN / DIEN: the user profile fields (8-dim embeddings), the target item and its category
  (32 + 32) and the history of both (sharing those tables, right-padded, ``seq_length``).
  DIEN runs AUGRU (the paper's and our default evolving layer; DeepCTR-Torch's default is a
  plain GRU) with its negative-sampling auxiliary loss (``use_negsampling=True``) fed the
  exported ``neg_hist_*`` arrays, our collator's ``history_negatives``.
* DeepFM / WDL / AFM: the fields of our feature-field models: user ID, user profile fields,
  item ID and each item field (e.g. genres, mean of its values), one embedding size
  (``--embedding-dim``, our default 16) for all, in both the linear and the deep part.

Writes ``run.json`` (settings, training seconds, samples per second) and
``{valid,test}_predictions.npy`` (click probabilities in sample order) into ``--output``;
metrics are computed by the caller (``ctr_peers.py``) with the same code as ours.

``--checkpoint-dir`` makes a run resumable across sittings (DeepCTR-Torch's ``fit`` keeps no
state between calls): each epoch's samples are shuffled here (a permutation seeded by seed and
epoch) and fed to ``fit`` in slices of ``--checkpoint-batches`` batches without its own shuffle;
after each slice the model, the Adam state, torch's random state and the training seconds so
far are saved, and a rerun with the same arguments continues after the last saved slice. Every
batch but a slice's last is the same size as in one uninterrupted ``fit``, so training differs
from ``fit(shuffle=True)`` only in which random order the samples come in.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time

import numpy as np
import torch
from deepctr_torch.inputs import SparseFeat, VarLenSparseFeat, get_feature_names
from deepctr_torch.models import AFM, DIEN, DIN, WDL, DeepFM

BEHAVIOUR_MODELS = ("DIN", "DIEN")
FIELD_MODELS = {"DeepFM": DeepFM, "WDL": WDL, "AFM": AFM}


def behaviour_columns(meta: dict, with_negatives: bool, item_dim: int, category_dim: int, user_dim: int) -> list:
    length = meta["max_history"]
    columns = [SparseFeat(f"user_{name}", size, embedding_dim=user_dim) for name, size in meta["user_fields"].items()]
    columns += [
        SparseFeat("item_id", meta["num_items"], embedding_dim=item_dim),
        SparseFeat("cate_id", meta["num_categories"], embedding_dim=category_dim),
    ]
    prefixes = ["hist_", "neg_hist_"] if with_negatives else ["hist_"]
    for prefix in prefixes:
        columns += [
            VarLenSparseFeat(SparseFeat(f"{prefix}item_id", meta["num_items"], embedding_dim=item_dim,
                                        embedding_name="item_id"), maxlen=length, length_name="seq_length"),
            VarLenSparseFeat(SparseFeat(f"{prefix}cate_id", meta["num_categories"], embedding_dim=category_dim,
                                        embedding_name="cate_id"), maxlen=length, length_name="seq_length"),
        ]
    return columns


def field_columns(meta: dict, dim: int) -> list:
    columns = [SparseFeat("user_id", meta["num_users"], embedding_dim=dim)]
    columns += [SparseFeat(f"user_{name}", size, embedding_dim=dim) for name, size in meta["user_fields"].items()]
    columns.append(SparseFeat("item_id", meta["num_items"], embedding_dim=dim))
    for name, spec in meta["item_fields"].items():
        feature = SparseFeat(f"item_{name}", spec["vocabulary"], embedding_dim=dim)
        if spec["max_values"] > 1:
            columns.append(VarLenSparseFeat(feature, maxlen=spec["max_values"], combiner="mean",
                                            length_name=f"item_{name}_length"))
        else:
            columns.append(feature)
    return columns


def model_inputs(arrays: np.lib.npyio.NpzFile, names: list[str]) -> dict[str, np.ndarray]:
    out = {}
    for name in names:
        values = arrays[name]
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        out[name] = values
    return out


def fit_resumable(model, optimizer, inputs: dict[str, np.ndarray], labels: np.ndarray, args) -> tuple[float, float]:
    """Train ``args.epochs`` epochs in slices, saving after each one into ``args.checkpoint_dir``
    and starting after the last saved slice; returns (wall, CPU) seconds over every sitting."""
    path = os.path.join(args.checkpoint_dir, "progress.pt")
    progress = {"epoch": 0, "slice": 0, "seconds": 0.0, "cpu_seconds": 0.0}
    if os.path.exists(path):
        saved = torch.load(path, weights_only=False)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        torch.set_rng_state(saved["torch_rng"])
        progress = saved["progress"]
        print(f"continuing from epoch {progress['epoch']} slice {progress['slice']}", flush=True)
    os.makedirs(args.checkpoint_dir, exist_ok=True)
    slice_size = args.checkpoint_batches * args.batch_size
    for epoch in range(progress["epoch"], args.epochs):
        order = np.random.default_rng([args.seed, epoch]).permutation(len(labels))
        slices = range(0, len(order), slice_size)
        for number in range(progress["slice"] if epoch == progress["epoch"] else 0, len(slices)):
            started, cpu_started = time.perf_counter(), time.process_time()
            rows = order[slices[number]:slices[number] + slice_size]
            model.fit({name: values[rows] for name, values in inputs.items()}, labels[rows],
                      batch_size=args.batch_size, epochs=1, verbose=0, shuffle=False)
            progress = {"epoch": epoch, "slice": number + 1,
                        "seconds": progress["seconds"] + time.perf_counter() - started,
                        "cpu_seconds": progress["cpu_seconds"] + time.process_time() - cpu_started}
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "torch_rng": torch.get_rng_state(), "progress": progress}, path + ".tmp")
            os.replace(path + ".tmp", path)
            print(f"epoch {epoch} slice {number + 1}/{len(slices)}: {progress['seconds']:.0f}s", flush=True)
    return progress["seconds"], progress["cpu_seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="folder written by export_ctr_samples.py")
    parser.add_argument("--model", required=True, choices=[*BEHAVIOUR_MODELS, *FIELD_MODELS])
    parser.add_argument("--output", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--item-dim", type=int, default=32)
    parser.add_argument("--category-dim", type=int, default=32)
    parser.add_argument("--user-dim", type=int, default=8)
    parser.add_argument("--embedding-dim", type=int, default=16, help="field models: one size for every field")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")))
    parser.add_argument("--checkpoint-dir", default=None, help="save progress here and continue from it (resumable)")
    parser.add_argument("--checkpoint-batches", type=int, default=1000, help="batches between saves")
    args = parser.parse_args()
    if args.checkpoint_batches < 1:
        parser.error("--checkpoint-batches must be at least 1")

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    with open(os.path.join(args.data, "meta.json")) as f:
        meta = json.load(f)

    settings: dict = {"model": args.model, "library": "deepctr-torch 0.3.0", "epochs": args.epochs,
                      "batch_size": args.batch_size, "optimizer": "Adam", "learning_rate": args.learning_rate}
    if args.model in BEHAVIOUR_MODELS:
        columns = behaviour_columns(meta, args.model == "DIEN", args.item_dim, args.category_dim, args.user_dim)
        if args.model == "DIN":
            model = DIN(columns, ["item_id", "cate_id"], seed=args.seed, device="cpu")
        else:
            model = DIEN(columns, ["item_id", "cate_id"], gru_type="AUGRU", use_negsampling=True,
                         seed=args.seed, device="cpu")
            settings.update(gru_type="AUGRU", use_negsampling=True)
        settings.update(item_dim=args.item_dim, category_dim=args.category_dim, user_dim=args.user_dim)
    else:
        columns = field_columns(meta, args.embedding_dim)
        model = FIELD_MODELS[args.model](columns, columns, seed=args.seed, device="cpu")
        settings.update(embedding_dim=args.embedding_dim)
    names = get_feature_names(columns)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    model.compile(optimizer, "binary_crossentropy", metrics=[])

    train = np.load(os.path.join(args.data, "train.npz"))
    inputs, labels = model_inputs(train, names), train["label"]
    if args.checkpoint_dir:
        seconds, cpu_seconds = fit_resumable(model, optimizer, inputs, labels, args)
        settings.update(shuffle="per epoch by the harness, fed to fit in slices (resumable)")
    else:
        started, cpu_started = time.perf_counter(), time.process_time()
        model.fit(inputs, labels, batch_size=args.batch_size, epochs=args.epochs, verbose=2, shuffle=True)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    os.makedirs(args.output, exist_ok=True)
    for split in ("valid", "test"):
        arrays = np.load(os.path.join(args.data, f"{split}.npz"))
        predictions = model.predict(model_inputs(arrays, names), batch_size=1024).reshape(-1)
        np.save(os.path.join(args.output, f"{split}_predictions.npy"), predictions)
    samples = len(train["label"]) * args.epochs
    with open(os.path.join(args.output, "run.json"), "w") as f:
        json.dump({"settings": settings, "train_seconds": seconds, "train_samples_per_second": samples / seconds,
                   "train_cpu_seconds": cpu_seconds, "train_samples_per_cpu_second": samples / cpu_seconds,
                   "threads": args.threads, "torch": torch.__version__}, f, indent=2)
    print(f"{args.model} seed {args.seed}: trained {samples} samples in {seconds:.1f}s", flush=True)


if __name__ == "__main__":
    main()
