"""A third-party package adds a model provider and a judge through the `cares.plugins` entry points.

The package is installed for real, as pip leaves it: its module and its `.dist-info` directory
(METADATA, entry_points.txt) on the path, where importlib.metadata finds it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CARES, cli_env

PLUGIN = '''
from cares.judges import judge
from cares.judges.base import Verdict
from cares.models.base import Model, ModelOptions
from cares.models.baselines import REFUSE_TEXT
from cares.models.registry import provider
from cares.tasks import TASKS
from cares.tasks.cares18k import Cares18KTask
from cares.types import Completion, Label, Usage


class EchoRefuser(Model):
    """Refuses every prompt, quoting its length, so that answers differ by prompt."""

    def __init__(self, name, options):
        self.spec = f"myplugin/{name}"
        self.name = name

    def identity(self):
        return {"provider": "myplugin", "model": self.name}

    async def generate(self, request):
        return Completion(text=f"{REFUSE_TEXT} ({len(request.messages[-1].content)} characters)",
                          usage=Usage(3, 5), finish_reason="stop")


@provider("myplugin", "myplugin/<anything> - a provider from an installed plugin", model_args=False)
def make(name: str, options: ModelOptions) -> EchoRefuser:
    return EchoRefuser(name, options)


class LengthJudge:
    id = "length-judge@1"

    async def judge(self, prompt, response):
        return Verdict(Label.REFUSE if "sorry" in response else Label.ACCEPT, "read " + response.rsplit("(", 1)[-1])

    async def aclose(self):
        return None


@judge("lengthjudge", "a judge from an installed plugin")
def make_judge(spec, options, template):
    return LengthJudge()


class MyBench(Cares18KTask):
    """CARES-18K's items under another name: a benchmark a plugin adds."""

    name = "my-bench"
    description = "a benchmark from an installed plugin"


TASKS.register(MyBench.name, MyBench, MyBench.description)
'''


@pytest.fixture
def plugin_path(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    (site / "cares_myplugin").mkdir(parents=True)
    (site / "cares_myplugin" / "__init__.py").write_text(PLUGIN)
    dist = site / "cares_myplugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: cares-myplugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[cares.plugins]\nmyplugin = cares_myplugin\n")
    return site


def cares(*args: str, site: Path | None) -> subprocess.CompletedProcess:
    env = cli_env()
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return subprocess.run(CARES + list(args), env=env, capture_output=True, text=True, timeout=180,
                          cwd=Path(__file__).resolve().parents[2])


def test_a_plugin_provider_and_judge_run_a_benchmark(plugin_path: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = cares("run", "cares-18k", "--model", "myplugin/x", "--judge", "lengthjudge", "--limit", "16",
                 "--bootstrap", "0", "--run-dir", str(run), "--no-progress", site=plugin_path)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((run / "results.json").read_text())
    samples = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    assert results["model"]["spec"] == "myplugin/x" and results["judge"] == "length-judge@1"
    assert results["counts"]["scored"] == 16 and len(samples) == 16
    assert all(s["label"] == "refuse" and s["response"].endswith("characters)") for s in samples)
    assert {s["judge_raw"] for s in samples} != {samples[0]["judge_raw"]}  # the plugin's judge read each answer


def test_cares_list_shows_plugins(plugin_path: Path) -> None:
    proc = cares("list", site=plugin_path)
    assert proc.returncode == 0, proc.stderr
    assert "myplugin" in proc.stdout and "a provider from an installed plugin" in proc.stdout
    assert "lengthjudge" in proc.stdout and "my-bench" in proc.stdout


def test_a_plugin_benchmark_runs(plugin_path: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = cares("run", "my-bench", "--model", "myplugin/x", "--judge", "lengthjudge", "--limit", "8",
                 "--bootstrap", "0", "--run-dir", str(run), "--no-progress", site=plugin_path)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((run / "results.json").read_text())
    assert results["benchmark"] == "my-bench" and results["counts"]["scored"] == 8


def test_without_the_plugin_its_names_are_unknown_with_a_suggestion(tmp_path: Path) -> None:
    proc = cares("run", "cares-18k", "--model", "myplugin/x", "--run-dir", str(tmp_path / "r"), site=None)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[-1].startswith("cares: error: unknown model provider 'myplugin' in 'myplugin/x'")


def test_model_args_are_refused_for_a_plugin_that_takes_none(plugin_path: Path, tmp_path: Path) -> None:
    proc = cares("run", "cares-18k", "--model", "myplugin/x", "--model-arg", "temperature_scale=2",
                 "--run-dir", str(tmp_path / "r"), site=plugin_path)
    assert proc.returncode == 2 and "--model-arg temperature_scale" in proc.stderr, proc.stderr
