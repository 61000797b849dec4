"""The ``"recommendation"`` pipeline: raw item IDs in, ranked raw item IDs with scores out.

    import hf_recsys
    from transformers import pipeline

    recommender = pipeline("recommendation", model="outputs/sasrec-beauty")
    recommender(["B004756YJA", "B004ZT0SSG"], k=5)
    # [{"item_id": "...", "score": 7.1}, ...]

Works for every hf_recsys model that implements ``score_items`` (next-item models score the
catalogue with one matmul; CTR models such as BST score each item through their ``forward``).
There is no tokenizer: the model folder's ``recsys_processor.json`` maps IDs to indices.
P5 (text-to-text) answers through its own ``recommend()``: its prompt, tokenizer and constrained
beam search, with the sequence log-probability as the score.
"""

from __future__ import annotations

from typing import Any, Optional

from transformers import AutoModel, Pipeline
from transformers.pipelines import PIPELINE_REGISTRY

from .data.processor import RecsysProcessor
from .models.modeling_utils import check_top_k

TASK_NAME = "recommendation"


def _is_single_history(inputs: Any) -> bool:
    """A list of raw IDs is one history; a list of lists (or of dicts) is many."""
    return isinstance(inputs, (list, tuple)) and not any(isinstance(x, (list, tuple, dict)) for x in inputs)


class RecommendationPipeline(Pipeline):
    """Top-``k`` recommendations for raw histories.

    Call with one history (a list of raw item IDs, oldest first), a dict
    ``{"history": [...], "user": raw_user_id}``, or a list of either. Keyword arguments:
    ``k`` (default 10), ``exclude_seen`` (default True: items in the history are never
    recommended), ``user`` (a raw user ID for models that use the user), ``fallback``
    (``"popularity"``: a history with no item the model knows gets the most frequent training
    items, with score ``None``, instead of a ``ValueError``). IDs the model does not know are
    left out of the history, as ``model.recommend`` does.

    Returns, per history, a list of ``{"item_id": str, "score": float}`` in descending score.
    """

    _load_tokenizer = False
    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_video_processor = False

    def __init__(self, *args, recsys_processor: Optional[RecsysProcessor] = None, **kwargs):
        super().__init__(*args, **kwargs)
        # P5 maps raw IDs to prompt words itself (its item index and tokenizer, saved with it)
        self.text_to_text = not hasattr(self.model, "score_items") and hasattr(self.model, "recommend")
        self.recsys_processor = None if self.text_to_text else recsys_processor or self.model._get_processor(None)

    def _sanitize_parameters(self, k: Optional[int] = None, exclude_seen: Optional[bool] = None, user: Any = None,
                             fallback: Optional[str] = None, num_beams: Optional[int] = None, **kwargs):
        if kwargs:  # a misspelled option would otherwise be dropped without a word
            names = {"top_k": "k", "include_seen": "exclude_seen=False", "users": "user (or dicts with 'user')"}
            hints = "".join(f"; for {name} use {names[name]}" for name in sorted(kwargs) if name in names)
            raise TypeError(f"the recommendation pipeline takes k, exclude_seen, user, fallback and (P5) num_beams, not "
                            f"{', '.join(sorted(kwargs))}{hints}")
        preprocess: dict[str, Any] = {}
        forward: dict[str, Any] = {}
        if user is not None:
            preprocess["user"] = user
        if k is not None:
            check_top_k(k)
            forward["k"] = k
        if exclude_seen is not None:
            forward["exclude_seen"] = bool(exclude_seen)
        if fallback is not None:
            forward["fallback"] = fallback
        if num_beams is not None:
            forward["num_beams"] = num_beams
        return preprocess, forward, {}

    def __call__(self, inputs: Any, **kwargs):
        if isinstance(inputs, (str, bytes)):
            raise TypeError(f"the recommendation pipeline takes a history (a list of raw item IDs, oldest first), "
                            f"a dict {{'history': [...], 'user': ...}} or a list of either; got the string {inputs!r:.60}")
        if _is_single_history(inputs):
            inputs = {"history": list(inputs)}
        elif isinstance(inputs, (list, tuple)):
            inputs = [x if isinstance(x, dict) else {"history": x} for x in inputs]
        for entry in inputs if isinstance(inputs, list) else [inputs]:
            if isinstance(entry, dict) and ("history" not in entry or set(entry) - {"history", "user"}):
                raise TypeError(f"a dict input holds 'history' (raw item IDs, oldest first) and optionally 'user'; "
                                f"got the keys {sorted(entry)}")
        return super().__call__(inputs, **kwargs)

    def preprocess(self, inputs: dict[str, Any], user: Any = None) -> dict[str, Any]:
        return {"history": inputs["history"], "user": inputs.get("user", user)}

    def _forward(self, model_inputs: dict[str, Any], k: int = 10, exclude_seen: bool = True,
                 fallback: Optional[str] = None, num_beams: Optional[int] = None) -> dict[str, Any]:
        """``model.recommend`` on the one history: unknown IDs left out, a history with no known
        item an error unless ``fallback="popularity"`` (the same rules as the model's)."""
        users = [model_inputs["user"]] if model_inputs["user"] is not None else None
        options: dict[str, Any] = {} if self.text_to_text else {"processor": self.recsys_processor}
        if fallback is not None:
            options["fallback"] = fallback
        if num_beams is not None:
            if not self.text_to_text:
                raise TypeError("num_beams is the beam width of a text-to-text model (P5); this model scores every item")
            options["num_beams"] = num_beams
        ranked = self.model.recommend([model_inputs["history"]], k=k, exclude_seen=exclude_seen, users=users,
                                      return_scores=True, **options)[0]
        return {"ranked": ranked}

    def postprocess(self, model_outputs: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"item_id": item, "score": None if score is None else float(score)}
                for item, score in model_outputs["ranked"]]


PIPELINE_REGISTRY.register_pipeline(TASK_NAME, pipeline_class=RecommendationPipeline, pt_model=AutoModel)

__all__ = ["RecommendationPipeline", "TASK_NAME"]
