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
