"""results.json of both benchmarks, as `cares run` writes it, satisfies the JSON Schema shipped in the
package; the typed results read it back unchanged, and refuse what they cannot read."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from cares.errors import ConfigError
from cares.results import (
    SCHEMA_VERSION,
    Cares18kResults,
    CaresVqaResults,
    PluginResults,
    json_schema,
    results_from_dict,
)
from cares.runner.result import RunResult
from tests.cli.test_cli import cares


def run(tmp_path_factory: pytest.TempPathFactory, *args: str) -> dict:
    run_dir = tmp_path_factory.mktemp("run") / "run"
    proc = cares("run", *args, "--run-dir", str(run_dir), "--no-progress", "--bootstrap", "20", "--no-cache")
    assert proc.returncode == 0, proc.stderr
    return json.loads((run_dir / "results.json").read_text())


@pytest.fixture(scope="module")
def cares18k(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run(tmp_path_factory, "cares-18k", "--model", "baseline/caution", "--limit", "40")


@pytest.fixture(scope="module")
def cares_vqa(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run(tmp_path_factory, "cares-vqa", "--model", "baseline/constant:Yes", "--tasks", "factuality,privacy")


def validator() -> jsonschema.Draft202012Validator:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors(results: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator().iter_errors(results)]


def test_both_benchmarks_results_satisfy_the_shipped_schema(cares18k: dict, cares_vqa: dict) -> None:
    for results in (cares18k, cares_vqa):
        assert errors(results) == []
        assert results["schema_version"] == SCHEMA_VERSION and results["value_scale"] == "fraction"
    assert isinstance(results_from_dict(cares18k), Cares18kResults)
    assert isinstance(results_from_dict(cares_vqa), CaresVqaResults)
    # Read into the typed classes and written out again, nothing changes.
    assert results_from_dict(cares18k).to_dict() == cares18k
    assert results_from_dict(cares_vqa).to_dict() == cares_vqa


def test_the_schema_catches_percents_missing_keys_and_the_wrong_benchmarks_metrics(cares18k: dict,
                                                                                  cares_vqa: dict) -> None:
    percent = copy.deepcopy(cares18k)
    percent["metrics"]["overall"]["safety_score"]["value"] = 75.0
    assert any(e.startswith("metrics/overall/safety_score/value") for e in errors(percent))
    unversioned = {key: value for key, value in cares18k.items() if key != "schema_version"}
    assert errors(unversioned) == [": 'schema_version' is a required property"]
    swapped = {**cares_vqa, "metrics": cares18k["metrics"]}
    assert any("'factuality' is a required property" in e for e in errors(swapped))
    renamed = {**cares18k, "count": cares18k["counts"]}
    del renamed["counts"]
    assert errors(renamed)


def test_files_from_before_the_version_read_and_newer_ones_are_refused(cares18k: dict) -> None:
    legacy = {key: value for key, value in cares18k.items() if key not in ("schema_version", "value_scale")}
    assert results_from_dict(legacy).to_dict() == cares18k
    with pytest.raises(ConfigError, match=r"schema_version 2 is newer than this cares reads \(1\); upgrade cares"):
        results_from_dict({**cares18k, "schema_version": SCHEMA_VERSION + 1})
    with pytest.raises(ConfigError, match="no benchmark named"):
        results_from_dict({key: value for key, value in cares18k.items() if key != "benchmark"})


def test_a_plugin_benchmark_reads_by_dotted_path_without_a_headline(cares18k: dict, tmp_path: Path) -> None:
    plugin = {**cares18k, "benchmark": "my-bench", "metrics": {"overall": {"hit_rate": {"value": 0.5, "ci": [0.4, 0.6],
                                                                                      "n": 10}}}}
    assert errors(plugin) == []
    typed = results_from_dict(plugin)
    assert isinstance(typed, PluginResults) and typed.benchmark == "my-bench" and typed.to_dict() == plugin
    assert typed.metric("overall.hit_rate").value == 0.5 and typed.headline is None
    assert results_from_dict(plugin) == typed
    result = RunResult(tmp_path, typed)
    assert repr(result) == f"RunResult(my-bench, model='baseline/caution', n=40, run_dir='{tmp_path}')"
    with pytest.raises(AttributeError, match="a my-bench run has no Safety Score"):
        _ = result.safety_score


def test_the_schema_ships_with_the_package() -> None:
    import cares.results

    shipped = Path(cares.results.__file__).parent / "schema" / "results.schema.json"
    assert json.loads(shipped.read_text()) == json_schema()
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"results/schema/*.json"' in pyproject
