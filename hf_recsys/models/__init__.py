"""The model zoo and its registry.

Every model is a config + ``PreTrainedModel`` pair registered with ``AutoConfig`` and
``AutoModel`` when ``hf_recsys`` is imported. ``MODEL_REGISTRY`` maps the command-line name
to the pair and to the name of its task (``hf_recsys.training.tasks``), which decides data,
collator, metrics and evaluation of a training run:

* ``"ctr"``: (history, target, label) samples, BCE, AUC/GAUC/logloss.
* ``"next_item"``: user sequences, full-ranking HR/NDCG/MRR.
* ``"seq2seq"``: text prompts in, text out (P5); the task lives in ``hf_recsys.p5.task``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from transformers import AutoConfig, AutoModel, AutoModelForSeq2SeqLM, AutoProcessor, PreTrainedConfig, PreTrainedModel

from .configuration_afm import AFMConfig
from .configuration_bst import BSTConfig
from .configuration_caser import CaserConfig
from .configuration_cnn import CNNConfig
from .configuration_deepfm import DeepFMConfig
from .configuration_dien import DIENConfig
from .configuration_din import DINConfig
from .configuration_feature_layers import FeatureCTRConfig
from .configuration_featuremlp import FeatureMLPConfig
from .configuration_fm import FMConfig
from .configuration_fnn import FNNConfig
from .configuration_gru4rec import GRU4RecConfig
from .configuration_hstu import HSTUConfig
from .configuration_lr import LRConfig
from .configuration_meanpool import MeanPoolConfig
from .configuration_ncf import NCFConfig
from .configuration_next_item import NextItemConfig
from .configuration_p5 import P5Config
from .configuration_sasrec import SASRecConfig
from .configuration_sumpool import SumPoolConfig
from .configuration_utils import RecsysConfig
from .configuration_widedeep import WideDeepConfig
from .feature_layers import FeatureCTRMixin, FeatureEmbedding
from .modeling_afm import AFMForCTR
from .modeling_bst import BSTForCTR
from .modeling_caser import CaserForNextItem
from .modeling_cnn import CNNForCTR
from .modeling_deepfm import DeepFMForCTR
from .modeling_dien import DIENForCTR
from .modeling_din import DINForCTR
from .modeling_featuremlp import FeatureMLPForCTR
from .modeling_fm import FMForCTR
from .modeling_fnn import FNNForCTR
from .modeling_gru4rec import GRU4RecForNextItem
from .modeling_hstu import HSTUForNextItem
from .modeling_lr import LRForCTR
from .modeling_meanpool import MeanPoolForNextItem
from .modeling_ncf import NCFForCTR
from .modeling_next_item import NextItemPreTrainedModel
from .modeling_p5 import P5ForConditionalGeneration
from .modeling_sasrec import SASRecForNextItem
from .modeling_sumpool import SumPoolForCTR
from .modeling_utils import CTROutput, NextItemOutput, RecommenderMixin, RecsysPreTrainedModel
from .modeling_widedeep import WideDeepForCTR
from .processing_recsys import RecsysProcessor


@dataclass(frozen=True)
class ModelSpec:
    name: str
    config_class: type[PreTrainedConfig]
    model_class: type[PreTrainedModel]
    task: str
    description: str


MODEL_REGISTRY: dict[str, ModelSpec] = {}


def spec_of_model_type(model_type: Optional[str]) -> Optional[ModelSpec]:
    """The registered model whose config has ``model_type`` (a saved ``config.json``'s), or None."""
    return next((spec for spec in MODEL_REGISTRY.values() if spec.config_class.model_type == model_type), None)


def register_model(spec: ModelSpec) -> None:
    """Add a model to the CLI registry and to the transformers Auto classes."""
    MODEL_REGISTRY[spec.name] = spec
    model_type = spec.config_class.model_type
    AutoConfig.register(model_type, spec.config_class, exist_ok=True)
    AutoModel.register(spec.config_class, spec.model_class, exist_ok=True)
    AutoProcessor.register(spec.config_class, RecsysProcessor, exist_ok=True)
    # Saved folders also carry the modeling code (auto_map + copied sibling modules), so
    # `AutoModel.from_pretrained(path, trust_remote_code=True)` works without hf_recsys installed.
    spec.config_class.register_for_auto_class()
    spec.model_class.register_for_auto_class("AutoModel")


register_model(ModelSpec("bst", BSTConfig, BSTForCTR, "ctr", "Behavior Sequence Transformer (Chen et al. 2019)"))
register_model(ModelSpec("sumpool", SumPoolConfig, SumPoolForCTR, "ctr", "sum-pooled history + MLP (the DIN paper's base model)"))
register_model(ModelSpec("din", DINConfig, DINForCTR, "ctr", "Deep Interest Network (Zhou et al. 2018)"))
register_model(ModelSpec("dien", DIENConfig, DIENForCTR, "ctr", "Deep Interest Evolution Network (Zhou et al. 2019)"))
register_model(ModelSpec("lr", LRConfig, LRForCTR, "ctr", "logistic regression on the feature fields (baseline)"))
register_model(ModelSpec("ncf", NCFConfig, NCFForCTR, "ctr", "Neural Collaborative Filtering: GMF, MLP, NeuMF (He et al. 2017)"))
register_model(ModelSpec("featuremlp", FeatureMLPConfig, FeatureMLPForCTR, "ctr", "user and item field embeddings into an MLP"))
register_model(ModelSpec("cnn", CNNConfig, CNNForCTR, "ctr", "CNN over the field embedding matrix (after CCPM, Liu et al. 2015)"))
register_model(ModelSpec("fm", FMConfig, FMForCTR, "ctr", "Factorization Machine (Rendle 2010)"))
register_model(ModelSpec("fnn", FNNConfig, FNNForCTR, "ctr", "FM-supported Neural Network (Zhang et al. 2016)"))
register_model(ModelSpec("widedeep", WideDeepConfig, WideDeepForCTR, "ctr", "Wide & Deep with cross-product features (Cheng et al. 2016)"))
register_model(ModelSpec("deepfm", DeepFMConfig, DeepFMForCTR, "ctr", "DeepFM (Guo et al. 2017)"))
register_model(ModelSpec("afm", AFMConfig, AFMForCTR, "ctr", "Attentional Factorization Machine (Xiao et al. 2017)"))
register_model(ModelSpec("sasrec", SASRecConfig, SASRecForNextItem, "next_item", "SASRec causal Transformer (Kang & McAuley 2018)"))
register_model(ModelSpec("hstu", HSTUConfig, HSTUForNextItem, "next_item", "HSTU pointwise-attention transducer (Zhai et al. 2024)"))
register_model(ModelSpec("gru4rec", GRU4RecConfig, GRU4RecForNextItem, "next_item", "GRU4Rec (Hidasi et al. 2016)"))
register_model(ModelSpec("caser", CaserConfig, CaserForNextItem, "next_item", "Caser convolutional sequence embedding (Tang & Wang 2018)"))
register_model(ModelSpec("meanpool", MeanPoolConfig, MeanPoolForNextItem, "next_item", "mean-pooling next-item baseline"))
register_model(ModelSpec("p5", P5Config, P5ForConditionalGeneration, "seq2seq", "P5 text-to-text recommender on T5 (Geng et al. 2022)"))
AutoModelForSeq2SeqLM.register(P5Config, P5ForConditionalGeneration, exist_ok=True)


__all__ = [
    "MODEL_REGISTRY",
    "ModelSpec",
    "register_model",
    "spec_of_model_type",
    "RecsysConfig",
    "RecsysPreTrainedModel",
    "RecommenderMixin",
    "CTROutput",
    "NextItemOutput",
    "BSTConfig",
    "BSTForCTR",
    "SumPoolConfig",
    "SumPoolForCTR",
    "DINConfig",
    "DINForCTR",
    "DIENConfig",
    "DIENForCTR",
    "FeatureCTRConfig",
    "FeatureCTRMixin",
    "FeatureEmbedding",
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
    "NextItemConfig",
    "NextItemPreTrainedModel",
    "SASRecConfig",
    "SASRecForNextItem",
    "HSTUConfig",
    "HSTUForNextItem",
    "GRU4RecConfig",
    "GRU4RecForNextItem",
    "CaserConfig",
    "CaserForNextItem",
    "MeanPoolConfig",
    "MeanPoolForNextItem",
    "P5Config",
    "P5ForConditionalGeneration",
]
