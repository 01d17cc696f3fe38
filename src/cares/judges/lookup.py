"""Finding a batch of answers' features in the judge's vocabulary, with numpy doing the work.

`Reading.keys` spells every feature out (each word pair a tuple, each opening word a marked pair);
looking a few hundred of those up in a dict costs about 60 µs an answer, and splitting the text
into Python strings as much again. The judge's hot path (`rows_of_scans`) never builds a word:
each answer's `word_bytes` are joined into one buffer, words are found where spaces end and
start, and each is hashed in numpy (a polynomial over its bytes, modulo 2**64) and matched
against the vocabulary's hashes. Word pairs, the opening's words, the words after the turn, the
prompt's words and the shape buckets then become vocabulary rows for the whole batch at once.

`rows` does the same from spelled-out readings. `tests/judges/test_lookup.py` checks both give the
rows of `Reading.keys` looked up by name in the vocabulary's own index, answer by answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

from cares.judges.reading import (
    LEN_MAX,
    LEN_STEP,
    LINES_MAX,
    NUMS_MAX,
    OPENING_WORDS,
    TURN_LEN_MAX,
    TURN_LEN_STEP,
    TURN_LIST_MAX,
    Reading,
    Scan,
)

_PRIME = 0x100000001B3  # odd, so invertible modulo 2**64
_INVERSE = pow(_PRIME, -1, 1 << 64)
_SPACE, _ZERO = 32, 48


def word_hash(word: str) -> int:
    """The hash `hashed` computes in numpy: sum of byte_k * PRIME**k over the UTF-8 bytes, mod 2**64."""
    return sum(byte * pow(_PRIME, k, 1 << 64) for k, byte in enumerate(word.encode())) % (1 << 64)


class _HashTable:
    """An open-addressing table of uint64 keys, looked up for a whole array of queries at once.

    A binary search costs a dozen scattered reads per query; here a query reads one slot, or a
    few more where keys collided, and each probe round is one gather over the queries still open."""

    _MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the product's top bits pick the slot

    def __init__(self, keys: np.ndarray, values: np.ndarray) -> None:
        """`keys` distinct. Each key goes to the first free slot at or after its own, as one-by-one
        insertion would put it, in rounds: every key still out tries its next slot, and where
        several try the same free slot the first of them takes it."""
        bits = max(4, int(len(keys) * 3).bit_length())  # at most a third full
        self.mask = (1 << bits) - 1
        self.shift = np.uint64(64 - bits)
        self.keys = np.zeros(1 << bits, dtype=np.uint64)
        self.values = np.full(1 << bits, -1, dtype=np.int64)
        self.used = np.zeros(1 << bits, dtype=bool)
        self.probes = 1
        out = np.arange(len(keys))
        slots = self._slots(keys)
        while len(out):
            free = ~self.used[slots]
            taken, first = np.unique(slots[free], return_index=True)
            placed = out[free][first]
            self.keys[taken], self.values[taken], self.used[taken] = keys[placed], values[placed], True
            left = np.ones(len(out), dtype=bool)
            left[np.flatnonzero(free)[first]] = False
            out, slots = out[left], (slots[left] + 1) & self.mask
            self.probes += bool(len(out))

    _STATE = ("keys", "values", "used")

    def state(self) -> dict[str, np.ndarray]:
        """The table as arrays (`from_state` gives it back): what a compiled vocabulary stores."""
        return {"keys": self.keys, "values": self.values, "used": self.used,
                "sizes": np.array([self.mask, self.probes], dtype=np.int64)}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> _HashTable:
        table = cls.__new__(cls)
        table.keys, table.values, table.used = (state[name] for name in cls._STATE)
        mask, table.probes = (int(v) for v in state["sizes"])
        table.mask, table.shift = mask, np.uint64(64 - mask.bit_length())
        return table

    def _slots(self, keys: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return ((keys.astype(np.uint64) * self._MIX) >> self.shift).astype(np.int64)

    def get(self, queries: np.ndarray, default: int) -> np.ndarray:
        queries = queries.astype(np.uint64)
        out = np.full(len(queries), default, dtype=np.int64)
        open_ = np.arange(len(queries))
        slots = self._slots(queries)
        for _ in range(self.probes):
            used = self.used[slots]
            hit = used & (self.keys[slots] == queries[open_])
            out[open_[hit]] = self.values[slots[hit]]
            # A slot held by another key: the query's key may sit further on.
            on = used & ~hit
            open_, slots = open_[on], (slots[on] + 1) & self.mask
            if not len(open_):
                break
        return out


def state_part(state: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The arrays of a stored state whose names start with `prefix`, named without it."""
    return {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}


def _known_ids(word_ids: dict[str, int], words: list[str]) -> np.ndarray:
    return np.fromiter(map(word_ids.__getitem__, words), dtype=np.int64, count=len(words))


def _cumulative_powers(base: int, n: int) -> np.ndarray:
    """base**j modulo 2**64 for j < n."""
    powers = np.ones(n, dtype=np.uint64)
    np.cumprod(np.full(n - 1, base, dtype=np.uint64), out=powers[1:])
    return powers


@dataclass(frozen=True)
class Words:
    """The words of a batch of texts, in order: each one's hash, vocabulary id, text and kind."""

    hashes: np.ndarray  # uint64
    ids: np.ndarray  # the vocabulary's word id, or `FeatureTables.unknown`
    owner: np.ndarray  # which text each word is in
    counts: np.ndarray  # words per text
    digits: np.ndarray  # whether each word is all digits (`str.isdigit`)
    non_ascii: np.ndarray  # whether each word has a byte beyond ASCII


@dataclass(frozen=True)
class Found:
    """Each answer's distinct vocabulary rows, answer after answer, and its words."""

    rows: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    words: Words | None = None


class FeatureTables:
    """Lookup tables from word ids to vocabulary rows, one per kind of feature."""

    def __init__(self, names: Sequence[str]) -> None:
        self.size = len(names)
        rows = range(len(names))
        self.shapes = {name: row for row, name in zip(rows, names) if name[0] == "<"}
        marked = {mark: [(name[2:], row) for row, name in zip(rows, names) if name[:2] == mark]
                  for mark in ("o:", "t:", "p:")}
        plain = [(name, row) for row, name in zip(rows, names) if name[0] != "<" and name[:2] not in marked]
        marked[""] = [(name, row) for name, row in plain if " " not in name]
        split = [(name.partition(" "), row) for name, row in plain if " " in name]
        pairs = [(first, second, row) for (first, _, second), row in split]
        words = chain.from_iterable([[w for w, _ in entries] for entries in marked.values()]
                                    + [[a for a, _, _ in pairs], [b for _, b, _ in pairs]])
        # Only needed here: after, words are found by their hashes (`words`), which takes less memory.
        word_ids = {word: i for i, word in enumerate(dict.fromkeys(words))}
        # Every unknown word gets the id one past the known words, whose row is -1 in every table.
        self.unknown = len(word_ids)
        self.base = self.unknown + 1
        self.tables = {mark: self._table(word_ids, entries) for mark, entries in marked.items()}
        first = _known_ids(word_ids, [a for a, _, _ in pairs])
        second = _known_ids(word_ids, [b for _, b, _ in pairs])
        self.pairs = _HashTable(first * self.base + second, np.array([row for _, _, row in pairs], dtype=np.int64))
        # Hashed the way answers' words are, by the same code: vocabulary words hold no space.
        hashes = self._hash(" ".join(word_ids).encode())[0]
        if len(np.unique(hashes)) != len(hashes):
            raise ValueError("two vocabulary words share a hash: change _PRIME")
        self.words = _HashTable(hashes, np.arange(len(hashes), dtype=np.int64))
        self.bucket = {stem: np.array([self.shapes.get(f"<{stem}{k}>", -1) for k in range(last + 1)], dtype=np.int64)
                       for stem, last in (("len", LEN_MAX), ("nums", NUMS_MAX), ("lines", LINES_MAX),
                                          ("turn-len", TURN_LEN_MAX), ("turn-list", TURN_LIST_MAX))}

    _MARKS = ("", "o:", "t:", "p:")
    _STEMS = ("len", "nums", "lines", "turn-len", "turn-list")

    def state(self) -> dict[str, np.ndarray]:
        """The tables as arrays (`from_state` gives them back), keyed by a name per array."""
        state = {f"table{mark}": self.tables[mark] for mark in self._MARKS}
        state |= {f"bucket-{stem}": self.bucket[stem] for stem in self._STEMS}
        state |= {f"pairs.{k}": v for k, v in self.pairs.state().items()}
        state |= {f"words.{k}": v for k, v in self.words.state().items()}
        state["shape-rows"] = np.array(list(self.shapes.values()), dtype=np.int64)
        state["shape-names"] = np.frombuffer("\n".join(self.shapes).encode(), dtype=np.uint8)
        state["sizes"] = np.array([self.size, self.unknown, self.base], dtype=np.int64)
        return state

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> FeatureTables:
        tables = cls.__new__(cls)
        tables.size, tables.unknown, tables.base = (int(v) for v in state["sizes"])
        tables.tables = {mark: state[f"table{mark}"] for mark in cls._MARKS}
        tables.bucket = {stem: state[f"bucket-{stem}"] for stem in cls._STEMS}
        tables.pairs = _HashTable.from_state(state_part(state, "pairs."))
        tables.words = _HashTable.from_state(state_part(state, "words."))
        names = state["shape-names"].tobytes().decode().split("\n")
        tables.shapes = dict(zip(names, state["shape-rows"].tolist()))
        return tables

    def _table(self, word_ids: dict[str, int], entries: list[tuple[str, int]]) -> np.ndarray:
        table = np.full(self.unknown + 1, -1, dtype=np.int64)
        table[_known_ids(word_ids, [word for word, _ in entries])] = [row for _, row in entries]
        return table

    def _hash(self, buffer: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Each space-separated word of `buffer`: its hash (`word_hash`), where it starts and ends,
        and the buffer as bytes."""
        data = np.frombuffer(buffer, dtype=np.uint8)
        edges = np.diff(np.concatenate([[0], (data != _SPACE).view(np.int8), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        # Computed for each buffer (about a millisecond for a batch), not kept between batches.
        powers = _cumulative_powers(_PRIME, len(data) + 1)
        inverse = _cumulative_powers(_INVERSE, len(data) + 1)
        # uint64 arithmetic wraps: sums and products are modulo 2**64, as the hash is defined.
        prefix = np.zeros(len(data) + 1, dtype=np.uint64)
        terms = data.astype(np.uint64)
        terms *= powers[:len(data)]
        np.cumsum(terms, out=prefix[1:])
        return (prefix[ends] - prefix[starts]) * inverse[starts], starts, ends, data

    def hashed(self, chunks: Sequence[bytes]) -> Words:
        """The words of each chunk of `word_bytes`, hashed and looked up, for all chunks at once."""
        buffer = b" ".join(chunks)
        hashes, starts, ends, data = self._hash(buffer)
        sizes = np.fromiter(map(len, chunks), dtype=np.int64, count=len(chunks))
        chunk_starts = np.cumsum(sizes + 1) - (sizes + 1)
        owner = np.searchsorted(chunk_starts, starts, side="right") - 1
        ids = self.words.get(hashes, self.unknown)
        not_zero = np.concatenate([[0], np.cumsum(data != _ZERO)])
        high = np.concatenate([[0], np.cumsum(data >= 128)])
        digits = (not_zero[ends] - not_zero[starts]) == 0
        non_ascii = (high[ends] - high[starts]) > 0
        # Digits beyond ASCII ('²', '٣') pass through the byte translation: str.isdigit decides.
        for k in np.flatnonzero(non_ascii).tolist():
            digits[k] = buffer[starts[k]:ends[k]].decode().isdigit()
        return Words(hashes, ids, owner, np.bincount(owner, minlength=len(chunks)), digits, non_ascii)

    def rows_of_scans(self, scans: Sequence[Scan], with_prompt: bool = True) -> Found:
        """Each scanned answer's distinct vocabulary rows: the judge's path."""
        n = len(scans)
        words = self.hashed([s.answer for s in scans])
        turned = [i for i, s in enumerate(scans) if s.tail is not None]
        tail = self.hashed([scans[i].tail or b"" for i in turned])
        prompt = self.hashed([s.prompt for s in scans]) if with_prompt else None
        numbers = np.bincount(words.owner[words.digits], minlength=n)
        lines = np.fromiter((s.lines for s in scans), dtype=np.int64, count=n)
        asking = np.fromiter((s.ends_asking for s in scans), dtype=bool, count=n)
        bucket = self.bucket
        shape_owner = [np.arange(n)] * 3
        shape_rows = [bucket["len"][np.minimum(words.counts // LEN_STEP, LEN_MAX)],
                      bucket["nums"][np.minimum(numbers, NUMS_MAX)], bucket["lines"][np.minimum(lines, LINES_MAX)]]
        empty = words.counts == 0
        for mask, name in ((empty, "<empty>"), (~empty & asking, "<ends-asking>")):
            shape_owner.append(np.flatnonzero(mask))
            shape_rows.append(np.full(int(mask.sum()), self.shapes.get(name, -1)))
        if turned:
            where = np.asarray(turned, dtype=np.int64)
            items = np.fromiter((scans[i].turn_list for i in turned), dtype=np.int64, count=len(turned))
            shape_owner += [where] * 3
            shape_rows += [np.full(len(turned), self.shapes.get("<turn>", -1)),
                           bucket["turn-len"][np.minimum(tail.counts // TURN_LEN_STEP, TURN_LEN_MAX)],
                           bucket["turn-list"][np.minimum(items, TURN_LIST_MAX)]]
        tail_owner = np.asarray(turned, dtype=np.int64)[tail.owner]
        rows, starts, lengths = self._rows(
            n, words.ids, words.counts, tail.ids, tail_owner, prompt.ids if prompt else None,
            prompt.owner if prompt else None, np.concatenate(shape_owner), np.concatenate(shape_rows))
        return Found(rows, starts, lengths, words)

    def rows(self, readings: Sequence[Reading], with_prompt: bool = True) -> Found:
        """The same from spelled-out readings (each word hashed as `hashed` does it): what tests
        and explanations use."""
        def ids(words: list[str]) -> np.ndarray:
            # Each word looked up by its hash, as `hashed` does; `Reading` words hold no space.
            return self.words.get(self._hash(" ".join(words).encode())[0], self.unknown)

        n = len(readings)
        counts = np.fromiter((len(r.words) for r in readings), dtype=np.int64, count=n)
        turned = [i for i, r in enumerate(readings) if r.tail is not None]
        tail_counts = np.fromiter((len(readings[i].tail or []) for i in turned), dtype=np.int64, count=len(turned))
        prompt_counts = np.fromiter((len(r.prompt_words) for r in readings), dtype=np.int64, count=n)
        shapes = [(i, self.shapes.get(s, -1)) for i, r in enumerate(readings) for s in r.shapes]
        rows, starts, lengths = self._rows(
            n, ids(list(chain.from_iterable(r.words for r in readings))), counts,
            ids(list(chain.from_iterable(readings[i].tail or [] for i in turned))),
            np.repeat(np.asarray(turned, dtype=np.int64), tail_counts),
            ids(list(chain.from_iterable(r.prompt_words for r in readings))) if with_prompt else None,
            np.repeat(np.arange(n), prompt_counts) if with_prompt else None,
            np.array([i for i, _ in shapes], dtype=np.int64), np.array([row for _, row in shapes], dtype=np.int64))
        return Found(rows, starts, lengths)

    def _rows(self, n: int, ids: np.ndarray, counts: np.ndarray, tail_ids: np.ndarray, tail_owner: np.ndarray,
              prompt_ids: np.ndarray | None, prompt_owner: np.ndarray | None, shape_owner: np.ndarray,
              shape_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        owner = np.repeat(np.arange(n), counts)
        position = np.arange(len(ids)) - np.repeat(np.cumsum(counts) - counts, counts)
        opening = position < OPENING_WORDS
        same = owner[1:] == owner[:-1]
        codes = ids[:-1][same] * self.base + ids[1:][same]
        pair_rows = self.pairs.get(codes, -1)
        owners = [owner, owner[opening], owner[1:][same], tail_owner, shape_owner]
        rows = [self.tables[""][ids], self.tables["o:"][ids[opening]], pair_rows, self.tables["t:"][tail_ids],
                shape_rows]
        if prompt_ids is not None and prompt_owner is not None:
            owners.append(prompt_owner)
            rows.append(self.tables["p:"][prompt_ids])
        owner, row = np.concatenate(owners).astype(np.int64), np.concatenate(rows).astype(np.int64)
        known = row >= 0
        # Distinct (answer, row) pairs: tf-idf here is binary, a feature counts once. The keys come in
        # runs already ordered by answer (one run per kind of feature), which the stable sort (a
        # merge of runs) uses and quicksort does not: a third of the sort's time, 7% of the judge's.
        keys = np.sort(owner[known] * self.size + row[known], kind="stable")
        keys = keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys
        owner, row = keys // self.size, keys % self.size
        lengths = np.bincount(owner, minlength=n)
        return row, np.cumsum(lengths) - lengths, lengths
