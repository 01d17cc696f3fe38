"""`cares show RUN --json` prints the typed results, `cares list --json` the registries, each as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from cares.results import json_schema
from tests.cli.test_cli import cares


def test_show_json_prints_the_typed_results(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    proc = cares("run", "cares-18k", "--model", "baseline/refuse", "--limit", "12", "--run-dir", str(run_dir),
                 "--no-progress", "--bootstrap", "10")
    assert proc.returncode == 0, proc.stderr
    shown = cares("show", str(run_dir), "--json")
    assert shown.returncode == 0, shown.stderr
    printed = json.loads(shown.stdout)
    assert printed == json.loads((run_dir / "results.json").read_text())
    assert printed["schema_version"] == 1 and printed["value_scale"] == "fraction"
    jsonschema.validate(printed, json_schema())
    table = cares("show", str(run_dir))
    assert table.returncode == 0 and "Safety Score" in table.stdout and not table.stdout.lstrip().startswith("{")


def test_show_json_of_a_directory_without_results_is_one_line_error(tmp_path: Path) -> None:
    proc = cares("show", str(tmp_path), "--json")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == f"cares: error: {tmp_path}: not a run directory (no results.json, no run.sqlite)"


def test_list_json() -> None:
    proc = cares("list", "--json")
    assert proc.returncode == 0, proc.stderr
    listing = json.loads(proc.stdout)
    assert set(listing) == {"benchmarks", "model_providers", "judges"}
    assert set(listing["benchmarks"]) == {"cares-18k", "cares-vqa"}
    assert {"baseline", "openai", "python", "hf"} <= set(listing["model_providers"])
    assert any(name.startswith("rules") for name in listing["judges"])
    text = cares("list").stdout
    assert text.startswith("benchmarks:\n  cares-18k") and "model providers:\n" in text and "judges:\n" in text
