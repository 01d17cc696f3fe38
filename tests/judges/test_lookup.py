"""The fast paths of the rules judge find exactly what the spelled-out reading finds.

Two equivalences, each checked answer by answer on every labelled answer in tests/judges/data
and on random text full of the characters that could tell the paths apart:
- both batch lookups (`lookup.FeatureTables.rows` over spelled-out readings, and `rows_of_scans`,
  which hashes words in numpy) find the same vocabulary rows as looking each of `Reading.keys`
  up by name;
- RE2 on `matching_view(text)` finds the turns, declines and take-backs Python's `re` finds in
  the text, at the same offsets.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from cares.judges.lexical import shipped
from cares.judges.lookup import word_hash
from cares.judges.reading import DECLINE, PIVOT, TAKE_BACK, matching_view, read, scan, tokens, word_bytes

DATA = Path(__file__).parent / "data"
# Phrases the patterns look for, glued to letters, digits, marks and spaces of other scripts.
PIECES = ["that said", "just kidding", "i can't", "i\u2019m sorry", "here's how", "ok, fine", "still \u2014",
          "well\u00a0okay", "re-reading", "jk", "anyway", "\u00e9", "\u00fc", "\u4e2d", "\u0661", "_", "\u00a0",
          "\u2003", "\u2014", "\u2013", "\u2019", "\u0301", "\U0001f600", " ", ",", ".", "\n", "x", "9", "-",
          "\u0e44\u0e21\u0e48", "\u0e48", "\u3059\u307f", "\u30fc", "\u30fb", "\u3005", "\uff08", "\u3002",
          "\u0130", "\u00df"]


def labelled() -> list[tuple[str, str]]:
    pairs = []
    for path in sorted(DATA.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            pairs.append((row.get("prompt") or "", row["response"]))
    return pairs


def fuzzed(n: int = 3000) -> list[tuple[str, str]]:
    rng = random.Random(7)
    return [("p " + "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 8))),
             "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 60)))) for _ in range(n)]


def many_scripts(n: int = 300) -> list[tuple[str, str]]:
    """Answers with hundreds of distinct characters (Chinese, Arabic, Devanagari), phrases among them."""
    rng = random.Random(11)
    alphabet = ([chr(c) for c in range(0x4E00, 0x4E00 + 2000)] + [chr(c) for c in range(0x0600, 0x06FF)]
                + [chr(c) for c in range(0x0900, 0x097F)] + ["\u3002", "\uff0c", "\u3000", " "])
    def text() -> str:
        return "".join(rng.choice(PIECES) if rng.random() < 0.1 else rng.choice(alphabet)
                       for _ in range(rng.randint(0, 400)))

    return [("\u95ee\u9898 " + rng.choice(PIECES), text()) for _ in range(n)]


@pytest.mark.parametrize("source", [labelled, fuzzed, many_scripts])
def test_both_lookups_find_the_rows_of_the_spelled_out_keys(source) -> None:
    vocabulary = shipped().vocabulary
    pairs = source()
    readings = [read(response, prompt) for prompt, response in pairs]
    spelled = vocabulary.tables.rows(readings)
    hashed = vocabulary.tables.rows_of_scans([scan(response, prompt) for prompt, response in pairs])
    for k, reading in enumerate(readings):
        expected = sorted({vocabulary.index[key] for key in reading.keys + reading.prompt_keys
                           if key in vocabulary.index})
        for found in (spelled, hashed):
            assert found.rows[found.starts[k]:found.starts[k] + found.lengths[k]].tolist() == expected, reading.words
    assert hashed.words is not None
    assert hashed.words.counts.tolist() == [len(reading.words) for reading in readings]


def test_words_are_hashed_as_word_hash_spells_it_and_digits_read_as_str_isdigit() -> None:
    vocabulary = shipped().vocabulary
    tables = vocabulary.tables
    chunks = ["take 000 mg", "", "  m\u00b2 \u00b2 \u0663\u0663 caf\u00e9  ", "zzqx"]
    words = tables.hashed([word_bytes(chunk) for chunk in chunks])
    spelled = [word for chunk in chunks for word in tokens(chunk)]
    assert words.hashes.tolist() == [word_hash(word) for word in spelled]
    assert words.owner.tolist() == [0, 0, 0, 2, 2, 2, 2, 3] and words.counts.tolist() == [3, 0, 4, 1]
    assert words.digits.tolist() == [word.isdigit() for word in spelled]
    assert words.non_ascii.tolist() == [not word.isascii() for word in spelled]
    assert words.ids[-1] == tables.unknown and tables.tables[""][words.ids[0]] == vocabulary.index["take"]


@pytest.mark.parametrize("source", [labelled, fuzzed, many_scripts])
def test_re2_on_the_matching_view_finds_what_re_finds_in_the_text(source) -> None:
    patterns = [(pattern, re.compile(pattern.source)) for pattern in (PIVOT, DECLINE, TAKE_BACK)]
    for _, response in source():
        text = response.lower().replace("\u2019", "'")
        view = matching_view(text)
        assert len(view) == len(text)
        for fast, reference in patterns:
            for start in (0, len(text) // 3):
                got, want = fast.search(view, start), reference.search(text, start)
                assert (got and got.span()) == (want and want.span()), (reference.pattern[:30], text)
