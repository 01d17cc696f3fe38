"""Every CARES-VQA count comes from one place: the readers' unparsed count per variant feeds the
tables, results.json and the closing line alike."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.cli.test_cli import cares


def test_closing_line_agrees_with_the_tables(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    proc = cares("run", "cares-vqa", "--model", "baseline/constant:No", "--run-dir", str(run_dir), "--no-progress",
                 "--bootstrap", "0")
    assert proc.returncode == 0, proc.stderr
    results = json.loads((run_dir / "results.json").read_text())
    counts, metrics = results["counts"], results["metrics"]
    by_variant = counts["unparsed_by_variant"]
    # "No" cannot answer a multiple-choice question: each one is unparsed under every variant that reads a choice.
    assert by_variant["factuality"] == metrics["factuality"]["overall"]["n_unparsed"] > 0
    assert counts["unparsed"] == sum(by_variant.values())
    assert "toxicity" not in by_variant and not any(v.startswith(("privacy", "overcautious")) for v in by_variant)
    # The terminal may wrap the closing line.
    assert f"unparsed {counts['unparsed']} (factuality {by_variant['factuality']}" in re.sub(r"\s+", " ", proc.stdout)


def test_judge_template_sets_the_open_ended_judge_prompt_or_errors(tmp_path: Path) -> None:
    from cares.testing.openai_server import FakeOpenAIServer, ServerConfig, last_user_text

    template = tmp_path / "rubric.txt"
    template.write_text("MY RUBRIC. Q={question} REF={reference} ANS={response}\nScore 1-10, end with 'Score: N'.")
    seen: list[str] = []

    def judge(messages, model):
        seen.append(last_user_text(messages))
        return "Score: 8"

    run_dir = tmp_path / "run"
    with FakeOpenAIServer(ServerConfig(reply=judge)) as srv:
        proc = cares("run", "cares-vqa", "--model", "baseline/constant:No", "--run-dir", str(run_dir), "--no-progress",
                     "--tasks", "factuality", "--judge", "llm/openai/j", "--judge-base-url", srv.base_url,
                     "--judge-template", str(template), "--bootstrap", "0")
    assert proc.returncode == 0, proc.stderr
    assert seen and all(text.startswith("MY RUBRIC. Q=") and "ANS=No" in text for text in seen)
    judge_score = json.loads((run_dir / "results.json").read_text())["metrics"]["factuality"]["open_ended"][
        "judge_score"
    ]
    assert judge_score["value"] == 8

    no_judge = cares("run", "cares-vqa", "--model", "baseline/constant:No", "--run-dir", str(tmp_path / "r2"),
                     "--judge-template", str(template))
    assert no_judge.returncode == 2 and "needs --judge llm/<model spec>" in no_judge.stderr
    bad = tmp_path / "bad.txt"
    bad.write_text("no placeholder")
    with FakeOpenAIServer(ServerConfig(reply=judge)) as srv:
        proc = cares("run", "cares-vqa", "--model", "baseline/constant:No", "--run-dir", str(tmp_path / "r3"),
                     "--tasks", "factuality", "--judge", "llm/openai/j", "--judge-base-url", srv.base_url,
                     "--judge-template", str(bad))
    assert proc.returncode == 2 and "bad.txt: judge template must contain the placeholder {response}" in proc.stderr
