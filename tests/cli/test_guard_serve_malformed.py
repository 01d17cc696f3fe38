"""`cares guard serve` against malformed and slow clients, over raw sockets: nothing a client sent
reaches an output stream or the log, every malformed request gets an access record without its body,
every body that is not JSON text gets a 400 (never a 500), and slow clients are timed out."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cares.testing.openai_server import FakeOpenAIServer, ServerConfig
from tests.cli.test_guard_serve import Serving, start_serve
from tests.conftest import cli_env

TOKEN = "malformed-token-4e1b8c0f9a27d365"
MARKER = "PHI-MARKER-Jane-Doe-MRN-55417"


def chat_body(content: object = "How do I book a blood test?", **message: object) -> bytes:
    return json.dumps({"model": "fake-model", "messages": [{"role": "user", "content": content, **message}]}).encode()


def request_bytes(body: bytes, *, length: int | None = None, close: bool = False) -> bytes:
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body) if length is None else length}\r\n")
    if close:
        head += "Connection: close\r\n"
    return head.encode() + b"\r\n" + body


def exchange(port: int, data: bytes, *, wait_s: float = 10.0) -> bytes:
    """Send `data`, then read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as sock:
        sock.sendall(data)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            pass
    return received


def statuses(raw: bytes) -> list[int]:
    return [int(line.split()[1]) for line in raw.decode("latin-1").split("\r\n") if line.startswith("HTTP/1.")]


def log_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def upstream() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(ServerConfig()) as server:
        yield server


def serve(upstream: FakeOpenAIServer, log_path: Path, *args: str) -> Serving:
    return start_serve("--upstream", upstream.base_url, "--access-log", str(log_path), *args,
                       env=cli_env(CARES_GUARD_TOKEN=TOKEN))


def keep_alive_then(port: int, first: bytes, then: bytes) -> tuple[bytes, bytes]:
    """`first` on a connection, its whole answer read, then `then` on the same connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(first)
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < content_length(answer):
            answer += sock.recv(65536)
        sock.sendall(then)
        rest = b""
        while chunk := sock.recv(65536):
            rest += chunk
    return answer, rest


def content_length(answer: bytes) -> int:
    for line in answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


def test_a_short_content_length_leaks_the_body_to_no_output_stream_or_log(upstream: FakeOpenAIServer,
                                                                          tmp_path: Path) -> None:
    log_path = tmp_path / "access.jsonl"
    serving = serve(upstream, log_path)
    try:
        body = chat_body(f"My patient {MARKER} needs a dose check")
        short = exchange(serving.port, request_bytes(body, length=12))
        after_short = len(log_lines(log_path))
        # Bytes after a good request on a kept-alive connection: aiohttp reports what it cannot parse
        # through its server logger, quoting it.
        good, garbage = keep_alive_then(
            serving.port, request_bytes(chat_body()), f"{MARKER} /x HTTP/1.1\r\n\r\n".encode()
        )
    finally:
        code, out, err = serving.stop()
    assert code == 0, err
    assert statuses(short) == [400] and statuses(good) == [200] and statuses(garbage) == [400]
    for name, text in {"stdout": out, "stderr": err, "access log": log_path.read_text()}.items():
        assert MARKER not in text, f"the marker reached {name}"
        assert "Traceback" not in text and "Error handling request" not in text, name
    assert all(MARKER not in entry["prompt"] for entry in upstream.stats.log)
    lines = log_lines(log_path)
    # The short request is one record: the proxy's own 400 when its first 12 bytes were read apart from the
    # rest, else aiohttp's, when both came in one read and the rest failed to parse as a request.
    assert after_short == 1 and lines[0]["status"] == 400
    assert lines[0]["error"] == "invalid_json" or lines[0]["error"].startswith("malformed_http:")
    assert (lines[1]["status"], lines[1]["error"]) == (200, None)
    assert lines[2]["status"] == 400 and lines[2]["error"].startswith("malformed_http:")
    assert (lines[2]["method"], lines[2]["path"], lines[2]["client"]) == ("-", "-", "127.0.0.1")


@pytest.fixture(scope="module")
def shared_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Serving, Path, FakeOpenAIServer]]:
    root = tmp_path_factory.mktemp("malformed")
    with FakeOpenAIServer(ServerConfig()) as upstream:
        serving = serve(upstream, root / "access.jsonl", "--client-timeout", "1.5")
        try:
            yield serving, root / "access.jsonl", upstream
        finally:
            serving.stop()


BAD_BODIES = {
    "lone-surrogate": (b'{"model": "m", "messages": [{"role": "user", "content": "dose \\ud800 check"}]}',
                       "lone UTF-16 surrogate", "messages[0].content"),
    "nested-10000-deep": (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "extra": '
                          + b"[" * 10_000 + b"]" * 10_000 + b"}", "nested too deeply", None),
    "content-null": (chat_body(None), "must be a string or a list of content parts", "messages[0].content"),
    "unterminated-string": (b'{"model": "m", "messages": [{"role": "user", "content": "abc',
                            "Unterminated string at line 1", None),
    "not-utf8": (b'{"model": "m", "messages": [{"role": "user", "content": "\xff"}]}', "not UTF-8 text", None),
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_every_body_that_is_not_json_text_gets_400(shared_proxy: tuple[Serving, Path, FakeOpenAIServer],
                                                   case: str) -> None:
    serving, _, upstream = shared_proxy
    body, message, param = BAD_BODIES[case]
    asked = upstream.stats.requests
    raw = exchange(serving.port, request_bytes(body, close=True))
    assert statuses(raw) == [400]
    error = json.loads(raw.split(b"\r\n\r\n", 1)[1])["error"]
    assert message in error["message"] and error["param"] == param
    assert "at at" not in error["message"]
    assert upstream.stats.requests == asked


def test_content_null_is_still_accepted_on_an_assistant_turn_with_tool_calls(
        shared_proxy: tuple[Serving, Path, FakeOpenAIServer]) -> None:
    serving, _, upstream = shared_proxy
    body = json.dumps({"model": "m", "messages": [
        {"role": "user", "content": "What is the weather?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "user", "content": "Thanks. Is paracetamol safe with ibuprofen?"}]}).encode()
    assert statuses(exchange(serving.port, request_bytes(body, close=True))) == [200]


def test_a_body_sent_too_slowly_gets_408_and_an_access_record(
        shared_proxy: tuple[Serving, Path, FakeOpenAIServer]) -> None:
    serving, log_path, _ = shared_proxy
    body = chat_body(f"slow {MARKER}")
    started = time.monotonic()
    raw = exchange(serving.port, request_bytes(body)[: -len(body) // 2])  # headers and half the body, then silence
    waited = time.monotonic() - started
    assert statuses(raw) == [408] and b"request_timeout" in raw
    assert 1.0 < waited < 8
    time.sleep(0.2)
    last = [line for line in log_lines(log_path) if line["path"] == "/v1/chat/completions"][-1]
    assert (last["status"], last["error"]) == (408, "request_timeout")
    assert MARKER not in log_path.read_text()


def test_a_client_that_never_finishes_its_headers_is_disconnected(
        shared_proxy: tuple[Serving, Path, FakeOpenAIServer]) -> None:
    serving, _, _ = shared_proxy
    started = time.monotonic()
    raw = exchange(serving.port, b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    waited = time.monotonic() - started
    assert raw == b"" and waited < 8, (raw, waited)
