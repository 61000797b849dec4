"""Shared fixtures: tiny logs and prepared data built by the tests themselves, and one torch
thread for tests of tiny models."""

import contextlib
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


@contextlib.contextmanager
def torch_threads(count: int):
    """``torch.set_num_threads(count)`` within the block, the previous count restored after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@pytest.fixture
def one_thread():
    """One torch thread for a test. Tiny models gain nothing from a second OpenMP thread but its
    synchronisation (costly when other processes share the cores), and with one thread a CPU
    kernel splits its reductions the same way every run, so exact comparisons hold."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def one_thread_per_module():
    """:func:`one_thread` for a whole module, its module-scoped fixtures included (a module opts
    in with ``pytestmark = pytest.mark.usefixtures("one_thread_per_module")``)."""
    with torch_threads(1):
        yield
