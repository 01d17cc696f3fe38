"""python/ adapters: loading, calling conventions, and the local-model declarations the engine reads."""

from __future__ import annotations

import asyncio
import random
import textwrap
import time
from pathlib import Path

import pytest

from cares.errors import ConfigError
from cares.models.base import ModelCallError, ModelOptions
from cares.models.registry import get_model
from cares.runner.engine import EngineOptions, call_with_retries, effective_concurrency
from cares.types import GenerationParams, Request


def ask(text: str) -> Request:
    return Request.chat(text, GenerationParams())


def adapter(tmp_path: Path, body: str, name: str = "adapter.py") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return str(path)


def test_function_class_and_dict_results(tmp_path: Path) -> None:
    path = adapter(tmp_path, """
        def answer(messages, params):
            return messages[-1]["content"].upper()

        class Counter:
            cares_version = "7"
            def __init__(self):
                self.calls = 0
            def __call__(self, messages, params):
                self.calls += 1
                return {"text": f"call {self.calls}", "usage": {"prompt_tokens": 3, "completion_tokens": 2}}
    """)

    async def go():
        plain = get_model(f"python/{path}:answer", ModelOptions())
        counter = get_model(f"python/{path}:Counter", ModelOptions())
        first = await plain.generate(ask("hello"))
        second = await counter.generate(ask("x"))
        third = await counter.generate(ask("y"))
        return plain, counter, first, second, third

    plain, counter, first, second, third = asyncio.run(go())
    assert first.text == "HELLO"
    assert (second.text, third.text) == ("call 1", "call 2")
    assert (third.usage.prompt_tokens, third.usage.completion_tokens) == (3, 2)
    assert counter.identity()["version"] == "7" and plain.identity()["version"] is None


def test_a_wrong_return_type_is_not_retried(tmp_path: Path) -> None:
    path = adapter(tmp_path, "def answer(messages, params):\n    return 42\n")
    model = get_model(f"python/{path}:answer", ModelOptions())
    with pytest.raises(ModelCallError) as info:
        asyncio.run(model.generate(ask("x")))
    assert not info.value.retryable and "callable returned int" in str(info.value)


def test_api_models_and_plain_adapters_keep_the_default_timeout_and_concurrency(tmp_path: Path) -> None:
    path = adapter(tmp_path, "def answer(messages, params):\n    return 'ok'\n")
    model = get_model(f"python/{path}:answer", ModelOptions())
    assert not model.runs_locally
    assert effective_concurrency(model, EngineOptions()) == 16
    assert effective_concurrency(model, EngineOptions(concurrency=3)) == 3


def test_a_local_adapter_runs_one_at_a_time_without_a_timeout(tmp_path: Path) -> None:
    path = adapter(tmp_path, """
        import time

        class Slow:
            runs_locally = True
            def __call__(self, messages, params):
                time.sleep(0.3)
                return "done"
    """)
    model = get_model(f"python/{path}:Slow", ModelOptions())
    assert model.runs_locally
    assert effective_concurrency(model, EngineOptions()) == 1
    assert effective_concurrency(model, EngineOptions(concurrency=2)) == 2


    options = EngineOptions(timeout_s=0.05, max_attempts=1)
    started = time.monotonic()
    response, error, attempts, _ = asyncio.run(call_with_retries(model, ask("x"), options, random.Random(0)))
    assert error is None and response is not None and response.text == "done", error
    assert attempts == 1 and time.monotonic() - started >= 0.3


def test_the_same_slow_adapter_times_out_when_not_declared_local(tmp_path: Path) -> None:
    path = adapter(tmp_path, """
        import time

        def slow(messages, params):
            time.sleep(0.3)
            return "done"
    """)
    model = get_model(f"python/{path}:slow", ModelOptions())

    response, error, _, _ = asyncio.run(
        call_with_retries(model, ask("x"), EngineOptions(timeout_s=0.05, max_attempts=1), random.Random(0))
    )
    assert response is None and error is not None and "timed out" in error


def test_max_concurrency_is_a_declared_default(tmp_path: Path) -> None:
    path = adapter(tmp_path, """
        class Four:
            runs_locally = True
            max_concurrency = 4
            def __call__(self, messages, params):
                return "ok"

        class Bad:
            max_concurrency = 0
            def __call__(self, messages, params):
                return "ok"
    """)
    assert effective_concurrency(get_model(f"python/{path}:Four", ModelOptions()), EngineOptions()) == 4
    with pytest.raises(ConfigError, match=r"python/.*:Bad: max_concurrency must be a positive integer, not 0"):
        get_model(f"python/{path}:Bad", ModelOptions())
