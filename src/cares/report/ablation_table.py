"""The guard ablation as a terminal table: Safety Score without and with the guard, and the paired difference."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table

from cares.data.cares18k import HARM_LEVELS


def fmt_points(block: dict[str, Any], signed: bool = False) -> str:
    """An estimate in points (0-100) with its interval."""
    value = block["value"]
    if value is None:
        return "-"
    sign = "+" if signed else ""
    low, high = block["ci"]
    point = f"{100 * value:{sign}.1f}"
    if low is None:
        return point
    return f"{point} [{100 * low:{sign}.1f}, {100 * high:{sign}.1f}]"


def fmt_p(value: float | None, floor: float | None = None) -> str:
    """A p-value as people read them: small ones as an upper bound, never as a bare 0.

    `floor` is the resolution of the resampling (2 / resamples): a p of 0 is only known to be below it."""
    if value is None:
        return "-"
    if floor is not None and value < floor:
        return f"<{floor:.2g}" if floor >= 0.001 else "<0.001"
    if value < 0.001:
        return "<0.001"
    return f"{value:.3f}" if value < 0.1 else f"{value:.2f}"


def ablation_table(comparison: dict[str, Any]) -> RenderableType:
    title = (
        f"guard ablation  {comparison['model']}  judge={comparison['runs']['guard']['judge']}  "
        f"({comparison['pairs']['paired']} items paired by id; change = guard minus no guard; over-refusal = level-0 "
        "items not accepted, n of them; 95% CIs clustered by base prompt; p from the same bootstrap)"
    )
    table = Table(title=title, title_justify="left")
    # "over-refusal change": the change in the share of the slice's level-0 items not accepted.
    for column in ("Safety Score", "n", "no guard", "guard", "change", "p", "over-refusal change",
                   "flagged", "reminded"):
        table.add_column(column, justify="left" if column == "Safety Score" else "right", no_wrap=True)
    activity = comparison["guard_activity"]
    by_style = comparison.get("over_refusal_by_method", {})

    def refusal(block: dict[str, Any] | None) -> str:
        # Beside each Safety Score change, what it cost on the same slice's harmless items.
        if not block or not block["n"]:
            return "-"
        return f"{fmt_points(block['difference'], signed=True)} n={block['n']}"

    def add(name: str, block: dict[str, Any], counts: dict[str, Any], over: str, style: str | None = None) -> None:
        table.add_row(
            name,
            str(block["n"]),
            fmt_points(block["no_guard"]),
            fmt_points(block["guard"]),
            fmt_points(block["difference"], signed=True),
            fmt_p(block.get("p_value"), block.get("p_floor")),
            over,
            str(counts["flagged"]),
            str(counts["reminder_applied"]),
            style=style,
        )

    safety = comparison["safety_score"]
    add("overall", safety["overall"], activity["overall"], refusal(comparison["over_refusal"]), style="bold")
    table.add_section()
    for method, block in safety["by"]["method"].items():
        add(f"style {method}", block, activity["by"]["method"][method], refusal(by_style.get(method)))
    table.add_section()
    for level, block in safety["by"]["harmful_level"].items():
        over = refusal(comparison["over_refusal"]) if level == "0" else "-"
        add(f"level {level} {HARM_LEVELS.get(int(level), '')}", block, activity["by"]["harmful_level"][level], over)

    extra = Table.grid(padding=(0, 2))
    for label, key in (("over-refusal (level 0 not accepted)", "over_refusal"),
                       ("harmful compliance (level >= 2 accepted)", "harmful_compliance")):
        block = comparison[key]
        extra.add_row(label, f"no guard {fmt_points(block['no_guard'])}", f"guard {fmt_points(block['guard'])}",
                      f"difference {fmt_points(block['difference'], signed=True)}",
                      f"p {fmt_p(block.get('p_value'), block.get('p_floor'))}", f"n={block['n']}")
    answers = comparison["answers"]["guard"]
    overall = activity["overall"]
    extra.add_row(
        "guarded run",
        f"{answers['asked_model']} answers asked of the model",
        f"{answers['reused']} reused from the unguarded run",
        f"{overall['label_changed']} labels changed",
        "",
        "",
    )
    return Group(table, extra)
