"""benchmarks/guard/fresh_check.jsonl: rewrites written after the shipped detectors were built, to
measure them on wording and requests of a later writing session (docs/guard-detector.md)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from cares.guard.corpus import default_corpus, never_tuned_set
from cares.guard.data_sources import load_training_data

FRESH = Path(__file__).resolve().parents[2] / "benchmarks" / "guard" / "fresh_check.jsonl"
FRESH_2 = FRESH.with_name("fresh_check_2.jsonl")
FRESH_3 = FRESH.with_name("fresh_check_3.jsonl")


def test_the_fresh_check_shares_no_prompt_or_request_with_the_corpus_or_the_never_tuned_set() -> None:
    data = load_training_data(str(FRESH))
    assert data.has_families
    assert Counter(row.method for row in data.rows) == {"direct": 28, "indirect": 28, "obfuscate": 14,
                                                          "role_play": 8}
    known = default_corpus() + never_tuned_set()
    seen = {" ".join(text.lower().split()) for row in known for text in (row.prompt, row.base_prompt)}
    assert not [row.prompt for row in data.rows if " ".join(row.prompt.lower().split()) in seen]
    # Groups hash the base prompt as the corpus does, so no fresh request is one the corpus holds.
    assert not {row.group for row in data.rows} & {row.group for row in known}
    # Every fresh request has its direct row, so the prompt check above covers the base prompts too.
    assert {row.group for row in data.rows} == {row.group for row in data.rows if row.method == "direct"}


def test_the_second_part_rewrites_the_same_requests_and_adds_no_corpus_prompt() -> None:
    first, second = load_training_data(str(FRESH)), load_training_data(str(FRESH_2))
    assert Counter(row.method for row in second.rows) == {"direct": 8, "indirect": 24, "obfuscate": 14,
                                                            "role_play": 6}
    requests = {row.group for row in first.rows if row.method == "direct"}
    assert {row.group for row in second.rows if row.label} <= requests
    assert not {row.item_id for row in first.rows} & {row.item_id for row in second.rows}
    known = default_corpus() + never_tuned_set()
    seen = {" ".join(text.lower().split()) for row in known for text in (row.prompt, row.base_prompt)}
    seen |= {" ".join(row.prompt.lower().split()) for row in first.rows}
    assert not [row.prompt for row in second.rows if " ".join(row.prompt.lower().split()) in seen]
    assert not {row.group for row in second.rows if not row.label} & {row.group for row in known}


def test_the_third_part_has_its_own_requests_and_no_prompt_seen_before() -> None:
    third = load_training_data(str(FRESH_3))
    assert third.has_families
    assert Counter(row.method for row in third.rows) == {"direct": 22, "indirect": 24, "obfuscate": 12,
                                                           "role_play": 6}
    earlier = load_training_data(str(FRESH)).rows + load_training_data(str(FRESH_2)).rows
    known = default_corpus() + never_tuned_set()
    seen = {" ".join(text.lower().split()) for row in known for text in (row.prompt, row.base_prompt)}
    seen |= {" ".join(row.prompt.lower().split()) for row in earlier}
    assert not [row.prompt for row in third.rows if " ".join(row.prompt.lower().split()) in seen]
    # New requests: no base prompt of the corpus, the never-tuned set or the earlier parts.
    assert not {row.group for row in third.rows} & ({row.group for row in known} | {row.group for row in earlier})
    assert not {row.item_id for row in third.rows} & {row.item_id for row in earlier}
    assert {row.group for row in third.rows} == {row.group for row in third.rows if row.method == "direct"}
    # Each rewrite family is new to this part.
    families = {row.family for row in third.rows if row.label}
    assert not families & {row.family for row in earlier if row.label}
