"""Index conventions shared by the data layer, the models and the training code, and the names
of the run record's files.

Every vocabulary (users, items, categories, feature values) reserves index 0 for padding and
index 1 for the unknown bucket, so an ID never seen in training still encodes instead of
failing; real IDs start at :data:`NUM_SPECIAL`. Labels equal to :data:`IGNORE_INDEX` are
skipped by the losses (PyTorch's and transformers' convention).

This module is the one home of these values. The model files and the processor are also
saved next to a model as remote code, which may only import sibling modules, so they carry
copies marked ``# Copied from hf_recsys.constants.NAME``; ``utils/check_copies.py`` (run in
CI) fails when a copy differs from the line here.
"""

PAD_INDEX = 0
UNK_INDEX = 1
NUM_SPECIAL = 2
IGNORE_INDEX = -100

#: a trained model's folder: its test (and validation) metrics, and what the run was told
EVAL_RESULTS_FILE = "eval_results.json"
RUN_CONFIG_FILE = "run_config.json"

#: the cut-offs K of a next-item model's HR@K, NDCG@K and MRR@K unless a run names others
NEXT_ITEM_CUTOFFS = (5, 10, 20)

__all__ = ["PAD_INDEX", "UNK_INDEX", "NUM_SPECIAL", "IGNORE_INDEX", "EVAL_RESULTS_FILE", "RUN_CONFIG_FILE",
           "NEXT_ITEM_CUTOFFS"]

#: ``--split temporal``: the latest tenth of the interactions (a global time cut) is the test
#: split, the tenth before it validation
TEMPORAL_VALID_FRACTION = 0.1
TEMPORAL_TEST_FRACTION = 0.1
