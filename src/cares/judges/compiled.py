"""The rules judge's weights, compiled: the arrays its vocabulary is built into, cached on disk.

Building the vocabulary from a model file reads some 40,000 feature names in Python (splitting
word pairs, marking opening and prompt words, hashing every word): about 0.3 s of CPU in every run,
for the same result each time. The result is a handful of numpy arrays, so it is written once to
the cares cache directory, named by the model file's SHA-256 and the versions of the features and
of this layout, and later loads read those arrays (a few milliseconds) instead.

A cache file is only ever a copy: one that is missing, unreadable or of another layout is built
again from the model file, and a directory that cannot be written to only means no copy is kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from cares.judges.lexical import JudgeWeights, LinearModel, Vocabulary
from cares.judges.lookup import state_part
from cares.judges.reading import FEATURES_VERSION
from cares.store.files import cache_root

_log = logging.getLogger(__name__)

# Bumped whenever the arrays `state()` gives change in meaning or name.
LAYOUT_VERSION = 1


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """The code that lays out and hashes the arrays: a copy made by other code is never read."""
    here = Path(__file__).parent
    code = b"".join((here / name).read_bytes() for name in ("lookup.py", "lexical.py", "compiled.py"))
    return hashlib.sha256(code).hexdigest()[:12]


def cache_path(digest: str) -> Path:
    return cache_root() / "judge" / f"rules-{digest}-f{FEATURES_VERSION}-l{LAYOUT_VERSION}-{_code_digest()}.npz"


def read(digest: str) -> JudgeWeights | None:
    """The weights of the model file with this digest, from their cached arrays; None without a usable copy."""
    path = cache_path(digest)
    try:
        with np.load(path, allow_pickle=False) as stored:
            state = {name: stored[name] for name in stored.files}
        meta = json.loads(state.pop("meta").tobytes().decode())
        if meta.get("digest") != digest:
            return None
        answer = LinearModel.from_state(state_part(state, "answer."))
        asked = LinearModel.from_state(state_part(state, "asked."))
        vocabulary = Vocabulary.from_state(state_part(state, "vocabulary."))
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 - a copy is never trusted: an empty or damaged file is rebuilt
        _log.debug("ignoring the compiled judge weights at %s: %s: %s", path, type(exc).__name__, exc)
        return None
    return JudgeWeights(answer, asked, meta["meta"], digest, vocabulary)


def write(weights: JudgeWeights) -> None:
    """Keep the weights' arrays for the next load; any failure to write only means none is kept."""
    path = cache_path(weights.digest)
    meta = json.dumps({"digest": weights.digest, "meta": weights.meta}).encode()
    state: dict[str, Any] = {
        "meta": np.frombuffer(meta, dtype=np.uint8), **_prefixed("answer.", weights.answer.state()),
        **_prefixed("asked.", weights.asked.state()), **_prefixed("vocabulary.", weights.vocabulary.state())}
    part: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written beside its final name and renamed into place: a reader never sees half a file.
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name, suffix=".part", delete=False) as handle:
            part = Path(handle.name)
            np.savez(handle, **state)
            handle.flush()
            os.fsync(handle.fileno())  # whole on disk before it takes the name, even after a crash
        os.replace(part, path)
    except OSError as exc:
        _log.debug("could not keep the compiled judge weights at %s: %s", path, exc)
        if part is not None:
            part.unlink(missing_ok=True)


def _prefixed(prefix: str, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {prefix + name: value for name, value in state.items()}


