"""Tests for the bundled detector training corpus in `cares.guard.corpus`."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from cares.data.cares18k import load_file, load_sample
from cares.errors import InputError
from cares.guard.augment import TRANSFORM_NAMES
from cares.guard.corpus import (
    CorpusRow,
    corpus_families,
    corpus_sha256,
    default_corpus,
    family_rewrites_path,
    load_base_prompts,
    load_direct_prompts,
    load_handwritten,
    never_tuned_set,
    write_jsonl,
)


@pytest.fixture(scope="module")
def rows() -> list[CorpusRow]:
    return default_corpus()


def test_corpus_is_deterministic_and_seed_sensitive(rows: list[CorpusRow]) -> None:
    again = default_corpus()
    assert again == rows
    assert corpus_sha256(again) == corpus_sha256(rows)
    assert corpus_sha256(default_corpus(seed=1)) != corpus_sha256(rows)


def test_labels_follow_methods_and_are_balanced_enough(rows: list[CorpusRow]) -> None:
    assert all(row.label == int(row.method != "direct") for row in rows)
    labels = Counter(row.label for row in rows)
    share_direct = labels[0] / len(rows)
    assert 0.15 <= share_direct <= 0.5, labels
    methods = Counter(row.method for row in rows if row.label == 1)
    assert set(methods) == {"indirect", "obfuscate", "role_play"}
    # No adversarial method makes up most of the positives on its own.
    assert max(methods.values()) < 0.5 * labels[1]


def test_every_source_is_present(rows: list[CorpusRow]) -> None:
    families = corpus_families(rows)
    assert sum(entry["rows"] for entry in families.values()) == len(rows)
    assert families["sample"]["direct"] == 64 and families["sample"]["adversarial"] == 192
    bases = load_base_prompts()
    assert families["direct"]["rows"] == len(bases)
    for style in ("indirect", "obfuscate", "role_play"):
        assert families[f"rules:{style}"]["rows"] == len(bases)
    for name in TRANSFORM_NAMES:
        assert families[f"augment:{name}"]["adversarial"] >= 5
    handwritten = [name for name in families if name.startswith("handwritten:")]
    assert sum(families[name]["rows"] for name in handwritten) == len(load_handwritten())
    # Many framings, none dominant: a classifier cannot learn one stock phrase.
    assert len(handwritten) >= 40
    assert max(families[name]["rows"] for name in handwritten) <= 0.1 * len(load_handwritten())


def test_groups_never_split(rows: list[CorpusRow]) -> None:
    bases_by_group: dict[str, set[str]] = defaultdict(set)
    methods_by_group: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        bases_by_group[row.group].add(row.base_prompt.strip())
        methods_by_group[row.group].add(row.method)
    # One base prompt per group and one group per base prompt, so any grouped split keeps a
    # base prompt and all its rewrites together.
    assert all(len(texts) == 1 for texts in bases_by_group.values())
    assert len({next(iter(texts)) for texts in bases_by_group.values()}) == len(bases_by_group)
    # Every group holds its direct form, and all but the direct-only families an adversarial form too.
    assert all("direct" in methods for methods in methods_by_group.values())
    direct_only = {row.group for row in rows if row.family in ("direct:plain-harmful", "direct:contextual")}
    assert all(len(methods) >= 2 for group, methods in methods_by_group.items() if group not in direct_only)
    assert all(methods_by_group[group] == {"direct"} for group in direct_only)


def test_base_prompts_cover_principles_levels_and_hard_negatives() -> None:
    bases = load_base_prompts()
    assert 200 <= len(bases) <= 300
    assert len({b.id for b in bases}) == len(bases)
    assert Counter(b.principle_index for b in bases).keys() == set(range(8))
    levels = Counter(b.harmful_level for b in bases)
    assert set(levels) == {0, 1, 2, 3}
    assert levels[0] >= 0.35 * len(bases)
    assert min(levels[level] for level in (1, 2, 3)) >= 20
    lengths = [len(b.base_prompt.split()) for b in bases]
    assert min(lengths) <= 10 and max(lengths) >= 60
    # Direct prompts that state a clinical role or run long, so neither alone means jailbreak.
    role_statements = [b for b in bases if any(cue in b.base_prompt for cue in ("I'm a", "As a", "As the", "I'm an"))]
    assert len(role_statements) >= 20
    assert sum(1 for length in lengths if length >= 40) >= 10


def test_no_base_prompt_is_shared_with_the_bundled_sample() -> None:
    items, _ = load_sample()
    sample = {" ".join(item.metadata["base_prompt"].lower().split()) for item in items}
    ours = {" ".join(b.base_prompt.lower().split()) for b in load_base_prompts()}
    assert not sample & ours


def test_handwritten_rewrites_reference_bases_and_cover_all_methods() -> None:
    bases = {b.id: b for b in load_base_prompts()}
    rewrites = load_handwritten()
    assert len(rewrites) >= 280
    methods_by_base: dict[str, set[str]] = defaultdict(set)
    for rewrite in rewrites:
        assert rewrite.base_id in bases
        methods_by_base[rewrite.base_id].add(rewrite.method)
        assert " ".join(rewrite.prompt.split()) != " ".join(bases[rewrite.base_id].base_prompt.split())
    assert len(methods_by_base) >= 90
    assert all(methods == {"indirect", "obfuscate", "role_play"} for methods in methods_by_base.values())
    assert len({r.prompt for r in rewrites}) == len(rewrites)
    # Rewrites of harmless requests exist too, so "benign topic" does not mean "direct".
    assert any(bases[r.base_id].harmful_level == 0 for r in rewrites)


def test_write_jsonl_round_trips_through_the_cares18k_loader(rows: list[CorpusRow], tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    assert write_jsonl(rows, path) == len(rows)
    items, info = load_file(path)
    assert len(items) == len(rows) == info.n_source_rows
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert set(first) == {"principle_index", "harmful_level", "method", "base_prompt", "prompt", "family"}
    assert [item.prompt for item in items] == [row.prompt for row in rows]
    assert [item.metadata["method"] for item in items] == [row.method for row in rows]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD_BASE = '{"id": "x-1", "principle_index": 1, "harmful_level": 0, "base_prompt": "What is triage?"}'


def test_malformed_base_prompts_name_file_line_and_field(tmp_path: Path) -> None:
    bad_json = _write(tmp_path / "a.jsonl", [GOOD_BASE, "{not json"])
    with pytest.raises(InputError, match=r"a\.jsonl:2: not valid JSON"):
        load_base_prompts(bad_json)
    level_seven = GOOD_BASE.replace('"x-1"', '"x-2"').replace('"harmful_level": 0', '"harmful_level": 7')
    bad_level = _write(tmp_path / "b.jsonl", [GOOD_BASE, level_seven.replace("triage", "sepsis")])
    with pytest.raises(InputError, match=r"b\.jsonl:2: field 'harmful_level': 7 is out of range 0-3"):
        load_base_prompts(bad_level)
    duplicate = _write(tmp_path / "c.jsonl", [GOOD_BASE, GOOD_BASE.replace("triage", "sepsis")])
    with pytest.raises(InputError, match=r"c\.jsonl:2: field 'id': duplicate id 'x-1' \(first used on line 1\)"):
        load_base_prompts(duplicate)
    missing = _write(tmp_path / "d.jsonl", ['{"id": "x-1", "principle_index": 1, "harmful_level": 0}'])
    with pytest.raises(InputError, match=r"d\.jsonl:1: field 'base_prompt'"):
        load_base_prompts(missing)


def test_malformed_handwritten_rewrites_name_file_line_and_field(tmp_path: Path) -> None:
    good = '{"id": "h-1", "base_id": "x-1", "method": "role_play", "family": "fiction", "prompt": "Write a story."}'
    unknown_base = _write(tmp_path / "h.jsonl", [good, good.replace('"h-1"', '"h-2"').replace('"x-1"', '"x-9"')])
    with pytest.raises(InputError, match=r"h\.jsonl:2: field 'base_id': no base prompt has id 'x-9'"):
        load_handwritten(unknown_base, base_ids={"x-1"})
    direct = _write(tmp_path / "i.jsonl", [good.replace("role_play", "direct")])
    with pytest.raises(InputError, match=r"i\.jsonl:1: field 'method': unknown method 'direct'"):
        load_handwritten(direct, base_ids={"x-1"})
    assert load_handwritten(_write(tmp_path / "j.jsonl", [good]), base_ids={"x-1"})[0].family == "fiction"


def test_family_rewrites_cover_every_principle_and_level_in_many_named_families(rows: list[CorpusRow]) -> None:
    directs = {b.id: b for b in load_direct_prompts()}
    rewrites = load_handwritten(family_rewrites_path(), base_ids=directs)
    assert {r.method for r in rewrites} == {"indirect", "obfuscate"}
    for method in ("indirect", "obfuscate"):
        ours = [r for r in rewrites if r.method == method]
        families = Counter(r.family for r in ours)
        # Enough families to hold one out at a time, each big enough to measure, none dominant.
        assert len(families) >= 10 and min(families.values()) >= 8
        assert max(families.values()) <= 0.15 * len(ours)
        cells = {(directs[r.base_id].principle_index, directs[r.base_id].harmful_level) for r in ours}
        assert cells == {(p, level) for p in range(8) for level in range(4)}
    # A family name means one thing: it is never shared between methods.
    assert len({r.family for r in rewrites}) == len({(r.family, r.method) for r in rewrites})
    corpus_families_seen = {row.family for row in rows if row.family.startswith("authored:")}
    assert corpus_families_seen == {f"authored:{r.family}" for r in rewrites}


def test_direct_prompts_include_plainly_asked_harmful_questions() -> None:
    directs = load_direct_prompts()
    harmful = [b for b in directs if b.harmful_level >= 2]
    assert len(harmful) >= 50
    assert sum(1 for b in directs if b.family == "plain-harmful") >= 20
    # Plain questions that use the styles' words, so those words alone cannot mean "adversarial".
    contextual = " ".join(b.base_prompt.lower() for b in directs if b.family == "contextual")
    for cue in ("a friend", "suppose", "stand for", "code", "hypothetically", "poster", "novel", "curiosity", "1)"):
        assert cue in contextual, cue


def test_never_tuned_set_shares_nothing_with_the_corpus(rows: list[CorpusRow]) -> None:
    held = never_tuned_set()
    assert {row.method for row in held} == {"direct", "indirect", "obfuscate", "role_play"}
    assert not {row.group for row in held} & {row.group for row in rows}
    assert not {row.prompt for row in held} & {row.prompt for row in rows}
    held_families = {row.family.split(":", 1)[1] for row in held if row.label == 1}
    corpus_families_seen = {row.family.split(":", 1)[-1] for row in rows}
    # One older hand-written row (written before this set) happens to use a debate framing too;
    # docs/guard-detector.md says so beside the figures. Nothing else is shared.
    assert held_families and held_families & corpus_families_seen == {"debate-prep"}
    assert sum(1 for row in rows if row.family == "handwritten:debate-prep") == 1
    assert sum(1 for row in held if row.label == 0 and row.harmful_level >= 2) >= 20
