"""One change at a time to our CTR model's settings, scored on the *validation* samples.

    python benchmarks/peers/ablate.py --dataset ml-1m --data-path ../shared/data/ml-1m \
        --user-fraction 0.1 --model din --seeds 0 1 --variants baseline constant_lr init_1e-4 \
        --output benchmarks/results/ctr_peers/ablation-din-ml-1m-users0.1.json

Each variant is the model's current defaults plus one change (:data:`VARIANTS`); the samples
are prepared once and shared by every run. Test samples are not scored.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Optional

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctr_peers import summarise, train_ours  # noqa: E402
from export_ctr_samples import add_data_arguments, prepare_from_args  # noqa: E402

from hf_recsys.benchmarks.suite import git_commit, machine_info  # noqa: E402

#: name -> (config overrides, training options); each is one change from the defaults
VARIANTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "baseline": ({}, {}),
    "linear_lr": ({}, {"lr_scheduler_type": "linear"}),
    "constant_lr": ({}, {"lr_scheduler_type": "constant"}),
    "init_1e-4": ({"initializer_range": 1e-4}, {}),
    "init_1e-3": ({"initializer_range": 1e-3}, {}),
    "weight_decay_0.01": ({}, {"weight_decay": 0.01}),
    "weight_decay_0.1": ({}, {"weight_decay": 0.1}),
    "mlp_prelu": ({"mlp_activation": "prelu"}, {}),
    "mlp_relu": ({"mlp_activation": "relu"}, {}),
    "mlp_dice": ({"mlp_activation": "dice"}, {}),
    "attention_dice": ({"attention_activation": "dice"}, {}),
    "attention_sigmoid": ({"attention_activation": "sigmoid"}, {}),
    "attention_prelu": ({"attention_activation": "prelu"}, {}),
    "attention_softmax": ({"attention_normalization": "softmax"}, {}),
    "peer_sizes": ({"attention_hidden_sizes": [64, 16], "mlp_hidden_sizes": [256, 128]}, {}),
    "epochs_1": ({}, {"epochs": 1.0}),
    "epochs_3": ({}, {"epochs": 3.0}),
    "epochs_4": ({}, {"epochs": 4.0}),
    "dropout_0.1": ({"dropout": 0.1}, {}),
    "dropout_0.0": ({"dropout": 0.0}, {}),
}


def main(argv: Optional[list[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_arguments(parser)
    parser.add_argument("--model", default="din")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=sorted(VARIANTS))
    parser.add_argument("--base", default="{}", help="a JSON {overrides, training} applied before every variant")
    parser.add_argument("--epoch-curve", action="store_true", help="also score the validation set after every epoch")
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)
    if args.dataset != "synthetic" and not args.data_path:
        parser.error(f"--dataset {args.dataset} needs --data-path")
    torch.set_num_threads(1)
    base = json.loads(args.base)
    data = prepare_from_args(args)
    report: dict[str, Any] = {
        "command": "python " + " ".join([os.path.relpath(__file__)] + list(argv if argv is not None else sys.argv[1:])),
        "commit": git_commit(),
        "machine": machine_info(),
        "dataset": data.log.name,
        "model": args.model,
        "split": "valid",
        "seeds": args.seeds,
        "base": base,
        "variants": {},
    }
    for name in args.variants:
        overrides, training = VARIANTS[name]
        overrides = {**base.get("overrides", {}), **overrides}
        training = {**base.get("training", {}), **training}
        runs = []
        for seed in args.seeds:
            started = time.perf_counter()
            run = train_ours(data, args.model, seed, overrides, training, eval_splits=("valid",),
                             eval_each_epoch=args.epoch_curve)
            run["seed"] = seed
            runs.append(run)
            print(f"[ablate] {args.model} {name} seed {seed}: valid auc {run['valid']['auc']:.4f} "
                  f"logloss {run['valid']['logloss']:.4f} ({time.perf_counter() - started:.0f}s, "
                  f"{run['train_samples_per_second']:.0f} samples/s)", flush=True)
        report["variants"][name] = {"overrides": overrides, "training": training, "runs": runs,
                                    "summary": summarise(runs)}
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w") as f:
            json.dump(report, f, indent=2)
    for name, entry in report["variants"].items():
        s = entry["summary"]
        print(f"{name:>20}: valid auc {s['valid_auc']['mean']:.4f} ± {s['valid_auc']['std']:.4f}  "
              f"logloss {s['valid_logloss']['mean']:.4f}")
    return report


if __name__ == "__main__":
    main()
