"""``hf-recsys``: the command line.

    hf-recsys train [--model bst] [--dataset synthetic] [--output-dir DIR] ...
    hf-recsys recommend --model-dir DIR --history ITEM ITEM ... [--k 10]
    hf-recsys export --model-dir DIR --output model.onnx [--format onnx|torch] [--top-k K] [--verify]
    hf-recsys zoo build [--recipes NAME ...] [--output-root DIR] [--push-to-hub --hub-org ORG]
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from typing import Optional, Sequence

DATASETS = ("synthetic", "ml-1m", "ml-100k", "ml-20m", "amazon", "beauty", "csv")


def _parse_override(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--set expects KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def _positive_minutes(text: str) -> float:
    """``--time-budget-minutes``: a positive number of minutes (``type=`` of every parser that has it)."""
    try:
        minutes = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a number of minutes, got {text!r}") from None
    if minutes <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {minutes:g}")
    return minutes


def build_train_parser(parser: Optional[argparse.ArgumentParser] = None) -> argparse.ArgumentParser:
    from .models import MODEL_REGISTRY

    parser = parser or argparse.ArgumentParser(
        prog="hf-recsys train",
        description="Train a recommender with transformers.Trainer and save a Hub-ready folder "
        "(model.safetensors, config.json, recsys_processor.json, README.md model card, eval_results.json).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    models = ", ".join(f"{name} ({spec.description})" for name, spec in sorted(MODEL_REGISTRY.items()))
    group = parser.add_argument_group("what to train")
    group.add_argument("--recipe", default=None, metavar="NAME|PATH",
                       help="start from a recipe (hf_recsys/recipes/NAME.yaml or a YAML file): its settings "
                       "come first, so every other flag given here overrides the recipe's value")
    group.add_argument("--model", default=None, choices=sorted(MODEL_REGISTRY),
                       help=f"model to train (default: bst, or the type of the --init-from model): {models}")
    group.add_argument("--dataset", default="synthetic", choices=DATASETS,
                       help="log format; 'synthetic' is the embedded seeded MovieLens-1M-shaped default")
    group.add_argument("--data-path", default=None,
                       help="folder (MovieLens) or file (amazon, beauty, csv) holding the log")
    group.add_argument("--output-dir", default=None, help="where the model folder goes (default: outputs/MODEL-DATASET)")
    group.add_argument("--set", dest="overrides", action="append", type=_parse_override, default=[],
                       metavar="KEY=VALUE", help="override a model config field, e.g. --set num_layers=2")
    group.add_argument("--init-from", default=None, metavar="ORG/NAME|PATH",
                       help="continue training a published model (a folder or Hub repo id, read through the HF "
                       "cache) on the log given by --dataset/--data-path, whose IDs are encoded with the model's "
                       "saved vocabularies (p5: any T5 checkpoint and its tokenizer)")
    group.add_argument("--init-revision", default=None, metavar="REV",
                       help="with a Hub --init-from: the branch, tag or commit to start from (default: main); "
                       "config, weights and vocabularies all come from that one snapshot")
    group.add_argument("--unknown-items", default="grow", choices=("grow", "unknown"),
                       help="with --init-from: what happens to items, users and feature values the saved "
                       "vocabularies lack. 'grow' appends them and grows every table indexed by them (old rows "
                       "unchanged, new rows freshly initialised), so new items get their own embeddings and can "
                       "be recommended: the default, because a new log's new items are usually the ones worth "
                       "recommending. 'unknown' maps them all to the unknown index 1 and keeps the model's shape "
                       "(e.g. to keep serving an exported graph)")

    group = parser.add_argument_group("data")
    group.add_argument("--max-history", type=int, default=50, help="most recent interactions a model sees")
    group.add_argument("--implicit-threshold", type=float, default=None,
                       help="keep only interactions with rating >= this (default: keep all)")
    group.add_argument("--user-core", type=int, default=0, help="k-core: drop users with fewer interactions")
    group.add_argument("--item-core", type=int, default=0, help="k-core: drop items with fewer interactions")
    group.add_argument("--split", default="leave_one_out", choices=("leave_one_out", "temporal"))
    group.add_argument("--train-negatives", type=int, default=1, help="sampled negatives per training positive (CTR)")
    group.add_argument("--eval-negatives", type=int, default=1, help="sampled negatives per held-out positive (CTR)")
    group.add_argument("--synthetic-users", type=int, default=2000)
    group.add_argument("--synthetic-items", type=int, default=1000)

    group = parser.add_argument_group("training")
    group.add_argument("--epochs", type=float, default=2.0)
    group.add_argument("--max-steps", type=int, default=-1, help="stop after N steps (overrides --epochs)")
    group.add_argument("--batch-size", type=int, default=256, help="per device")
    group.add_argument("--eval-batch-size", type=int, default=1024)
    group.add_argument("--learning-rate", type=float, default=1e-3)
    group.add_argument("--weight-decay", type=float, default=0.0)
    group.add_argument("--seed", type=int, default=0, help="seeds data sampling, negatives and initialisation")
    group.add_argument("--use-cpu", action="store_true",
                       help="train on the CPU even where a CUDA GPU is present (default: the GPU when there is one)")
    group.add_argument("--bf16", action="store_true", help="bfloat16 mixed precision (CPU or GPU)")
    group.add_argument("--fp16", action="store_true", help="float16 mixed precision (GPU)")
    group.add_argument("--logging-steps", type=int, default=50)
    group.add_argument("--no-eval-each-epoch", action="store_true", help="skip validation after every epoch")
    group.add_argument("--no-progress", action="store_true", help="disable progress bars")
    group.add_argument("--save-steps", type=int, default=0,
                       help="save a resumable checkpoint (weights, optimizer, scheduler, RNG states) every N steps "
                       "into OUTPUT_DIR/checkpoints/checkpoint-N (0: none)")
    group.add_argument("--save-total-limit", type=int, default=None, help="keep only the newest N checkpoints")
    group.add_argument("--resume-from-checkpoint", nargs="?", const="latest", default=None, metavar="PATH|latest",
                       help="continue an interrupted run from a checkpoint folder, or from the newest one in "
                       "OUTPUT_DIR/checkpoints ('latest', also what the bare flag means); give the same flags as "
                       "the interrupted run and it ends with the same weights")
    group.add_argument("--time-budget-minutes", type=_positive_minutes, default=None, metavar="M",
                       help="train for M minutes of wall clock: the learning rate decays linearly to zero at M "
                       "minutes (time, not steps) and training stops there, or earlier at --epochs/--max-steps. "
                       "For borrowed or shared hardware whose speed is not known in advance; single process only")
    group.add_argument("--gradient-checkpointing", action="store_true",
                       help="recompute Transformer blocks (bst, sasrec) in the backward pass instead of keeping "
                       "their activations: less memory, about one more forward per step")

    group = parser.add_argument_group("Hugging Face Hub")
    group.add_argument("--push-to-hub", action="store_true", help="upload the saved folder to the Hub")
    group.add_argument("--hub-model-id", default=None, help="ORG/NAME of the Hub repository")
    group.add_argument("--hub-token", default=None, help="token (default: the logged-in one)")
    group.add_argument("--hub-private", action="store_true")
    group.add_argument("--hub-revision", default=None, help="branch to push to")
    return parser


def run_config_from_args(args: argparse.Namespace):
    from .training.run import RunConfig

    model = args.model
    if model is None:
        if args.init_from:
            from .hub import resolve_model_source
            from .training.finetune import model_name_for

            model = model_name_for(resolve_model_source(args.init_from, "--init-from", args.init_revision))
        else:
            model = "bst"
    return RunConfig(
        model=model,
        dataset=args.dataset,
        data_path=args.data_path,
        output_dir=args.output_dir or f"outputs/{model}-{args.dataset}",
        epochs=args.epochs,
        max_steps=args.max_steps,
        batch_size=args.batch_size,
        eval_batch_size=args.eval_batch_size,
        learning_rate=args.learning_rate,
        weight_decay=args.weight_decay,
        seed=args.seed,
        max_history=args.max_history,
        implicit_threshold=args.implicit_threshold,
        user_core=args.user_core,
        item_core=args.item_core,
        split=args.split,
        train_negatives=args.train_negatives,
        eval_negatives=args.eval_negatives,
        synthetic_users=args.synthetic_users,
        synthetic_items=args.synthetic_items,
        bf16=args.bf16,
        fp16=args.fp16,
        logging_steps=args.logging_steps,
        eval_each_epoch=not args.no_eval_each_epoch,
        push_to_hub=args.push_to_hub,
        hub_model_id=args.hub_model_id,
        hub_token=args.hub_token,
        hub_private=args.hub_private or None,
        hub_revision=args.hub_revision,
        model_overrides=dict(args.overrides),
        disable_tqdm=True if args.no_progress else None,
        init_from=args.init_from,
        unknown_items=args.unknown_items,
        init_revision=args.init_revision,
        save_steps=args.save_steps,
        save_total_limit=args.save_total_limit,
        resume_from_checkpoint=args.resume_from_checkpoint,
        gradient_checkpointing=args.gradient_checkpointing,
        time_budget_minutes=args.time_budget_minutes,
        use_cpu=args.use_cpu,
    )


def train_main(argv: Optional[Sequence[str]] = None) -> dict:
    from .training.allocator import reuse_freed_memory
    from .training.run import run_training

    from .recipes import expand_recipe_argv

    parser = build_train_parser()
    args = parser.parse_args(expand_recipe_argv(argv or [], parser))
    if args.dataset != "synthetic" and not args.data_path:
        build_train_parser().error(f"--dataset {args.dataset} needs --data-path")
    if args.time_budget_minutes and args.resume_from_checkpoint:
        build_train_parser().error("--time-budget-minutes cannot be combined with --resume-from-checkpoint "
                                   "(the schedule is a point on the interrupted process's clock)")
    # keep freed activation memory mapped: re-faulting it every step cost DIN ~40% of a step
    reuse_freed_memory()
    return run_training(run_config_from_args(args))


def recommend_main(argv: Optional[Sequence[str]] = None) -> list:
    parser = argparse.ArgumentParser(
        prog="hf-recsys recommend",
        description="Top-k raw item IDs for a raw history, from a saved model folder or Hub repo.",
    )
    parser.add_argument("--model-dir", required=True, help="folder or Hub repo id written by `hf-recsys train`")
    parser.add_argument("--history", nargs="+", required=True, help="raw item IDs, oldest first")
    parser.add_argument("--user", default=None, help="raw user ID (for models that use the profile)")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--include-seen", action="store_true", help="allow items already in the history")
    parser.add_argument("--revision", default=None, help="with a Hub repo id: the branch, tag or commit (default: main)")
    args = parser.parse_args(argv)

    from transformers import AutoModel

    import hf_recsys  # noqa: F401  (registers the model types)

    from .hub import resolve_model_source

    model = AutoModel.from_pretrained(resolve_model_source(args.model_dir, "--model-dir", args.revision))
    recommendations = model.recommend(
        [args.history], k=args.k, exclude_seen=not args.include_seen,
        users=[args.user] if args.user else None, return_scores=True,
    )[0]
    print(json.dumps([{"item_id": i, "score": round(s, 4)} for i, s in recommendations], indent=1))
    return recommendations


def export_main(argv: Optional[Sequence[str]] = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="hf-recsys export",
        description="Export a saved model's scoring computation for serving: ONNX (onnxruntime) or a "
        "torch.export program (.pt2). CTR models: collator tensors -> logits [batch]; next-item models: "
        "history -> scores [batch, num_items] (or the top K items).",
    )
    parser.add_argument("--model-dir", required=True, help="folder or Hub repo id written by `hf-recsys train`")
    parser.add_argument("--output", required=True, help="file to write (.onnx or .pt2)")
    parser.add_argument("--format", choices=("onnx", "torch"), default="onnx")
    parser.add_argument("--top-k", type=int, default=None, help="next-item models: return the top K items and scores")
    parser.add_argument("--include-seen", action="store_true", help="with --top-k: allow items already in the history")
    parser.add_argument("--verify", action="store_true", help="run the ONNX file in onnxruntime against PyTorch")
    parser.add_argument("--revision", default=None, help="with a Hub repo id: the branch, tag or commit (default: main)")
    args = parser.parse_args(argv)

    import hf_recsys  # noqa: F401  (registers the model types)
    from .export import export_onnx, export_program, load_model, program_input_names, verify_onnx

    from .hub import resolve_model_source

    model = load_model(resolve_model_source(args.model_dir, "--model-dir", args.revision))
    options = dict(top_k=args.top_k, exclude_seen=not args.include_seen)
    report: dict = {"path": args.output, "format": args.format}
    if args.format == "torch":
        report["inputs"] = program_input_names(export_program(model, args.output, **options))
    else:
        export_onnx(model, args.output, **options)
        if args.verify:
            report.update(verify_onnx(args.output, model, **options))
    print(json.dumps(report, indent=1))
    return report


def zoo_main(argv: Optional[Sequence[str]] = None) -> dict:
    """``hf-recsys zoo build``: train a set of recipes into Hub-ready folders ``OUTPUT_ROOT/<recipe>``."""
    from .recipes import available_recipes
    from .zoo import plan_zoo, write_zoo_summary

    parser = argparse.ArgumentParser(
        prog="hf-recsys zoo",
        description="Train recipes into Hub-ready folders named after them; any further flag is a flag of "
        "`hf-recsys train` added to every run (e.g. --max-steps 100 for a smoke test).",
    )
    parser.add_argument("action", choices=("build", "list"))
    parser.add_argument("--recipes", nargs="+", default=None, metavar="NAME",
                        help=f"recipes to build (default: all: {', '.join(available_recipes())})")
    parser.add_argument("--recipe-dir", default=None, help="read recipes from this folder instead of the package's")
    parser.add_argument("--output-root", default="zoo", help="each recipe's folder is OUTPUT_ROOT/<recipe>")
    parser.add_argument("--data-root", default=None,
                        help="folder holding the recipes' data (a recipe's data_path is read under it)")
    parser.add_argument("--push-to-hub", action="store_true", help="upload each folder to ORG/<recipe>")
    parser.add_argument("--hub-org", default=None, help="the Hub organisation or user the repos go to")
    args, extra = parser.parse_known_args(argv)
    if args.action == "list":
        from .recipes import load_recipe

        listing = {name: load_recipe(name, args.recipe_dir).description for name in available_recipes(args.recipe_dir)}
        for name, description in listing.items():
            print(f"{name}: {description}")
        return listing
    try:
        plan = plan_zoo(args.recipes, args.output_root, args.data_root, args.hub_org, args.push_to_hub, extra,
                        args.recipe_dir)
    except ValueError as error:
        parser.error(str(error))
    train_parser = build_train_parser()
    for entry in plan:
        entry.recipe.check_flags(train_parser)
        train_parser.parse_args(entry.argv)  # every run's flags are checked before the first one trains
    results = {}
    for entry in plan:
        print(f"[hf-recsys zoo] {entry.recipe.name} -> {entry.output_dir}", file=sys.stderr)
        metrics = train_main(entry.argv)
        results[entry.recipe.name] = {"output_dir": entry.output_dir, "repo_id": entry.repo_id,
                                      "argv": entry.argv, "metrics": metrics}
    write_zoo_summary(args.output_root, results)
    return results


COMMANDS = {"train": train_main, "recommend": recommend_main, "export": export_main, "zoo": zoo_main}


def main(argv: Optional[Sequence[str]] = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print(__doc__.strip())
        print("\nRun `hf-recsys COMMAND --help` for the options of a command.")
        sys.exit(0 if not argv or argv[0] in ("-h", "--help") else 2)
    run_command(argv[0], argv[1:])


def run_command(command: str, argv: Optional[Sequence[str]] = None):
    """Run ``hf-recsys COMMAND`` (``scripts/train.py`` is ``run_command("train")``). Bad input
    (a data file, column or model folder the message names) exits with status 2 and one line
    on stderr instead of a traceback."""
    from .data.log import DataFormatError
    from .hub import ModelSourceError
    from .recipes import RecipeError

    try:
        return COMMANDS[command](list(sys.argv[1:] if argv is None else argv))
    except (DataFormatError, ModelSourceError, RecipeError) as error:
        print(f"hf-recsys {command}: error: {error}", file=sys.stderr)
        sys.exit(2)
    finally:
        close_process_group()


def close_process_group() -> None:
    """Ends the torchrun / ``accelerate launch`` process group (Trainer leaves it open): gloo's
    threads torn down at interpreter exit instead once aborted a rank that had finished."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
