"""Interaction logs -> `datasets`: readers, processing, the processor, sample builders."""

from .log import DataError, DataFormatError, DataOptionError, InteractionLog
from .pipeline import DataConfig, PreparedData, prepare_data, read_data
from .processor import RecsysProcessor, Vocabulary
from .samples import InteractionSequences, build_ctr_dataset, build_next_item_dataset
from .synthetic import generate_synthetic_log

__all__ = [
    "DataError",
    "DataFormatError",
    "DataOptionError",
    "InteractionLog",
    "DataConfig",
    "PreparedData",
    "prepare_data",
    "read_data",
    "RecsysProcessor",
    "Vocabulary",
    "InteractionSequences",
    "build_ctr_dataset",
    "build_next_item_dataset",
    "generate_synthetic_log",
]
