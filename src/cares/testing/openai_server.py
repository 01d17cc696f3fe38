"""A real OpenAI-compatible HTTP server on 127.0.0.1, for tests, benchmarks and dry runs.

It answers /v1/chat/completions (plain and streamed) and /v1/models, with configurable
latency and injected faults (429 with Retry-After, 500, malformed JSON, dropped connections),
and it counts every request it sees so tests can prove what was or was not asked again.

Run it alone with `python -m cares.testing.openai_server --port 8011 --latency 0.2`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from cares.models.baselines import CAUTION_TEXT, COMPLY_TEXT, REFUSE_TEXT

FAULT_KINDS = ("429", "500", "malformed", "drop")
Reply = Callable[[list[dict[str, Any]], str], str]


def mixed_reply(messages: list[dict[str, Any]], model: str) -> str:
    """A deterministic mix of refusals, cautions and compliance, chosen by the last user message."""
    prompt = str(messages[-1].get("content", "")) if messages else ""
    bucket = int(hashlib.sha256(prompt.encode()).hexdigest(), 16) % 3
    return (REFUSE_TEXT, CAUTION_TEXT, COMPLY_TEXT)[bucket]


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
            return str(content)
    return ""


@dataclass
class ServerConfig:
    latency_s: float = 0.0
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    retry_after_s: float = 0.1
    seed: int = 0
    api_key: str | None = None  # when set, requests without this bearer token get 401
    reply: Reply = mixed_reply
    stream_chunk_delay_s: float = 0.0  # pause before each streamed chunk after the first


@dataclass
class ServerStats:
    requests: int = 0
    completed: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    by_prompt: Counter[str] = field(default_factory=Counter)
    log: list[dict[str, Any]] = field(default_factory=list)


class FakeOpenAIServer:
    def __init__(self, config: ServerConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or ServerConfig()
        self.host = host
        self.port = port
        self.stats = ServerStats()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/_stats", self._stats)
        return app

    def _fault_for(self, prompt: str, attempt: int) -> str | None:
        if self.config.fault_rate <= 0:
            return None
        digest = hashlib.sha256(f"{self.config.seed}|{attempt}|{prompt}".encode()).digest()
        if int.from_bytes(digest[:8], "big") / 2**64 >= self.config.fault_rate:
            return None
        return self.config.fault_kinds[digest[8] % len(self.config.fault_kinds)]

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        if self.config.api_key is not None:
            if request.headers.get("Authorization") != f"Bearer {self.config.api_key}":
                return web.json_response({"error": {"message": "bad key", "type": "auth"}}, status=401)
        body = await request.json()
        messages = body.get("messages", [])
        prompt = last_user_text(messages)
        with self._lock:
            self.stats.requests += 1
            self.stats.by_prompt[prompt] += 1
            attempt = self.stats.by_prompt[prompt]
            self.stats.log.append({"prompt": prompt, "messages": messages, "model": body.get("model"), "body": body,
                                   "headers": dict(request.headers)})
        if self.config.latency_s:
            await asyncio.sleep(self.config.latency_s)
        fault = self._fault_for(prompt, attempt)
        if fault is not None:
            with self._lock:
                self.stats.faults[fault] += 1
            return await self._fault(request, fault)
        text = self.config.reply(messages, str(body.get("model")))
        with self._lock:
            self.stats.completed += 1
        if body.get("stream"):
            return await self._stream(request, body, text)
        return web.json_response(_completion_body(body, text))

    async def _fault(self, request: web.Request, fault: str) -> web.StreamResponse:
        if fault == "429":
            headers = {"Retry-After": f"{self.config.retry_after_s:g}"}
            return web.json_response({"error": {"message": "rate limited"}}, status=429, headers=headers)
        if fault == "500":
            return web.json_response({"error": {"message": "internal error"}}, status=500)
        if fault == "malformed":
            return web.Response(text='{"id": "x", "choices": [', content_type="application/json")
        assert request.transport is not None
        request.transport.abort()  # drop the connection without an answer
        return web.Response(status=500)

    async def _stream(self, request: web.Request, body: dict[str, Any], text: str) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        words = text.split(" ")
        for index, word in enumerate(words):
            piece = word if index == 0 else " " + word
            if index and self.config.stream_chunk_delay_s:
                await asyncio.sleep(self.config.stream_chunk_delay_s)
            chunk = _chunk_body(body, {"content": piece} if index else {"role": "assistant", "content": piece}, None)
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await response.write(f"data: {json.dumps(_chunk_body(body, {}, 'stop'))}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"object": "list", "data": [{"id": "fake-model", "object": "model", "owned_by": "cares"}]}
        )

    async def _stats(self, request: web.Request) -> web.Response:
        with self._lock:
            return web.json_response(
                {
                    "requests": self.stats.requests,
                    "completed": self.stats.completed,
                    "faults": dict(self.stats.faults),
                    "by_prompt": dict(self.stats.by_prompt),
                }
            )

    # Running in a background thread keeps the server independent of the caller's event loop.
    def start(self) -> FakeOpenAIServer:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._runner = web.AppRunner(self.app(), access_log=None)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self.host, self.port)
            loop.run_until_complete(site.start())
            # A started site has its server; aiohttp gives the bound port (for port 0) no public accessor.
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, daemon=True, name="fake-openai-server")
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake OpenAI server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _completion_body(body: dict[str, Any], text: str) -> dict[str, Any]:
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    return {
        "id": "chatcmpl-" + hashlib.sha256(text.encode()).hexdigest()[:12],
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(text.split()),
            "total_tokens": prompt_tokens + len(text.split()),
        },
    }


def _chunk_body(body: dict[str, Any], delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stream",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model"),
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Loopback OpenAI-compatible test server.")
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    config = ServerConfig(latency_s=args.latency, fault_rate=args.fault_rate, seed=args.seed)
    server = FakeOpenAIServer(config, port=args.port)
    print(f"serving on http://127.0.0.1:{args.port}/v1", flush=True)
    web.run_app(server.app(), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
