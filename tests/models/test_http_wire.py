"""The lean HTTP/1.1 client against a real socket server on 127.0.0.1 that answers with scripted
bytes: framing (Content-Length, chunked, the connection's close), keep-alive reuse, stale and
dropped connections, timeouts, compressed and interim answers, and what it sends."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from cares.models.http_wire import Unreachable, WireClient

OK = b'{"ok": true}'


def framed(body: bytes = OK, status: bytes = b"200 OK", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s" % (
        status, len(body), extra, body)


@dataclass
class Received:
    head: str
    body: bytes


@dataclass
class Script:
    """What the server does with the n-th request it reads: write these bytes, then maybe close."""

    answer: Callable[[int, asyncio.StreamWriter], Awaitable[None]]
    connections: int = 0
    requests: list[Received] = field(default_factory=list)


async def read_request(reader: asyncio.StreamReader) -> Received | None:
    try:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    length = next(int(line.split(":", 1)[1]) for line in head.split("\r\n")
                  if line.lower().startswith("content-length"))
    return Received(head, await reader.readexactly(length))


def serve(script: Script, test: Callable[[str], Awaitable[None]]) -> None:
    """Run `test(url)` against a server that follows `script`."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        script.connections += 1
        try:
            while (request := await read_request(reader)) is not None:
                script.requests.append(request)
                await script.answer(len(script.requests), writer)
                if writer.is_closing():
                    return
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            await test(f"http://127.0.0.1:{port}/v1/chat/completions")
        finally:
            server.close()

    asyncio.run(main())


def replying(*answers: bytes, close_after: bool = False) -> Script:
    async def answer(n: int, writer: asyncio.StreamWriter) -> None:
        writer.write(answers[min(n, len(answers)) - 1])
        await writer.drain()
        if close_after:
            writer.close()

    return Script(answer)


def client(url: str, read_timeout: float = 5.0, headers: dict[str, str] | None = None) -> WireClient:
    return WireClient(url, headers or {"Authorization": "Bearer k"}, connect_timeout=5.0, read_timeout=read_timeout)


def test_keep_alive_answers_come_on_one_connection_with_what_was_sent() -> None:
    script = replying(framed(b'{"n": 1}'), framed(b'{"n": 2}', status=b"429 Too Many Requests",
                                                  extra=b"Retry-After: 3\r\n"))

    async def test(url: str) -> None:
        wire = client(url, headers={"Authorization": "Bearer k", "X-Gateway": "g1"})
        first, second = await wire.post(b'{"a": 1}'), await wire.post(b"{}")
        await wire.close()
        assert (first.status, first.body) == (200, b'{"n": 1}')
        assert (second.status, second.headers["retry-after"]) == (429, "3")

    serve(script, test)
    assert script.connections == 1
    head = script.requests[0].head
    assert head.startswith("POST /v1/chat/completions HTTP/1.1\r\n")
    for line in ("Host: 127.0.0.1:", "Authorization: Bearer k", "X-Gateway: g1", "Content-Length: 8"):
        assert line in head
    assert script.requests[0].body == b'{"a": 1}'


def test_bytes_that_come_unasked_retire_the_connection() -> None:
    async def answer(n: int, writer: asyncio.StreamWriter) -> None:
        writer.write(framed())
        await writer.drain()
        if n == 1:
            await asyncio.sleep(0.05)
            writer.write(framed(b'{"stray": 1}'))  # an answer nobody is waiting for

    async def test(url: str) -> None:
        wire = client(url)
        assert (await wire.post(b"{}")).body == OK
        await asyncio.sleep(0.2)
        assert (await wire.post(b"{}")).body == OK
        await wire.close()

    script = Script(answer)
    serve(script, test)
    assert script.connections == 2


def test_a_chunked_body_is_joined() -> None:
    body = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"ok\"\r\n7\r\n: true}\r\n0\r\n\r\n"

    async def test(url: str) -> None:
        wire = client(url)
        assert (await wire.post(b"{}")).body == OK
        assert (await wire.post(b"{}")).body == OK  # and the connection is fit for the next request
        await wire.close()

    script = replying(body)
    serve(script, test)
    assert script.connections == 1


def test_a_body_without_length_ends_with_the_connection() -> None:
    async def test(url: str) -> None:
        wire = client(url)
        assert (await wire.post(b"{}")).body == OK
        assert (await wire.post(b"{}")).body == OK  # on a new connection: the first one is closed
        await wire.close()

    script = replying(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + OK, close_after=True)
    serve(script, test)
    assert script.connections == 2


def test_connection_close_is_honoured_and_a_stale_kept_connection_is_replaced_once() -> None:
    async def test(url: str) -> None:
        wire = client(url)
        for _ in range(3):
            assert (await wire.post(b"{}")).body == OK
        await wire.close()

    # The first answer says close; the second does not, yet the server closes (as an idle timeout would).
    answers = [framed(extra=b"Connection: close\r\n"), framed(), framed()]

    async def answer(n: int, writer: asyncio.StreamWriter) -> None:
        writer.write(answers[n - 1])
        await writer.drain()
        if n <= 2:
            writer.close()

    script = Script(answer)
    serve(script, test)
    assert script.connections == 3 and len(script.requests) == 3


def test_a_kept_connection_closed_before_answering_is_sent_again_on_a_new_one() -> None:
    async def answer(n: int, writer: asyncio.StreamWriter) -> None:
        if n == 2:  # the second request, on the kept connection: closed unanswered, as at an idle timeout
            writer.close()
            return
        writer.write(framed())
        await writer.drain()

    async def test(url: str) -> None:
        wire = client(url)
        assert (await wire.post(b"{}")).body == OK
        assert (await wire.post(b"{}")).body == OK
        await wire.close()

    script = Script(answer)
    serve(script, test)
    assert script.connections == 2 and len(script.requests) == 3


def test_a_connection_dropped_mid_answer_fails_and_is_not_sent_again() -> None:
    async def answer(n: int, writer: asyncio.StreamWriter) -> None:
        writer.write(framed(b'{"long": "' + b"x" * 100 + b'"}')[:60])
        await writer.drain()
        writer.close()

    async def test(url: str) -> None:
        wire = client(url)
        with pytest.raises(ConnectionError, match="mid-response"):
            await wire.post(b"{}")
        await wire.close()

    script = Script(answer)
    serve(script, test)
    assert len(script.requests) == 1


def test_what_is_not_http_fails_as_a_dropped_connection() -> None:
    async def test(url: str) -> None:
        wire = client(url)
        with pytest.raises(ConnectionError, match="not an HTTP response"):
            await wire.post(b"{}")
        await wire.close()

    serve(replying(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"), test)


def test_silence_times_out_but_a_slow_steady_answer_does_not() -> None:
    async def answer(n: int, writer: asyncio.StreamWriter) -> None:
        if n == 1:
            await asyncio.sleep(2)  # silent past the limit
            return
        reply = framed()
        for start in range(0, len(reply), 10):  # the whole answer takes longer than the limit, no gap does
            writer.write(reply[start:start + 10])
            await writer.drain()
            await asyncio.sleep(0.05)

    async def test(url: str) -> None:
        wire = client(url, read_timeout=0.3)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(asyncio.TimeoutError):
            await wire.post(b"{}")
        assert loop.time() - started < 1.5
        started = loop.time()
        assert (await wire.post(b"{}")).body == OK
        assert loop.time() - started > 0.3
        await wire.close()

    script = Script(answer)
    serve(script, test)
    assert script.connections == 2  # the timed-out connection is never reused


def test_compressed_and_interim_answers() -> None:
    zipped = gzip.compress(OK)
    answers = (framed(zipped, extra=b"Content-Encoding: gzip\r\n"),
               b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + framed())

    async def test(url: str) -> None:
        wire = client(url)
        assert (await wire.post(b"{}")).body == OK
        second = await wire.post(b"{}")
        assert (second.status, second.body) == (200, OK)
        await wire.close()

    serve(replying(*answers), test)


def test_a_cancelled_request_leaves_no_connection_to_reuse() -> None:
    async def answer(n: int, writer: asyncio.StreamWriter) -> None:
        if n == 1:
            await asyncio.sleep(1)
        writer.write(framed())
        await writer.drain()

    async def test(url: str) -> None:
        wire = client(url)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(wire.post(b"{}"), 0.1)
        # A reused connection would carry the first request's late answer as this one's.
        assert (await wire.post(b"{}")).body == OK
        await wire.close()

    script = Script(answer)
    serve(script, test)
    assert script.connections == 2


def test_a_second_answer_in_the_same_read_changes_nothing_given_and_retires_the_connection() -> None:
    async def answer(n: int, writer: asyncio.StreamWriter) -> None:
        reply = framed(extra=b"Retry-After: 1\r\n")
        if n == 1:  # a whole stray answer and the start of another, in the same write
            reply += framed(extra=b"Retry-After: 99\r\n") + b"HTTP/1.1 200 OK\r\nContent-Le"
        writer.write(reply)
        await writer.drain()

    async def test(url: str) -> None:
        wire = client(url)
        assert (await wire.post(b"{}")).headers["retry-after"] == "1"
        assert (await wire.post(b"{}")).body == OK
        await wire.close()

    script = Script(answer)
    serve(script, test)
    assert script.connections == 2 and len(script.requests) == 2


def test_an_answer_begun_with_an_interim_status_is_never_sent_again() -> None:
    async def answer(n: int, writer: asyncio.StreamWriter) -> None:
        if n == 2:
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        writer.write(framed())
        await writer.drain()

    async def test(url: str) -> None:
        wire = client(url)
        assert (await wire.post(b"{}")).body == OK
        with pytest.raises(ConnectionError, match="mid-response"):
            await wire.post(b"{}")
        await wire.close()

    script = Script(answer)
    serve(script, test)
    assert len(script.requests) == 2


def test_chunked_is_read_in_any_case_and_a_cut_chunked_body_fails() -> None:
    async def answer(n: int, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n5\r\n{\"ok\"\r\n")
        await writer.drain()
        writer.close()

    async def test(url: str) -> None:
        wire = client(url)
        with pytest.raises(ConnectionError, match="mid-response"):
            await wire.post(b"{}")
        await wire.close()

    serve(Script(answer), test)


def test_trailers_are_not_headers() -> None:
    body = (b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"2\r\n{}\r\n0\r\nRetry-After: 99\r\n\r\n")

    async def test(url: str) -> None:
        wire = client(url)
        response = await wire.post(b"{}")
        await wire.close()
        assert (response.status, response.headers["retry-after"], response.body) == (429, "1", b"{}")

    serve(replying(body), test)


def test_closing_the_client_fails_what_is_in_flight_and_sends_nothing_again() -> None:
    async def answer(n: int, writer: asyncio.StreamWriter) -> None:
        if n == 2:
            await asyncio.sleep(0.3)
        writer.write(framed())
        await writer.drain()

    async def test(url: str) -> None:
        wire = client(url)
        await wire.post(b"{}")
        in_flight = asyncio.ensure_future(wire.post(b"{}"))
        await asyncio.sleep(0.05)
        await wire.close()
        with pytest.raises(ConnectionError, match="client closed"):
            await in_flight
        assert not wire._open and not wire._idle

    script = Script(answer)
    serve(script, test)
    assert len(script.requests) == 2


def test_a_connect_that_times_out_is_a_timeout_not_an_unreachable_server() -> None:
    # A listener that never accepts, its backlog full: a further connection attempt hangs.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        for _ in range(8):
            filler = socket.socket()
            filler.setblocking(False)
            try:
                filler.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            fillers.append(filler)

        async def go() -> None:
            wire = WireClient(f"http://127.0.0.1:{port}/v1", {}, connect_timeout=0.3, read_timeout=0.3)
            with pytest.raises(asyncio.TimeoutError):
                await wire.post(b"{}")

        try:
            asyncio.run(go())
        finally:
            for filler in fillers:
                filler.close()


def test_the_path_is_percent_encoded() -> None:
    async def test(url: str) -> None:
        wire = client(url.replace("/v1/", "/my models/v1/"))
        await wire.post(b"{}")
        await wire.close()

    script = replying(framed())
    serve(script, test)
    assert script.requests[0].head.startswith("POST /my%20models/v1/chat/completions HTTP/1.1\r\n")


def test_nothing_listening_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def go() -> None:
        with pytest.raises(Unreachable) as caught:
            await client(f"http://127.0.0.1:{port}/v1/chat/completions").post(b"{}")
        assert isinstance(caught.value.error, ConnectionRefusedError)

    asyncio.run(go())


@pytest.mark.parametrize(("url", "headers"), [
    ("https://api.example.com/v1/chat/completions", {}),
    ("http://127.0.0.1:1/v1", {"X-Bad": "a\r\nInjected: 1"}),
    ("http://127.0.0.1:1/v1", {"Bad:Name": "x"}),
])
def test_what_it_will_not_send(url: str, headers: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        WireClient(url, headers, 1.0, 1.0)
