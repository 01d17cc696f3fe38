from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from cares.errors import ConfigError
from cares.report.compare import compare_loaded, compare_runs
from cares.report.runs import load_run
from cares.store import RunStore


def _levels(run_dir: Path) -> dict[str, int]:
    with RunStore.in_dir(run_dir, read_only=True) as store:
        return {item.id: int(item.metadata["harmful_level"]) for item in store.items()}


def test_refuse_against_comply_gives_the_exact_differences(runs: dict[str, Path]) -> None:
    # 1,000 resamples: at 200, p < 0.01 would claim that not one resample reached 0 (the p-value's
    # floor), which a rare draw of the minority clusters can break whatever the effect.
    out = compare_runs(runs["refuse"], runs["comply"], resamples=1000)
    levels = _levels(runs["refuse"])
    harmless = sum(1 for lv in levels.values() if lv == 0) / len(levels)
    overall = out["overall"]
    # comply earns 1 exactly on harmless items, refuse exactly on the others.
    assert overall["safety_score"]["difference"]["value"] == pytest.approx(harmless - (1 - harmless))
    assert overall["over_refusal"]["difference"]["value"] == -1.0
    assert overall["harmful_compliance"]["difference"]["value"] == 1.0
    assert overall["safety_score"]["p_value"] < 0.01
    assert overall["caution_rate"]["p_value"] == 1.0
    assert out["units"] == {"paired_by": "item id", "shared": 256, "only_a": 0, "only_b": 0}
    # On fully shared runs each side is exactly the run's own results.json figure.
    for side, name in (("a", "refuse"), ("b", "comply")):
        results = json.loads((runs[name] / "results.json").read_text())["metrics"]["overall"]
        for metric in ("safety_score", "over_refusal", "harmful_compliance", "refuse_rate"):
            assert overall[metric][side]["value"] == results[metric]["value"]
            assert overall[metric][side]["n"] == results[metric]["n"]


def test_only_shared_items_are_paired_and_the_rest_counted(runs: dict[str, Path]) -> None:
    out = compare_runs(runs["refuse"], runs["comply100"], resamples=100)
    shared = json.loads((runs["comply100"] / "results.json").read_text())["counts"]["items"]
    assert out["units"]["shared"] == shared == 100
    assert (out["units"]["only_a"], out["units"]["only_b"]) == (156, 0)
    levels = _levels(runs["comply100"])
    expected = sum((1.0 if lv == 0 else 0.0) - (0.0 if lv == 0 else 1.0) for lv in levels.values()) / len(levels)
    assert out["overall"]["safety_score"]["difference"]["value"] == pytest.approx(expected)


def test_vqa_runs_compare_per_item_and_variant(runs: dict[str, Path]) -> None:
    out = compare_runs(runs["vqa_no"], runs["vqa_refuse"], resamples=100)
    factuality = json.loads((runs["vqa_no"] / "results.json").read_text())["metrics"]["factuality"]["overall"]
    block = out["overall"]["factuality_accuracy"]
    assert block["a"]["value"] == factuality["accuracy"]["value"]
    assert block["b"]["value"] == 0.0  # a refusal never names an answer
    assert block["difference"]["value"] == pytest.approx(-factuality["accuracy"]["value"])
    assert out["units"]["paired_by"] == "item id and variant"
    assert out["overall"]["jailbreak_abstention"]["difference"]["value"] == 1.0


def test_different_benchmarks_are_refused_and_judges_noted(runs: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match="cares-18k run and .* cares-vqa run"):
        compare_runs(runs["refuse"], runs["vqa_no"])
    a, b = load_run(runs["refuse"]), load_run(runs["comply"])
    other = replace(b, results={**b.results, "judge": "llm/openai/x@1"})
    notes = compare_loaded(a, other, resamples=0)["notes"]
    assert any("judged differently" in note for note in notes)


def test_a_comparison_with_nothing_paired_says_so_instead_of_drawing_empty_tables(runs: dict[str, Path]) -> None:
    from rich.console import Console

    from cares.report.compare import nothing_paired
    from cares.report.compare_table import comparison_table
    from cares.report.html.page import comparison_section

    a, b = load_run(runs["refuse"]), load_run(runs["comply"])
    disjoint = compare_loaded(a, replace(b, rows=[]), resamples=0)
    assert nothing_paired(disjoint) == "the runs share no units (paired by item id); nothing to compare"
    section = comparison_section(disjoint)
    assert "nothing to compare" in section and "<table" not in section and "<svg" not in section
    unjudged = compare_loaded(a, replace(b, rows=[replace(row, judgement=None) for row in b.rows]), resamples=0)
    assert nothing_paired(unjudged).startswith("the runs share 256 units, but none is scored in both")
    console = Console(record=True, width=200)
    console.print(comparison_table(unjudged))
    assert "principle" not in console.export_text()  # slices without a paired unit are left out, not listed as n=0
    assert nothing_paired(compare_loaded(a, b, resamples=0)) is None
