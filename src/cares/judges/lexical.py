"""The `rules` judge's weights: a linear model over the features `reading.read` gives.

Binary tf-idf features, L2-normalised, and one weight row per label: fitted by `fit.py` to the
labelled development sets in `tests/judges/data/` and shipped as `judges/data/rules_model.json.gz`.
Scoring needs numpy only. Each feature's weight is stored pre-multiplied by its idf, so an
answer's scores are sums over the features it has, divided by the norm of their idfs.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from cares.errors import ConfigError
from cares.judges.reading import FEATURES_VERSION
from cares.types import Label

LABELS = (Label.ACCEPT, Label.CAUTION, Label.REFUSE)
MODEL_FILE = "rules_model.json.gz"


@dataclass(frozen=True)
class Scored:
    probabilities: np.ndarray  # one per LABELS
    # The features that moved the answer most towards its label, against the runner-up.
    evidence: tuple[str, ...]

    @property
    def label(self) -> Label:
        return LABELS[int(self.probabilities.argmax())]


class LinearModel:
    def __init__(self, payload: dict[str, Any], digest: str) -> None:
        if payload.get("features_version") != FEATURES_VERSION:
            raise ConfigError(f"judge model file was fitted with features version {payload.get('features_version')}, "
                              f"this cares reads version {FEATURES_VERSION}: fit it again (python -m cares.judges.fit)")
        self.names: list[str] = payload["features"]
        self.index = {name: i for i, name in enumerate(self.names)}
        idf = np.asarray(payload["idf"], dtype=np.float64)
        # Weighted by idf ahead of time: score = sum(weighted[f]) / sqrt(sum(idf[f]^2)) + intercept.
        self.weighted = (np.asarray(payload["coef"], dtype=np.float64) * idf).T.copy()
        self.squared = idf * idf
        self.intercept = np.asarray(payload["intercept"], dtype=np.float64)
        self.meta: dict[str, Any] = {k: v for k, v in payload.items() if k not in ("features", "idf", "coef")}
        self.digest = digest

    def ids(self, features: list[str]) -> list[int]:
        index = self.index
        return list({index[f] for f in features if f in index})

    def score(self, features: list[str], evidence: int = 3) -> Scored:
        return self.score_many([features], evidence)[0]

    def score_many(self, batch: list[list[str]], evidence: int = 3) -> list[Scored]:
        """Many answers at once: one gather and one segmented sum for the batch, then per answer
        the `evidence` features that pushed it most towards its label against the runner-up."""
        if not batch:
            return []
        id_lists = [self.ids(features) for features in batch]
        lengths = np.fromiter((len(ids) for ids in id_lists), dtype=np.intp, count=len(id_lists))
        flat = np.fromiter((i for ids in id_lists for i in ids), dtype=np.intp, count=int(lengths.sum()))
        ends = np.cumsum(lengths)
        starts = ends - lengths
        # One zero row at the end gives reduceat an in-range start for answers with no known feature.
        weights = np.vstack([self.weighted[flat], np.zeros((1, len(LABELS)))])
        squares = np.concatenate([self.squared[flat], [0.0]])
        sums = np.add.reduceat(weights, starts, axis=0)
        norms = np.sqrt(np.add.reduceat(squares, starts))
        empty = lengths == 0
        sums[empty] = 0.0
        norms[empty] = 1.0
        probabilities = _softmax(sums / norms[:, None] + self.intercept)
        order = probabilities.argsort(axis=1)
        out = []
        for row, (start, end) in enumerate(zip(starts.tolist(), ends.tolist())):
            best, runner_up = order[row, -1], order[row, -2]
            push = weights[start:end, best] - weights[start:end, runner_up]
            top = push.argsort()[::-1][:evidence]
            said = tuple(self.names[flat[start + i]] for i in top.tolist() if push[i] > 0)
            out.append(Scored(probabilities[row], said))
        return out


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def load(path: Path) -> LinearModel:
    data = path.read_bytes()
    try:
        payload = orjson.loads(gzip.decompress(data) if path.suffix == ".gz" else data)
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a judge model file ({exc})") from None
    return LinearModel(payload, hashlib.sha256(data).hexdigest())


@lru_cache(maxsize=1)
def shipped() -> LinearModel:
    with resources.as_file(resources.files("cares.judges") / "data" / MODEL_FILE) as path:
        return load(path)
