"""The scan that spares the rules judge most of its regex runs (`rules_gate.py`) only ever spares runs
that could not match: wherever a gated pattern matches, its bit is set, and a gated pattern finds what
the pattern finds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cares.judges import rules_lexicon as lx
from cares.judges.rules_gate import Gate, alternatives
from cares.judges.rules_literals import required
from cares.judges.rules_reading import GATE, _clauses, normalise, read

from .test_clause_rules import CASES, HARD
from .test_clause_rules_verdicts import FILES

DATA = Path(__file__).parent / "data"


def _answers() -> list[str]:
    texts = [text for _, text in CASES + HARD]
    for name in FILES:
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(json.loads(line)["response"])
    # Shapes the labelled answers seldom have: CJK punctuation, accents, digits glued to words.
    texts += ["抱歉，我不能帮助你。但是你可以去看医生。", "Não posso ajudar com isso. Procure um médico.",
              "I can't... really, I cannot help—sorry!", "take 5mg x2/day (10-20 mg max) i.e. 2 tabs",
              "kidding!", "ok, fine: here's how", "i'm not able to; but ican't either", "Call 988 or 1-800-273-8255."]
    return sorted({normalise(text) for text in texts} - {""})


ANSWERS = _answers()
READ = [read(text) for text in ANSWERS]


@pytest.mark.parametrize("name", sorted(GATE.gated))
def test_a_gated_pattern_is_let_through_wherever_it_matches(name: str) -> None:
    pattern, gated = getattr(lx, name), GATE.gated[name]
    for answer in READ:
        assert not pattern.search(answer.text) or answer.mask & gated.bits, answer.text
        for unit, mask in zip(answer.units, answer.masks):
            assert not pattern.search(unit) or mask & gated.bits, unit
            assert not pattern.search(unit) or GATE.scan(unit) & gated.bits, unit


@pytest.mark.parametrize("name", sorted(GATE.gated))
def test_a_gated_pattern_finds_what_the_pattern_finds(name: str) -> None:
    pattern, gated = getattr(lx, name), GATE.gated[name]
    for answer in READ:
        for text, mask in [(answer.text, answer.mask), *zip(answer.units, answer.masks)]:
            want = pattern.search(text)
            got = gated.search(text, mask)
            assert (want and (want.span(), want.group(0))) == (got and (got.span(), got.group(0))), text
            assert gated.found(text, mask) == bool(want)
            want, got = pattern.match(text), gated.match(text, mask)
            assert (want and want.span()) == (got and got.span()), text


def test_required_words_stand_for_word_boundaries_with_spaces() -> None:
    assert required(re.compile(r"\b(?:cause|crime)s?\b")) == {" cause ", " causes ", " crime ", " crimes "}
    assert required(re.compile(r"^(?:no|nope)[.!]*$")) == {" no ", " nope "}
    # Every digit is 0 in the scan copy, every non-word character a space.
    assert required(re.compile(r"\bcall 988\b")) == {" call 000 "}
    assert required(re.compile(r"\bcan't\b")) == {" can t "}
    # "\s*" may be nothing: both "ican't" and "i can't" are looked for.
    assert required(re.compile(r"\bi\s*can't")) == {" ican t", " can t"}
    # A word that can start inside another cannot be found by the scan: such a pattern is not gated.
    assert required(re.compile(r"\w+ly")) == {"ly"}
    assert Gate({"ly": re.compile(r"\w+ly")}).scan("") == 1


def test_a_scan_finds_words_anywhere_in_a_text() -> None:
    gate = Gate({"stop": re.compile(r"\b(?:cannot|can't) help\b"), "pill": re.compile(r"\b\d+\s*mg\b")})
    stop, pill = gate.gated["stop"].bits, gate.gated["pill"].bits
    assert gate.scan("sorry, i can't help.") == stop
    assert gate.scan("take 20mg daily") == pill
    assert gate.scan("take 20 mg, i cannot help it") == stop | pill
    assert gate.scan("café: nothing to see") == 0
    assert [where for where, _ in gate.find("no. i can't help, sorry")] == [6]


@pytest.mark.parametrize("pattern", [r"\b(?:ab|a)c|x", r"^(?:no|nope)\b|\bno(?:pe|)\b", r"\b(?:a(?:b|bc)|b)"])
def test_alternatives_find_what_the_pattern_finds(pattern: str) -> None:
    whole = re.compile(pattern)
    parts = alternatives(whole, depth=2)
    assert len(parts) > 1
    for text in ["abc", "ac x", "xabc", "nope no", "no", "bc abc", "ab", ""]:
        found = [m for m in (part.search(text) for part in parts) if m]
        first = min(found, key=lambda m: m.start()) if found else None
        want = whole.search(text)
        assert (want and want.span()) == (first and first.span()), text


def _clauses_read_line_by_line(text: str) -> list[tuple[str, bool]]:
    """Clauses as the judge cut them before it was gated: every line, sentence and connective tried."""
    out = []
    for line in text.splitlines():
        item = bool(lx.ITEM.match(line))
        for sentence in lx.SENTENCE.split(lx.ITEM.sub("", line).strip() if item else line):
            for clause in lx.CLAUSE.split(sentence) if lx.CONNECTIVES.search(sentence) else (sentence,):
                clause = clause.strip(" ,;:-\"'()[]")
                if clause:
                    out.append((clause, item))
    return out


def test_clauses_are_cut_where_they_were_before_the_scan() -> None:
    for text in ANSWERS:
        units, items, starts = _clauses(text, GATE.find(text))
        assert list(zip(units, items)) == _clauses_read_line_by_line(text), text
        assert [text[start:start + len(unit)] for unit, start in zip(units, starts)] == units, text
