"""The jailbreak-style detector: a logistic regression over TF-IDF n-grams with, beside them, vectors
of the prompt's opening, close and clause openings (static MiniLM token vectors for the tfidf
detector, MiniLM sentence embeddings for the MiniLM one) and a few dense style features
(cares.guard.style_features).

`load_detector` gives the bundled default (TF-IDF, numpy-only inference), the bundled MiniLM one,
or a model file written by `cares guard train`. Scores are probabilities that a prompt is written
in an adversarial style (indirect, obfuscate or role_play) rather than asked directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from cares.errors import ConfigError
from cares.guard.features import MiniLMEmbedder, NgramParams, NgramTfidf
from cares.guard.modelfile import ModelFile, read_model_file
from cares.guard.static_vectors import StaticEmbedder, bundled_table
from cares.guard.style_features import StyleScaler

BUILTIN_NAMES = {"builtin": "tfidf", "builtin:tfidf": "tfidf", "builtin:minilm": "minilm"}


def builtin_path(kind: str) -> Path:
    return Path(str(resources.files("cares") / "guard" / "data" / f"detector-{kind}.json.gz"))


def sigmoid(logits: np.ndarray) -> np.ndarray:
    # Split by sign so neither branch overflows.
    out = np.empty_like(logits, dtype=np.float64)
    positive = logits >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-logits[positive]))
    exp = np.exp(logits[~positive])
    out[~positive] = exp / (1.0 + exp)
    return out


class Detector:
    """A loaded detector; implements cares.guard.policy.PromptDetector."""

    def __init__(self, model: ModelFile, source: str) -> None:
        self.model = model
        self.source = source
        self.kind = model.kind
        self.threshold = model.threshold
        classifier = model.content["classifier"]
        self.weights = np.asarray(classifier["weights"], dtype=np.float64)
        self.bias = float(classifier["bias"])
        featuriser = model.content["featuriser"]
        self._style = StyleScaler.from_dict(featuriser["style"]) if featuriser.get("style") else None
        # The term or embedding weights come first, then one per style feature.
        self._base_dim = len(self.weights) - (self._style.dim if self._style is not None else 0)
        self._tfidf: NgramTfidf | None = None
        self._embedder: MiniLMEmbedder | StaticEmbedder | None = None
        self._embedding_weight = 1.0
        embedding = featuriser.get("embedding")
        # The same layout check_structure validated: terms for tfidf, and for MiniLM files from format 4 on.
        if self.kind == "tfidf" or embedding:
            self._tfidf = NgramTfidf(
                NgramParams.from_dict(featuriser["params"]), featuriser["terms"], featuriser["idf"]
            )
        if embedding and embedding.get("source") == "static":
            self._embedder = static_embedder(embedding, source)
            self._embedding_weight = float(embedding["weight"])
        elif embedding:
            self._embedder = MiniLMEmbedder(views=embedding["views"])
            self._embedding_weight = float(embedding["weight"])
        elif self.kind == "minilm":  # format 1-3: the whole prompt, and with head_words its opening
            head_words = int(featuriser["params"].get("head_words", 0))
            self._embedder = MiniLMEmbedder(views=("whole", f"head:{head_words}") if head_words else ("whole",))
        # Weights: one per term, then one per embedding dimension, then one per style feature.
        self._term_dim = len(self._tfidf.terms) if self._tfidf is not None else 0

    def require(self) -> None:
        """Raise ConfigError now if scoring would need packages that cannot be imported."""
        if self._embedder is not None:
            self._embedder.require()

    def logits(self, prompts: Sequence[str]) -> np.ndarray:
        texts = [p if isinstance(p, str) else "" for p in prompts]
        if not texts:
            return np.zeros(0, dtype=np.float64)
        logits = np.full(len(texts), self.bias)
        if self._tfidf is not None:
            logits = self._tfidf.decision(texts, self.weights[: self._term_dim], self.bias)
        if self._embedder is not None:
            embedded = self._embedder.embed(texts) * self._embedding_weight
            logits = logits + embedded @ self.weights[self._term_dim: self._base_dim]
        if self._style is not None:
            logits = logits + self._style.features(texts) @ self.weights[self._base_dim:]
        return logits

    def score(self, prompts: Sequence[str]) -> list[float]:
        return [float(s) for s in sigmoid(self.logits(prompts))]

    def flags(self, prompts: Sequence[str], threshold: float | None = None) -> list[bool]:
        cut = self.threshold if threshold is None else threshold
        return [s >= cut for s in self.score(prompts)]

    def identity(self) -> dict[str, Any]:
        # The path is left out on purpose: the same file gives the same answers wherever it lives.
        return {
            "kind": self.kind,
            "sha256": self.model.sha256,
            "format_version": self.model.content["format_version"],
            "threshold": self.threshold,
        }

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self.model.content.get("metrics") or {})

    def __repr__(self) -> str:
        return f"Detector(kind={self.kind!r}, source={self.source!r}, sha256={self.model.sha256[:12]})"


def static_embedder(embedding: dict[str, Any], source: str) -> StaticEmbedder:
    """The embedder of a format-6 tfidf file, after checking that this installation's table is the one
    its weights were fitted to."""
    table = bundled_table()
    if table.sha256 != embedding["table_sha256"]:
        raise ConfigError(
            f"{source}: this detector was trained with static vector table {embedding['table_sha256'][:12]}, and this "
            f"cares has {table.sha256[:12]}; retrain it with `cares guard train` or use the cares it was trained with"
        )
    if table.dim * len(embedding["views"]) != embedding["dim"]:
        raise ConfigError(f"{source}: {embedding['dim']} embedding dimensions, where the static vector table gives "
                          f"{table.dim * len(embedding['views'])}")
    return StaticEmbedder(embedding["views"], table)


def load_detector(spec: str | None = None) -> Detector:
    """None or "builtin": the bundled TF-IDF detector; "builtin:tfidf", "builtin:minilm"; or a path."""
    if spec is None or spec in BUILTIN_NAMES:
        kind = BUILTIN_NAMES[spec or "builtin"]
        path = builtin_path(kind)
        if not path.exists():
            raise ConfigError(f"{path}: the bundled {kind} detector is missing from this installation; reinstall cares")
        return Detector(read_model_file(path), f"builtin:{kind}")
    if spec.startswith("builtin:"):
        raise ConfigError(f"unknown detector {spec!r}; use builtin, builtin:tfidf, builtin:minilm or a model file path")
    path = Path(spec).expanduser()
    return Detector(read_model_file(path, spec), spec)
