"""The report in a real headless Chromium: charts render, filters work, hostile outputs stay inert."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cares.report.html import build_report
from cares.testing.browser import Chromium, find_chromium

pytestmark = pytest.mark.skipif(find_chromium() is None,
                                reason="Chromium is not installed (apt-get install chromium, or set CARES_CHROMIUM)")

PROBE = """JSON.stringify({
  pwned: window.__pwned === undefined ? null : String(window.__pwned),
  title: document.title,
  charts: Array.from(document.querySelectorAll('svg.chart'))
    .filter(s => s.getBBox().width > 0 && s.querySelector('rect')).length,
  rows: document.querySelectorAll('#samples tbody tr').length,
  injected: document.querySelectorAll(
    '#samples img, #samples a, #samples iframe, #samples script, #samples svg').length,
  payloadShownAsText: document.body.innerText.includes("<script>window.__pwned")
})"""


CHOOSE = """(() => { const s = document.querySelector('select[data-filter=%s]');
    s.value = '%s'; s.dispatchEvent(new Event('change')); })()"""


async def _visit(path: Path, shot: Path) -> tuple[dict, dict, object]:
    import json

    async with await Chromium.launch() as browser:
        page = await browser.open(path.as_uri())
        before = json.loads(await page.evaluate(PROBE))
        # As a reader would: keep the first run's samples only, open them all, then keep Refuse labels only.
        await page.evaluate(CHOOSE % ("run", "0"))
        await page.evaluate("document.querySelectorAll('#samples details').forEach(d => d.open = true)")
        after = json.loads(await page.evaluate(PROBE))
        await page.evaluate(CHOOSE % ("run", ""))
        await page.evaluate(CHOOSE % ("label", "refuse"))
        after["labels"] = await page.evaluate(
            "Array.from(document.querySelectorAll('#samples tbody tr td:nth-child(3)')).map(td => td.textContent)")
        await asyncio.sleep(0.2)
        await page.screenshot(shot)
        return before, after, page.events


def test_report_renders_filters_and_keeps_hostile_outputs_inert(runs: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text(build_report([runs["evil"], runs["refuse"]], resamples=50, title="report under test"))
    shot = tmp_path / "report.png"
    before, after, events = asyncio.run(_visit(path, shot))
    assert before["charts"] >= 6
    assert before["rows"] == 100  # the first page of 296 samples
    assert after["rows"] == 40  # the hostile run's items only, every one opened
    assert after["labels"] and set(after["labels"]) == {"refuse"}
    for state in (before, after):
        assert state["pwned"] is None and state["title"] == "report under test"
        assert state["injected"] == 0 and state["payloadShownAsText"]
    assert events.requests == [path.as_uri()]  # nothing else was fetched
    assert events.csp_violations == [] and events.exceptions == [] and events.dialogs == []
    assert shot.stat().st_size > 10_000


async def _printed(path: Path, width: int) -> tuple[int, list[str], list[str]]:
    async with await Chromium.launch() as browser:
        page = await browser.open(path.as_uri(), width=width)
        options = await page.evaluate(
            "Array.from(document.querySelectorAll('select[data-filter=run] option')).map(o => o.value)")
        await page.send("Emulation.setEmulatedMedia", media="print")
        wide = await page.evaluate(
            f"Array.from(document.querySelectorAll('table')).filter(t => t.getBoundingClientRect().right > {width})"
            ".map(t => t.querySelector('th').textContent)")
        return await page.evaluate("document.documentElement.scrollWidth"), wide, options


def test_printed_on_a4_no_table_runs_off_the_page_and_runs_keep_their_order(runs: dict[str, Path],
                                                                              tmp_path: Path) -> None:
    # 718 CSS pixels: an A4 page less Chromium's default print margins. The hostile run brings a long model name.
    path = tmp_path / "report.html"
    mix = [runs["refuse"], runs["comply"], runs["evil"], runs["vqa_no"], runs["vqa_refuse"]] + [runs["comply100"]] * 6
    path.write_text(build_report(mix, resamples=0))
    scroll_width, wide, options = asyncio.run(_printed(path, 718))
    assert wide == [] and scroll_width <= 718
    assert options == [""] + [str(i) for i in range(11)]  # run 10 after run 9, not after run 1


LAYOUT = """JSON.stringify({
  window: window.innerWidth,
  widest: Math.max(...Array.from(document.querySelectorAll('svg.chart')).map(e => e.getBoundingClientRect().width)),
  cut: Array.from(document.querySelectorAll('svg.chart text')).filter(t => {
      const b = t.getBBox(), v = t.ownerSVGElement.viewBox.baseVal;
      return b.x < -0.5 || b.x + b.width > v.width + 0.5; }).map(t => t.textContent.slice(0, 60)),
  legends: Array.from(document.querySelectorAll('ul.legend li')).map(li => li.textContent),
  previews: Array.from(document.querySelectorAll('#samples summary')).map(s => s.textContent),
  verdictFirst: document.querySelector('h2').textContent
})"""


async def _layout(path: Path, shot: Path) -> dict:
    import json

    async with await Chromium.launch() as browser:
        page = await browser.open(path.as_uri(), width=1400, height=900)
        state = json.loads(await page.evaluate(LAYOUT))
        await page.screenshot(shot, full_page=False)
        return state


def test_at_1400_pixels_charts_use_the_width_and_no_label_legend_or_preview_is_cut(
        runs: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    # The hostile run's model name is some 300 characters long: its label must wrap, not run off the chart.
    path.write_text(build_report([runs["refuse"], runs["model"], runs["evil"]], resamples=50))
    state = asyncio.run(_layout(path, tmp_path / "top.png"))
    assert state["verdictFirst"] == "Verdict"
    assert state["widest"] >= 0.75 * state["window"], state["widest"]
    assert state["cut"] == []
    assert any(len(name) > 200 for name in state["legends"])  # the long name in full, not shortened
    assert not any(name.endswith("…") for name in state["legends"])
    long = [p for p in state["previews"] if len(p) > 100]
    assert long and all(p.endswith("…") or len(p) <= 140 for p in long)
    assert all(len(p) <= 141 and not p[:-1].endswith(" ") for p in long if p.endswith("…"))
