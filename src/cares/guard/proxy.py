"""`cares guard serve`: an OpenAI-compatible proxy that guards every chat request.

Each POST /v1/chat/completions is read (within a size cap), its messages go through the same
`Guard` that `guard/<model>` evaluates, and the request is forwarded upstream with the reminder
added exactly when the guard's policy says so; every other field passes through unchanged. The
answer, plain or streamed, is relayed as the upstream sent it: a stream chunk by chunk, never
held back until it is complete.

The proxy fails closed: a request the guard cannot score is refused (503), never forwarded
without its decision.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from cares import __version__
from cares.checks import number
from cares.errors import ConfigError
from cares.guard.policy import Guard, GuardDecision
from cares.guard.proxy_auth import ClientTokens, bearer_token
from cares.guard.proxy_log import AccessLog, AccessRecord, BodyCapture, server_logger
from cares.guard.proxy_request import ProxyError, error_response, parse_chat_request

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
READ_CHUNK_BYTES = 64 * 1024
HEALTH_PATH = "/healthz"
# Typed request keys arrived in aiohttp 3.12; older versions take a plain string.
RECORD_KEY: Any = web.RequestKey("cares_access_record", AccessRecord) if hasattr(web, "RequestKey") else "cares_record"
SESSION_KEY = web.AppKey("cares_upstream_session", aiohttp.ClientSession)
UNAUTHORISED_HEADERS = {"WWW-Authenticate": 'Bearer realm="cares-guard"'}
PASSED_UPSTREAM_HEADERS = ("Retry-After",)  # so a client backs off as the upstream asked


@dataclass(frozen=True)
class ProxyConfig:
    upstream: str
    upstream_key: str | None = field(default=None, repr=False)
    tokens: ClientTokens | None = field(default=None, repr=False)  # None: no authentication
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 600.0  # the longest pause between two pieces of an upstream answer
    # The longest a client may take to send a request's headers, and then its body, and stay idle on
    # a kept-alive connection: a slow or stalled client cannot hold a connection open.
    client_timeout_s: float = 30.0
    # Off by default: the score tells someone probing the guard how close a wording came to passing.
    guard_header: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "upstream", upstream_base_url(self.upstream))
        if self.max_body_bytes < 1:
            raise ConfigError(f"--max-body-bytes must be at least 1, not {self.max_body_bytes}")
        number("--client-timeout", self.client_timeout_s, above=0)
        number("--upstream-timeout", self.read_timeout_s, above=0)


def upstream_base_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--upstream must be an http(s) URL such as http://localhost:8000/v1, not {url!r}")
    if parts.username is not None or parts.password is not None:
        raise ConfigError("--upstream: credentials in the URL are not accepted; name the key with --upstream-key-env")
    if parts.query or parts.fragment:
        raise ConfigError("--upstream: give the API base URL without a query or fragment")
    return url.strip().rstrip("/")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def guard_header(decision: GuardDecision) -> str:
    flagged, applied = str(decision.flagged).lower(), str(decision.applied).lower()
    return f"score={decision.score:.4f}; flagged={flagged}; applied={applied}"


class GuardProxy:
    def __init__(self, guard: Guard, config: ProxyConfig, access_log: AccessLog) -> None:
        self.guard = guard
        self.config = config
        self.log = access_log

    def app(self) -> web.Application:
        # The body cap is enforced while reading (see _read_body), so aiohttp's own limit only
        # has to stay out of the way.
        app = web.Application(middlewares=[self._middleware], client_max_size=self.config.max_body_bytes + 1)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get(HEALTH_PATH, self._health)
        app.cleanup_ctx.append(self._upstream_session)
        return app

    async def _upstream_session(self, app: web.Application) -> AsyncIterator[None]:
        timeout = aiohttp.ClientTimeout(total=None, connect=self.config.connect_timeout_s,
                                        sock_read=self.config.read_timeout_s)
        headers = {"User-Agent": f"cares-guard/{__version__}"}
        async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
            app[SESSION_KEY] = session
            yield

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        record = AccessRecord(uuid.uuid4().hex[:16], request.remote, request.method, request.path)
        request[RECORD_KEY] = record
        response: web.StreamResponse | None = None
        try:
            if request.path != HEALTH_PATH:
                self._authenticate(request)
            response = await handler(request)
        except ProxyError as exc:
            record.error = record.error or exc.code  # a handler may have named the cause more exactly
            response = exc.response()
            if exc.status in (400, 408, 413):
                # A body that is not what its headers announced (a Content-Length shorter than the body)
                # leaves its rest on the connection, where it would be read as the next request.
                response.force_close()
        except web.HTTPException as exc:  # the router's 404 and 405, answered in JSON too
            response = self._http_error(request, exc, record)
        except Exception as exc:  # noqa: BLE001 - the client gets a JSON 500; the log names only the type
            record.error = f"internal_error:{type(exc).__name__}"
            response = error_response(500, f"internal error (request {record.request_id})", code="internal_error")
        finally:
            if response is not None:
                record.status = response.status
                if isinstance(response, web.Response) and response.body is not None:
                    # The responses built here carry bytes, not a streamed payload.
                    record.bytes_out = len(response.body)  # type: ignore[arg-type]
                if not response.prepared:
                    response.headers["X-Request-Id"] = record.request_id
            else:
                record.status, record.error = 499, record.error or "cancelled"
            self.log.write(record)
        return response

    def _http_error(self, request: web.Request, exc: web.HTTPException, record: AccessRecord) -> web.Response:
        record.error = "not_found" if exc.status == 404 else "method_not_allowed" if exc.status == 405 else "http_error"
        if exc.status == 404:
            return error_response(404, f"no such endpoint: {request.path}", code="not_found")
        if exc.status == 405:
            allowed = exc.headers.get("Allow", "")
            return error_response(405, f"method {request.method} is not allowed on {request.path}; use {allowed}",
                                  code="method_not_allowed", headers={"Allow": allowed})
        return error_response(exc.status, exc.reason, code="http_error")

    def _authenticate(self, request: web.Request) -> None:
        if self.config.tokens is None:
            return
        token = bearer_token(request.headers.get("Authorization"))
        if token is None:
            raise ProxyError(401, "missing bearer token: send 'Authorization: Bearer <token>'",
                             code="missing_api_key", headers=UNAUTHORISED_HEADERS)
        if not self.config.tokens.allows(token):
            headers = {"WWW-Authenticate": 'Bearer realm="cares-guard", error="invalid_token"'}
            raise ProxyError(401, "invalid bearer token", code="invalid_api_key", headers=headers)

    async def _read_body(self, request: web.Request, record: AccessRecord) -> bytes:
        cap = self.config.max_body_bytes
        too_large = ProxyError(413, f"request body is larger than the proxy's limit of {cap} bytes",
                               code="request_too_large", headers={"Connection": "close"})
        if request.content_length is not None and request.content_length > cap:
            record.bytes_in = request.content_length
            raise too_large
        parts: list[bytes] = []

        async def collect() -> None:
            size = 0
            async for chunk in request.content.iter_chunked(READ_CHUNK_BYTES):
                size += len(chunk)
                record.bytes_in = size
                if size > cap:  # a chunked body carries no Content-Length to check up front
                    raise too_large
                parts.append(chunk)

        try:
            await asyncio.wait_for(collect(), self.config.client_timeout_s)
        except asyncio.TimeoutError:
            raise ProxyError(408, f"request body not received within {self.config.client_timeout_s:g} s",
                             code="request_timeout", headers={"Connection": "close"}) from None
        return b"".join(parts)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        record = request[RECORD_KEY]
        chat = parse_chat_request(await self._read_body(request, record))
        record.set_model(chat.model)
        record.stream = chat.stream
        if self.log.log_bodies:
            record.request_messages = chat.messages
        started = time.perf_counter()
        try:
            # Scoring is CPU work; off the event loop it does not hold up other requests' streams.
            messages, decision = await asyncio.to_thread(self.guard.condition, chat.messages)
        except Exception as exc:  # noqa: BLE001 - fail closed, and keep prompt text out of the log
            record.error = f"guard_failed:{type(exc).__name__}"
            raise ProxyError(503, "the guard could not score this request; it was not forwarded",
                             code="guard_unavailable") from None
        record.guard_ms = round((time.perf_counter() - started) * 1000, 3)
        record.detector_score, record.flagged = decision.score, decision.flagged
        record.reminder_applied = decision.applied
        headers = {"X-Request-Id": record.request_id}
        if self.config.guard_header:
            headers["X-Cares-Guard"] = guard_header(decision)
        payload = json.dumps({**chat.body, "messages": messages}, ensure_ascii=False).encode("utf-8")
        accept = "text/event-stream" if chat.stream else "application/json"
        upstream = await self._send_upstream(request, "POST", "chat/completions", record, payload, accept)
        async with upstream:
            record.upstream_status = upstream.status
            streamed = upstream.headers.get("Content-Type", "").startswith("text/event-stream")
            if chat.stream and upstream.status == 200 and streamed:
                return await self._relay_stream(request, upstream, headers, record)
            return await self._relay_body(upstream, headers, record)

    async def _models(self, request: web.Request) -> web.StreamResponse:
        record = request[RECORD_KEY]
        upstream = await self._send_upstream(request, "GET", "models", record, None, "application/json")
        async with upstream:
            record.upstream_status = upstream.status
            return await self._relay_body(upstream, {"X-Request-Id": record.request_id}, record)

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "guard": self.guard.identity()})

    async def _send_upstream(
        self, request: web.Request, method: str, path: str, record: AccessRecord, payload: bytes | None, accept: str
    ) -> aiohttp.ClientResponse:
        headers = {"Accept": accept, "X-Request-Id": record.request_id}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        if self.config.upstream_key:
            headers["Authorization"] = f"Bearer {self.config.upstream_key}"
        session = request.app[SESSION_KEY]
        try:
            return await session.request(method, f"{self.config.upstream}/{path}", data=payload, headers=headers)
        except asyncio.TimeoutError:
            raise ProxyError(504, "the upstream model server did not answer in time", code="upstream_timeout") from None
        except aiohttp.ClientError:
            raise ProxyError(502, "the upstream model server could not be reached",
                             code="upstream_unreachable") from None

    async def _relay_body(
        self, upstream: aiohttp.ClientResponse, headers: dict[str, str], record: AccessRecord
    ) -> web.Response:
        try:
            body = await upstream.read()
        except (aiohttp.ClientError, asyncio.TimeoutError):
            raise ProxyError(502, "the upstream model server broke off its answer", code="upstream_broken") from None
        if self.log.log_bodies:
            record.response_body = body[: 1024 * 1024].decode("utf-8", "replace")
        headers = {**headers, **{k: upstream.headers[k] for k in PASSED_UPSTREAM_HEADERS if k in upstream.headers}}
        if upstream.status >= 400 and not _is_error_json(body):
            record.error = "upstream_error"
            return error_response(upstream.status, f"the upstream model server answered HTTP {upstream.status}",
                                  code="upstream_error", headers=headers)
        if upstream.status >= 400:
            record.error = "upstream_error"
        content_type = upstream.headers.get("Content-Type", "application/json")
        return web.Response(status=upstream.status, body=body, headers={**headers, "Content-Type": content_type})

    async def _relay_stream(
        self, request: web.Request, upstream: aiohttp.ClientResponse, headers: dict[str, str], record: AccessRecord
    ) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={
            **headers, "Content-Type": upstream.headers["Content-Type"], "Cache-Control": "no-cache"})
        await response.prepare(request)
        capture = BodyCapture(self.log.log_bodies)
        try:
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
                record.bytes_out += len(chunk)
                capture.add(chunk)
        except ConnectionResetError:  # the client went away; stop reading the upstream's answer
            record.error = "client_disconnected"
            return response
        except (aiohttp.ClientError, asyncio.TimeoutError):
            # Headers are sent, so the status cannot change: end with an error event, which
            # OpenAI clients raise as an APIError instead of treating the answer as complete.
            record.error = "upstream_broken"
            event = {"error": {"message": "the upstream model server broke off its answer",
                               "type": "server_error", "param": None, "code": "upstream_broken"}}
            try:
                await response.write(b"\n\ndata: " + json.dumps(event).encode() + b"\n\n")
            except ConnectionResetError:
                return response
        finally:
            record.response_body = capture.text()
        try:
            await response.write_eof()
        except ConnectionResetError:
            # The openai client closes a stream as soon as it reads [DONE], which may be before the
            # upstream's end of stream reaches us: the answer was delivered, only its last empty
            # chunk was not. The status sent was 200; the record says the client left.
            record.error = "client_disconnected"
        return response


def _is_error_json(body: bytes) -> bool:
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(parsed, dict) and "error" in parsed


async def serve(
    proxy: GuardProxy,
    host: str,
    port: int,
    *,
    on_ready: Callable[[str, int], None],
    stop: asyncio.Event | None = None,
    handle_signals: bool = True,
    shutdown_timeout_s: float = 10.0,
) -> None:
    """Serve until `stop` is set or, with `handle_signals`, SIGINT/SIGTERM arrives; then let
    requests in flight finish for up to `shutdown_timeout_s` before closing."""
    stop = stop or asyncio.Event()
    # keepalive_timeout also closes a connection whose request headers have not all arrived in time;
    # lingering_time bounds how long the rest of a refused body (413, 408) is read and dropped, which
    # aiohttp does for 10 s by default; the logger turns aiohttp's reports of requests it could not
    # parse into access records.
    runner = web.AppRunner(proxy.app(), access_log=None, handle_signals=False, shutdown_timeout=shutdown_timeout_s,
                           keepalive_timeout=proxy.config.client_timeout_s,
                           lingering_time=min(2.0, proxy.config.client_timeout_s), logger=server_logger(proxy.log))
    await runner.setup()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM) if handle_signals else ()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        bound_port = int(runner.addresses[0][1])
        for sig in signals:
            loop.add_signal_handler(sig, stop.set)
        on_ready(host, bound_port)
        await stop.wait()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        await runner.cleanup()
