"""Run by tests/test_distributed.py under `torchrun --nproc_per_node 2`: train a tiny BST with
two gloo ranks through the CLI entry point, then predict the test split with both ranks and let
rank 0 write the gathered predictions."""

import json
import sys

import numpy as np
import torch.distributed as dist
from transformers import AutoModel, Trainer, TrainingArguments

import hf_recsys  # noqa: F401
from hf_recsys.cli import close_process_group, train_main
from hf_recsys.data.pipeline import DataConfig, prepare_data
from hf_recsys.data.synthetic import generate_synthetic_log
from hf_recsys.training.tasks import CTRTask

out_dir, result_path = sys.argv[1], sys.argv[2]
train_main(["--output-dir", out_dir, "--max-steps", "6", "--batch-size", "16", "--synthetic-users", "61",
            "--synthetic-items", "80", "--max-history", "6", "--no-progress", "--set", "num_heads=2",
            "--eval-batch-size", "16"])
model = AutoModel.from_pretrained(out_dir).eval()
data = prepare_data(generate_synthetic_log(num_users=61, num_items=80, seed=0), DataConfig(max_history=6, seed=0))
task = CTRTask(data, model)
args = TrainingArguments(output_dir=out_dir + "/predict", per_device_eval_batch_size=16, use_cpu=True,
                         remove_unused_columns=False, report_to="none", disable_tqdm=True, label_names=["labels"])
trainer = Trainer(model=model, args=args, data_collator=task.collator())
prediction = trainer.predict(task.dataset("test"))
if trainer.is_world_process_zero():
    with open(result_path, "w") as f:
        json.dump({"world_size": dist.get_world_size() if dist.is_initialized() else 1,
                   "predictions": np.asarray(prediction.predictions).reshape(-1).tolist(),
                   "labels": np.asarray(prediction.label_ids).reshape(-1).tolist()}, f)
close_process_group()
