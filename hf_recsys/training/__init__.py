"""Training: tasks, collators, metrics, the ``hf-recsys train`` loop and the fine-tuning kit.

``from hf_recsys.training import trainer_kit`` gives what a plain ``transformers.Trainer``
needs to fine-tune a saved model on a new log (see :func:`hf_recsys.training.finetune.trainer_kit`).
"""

_LAZY = {"trainer_kit": "finetune", "TrainerKit": "finetune"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(_LAZY)
