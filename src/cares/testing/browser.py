"""A small headless-Chromium driver over the Chrome DevTools Protocol (aiohttp websockets, no other deps).

Used to check generated reports in a real browser: load a file, evaluate expressions, interact, take
screenshots, and record what the page tried to do (network requests, CSP violations, console errors).

    async with await Chromium.launch() as browser:
        page = await browser.open(path.as_uri())
        assert await page.evaluate("document.title") == "..."
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_chromium() -> str | None:
    """The browser binary: $CARES_CHROMIUM, else the first known name on PATH."""
    explicit = os.environ.get("CARES_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    return next((path for name in CANDIDATES if (path := shutil.which(name))), None)


class BrowserError(RuntimeError):
    pass


@dataclass
class PageEvents:
    requests: list[str] = field(default_factory=list)  # every URL the page asked for, the page's own included
    csp_violations: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)  # alert/confirm/prompt opened by the page


class Page:
    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser = browser
        self.session = session
        self.events = PageEvents()
        self.loaded = asyncio.Event()

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        return await self.browser.send(method, params, session=self.session)

    def on_event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Page.loadEventFired":
            self.loaded.set()
        elif method == "Network.requestWillBeSent":
            self.events.requests.append(params["request"]["url"])
        elif method == "Log.entryAdded":
            entry = params["entry"]
            text = entry.get("text", "")
            if "Content Security Policy" in text or entry.get("source") == "security":
                self.events.csp_violations.append(text)
            elif entry.get("level") == "error":
                self.events.console.append(text)
        elif method == "Runtime.consoleAPICalled":
            self.events.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))
        elif method == "Runtime.exceptionThrown":
            self.events.exceptions.append(json.dumps(params["exceptionDetails"])[:500])
        elif method == "Page.javascriptDialogOpening":
            self.events.dialogs.append(params.get("message", ""))
            asyncio.ensure_future(self.send("Page.handleJavaScriptDialog", accept=False))

    async def goto(self, url: str, timeout: float = 30.0) -> None:
        self.loaded.clear()
        await self.send("Page.navigate", url=url)
        await asyncio.wait_for(self.loaded.wait(), timeout)

    async def evaluate(self, expression: str) -> Any:
        reply = await self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in reply:
            raise BrowserError(f"{expression[:80]!r} threw: {reply['exceptionDetails'].get('text')}")
        return reply["result"].get("value")

    async def screenshot(self, path: Path, full_page: bool = True) -> Path:
        reply = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=full_page)
        path.write_bytes(base64.b64decode(reply["data"]))
        return path


class Chromium:
    """One headless browser process with its own throwaway profile."""

    def __init__(self, process: subprocess.Popen[bytes], profile: str, ws: aiohttp.ClientWebSocketResponse[bool],
                 http: aiohttp.ClientSession) -> None:
        self.process, self.profile, self.ws, self.http = process, profile, ws, http
        self.ids = itertools.count(1)
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.pages: dict[str, Page] = {}
        self.reader = asyncio.ensure_future(self._read())

    @classmethod
    async def launch(cls, binary: str | None = None, timeout: float = 30.0) -> Chromium:
        binary = binary or find_chromium()
        if binary is None:
            raise BrowserError("no Chromium found (install `chromium`, or set CARES_CHROMIUM)")
        profile = tempfile.mkdtemp(prefix="cares-chromium-")
        args = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-extensions", "--disable-component-update", "--disable-default-apps", "--no-first-run",
                "--mute-audio", "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"]
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        active = Path(profile) / "DevToolsActivePort"
        deadline = asyncio.get_running_loop().time() + timeout
        while not (active.is_file() and len(active.read_text().splitlines()) >= 2):
            if process.poll() is not None or asyncio.get_running_loop().time() > deadline:
                process.kill()
                shutil.rmtree(profile, ignore_errors=True)
                raise BrowserError(f"{binary} did not start its DevTools endpoint (exit code {process.poll()})")
            await asyncio.sleep(0.05)
        port, path = active.read_text().splitlines()[:2]
        http = aiohttp.ClientSession()
        ws = await http.ws_connect(f"ws://127.0.0.1:{port}{path}", max_msg_size=0)
        return cls(process, profile, ws, http)

    async def __aenter__(self) -> Chromium:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            if "id" in data and data["id"] in self.waiting:
                self.waiting.pop(data["id"]).set_result(data)
            elif "method" in data and data.get("sessionId") in self.pages:
                self.pages[data["sessionId"]].on_event(data["method"], data.get("params", {}))
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(BrowserError("the browser closed the DevTools connection"))

    async def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
                   timeout: float = 30.0) -> dict[str, Any]:
        message: dict[str, Any] = {"id": next(self.ids), "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[message["id"]] = future
        await self.ws.send_str(json.dumps(message))
        reply = await asyncio.wait_for(future, timeout)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message')}")
        return dict(reply.get("result", {}))

    async def open(self, url: str, width: int = 1280, height: int = 900) -> Page:
        """A new tab with network, log and runtime events recorded from before the first request."""
        target = await self.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        page = Page(self, attached["sessionId"])
        self.pages[page.session] = page
        for domain in ("Page", "Network", "Log", "Runtime"):
            await page.send(f"{domain}.enable")
        await page.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                        mobile=False)
        await page.goto(url)
        return page

    async def close(self) -> None:
        try:
            if not self.ws.closed:
                await self.send("Browser.close", timeout=5)
        except (BrowserError, asyncio.TimeoutError, ConnectionError):
            pass
        await self.ws.close()
        await self.http.close()
        self.reader.cancel()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)
