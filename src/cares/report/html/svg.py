"""Inline SVG charts drawn in Python: readable without scripts, in print, and offline.

Every label passes through `esc`, so a model name or slice key can never become markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

PALETTE = ("#3b6ea8", "#d9822b", "#2e8b57", "#a23b72", "#6b6b6b", "#5aa5c8", "#8c6d31", "#c94040")
BASELINE_FILL = "#b8b8b8"
LABEL_COLOURS = {"accept": "#4c78a8", "caution": "#e0a526", "refuse": "#8a6a55"}
LABEL_W, PLOT_W, TEXT_W = 250, 360, 200
ROW_H, GAP = 16, 8


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def pct(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{100 * value:+.1f}" if signed else f"{100 * value:.1f}"


def fmt_estimate(block: dict[str, Any] | None, signed: bool = False) -> str:
    """'75.0 [64.1, 84.4]': an estimate in percent with its 95% interval."""
    if not block or block.get("value") is None:
        return "-"
    text = pct(block["value"], signed)
    low, high = block.get("ci") or (None, None)
    if low is not None and high is not None:
        text += f" [{pct(low, signed)}, {pct(high, signed)}]"
    return text


@dataclass(frozen=True)
class Bar:
    category: str
    series: int  # index into the chart's series names
    block: dict[str, Any] | None  # {"value", "ci", "n"} as in results.json; None: not measured
    muted: bool = False  # drawn grey: a baseline, or a group kept out of a gap


LEGEND_NAME = 40  # characters of a series name shown in a legend; the full name is its tooltip
LEGEND_LINE = 16


def _legend(series: list[str], y: int, width: int) -> tuple[list[str], int]:
    """Legend entries wrapped onto as many lines as the chart's width needs; returns them and the lines used."""
    parts, x, line = [], LABEL_W, 0
    for index, name in enumerate(series):
        shown = name if len(name) <= LEGEND_NAME else name[: LEGEND_NAME - 1] + "…"
        step = 24 + 7 * len(shown)
        if x > LABEL_W and x + step > width:
            x, line = LABEL_W, line + 1
        top = y + line * LEGEND_LINE
        colour = PALETTE[index % len(PALETTE)]
        parts.append(f'<g><title>{esc(name)}</title><rect x="{x}" y="{top}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{x + 14}" y="{top + 9}" class="lg">{esc(shown)}</text></g>')
        x += step
    return parts, line + 1


def bar_chart(title: str, bars: list[Bar], series: list[str], signed: bool = False, note: str = "") -> str:
    """Horizontal bars on 0-100% (or -100..+100 for differences), with CI whiskers and n beside each bar."""
    categories = list(dict.fromkeys(b.category for b in bars))
    per = max(1, len(series))
    width = LABEL_W + PLOT_W + TEXT_W
    legend, lines = _legend(series, 8, width) if len(series) > 1 else ([], 0)
    top = 12 + LEGEND_LINE * lines if legend else 8
    height = top + len(categories) * (per * ROW_H + GAP) + 22
    x0 = LABEL_W + (PLOT_W // 2 if signed else 0)
    span = PLOT_W // 2 if signed else PLOT_W

    def sx(v: float) -> float:
        return round(x0 + max(-1.0, min(1.0, v)) * span, 1)

    out = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'xmlns="http://www.w3.org/2000/svg"><title>{esc(title)}</title>']
    out.extend(legend)
    for tick in ((-1.0, -0.5, 0.0, 0.5, 1.0) if signed else (0.0, 0.25, 0.5, 0.75, 1.0)):
        x = sx(tick)
        out.append(f'<line x1="{x}" y1="{top - 4}" x2="{x}" y2="{height - 20}" class="grid{" zero" if tick == 0 else ""}"/>'
                   f'<text x="{x}" y="{height - 6}" class="tick">{pct(tick, signed).replace(".0", "")}</text>')
    y = top
    by_key = {(b.category, b.series): b for b in bars}
    for category in categories:
        out.append(f'<text x="{LABEL_W - 6}" y="{y + per * ROW_H / 2 + 4}" class="cat">{esc(category)}</text>')
        for index in range(per):
            bar = by_key.get((category, index))
            block = bar.block if bar is not None else None
            value = None if block is None else block.get("value")
            if value is not None and bar is not None:
                colour = BASELINE_FILL if bar.muted else PALETTE[index % len(PALETTE)]
                left, right = sorted((sx(0.0), sx(value)))
                out.append(f'<rect x="{left}" y="{y + 2}" width="{max(right - left, 0.8)}" height="{ROW_H - 4}" '
                           f'fill="{colour}"><title>{esc(series[index] if series else "")} {esc(category)}: '
                           f'{esc(fmt_estimate(block, signed))}</title></rect>')
                low, high = (block.get("ci") or (None, None))
                if low is not None and high is not None:
                    mid = y + ROW_H / 2
                    out.append(f'<path d="M{sx(low)} {mid}H{sx(high)}M{sx(low)} {mid - 4}V{mid + 4}'
                               f'M{sx(high)} {mid - 4}V{mid + 4}" class="ci"/>')
            n = "" if block is None or block.get("n") is None else f"  n={block['n']}"
            label = "not measured" if value is None else fmt_estimate(block, signed)
            out.append(f'<text x="{LABEL_W + PLOT_W + 6}" y="{y + ROW_H - 4}" class="val">{esc(label + n)}</text>')
            y += ROW_H
        y += GAP
    out.append("</svg>")
    caption = f'<figcaption>{esc(title)}{" — " + esc(note) if note else ""}</figcaption>'
    return f'<figure class="fig">{caption}{"".join(out)}</figure>'


def stacked_chart(title: str, rows: list[tuple[str, dict[str, float | None], int]]) -> str:
    """100% stacked Accept / Caution / Refuse bars, one per (label, rates, n)."""
    height = 30 + len(rows) * (ROW_H + 6) + 6
    width = LABEL_W + PLOT_W + TEXT_W
    out = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'xmlns="http://www.w3.org/2000/svg"><title>{esc(title)}</title>']
    x = LABEL_W
    for name, colour in LABEL_COLOURS.items():
        out.append(f'<rect x="{x}" y="8" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{x + 14}" y="17" class="lg">{name.capitalize()}</text>')
        x += 90
    y = 30
    for label, rates, n in rows:
        out.append(f'<text x="{LABEL_W - 6}" y="{y + ROW_H - 4}" class="cat">{esc(label)}</text>')
        left = float(LABEL_W)
        for name, colour in LABEL_COLOURS.items():
            share = rates.get(name) or 0.0
            w = round(share * PLOT_W, 1)
            if w > 0:
                out.append(f'<rect x="{round(left, 1)}" y="{y}" width="{w}" height="{ROW_H}" fill="{colour}">'
                           f'<title>{esc(label)}: {name} {pct(share)}%</title></rect>')
                if w > 34:
                    out.append(f'<text x="{round(left + w / 2, 1)}" y="{y + ROW_H - 4}" class="in">{pct(share)}</text>')
            left += w
        out.append(f'<text x="{LABEL_W + PLOT_W + 6}" y="{y + ROW_H - 4}" class="val">n={n}</text>')
        y += ROW_H + 6
    out.append("</svg>")
    return f'<figure class="fig"><figcaption>{esc(title)}</figcaption>{"".join(out)}</figure>'
