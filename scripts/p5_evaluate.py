#!/usr/bin/env python
"""Evaluate a saved P5 folder again, on the data it was trained on (read from its run_config.json).

    python scripts/p5_evaluate.py outputs/p5-beauty-sequential                 # every test user
    python scripts/p5_evaluate.py outputs/p5-synthetic --direct --eval-users 500
    python scripts/p5_evaluate.py outputs/p5-beauty-independent --split valid --eval-users 2000   # as eval_valid_every

Sequential recommendation: HR@5/10, NDCG@5/10 (constrained beam search, the training run's
protocol) and popularity on the same users; `--direct` adds the yes/no, candidate-list and
rating families (training and held-out templates). Prints JSON and writes it to
FOLDER/eval_again.json (FOLDER/eval_again_valid.json with `--split valid`: the item before each
user's test item, the users and protocol of a training run's `--eval-valid-every` curve). History
items are left out of the recommendations, and of popularity's list, as the training run did
(`--eval-exclude-seen`) unless `--exclude-seen` / `--include-seen` says otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir")
    parser.add_argument("--split", choices=["test", "valid"], default="test",
                        help="held-out item to predict: the last (test) or the one before it (valid)")
    parser.add_argument("--eval-users", type=int, default=None, help="seeded subset of users (default: all)")
    parser.add_argument("--direct", action="store_true", help="also the yes/no, candidate-list and rating families")
    parser.add_argument("--no-sequential", action="store_true", help="skip the (slower) beam-search evaluation")
    parser.add_argument("--unseen-template", action="store_true", help="also the held-out sequential template")
    parser.add_argument("--exclude-seen", action="store_true", default=None,
                        help="never recommend an item of the user's history (default: as the training run)")
    parser.add_argument("--include-seen", dest="exclude_seen", action="store_false",
                        help="allow the history's items (default: as the training run)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    import hf_recsys  # noqa: F401  (registers p5)
    from hf_recsys.constants import RUN_CONFIG_FILE
    from hf_recsys.data.pipeline import DataConfig, prepare_data
    from hf_recsys.files import write_text_atomically
    from hf_recsys.p5 import ItemIndex, evaluate_direct_and_rating, evaluate_sequential, popularity_metrics
    from hf_recsys.p5.prompts import SEQUENTIAL_TRAIN, SEQUENTIAL_UNSEEN
    from hf_recsys.training.run import RunConfig, load_run_log

    with open(os.path.join(args.model_dir, RUN_CONFIG_FILE)) as f:
        saved = json.load(f)
    run = RunConfig.from_dict(saved["run"])  # flat (older folders) or nested
    data_fields = {f.name for f in dataclasses.fields(DataConfig)}
    data = prepare_data(load_run_log(run), DataConfig(**{k: v for k, v in saved["data"].items() if k in data_fields}))
    model = AutoModelForSeq2SeqLM.from_pretrained(args.model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    index = ItemIndex.from_pretrained(args.model_dir)

    exclude_seen = run.eval_exclude_seen if args.exclude_seen is None else args.exclude_seen
    out: dict = {"model_dir": args.model_dir, "item_indexing": index.method, "split": args.split,
                 "exclude_seen": exclude_seen}
    if not args.no_sequential:
        templates = [("", SEQUENTIAL_TRAIN)] + ([("unseen_", SEQUENTIAL_UNSEEN)] if args.unseen_template else [])
        for prefix, template_list in templates:
            got = evaluate_sequential(model, tokenizer, data, index, args.split, template_list, 0,
                                      num_beams=model.config.recommend_beams, batch_size=32,
                                      max_users=args.eval_users, exclude_seen=exclude_seen, seed=run.seed)
            out.update({f"{prefix}{k}": v for k, v in got.items()})
        out.update({f"popularity_{k}": v for k, v in
                    popularity_metrics(data, args.split, max_users=args.eval_users, seed=run.seed,
                                       exclude_seen=exclude_seen).items()})
    if args.direct:
        families = [t for t in ("yesno", "candidates", "rating") if t in model.config.tasks]
        for prefix, unseen in (("", False), ("unseen_", True)):
            started = time.perf_counter()
            got = evaluate_direct_and_rating(model, tokenizer, data, index, families, args.split, unseen,
                                             model.config.num_candidates, args.eval_users, run.seed)
            out.update({f"{prefix}{k}": v for k, v in got.items()})
            out[f"{prefix}direct_seconds"] = time.perf_counter() - started
    text = json.dumps(out, indent=2)
    print(text)
    name = "eval_again.json" if args.split == "test" else "eval_again_valid.json"
    write_text_atomically(os.path.join(args.model_dir, name), text)


if __name__ == "__main__":
    main()
