"""The lean openai/ client against a real server on 127.0.0.1: streaming, extra_body, headers, timeouts,
and a server that is not there at all (a configuration error) or goes away mid-run (retried)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from cares.errors import ConfigError
from cares.models.base import ModelCallError, ModelOptions, ServerUnreachableError
from cares.models.openai_api import OpenAIChatModel
from cares.testing.openai_server import FakeOpenAIServer, ServerConfig
from cares.types import Completion, GenerationParams, Message, Request

REQUEST = Request((Message("user", "Is this safe?"),), GenerationParams(max_tokens=20))


def ask(model: OpenAIChatModel, *requests: Request) -> list[Completion]:
    async def go() -> list[Completion]:
        try:
            return [await model.generate(request) for request in requests]
        finally:
            await model.aclose()

    return asyncio.run(go())


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed on leaving: nothing listens there


def test_a_streamed_answer_is_the_plain_answer(server: FakeOpenAIServer) -> None:
    plain = ask(OpenAIChatModel("m", ModelOptions(base_url=server.base_url)), REQUEST)[0]
    streamed = ask(OpenAIChatModel("m", ModelOptions(base_url=server.base_url, extra=(("stream", "true"),))), REQUEST)[
        0
    ]
    assert server.stats.log[-1]["body"]["stream"] is True and "stream" not in server.stats.log[0]["body"]
    assert streamed.text == plain.text and streamed.finish_reason == "stop"


def test_extra_body_is_sent_and_is_part_of_the_identity(server: FakeOpenAIServer) -> None:
    model = OpenAIChatModel("m", ModelOptions(base_url=server.base_url, extra=(("extra_body", '{"top_k": 5}'),)))
    assert model.identity()["extra_body"] == {"top_k": 5}
    ask(model, REQUEST)
    assert server.stats.log[-1]["body"]["top_k"] == 5 and server.stats.log[-1]["body"]["max_tokens"] == 20
    with pytest.raises(ConfigError, match="extra_body expects a JSON object"):
        OpenAIChatModel("m", ModelOptions(base_url=server.base_url, extra=(("extra_body", "[1]"),)))
    with pytest.raises(ConfigError, match="unknown --model-arg 'dtype'"):
        OpenAIChatModel("m", ModelOptions(base_url=server.base_url, extra=(("dtype", "float16"),)))


def test_the_key_and_headers_are_sent_and_never_echoed() -> None:
    key = "sk-test-0123456789abcdef"
    with FakeOpenAIServer(ServerConfig(api_key=key)) as srv:
        model = OpenAIChatModel("m", ModelOptions(base_url=srv.base_url, api_key=key, headers=(("X-Gateway", "g1"),)))
        ask(model, REQUEST)
        headers = srv.stats.log[-1]["headers"]
    assert headers["Authorization"] == f"Bearer {key}" and headers["X-Gateway"] == "g1"
    assert key not in model._redact(f"echo: {key}")


def test_plain_http_goes_over_the_lean_client_unless_aiohttp_is_asked_for(server: FakeOpenAIServer) -> None:
    lean = ask(OpenAIChatModel("m", ModelOptions(base_url=server.base_url)), REQUEST)[0]
    assert server.stats.log[-1]["headers"]["User-Agent"].startswith("cares/")
    aiohttp = ModelOptions(base_url=server.base_url, extra=(("transport", "aiohttp"),))
    aio = ask(OpenAIChatModel("m", aiohttp), REQUEST)[0]
    assert "aiohttp" in server.stats.log[-1]["headers"]["User-Agent"]
    assert lean == aio
    with pytest.raises(ConfigError, match="transport expects auto or aiohttp"):
        OpenAIChatModel("m", ModelOptions(base_url=server.base_url, extra=(("transport", "httpx"),)))


@pytest.mark.parametrize("transport", ["auto", "aiohttp"])
def test_an_error_status_keeps_its_retry_after_on_either_transport(transport: str) -> None:
    with FakeOpenAIServer(ServerConfig(fault_rate=1.0, fault_kinds=("429",), retry_after_s=7)) as srv:
        with pytest.raises(ModelCallError, match="HTTP 429") as caught:
            ask(OpenAIChatModel("m", ModelOptions(base_url=srv.base_url, extra=(("transport", transport),))), REQUEST)
    assert caught.value.retryable and caught.value.retry_after == 7 and caught.value.status == 429


@pytest.mark.parametrize("transport", ["auto", "aiohttp"])
def test_a_slow_server_times_out_as_a_retryable_failure(transport: str) -> None:
    with FakeOpenAIServer(ServerConfig(latency_s=2.0)) as srv:
        with pytest.raises(ModelCallError, match="timed out") as caught:
            ask(OpenAIChatModel("m", ModelOptions(base_url=srv.base_url, timeout_s=0.3,
                                                  extra=(("transport", transport),))), REQUEST)
    assert caught.value.retryable


@pytest.mark.parametrize("transport", ["auto", "aiohttp"])
def test_nothing_listening_is_a_configuration_error_naming_the_url(transport: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    with pytest.raises(ServerUnreachableError, match="connection refused") as caught:
        ask(OpenAIChatModel("m", ModelOptions(base_url=url, extra=(("transport", transport),))), REQUEST)
    assert url in str(caught.value) and caught.value.exit_code == 2


@pytest.mark.parametrize("transport", ["auto", "aiohttp"])
def test_a_name_with_several_addresses_all_refused_says_connection_refused(transport: str) -> None:
    url = f"http://localhost:{closed_port()}/v1"  # ::1 and 127.0.0.1 where the machine has both
    with pytest.raises(ServerUnreachableError, match="connection refused"):
        ask(OpenAIChatModel("m", ModelOptions(base_url=url, extra=(("transport", transport),))), REQUEST)


@pytest.mark.parametrize("transport", ["auto", "aiohttp"])
def test_a_server_that_answered_and_then_went_away_is_retried(transport: str) -> None:
    server = FakeOpenAIServer().start()
    model = OpenAIChatModel("m", ModelOptions(base_url=server.base_url, extra=(("transport", transport),)))

    async def go() -> ModelCallError:
        try:
            await model.generate(REQUEST)
            server.stop()
            await model.aclose()  # no kept-alive connection: the next request must connect afresh
            with pytest.raises(ModelCallError) as caught:
                await model.generate(REQUEST)
            return caught.value
        finally:
            await model.aclose()

    error = asyncio.run(go())
    assert error.retryable and not isinstance(error, ServerUnreachableError)
