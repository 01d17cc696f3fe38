"""`cares run --model hf/<dir>` as a user runs it, on tiny random-weight checkpoints."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import CARES, local_env, make_rows, write_jsonl

pytest.importorskip("torch")
pytest.importorskip("transformers")


def cares(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(CARES + list(args), env=local_env(), capture_output=True, text=True, timeout=180)


def results(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


def diagnose(proc: subprocess.CompletedProcess, runs: Path) -> str:
    """stderr, plus the stored errors of any run under `runs`: why a run exited as it did."""
    errors = []
    for store in runs.rglob("run.sqlite") if runs.exists() else []:
        with sqlite3.connect(store) as db:
            errors += [row[0] for row in db.execute("SELECT DISTINCT error FROM responses WHERE status != 'ok'")]
    return f"exit {proc.returncode}\n{proc.stderr}\nstored errors: {errors}"


def test_cares18k_with_a_tiny_llama(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    proc = cares("run", "cares-18k", "--model", f"hf/{tiny_models['llama']}", "--max-tokens", "16",
                 "--model-arg", "dtype=float32", "--limit", "24", "--run-dir", str(run_dir), "--no-progress")
    assert proc.returncode == 0, diagnose(proc, run_dir)
    res = results(run_dir)
    assert res["counts"]["items"] == 24 and res["counts"]["answered"] == 24 and res["counts"]["failed"] == 0
    assert res["this_invocation"]["requested"] == 24 and res["this_invocation"]["newly_answered"] == 24
    identity = res["model"]["identity"]
    assert identity["provider"] == "hf" and identity["kind"] == "text" and identity["dtype"] == "float32"
    assert str(tiny_models["llama"]) not in json.dumps(identity)
    assert 0 < res["usage"]["completion_tokens"] <= 24 * 16
    rows = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 24 and all(row["status"] in ("scored", "unparsed") for row in rows)


def test_cares_vqa_with_tiny_vision_language_models(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    specs = {f"hf/{tiny_models[kind]}": kind for kind in ("llava", "idefics3")}
    proc = cares("run", "cares-vqa", *[f"--model={spec}" for spec in specs], "--max-tokens", "8",
                 "--model-arg", "dtype=float32", "--limit", "3", "--tasks", "factuality,robustness",
                 "--runs-root", str(runs), "--no-progress", "--bootstrap", "0")
    assert proc.returncode == 0, diagnose(proc, runs)
    run_dirs = sorted(path.parent for path in runs.rglob("results.json"))
    assert {results(run_dir)["model"]["spec"] for run_dir in run_dirs} == set(specs)
    for run_dir in run_dirs:
        res = results(run_dir)
        counts = res["counts"]
        assert counts["items"] == 3 and counts.get("skipped_items", 0) == 0
        assert counts["requests"] >= 6 and counts["answered"] == counts["requests"] and counts["failed"] == 0
        assert res["model"]["identity"]["kind"] == "vlm"
        with sqlite3.connect(run_dir / "run.sqlite") as db:
            requests = [json.loads(r[0]) for r in db.execute("SELECT request FROM responses WHERE status = 'ok'")]
        assert len(requests) == counts["requests"] and all(len(r["images"]) == 1 for r in requests)
        assert any(r["images"][0]["transform"] for r in requests), "robustness sends noisy images"


def test_a_text_only_model_on_cares_vqa_stops_with_one_line(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    from PIL import Image

    images = tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (24, 24), (90, 90, 90)).save(images / "a.png")
    questions = write_jsonl(tmp_path / "q.jsonl", [
        {"id": f"q{i}", "image": "a.png", "question": "Is there a fracture?", "answer_type": "yesno", "answer": "no"}
        for i in range(3)
    ])
    run_dir = tmp_path / "run"
    proc = cares("run", "cares-vqa", "--model", f"hf/{tiny_models['llama']}", "--max-tokens", "4",
                 "--data", f"custom={questions}", "--image-root", f"custom={images}", "--tasks", "factuality",
                 "--run-dir", str(run_dir), "--no-progress")
    assert proc.returncode == 1, diagnose(proc, run_dir)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("cares: error: ") and "is a text-only model (llama)" in lines[0]


def _bad_model_args(tiny_models: dict[str, Path], tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    no_config = tmp_path / "not-a-checkpoint"
    no_config.mkdir()
    (no_config / "model.safetensors").write_bytes(b"x")
    missing = tmp_path / "no" / "such" / "model"
    llama = f"hf/{tiny_models['llama']}"
    return {
        "missing path": (["--model", f"hf/{missing}"], f"no such directory {missing}"),
        "no config.json": (["--model", f"hf/{no_config}"], "is not a transformers checkpoint (no config.json in it)"),
        "unknown model-arg": (["--model", llama, "--model-arg", "temprature=0.3"], "unknown --model-arg 'temprature'"),
        "bad model-arg value": (["--model", llama, "--model-arg", "batch_size=0"], "batch_size must be at least 1"),
        "model-arg without hf": (["--model", "baseline/refuse", "--model-arg", "dtype=float32"],
                                 "--model-arg dtype: no model here takes --model-arg settings (baseline/refuse;"),
    }


@pytest.mark.parametrize("case", ["missing path", "no config.json", "unknown model-arg", "bad model-arg value",
                                  "model-arg without hf"])
def test_bad_local_model_input_is_one_line_exit_2(tiny_models: dict[str, Path], tmp_path: Path, case: str) -> None:
    args, message = _bad_model_args(tiny_models, tmp_path)[case]
    data = write_jsonl(tmp_path / "d.jsonl", make_rows((0, 1)))
    proc = cares("run", "cares-18k", *args, "--data", str(data), "--runs-root", str(tmp_path / "runs"),
                 "--no-progress")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("cares: error: ") and message in lines[0]
    assert not (tmp_path / "runs").exists()


def _stored(run_dir: Path) -> dict[str, tuple]:
    with sqlite3.connect(run_dir / "run.sqlite") as db:
        rows = db.execute("SELECT key, status, text, prompt_tokens, completion_tokens, attempts, finish_reason, "
                          "created_at FROM responses").fetchall()
    return {row[0]: row[1:] for row in rows}


def test_sigkill_mid_run_then_resume_asks_only_for_the_rest(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", make_rows(tuple(i % 4 for i in range(16))))  # 64 items
    run_dir = tmp_path / "run"
    command = CARES + ["run", "cares-18k", "--model", f"hf/{tiny_models['llama']}", "--max-tokens", "64",
                       "--model-arg", "batch_size=2", "--model-arg", "ignore_eos=true", "--model-arg", "dtype=float32",
                       "--data", str(data), "--no-progress", "--run-dir", str(run_dir)]
    log = (tmp_path / "killed.stderr").open("w")
    proc = subprocess.Popen(command, env=local_env(), stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.time() + 90
        count = 0
        while time.time() < deadline and proc.poll() is None:
            if (run_dir / "run.sqlite").exists():
                try:
                    with sqlite3.connect(run_dir / "run.sqlite") as db:
                        count = db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
                except sqlite3.OperationalError:  # the schema is being created
                    count = 0
                if count >= 10:
                    break
            time.sleep(0.02)
        assert count >= 10, (
            f"{count} answers before the deadline; exit {proc.poll()}: {(tmp_path / 'killed.stderr').read_text()}"
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    assert proc.returncode == -signal.SIGKILL
    before = _stored(run_dir)
    print(f"killed with {len(before)} of 64 answers saved")
    assert 10 <= len(before) < 64, "the run finished before it could be killed"
    assert all(row[0] == "ok" and row[3] == 64 and row[5] == "length" for row in before.values())

    resumed = subprocess.run(command, env=local_env(), capture_output=True, text=True, timeout=180)
    assert resumed.returncode == 0, diagnose(resumed, run_dir)
    after = _stored(run_dir)
    assert len(after) == 64
    assert {key: after[key] for key in before} == before, "an answer saved before the kill changed"
    res = results(run_dir)
    assert res["this_invocation"]["requested"] == 64 - len(before)
    assert res["this_invocation"]["newly_answered"] == 64 - len(before)
    assert res["counts"]["answered"] == 64 and res["counts"]["pending"] == 0 and res["counts"]["failed"] == 0
    assert res["counts"]["scored"] + res["counts"]["unparsed"] == 64
    assert res["usage"]["completion_tokens"] == 64 * 64
    rows = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 64 and len({row["id"] for row in rows}) == 64
