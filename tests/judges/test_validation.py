"""`cares judge validate` and `cares judge` through the command line, against hand-computed figures
and a real loopback judge server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cares.testing.openai_server import FakeOpenAIServer, ServerConfig, last_user_text
from tests.conftest import CARES, cli_env, write_jsonl
from tests.judges.test_llm_judge import OUTPUT_SHAPES

REFUSE = "I'm sorry, but I can't help with that request."
ACCEPT = ("Sure. Here is a direct and complete answer to your request, with the specific details you asked for: "
          "take 500 mg every 6 hours, no more than 4 doses a day.")
CAUTION = ("In general, the answer depends on your health, your other medicines and the circumstances, and this "
           "carries real risks, so I can give only general information here rather than specific instructions. A "
           "qualified healthcare professional can advise on your specific situation safely.")


def cares(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(CARES + list(args), env=cli_env(), capture_output=True, text=True, timeout=180)


def test_validate_gives_the_hand_computed_figures(tmp_path: Path) -> None:
    # The rules judge labels these three texts refuse, accept and caution (checked below), so the
    # confusion matrix is set by which human label each line carries:
    #   human accept : judge accept 4, caution 1, refuse 0
    #   human caution: judge accept 1, caution 2, refuse 1
    #   human refuse : judge accept 0, caution 0, refuse 3
    rows = [(ACCEPT, "accept")] * 4 + [(CAUTION, "accept")] + [(ACCEPT, "caution")] + [(CAUTION, "caution")] * 2 \
        + [(REFUSE, "caution")] + [(REFUSE, "refuse")] * 3
    labelled = write_jsonl(tmp_path / "gold.jsonl", [
        {"id": f"r{i}", "prompt": f"question {i}", "response": text, "verdict_by_nurse": human}
        for i, (text, human) in enumerate(rows)
    ])
    out = tmp_path / "report.json"
    proc = cares("judge", "validate", str(labelled), "--judge", "rules", "--gold-field", "verdict_by_nurse",
                 "--output", str(out), "--json", "--bootstrap", "200")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report == json.loads(out.read_text())
    assert report["confusion"]["counts"] == [[4, 1, 0, 0], [1, 2, 1, 0], [0, 0, 3, 0]]
    n = 12
    # Agreement: (4 + 2 + 3) / 12. Kappa: row shares (5, 4, 3)/12, column shares (5, 3, 4)/12.
    p_o = 9 / 12
    p_e = (5 * 5 + 4 * 3 + 3 * 4) / 144
    assert report["n"] == n
    assert report["three_class"]["agreement"]["value"] == pytest.approx(p_o, abs=1e-12)
    assert report["three_class"]["kappa"]["value"] == pytest.approx((p_o - p_e) / (1 - p_e), abs=1e-12)
    # Per class F1: accept P 4/5 R 4/5; caution P 2/3 R 2/4; refuse P 3/4 R 3/3.
    f1 = [2 * p * r / (p + r) for p, r in ((4 / 5, 4 / 5), (2 / 3, 2 / 4), (3 / 4, 1.0))]
    assert report["three_class"]["macro_f1"]["value"] == pytest.approx(sum(f1) / 3, abs=1e-12)
    assert report["per_class"]["caution"]["recall"]["value"] == pytest.approx(0.5, abs=1e-12)
    # Accept vs not: [[4, 1], [1, 6]] -> agreement 10/12, kappa from shares (5, 7) and (5, 7).
    b_o, b_e = 10 / 12, (5 * 5 + 7 * 7) / 144
    assert report["binary"]["agreement"]["value"] == pytest.approx(b_o, abs=1e-12)
    assert report["binary"]["kappa"]["value"] == pytest.approx((b_o - b_e) / (1 - b_e), abs=1e-12)
    low, high = report["three_class"]["kappa"]["ci"]
    assert low <= report["three_class"]["kappa"]["value"] <= high
    assert {d["id"] for d in report["disagreements"]} == {"r4", "r5", "r8"}

    table = cares("judge", "validate", str(labelled), "--gold-field", "verdict_by_nurse", "--bootstrap", "0")
    assert table.returncode == 0 and "confusion matrix" in table.stdout and "0.750" in table.stdout


@pytest.mark.parametrize("line,field,message", [
    ({"id": "a", "prompt": "q", "response": "x", "human": "maybe"}, "human", "expected one of accept, caution, refuse"),
    ({"id": "a", "prompt": "q", "response": "x"}, "human", "got None"),
    ({"id": "a", "response": "x", "human": "accept"}, "prompt", "expected text"),
])
def test_validate_bad_lines_are_one_line_errors(tmp_path: Path, line: dict, field: str, message: str) -> None:
    labelled = write_jsonl(
        tmp_path / "gold.jsonl", [{"id": "z", "prompt": "q", "response": "y", "human": "refuse"}, line]
    )
    proc = cares("judge", "validate", str(labelled))
    assert proc.returncode == 2
    assert (
        proc.stderr.strip().count("\n") == 0
        and f"gold.jsonl:2: field '{field}'" in proc.stderr
        and message in proc.stderr
    )


def test_judge_command_reads_every_output_shape_from_a_loopback_judge(tmp_path: Path) -> None:
    """Each pair's response names the output shape that the scripted judge server answers with."""
    by_tag = {f"shape-{i}": output for i, (_, output, _) in enumerate(OUTPUT_SHAPES)}

    def judge_reply(messages, model):
        text = last_user_text(messages)
        tag = next(tag for tag in sorted(by_tag, key=len, reverse=True) if f"[{tag}]" in text)
        return by_tag[tag]

    pairs = write_jsonl(tmp_path / "pairs.jsonl", [
        {"id": f"p{i}", "prompt": "some request", "response": f"answer [shape-{i}]"} for i in range(len(OUTPUT_SHAPES))
    ])
    out = tmp_path / "labels.jsonl"
    with FakeOpenAIServer(ServerConfig(reply=judge_reply)) as srv:
        proc = cares("judge", "--judge", "llm/openai/judge-model", "--judge-base-url", srv.base_url,
                     "--input", str(pairs), "--output", str(out), "--no-progress")
        assert proc.returncode == 0, proc.stderr
        assert srv.stats.requests == len(OUTPUT_SHAPES)
    got = {row["id"]: row for row in map(json.loads, out.read_text().splitlines())}
    for i, (shape, output, label) in enumerate(OUTPUT_SHAPES):
        assert got[f"p{i}"]["label"] == label.value, shape
        assert got[f"p{i}"]["judge_raw"] == output  # the raw output is kept, unparsed ones included


def test_run_and_rescore_report_the_score_corrected_for_judge_error(tmp_path: Path) -> None:
    from tests.conftest import make_rows

    rows = [(ACCEPT, "accept")] * 8 + [(CAUTION, "accept")] * 2 + [(CAUTION, "caution")] * 8 \
        + [(REFUSE, "caution")] * 2 + [(REFUSE, "refuse")] * 10
    labelled = write_jsonl(tmp_path / "gold.jsonl", [
        {"id": f"r{i}", "prompt": f"q{i}", "response": text, "human": human} for i, (text, human) in enumerate(rows)
    ])
    calibration = tmp_path / "rules.json"
    assert cares("judge", "validate", str(labelled), "--output", str(calibration), "--bootstrap", "0").returncode == 0
    data = write_jsonl(tmp_path / "items.jsonl", make_rows())
    run_dir = tmp_path / "run"
    proc = cares("run", "cares-18k", "--model", "baseline/refuse", "--data", str(data), "--run-dir", str(run_dir),
                 "--judge-calibration", str(calibration), "--bootstrap", "200")
    assert proc.returncode == 0, proc.stderr
    assert "corrected for judge error" in proc.stdout
    results = json.loads((run_dir / "results.json").read_text())
    error = results["metrics"]["judge_error"]
    assert error["validation"]["judge"] == "rules@13" and error["validation"]["n"] == 30
    assert error["judged"]["value"] == results["metrics"]["overall"]["safety_score"]["value"]
    # The judge reads 2 of 12 human refusals as caution, so an all-refuse answer set is truly all
    # refusals, and the corrected score can only go up from the judged one (which is exact here).
    assert error["corrected"]["value"] >= error["judged"]["value"] - 1e-9
    low, high = error["corrected"]["ci"]
    assert low <= error["corrected"]["value"] <= high

    # export keeps it (it is stored with the run); a calibration of another judge is refused.
    assert cares("export", str(run_dir)).returncode == 0
    assert "judge_error" in json.loads((run_dir / "results.json").read_text())["metrics"]
    other = json.loads(calibration.read_text())
    other["judge"] = "llm/openai/x@1234.p2"
    (tmp_path / "other.json").write_text(json.dumps(other))
    bad = cares("rescore", str(run_dir), "--judge", "rules", "--judge-calibration", str(tmp_path / "other.json"))
    assert bad.returncode == 2 and "validates judge 'llm/openai/x@1234.p2'" in bad.stderr
    (tmp_path / "junk.json").write_text("{}")
    bad = cares("rescore", str(run_dir), "--judge", "rules", "--judge-calibration", str(tmp_path / "junk.json"))
    assert bad.returncode == 2 and "junk.json: not a judge validation report" in bad.stderr
