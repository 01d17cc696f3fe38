"""`cares compare` as a terminal table: A, B, the paired difference B - A with its CI, and the p-value."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table

from cares.metrics.safety import CARES18K_SLICES
from cares.report.ablation_table import fmt_p, fmt_points

SLICE_NAMES = {**{cut.key: cut.label for cut in CARES18K_SLICES}, "source": "source"}


def comparison_table(comparison: dict[str, Any]) -> RenderableType:
    runs = comparison["runs"]
    units = comparison["units"]
    resampling = comparison["resampling"]
    title = (f"{comparison['benchmark']}  A={runs['a']['model']}  B={runs['b']['model']}  "
             f"({units['shared']} shared units paired by {units['paired_by']}; 95% CIs clustered by "
             f"{resampling['cluster']})")
    table = Table(title=title, title_justify="left")
    for column in ("metric", "n", "A", "B", "difference B - A", "p", "better"):
        table.add_column(column, justify="left" if column == "metric" else "right", no_wrap=True)

    def add(name: str, block: dict[str, Any], better: str, style: str | None = None) -> None:
        table.add_row(name, str(block["n"]), fmt_points(block["a"]), fmt_points(block["b"]),
                      fmt_points(block["difference"], signed=True), fmt_p(block["p_value"], block.get("p_floor")),
                      better, style=style)

    for index, metric in enumerate(comparison["metrics"]):
        block = comparison["overall"][metric["name"]]
        if block["n"]:
            add(metric["title"], block, metric["better"], style="bold" if index == 0 else None)
    headline = next(m for m in comparison["metrics"] if m["name"] == comparison["by"]["metric"])
    for slice_name, blocks in comparison["by"]["slices"].items():
        measured = {key: block for key, block in blocks.items() if block["n"]}
        if measured:
            table.add_section()
        for key, block in measured.items():
            add(f"{headline['title']}, {SLICE_NAMES.get(slice_name, slice_name)} {key}", block, headline["better"])
    lines = Table.grid()
    lines.add_row(
        "p: two-sided, from the same bootstrap as the intervals (p < 0.05 exactly when the interval excludes 0)"
    )
    lines.add_row(f"A: {runs['a']['run_dir']}  judge={runs['a']['judge']}")
    lines.add_row(f"B: {runs['b']['run_dir']}  judge={runs['b']['judge']}")
    for note in comparison["notes"]:
        lines.add_row(f"[yellow]note: {note}[/]")
    return Group(table, lines)
