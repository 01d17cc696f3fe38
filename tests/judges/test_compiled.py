"""The compiled judge weights: a cached copy that gives exactly the weights of the model file, and
that is rebuilt, never trusted, when it is missing, damaged or of another file."""

from __future__ import annotations

import gzip
import json
import shutil
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from cares.judges import compiled, lexical
from cares.judges.rules import classify_many

DATA = Path(__file__).parent / "data"


@pytest.fixture
def model_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CARES_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / lexical.MODEL_FILE
    with resources.as_file(resources.files("cares.judges") / "data" / lexical.MODEL_FILE) as shipped:
        shutil.copy(shipped, path)
    return path


def _pairs() -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in (DATA / "judge_dev_heldout_g.jsonl").read_text().splitlines()]
    return [(row["prompt"], row["response"]) for row in rows]


def _same(a: lexical.JudgeWeights, b: lexical.JudgeWeights) -> None:
    left, right = a.vocabulary.state(), b.vocabulary.state()
    assert left.keys() == right.keys()
    for name, value in left.items():
        assert value.dtype == right[name].dtype and np.array_equal(value, right[name]), name
    assert a.vocabulary.names == b.vocabulary.names and a.meta == b.meta and a.digest == b.digest
    for mine, theirs in ((a.answer, b.answer), (a.asked, b.asked)):
        assert mine.names == theirs.names and np.array_equal(mine.coef, theirs.coef)


def test_the_cached_copy_gives_the_same_weights_and_verdicts(model_file: Path) -> None:
    built = lexical.load(model_file)
    assert compiled.cache_path(built.digest).is_file()
    cached = compiled.read(built.digest)
    assert cached is not None
    _same(built, cached)
    assert lexical.load(model_file).vocabulary.names == built.vocabulary.names
    pairs = _pairs()
    assert classify_many(pairs, cached) == classify_many(pairs, built)


def test_a_damaged_copy_is_rebuilt_from_the_model_file(model_file: Path) -> None:
    built = lexical.load(model_file)
    path = compiled.cache_path(built.digest)
    path.write_bytes(path.read_bytes()[:1000])
    assert compiled.read(built.digest) is None
    _same(lexical.load(model_file), built)
    assert compiled.read(built.digest) is not None  # written again, whole


def test_another_model_file_never_reads_this_ones_copy(model_file: Path, tmp_path: Path) -> None:
    built = lexical.load(model_file)
    payload = json.loads(gzip.decompress(model_file.read_bytes()))
    payload["answer"]["intercept"] = [value + 1.0 for value in payload["answer"]["intercept"]]
    other = tmp_path / "other.json.gz"
    other.write_bytes(gzip.compress(json.dumps(payload).encode()))
    changed = lexical.load(other)
    assert changed.digest != built.digest
    assert not np.array_equal(changed.vocabulary.intercept, built.vocabulary.intercept)
    # A copy renamed to the other file's name is refused: it names the digest it was built from.
    shutil.copy(compiled.cache_path(built.digest), compiled.cache_path(changed.digest))
    assert compiled.read(changed.digest) is None


def test_an_unwritable_cache_directory_costs_only_the_copy(model_file: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    monkeypatch.setenv("CARES_CACHE_DIR", str(blocked))
    weights = lexical.load(model_file)
    assert compiled.read(weights.digest) is None
    assert classify_many(_pairs()[:20], weights) == classify_many(_pairs()[:20], lexical.shipped())
