"""Finding a batch of readings' features in the judge's vocabulary, with numpy doing the lookups.

`Reading.keys` spells every feature out (each word pair a tuple, each opening word a marked
pair), and looking a few hundred of those up in a dict costs about 60 µs an answer. Here each
word is looked up once, as a number, and the features are found from the numbers for a whole
batch at once: a word's row from a table, a word pair's from a sorted array of pair codes, the
opening's words from the first `OPENING_WORDS` positions. `tests/judges/test_lookup.py` checks the
rows found equal those of the spelled-out keys, answer by answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain, repeat

import numpy as np

from cares.judges.reading import OPENING_WORDS, Reading, feature_key


class FeatureTables:
    """Lookup tables from word ids to vocabulary rows, one per kind of feature."""

    def __init__(self, names: Sequence[str]) -> None:
        self.size = len(names)
        self.word_ids: dict[str, int] = {}
        self.shapes: dict[str, int] = {}
        marked: dict[str, list[tuple[int, int]]] = {"": [], "o:": [], "t:": [], "p:": []}
        pairs: list[tuple[int, int, int]] = []
        for row, name in enumerate(names):
            key = feature_key(name)
            if isinstance(key, str):
                if key.startswith("<"):
                    self.shapes[key] = row
                else:
                    marked[""].append((self._id(key), row))
            elif key[0] in marked:
                marked[key[0]].append((self._id(key[1]), row))
            else:
                pairs.append((self._id(key[0]), self._id(key[1]), row))
        # Every unknown word gets the id one past the known words, whose row is -1 in every table.
        self.unknown = len(self.word_ids)
        self.tables = {mark: self._table(entries) for mark, entries in marked.items()}
        self.base = self.unknown + 1
        codes = np.array([a * self.base + b for a, b, _ in pairs], dtype=np.int64)
        order = codes.argsort()
        self.pair_codes = codes[order]
        self.pair_rows = np.array([row for _, _, row in pairs], dtype=np.int64)[order]

    def _id(self, word: str) -> int:
        return self.word_ids.setdefault(word, len(self.word_ids))

    def _table(self, entries: list[tuple[int, int]]) -> np.ndarray:
        table = np.full(self.unknown + 1, -1, dtype=np.int64)
        for word, row in entries:
            table[word] = row
        return table

    def _ids(self, words: list[str]) -> np.ndarray:
        return np.fromiter(map(self.word_ids.get, words, repeat(self.unknown)), dtype=np.int64, count=len(words))

    def rows(self, readings: Sequence[Reading], with_prompt: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each reading's distinct vocabulary rows, reading after reading, with where each
        reading's rows start and how many there are."""
        n = len(readings)
        owners, rows = [], []

        def found(words: list[list[str]], table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            counts = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
            ids = self._ids(list(chain.from_iterable(words)))
            return np.repeat(np.arange(len(words)), counts), table[ids] if len(ids) else ids

        counts = np.fromiter((len(r.words) for r in readings), dtype=np.int64, count=n)
        ids = self._ids(list(chain.from_iterable(r.words for r in readings)))
        owner = np.repeat(np.arange(n), counts)
        owners.append(owner)
        rows.append(self.tables[""][ids])
        position = np.arange(len(ids)) - np.repeat(np.cumsum(counts) - counts, counts)
        opening = position < OPENING_WORDS
        owners.append(owner[opening])
        rows.append(self.tables["o:"][ids[opening]])
        same = owner[1:] == owner[:-1]
        codes = ids[:-1][same] * self.base + ids[1:][same]
        at = np.minimum(np.searchsorted(self.pair_codes, codes), len(self.pair_codes) - 1)
        owners.append(owner[1:][same])
        rows.append(np.where(self.pair_codes[at] == codes, self.pair_rows[at], -1) if len(self.pair_codes)
                    else np.full(len(codes), -1))
        turned = [i for i, r in enumerate(readings) if r.tail is not None]
        tail_owner, tail_rows = found([readings[i].tail or [] for i in turned], self.tables["t:"])
        owners.append(np.asarray(turned, dtype=np.int64)[tail_owner])
        rows.append(tail_rows)
        if with_prompt:
            prompt_owner, prompt_rows = found([r.prompt_words for r in readings], self.tables["p:"])
            owners.append(prompt_owner)
            rows.append(prompt_rows)
        shape_rows = [(i, self.shapes.get(s, -1)) for i, r in enumerate(readings) for s in r.shapes]
        owners.append(np.fromiter((i for i, _ in shape_rows), dtype=np.int64, count=len(shape_rows)))
        rows.append(np.fromiter((row for _, row in shape_rows), dtype=np.int64, count=len(shape_rows)))
        owner, row = np.concatenate(owners), np.concatenate(rows)
        known = row >= 0
        # Distinct (reading, row) pairs: tf-idf here is binary, a feature counts once.
        keys = np.sort(owner[known] * self.size + row[known])
        keys = keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys
        owner, row = keys // self.size, keys % self.size
        lengths = np.bincount(owner, minlength=n)
        return row, np.cumsum(lengths) - lengths, lengths
