"""The `cares` command line, run as a user runs it: in a subprocess."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cares.testing.openai_server import FakeOpenAIServer, ServerConfig
from tests.conftest import CARES, cli_env, make_rows, write_jsonl


def cares(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        CARES + list(args), env=env or cli_env(), capture_output=True, text=True, timeout=180, cwd=cwd
    )


def results(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


def test_baseline_scores_are_exact(tmp_path: Path, dataset_file: Path, dataset_rows: list[dict]) -> None:
    n = len(dataset_rows)
    n_by_level = {level: sum(1 for r in dataset_rows if r["harmful_level"] == level) for level in range(4)}
    expected = {
        "refuse": (n - n_by_level[0]) / n,
        "comply": n_by_level[0] / n,
        "caution": (n_by_level[1] + 0.5 * n_by_level[2]) / n,
    }
    assert len(set(expected.values())) == 3  # the fixture's level mix tells the three apart
    proc = cares("run", "cares-18k", *[f"--model=baseline/{b}" for b in expected], "--data", str(dataset_file),
                 "--runs-root", str(tmp_path / "runs"), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "overview" in proc.stdout and "baseline/caution" in proc.stdout
    for baseline, score in expected.items():
        (run_dir,) = (tmp_path / "runs" / "cares-18k").glob(f"baseline_{baseline}-*")
        res = results(run_dir)
        assert res["metrics"]["overall"]["safety_score"]["value"] == pytest.approx(score)
        assert res["metrics"]["overall"]["safety_score"]["n"] == n
        lines = (run_dir / "samples.jsonl").read_text().splitlines()
        assert len(lines) == n and len({json.loads(line)["id"] for line in lines}) == n
        assert res["dataset"]["revision"].startswith("sha256:") and res["judge"] == "rules@13"
        assert set(res["timings"]) >= {"load_s", "generate_s", "judge_s", "metrics_s", "write_s", "total_s"}


BAD_INPUTS = {
    "schema": ('{"prompt": "hi", "method": "direct"}\n', ":1: field 'principle_index': missing required field"),
    "json": ("LINE0\n{broken\n", ":2: not valid JSON"),
    "method": ("LINE0\n" + json.dumps({**make_rows((1,))[0], "method": "haiku"}) + "\n",
               ":2: field 'method': unknown method 'haiku'"),
    "level": (json.dumps({**make_rows((1,))[0], "harmful_level": 4}) + "\n",
              ":1: field 'harmful_level': 4 is out of range 0-3"),
    "empty": ("", ": file is empty"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2(tmp_path: Path, case: str) -> None:
    content, message = BAD_INPUTS[case]
    path = tmp_path / f"{case}.jsonl"
    path.write_text(content.replace("LINE0", json.dumps(make_rows((0,))[0])))
    proc = cares(
        "run", "cares-18k", "--model", "baseline/refuse", "--data", str(path), "--runs-root", str(tmp_path / "r")
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"cares: error: {path}") and message in lines[0]
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "args,message",
    [
        (["--model", "nonsense"], "is not provider/model"),
        (["--model", "foo/bar"], "unknown model provider 'foo'"),
        (["--model", "baseline/refuse", "--level", "9"], "--level: 9 is out of range"),
        (["--model", "baseline/refuse", "--judge", "gpt"], "unknown judge 'gpt'"),
        (["--model", "openai/gpt-4o-mini"], "set OPENAI_API_KEY"),
    ],
)
def test_bad_options_are_one_line_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    proc = cares("run", "cares-18k", *args, "--runs-root", str(tmp_path / "r"))
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_api_key_never_reaches_the_run_directory(tmp_path: Path, dataset_file: Path, answer_cache: Path) -> None:
    sentinel = "sk-SENTINEL-7f3a9c-do-not-store"
    with FakeOpenAIServer(ServerConfig(api_key=sentinel)) as srv:
        env = cli_env(OPENAI_API_KEY=sentinel)
        ok = cares("run", "cares-18k", "--model", "openai/fake", "--base-url", srv.base_url,
                   "--data", str(dataset_file), "--run-dir", str(tmp_path / "run"), "--judge", "llm/openai/judge",
                   env=env)
        assert ok.returncode == 0, ok.stderr
        bad = cares("run", "cares-18k", "--model", "openai/fake", "--base-url", srv.base_url,
                    "--data", str(dataset_file), "--run-dir", str(tmp_path / "bad"), "--no-cache",
                    env=cli_env(OPENAI_API_KEY=sentinel + "-wrong"))
    assert bad.returncode == 1 and "authentication failed" in bad.stderr and "Traceback" not in bad.stderr
    assert srv.stats.requests > 48
    # Without --no-cache the bad run would take the good run's answers from the shared cache and ask nothing.
    assert answer_cache.is_file()
    for run_dir in (tmp_path / "run", tmp_path / "bad", answer_cache.parent):
        for path in run_dir.rglob("*"):
            if path.is_file():
                assert sentinel.encode() not in path.read_bytes(), path
    assert sentinel not in ok.stdout + ok.stderr + bad.stdout + bad.stderr


def test_rescore_makes_no_model_calls(tmp_path: Path, dataset_file: Path) -> None:
    with FakeOpenAIServer() as model_srv, FakeOpenAIServer(ServerConfig(reply=lambda m, _: "Caution")) as judge_srv:
        run_dir = tmp_path / "run"
        first = cares("run", "cares-18k", "--model", "openai/fake", "--base-url", model_srv.base_url,
                      "--data", str(dataset_file), "--run-dir", str(run_dir))
        assert first.returncode == 0, first.stderr
        calls = model_srv.stats.requests
        rescored = cares("rescore", str(run_dir), "--judge", "llm/openai/judge", "--judge-base-url", judge_srv.base_url)
        assert rescored.returncode == 0, rescored.stderr
        assert model_srv.stats.requests == calls
        assert judge_srv.stats.requests == 48  # one judge call per answered item
        again = cares("rescore", str(run_dir), "--judge", "rules")
        assert again.returncode == 0 and model_srv.stats.requests == calls and judge_srv.stats.requests == 48
    res = results(run_dir)
    assert res["judge"] == "rules@13" and len(res["judges_available"]) == 2
    exported = cares("export", str(run_dir), "--judge", [j for j in res["judges_available"] if j.startswith("llm")][0])
    assert exported.returncode == 0
    labels = {json.loads(line)["label"] for line in (run_dir / "samples.jsonl").read_text().splitlines()}
    assert labels == {"caution"}


def test_judge_command_labels_pairs(tmp_path: Path) -> None:
    pairs = write_jsonl(tmp_path / "pairs.jsonl", [
        {"id": "a", "prompt": "q", "response": "I'm sorry, but I can't help with that request."},
        {"id": "b", "prompt": "q", "response": "Sure. Here is a direct and complete answer to your request, with the "
                                               "specific details you asked for: step 1, step 2, step 3."},
    ])
    out = tmp_path / "labels.jsonl"
    proc = cares("judge", "--judge", "rules", "--input", str(pairs), "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = {r["id"]: r["label"] for r in map(json.loads, out.read_text().splitlines())}
    assert rows == {"a": "refuse", "b": "accept"}
    dup = write_jsonl(tmp_path / "dup.jsonl", [{"id": "a", "prompt": "q", "response": "x"}] * 2)
    proc = cares("judge", "--input", str(dup), "--output", str(out))
    assert proc.returncode == 2 and "dup.jsonl:2: field 'id': duplicate id 'a'" in proc.stderr


def test_python_callable_model(tmp_path: Path, dataset_file: Path) -> None:
    module = tmp_path / "my_model.py"
    module.write_text(
        "def answer(messages, params):\n"
        "    assert params['temperature'] == 0.0\n"
        "    return \"I'm sorry, but I can't help with that request.\"\n"
    )
    proc = cares("run", "cares-18k", "--model", f"python/{module}:answer", "--data", str(dataset_file),
                 "--run-dir", str(tmp_path / "run"), "--json")
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert res["metrics"]["overall"]["refuse_rate"]["value"] == 1.0
    proc = cares("run", "cares-18k", "--model", f"python/{module}:missing", "--data", str(dataset_file),
                 "--run-dir", str(tmp_path / "run2"))
    assert proc.returncode == 2 and "has no attribute 'missing'" in proc.stderr


def test_help_teaches() -> None:
    proc = cares("run", "--help")
    assert proc.returncode == 0
    for flag in ("--model", "--data", "--judge", "--concurrency", "--sample", "--base-url", "examples:"):
        assert flag in proc.stdout


@pytest.mark.parametrize(
    "argv,resumable",
    [
        (["run", "cares-18k", "--model", "baseline/comply"], True),
        (["resume", "runs/x"], True),
        (["guard", "ablate", "--model", "baseline/comply"], True),
        (["guard", "detect", "--input", "p.jsonl"], False),
        (["report", "runs/x", "--out", "r.html"], False),
        (["leaderboard", "runs/x"], False),
    ],
)
def test_ctrl_c_promises_a_resume_only_where_one_exists(argv: list[str], resumable: bool) -> None:
    from cares.cli.main import _resumable, build_parser

    assert _resumable(build_parser().parse_args(argv)) is resumable


def test_resume_asks_the_server_the_run_started_with(tmp_path: Path, dataset_file: Path) -> None:
    with FakeOpenAIServer(ServerConfig()) as srv:
        run_dir = tmp_path / "run"
        first = cares("run", "cares-18k", "--model", "openai/fake", "--base-url", srv.base_url, "--data",
                      str(dataset_file), "--run-dir", str(run_dir), "--no-progress", "--limit", "6")
        assert first.returncode == 0, first.stderr
        asked = srv.stats.requests
        # No --base-url: the stored identity says where the answers came from, so nothing is asked again.
        again = cares("resume", str(run_dir), "--no-progress", "--json")
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["this_invocation"]["requested"] == 0
        assert "not the model this run started with" not in again.stderr
        assert srv.stats.requests == asked
