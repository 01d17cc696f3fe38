"""A lean HTTP/1.1 client for plain-http model servers: POST a body, get (status, headers, body).

A local server (vLLM, SGLang, Ollama) answers in milliseconds, so the client's own CPU bounds a
run: aiohttp spends about 0.2 ms of it per request on a request object, header multidicts, a
stream reader and its timers. This client is an asyncio protocol per keep-alive connection,
with the response parsed by llhttp (the C parser Node.js uses, through `httptools`): about half
of aiohttp's CPU per request, measured in docs/performance.md.

Scope, kept small on purpose: `http://` only (TLS, proxies and streamed answers go through
aiohttp, in `openai_api.py`), requests with a body of known length, responses framed by
Content-Length, chunked encoding or the connection's close, gzip or deflate bodies.

Failures are the ones the caller maps to its own: `Unreachable` (the connection could not be
made), `asyncio.TimeoutError` (connect or a silent read past the limit) and `ConnectionError`
(the connection dropped, or the server sent something that is not HTTP).
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import quote, urlsplit

import httptools

import cares

_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


class Unreachable(Exception):
    """No connection could be made: `error` is the OSError from connecting (refused, no such host)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class WireResponse:
    status: int
    headers: dict[str, str]  # names lower-cased; a repeated header keeps its last value
    body: bytes


def _header_line(name: str, value: str) -> bytes:
    # A CR or LF would let a value start a header (or a request) of its own.
    if any(c in name or c in value for c in "\r\n") or not name or ":" in name:
        raise ValueError(f"invalid HTTP header {name!r}")
    return f"{name}: {value}\r\n".encode("latin-1")


class _Connection(asyncio.Protocol):
    """One keep-alive connection: at most one request in flight, its response parsed as it arrives."""

    def __init__(self, read_timeout: float) -> None:
        self.read_timeout = read_timeout
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[WireResponse] | None = None
        self.closed = False
        self.closed_here = False  # by this client (a timeout, a cancelled request, close()), not by the server
        self.started = False  # whether any byte of the current request's answer has come
        # One timer per request, not one per read: each read notes its time, and a timer that fires
        # early (the response still arriving) is set again for the rest of the silence allowed.
        self.timer: asyncio.TimerHandle | None = None
        self.last_read = 0.0
        self._reset()

    def _reset(self) -> None:
        self.headers: dict[str, str] = {}
        self.chunks: list[bytes] = []
        self.headers_done = False
        self.framed = False  # Content-Length or chunked: otherwise the body ends with the connection

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not an isinstance check: uvloop's transports do not derive from asyncio's classes.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.waiter is None or self.waiter.done():
            self.close()  # bytes nobody asked for: the next answer read here could be theirs
            return
        self.last_read = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionError(f"not an HTTP response ({exc})"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            if self.headers_done and not self.framed:
                self.on_message_complete()  # the close is the end of an unframed body
            else:
                if self.closed_here:
                    self._fail(ConnectionError("the client closed the connection before the answer came"))
                else:
                    reason = "before the response began" if not self.started else "mid-response"
                    self._fail(ConnectionError(f"server closed the connection {reason}"))

    # httptools callbacks
    def on_message_begin(self) -> None:
        if self.waiter is None or self.waiter.done():
            self.close()  # a second answer in the same read as the first: nobody asked for it
        self.started = True

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.headers_done:  # a chunked body's trailers are not the answer's headers
            self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.headers_done = True
        self.framed = ("content-length" in self.headers
                       or "chunked" in self.headers.get("transfer-encoding", "").lower())

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        status = self.parser.get_status_code()
        if 100 <= status < 200:  # an interim answer (103 Early Hints): the real one follows
            self._reset()
            return
        body = b"".join(self.chunks)
        try:
            body = _decoded(body, self.headers.get("content-encoding", ""))
        except zlib.error as exc:
            self._fail(ConnectionError(f"response body does not decode ({exc})"))
            return
        self._disarm()
        if not self.parser.should_keep_alive():
            self.close()
        waiter.set_result(WireResponse(status, self.headers, body))
        self.headers = {}  # what the parser may still read in this buffer must not reach the answer given

    # the request side
    def send(self, request: bytes, waiter: asyncio.Future[WireResponse]) -> None:
        assert self.transport is not None
        self._reset()
        self.started = False
        self.waiter = waiter
        self.last_read = self.loop.time()
        self.timer = self.loop.call_at(self.last_read + self.read_timeout, self._check_silence)
        self.transport.write(request)

    def _check_silence(self) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        due = self.last_read + self.read_timeout
        if self.loop.time() < due:
            self.timer = self.loop.call_at(due, self._check_silence)
            return
        self.timer = None
        self._fail(asyncio.TimeoutError())
        self.close()

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _fail(self, exc: BaseException) -> None:
        self._disarm()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    def close(self) -> None:
        if not self.closed:
            self.closed = self.closed_here = True
        self._disarm()
        if self.transport is not None:
            self.transport.close()


def _decoded(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding == "gzip":
        return zlib.decompress(body, 16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:  # the raw deflate some servers send under this name
            return zlib.decompress(body, -zlib.MAX_WBITS)
    return body


class WireClient:
    """POSTs to one `http://` URL over a pool of keep-alive connections, as many as are in flight.

    `connect_timeout` bounds making a connection and `read_timeout` each silence while a response
    is awaited, as aiohttp's sock_connect and sock_read do; the caller bounds the whole attempt."""

    def __init__(self, url: str, headers: Mapping[str, str], connect_timeout: float, read_timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"WireClient speaks plain http only, not {url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        # Percent-encoded as aiohttp does it: a space or a non-ASCII letter in a path would
        # otherwise break the request line.
        target = quote(parts.path or "/", safe=_PATH_SAFE) + (f"?{quote(parts.query, safe=_QUERY_SAFE)}"
                                                              if parts.query else "")
        authority = parts.netloc.rpartition("@")[2]
        lines = [f"POST {target} HTTP/1.1\r\nHost: {authority}\r\n".encode("latin-1")]
        given = {name.lower() for name in headers}
        defaults = {"User-Agent": f"cares/{cares.__version__}", "Accept-Encoding": "identity"}
        lines += [_header_line(name, value) for name, value in defaults.items() if name.lower() not in given]
        lines += [_header_line(name, value) for name, value in headers.items()
                  if name.lower() not in ("host", "content-length", "transfer-encoding", "connection")]
        self._head = b"".join(lines) + b"Content-Length: "
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()

    async def post(self, body: bytes) -> WireResponse:
        request = b"%s%d\r\n\r\n%s" % (self._head, len(body), body)
        connection = self._take_idle()
        if connection is not None:
            try:
                return await self._exchange(connection, request)
            except ConnectionError:
                # A kept-alive connection the server closed as it sat idle, before answering this
                # request: sent again, once, on a fresh connection. Not an answer begun (an interim
                # 1xx counts), nor a connection this client closed itself (`close()` while in flight).
                if connection.started or connection.closed_here:
                    raise
        return await self._exchange(await self._connect(), request)

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
            self._open.discard(connection)
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(lambda: _Connection(self.read_timeout), self.host, self.port),
                self.connect_timeout)
        except asyncio.TimeoutError:
            raise  # an OSError from Python 3.11 on, yet a slow network, not a wrong address
        except OSError as exc:
            raise Unreachable(exc) from None
        self._open.add(connection)
        return connection

    async def _exchange(self, connection: _Connection, request: bytes) -> WireResponse:
        waiter: asyncio.Future[WireResponse] = asyncio.get_running_loop().create_future()
        try:
            connection.send(request, waiter)
            response = await waiter
        except BaseException:
            # A failure, a timeout or a cancelled attempt leaves the connection mid-exchange: never reused.
            connection.close()
            self._open.discard(connection)
            raise
        if connection.closed:
            self._open.discard(connection)
        else:
            self._idle.append(connection)
        return response

    async def close(self) -> None:
        for connection in self._open:
            connection.close()
        self._open.clear()
        self._idle.clear()
        await asyncio.sleep(0)  # lets the transports finish closing
