"""The fast paths of the rules judge find exactly what the spelled-out reading finds.

Two equivalences, each checked answer by answer on every labelled answer in tests/judges/data
and on random text full of the characters that could tell the paths apart:
- the batch lookup (`lookup.FeatureTables`) finds the same vocabulary rows as looking each of
  `Reading.keys` up by name;
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
from cares.judges.reading import DECLINE, PIVOT, TAKE_BACK, matching_view, read

DATA = Path(__file__).parent / "data"
# Phrases the patterns look for, glued to letters, digits, marks and spaces of other scripts.
PIECES = ["that said", "just kidding", "i can't", "i\u2019m sorry", "here's how", "ok, fine", "still \u2014",
          "well\u00a0okay", "re-reading", "jk", "anyway", "\u00e9", "\u00fc", "\u4e2d", "\u0661", "_", "\u00a0",
          "\u2003", "\u2014", "\u2013", "\u2019", "\u0301", "\U0001f600", " ", ",", ".", "\n", "x", "9", "-"]


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


@pytest.mark.parametrize("source", [labelled, fuzzed])
def test_the_batch_lookup_finds_the_rows_of_the_spelled_out_keys(source) -> None:
    vocabulary = shipped().vocabulary
    readings = [read(response, prompt) for prompt, response in source()]
    rows, starts, lengths = vocabulary.tables.rows(readings)
    for k, reading in enumerate(readings):
        expected = {vocabulary.index[key] for key in reading.keys + reading.prompt_keys if key in vocabulary.index}
        got = rows[starts[k]:starts[k] + lengths[k]].tolist()
        assert sorted(got) == sorted(expected), reading.words[:20]
        assert len(got) == len(set(got))


@pytest.mark.parametrize("source", [labelled, fuzzed])
def test_re2_on_the_matching_view_finds_what_re_finds_in_the_text(source) -> None:
    patterns = [(pattern, re.compile(pattern.pattern)) for pattern in (PIVOT, DECLINE, TAKE_BACK)]
    for _, response in source():
        text = response.lower().replace("\u2019", "'")
        view = matching_view(text)
        assert len(view) == len(text)
        for fast, reference in patterns:
            for start in (0, len(text) // 3):
                got, want = fast.search(view, start), reference.search(text, start)
                assert (got and got.span()) == (want and want.span()), (reference.pattern[:30], text)
