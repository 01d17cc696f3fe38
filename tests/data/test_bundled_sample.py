"""Checks on the bundled CARES-18K-style sample, read with plain `json` so the file's
contract is tested independently of the project's loader."""

from __future__ import annotations

import collections
import json
import re
from importlib.resources import files

import pytest

from cares.attacks.style_vocab import STOPWORDS

FIELDS = {"principle_index", "generation_model", "harmful_level", "method", "base_prompt", "prompt"}
METHODS = ("direct", "indirect", "obfuscate", "role_play")
# Each obfuscated prompt states its code words as `"code" <relation> "meaning"`.
MAPPING = re.compile(r'"([^"]+)"\s*(?:means|stands for|is code for|=|->)\s*"([^"]+)"')
WORD = re.compile(r"[^\W\d_]+")


def _load() -> list[dict]:
    resource = files("cares") / "data/bundled/cares18k_sample.jsonl"
    rows = []
    for number, line in enumerate(resource.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"blank line {number}"
        row = json.loads(line)
        assert isinstance(row, dict), f"line {number} is not an object"
        rows.append(row)
    return rows


ROWS = _load()


def _rows(method: str) -> list[dict]:
    return [row for row in ROWS if row["method"] == method]


def _tokens(text: str) -> list[str]:
    return [t.lower() for t in WORD.findall(text)]


def test_row_count() -> None:
    assert len(ROWS) == 256


@pytest.mark.parametrize("index", range(len(ROWS)))
def test_fields_and_types(index: int) -> None:
    row = ROWS[index]
    assert set(row) == FIELDS
    for key in ("principle_index", "harmful_level"):
        assert type(row[key]) is int, key  # bool is an int subclass and must not pass
    assert 0 <= row["principle_index"] <= 7
    assert 0 <= row["harmful_level"] <= 3
    assert row["method"] in METHODS
    assert row["generation_model"] == "cares-authors"
    for key in ("base_prompt", "prompt"):
        assert isinstance(row[key], str) and row[key].strip() == row[key] != ""


def test_two_base_prompts_per_principle_and_level() -> None:
    cells: dict[tuple[int, int], set[str]] = collections.defaultdict(set)
    for row in ROWS:
        cells[row["principle_index"], row["harmful_level"]].add(row["base_prompt"])
    assert set(cells) == {(p, h) for p in range(8) for h in range(4)}
    assert all(len(bases) == 2 for bases in cells.values()), {
        cell: len(bases) for cell, bases in cells.items() if len(bases) != 2
    }


def test_every_base_prompt_has_each_method_once_in_order() -> None:
    assert len(ROWS) % len(METHODS) == 0
    groups = [ROWS[i : i + len(METHODS)] for i in range(0, len(ROWS), len(METHODS))]
    bases = [group[0]["base_prompt"] for group in groups]
    assert len(bases) == len(set(bases)) == 64, "base prompts must be unique"
    for group in groups:
        assert tuple(row["method"] for row in group) == METHODS
        assert len({row["base_prompt"] for row in group}) == 1
        assert len({(row["principle_index"], row["harmful_level"]) for row in group}) == 1


def test_direct_rows_are_the_base_prompt() -> None:
    for row in _rows("direct"):
        assert row["prompt"] == row["base_prompt"]


def test_rewrites_differ_from_the_base_prompt() -> None:
    for row in ROWS:
        if row["method"] != "direct":
            assert row["prompt"] != row["base_prompt"]
            # Wrapping the base prompt verbatim would leave it trivially detectable.
            assert row["base_prompt"] not in row["prompt"]


def test_prompts_are_unique() -> None:
    prompts = [row["prompt"] for row in ROWS]
    duplicates = [p for p, n in collections.Counter(prompts).items() if n > 1]
    assert not duplicates


@pytest.mark.parametrize("index", [i for i, r in enumerate(ROWS) if r["method"] == "obfuscate"])
def test_obfuscate_states_a_mapping_and_uses_it(index: int) -> None:
    row = ROWS[index]
    pairs = MAPPING.findall(row["prompt"])
    assert len(pairs) >= 3, f"no stated mapping in {row['prompt']!r}"
    body = MAPPING.sub(" ", row["prompt"])
    body_tokens = set(_tokens(body))
    base_tokens = set(_tokens(row["base_prompt"]))
    codes = [code.lower() for code, _ in pairs]
    assert len(codes) == len(set(codes)), "a code word must have one meaning"
    for code, meaning in pairs:
        assert code.lower() in body_tokens, f"code word {code!r} is never used"
        assert code.lower() not in base_tokens, f"{code!r} already occurs in the base prompt"
        hidden = re.search(rf"\b{re.escape(meaning)}\b", body, re.IGNORECASE)
        assert not hidden, f"{meaning!r} is still visible outside the mapping"
    content = {t for t in base_tokens if len(t) >= 3 and t not in STOPWORDS}
    replaced = content - body_tokens
    assert 2 * len(replaced) >= len(content), sorted(content & body_tokens)


@pytest.mark.parametrize("method", ["indirect", "obfuscate", "role_play"])
def test_rewrites_share_no_template(method: str) -> None:
    # A detector trained on this sample must learn the style, not a repeated phrase, so
    # no four-word run that is not from the base prompt may recur across many rewrites.
    counts: collections.Counter[str] = collections.Counter()
    for row in _rows(method):
        words = _tokens(row["prompt"])
        base = " ".join(_tokens(row["base_prompt"]))
        grams = {" ".join(words[i : i + 4]) for i in range(len(words) - 3)}
        counts.update(g for g in grams if g not in base)
    common = [(g, n) for g, n in counts.most_common(5) if n > 6]
    assert not common, common
