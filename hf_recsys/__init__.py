"""hf_recsys: recommender models as first-class Hugging Face `transformers` citizens.

Importing the package registers every model type with `AutoConfig` and `AutoModel`.
"""

__version__ = "0.1.0"

from .data import DataConfig, InteractionLog, RecsysProcessor, prepare_data  # noqa: E402
from .models import MODEL_REGISTRY, BSTConfig, BSTForCTR  # noqa: E402
from .models import P5Config, P5ForConditionalGeneration  # noqa: E402
from .models import (  # noqa: E402  (the chapter's classic feature-field CTR models)
    AFMConfig,
    AFMForCTR,
    CNNConfig,
    CNNForCTR,
    DeepFMConfig,
    DeepFMForCTR,
    FeatureMLPConfig,
    FeatureMLPForCTR,
    FMConfig,
    FMForCTR,
    FNNConfig,
    FNNForCTR,
    LRConfig,
    LRForCTR,
    NCFConfig,
    NCFForCTR,
    WideDeepConfig,
    WideDeepForCTR,
)
from .models import (  # noqa: E402
    CaserConfig,
    CaserForNextItem,
    GRU4RecConfig,
    GRU4RecForNextItem,
    MeanPoolConfig,
    MeanPoolForNextItem,
    SASRecConfig,
    SASRecForNextItem,
)
from .pipelines import RecommendationPipeline  # noqa: E402  (registers the "recommendation" pipeline)
# every Task registers itself when its module is imported; run_training finds them by name
from .training import next_item as _next_item_task  # noqa: E402, F401  ("next_item")
from .p5 import task as _p5_task  # noqa: E402, F401  ("seq2seq", P5)
from .models import DIENConfig, DIENForCTR, DINConfig, DINForCTR, SumPoolConfig, SumPoolForCTR  # noqa: E402

__all__ = [
    "__version__",
    "DataConfig",
    "InteractionLog",
    "RecsysProcessor",
    "prepare_data",
    "MODEL_REGISTRY",
    "BSTConfig",
    "BSTForCTR",
    "P5Config",
    "P5ForConditionalGeneration",
    "LRConfig",
    "LRForCTR",
    "NCFConfig",
    "NCFForCTR",
    "FeatureMLPConfig",
    "FeatureMLPForCTR",
    "CNNConfig",
    "CNNForCTR",
    "FMConfig",
    "FMForCTR",
    "FNNConfig",
    "FNNForCTR",
    "WideDeepConfig",
    "WideDeepForCTR",
    "DeepFMConfig",
    "DeepFMForCTR",
    "AFMConfig",
    "AFMForCTR",
    "SASRecConfig",
    "SASRecForNextItem",
    "GRU4RecConfig",
    "GRU4RecForNextItem",
    "CaserConfig",
    "CaserForNextItem",
    "MeanPoolConfig",
    "MeanPoolForNextItem",
    "RecommendationPipeline",
    "SumPoolConfig",
    "SumPoolForCTR",
    "DINConfig",
    "DINForCTR",
    "DIENConfig",
    "DIENForCTR",
]
