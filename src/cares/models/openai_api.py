"""`openai/<model>`: any OpenAI-compatible chat-completions server (OpenAI, Azure, vLLM, Ollama, TGI, SGLang).

A lean client: request bodies encoded by orjson with the constant part of each body built once,
sent over keep-alive connections, and answers read straight into `Completion`. A plain `http://`
server (a local vLLM, the case where the client's own CPU bounds a run) is spoken to by
`http_wire.WireClient`; TLS, streamed answers and `--model-arg transport=aiohttp` go through one
aiohttp session. The SDK it replaced (cares.models.openai_sdk, kept as a reference) spent most of a
run's CPU building and validating objects that are thrown away. No retries here: the runner
retries, so that Retry-After is honoured once and every attempt is counted.
"""

from __future__ import annotations

import asyncio
import errno
import json
import math
import os
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from cares.checks import http_url
from cares.errors import ConfigError
from cares.models.base import FatalModelError, Model, ModelCallError, ModelOptions, ServerUnreachableError
from cares.models.content import api_messages
from cares.models.http_wire import Unreachable, WireClient
from cares.models.registry import provider
from cares.redact import redact
from cares.types import Completion, GenerationParams, Request, Usage

if TYPE_CHECKING:
    import aiohttp

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Local servers (vLLM, Ollama) accept any key; sending one keeps proxies that insist on a header happy.
_PLACEHOLDER_KEY = "not-needed"
_SETTINGS = ("stream", "extra_body", "transport")
_TRANSPORTS = ("auto", "aiohttp")
_RETRYABLE_STATUS = frozenset((408, 409, 425, 429))


def parse_retry_after(headers: Any) -> float | None:
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            return None  # an HTTP date; rare from model servers, and the backoff covers it
    return None


@dataclass(frozen=True)
class _Settings:
    stream: bool = False
    extra_body: dict[str, Any] = field(default_factory=dict)
    transport: str = "auto"


def _settings(spec: str, extra: tuple[tuple[str, Any], ...]) -> _Settings:
    """`--model-arg stream=true` (servers that answer only streamed), `extra_body={...}` (a JSON
    object merged into every request body, as the SDK's extra_body is) and `transport=aiohttp`
    (aiohttp for plain http too, should a server and the lean client not get on)."""
    stream = False
    transport = "auto"
    extra_body: dict[str, Any] = {}
    for key, raw in extra:
        if key == "stream":
            if str(raw).lower() not in ("true", "false"):
                raise ConfigError(f"{spec}: --model-arg stream expects true or false, got {raw!r}")
            stream = str(raw).lower() == "true"
        elif key == "extra_body":
            try:
                parsed = raw if isinstance(raw, dict) else json.loads(raw)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                raise ConfigError(f"{spec}: --model-arg extra_body expects a JSON object, got {raw!r}")
            extra_body = parsed
        elif key == "transport":
            if str(raw) not in _TRANSPORTS:
                raise ConfigError(f"{spec}: --model-arg transport expects {' or '.join(_TRANSPORTS)}, got {raw!r}")
            transport = str(raw)
        else:
            raise ConfigError(f"{spec}: unknown --model-arg {key!r}; known: {', '.join(_SETTINGS)}")
    return _Settings(stream, extra_body, transport)


class OpenAIChatModel(Model):
    def __init__(self, name: str, options: ModelOptions) -> None:
        self.spec = f"openai/{name}"
        self.name = name
        self.base_url = (options.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        if options.base_url is None and os.environ.get("OPENAI_BASE_URL"):
            http_url("OPENAI_BASE_URL", os.environ["OPENAI_BASE_URL"])
        api_key = options.api_key or os.environ.get("OPENAI_API_KEY")
        if not api_key:
            if self.base_url == DEFAULT_BASE_URL:
                raise ConfigError(
                    "openai/...: set OPENAI_API_KEY, or point --base-url (or OPENAI_BASE_URL) at your own server"
                )
            api_key = _PLACEHOLDER_KEY
        self._secret = api_key
        settings = _settings(self.spec, options.extra)
        self.stream, self.extra_body = settings.stream, settings.extra_body
        self._url = self.base_url + "/chat/completions"
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Accept": "text/event-stream" if self.stream else "application/json",
            **dict(options.headers),
        }
        self._secrets = [api_key, *(value for _, value in options.headers)]
        # Per connect and per read, as the SDK's were: the engine bounds the whole attempt, and a long
        # stream that keeps arriving has not stalled.
        self._timeout_s = options.timeout_s
        self._session: aiohttp.ClientSession | None = None
        self._wire: WireClient | None = None
        if settings.transport == "auto" and not self.stream and self._url.startswith("http://"):
            try:
                self._wire = WireClient(self._url, self._headers, options.timeout_s, options.timeout_s)
            except ValueError:  # credentials in the URL, a header it will not send: aiohttp's to judge
                self._wire = None
        self._tails: dict[GenerationParams, bytes] = {}
        # Whether any HTTP answer, even an error status, has come from the server in this process:
        # before one has, a refused connection means a wrong URL, afterwards a passing outage.
        self._reached = False

    def identity(self) -> dict[str, Any]:
        identity: dict[str, Any] = {"provider": "openai", "model": self.name, "base_url": self.base_url}
        if self.extra_body:  # only then, so that every other run keeps its cache keys
            identity["extra_body"] = self.extra_body
        return identity

    def _redact(self, text: str) -> str:
        # Servers sometimes echo the key in auth errors; nothing that reaches the run store may hold it.
        for secret in self._secrets:
            if secret and secret != _PLACEHOLDER_KEY:
                text = redact(text, secret)
        return text

    def _session_now(self) -> aiohttp.ClientSession:
        # Imported here: a run against a plain-http server never needs aiohttp, whose import (with
        # its TLS set-up) costs a third of a second of CPU.
        import aiohttp

        if self._session is None or self._session.closed:
            # No pool limit: the engine's semaphore bounds the requests in flight, so the pool holds
            # as many keep-alive connections as the concurrency and never queues a request itself.
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60, enable_cleanup_closed=True)
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._timeout_s, sock_read=self._timeout_s)
            self._session = aiohttp.ClientSession(connector=connector, timeout=timeout, headers=self._headers)
        return self._session

    def _tail(self, params: GenerationParams) -> bytes:
        """The body after the messages, built once per generation settings: `,"model":...,...}`."""
        tail = self._tails.get(params)
        if tail is None:
            for name, value in (("temperature", params.temperature), ("top_p", params.top_p)):
                if isinstance(value, float) and not math.isfinite(value):
                    # The SDK refused these too; orjson would quietly send null.
                    raise ValueError(f"Out of range float values are not JSON compliant: {name}={value}")
            fields: dict[str, Any] = {"model": self.name, "temperature": params.temperature,
                                      "max_tokens": params.max_tokens}
            if params.seed is not None:
                fields["seed"] = params.seed
            if params.top_p is not None:
                fields["top_p"] = params.top_p
            if self.stream:
                fields["stream"] = True
                fields["stream_options"] = {"include_usage": True}
            fields.update(self.extra_body)
            tail = b"," + orjson.dumps(fields)[1:]
            self._tails[params] = tail
        return tail

    async def _body(self, request: Request) -> bytes:
        if request.images:
            messages = await asyncio.to_thread(api_messages, request)
        else:
            messages = [m.to_dict() for m in request.messages]
        return b'{"messages":' + orjson.dumps(messages) + self._tail(request.params)

    async def generate(self, request: Request) -> Completion:
        try:
            body = await self._body(request)
        except (ValueError, TypeError) as exc:
            # A value that cannot be encoded as JSON: every attempt fails alike, so nothing is sent.
            raise ModelCallError(self._redact(f"request not sent: {type(exc).__name__}: {_short(str(exc))}"),
                                 retryable=False) from None
        if self._wire is not None:
            return await self._generate_on_wire(self._wire, body)
        return await self._generate_on_aiohttp(body)

    async def _generate_on_aiohttp(self, body: bytes) -> Completion:
        import aiohttp

        try:
            async with self._session_now().post(self._url, data=body) as response:
                self._reached = True
                if response.status >= 400:
                    try:
                        detail = await response.read()
                    except (aiohttp.ClientError, asyncio.TimeoutError):
                        detail = b""
                    self._raise_for_status(response.status, detail, response.headers)
                if self.stream and response.content_type == "text/event-stream":
                    return await _read_stream(response)
                raw = await response.read()
        except aiohttp.ClientConnectorError as exc:
            if not self._reached:
                raise ServerUnreachableError(self._redact(self._unreachable(
                    exc.os_error, dns=isinstance(exc, aiohttp.ClientConnectorDNSError)))) from None
            raise ModelCallError(self._redact(f"{type(exc).__name__}: {_short(str(exc))}"), retryable=True) from None
        except asyncio.TimeoutError:
            raise ModelCallError("APITimeoutError: Request timed out.", retryable=True) from None
        except (aiohttp.ClientError, OSError) as exc:  # dropped connections, truncated bodies: may pass next time
            raise ModelCallError(self._redact(f"{type(exc).__name__}: {_short(str(exc)) or 'connection lost'}"),
                                 retryable=True) from None
        return self._completion(raw)

    async def _generate_on_wire(self, wire: WireClient, body: bytes) -> Completion:
        try:
            response = await wire.post(body)
        except Unreachable as exc:
            if not self._reached:
                raise ServerUnreachableError(self._redact(self._unreachable(
                    exc.error, dns=isinstance(exc.error, socket.gaierror)))) from None
            raise ModelCallError(self._redact(f"{type(exc.error).__name__}: {_short(str(exc.error))}"),
                                 retryable=True) from None
        except asyncio.TimeoutError:
            raise ModelCallError("APITimeoutError: Request timed out.", retryable=True) from None
        except OSError as exc:  # dropped connections, truncated bodies, not HTTP: may pass next time
            raise ModelCallError(self._redact(f"{type(exc).__name__}: {_short(str(exc)) or 'connection lost'}"),
                                 retryable=True) from None
        self._reached = True
        if response.status >= 400:
            self._raise_for_status(response.status, response.body, response.headers)
        return self._completion(response.body)

    def _unreachable(self, error: OSError, dns: bool) -> str:
        if dns:
            reason = "host not found"
        elif error.errno == errno.ECONNREFUSED or (
                # A name with several addresses (localhost: ::1 and 127.0.0.1), each refused.
                error.errno is None and f"[Errno {errno.ECONNREFUSED}]" in str(error)):
            reason = "connection refused"
        else:
            reason = _short(str(error.strerror or error)).lower()
        return (f"nothing answers at {self.base_url} ({reason}): check that the server is running and that "
                "--base-url (or --judge-base-url, OPENAI_BASE_URL) names it")

    def _raise_for_status(self, status: int, body: bytes, headers: Any) -> None:
        detail = _short(body.decode("utf-8", "replace"))
        if status in (401, 403):
            raise FatalModelError(self._redact(f"{self.base_url}: authentication failed ({status})"))
        if status == 404:
            raise FatalModelError(self._redact(f"{self.base_url}: model {self.name!r} or endpoint not found (404)"))
        raise ModelCallError(
            self._redact(f"HTTP {status}: Error code: {status} - {detail}"),
            retryable=status in _RETRYABLE_STATUS or status >= 500,
            retry_after=parse_retry_after(headers),
            status=status,
        )

    def _completion(self, raw: bytes) -> Completion:
        try:
            result = orjson.loads(raw)
        except orjson.JSONDecodeError:
            try:  # the standard library's message says what was expected, as the SDK's did
                json.loads(raw)
                message = "not JSON"
            except ValueError as exc:
                message = str(exc)
            raise ModelCallError(self._redact(f"malformed response: {_short(message)}"), retryable=True) from None
        choices = result.get("choices") if isinstance(result, dict) else None
        if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
            raise ModelCallError(self._redact(f"malformed response: no choices ({_short(repr(result))})"),
                                 retryable=True)
        reply = choices[0].get("message")
        text = reply.get("content") if isinstance(reply, dict) else None
        if not isinstance(text, str):
            raise ModelCallError("malformed response: choices[0].message.content is not text", retryable=True)
        return Completion(text=text, usage=_usage(result.get("usage")), finish_reason=choices[0].get("finish_reason"))

    async def aclose(self) -> None:
        if self._wire is not None:
            await self._wire.close()
        if self._session is not None:
            await self._session.close()
            self._session = None


def _usage(usage: Any) -> Usage:
    if not isinstance(usage, dict):
        return Usage()
    return Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))


async def _read_stream(response: aiohttp.ClientResponse) -> Completion:
    """Server-sent chat-completion chunks joined into one answer; usage comes in the last chunk
    where the server honours `stream_options.include_usage`."""
    pieces: list[str] = []
    finish: str | None = None
    usage = Usage()
    done = False
    async for line in response.content:
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            done = True
            break
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            shown = _short(data.decode("utf-8", "replace"))
            raise ModelCallError(f"malformed response: stream chunk is not JSON ({shown})", retryable=True) from None
        if chunk.get("usage"):
            usage = _usage(chunk["usage"])
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            if isinstance(delta.get("content"), str):
                pieces.append(delta["content"])
            finish = choice.get("finish_reason") or finish
    if not done and finish is None:
        raise ModelCallError("malformed response: the stream ended before its last chunk", retryable=True)
    return Completion(text="".join(pieces), usage=usage, finish_reason=finish)


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@provider("openai", "openai/<model> - any OpenAI-compatible server; --base-url or OPENAI_BASE_URL", headers=True)
def make_openai(name: str, options: ModelOptions) -> OpenAIChatModel:
    return OpenAIChatModel(name, options)
