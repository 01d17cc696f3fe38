"""Skipped CARES-VQA items (an image missing, or one escaping its root) are counted in the terminal's
closing line, with their reasons, not only in results.json."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from PIL import Image

from tests.conftest import CARES, cli_env


def test_the_closing_line_counts_skipped_items_by_reason(tmp_path: Path) -> None:
    root = tmp_path / "images"
    root.mkdir()
    Image.new("RGB", (32, 32), (9, 9, 9)).save(root / "ok.png")
    Image.new("RGB", (32, 32), (9, 9, 9)).save(tmp_path / "outside.png")
    rows = [{"id": "a", "image": "ok.png", "question": "Is it dark?", "answer_type": "yesno", "answer": "yes"},
            {"id": "b", "image": "missing.png", "question": "Is it dark?", "answer_type": "yesno", "answer": "yes"},
            {"id": "c", "image": "../outside.png", "question": "Is it dark?", "answer_type": "yesno", "answer": "yes"}]
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps(row) + "\n" for row in rows))
    proc = subprocess.run(CARES + ["run", "cares-vqa", "--model", "baseline/constant:Yes",
                                   "--data", f"custom={questions}", "--image-root", f"custom={root}",
                                   "--run-dir", str(tmp_path / "run"), "--no-progress", "--tasks", "factuality"],
                          env=cli_env(), capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert (
        "items 1: scored 1, failed 0, unparsed 0, pending 0; skipped items 2 (missing 1, escapes_root 1)" in proc.stdout
    )
    assert "2 items could not be asked" in proc.stdout
