"""The lean openai/ client against the SDK backend it replaced, on the same loopback server: the same
ids, answers, labels and metrics, and the same cache keys, so a run made with the SDK resumes on the
lean client without asking a single request again."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from cares.models import registry
from cares.models.base import ModelOptions
from cares.models.openai_api import OpenAIChatModel
from cares.runner.config import RunConfig
from cares.runner.engine import EngineOptions
from cares.runner.pipeline import RunOptions, evaluate_async
from cares.testing.openai_server import FakeOpenAIServer, ServerConfig
from cares.types import GenerationParams, Message, Request
from tests.conftest import make_rows, write_jsonl

pytest.importorskip("openai")
from cares.models.openai_sdk import OpenAISDKChatModel  # noqa: E402

# Fields that record how a call went, not what it gave: they differ from run to run of the same code.
_TIMING = {"latency_s", "attempts"}
_RESULT_VOLATILE = {"created_at", "updated_at", "timings", "this_invocation"}


def _run(config: RunConfig, run_dir: Path, base_url: str, transport: str = "auto") -> None:
    options = RunOptions(engine=EngineOptions(progress=False, concurrency=8, backoff_base_s=0.01, backoff_max_s=0.05),
                         model=ModelOptions(base_url=base_url, timeout_s=5, extra=(("transport", transport),)))
    asyncio.run(evaluate_async(config, run_dir, options))


def _samples(run_dir: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k not in _TIMING} for row in rows]


def _results(run_dir: Path) -> dict[str, Any]:
    data = json.loads((run_dir / "results.json").read_text())
    data["usage"].pop("attempts")  # the server's faults fall on different attempts in each run
    return {k: v for k, v in data.items() if k not in _RESULT_VOLATILE}


def test_a_run_on_the_sdk_and_on_the_lean_client_agree_and_resume_without_asking(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", make_rows(tuple(i % 4 for i in range(25))))
    config = RunConfig("cares-18k", "openai/same-model", data=str(data),
                       params=GenerationParams(seed=3, system_prompt="Be careful."))
    # Faults on some first attempts, so that retried answers are compared too.
    with FakeOpenAIServer(ServerConfig(fault_rate=0.15, retry_after_s=0.01, seed=5)) as srv:
        with registry.PROVIDERS.override("openai", registry.Provider(OpenAISDKChatModel)):
            _run(config, tmp_path / "sdk", srv.base_url)
        sdk_samples, sdk_results = _samples(tmp_path / "sdk"), _results(tmp_path / "sdk")
        monkeypatch.setenv("CARES_ANSWER_CACHE", str(tmp_path / "other-cache.sqlite"))  # ask the server again
        _run(config, tmp_path / "lean", srv.base_url)  # plain http: the wire client
        monkeypatch.setenv("CARES_ANSWER_CACHE", str(tmp_path / "third-cache.sqlite"))
        _run(config, tmp_path / "aiohttp", srv.base_url, transport="aiohttp")
        asked = srv.stats.requests
        _run(config, tmp_path / "sdk", srv.base_url)  # a resume of the SDK's run on the lean client
        assert srv.stats.requests == asked, "the lean client asked again what the SDK's run had answered"
    assert len(sdk_samples) == 100 and all(row["status"] == "scored" for row in sdk_samples)
    assert sdk_samples == _samples(tmp_path / "lean") == _samples(tmp_path / "aiohttp") == _samples(tmp_path / "sdk")
    assert sdk_results == _results(tmp_path / "lean") == _results(tmp_path / "sdk")


def test_the_cache_key_and_identity_are_those_of_the_sdk_backend() -> None:
    options = ModelOptions(base_url="http://127.0.0.1:18931/v1/")
    request = Request((Message("user", "Benchmark base request 0 about topic 0"),), GenerationParams())
    lean, sdk = OpenAIChatModel("x", options), OpenAISDKChatModel("x", options)
    assert lean.identity() == sdk.identity() == {"provider": "openai", "model": "x", "base_url": "http://127.0.0.1:18931/v1"}
    # Pinned from a run the SDK backend made: a change here would make every stored run ask again.
    assert request.cache_key(lean.identity()) == "1b0d971ae965ff70bb37b8be0e5cac72"
