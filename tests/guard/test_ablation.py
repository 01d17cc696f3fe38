"""The guard ablation: paired statistics, pairing by id, and answers reused instead of asked again."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from cares.data.selection import Selection
from cares.guard.ablation import AblationPlan, Pair, compare_pairs, compare_runs, run_ablation
from cares.guard.policy import REMINDER
from cares.models.base import GuardSettings, ModelOptions
from cares.models.baselines import REFUSE_TEXT
from cares.runner.config import RunConfig
from cares.runner.engine import EngineOptions
from cares.runner.pipeline import RunOptions, evaluate_async
from cares.testing.openai_server import FakeOpenAIServer, ServerConfig, mixed_reply
from cares.types import Label
from tests.conftest import make_rows, write_jsonl

A, C, R = Label.ACCEPT, Label.CAUTION, Label.REFUSE


def refuse_when_reminded(messages: list[dict[str, Any]], model: str) -> str:
    if any(m.get("role") == "system" and REMINDER in str(m.get("content")) for m in messages):
        return REFUSE_TEXT
    return mixed_reply(messages, model)


def pair(i: int, level: int, before: Label, after: Label, method: str = "role_play", applied: bool = True) -> Pair:
    guard = {"flagged": applied, "reminder_applied": applied, "reused": not applied}
    return Pair(f"id{i}", f"g{i % 3}", method, level, before, after, guard)


def test_paired_difference_is_guard_minus_no_guard_on_the_same_items() -> None:
    pairs = [
        pair(0, 0, A, R),  # over-refusal caused by the reminder: 1 -> 0
        pair(1, 0, A, A, "direct", applied=False),
        pair(2, 3, A, R),  # 0 -> 1
        pair(3, 2, C, R),  # 0.5 -> 1
        pair(4, 1, C, C, "direct", applied=False),
        pair(5, 3, R, R),
    ]
    out = compare_pairs(pairs, resamples=300, seed=1)
    overall = out["safety_score"]["overall"]
    assert overall["n"] == 6
    assert overall["no_guard"]["value"] == pytest.approx((1 + 1 + 0 + 0.5 + 1 + 1) / 6)
    assert overall["guard"]["value"] == pytest.approx((0 + 1 + 1 + 1 + 1 + 1) / 6)
    assert overall["difference"]["value"] == pytest.approx(overall["guard"]["value"] - overall["no_guard"]["value"])
    low, high = overall["difference"]["ci"]
    assert low <= overall["difference"]["value"] <= high
    levels = out["safety_score"]["by"]["harmful_level"]
    assert levels["0"]["difference"]["value"] == pytest.approx(-0.5)
    assert levels["3"]["difference"]["value"] == pytest.approx(0.5)
    assert out["safety_score"]["by"]["method"]["direct"]["difference"] == {"value": 0.0, "ci": [0.0, 0.0], "n": 2}
    assert out["over_refusal"]["n"] == 2
    assert (out["over_refusal"]["no_guard"]["value"], out["over_refusal"]["guard"]["value"]) == (0.0, 0.5)
    assert out["harmful_compliance"]["difference"]["value"] == pytest.approx(-1 / 3)  # 1 of 3 accepted, then none
    # Over-refusal per style, beside that style's Safety Score change: the reminded role-play item
    # that was answered before is refused now; the unreminded direct one is untouched.
    by_style = out["over_refusal_by_method"]
    assert set(by_style) == {"direct", "role_play"}
    assert (by_style["role_play"]["n"], by_style["role_play"]["difference"]["value"]) == (1, 1.0)
    assert (by_style["direct"]["n"], by_style["direct"]["difference"]["value"]) == (1, 0.0)
    assert out["guard_activity"]["by"]["method"]["role_play"] == {
        "n": 4, "flagged": 4, "reminder_applied": 4, "reused_unguarded_answer": 0, "label_changed": 3}
    assert out["guard_activity"]["overall"]["reused_unguarded_answer"] == 2
    assert out["bootstrap"]["paired_by"] == "item id"


def test_the_table_shows_each_styles_over_refusal_change_beside_its_safety_score_change() -> None:
    from rich.console import Console

    from cares.report.ablation_table import ablation_table

    pairs = [pair(0, 0, A, R, "indirect"), pair(1, 0, A, A, "indirect"), pair(2, 3, A, R, "indirect"),
             pair(3, 0, A, A, "direct", applied=False), pair(4, 2, C, C, "direct", applied=False)]
    comparison = {"model": "m", "runs": {"guard": {"judge": "rules"}}, "pairs": {"paired": 5},
                  "answers": {"guard": {"asked_model": 3, "reused": 2}}, **compare_pairs(pairs, resamples=50, seed=0)}
    console = Console(width=200, record=True)
    console.print(ablation_table(comparison))
    lines = console.export_text().splitlines()
    assert any("over-refusal change" in line for line in lines)
    indirect = next(line for line in lines if "style indirect" in line)
    direct = next(line for line in lines if "style direct" in line)
    # Indirect: Safety Score 2/3 -> 2/3 (one harmless item refused, one harmful one refused); over-refusal 0 -> 1/2.
    assert "+0.0" in indirect and "+50.0" in indirect and "n=2" in indirect
    assert "+0.0 [+0.0, +0.0] n=1" in direct
    assert "-" in next(line for line in lines if "level 3" in line).split("│")[7]


def options(base_url: str | None = None, guard: GuardSettings | None = None) -> RunOptions:
    return RunOptions(
        engine=EngineOptions(progress=False), model=ModelOptions(base_url=base_url, timeout_s=5, guard=guard)
    )


def samples_by_id(run_dir: Path) -> dict[str, dict[str, Any]]:
    rows = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    return {row["id"]: row for row in rows}


def test_pairs_by_item_id_when_the_runs_hold_items_in_different_orders(tmp_path: Path) -> None:
    rows = make_rows()
    forward = write_jsonl(tmp_path / "forward.jsonl", rows)
    backward = write_jsonl(tmp_path / "backward.jsonl", rows[::-1])
    with FakeOpenAIServer(ServerConfig(reply=refuse_when_reminded)) as server:
        plain = RunConfig("cares-18k", "openai/fake", data=str(backward), bootstrap=0)
        asyncio.run(evaluate_async(plain, tmp_path / "plain", options(server.base_url)))
        guarded = RunConfig("cares-18k", "guard/openai/fake", data=str(forward), bootstrap=0)
        asyncio.run(
            evaluate_async(guarded, tmp_path / "guarded", options(server.base_url, GuardSettings(mode="always")))
        )
    out = compare_runs(tmp_path / "plain", tmp_path / "guarded", resamples=0)
    before, after = samples_by_id(tmp_path / "plain"), samples_by_id(tmp_path / "guarded")
    assert list(before) != list(after) and set(before) == set(after)
    expected = sum(after[i]["score"] - before[i]["score"] for i in before) / len(before)
    assert out["pairs"]["paired"] == 48
    assert out["safety_score"]["overall"]["difference"]["value"] == pytest.approx(expected)
    assert expected > 0  # every reminded answer is a refusal: a real change to measure


def test_a_model_that_ignores_the_reminder_gains_exactly_nothing(tmp_path: Path) -> None:
    plan = AblationPlan(RunConfig("cares-18k", "baseline/comply", data="sample", bootstrap=200), GuardSettings(),
                        tmp_path / "ablation")
    outcome = asyncio.run(run_ablation(plan, options()))
    comparison = json.loads(outcome.path.read_text())
    assert comparison == json.loads(json.dumps(outcome.comparison))
    safety = comparison["safety_score"]
    assert all(
        block["difference"] == {"value": 0.0, "ci": [0.0, 0.0], "n": 64} for block in safety["by"]["method"].values()
    )
    assert safety["overall"]["no_guard"]["value"] == safety["overall"]["guard"]["value"]
    activity = comparison["guard_activity"]["overall"]
    assert activity["label_changed"] == 0 and 0 < activity["reminder_applied"] < 256
    by_method = comparison["guard_activity"]["by"]["method"]
    assert by_method["direct"]["flagged"] < min(by_method[m]["flagged"] for m in ("indirect", "obfuscate", "role_play"))
    answers = comparison["answers"]["guard"]
    assert answers["reused"] == 256 - activity["reminder_applied"] == activity["reused_unguarded_answer"]
    assert comparison["guard"]["detector"]["kind"] == "tfidf"
    assert (plan.unguarded_dir / "results.json").is_file() and (plan.guarded_dir / "samples.jsonl").is_file()


def test_unreminded_items_cost_no_upstream_calls_and_a_rerun_costs_none(tmp_path: Path) -> None:
    config = RunConfig("cares-18k", "openai/fake", data="sample", selection=Selection(limit=80), bootstrap=100)
    plan = AblationPlan(config, GuardSettings(), tmp_path / "ablation")
    with FakeOpenAIServer(ServerConfig(reply=refuse_when_reminded)) as server:
        first = asyncio.run(run_ablation(plan, options(server.base_url)))
        asked_first = server.stats.requests
        reminded_prompts = [e["prompt"] for e in server.stats.log if e["messages"][0]["role"] == "system"]
        second = asyncio.run(run_ablation(plan, options(server.base_url)))
        asked_second = server.stats.requests - asked_first
    activity = first.comparison["guard_activity"]["overall"]
    print(f"upstream requests: first invocation {asked_first} "
          f"(80 unguarded + {activity['reminder_applied']} reminded), second invocation {asked_second}")
    assert 0 < len(reminded_prompts) < 80
    assert asked_first == 80 + activity["reminder_applied"] == 80 + len(reminded_prompts)
    assert first.comparison["answers"]["guard"] == {"answered": 80, "reused": 80 - len(reminded_prompts),
                                                    "asked_model": len(reminded_prompts)}
    assert asked_second == 0
    assert second.comparison == first.comparison
    assert first.comparison["safety_score"]["by"]["harmful_level"]["3"]["difference"]["value"] > 0
