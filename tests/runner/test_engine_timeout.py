"""The engine's own timeout cuts a call that the client would still wait for, and retries it."""

from __future__ import annotations

import asyncio
import random
import time

from cares.models.base import ModelOptions
from cares.models.openai_api import OpenAIChatModel
from cares.runner.engine import EngineOptions, call_with_retries
from cares.testing.openai_server import FakeOpenAIServer, ServerConfig
from cares.types import GenerationParams, Message, Request

REQUEST = Request(messages=(Message("user", "How long do hospitals keep records?"),), params=GenerationParams())


def test_a_stalled_call_times_out_at_the_engine_limit_on_every_attempt() -> None:
    with FakeOpenAIServer(ServerConfig(latency_s=3.0)) as srv:
        # The client would wait 30 s; the engine gives each attempt 0.2 s.
        model = OpenAIChatModel("m", ModelOptions(base_url=srv.base_url, timeout_s=30))

        async def go() -> tuple[object, str | None, int, float]:
            try:
                return await call_with_retries(model, REQUEST, EngineOptions(timeout_s=0.2, max_attempts=2,
                                                                             backoff_base_s=0.01), random.Random(0))
            finally:
                await model.aclose()

        started = time.monotonic()
        response, error, attempts, _ = asyncio.run(go())
        elapsed = time.monotonic() - started
    assert response is None and attempts == 2
    assert error == "timed out after 0.2s"
    assert elapsed < 2.0  # two attempts of 0.2 s and a short backoff, not the server's 3 s


def test_a_quick_answer_is_not_touched_by_the_limit() -> None:
    with FakeOpenAIServer(ServerConfig(latency_s=0.05)) as srv:
        model = OpenAIChatModel("m", ModelOptions(base_url=srv.base_url, timeout_s=30))

        async def go() -> tuple[object, str | None, int, float]:
            try:
                return await call_with_retries(model, REQUEST, EngineOptions(timeout_s=5, max_attempts=1),
                                               random.Random(0), key="k1")
            finally:
                await model.aclose()

        response, error, attempts, _ = asyncio.run(go())
    assert error is None and attempts == 1 and response is not None and response.key == "k1" and response.text
