"""Fine-tune a saved hf_recsys model on a new log with a plain `transformers.Trainer`.

    python examples/finetune_with_trainer.py --model-dir outputs/bst-ml-1m \\
        --data-path new_log.csv --output-dir outputs/bst-finetuned [--max-steps 200] \\
        [--columns "user_id=Customer ID,item_id=sku,timestamp=ts"] [--sep ";"] [--no-header] [--encoding latin-1]

The new log is encoded with the model's *saved* vocabularies (known IDs keep their indices;
new items and users are appended and the model's tables grown), so the model is never trained
on IDs that mean something else. The output folder loads with `AutoModel` / `AutoProcessor`
and holds the processor, `eval_results.json` (test metrics next to popularity) and a model card;
publish it with `hf-recsys push OUTPUT_DIR --repo-id ORG/NAME`.
"""

import argparse
import sys

from transformers import AutoModel, AutoProcessor, Trainer, TrainingArguments

import hf_recsys  # noqa: F401  (registers the model types with the Auto classes)
from hf_recsys.data.log import DataFormatError
from hf_recsys.data.readers import load_log
from hf_recsys.hub import ModelSourceError, check_model_source
from hf_recsys.training import trainer_kit
from hf_recsys.training.arguments import positive_integer, positive_number
from hf_recsys.training.output_dir import check_output_dir


def finetune(model_dir, log, output_dir, max_steps=-1, epochs=1.0, batch_size=256, learning_rate=1e-4, command=None):
    model = AutoModel.from_pretrained(model_dir)
    processor = AutoProcessor.from_pretrained(model_dir)
    kit = trainer_kit(model, processor, log)  # datasets, collator and metrics for this model
    args = TrainingArguments(
        output_dir=output_dir, max_steps=max_steps, num_train_epochs=epochs, learning_rate=learning_rate,
        per_device_train_batch_size=batch_size, per_device_eval_batch_size=batch_size,
        eval_strategy="no", save_strategy="no", report_to="none", seed=0,
    )
    trainer = Trainer(
        model=kit.model,
        args=args,
        train_dataset=kit.train_dataset,
        eval_dataset=kit.eval_dataset,
        data_collator=kit.data_collator,
        compute_metrics=kit.compute_metrics,
        preprocess_logits_for_metrics=kit.preprocess_logits_for_metrics,
        processing_class=kit.processor,
        callbacks=kit.callbacks,
    )
    trainer.train()
    metrics = kit.evaluate(trainer)  # held-out test metrics next to the popularity baseline
    kit.save(trainer, output_dir, metrics, command=command)  # model, processor, metrics, card
    return metrics


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", required=True, help="saved model folder or Hub repo id ORG/NAME")
    parser.add_argument("--dataset", default=None,
                        help="log format: csv, ml-1m, beauty, amazon, ... (see load_log; default: inferred from --data-path)")
    parser.add_argument("--data-path", required=True, help="file or folder holding the new log")
    parser.add_argument("--columns", default=None,
                        help="a table's column names: user_id=NAME,item_id=NAME[,timestamp=NAME][,rating=NAME]")
    parser.add_argument("--sep", default=None, help="a table's field separator (default: from the file)")
    parser.add_argument("--no-header", action="store_true", help="the table's first line is data")
    parser.add_argument("--encoding", default=None, help="the table's text encoding (default: utf-8)")
    parser.add_argument("--output-dir", required=True, help="where the fine-tuned folder goes")
    parser.add_argument("--overwrite-output-dir", action="store_true", help="replace a model already in --output-dir")
    parser.add_argument("--max-steps", type=int, default=-1, help="training steps (default: --epochs)")
    parser.add_argument("--epochs", type=positive_number, default=1.0)
    parser.add_argument("--batch-size", type=positive_integer, default=256)
    parser.add_argument("--learning-rate", type=positive_number, default=1e-4)
    args = parser.parse_args(argv)
    if args.max_steps == 0 or args.max_steps < -1:
        parser.error(f"--max-steps must be positive (or -1 for --epochs), got {args.max_steps}")
    try:  # every option checked before any work: the model, the output folder, then the log
        check_model_source(args.model_dir, "--model-dir")
        check_output_dir(args.output_dir, args.overwrite_output_dir, resuming=False)
    except (ModelSourceError, ValueError) as error:
        parser.error(str(error))
    try:
        log = load_log(args.dataset, args.data_path, columns=args.columns, sep=args.sep, no_header=args.no_header,
                       encoding=args.encoding)
    except DataFormatError as error:  # names the file, line, column or option
        parser.error(str(error))
    command = "python examples/finetune_with_trainer.py " + " ".join(sys.argv[1:] if argv is None else argv)
    metrics = finetune(args.model_dir, log, args.output_dir, args.max_steps, args.epochs, args.batch_size,
                       args.learning_rate, command)
    print({k: round(v, 4) for k, v in metrics.items() if isinstance(v, float)})


if __name__ == "__main__":
    main()
