"""Unknown names on the command line: one line, exit 2, the closest known name, no traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import CARES, cli_env


@pytest.mark.parametrize("args,message", [
    (["run", "cares-18", "--model", "baseline/refuse"],
     "unknown benchmark 'cares-18'; did you mean 'cares-18k'? (known: cares-18k, cares-vqa"),
    (["run", "cares-18k", "--model", "opnai/gpt-4o-mini"],
     "unknown model provider 'opnai' in 'opnai/gpt-4o-mini'; did you mean 'openai'?"),
    (["run", "cares-18k", "--model", "guard/baselin/refuse"],
     "unknown model provider 'baselin' in 'baselin/refuse'; did you mean 'baseline'?"),
    (["run", "cares-18k", "--model", "baseline/refuse", "--judge", "rule"],
     "unknown judge 'rule'; did you mean 'rules'? (known: cascade[@T]:llm/<model spec>, llm/<model spec>, rules"),
    (["run", "cares-vqa", "--model", "baseline/refuse", "--toxicity-scorer", "perspectiv"],
     "--toxicity-scorer: unknown toxicity scorer 'perspectiv'; did you mean 'perspective'?"),
])
def test_unknown_names_suggest(tmp_path: Path, args: list[str], message: str) -> None:
    proc = subprocess.run(CARES + args + ["--run-dir", str(tmp_path / "r")], env=cli_env(), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("cares: error:")]
    assert len(errors) == 1 and errors[0].startswith(f"cares: error: {message}"), proc.stderr
    assert not (tmp_path / "r").exists()
