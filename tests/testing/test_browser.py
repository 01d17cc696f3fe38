"""The driver's own checks can fail: a page that does run a hostile payload is caught."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cares.testing.browser import Chromium, find_chromium

pytestmark = pytest.mark.skipif(find_chromium() is None,
                                reason="Chromium is not installed (apt-get install chromium, or set CARES_CHROMIUM)")


def test_driver_sees_scripts_that_run_and_loads_that_csp_blocks(tmp_path: Path) -> None:
    open_page = tmp_path / "open.html"
    open_page.write_text("<title>t</title><img src=x onerror=\"window.__pwned='img'\">")
    strict = tmp_path / "strict.html"
    strict.write_text("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'\">"
                      "<title>t</title><script>window.__pwned='inline'</script>")

    async def visit() -> tuple[object, object, list[str]]:
        async with await Chromium.launch() as browser:
            first = await browser.open(open_page.as_uri())
            await asyncio.sleep(0.3)
            second = await browser.open(strict.as_uri())
            await asyncio.sleep(0.3)
            return (await first.evaluate("window.__pwned"), await second.evaluate("window.__pwned ?? null"),
                    second.events.csp_violations)

    ran, blocked, violations = asyncio.run(visit())
    assert ran == "img"
    assert blocked is None and violations
