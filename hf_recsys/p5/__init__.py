"""P5: recommendation as text-to-text on T5 (Geng et al. 2022), with the item indexing of
Hua et al. 2023. The model lives in ``hf_recsys.models.modeling_p5``; this package builds what
it is trained and evaluated on:

* ``indexing``   random / sequential / collaborative / CID+IID item IDs, from training data only
* ``prompts``    prompt families and templates -> ``datasets.Dataset``
* ``tokenizer``  a BPE tokenizer trained on the prompt corpus (``tokenizers``)
* ``evaluation`` constrained beam search -> HR@K / NDCG@K, popularity on the same users
* ``direct_evaluation`` yes/no accuracy and AUC, candidate-list HR@1/5, rating RMSE/MAE
* ``validation`` validation HR/NDCG during long runs; the best weights are kept
* ``training``   item index + prompts + tokenizer + T5 for a run (``build_p5``), the saved folder
* ``task``       the ``"seq2seq"`` task: P5's part of ``run_training`` (``scripts/train.py --model p5``)
"""

from .direct_evaluation import evaluate_direct_and_rating
from .evaluation import evaluate_sequential, popularity_metrics
from .indexing import INDEXING_METHODS, ItemIndex, build_item_index
from .prompts import SEQUENTIAL_TRAIN, SEQUENTIAL_UNSEEN, sequential_prompts, tokenize_prompts, training_prompts
from .task import P5Task
from .tokenizer import train_prompt_tokenizer
from .training import build_p5, save_p5

__all__ = [
    "INDEXING_METHODS", "ItemIndex", "build_item_index", "SEQUENTIAL_TRAIN", "SEQUENTIAL_UNSEEN",
    "sequential_prompts", "training_prompts", "tokenize_prompts", "train_prompt_tokenizer",
    "evaluate_sequential", "popularity_metrics", "evaluate_direct_and_rating", "build_p5", "save_p5", "P5Task",
]
