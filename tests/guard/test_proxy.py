"""The guarding proxy, driven by the official `openai` client, in front of a real HTTP upstream.

The proxy runs in its own thread and event loop on 127.0.0.1, the upstream is FakeOpenAIServer,
and the detector is a real trained one: the acceptance is that the upstream sees the reminder
exactly for the prompts the same Guard flags.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import openai
import pytest

from cares.attacks.styles import rewrite
from cares.data.cares18k import load_sample
from cares.errors import ConfigError
from cares.guard.detector import Detector, load_detector
from cares.guard.policy import REMINDER, Guard, GuardPolicy, content_text
from cares.guard.proxy import GuardProxy, ProxyConfig, is_loopback, serve, upstream_base_url
from cares.guard.proxy_auth import ClientTokens, bearer_token
from cares.guard.proxy_log import AccessLog
from cares.testing.openai_server import FakeOpenAIServer, ServerConfig

TOKEN = "client-token-5f0c2a9e7d1b4c38"
UPSTREAM_KEY = "upstream-key-91e4b7a0c2d5f836"


@pytest.fixture(scope="session")
def detector() -> Detector:
    return load_detector("builtin")


class RunningProxy:
    """The proxy served from a background thread, as `cares guard serve` serves it."""

    def __init__(self, guard: Guard, config: ProxyConfig, log_path: Path, log_bodies: bool = False) -> None:
        self.guard = guard
        self.config = config
        self.log_path = log_path
        self.log_bodies = log_bodies
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> RunningProxy:
        ready = threading.Event()

        def on_ready(host: str, port: int) -> None:
            self.port = port
            ready.set()

        async def main() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            log = AccessLog(self.log_path, log_bodies=self.log_bodies)
            try:
                proxy = GuardProxy(self.guard, self.config, log)
                await serve(proxy, "127.0.0.1", 0, on_ready=on_ready, stop=self._stop, handle_signals=False)
            finally:
                log.close()

        def run() -> None:
            try:
                asyncio.run(main())
            except BaseException as exc:  # noqa: BLE001 - reported to the test thread
                self._error = exc
                ready.set()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        assert ready.wait(10) and self._error is None, self._error
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None and self._thread is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        assert not self._thread.is_alive()

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]

    def client(self, token: str = TOKEN) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url, api_key=token, max_retries=0, timeout=10)

    def raw(self, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """A request sent with http.client, for what the openai client would never send."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers={"Authorization": f"Bearer {TOKEN}", **(headers or {})})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()


@pytest.fixture
def upstream() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(ServerConfig(api_key=UPSTREAM_KEY)) as server:
        yield server


def make_proxy(detector: Detector, upstream: FakeOpenAIServer, tmp_path: Path, *, mode: str = "flagged",
               log_bodies: bool = False, **config: Any) -> RunningProxy:
    guard = Guard(detector, GuardPolicy(mode=mode))  # type: ignore[arg-type]
    proxy_config = ProxyConfig(upstream=upstream.base_url, upstream_key=UPSTREAM_KEY,
                               tokens=ClientTokens.from_tokens([TOKEN, "second-token-4b1d9e0f7a2c"]), **config)
    return RunningProxy(guard, proxy_config, tmp_path / "access.jsonl", log_bodies=log_bodies)


def acceptance_prompts() -> list[str]:
    """Direct CARES-18K prompts, their published rewrites, and rule-based rewrites of the same requests."""
    items, _ = load_sample()
    by_method: dict[str, list[str]] = {}
    for item in items:
        by_method.setdefault(str(item.metadata["method"]), []).append(item.prompt)
    direct = by_method["direct"][::16][:4]
    published = [by_method[m][i] for i, m in enumerate(("indirect", "obfuscate", "role_play", "role_play"))]
    rewritten = [rewrite(direct[i], style, seed=3) for i, style in enumerate(("indirect", "obfuscate", "role_play"))]
    plain = ["What is the usual adult dose of paracetamol?", "How do I book a blood test at my GP surgery?"]
    return direct + published + rewritten + plain


def reminder_seen(entry: dict[str, Any]) -> bool:
    messages = entry["messages"]
    first = messages[0] if messages else {}
    return first.get("role") == "system" and REMINDER in content_text(first.get("content"))


def test_upstream_sees_the_reminder_exactly_when_the_guard_flags(
    detector: Detector, upstream: FakeOpenAIServer, tmp_path: Path
) -> None:
    prompts = acceptance_prompts()
    guard = Guard(detector)
    expected = [guard.decide(p).flagged for p in prompts]
    assert True in expected and False in expected  # both outcomes are exercised
    request_ids = []
    with make_proxy(detector, upstream, tmp_path) as proxy:
        client = proxy.client()
        for index, prompt in enumerate(prompts):
            messages = [{"role": "user", "content": prompt}]
            raw = client.chat.completions.with_raw_response.create(
                model="fake-model", messages=messages, stream=bool(index % 2))  # every other prompt streamed
            request_ids.append(raw.headers["X-Request-Id"])
            if index % 2:
                text = "".join(chunk.choices[0].delta.content or "" for chunk in raw.parse() if chunk.choices)
            else:
                text = raw.parse().choices[0].message.content or ""
            assert text.strip()
        # A streamed request's line is written when its stream closes, which may be after the client
        # has read the last chunk: wait for every line, then pair lines with requests by id.
        deadline = time.monotonic() + 5
        while len([line for line in proxy.log_lines() if line["path"] == "/v1/chat/completions"]) < len(prompts):
            assert time.monotonic() < deadline, "access log lines missing"
            time.sleep(0.02)
        log = proxy.log_lines()
    seen = {entry["prompt"]: reminder_seen(entry) for entry in upstream.stats.log}
    assert len(upstream.stats.log) == len(prompts)
    assert [seen[p] for p in prompts] == expected
    # The access log agrees with the decision, request by request, and holds no prompt text.
    by_id = {line["request_id"]: line for line in log if line["path"] == "/v1/chat/completions"}
    chat_lines = [by_id[request_id] for request_id in request_ids]
    assert [line["flagged"] for line in chat_lines] == expected
    assert [line["reminder_applied"] for line in chat_lines] == expected
    assert [line["stream"] for line in chat_lines] == [bool(i % 2) for i in range(len(prompts))]
    assert all(line["status"] == 200 and line["upstream_status"] == 200 for line in chat_lines)
    text = proxy.log_path.read_text()
    for prompt in prompts:
        assert prompt not in text and prompt[:40] not in text
    assert TOKEN not in text and UPSTREAM_KEY not in text


@pytest.mark.parametrize("mode", ["always", "never"])
def test_modes_always_and_never(detector: Detector, upstream: FakeOpenAIServer, tmp_path: Path, mode: str) -> None:
    prompts = acceptance_prompts()[:8]
    with make_proxy(detector, upstream, tmp_path, mode=mode, guard_header=True) as proxy:
        client = proxy.client()
        for prompt in prompts:
            raw = client.chat.completions.with_raw_response.create(
                model="fake-model", messages=[{"role": "user", "content": prompt}])
            assert raw.http_response.status_code == 200
            assert f"applied={'true' if mode == 'always' else 'false'}" in raw.headers["X-Cares-Guard"]
    assert [reminder_seen(entry) for entry in upstream.stats.log] == [mode == "always"] * len(prompts)


def test_only_the_messages_change_and_the_upstream_gets_its_own_key(
    detector: Detector, upstream: FakeOpenAIServer, tmp_path: Path
) -> None:
    messages = [
        {"role": "system", "content": "You are the ward's assistant."},
        {"role": "user", "content": [{"type": "text", "text": "What is the usual adult dose of paracetamol?"}]},
    ]
    extra = {"temperature": 0.3, "max_tokens": 50, "seed": 7, "user": "ward-4", "stop": ["\n\n"]}
    with make_proxy(detector, upstream, tmp_path, mode="always") as proxy:
        raw = proxy.client().chat.completions.with_raw_response.create(
            model="fake-model", messages=messages, extra_body={"hospital_field": {"ward": 4}}, **extra)
        assert raw.headers["X-Request-Id"]
    (entry,) = upstream.stats.log
    body = entry["body"]
    assert {k: body[k] for k in extra} == extra and body["hospital_field"] == {"ward": 4}
    assert body["model"] == "fake-model" and "stream" not in body
    # The reminder leads the existing system prompt in one system message; the user turn is untouched.
    assert body["messages"][0] == {"role": "system", "content": f"{REMINDER}\n\nYou are the ward's assistant."}
    assert body["messages"][1] == messages[1] and len(body["messages"]) == 2
    headers = {k.lower(): v for k, v in entry["headers"].items()}
    assert headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert TOKEN not in json.dumps(entry["headers"])


def test_stream_is_relayed_chunk_by_chunk(detector: Detector, tmp_path: Path) -> None:
    words = "one two three four five six seven eight"
    config = ServerConfig(api_key=UPSTREAM_KEY, reply=lambda messages, model: words, stream_chunk_delay_s=0.1)
    with FakeOpenAIServer(config) as slow, make_proxy(detector, slow, tmp_path) as proxy:
        started = time.perf_counter()
        arrivals = []
        stream = proxy.client().chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": "Hello?"}], stream=True)
        pieces = []
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                arrivals.append(time.perf_counter() - started)
                pieces.append(chunk.choices[0].delta.content)
    assert "".join(pieces) == words
    # The upstream takes >= 0.7 s for the whole answer; the first word must not wait for it.
    assert arrivals[-1] >= 0.6
    assert arrivals[0] < arrivals[-1] - 0.4


def assert_json_error(body: bytes, code: str) -> dict[str, Any]:
    error = json.loads(body)["error"]
    assert set(error) >= {"message", "type", "code"} and error["code"] == code and error["message"]
    return error


def test_unauthenticated_requests_get_401(detector: Detector, upstream: FakeOpenAIServer, tmp_path: Path) -> None:
    with make_proxy(detector, upstream, tmp_path) as proxy:
        with pytest.raises(openai.AuthenticationError) as caught:
            proxy.client("not-a-valid-token").chat.completions.create(
                model="fake-model", messages=[{"role": "user", "content": "hi"}])
        assert caught.value.status_code == 401
        assert caught.value.response.json()["error"]["code"] == "invalid_api_key"
        assert 'error="invalid_token"' in caught.value.response.headers["WWW-Authenticate"]
        status, headers, body = proxy.raw("POST", "/v1/chat/completions", b"{}", headers={"Authorization": ""})
        assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
        assert_json_error(body, "missing_api_key")
        status, _, body = proxy.raw("GET", "/v1/models", headers={"Authorization": "Basic abc"})
        assert status == 401
        # The second configured token works too, and /healthz needs none.
        assert proxy.client("second-token-4b1d9e0f7a2c").models.list().data[0].id == "fake-model"
        status, _, body = proxy.raw("GET", "/healthz", headers={"Authorization": ""})
        assert status == 200 and json.loads(body)["guard"]["detector"] == detector.identity()
        log = proxy.log_path.read_text()
    assert upstream.stats.requests == 0  # nothing unauthenticated reached the model
    assert "not-a-valid-token" not in log and TOKEN not in log


def test_oversized_bodies_get_413(detector: Detector, upstream: FakeOpenAIServer, tmp_path: Path) -> None:
    big = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x" * 5000}]}).encode()
    with make_proxy(detector, upstream, tmp_path, max_body_bytes=4096) as proxy:
        with pytest.raises(openai.APIStatusError) as caught:
            proxy.client().chat.completions.create(model="m", messages=[{"role": "user", "content": "x" * 5000}])
        assert caught.value.status_code == 413
        assert caught.value.response.json()["error"]["code"] == "request_too_large"

        def chunked() -> Iterator[bytes]:  # no Content-Length: the cap must hold while reading
            for start in range(0, len(big), 1000):
                yield big[start:start + 1000]

        connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
        connection.request("POST", "/v1/chat/completions", body=chunked(), encode_chunked=True,
                           headers={"Authorization": f"Bearer {TOKEN}", "Transfer-Encoding": "chunked"})
        response = connection.getresponse()
        assert response.status == 413
        assert_json_error(response.read(), "request_too_large")
        connection.close()
        small = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x" * 3000}]}).encode()
        assert proxy.raw("POST", "/v1/chat/completions", small)[0] == 200
    assert upstream.stats.requests == 1


BAD_BODIES = {
    "not json": (b"{\"model\": ", "invalid_json", None),
    "not an object": (b"[1, 2]", "invalid_json", None),
    "no messages": (b'{"model": "m"}', "missing_field", "messages"),
    "messages not a list": (b'{"model": "m", "messages": "hi"}', "invalid_type", "messages"),
    "empty messages": (b'{"model": "m", "messages": []}', "invalid_type", "messages"),
    "message not an object": (b'{"messages": ["hi"]}', "invalid_type", "messages[0]"),
    "role missing": (b'{"messages": [{"content": "hi"}]}', "invalid_type", "messages[0].role"),
    "content a number": (b'{"messages": [{"role": "user", "content": 3}]}', "invalid_type", "messages[0].content"),
    "text part": (b'{"messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]}', "invalid_type",
                  "messages[0].content[0].text"),
    "stream a string": (b'{"messages": [{"role": "user", "content": "hi"}], "stream": "yes"}', "invalid_type",
                        "stream"),
    "model a number": (b'{"messages": [{"role": "user", "content": "hi"}], "model": 4}', "invalid_type", "model"),
}


def test_malformed_requests_get_400_naming_the_field(
    detector: Detector, upstream: FakeOpenAIServer, tmp_path: Path
) -> None:
    with make_proxy(detector, upstream, tmp_path) as proxy:
        for name, (body, code, param) in BAD_BODIES.items():
            status, _, answer = proxy.raw("POST", "/v1/chat/completions", body,
                                          headers={"Content-Type": "application/json"})
            assert status == 400, name
            error = assert_json_error(answer, code)
            assert error["param"] == param, name
            if param:
                assert f"'{param}'" in error["message"], name
        status, _, answer = proxy.raw("GET", "/v1/nothing-here")
        assert status == 404
        assert_json_error(answer, "not_found")
        status, headers, answer = proxy.raw("GET", "/v1/chat/completions")
        assert status == 405 and "POST" in headers["Allow"]
        assert_json_error(answer, "method_not_allowed")
    assert upstream.stats.requests == 0


def test_upstream_errors_are_forwarded_as_json(detector: Detector, tmp_path: Path) -> None:
    failing = ServerConfig(api_key=UPSTREAM_KEY, fault_rate=1.0, fault_kinds=("429",), retry_after_s=2)
    with FakeOpenAIServer(failing) as upstream, make_proxy(detector, upstream, tmp_path) as proxy:
        for stream in (False, True):
            with pytest.raises(openai.RateLimitError) as caught:
                proxy.client().chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "hi"}], stream=stream)
            assert caught.value.response.json() == {"error": {"message": "rate limited"}}
            assert caught.value.response.headers["Retry-After"] == "2"
    with FakeOpenAIServer(ServerConfig()) as closed:
        pass  # stopped: nothing listens on its port any more
    with make_proxy(detector, closed, tmp_path) as proxy:
        status, _, body = proxy.raw("POST", "/v1/chat/completions", b'{"messages": [{"role": "user", "content": "x"}]}')
        assert status == 502
        error = assert_json_error(body, "upstream_unreachable")
        assert str(closed.port) not in error["message"]  # the upstream's address stays private
        status, _, body = proxy.raw("GET", "/v1/models")
        assert status == 502
        assert_json_error(body, "upstream_unreachable")
        lines = proxy.log_lines()
    # Both proxies appended to the same log file: the 429s the upstream sent, then the 502s.
    assert [(line["status"], line["upstream_status"]) for line in lines] == [(429, 429)] * 2 + [(502, None)] * 2
    assert [line["error"] for line in lines] == ["upstream_error"] * 2 + ["upstream_unreachable"] * 2


def test_log_bodies_is_opt_in(detector: Detector, upstream: FakeOpenAIServer, tmp_path: Path) -> None:
    prompt = "Which vaccines does a nurse give at the 12-month visit?"
    with make_proxy(detector, upstream, tmp_path, log_bodies=True) as proxy:
        proxy.client().chat.completions.create(model="fake-model", messages=[{"role": "user", "content": prompt}])
        (line,) = proxy.log_lines()
    assert line["request_messages"] == [{"role": "user", "content": prompt}]
    assert json.loads(line["response_body"])["choices"][0]["message"]["content"]
    assert set(line) >= {"time", "request_id", "client", "method", "path", "status", "latency_ms", "bytes_in",
                         "bytes_out", "model", "stream", "detector_score", "flagged", "reminder_applied",
                         "guard_ms", "upstream_status"}
    assert line["bytes_in"] > len(prompt) and line["bytes_out"] > 0 and line["client"] == "127.0.0.1"
    assert line["detector_score"] == pytest.approx(detector.score([prompt])[0], abs=1e-6)


class FailingDetector:
    """A detector that breaks on every prompt, as a corrupt or out-of-memory one would."""

    threshold = 0.5

    def score(self, prompts: Sequence[str]) -> list[float]:
        raise RuntimeError("scoring failed for: " + " | ".join(prompts))

    def identity(self) -> dict[str, Any]:
        return {"kind": "failing"}


def test_a_request_the_guard_cannot_score_is_not_forwarded(upstream: FakeOpenAIServer, tmp_path: Path) -> None:
    prompt = "Patient Jane Roe, bed 12: what dose of morphine?"
    with make_proxy(FailingDetector(), upstream, tmp_path) as proxy:  # type: ignore[arg-type]
        with pytest.raises(openai.APIStatusError) as caught:
            proxy.client().chat.completions.create(model="m", messages=[{"role": "user", "content": prompt}])
        assert caught.value.status_code == 503
        assert caught.value.response.json()["error"]["code"] == "guard_unavailable"
        log = proxy.log_path.read_text()
    assert upstream.stats.requests == 0
    assert json.loads(log)["error"] == "guard_failed:RuntimeError" and "Jane Roe" not in log


def test_addresses_tokens_and_upstream_urls() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3") and not is_loopback("proxy.hospital.org")
    assert bearer_token("Bearer abc") == "abc" and bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None and bearer_token("Bearer ") is None and bearer_token(None) is None
    tokens = ClientTokens.from_tokens(["first-token", "second-token"])
    assert tokens.allows("second-token") and not tokens.allows("second-toke") and not tokens.allows(None)
    assert "first-token" not in repr(tokens)  # only digests are kept
    assert upstream_base_url(" http://gpu-node:8000/v1/ ") == "http://gpu-node:8000/v1"
    with pytest.raises(ConfigError, match="credentials in the URL"):
        upstream_base_url("https://user:pw@host/v1")


def test_the_guard_header_is_off_unless_asked_for(
    detector: Detector, upstream: FakeOpenAIServer, tmp_path: Path
) -> None:
    prompt = acceptance_prompts()[-1]
    with make_proxy(detector, upstream, tmp_path) as proxy:
        raw = proxy.client().chat.completions.with_raw_response.create(
            model="fake-model", messages=[{"role": "user", "content": prompt}])
        assert raw.http_response.status_code == 200 and raw.headers.get("X-Request-Id")
        assert "X-Cares-Guard" not in raw.headers
