"""The cause of a flake in test_upstream_sees_the_reminder_exactly_when_the_guard_flags: the openai
client closes a stream as soon as it reads [DONE], and when that close reached the proxy before the
upstream's end of stream, the proxy's final write failed and the request was logged as a 500
(internal_error:ConnectionResetError) although the client had its whole answer."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from cares.guard.detector import load_detector
from cares.testing.openai_server import FakeOpenAIServer, ServerConfig, _chunk_body
from tests.guard.test_proxy import UPSTREAM_KEY, make_proxy


class LingeringStreamServer(FakeOpenAIServer):
    """Ends each stream a moment after its [DONE] event, as a server finishing its bookkeeping may."""

    async def _stream(self, request: web.Request, body: dict[str, Any], text: str) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        chunk = _chunk_body(body, {"role": "assistant", "content": text}, "stop")
        await response.write(f"data: {__import__('json').dumps(chunk)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await asyncio.sleep(0.3)
        await response.write_eof()
        return response


def test_a_client_closing_after_done_is_logged_as_a_complete_200(tmp_path: Path) -> None:
    with LingeringStreamServer(ServerConfig(api_key=UPSTREAM_KEY)) as upstream:
        with make_proxy(load_detector("builtin"), upstream, tmp_path) as proxy:
            client = proxy.client()
            for _ in range(3):
                stream = client.chat.completions.create(
                    model="fake-model", messages=[{"role": "user", "content": "How do I book a blood test?"}],
                    stream=True)
                assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
            deadline = time.monotonic() + 5
            while len(proxy.log_lines()) < 3:
                assert time.monotonic() < deadline, "access log lines missing"
                time.sleep(0.02)
            lines = proxy.log_lines()
    assert [(line["status"], line["upstream_status"]) for line in lines] == [(200, 200)] * 3
    assert all(line["error"] in (None, "client_disconnected") for line in lines), lines
