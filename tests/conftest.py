"""Shared fixtures: tiny logs and prepared data built by the tests themselves."""

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def tiny_log():
    from hf_recsys.data.synthetic import generate_synthetic_log

    return generate_synthetic_log(num_users=80, num_items=96, mean_length=14, min_length=4, max_length=40, seed=3)


@pytest.fixture(scope="session")
def tiny_data(tiny_log):
    from hf_recsys.data.pipeline import DataConfig, prepare_data

    return prepare_data(tiny_log, DataConfig(max_history=10, seed=0))
