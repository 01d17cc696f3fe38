"""examples/custom_vlm_adapter.py runs end to end: a tiny Llava checkpoint behind the `python/`
adapter, through the real command line, on the bundled CARES-VQA sample."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CARES, REPO, cli_env

pytest.importorskip("torch")
pytest.importorskip("transformers")

TARGET = "python/examples/custom_vlm_adapter.py:CustomVLM"


@pytest.mark.slow
def test_custom_vlm_adapter_answers_cares_vqa(tmp_path: Path) -> None:
    from cares.testing.tiny_models import build

    checkpoint = build("llava", tmp_path / "tiny-llava")
    runs = tmp_path / "runs"
    # One CPU thread (tiny matrices gain nothing from more) and no hub, as for the hf/ tests.
    env = cli_env(
        CARES_ADAPTER_MODEL=str(checkpoint), CARES_ADAPTER_DEVICE="cpu", OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1"
    )
    args = ["run", "cares-vqa", "--model", TARGET, "--limit", "2", "--max-tokens", "8",
            "--runs-root", str(runs), "--no-progress"]

    # cwd = the repository root, so the target is the path a user types.
    proc = subprocess.run(CARES + args, env=env, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr

    (run_dir,) = (runs / "cares-vqa").iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    counts = results["counts"]
    assert counts["items"] == 2
    assert counts["requests"] > counts["items"]  # the variants of every task were asked
    assert counts["answered"] == counts["requests"] and counts["failed"] == 0 and counts["pending"] == 0
    assert results["usage"]["completion_tokens"] > 0
    identity = results["model"]["identity"]
    assert identity["provider"] == "python" and identity["version"].startswith("1+")

    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == counts["requests"]
    assert all(s["status"] == "scored" and isinstance(s["response"], str) for s in samples)
    assert all(s["images"] for s in samples)  # every request went to the model with its image
    assert all(0 < s["usage"]["completion_tokens"] <= 8 for s in samples)

    # The same command again finds every answer in the run store and asks nothing.
    again = subprocess.run(CARES + args + ["--json"], env=env, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["this_invocation"]["requested"] == 0
