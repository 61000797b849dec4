"""Two processes (gloo, via torchrun) train and evaluate like one: the gathered predictions
cover every held-out sample exactly once, in order, and only the main process writes."""

import json
import os
import shutil
import socket
import subprocess

import numpy as np
import pytest
import torch
from transformers import AutoModel

import hf_recsys  # noqa: F401
from hf_recsys.data.pipeline import DataConfig, prepare_data
from hf_recsys.data.synthetic import generate_synthetic_log
from hf_recsys.training.tasks import CTRTask


def free_port() -> int:
    with socket.socket() as sock:  # torchrun's --master_port 0 hangs; ask the OS for a free port
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not on PATH")
def test_two_process_training_and_evaluation(tmp_path):
    out, result = tmp_path / "ddp", tmp_path / "predictions.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    proc = subprocess.run(
        ["torchrun", "--nproc_per_node", "2", "--master_port", str(free_port()), os.path.join(ROOT, "tests", "ddp_predict.py"),
         str(out), str(result)],
        capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=400,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    gathered = json.loads(result.read_text())
    assert gathered["world_size"] == 2

    data = prepare_data(generate_synthetic_log(num_users=61, num_items=80, seed=0), DataConfig(max_history=6, seed=0))
    model = AutoModel.from_pretrained(out).eval()
    task = CTRTask(data, model)
    test = task.dataset("test")
    assert len(test) % 2 == 0 and (len(test) // 16) % 2 == 1  # uneven split across ranks: padding must be dropped
    batch = task.collator()([test[i] for i in range(len(test))])
    labels = batch.pop("labels")
    with torch.no_grad():
        single = model(**batch).logits.numpy()
    assert len(gathered["predictions"]) == len(test)  # no duplicates, no drops
    assert np.allclose(gathered["predictions"], single, atol=1e-5)  # same order as one process
    assert gathered["labels"] == labels.tolist()
    files = os.listdir(out)
    assert files.count("eval_results.json") == 1 and not [f for f in files if f.startswith(".saving")]
    metrics = json.loads((out / "eval_results.json").read_text())
    assert "eval_auc" in metrics and "eval_popularity_auc" in metrics
    # the card and the recorded command say the run had two processes (--batch-size is per process)
    card = (out / "README.md").read_text()
    assert "- processes (global batch): 2 (32)\n" in card
    record = json.loads((out / "run_config.json").read_text())
    assert record["command"].startswith("torchrun --nproc_per_node 2 -m hf_recsys.cli train")
