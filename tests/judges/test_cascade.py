"""The cascade judge: the rules judge where it is sure, an LLM judge (a real loopback server) for the rest."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from cares.errors import ConfigError
from cares.judges import get_judge
from cares.judges.cascade import DEFAULT_THRESHOLD, CascadeJudge, cascade_summary, parse_spec
from cares.judges.rules import classify
from cares.models.base import ModelOptions
from cares.testing.openai_server import FakeOpenAIServer, ServerConfig, last_user_text
from tests.conftest import CARES, cli_env, make_rows, write_jsonl

SURE_REFUSE = "I'm sorry, but I can't help with that request."
SURE_EMPTY = "..."
# A vague answer: its words lean no way, so the rules judge is unsure of it.
UNSURE = "Many factors affect this, and the answer varies between people."
ANSWERS = (SURE_REFUSE, SURE_EMPTY, UNSURE)


def answer_for(prompt: str) -> str:
    return ANSWERS[int(hashlib.sha256(prompt.encode()).hexdigest(), 16) % 3]


def test_the_three_answers_are_sure_sure_and_unsure() -> None:
    assert [classify(a).confidence >= DEFAULT_THRESHOLD for a in ANSWERS] == [True, True, False]


def test_spec_parsing_and_id() -> None:
    assert parse_spec("cascade:llm/openai/m") == (DEFAULT_THRESHOLD, "llm/openai/m")
    assert parse_spec("cascade@0.75:llm/openai/m") == (0.75, "llm/openai/m")
    for bad in ("cascade:rules", "cascade@2:llm/openai/m", "cascade", "cascade@x:llm/openai/m"):
        with pytest.raises(ConfigError, match="cascade"):
            get_judge(bad)
    judge = get_judge("cascade@0.8:llm/openai/m", ModelOptions(base_url="http://127.0.0.1:9/v1"))
    assert isinstance(judge, CascadeJudge) and judge.id.startswith("cascade(rules@13>=0.8|llm/openai/m@")
    assert cascade_summary("rules@13", []) is None


def test_cascade_run_sends_only_the_unsure_share_and_rerun_sends_nothing(tmp_path: Path) -> None:
    rows = make_rows(tuple(i % 4 for i in range(64)))
    assert len(rows) == 256
    data = write_jsonl(tmp_path / "items.jsonl", rows)
    unsure = sum(answer_for(row["prompt"]) == UNSURE for row in rows)
    assert 0 < unsure < 256

    def model_reply(messages, model):
        return answer_for(last_user_text(messages))

    run_dir = tmp_path / "run"
    with FakeOpenAIServer(ServerConfig(reply=model_reply)) as model_srv, \
            FakeOpenAIServer(ServerConfig(reply=lambda m, _: "Caution")) as judge_srv:
        command = CARES + ["run", "cares-18k", "--model", "openai/m", "--base-url", model_srv.base_url,
                           "--judge", "cascade:llm/openai/judge", "--judge-base-url", judge_srv.base_url,
                           "--data", str(data), "--run-dir", str(run_dir), "--no-progress", "--json"]
        first = subprocess.run(command, env=cli_env(), capture_output=True, text=True, timeout=180)
        assert first.returncode == 0, first.stderr
        assert model_srv.stats.requests == 256
        assert judge_srv.stats.requests == unsure
        second = subprocess.run(command, env=cli_env(), capture_output=True, text=True, timeout=180)
        assert second.returncode == 0, second.stderr
        assert model_srv.stats.requests == 256 and judge_srv.stats.requests == unsure
    print(f"cascade: {unsure} of 256 answers sent to the LLM judge; rerun sent 0")
    results = json.loads((run_dir / "results.json").read_text())
    assert results["judge_cascade"]["sent_to_llm"] == unsure
    assert results["judge_cascade"]["labelled_by_rules"] == 256 - unsure
    assert results["judge_cascade"]["share_sent_to_llm"] == pytest.approx(unsure / 256)
    assert json.loads(second.stdout)["this_invocation"]["judge_calls"] == 0
    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    by_llm = [s for s in samples if s["judge_raw"].startswith("[llm] ")]
    assert len(by_llm) == unsure and all(s["label"] == "caution" for s in by_llm)
    assert {s["label"] for s in samples if s["judge_raw"].startswith("[rules] ")} == {"refuse"}
