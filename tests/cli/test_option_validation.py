"""Values that cannot work are refused up front, in the configuration objects (so the CLI and the API
agree), as one line naming the option, exit 2, before any request; client-side errors are never retried."""

from __future__ import annotations

import asyncio
import math
import random
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from cares.checks import InvalidSetting
from cares.models.base import ModelOptions
from cares.models.openai_api import OpenAIChatModel
from cares.runner.config import RunConfig
from cares.runner.engine import EngineOptions, call_with_retries
from cares.testing.openai_server import FakeOpenAIServer
from cares.types import GenerationParams, Message, Request
from tests.conftest import CARES, cli_env, make_rows, write_jsonl

REFUSED = {
    "temperature-nan": (["--temperature", "nan"], "--temperature nan: expected a finite number"),
    "temperature-inf": (["--temperature", "inf"], "--temperature inf: expected a finite number"),
    "temperature-negative": (["--temperature", "-0.5"], "--temperature -0.5: must be 0 or more"),
    "timeout-zero": (["--timeout", "0"], "--timeout 0.0: must be more than 0"),
    "timeout-nan": (["--timeout", "nan"], "--timeout nan: expected a finite number"),
    "base-url-not-a-url": (["--base-url", "not-a-url"], "--base-url 'not-a-url': expected an http:// or https:// URL"),
    "base-url-bad-port": (["--base-url", "http://localhost:99999/v1"],
                          "--base-url 'http://localhost:99999/v1': not a URL"),
    "judge-base-url": (["--judge", "llm/openai/j", "--judge-base-url", "localhost:8000"],
                       "--judge-base-url 'localhost:8000'"),
    "top-p-zero": (["--top-p", "0"], "--top-p 0.0: must be more than 0"),
    "top-p-above-one": (["--top-p", "1.5"], "--top-p 1.5: must be 1 or less"),
    "retry-base-nan": (["--retry-base", "nan"], "--retry-base nan: expected a finite number"),
    "seed-negative": (["--seed", "-1"], "--seed -1: must be 0 or more"),
    "max-attempts-zero": (["--max-attempts", "0"], "--max-attempts must be at least 1"),
    "temperature-text": (["--temperature", "warm"], "argument --temperature: invalid float value: 'warm'"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_values_that_cannot_work_are_refused_before_any_request(tmp_path: Path, case: str) -> None:
    options, message = REFUSED[case]
    data = write_jsonl(tmp_path / "d.jsonl", make_rows((0, 3)))
    with FakeOpenAIServer() as srv:
        base = [] if "--base-url" in options else ["--base-url", srv.base_url]
        proc = subprocess.run(CARES + ["run", "cares-18k", "--model", "openai/fake", *base, "--data", str(data),
                                       "--run-dir", str(tmp_path / "run"), "--no-progress", *options],
                              env=cli_env(), capture_output=True, text=True, timeout=120)
        assert srv.stats.requests == 0
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "run").exists()


def test_the_python_api_refuses_the_same_values() -> None:
    for make, setting in [
        (lambda: GenerationParams(temperature=math.nan), "GenerationParams.temperature"),
        (lambda: GenerationParams(max_tokens=0), "GenerationParams.max_tokens"),
        (lambda: EngineOptions(timeout_s=0), "EngineOptions.timeout_s"),
        (lambda: EngineOptions(backoff_base_s=math.inf), "EngineOptions.backoff_base_s"),
        (lambda: ModelOptions(base_url="not-a-url"), "ModelOptions.base_url"),
        (lambda: ModelOptions(timeout_s=-1), "ModelOptions.timeout_s"),
        (lambda: RunConfig("cares-18k", "baseline/refuse", bootstrap=-1), "RunConfig.bootstrap"),
    ]:
        with pytest.raises(InvalidSetting) as caught:
            make()
        assert caught.value.setting == setting


def test_a_bad_openai_base_url_in_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "localhost:8000")
    with pytest.raises(InvalidSetting, match="OPENAI_BASE_URL 'localhost:8000'"):
        OpenAIChatModel("m", ModelOptions())


def test_a_client_side_error_is_tried_once_and_never_sent() -> None:
    request = Request((Message("user", "hi"),), GenerationParams())
    # A value no configuration object accepts, forced in to stand for any request the SDK cannot encode.
    object.__setattr__(request.params, "temperature", math.nan)
    with FakeOpenAIServer() as srv:
        model = OpenAIChatModel("m", ModelOptions(base_url=srv.base_url, timeout_s=5))

        async def ask() -> tuple[object, str | None, int, float]:
            try:
                return await call_with_retries(model, request, EngineOptions(max_attempts=6, backoff_base_s=0.01),
                                               random.Random(0))
            finally:
                await model.aclose()

        response, error, attempts, _ = asyncio.run(ask())
        assert srv.stats.requests == 0
    assert response is None and attempts == 1
    assert error is not None and error.startswith("request not sent: ValueError")


def test_valid_settings_still_pass() -> None:
    params = GenerationParams(temperature=0.7, max_tokens=16, seed=3, top_p=1.0)
    assert replace(params, temperature=0.0).temperature == 0.0
    assert ModelOptions(base_url="https://api.example.org:8443/v1").base_url.endswith("/v1")
    assert EngineOptions(concurrency=1, timeout_s=0.5, backoff_base_s=0).timeout_s == 0.5
