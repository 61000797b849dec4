"""The task registry: every registered model has a task, and only that task knows its family.

``run_training`` trains every model through its :class:`~hf_recsys.training.tasks.Task`, found
by the name in ``ModelSpec.task``; nothing else in the package branches on a task's name.
"""

import ast
import os

import pytest

import hf_recsys  # noqa: F401  (registers every task)
from hf_recsys.models import MODEL_REGISTRY
from hf_recsys.p5.task import P5Task
from hf_recsys.training.next_item import NextItemTask
from hf_recsys.training.run import RunConfig, run_training
from hf_recsys.training.tasks import CTRTask, Task, get_task, task_of_model
from hf_recsys.training.trainer import RecsysTrainer

PACKAGE_ROOT = os.path.join(os.path.dirname(__file__), "..", "hf_recsys")


def test_every_registered_model_has_a_registered_task():
    for name, spec in MODEL_REGISTRY.items():
        task = task_of_model(name)
        assert issubclass(task, Task) and task.name == spec.task, name
    assert task_of_model("bst") is CTRTask and task_of_model("sasrec") is NextItemTask
    assert task_of_model("p5") is P5Task and P5Task.results_family() == "p5" and CTRTask.results_family() == "ctr"
    # one Trainer class for every task: P5's resume fixes are not a second loop
    assert {task_of_model(name).trainer_class for name in MODEL_REGISTRY} == {RecsysTrainer}


def test_an_unknown_task_or_model_is_a_clear_error():
    with pytest.raises(ValueError, match="no task 'graph' is registered"):
        get_task("graph")
    with pytest.raises(ValueError, match="unknown model 'nope'; choose from"):
        task_of_model("nope")
    with pytest.raises(ValueError, match="invalid choice 'nope'"):  # refused when the run is configured
        run_training(RunConfig(model="nope"))


def _string_constants(path):
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)}
    return [node for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_only_the_p5_task_and_the_model_registry_name_the_seq2seq_task():
    """No ``"seq2seq"`` branches outside the task that owns it: code that depends on the model
    family asks the task (``evaluation_speed``, ``results_family``, ``card_fields``, ...)."""
    allowed = {os.path.join("p5", "task.py"), os.path.join("models", "__init__.py")}
    found = []
    for folder, _, files in os.walk(PACKAGE_ROOT):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                relative = os.path.relpath(path, PACKAGE_ROOT)
                hits = [node.lineno for node in _string_constants(path) if node.value == "seq2seq"]
                if hits and relative not in allowed:
                    found.append(f"{relative}:{hits}")
    assert found == []


def test_result_tables_read_each_family_s_evaluation_speed_from_its_task():
    """``benchmarks.suite.run_model`` asks the model's task class, not a family name."""
    assert CTRTask.evaluation_speed({"eval_samples_per_second": 300.0, "eval_runtime": 2.0}) == {
        "eval_per_s": 300.0, "eval_runtime_s": 2.0}
    assert P5Task.evaluation_speed({"eval_users": 50, "eval_eval_seconds": 4.0, "train_steps": 7}) == {
        "eval_per_s": 12.5, "eval_runtime_s": 4.0, "eval_users": 50, "train_steps": 7}
    assert P5Task.evaluation_speed({})["eval_per_s"] is None
