from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from cares.errors import ConfigError
from cares.models.base import FatalModelError, ModelCallError, ModelOptions
from cares.models.openai_api import parse_retry_after
from cares.models.registry import get_model, split_spec
from cares.runner.config import RunConfig
from cares.runner.engine import EngineOptions
from cares.runner.pipeline import RunOptions, evaluate_async
from cares.testing.openai_server import FakeOpenAIServer, ServerConfig
from cares.types import GenerationParams, Request


def generate(spec: str, request: Request, **options) -> object:
    async def go():
        model = get_model(spec, ModelOptions(**options))
        try:
            return await model.generate(request)
        finally:
            await model.aclose()

    return asyncio.run(go())


def test_openai_backend_sends_generation_params(server: FakeOpenAIServer) -> None:
    params = GenerationParams(temperature=0.3, max_tokens=77, seed=5, top_p=0.9, system_prompt="Be safe.")
    completion = generate("openai/my-model", Request.chat("Hello there", params), base_url=server.base_url)
    body = server.stats.log[-1]["body"]
    assert body["model"] == "my-model"
    assert (body["temperature"], body["max_tokens"], body["seed"], body["top_p"]) == (0.3, 77, 5, 0.9)
    assert body["messages"] == [{"role": "system", "content": "Be safe."}, {"role": "user", "content": "Hello there"}]
    assert completion.text and completion.usage.completion_tokens > 0


def test_status_errors_are_classified() -> None:
    request = Request.chat("x", GenerationParams())
    with FakeOpenAIServer(ServerConfig(fault_rate=1.0, fault_kinds=("429",), retry_after_s=2.5)) as srv:
        with pytest.raises(ModelCallError) as err:
            generate("openai/m", request, base_url=srv.base_url)
    assert err.value.retryable and err.value.status == 429 and err.value.retry_after == 2.5
    with FakeOpenAIServer(ServerConfig(api_key="right")) as srv:
        with pytest.raises(FatalModelError, match="authentication failed"):
            generate("openai/m", request, base_url=srv.base_url, api_key="wrong")


def test_retry_after_headers() -> None:
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "3"}) == 0.25
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}) is None
    assert parse_retry_after({}) is None


def test_specs_and_baselines() -> None:
    assert split_spec("openai/org/model-name") == ("openai", "org/model-name")
    with pytest.raises(ConfigError):
        split_spec("gpt-4o")
    with pytest.raises(ConfigError, match="unknown baseline"):
        get_model("baseline/maybe")
    text = generate("baseline/constant:No", Request.chat("x", GenerationParams())).text
    assert text == "No"


def test_generation_params_are_recorded_with_every_response(
    tmp_path: Path, server: FakeOpenAIServer, dataset_file: Path
) -> None:
    params = GenerationParams(temperature=0.0, max_tokens=64, seed=9, system_prompt="You are a careful clinician.")
    config = RunConfig("cares-18k", "openai/m", data=str(dataset_file), params=params)
    options = RunOptions(engine=EngineOptions(progress=False), model=ModelOptions(base_url=server.base_url))
    asyncio.run(evaluate_async(config, tmp_path / "run", options))
    rows = [json.loads(line) for line in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert all(row["generation"] == params.to_dict() for row in rows)
    assert all(row["messages"][0] == {"role": "system", "content": "You are a careful clinician."} for row in rows)
    assert all(body["body"]["seed"] == 9 for body in server.stats.log)
