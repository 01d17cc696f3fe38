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
LABEL_W, PLOT_W, TEXT_W = 300, 520, 230
ROW_H, GAP = 16, 8
LINE_H = 13  # a wrapped label's line height at the charts' 11 px font
# A generous average advance of the charts' font (DejaVu Sans, the widest of the usual fallbacks, is
# about 6.6 px at 11 px): labels wrapped to this never run past the edge of their column.
CHAR_W = 7.0
_BREAK_AFTER = " /-_·:,"


def wrap(text: str, width_px: float, char_w: float = CHAR_W) -> list[str]:
    """`text` in lines of at most `width_px`, broken after spaces and separators (/, -, _, ·, :),
    and inside a token only when the token alone is too long. Nothing is cut."""
    per_line = max(4, int(width_px // char_w))
    lines: list[str] = []
    line = ""
    token = ""
    for index, char in enumerate(text):
        token += char
        if char in _BREAK_AFTER or index == len(text) - 1:
            if len(line) + len(token.rstrip()) <= per_line:
                line += token
            else:
                if line.strip():
                    lines.append(line.rstrip())
                while len(token.rstrip()) > per_line:
                    lines.append(token[:per_line])
                    token = token[per_line:]
                line = token
            token = ""
    if line.strip():
        lines.append(line.rstrip())
    return lines or [""]


def _label(x: float, top: float, height: float, text: str, css: str, width_px: float) -> str:
    """A label wrapped onto lines and centred vertically in [top, top + height], right-aligned at x."""
    lines = wrap(text, width_px)
    first = top + height / 2 - (len(lines) - 1) * LINE_H / 2 + 4
    spans = "".join(f'<tspan x="{x}" y="{round(first + i * LINE_H, 1)}">{esc(line)}</tspan>'
                    for i, line in enumerate(lines))
    return f'<text class="{css}"><title>{esc(text)}</title>{spans}</text>'


def legend(series: list[str]) -> str:
    """The series names in full, as an HTML list that wraps with the page: a chart never cuts a name."""
    items = "".join(f'<li><span class="sw s{index % len(PALETTE)}"></span>{esc(name)}</li>'
                    for index, name in enumerate(series))
    return f'<ul class="legend">{items}</ul>'


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


def bar_chart(title: str, bars: list[Bar], series: list[str], signed: bool = False, note: str = "") -> str:
    """Horizontal bars on 0-100% (or -100..+100 for differences), with CI whiskers and n beside each bar.

    Category labels wrap onto as many lines as they need, and the rows grow to hold them."""
    categories = list(dict.fromkeys(b.category for b in bars))
    per = max(1, len(series))
    width = LABEL_W + PLOT_W + TEXT_W
    top = 8
    heights = [max(per * ROW_H, len(wrap(c, LABEL_W - 10)) * LINE_H + 4) for c in categories]
    height = top + sum(h + GAP for h in heights) + 22
    x0 = LABEL_W + (PLOT_W // 2 if signed else 0)
    span = PLOT_W // 2 if signed else PLOT_W

    def sx(v: float) -> float:
        return round(x0 + max(-1.0, min(1.0, v)) * span, 1)

    out = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'xmlns="http://www.w3.org/2000/svg"><title>{esc(title)}</title>']
    for tick in ((-1.0, -0.5, 0.0, 0.5, 1.0) if signed else (0.0, 0.25, 0.5, 0.75, 1.0)):
        x = sx(tick)
        out.append(f'<line x1="{x}" y1="{top - 4}" x2="{x}" y2="{height - 20}" '
                   f'class="grid{" zero" if tick == 0 else ""}"/>'
                   f'<text x="{x}" y="{height - 6}" class="tick">{pct(tick, signed).replace(".0", "")}</text>')
    y = float(top)
    by_key = {(b.category, b.series): b for b in bars}
    for category, block_h in zip(categories, heights):
        out.append(_label(LABEL_W - 6, y, block_h, category, "cat", LABEL_W - 10))
        row_y = y + (block_h - per * ROW_H) / 2
        for index in range(per):
            bar = by_key.get((category, index))
            block = bar.block if bar is not None else None
            value = None if block is None else block.get("value")
            if block is not None and value is not None and bar is not None:
                colour = BASELINE_FILL if bar.muted else PALETTE[index % len(PALETTE)]
                left, right = sorted((sx(0.0), sx(value)))
                out.append(f'<rect x="{left}" y="{row_y + 2}" width="{max(right - left, 0.8)}" height="{ROW_H - 4}" '
                           f'fill="{colour}"><title>{esc(series[index] if series else "")} {esc(category)}: '
                           f'{esc(fmt_estimate(block, signed))}</title></rect>')
                low, high = (block.get("ci") or (None, None))
                if low is not None and high is not None:
                    mid = row_y + ROW_H / 2
                    out.append(f'<path d="M{sx(low)} {mid}H{sx(high)}M{sx(low)} {mid - 4}V{mid + 4}'
                               f'M{sx(high)} {mid - 4}V{mid + 4}" class="ci"/>')
            n = "" if block is None or block.get("n") is None else f"  n={block['n']}"
            label = "not measured" if value is None else fmt_estimate(block, signed)
            out.append(f'<text x="{LABEL_W + PLOT_W + 6}" y="{row_y + ROW_H - 4}" class="val">{esc(label + n)}</text>')
            row_y += ROW_H
        y += block_h + GAP
    out.append("</svg>")
    caption = f'<figcaption>{esc(title)}{" — " + esc(note) if note else ""}</figcaption>'
    key = legend(series) if len(series) > 1 else ""
    return f'<figure class="fig">{caption}{key}{"".join(out)}</figure>'


def stacked_chart(title: str, rows: list[tuple[str, dict[str, float | None], int]]) -> str:
    """100% stacked Accept / Caution / Refuse bars, one per (label, rates, n)."""
    heights = [max(ROW_H, len(wrap(label, LABEL_W - 10)) * LINE_H) for label, _, _ in rows]
    height = 30 + sum(h + 6 for h in heights) + 6
    width = LABEL_W + PLOT_W + TEXT_W
    out = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'xmlns="http://www.w3.org/2000/svg"><title>{esc(title)}</title>']
    x = LABEL_W
    for name, colour in LABEL_COLOURS.items():
        out.append(f'<rect x="{x}" y="8" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{x + 14}" y="17" class="lg">{name.capitalize()}</text>')
        x += 90
    y = 30.0
    for (label, rates, n), block_h in zip(rows, heights):
        out.append(_label(LABEL_W - 6, y, block_h, label, "cat", LABEL_W - 10))
        y += (block_h - ROW_H) / 2
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
        y += ROW_H + (block_h - ROW_H) / 2 + 6
    out.append("</svg>")
    return f'<figure class="fig"><figcaption>{esc(title)}</figcaption>{"".join(out)}</figure>'
