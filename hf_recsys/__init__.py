"""hf_recsys: recommender models as first-class Hugging Face `transformers` citizens.

Importing the package registers every model type with `AutoConfig` and `AutoModel` and the
"recommendation" pipeline; every model and config class of :mod:`hf_recsys.models` is
importable from here.
"""

from . import models
from .data import DataConfig, InteractionLog, RecsysProcessor, prepare_data
from .models import *  # noqa: F403  (the names listed in models.__all__)
from .p5 import task as _p5_task  # noqa: E402, F401  ("seq2seq", P5)
from .pipelines import RecommendationPipeline  # registers the "recommendation" pipeline

# every Task registers itself when its module is imported; run_training finds them by name
from .training import next_item as _next_item_task  # noqa: E402, F401  ("next_item")

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "DataConfig",
    "InteractionLog",
    "RecsysProcessor",
    "prepare_data",
    "RecommendationPipeline",
    *models.__all__,
]
