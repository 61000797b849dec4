"""``hf-recsys``: the command line.

    hf-recsys train [--model bst] [--data-path FILE|FOLDER] [--output-dir DIR] ...
    hf-recsys recommend --model-dir DIR --history ITEM ITEM ... [--k 10]
    hf-recsys export --model-dir DIR --output model.onnx [--format onnx|torch] [--top-k K] [--verify]
    hf-recsys push DIR --repo-id [ORG/]NAME [--revision BRANCH] [--private]
    hf-recsys zoo list                       # the recipes, with their expected results
    hf-recsys zoo build [--recipes NAME ...] [--output-root DIR] [--push-to-hub --hub-org ORG]
    hf-recsys zoo reproduce --recipes NAME ... [--seeds 0 1 2] [--write-expected]
    hf-recsys tune --recipe NAME|PATH [--trials N] [--timeout-minutes M] [--write-recipe PATH] ...
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings
from dataclasses import dataclass, field
from typing import ClassVar, Iterator, Optional, Sequence

from .dataclass_parser import DataclassArgumentParser, OneLineErrorParser

#: what an interrupted command prints (once) before exiting with status 130
INTERRUPTED = "interrupted"


# ---------------------------------------------------------------------------------------------
# hf-recsys train
# ---------------------------------------------------------------------------------------------

TRAIN_DESCRIPTION = """\
Train a recommender with transformers.Trainer and save a Hub-ready folder (model.safetensors,
config.json, recsys_processor.json, README.md model card, eval_results.json).

Every option below is checked before any work starts: a value out of range is a usage error
naming the option (exit status 2). Bad data exits with status 2 and one line naming the file;
Ctrl-C exits with status 130 and leaves the output folder as it was."""


def build_train_parser() -> DataclassArgumentParser:
    """The ``hf-recsys train`` parser, generated from :class:`~hf_recsys.training.arguments.RunConfig`."""
    from .training.arguments import RunConfig

    parser = DataclassArgumentParser(RunConfig, prog="hf-recsys train", description=TRAIN_DESCRIPTION)
    parser.add_argument("--recipe", default=argparse.SUPPRESS, metavar="NAME|PATH",
                        help="start from a recipe (hf_recsys/recipes/NAME.yaml, or a YAML file): its settings come "
                        "first, so every other option given here overrides the recipe's value; "
                        "`hf-recsys zoo list` names the recipes")
    return parser


def run_config_from_args(args: argparse.Namespace, parser: Optional[DataclassArgumentParser] = None):
    """The :class:`RunConfig` of parsed ``hf-recsys train`` arguments (a usage error when the
    options contradict each other). Without ``--model``, an ``--init-from`` model keeps its type;
    with it, the two must agree."""
    parser = parser or build_train_parser()
    given = parser.given(args)
    if given.get("init_from"):
        from .hub import resolve_model_source
        from .training.finetune import published_model

        source = resolve_model_source(given["init_from"], "--init-from", given.get("init_revision"))
        try:
            published, config = published_model(source)
        except ValueError as error:  # a model type hf_recsys does not know
            parser.error(f"argument --init-from: {error}")
        if given.setdefault("model", published) != published:
            parser.error(f"argument --model: {given['model']}, but --init-from {given['init_from']} holds a "
                         f"{published} model; pass --model {published} or leave --model out")
        window = getattr(config, "max_history", None)
        if given.get("max_history") is not None and window is not None and given["max_history"] != window:
            # the model's position embeddings and the processor are sized for its window
            parser.error(f"argument --max-history: {given['max_history']}, but --init-from {given['init_from']} was "
                         f"trained with history {window}, which fine-tuning keeps; leave --max-history out")
    return parser.build(given)


def check_run_before_work(run, parser: argparse.ArgumentParser) -> None:
    """The checks of ``hf-recsys train`` that look at the disk: the output folder's policy and
    the checkpoint to resume from; a failure is a usage error."""
    from .training.output_dir import check_output_dir
    from .training.run import check_gradient_checkpointing, check_validation_options, resolve_checkpoint, trains_on_cpu
    from .training.tasks import task_of_model
    from .training.time_budget import check_single_process

    if run.fp16 and trains_on_cpu(run):
        parser.error("--fp16 needs a CUDA GPU" + (" (and --use-cpu is given)" if run.use_cpu else "")
                     + "; use --bf16 for mixed precision on the CPU")
    try:
        check_output_dir(run.output_dir, run.overwrite_output_dir, bool(run.resume_from_checkpoint))
        resolve_checkpoint(run)
        check_validation_options(run, task_of_model(run.model))
        check_gradient_checkpointing(run)
        if run.time_budget_minutes:
            check_single_process(int(os.environ.get("WORLD_SIZE", "1")))  # set by torchrun / accelerate launch
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))


def log_format(path: str) -> Optional[str]:
    """The ``--dataset`` the log at ``path`` reads as, or None when the path does not say."""
    from .training.arguments import infer_dataset

    try:
        return infer_dataset(path)
    except ValueError:  # nothing (or more than one thing) about its format
        return None


def train_main(argv: Optional[Sequence[str]] = None, recipe=None) -> dict:
    """``hf-recsys train``; ``recipe``: the :class:`~hf_recsys.recipes.Recipe` whose flags ``argv``
    already holds (zoo runs), named on the card as ``--recipe`` would be."""
    from .training.allocator import reuse_freed_memory
    from .training.output_dir import clear_previous_checkpoints
    from .training.run import run_training

    from .recipes import expand_recipe_argv, given_options, parser_flags, recipe_of

    parser = build_train_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    recipe = recipe_of(argv) or recipe
    expanded = expand_recipe_argv(argv, parser, recipe, log_format)
    if recipe:  # a usage error about an option the recipe set names the recipe
        typed = {token.split("=", 1)[0] for token in argv if token.startswith("--")}
        named = given_options(argv, "--recipe")[0].recipe or recipe.name  # a recipe file by its path
        parser.option_origins = {token: f"recipe {named}" for token in recipe.argv(parser_flags(parser))
                                 if token.startswith("--") and token not in typed}
    run = run_config_from_args(parser.parse_args(expanded), parser)
    run.recipe = recipe.name if recipe else None
    check_run_before_work(run, parser)
    if run.overwrite_output_dir and not run.resume_from_checkpoint:
        clear_previous_checkpoints(run.output_dir)
    # steps reuse freed activation memory instead of re-faulting it (hf_recsys.training.allocator)
    reuse_freed_memory()
    with quiet(run.disable_tqdm):
        try:
            metrics = run_training(run)
        except UnicodeDecodeError as error:  # a reader that met bytes it cannot decode
            from .data.log import DataFormatError

            raise DataFormatError(f"{run.data_path or run.dataset}: cannot be read as {error.encoding} text (byte "
                                  f"{error.start}: {error.reason}); is it a text log?") from None
    line = recipe.compare_with_expected(metrics) if recipe else None
    # flags that change what the recipe trains make its expected spread no yardstick
    changing = [flag for flag in dict.fromkeys(t.split("=", 1)[0] for t in argv if t.startswith("--"))
                if flag not in same_recipe_run(parser) and flag in parser_flags(parser)] if recipe else []
    if line and changing:
        line = (f"not compared with recipe {recipe.name}'s expected {recipe.expected['metric']}: this run sets "
                f"{', '.join(changing)} over the recipe")
    if line:
        print(f"[hf-recsys] {line}")
    return metrics


def same_recipe_run(parser: DataclassArgumentParser) -> set[str]:
    """The flags that leave a recipe's run as it is: those of the options a recorded command
    leaves out (where the model goes, how the run is shown, the Hub), the recipe and the log's
    place and format, and the seed (the expected spread is over seeds)."""
    from .training.run import COMMAND_LEAVES_OUT

    return {parser.flag(name) for name in COMMAND_LEAVES_OUT} | {"--recipe", "--data-path", "--dataset", "--seed"}


# ---------------------------------------------------------------------------------------------
# hf-recsys recommend
# ---------------------------------------------------------------------------------------------


@dataclass
class RecommendArguments:
    """The options of ``hf-recsys recommend``."""

    argument_group: ClassVar[str] = "options"

    model_dir: str = field(metadata={
        "help": "folder or Hub repo id written by `hf-recsys train`", "metavar": "DIR|ORG/NAME"})
    history: list[str] = field(metadata={
        "help": "raw item IDs, oldest first; IDs the model does not know are left out (and named on stderr)",
        "metavar": "ITEM"})
    user: Optional[str] = field(default=None, metadata={
        "help": "raw user ID, for models with a user input (profile or ID embedding); an ID the model does not "
                "know is an error (leave --user out for an anonymous user). Models without a user input ignore it"})
    k: int = field(default=10, metadata={"help": "how many items to return", "ge": 1})
    include_seen: bool = field(default=False, metadata={"help": "allow items already in the history"})
    fallback: str = field(default="none", metadata={
        "help": "when no --history item is known to the model: 'none' is an error; 'popularity' returns the most "
                "frequent items of the model's training log instead (scores null)", "choices": ("none", "popularity")})
    revision: Optional[str] = field(default=None, metadata={
        "help": "with a Hub repo id: the branch, tag or commit (default: main)", "metavar": "REV"})
    no_progress: bool = field(default=False, metadata={"help": "no progress bars while the model loads"})


def build_recommend_parser() -> DataclassArgumentParser:
    return DataclassArgumentParser(
        RecommendArguments, prog="hf-recsys recommend",
        description="Top-k raw item IDs for a raw history, from a saved model folder or Hub repo, printed as JSON "
                    "([{\"item_id\": ..., \"score\": ...}], non-ASCII IDs as they are).")


def model_uses_users(model, processor) -> bool:
    """Whether ``model`` reads a user input: a user ID embedding or user profile features."""
    import inspect

    config = model.config
    if hasattr(config, "user_field_names"):  # feature-field CTR models
        return bool(getattr(config, "use_user_id", False) or config.user_field_names)
    if hasattr(config, "use_user_embedding"):
        return bool(config.use_user_embedding)
    parameters = inspect.signature(model.forward).parameters
    return "user_features" in parameters and processor is not None and bool(processor.user_feature_vocabs)


def _load_processor(model, source: str):
    """The folder's processor; required, except for P5 (its item index and tokenizer read IDs)."""
    from .hub import ModelSourceError, load_processor

    try:
        return load_processor(source)
    except ModelSourceError:
        if hasattr(model, "generate_items"):
            return None
        raise


def _known_items(model, source: str, processor) -> list[str]:
    """The raw item IDs ``model`` can read in a history (P5: those of its item index)."""
    if hasattr(model, "generate_items"):
        from transformers.utils import cached_file

        from .models.modeling_p5 import ITEM_INDEX_FILE

        with open(cached_file(str(source), ITEM_INDEX_FILE), encoding="utf-8") as f:
            return [str(i) for i in json.load(f)["items"]]
    return list(processor.item_vocab.tokens) if processor is not None else []


def recommend_main(argv: Optional[Sequence[str]] = None) -> list:
    parser = build_recommend_parser()
    args = parser.parse_dataclass(argv)

    import hf_recsys  # noqa: F401  (registers the model types)

    from .hub import load_model, resolve_model_source

    with quiet(args.no_progress):
        source = resolve_model_source(args.model_dir, "--model-dir", args.revision)
        model = load_model(source)
    processor = _load_processor(model, source)
    known_items = set(_known_items(model, source, processor))
    unknown = [i for i in args.history if i not in known_items]
    users = None
    if args.user is not None:
        if not model_uses_users(model, processor):
            print(f"hf-recsys recommend: note: this model has no user input; --user {args.user} is ignored",
                  file=sys.stderr)
        elif processor is None or args.user not in set(processor.user_vocab.tokens):
            parser.error(f"argument --user: {args.user!r} is not a user the model knows; leave --user out to "
                         f"recommend for an anonymous user")
        else:
            users = [args.user]
    if len(unknown) == len(args.history):
        if args.fallback != "popularity":
            parser.error(f"argument --history: no item of the history is known to the model ({_listed(unknown)}); "
                         f"pass --fallback popularity to get its most frequent items instead")
        if processor is None:
            parser.error("argument --fallback: this model folder has no recsys_processor.json to rank items by")
        popular = processor.most_frequent_items(args.k, exclude=() if args.include_seen else args.history)
        print(f"hf-recsys recommend: note: no item of the history is known to the model; these are its "
              f"{len(popular)} most frequent training items (--fallback popularity)", file=sys.stderr)
        recommendations = [(i, None) for i in popular]
    else:
        if unknown:
            print(f"hf-recsys recommend: note: {len(unknown)} item(s) of the history are not known to the model "
                  f"and are left out: {_listed(unknown)}", file=sys.stderr)
        known_history = [i for i in args.history if i in known_items]
        recommendations = model.recommend([known_history], k=args.k, exclude_seen=not args.include_seen,
                                          users=users, return_scores=True)[0]
    if len(recommendations) < args.k:
        print(f"hf-recsys recommend: note: only {len(recommendations)} item(s) to recommend (--k {args.k}): the "
              f"model knows {len(known_items)} items" + ("" if args.include_seen else ", less those of the history"),
              file=sys.stderr)
    rows = [json.dumps({"item_id": i, "score": None if s is None else round(s, 4)}, ensure_ascii=False)
            for i, s in recommendations]
    print("[\n" + ",\n".join(f" {row}" for row in rows) + "\n]")  # JSON, one item per line
    return recommendations


def _listed(values: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


# ---------------------------------------------------------------------------------------------
# hf-recsys export
# ---------------------------------------------------------------------------------------------


def export_main(argv: Optional[Sequence[str]] = None) -> dict:
    parser = OneLineErrorParser(
        prog="hf-recsys export",
        description="Export a saved model's scoring computation for serving: ONNX (onnxruntime) or a "
        "torch.export program (.pt2). CTR models: collator tensors -> logits [batch]; next-item models: "
        "history -> scores [batch, num_items] (or the top K items). P5 is not exported.",
    )
    parser.add_argument("--model-dir", required=True, metavar="DIR|ORG/NAME",
                        help="folder or Hub repo id written by `hf-recsys train`")
    parser.add_argument("--output", default=None, help="file to write (.onnx or .pt2); required unless --example")
    parser.add_argument("--format", choices=("onnx", "torch"), default=None,
                        help="onnx (.onnx) or torch (torch.export, .pt2); default: from the --output suffix")
    parser.add_argument("--top-k", type=int, default=None, help="next-item models: return the top K items and scores "
                        "(a row with fewer candidates than K, once its history is excluded, ends with -inf scores: "
                        "those entries hold no recommendation)")
    parser.add_argument("--include-seen", action="store_true", help="with --top-k: allow items already in the history")
    parser.add_argument("--verify", action="store_true", help="run the ONNX file in onnxruntime against PyTorch")
    parser.add_argument("--example", action="store_true",
                        help="print the graph's inputs built from raw IDs (processor.encode_for_export) and exit "
                        "unless --output is given")
    parser.add_argument("--revision", default=None,
                        help="with a Hub repo id: the branch, tag or commit (default: main)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars while the model loads")
    args = parser.parse_args(argv)
    if args.output is None and not args.example:
        parser.error("--output is required (or --example to print the graph's inputs)")
    if args.top_k is not None and args.top_k < 1:
        parser.error(f"argument --top-k: must be >= 1, got {args.top_k}")
    if args.output is not None:
        suffix = os.path.splitext(args.output)[1].lower()
        implied = {".onnx": "onnx", ".pt2": "torch"}.get(suffix)
        if implied is None:
            parser.error(f"argument --output: {args.output}: name the file .onnx (ONNX) or .pt2 (torch.export)")
        if args.format is not None and args.format != implied:
            article = "an" if implied == "onnx" else "a"
            parser.error(f"argument --format: {args.format}, but --output {args.output} names {article} {implied} file")
        args.format = implied
    if args.verify and args.format != "onnx":
        parser.error("argument --verify: checks an ONNX file in onnxruntime; with --format torch there is none")
    if args.include_seen and args.top_k is None:
        parser.error("argument --include-seen: applies to the top K items of --top-k; without it the graph returns "
                     "every item's score")

    import hf_recsys  # noqa: F401  (registers the model types)
    from .export import (ExportNotSupportedError, example_from_raw_ids, export_onnx, export_program,
                         program_input_names, task_of, verify_onnx)

    from .hub import load_model, resolve_model_source

    source = resolve_model_source(args.model_dir, "--model-dir", args.revision)
    if args.top_k is not None:  # told from config.json, before the weights load
        from transformers import AutoConfig

        from .models import spec_of_model_type

        model_type = AutoConfig.from_pretrained(source).model_type
        if getattr(spec_of_model_type(model_type), "task", None) == "ctr":
            parser.error(f"argument --top-k: is for next-item models; {model_type} is a CTR model, which scores the "
                         "candidates it is given")
    with quiet(args.no_progress):
        model = load_model(source)
    try:
        task = task_of(model)
    except ExportNotSupportedError as error:
        parser.error(str(error))
    items = model.config.num_items - 2  # real items: padding and unknown are never returned
    if args.top_k is not None and task == "next_item" and args.top_k > items:
        print(f"hf-recsys export: note: --top-k {args.top_k} is more than the model's {items} items; the graph "
              f"returns {items}", file=sys.stderr)
        args.top_k = items
    report: dict = {}
    if args.example:
        example = example_from_raw_ids(model)
        inputs = example["inputs"]
        report["example_inputs"] = {name: value.tolist() for name, value in inputs.items()}
        report["example_from"] = (f"processor.encode_for_export({example['histories']!r}, users=None, "
                                  + (f"targets={example['targets']!r}, " if example["targets"] else "")
                                  + f"input_names={list(inputs)}, max_history={model.config.max_history})"
                                  + " (users=None: anonymous)")
        if args.output is None:  # one line per input: JSON, readable
            rows = ",\n".join(f"  {json.dumps(name)}: {json.dumps(value)}" for name, value in report["example_inputs"].items())
            print(f'{{"example_inputs": {{\n{rows}\n}},\n "example_from": {json.dumps(report["example_from"])}}}')
            return report
    options = dict(top_k=args.top_k, exclude_seen=not args.include_seen)
    report.update({"path": args.output, "format": args.format})
    with quiet(args.no_progress):
        if args.format == "torch":
            report["inputs"] = program_input_names(export_program(model, args.output, **options))
        else:
            export_onnx(model, args.output, **options)
            if args.verify:
                report.update(verify_onnx(args.output, model, **options))
    print(json.dumps(report, indent=1, ensure_ascii=False))
    if args.verify:
        tolerance = 1e-3 * max(1.0, report.get("max_abs_score", 0.0))
        failed = ([] if report.get("indices_equal", True) else ["the top-k items differ from PyTorch's"]) + (
            [f"the scores differ by up to {report['max_abs_diff']:.3g}"] if report["max_abs_diff"] > tolerance else [])
        if failed:
            print(f"hf-recsys export: error: --verify: {'; '.join(failed)} ({args.output} is written; do not serve "
                  "it before finding why)", file=sys.stderr)
            sys.exit(1)
    return report


def push_main(argv: Optional[Sequence[str]] = None) -> str:
    """``hf-recsys push DIR --repo-id [ORG/]NAME [--revision BRANCH] [--private]``."""
    import re

    parser = OneLineErrorParser(
        prog="hf-recsys push",
        description="Upload a saved model folder (written by `hf-recsys train`, `trainer.save_model` + "
        "processor, or the fine-tuning example) to the Hub in one commit, with its model card regenerated "
        "for the repo id. The Hub is the one HF_ENDPOINT names (default huggingface.co); the token is "
        "--token, else HF_TOKEN, else the saved login.",
    )
    parser.add_argument("folder", help="the saved model folder (holds config.json)")
    parser.add_argument("--repo-id", required=True, metavar="[ORG/]NAME",
                        help="the model repo, created if missing; a NAME alone is a repo of the token's user")
    parser.add_argument("--revision", default=None, help="branch to push to (created from main if missing)")
    parser.add_argument("--private", action="store_true", help="create the repo private")
    parser.add_argument("--token", default=None, help="Hub token (default: HF_TOKEN or the saved login)")
    parser.add_argument("--commit-message", default="Upload hf_recsys model", help="the commit's message (default: %(default)s)")
    parser.add_argument("--keep-card", action="store_true", help="upload README.md as it is instead of regenerating it")
    parser.add_argument("--no-progress", action="store_true", help="no upload progress bars")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"(?:[A-Za-z0-9][\w.-]*/)?[A-Za-z0-9][\w.-]*", args.repo_id):
        parser.error(f"--repo-id {args.repo_id!r}: expected NAME or ORG/NAME")
    folder = os.path.expanduser(args.folder)
    if not os.path.isdir(folder):
        parser.error(f"folder {args.folder}: no such folder")
    if not os.path.isfile(os.path.join(folder, "config.json")):
        parser.error(f"folder {args.folder}: has no config.json (not a saved model folder)")
    from .hub import push_folder_to_hub, unpublishable

    problem = unpublishable(folder)
    if problem:
        parser.error(f"folder {args.folder}: {problem}")

    with quiet(args.no_progress):
        url = push_folder_to_hub(folder, args.repo_id, token=args.token, private=args.private or None,
                                 revision=args.revision, commit_message=args.commit_message,
                                 regenerate_card=not args.keep_card)
    repo_id = url.repo_url.repo_id if hasattr(url, "repo_url") else args.repo_id
    print(f"[hf_recsys] pushed {args.folder} to {repo_id}" + (f"@{args.revision}" if args.revision else "")
          + f": {url}")
    return url


# ---------------------------------------------------------------------------------------------
# quiet output, dispatch
# ---------------------------------------------------------------------------------------------

#: third-party warnings that tell a command-line user nothing they can act on (category, message regex)
QUIET_WARNINGS = (
    # torch's DataLoader when Trainer asks for pinned memory on a machine without an accelerator
    (UserWarning, r"'pin_memory' argument is set as true but no accelerator is found"),
)


@contextlib.contextmanager
def quiet(no_progress: Optional[bool]) -> Iterator[None]:
    """Within the block: no progress bar of datasets, transformers (loading and writing weights)
    or huggingface_hub when ``no_progress``, and never the third-party warnings in
    :data:`QUIET_WARNINGS` (the ONNX exporter quiets its own: :func:`~hf_recsys.export.quiet_onnx_exporter`).
    Restores the previous state on exit."""
    import datasets
    import huggingface_hub.utils as hub_utils
    from transformers.utils import logging as transformers_logging

    was = (datasets.is_progress_bar_enabled(), transformers_logging.is_progress_bar_enabled(),
           hub_utils.are_progress_bars_disabled())
    if no_progress:
        datasets.disable_progress_bars()
        transformers_logging.disable_progress_bar()
        hub_utils.disable_progress_bars()
    try:
        with warnings.catch_warnings():
            for category, message in QUIET_WARNINGS:
                warnings.filterwarnings("ignore", message=message, category=category)
            yield
    finally:
        if no_progress:
            (datasets.enable_progress_bars if was[0] else datasets.disable_progress_bars)()
            (transformers_logging.enable_progress_bar if was[1] else transformers_logging.disable_progress_bar)()
            (hub_utils.disable_progress_bars if was[2] else hub_utils.enable_progress_bars)()


@contextlib.contextmanager
def one_line_warnings(command: str) -> Iterator[None]:
    """Warnings shown as ``hf-recsys COMMAND: warning: MESSAGE`` (no source line) within the block:
    those of ``warnings.warn`` and those hf_recsys logs (``logging``, level WARNING and above)."""
    import logging

    previous = warnings.formatwarning
    warnings.formatwarning = lambda message, category, *args, **kwargs: f"hf-recsys {command}: warning: {message}\n"
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter(f"hf-recsys {command}: warning: %(message)s"))
    package_logger = logging.getLogger("hf_recsys")
    package_logger.addHandler(handler)
    try:
        yield
    finally:
        warnings.formatwarning = previous
        package_logger.removeHandler(handler)


def zoo_main(argv: Optional[Sequence[str]] = None) -> dict:
    """``hf-recsys zoo build``: train a set of recipes into Hub-ready folders ``OUTPUT_ROOT/<recipe>``;
    ``hf-recsys zoo reproduce``: train recipes over seeds and state their test metrics' spread."""
    from .recipes import RecipeError, available_recipes, parser_flags, recipe_path
    from .training.arguments import non_negative_integer
    from .zoo import finished_run_differences, plan_seed_runs, plan_zoo, run_differences, write_zoo_summary

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = OneLineErrorParser(
        prog="hf-recsys zoo",
        description="build: train recipes into Hub-ready folders named after them. reproduce: train recipes once "
        "per --seeds into OUTPUT_ROOT/<recipe>/seed-<S> and write the test metrics' mean and standard deviation "
        "with the commands (finished seeds are read, interrupted ones resume: rerun the same command to continue). "
        "list: name the recipes. Any further flag is a flag of `hf-recsys train` added to every run (e.g. "
        "--max-steps 100 --eval-steps 50 for a smoke test).",
    )
    parser.add_argument("action", choices=("build", "reproduce", "list"))
    parser.add_argument("--recipes", nargs="+", default=None, metavar="NAME",
                        help=f"recipes to train or list (build's and list's default: all: {', '.join(available_recipes())})")
    parser.add_argument("--recipe-dir", default=None, help="read recipes from this folder instead of the package's")
    parser.add_argument("--output-root", default=None, help="each recipe's folder is OUTPUT_ROOT/<recipe> (default: zoo)")
    parser.add_argument("--data-root", default=None,
                        help="folder holding the recipes' data (a recipe's data_path is read under it)")
    parser.add_argument("--push-to-hub", action="store_true", help="build: upload each folder to ORG/<recipe>")
    parser.add_argument("--hub-org", default=None, help="build: the Hub organisation or user the repos go to")
    parser.add_argument("--seeds", nargs="+", type=non_negative_integer, default=None, metavar="S",
                        help="reproduce: the seeds each recipe is trained with (default: 0 1 2)")
    parser.add_argument("--results", default=None, metavar="PATH",
                        help="reproduce: write the summary here (default: OUTPUT_ROOT/reproduce.json)")
    parser.add_argument("--write-expected", action="store_true",
                        help="reproduce: write each recipe's expected section (test metric mean, std, seeds, command) "
                        "into its file once all its seeds have finished")
    parser.add_argument("--report-only", action="store_true",
                        help="reproduce: train nothing; summarise the seeds that have finished and name the others")
    args, extra = parser.parse_known_args(argv)
    for name in args.recipes or []:
        try:
            recipe_path(name, args.recipe_dir)
        except RecipeError as error:
            parser.error(f"argument --recipes: {str(error).removeprefix('recipe: ')}")
    for flag, value, actions in (("--seeds", args.seeds, ("reproduce",)), ("--results", args.results, ("reproduce",)),
                                 ("--write-expected", args.write_expected, ("reproduce",)),
                                 ("--report-only", args.report_only, ("reproduce",)),
                                 ("--push-to-hub", args.push_to_hub, ("build",)), ("--hub-org", args.hub_org, ("build",)),
                                 ("--output-root", args.output_root, ("build", "reproduce")),
                                 ("--data-root", args.data_root, ("build", "reproduce"))):
        if value and args.action not in actions:
            parser.error(f"{flag} is an option of {' and '.join(f'`zoo {a}`' for a in actions)}, not of "
                         f"`zoo {args.action}`")
    if args.hub_org and not args.push_to_hub:
        parser.error("argument --hub-org: names where --push-to-hub uploads; without --push-to-hub nothing is pushed")
    if args.action == "list" and extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)} (`zoo list` trains nothing)")
    if args.action == "list":
        from .recipes import load_recipe

        recipes = {name: load_recipe(name, args.recipe_dir) for name in args.recipes or available_recipes(args.recipe_dir)}
        for name, recipe in recipes.items():
            expected = recipe.expected
            reproduced = (f"expected test {expected['metric']} {float(expected['mean']):.4f} ± "
                          f"{float(expected['std']):.4f} over {len(expected.get('seeds', []))} seeds"
                          if expected else "not reproduced over seeds yet")
            print(f"{name}: {recipe.description} [{reproduced}]")
        return {name: recipe.description for name, recipe in recipes.items()}
    reproducing = args.action == "reproduce"
    args.output_root = args.output_root or "zoo"
    if reproducing and not args.recipes:
        if not args.recipe_dir:  # every shipped recipe over seeds is days of training: name them
            parser.error("reproduce needs --recipes NAME ... (each recipe trains once per seed), or --recipe-dir DIR "
                         "for every recipe there")
        args.recipes = available_recipes(args.recipe_dir)
    seeds = args.seeds or [0, 1, 2]
    if len(set(seeds)) != len(seeds):
        parser.error(f"argument --seeds: a seed is given twice ({' '.join(map(str, seeds))})")
    train_parser = build_train_parser()
    try:
        if reproducing:
            runs = plan_seed_runs(args.recipes, seeds, args.output_root, args.data_root, extra, args.recipe_dir,
                                  parser_flags(train_parser))
        else:
            runs = plan_zoo(args.recipes, args.output_root, args.data_root, args.hub_org, args.push_to_hub, extra,
                            args.recipe_dir, parser_flags(train_parser))
    except ValueError as error:
        parser.error(str(error))
    planned_runs = []
    for entry in runs:
        entry.recipe.check_flags(train_parser)
        # every run's options are checked before the first one trains
        planned = run_config_from_args(train_parser.parse_args(entry.argv), train_parser)
        planned_runs.append(planned)
        name = f"{entry.recipe.name} seed {entry.seed}" if reproducing else entry.recipe.name
        if planned.data_path and not os.path.exists(planned.data_path):
            parser.error(f"{name}: --data-path {planned.data_path}: no such file or folder (a recipe's data_path is "
                         "read under --data-root)")
        if entry.finished:
            differences = finished_run_differences(entry, planned)
            if differences:
                parser.error(f"{name}: {entry.output_dir} holds a finished run trained with other options: "
                             f"{'; '.join(differences[:4])}; give another --output-root, or remove that folder to "
                             "train it again")
    if reproducing and args.write_expected and extra:
        bare = plan_seed_runs(args.recipes, seeds[:1], args.output_root, args.data_root, (), args.recipe_dir,
                              parser_flags(train_parser))
        for plain, entry, planned in zip(bare, runs[::len(seeds)], planned_runs[::len(seeds)]):
            own = run_config_from_args(train_parser.parse_args(plain.argv), train_parser).to_dict()
            changed = run_differences(own, planned)
            if changed:
                parser.error(f"--write-expected states what recipe {entry.recipe.name} gives as it is; the extra "
                             f"flags change its run ({'; '.join(changed[:3])}): put them into {entry.recipe.path}, "
                             "or drop --write-expected")
    if reproducing:
        return reproduce_seeds(runs, args, argv, extra)
    results = {}
    for entry in runs:
        if entry.finished:  # a rerun of the same command goes on where the last one stopped
            print(f"[hf-recsys zoo] {entry.recipe.name}: finished, read from {entry.results_path}", file=sys.stderr)
            metrics = entry.metrics()
            if args.push_to_hub:
                from .hub import push_folder_to_hub

                push_folder_to_hub(entry.output_dir, entry.repo_id)
        else:
            print(f"[hf-recsys zoo] {entry.recipe.name} -> {entry.output_dir}", file=sys.stderr)
            metrics = train_main(entry.train_argv, entry.recipe)
        results[entry.recipe.name] = {"output_dir": entry.output_dir, "repo_id": entry.repo_id,
                                      "argv": entry.argv, "metrics": metrics}
        write_zoo_summary(args.output_root, results)  # what has finished so far, after every recipe
    return results


def reproducing_command(recipe: str, runs, args: argparse.Namespace, train_flags: Sequence[str]) -> str:
    """The command that trains one recipe's seeds as ``runs`` were trained: without the flags
    that only read or record (``--report-only``, ``--write-expected``, ``--results``)."""
    import shlex

    # the recipe as it was named: a recipe file given by its path is found again by that path
    typed = next((entry for entry in args.recipes or () if os.path.splitext(os.path.basename(entry))[0] == recipe), recipe)
    words = ["hf-recsys", "zoo", "reproduce", "--recipes", typed, "--seeds", *(str(run.seed) for run in runs)]
    for flag, value in (("--recipe-dir", args.recipe_dir), ("--data-root", args.data_root),
                        ("--output-root", args.output_root)):
        if value is not None:
            words += [flag, value]
    return shlex.join(words + list(train_flags))


def reproduce_seeds(runs, args: argparse.Namespace, argv: Sequence[str], train_flags: Sequence[str]) -> dict:
    """Train the unfinished seeds of ``runs`` (none with ``--report-only``), then write and print
    each recipe's spread over its finished seeds."""
    import os
    import shlex

    from .benchmarks.suite import git_commit, machine_info
    from .files import write_text_atomically
    from .recipes import save_recipe
    from .zoo import expected_section, seed_summary

    for run in runs:
        if run.finished:
            print(f"[hf-recsys zoo] {run.recipe.name} seed {run.seed}: finished, read from {run.results_path}",
                  file=sys.stderr)
            continue
        if args.report_only:
            print(f"[hf-recsys zoo] {run.recipe.name} seed {run.seed}: not finished, left out", file=sys.stderr)
            continue
        print(f"[hf-recsys zoo] {run.recipe.name} seed {run.seed} -> {run.output_dir}", file=sys.stderr)
        train_main(run.train_argv, run.recipe)
    command = shlex.join(["hf-recsys", "zoo", *argv])
    summaries = {}
    for name in dict.fromkeys(run.recipe.name for run in runs):
        recipe_runs = [run for run in runs if run.recipe.name == name]
        summary = summaries[name] = seed_summary(recipe_runs[0].recipe, recipe_runs,
                                                 reproducing_command(name, recipe_runs, args, train_flags))
        missing = summary["missing_seeds"]
        if not summary["seeds"]:
            print(f"{name}: no seed has finished")
            continue
        if summary["mean"] is None:
            print(f"{name}: the runs report no test {summary['metric']}")
            continue
        spread = f" ± {summary['std']:.4f}" if len(summary["seeds"]) > 1 else ""
        unfinished = f"; not finished: {', '.join(map(str, missing))}" if missing else ""
        print(f"{name}: test {summary['metric']} {summary['mean']:.4f}{spread} "
              f"(seed{'s' if len(summary['seeds']) > 1 else ''} {', '.join(map(str, summary['seeds']))}{unfinished})")
        if args.write_expected:
            recipe = recipe_runs[0].recipe
            if missing:
                print(f"[hf-recsys zoo] expected not written into {recipe.path}: seed{'s' if len(missing) > 1 else ''} "
                      f"{', '.join(map(str, missing))} not finished", file=sys.stderr)
                continue
            recipe.expected = expected_section(summary)
            save_recipe(recipe, recipe.path)
            print(f"[hf-recsys zoo] wrote expected into {recipe.path}", file=sys.stderr)
    report = {"command": command, "commit": git_commit(), "machine": machine_info(), "recipes": summaries}
    path = args.results or os.path.join(args.output_root, "reproduce.json")
    if not any(summary["seeds"] for summary in summaries.values()):
        print(f"[hf-recsys zoo] no seed has finished: {path} not written", file=sys.stderr)
        return report
    write_text_atomically(path, json.dumps(report, indent=1, ensure_ascii=False))
    return report


# ---------------------------------------------------------------------------------------------
# hf-recsys tune
# ---------------------------------------------------------------------------------------------

def tune_main(argv: Optional[Sequence[str]] = None) -> dict:
    """``hf-recsys tune``: search a recipe's ``search.space`` on the validation split."""
    import copy
    import os

    from .recipes import RecipeError, expand_recipe_argv, load_recipe, save_recipe
    from .training.arguments import positive_integer, positive_number
    from .training.search import SearchSpaceError, check_space_values, parse_space, run_search, write_search

    parser = OneLineErrorParser(
        prog="hf-recsys tune",
        description="Search a recipe's hyperparameters on the validation split (Trainer.hyperparameter_search, "
        "optuna's seeded TPE sampler and median pruner); the test split is never read. The recipe's "
        "search.space names the options and model config fields (model.FIELD) to vary; any further flag is a "
        "flag of `hf-recsys train` and fixes that option for every trial. OUTPUT_DIR (default "
        "outputs/tune-RECIPE) gets search.json (every trial) and search.db (the optuna study: run the same "
        "command again to continue an interrupted search).",
    )
    parser.add_argument("--recipe", required=True, metavar="NAME|PATH",
                        help="the recipe whose search.space is searched (`hf-recsys zoo list` names the shipped ones)")
    parser.add_argument("--output-dir", default=None, metavar="DIR",
                        help="where search.json and search.db go (default: the recipe's output_dir, else "
                        "outputs/tune-RECIPE)")
    parser.add_argument("--trials", type=positive_integer, default=None,
                        help="trials in all, counting those of an interrupted search (default: the recipe's "
                        "search.trials, else 20)")
    parser.add_argument("--timeout-minutes", type=positive_number, default=None,
                        help="stop starting trials after M minutes (default: the recipe's search.timeout_minutes)")
    parser.add_argument("--write-recipe", default=None, metavar="PATH",
                        help="write the recipe with the best values found into this YAML file")
    args, typed_argv = parser.parse_known_args(argv)
    train_argv = [*(["--recipe", args.recipe] if args.recipe else []), *typed_argv,
                  *(["--output-dir", args.output_dir] if args.output_dir else [])]
    try:
        import optuna  # noqa: F401
    except ImportError:
        parser.error("hf-recsys tune needs optuna: pip install 'hf_recsys[tune]' (or pip install optuna)")
    recipe = load_recipe(args.recipe)
    space = recipe.search.get("space")
    if not space:
        parser.error(f"{recipe.path}: no search.space to search")
    try:
        dimensions = parse_space(space, f"{recipe.path}: search.space")
    except SearchSpaceError as error:
        parser.error(str(error))
    if args.write_recipe:  # checked now, not after hours of search
        folder = os.path.dirname(os.path.abspath(args.write_recipe))
        if os.path.isdir(args.write_recipe):
            parser.error(f"argument --write-recipe: {args.write_recipe} is a folder; give the path of a .yaml file")
        if not os.path.isdir(folder) and folder != os.path.abspath(args.output_dir or "."):  # tune makes --output-dir
            parser.error(f"argument --write-recipe: {args.write_recipe}: no folder {folder} to write it into")
        if os.path.isdir(folder) and not os.access(folder, os.W_OK):
            parser.error(f"argument --write-recipe: {args.write_recipe}: the folder {folder} is not writable")
    if not args.output_dir and "output_dir" not in recipe.train:
        train_argv = [*train_argv, "--output-dir", os.path.join("outputs", f"tune-{recipe.name}")]
    train_parser = build_train_parser()
    # the options typed here (not the recipe's): fixed for every trial, so none may be a searched one
    typed = train_parser.given(train_parser.parse_args(typed_argv))
    for dimension in dimensions:
        name = f"model.{dimension.field}" if dimension.is_model_field else dimension.field
        if dimension.field in (typed.get("model_overrides") or {} if dimension.is_model_field else typed):
            given = f"--set {dimension.field}" if dimension.is_model_field else train_parser.flag(dimension.field)
            parser.error(f"{given} is searched ({recipe.path}: search.space varies {name}); leave it out, or search "
                         f"a copy of the recipe whose space does not vary it")
    run = run_config_from_args(train_parser.parse_args(expand_recipe_argv(train_argv, train_parser, recipe, log_format)),
                               train_parser)
    try:
        check_space_values(dimensions, run, f"{recipe.path}: search.space")
    except SearchSpaceError as error:
        parser.error(str(error))
    n_trials = args.trials or recipe.search.get("trials", 20)
    if args.trials is None and (isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1):
        parser.error(f"{recipe.path}: search.trials: a whole number >= 1, got {n_trials!r}")
    timeout = args.timeout_minutes or recipe.search.get("timeout_minutes")
    with quiet(run.disable_tqdm):
        try:
            result = run_search(run, dimensions, n_trials, os.path.join(run.output_dir, "search.db"), timeout)
        except ValueError as error:
            parser.error(str(error))
    command = ["hf-recsys", "tune", *(argv if argv is not None else sys.argv[1:])]
    write_search(result, os.path.join(run.output_dir, "search.json"), command)
    finished = sum(t["state"] == "COMPLETE" for t in result.trials)
    print(f"[hf-recsys tune] {finished} finished trials of {len(result.trials)}; best validation {result.metric} "
          f"{result.best_value}: {result.best_params}")
    if args.write_recipe and result.best_params:
        tuned = copy.deepcopy(recipe)
        # the values were found with the options typed here fixed: the recipe keeps them too
        from .training.run import COMMAND_LEAVES_OUT

        for name, value in typed.items():
            if name == "model_overrides":
                tuned.model_config.update(value)
            elif name not in COMMAND_LEAVES_OUT:  # a switch typed (--no-eval-each-epoch) is written as on
                tuned.train[train_parser.flag(name)[2:].replace("-", "_")] = True if isinstance(value, bool) else value
        for name, value in result.best_params.items():
            if name.startswith("model."):
                tuned.model_config[name[len("model."):]] = value
            else:
                tuned.train[name] = value
        # measured with the recipe's former values: `hf-recsys zoo reproduce --write-expected` measures these
        tuned.expected = {}
        tuned.search = {**tuned.search, "result": {
            "metric": result.metric, "validation": result.best_value, "finished_trials": finished,
            "command": " ".join(command)}}
        try:
            save_recipe(tuned, args.write_recipe)
        except OSError as error:
            raise RecipeError(f"--write-recipe {args.write_recipe}: {error.strerror}") from None
        print(f"[hf-recsys tune] wrote {args.write_recipe}: the recipe with the best values and the options fixed "
              f"here; its expected result is left out until `hf-recsys zoo reproduce --write-expected` measures it")
    return result.to_dict()


#: one function per subcommand: ``hf-recsys NAME ARGS`` calls ``COMMANDS[NAME](ARGS)``
COMMANDS = {"train": train_main, "recommend": recommend_main, "export": export_main, "push": push_main, "zoo": zoo_main,
            "tune": tune_main}


def main(argv: Optional[Sequence[str]] = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage:\n" + __doc__.split("\n\n", 1)[1].split('"""')[0].rstrip())
        print("\nRun `hf-recsys COMMAND --help` for the options of a command; `hf-recsys --version` for the versions.")
        sys.exit(0)
    if argv[0] == "--version":
        import torch
        import transformers

        import hf_recsys
        print(f"hf-recsys {hf_recsys.__version__} (transformers {transformers.__version__}, torch {torch.__version__})")
        sys.exit(0)
    if argv[0] not in COMMANDS:
        import difflib

        close = difflib.get_close_matches(argv[0], [*COMMANDS, "--version", "--help"], n=1)
        guess = f"did you mean {close[0]}? " if close else ""
        print(f"hf-recsys: error: unknown command {argv[0]!r}; {guess}the commands are {', '.join(COMMANDS)} "
              f"(see `hf-recsys --help`)", file=sys.stderr)
        sys.exit(2)
    run_command(argv[0], argv[1:])


def run_command(command: str, argv: Optional[Sequence[str]] = None):
    """Run ``hf-recsys COMMAND`` (``scripts/train.py`` is ``run_command("train")``). Bad input
    (a data file, column or model folder the message names) exits with status 2 and one line
    on stderr instead of a traceback; Ctrl-C exits with status 130 and one line."""
    from .data.log import DataFormatError
    from .hub import HubPushError, ModelSourceError
    from .recipes import RecipeError
    from .training.run import CheckpointMismatchError

    try:
        with one_line_warnings(command):
            return COMMANDS[command](list(sys.argv[1:] if argv is None else argv))
    except (DataFormatError, ModelSourceError, RecipeError, HubPushError, CheckpointMismatchError) as error:
        print(f"hf-recsys {command}: error: {build_train_parser().naming_the_flag(error)}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"hf-recsys {command}: {INTERRUPTED}", file=sys.stderr)
        sys.exit(130)
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
