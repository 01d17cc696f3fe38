"""Terminal tables for CARES-VQA runs: the per-dimension summary and the paper's leaderboard row."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table

# The toxicity cell holds two changes against the clean prompt (the spec's protocol, and what the
# published table reports): the toxicity score's and the abstention rate's, in percentage points.
# One header string, shared by the terminal table, the CSV and the HTML report.
TOX_COLUMN = "tox / abs (change vs clean)"

LEADERBOARD_COLUMNS = (
    "model", "factuality", "unc. acc / OC", "age AED", "gender AED", "race AED", "jailbreak acc / abs",
    "over-caution abs", TOX_COLUMN, "privacy zero / few abs", "noise acc / abs",
)


def pct(block: dict[str, Any] | None, ci: bool = False) -> str:
    if not block or block.get("value") is None:
        return "-"
    text = f"{100 * block['value']:.1f}"
    low, high = block.get("ci", [None, None])
    if ci and low is not None:
        text += f" [{100 * low:.1f}, {100 * high:.1f}]"
    return text


def _get(metrics: dict[str, Any], *path: str) -> Any:
    node: Any = metrics
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def leaderboard_row(results: dict[str, Any]) -> dict[str, str]:
    m = results["metrics"]

    def aed(attribute: str) -> str:
        value = _get(m, "fairness", attribute, "mean_aed")
        return "-" if value is None else f"{100 * value:.1f}"

    # Both parts are paired changes against the clean prompt: toxicity_change (toxic minus clean score,
    # present when a scorer ran) and abstention_change; "not scored" when no toxicity scorer was set.
    tox = _get(m, "toxicity", "toxicity_score")
    tox_text = tox if isinstance(tox, str) else pct(_get(m, "toxicity", "toxicity_change"))
    return {
        "model": results["model"]["spec"],
        "factuality": pct(_get(m, "factuality", "overall", "accuracy")),
        "unc. acc / OC": f"{pct(_get(m, 'uncertainty', 'uncertainty_accuracy'))} / "
                         f"{pct(_get(m, 'uncertainty', 'over_confident'))}",
        "age AED": aed("age_group"),
        "gender AED": aed("gender"),
        "race AED": aed("race"),
        "jailbreak acc / abs": f"{pct(_get(m, 'jailbreak', 'all', 'accuracy'))} / "
                               f"{pct(_get(m, 'jailbreak', 'all', 'abstention'))}",
        "over-caution abs": pct(_get(m, "overcautious", "all", "abstention")),
        TOX_COLUMN: f"{tox_text if m.get('toxicity') else '-'} / {pct(_get(m, 'toxicity', 'abstention_change'))}",
        "privacy zero / few abs": f"{pct(_get(m, 'privacy', 'zero_shot', 'abstention'))} / "
                                  f"{pct(_get(m, 'privacy', 'few_shot', 'abstention'))}",
        "noise acc / abs": f"{pct(_get(m, 'robustness', 'noise', 'accuracy'))} / "
                           f"{pct(_get(m, 'robustness', 'noise', 'abstention'))}",
    }


def summary_table(results: dict[str, Any]) -> RenderableType:
    m = results["metrics"]
    protocol = m.get("protocol") or "cares"
    title = f"CARES-VQA  {results['model']['spec']}  (protocol {protocol}; 95% CIs clustered by image)"
    fact = Table(title=title, title_justify="left")
    for column in ("source", "n", "accuracy [95% CI]", "all items", "ambiguous", "unparsed", "failed", "abstention"):
        fact.add_column(column, justify="left" if column == "source" else "right", no_wrap=True)
    for source, block in [*m["factuality"]["by_source"].items(), ("all", m["factuality"]["overall"])]:
        fact.add_row(source, str(block["accuracy"]["n"]), pct(block["accuracy"], ci=True),
                     pct(block["accuracy_all_items"]), str(block["n_ambiguous"]), str(block["n_unparsed"]),
                     str(block["n_failed"]), pct(block["abstention"]))
    dims = Table(title="dimensions", title_justify="left")
    for column in ("dimension", "metric", "value [95% CI]", "n"):
        dims.add_column(column, justify="left" if column in ("dimension", "metric") else "right", no_wrap=True)

    def add(dimension: str, metric: str, block: dict[str, Any] | None) -> None:
        if block:
            dims.add_row(dimension, metric, pct(block, ci=True), str(block.get("n", "")))

    add("trustfulness", "uncertainty accuracy", _get(m, "uncertainty", "uncertainty_accuracy"))
    add("trustfulness", "over-confident ratio", _get(m, "uncertainty", "over_confident"))
    groups_table = Table(title="fairness: accuracy per group (groups under the minimum size stay out of the gap)",
                         title_justify="left")
    for column in ("attribute", "source", "AED [95% CI]", "groups: accuracy (n)"):
        groups_table.add_column(column, justify="right" if column.startswith("AED") else "left")
    for attribute, label in (("age_group", "age"), ("gender", "gender"), ("race", "race")):
        for source, block in (_get(m, "fairness", attribute, "by_source") or {}).items():
            add("fairness", f"{label} AED ({source})", block["aed"])
            groups = ", ".join(f"{g} {100 * v['accuracy']:.0f}% ({v['n']}{'' if v['in_gap'] else ', too few'})"
                               for g, v in block["groups"].items())
            groups_table.add_row(label, source, pct(block["aed"], ci=True), groups)
    rule = _get(m, "fairness", "open_ended_rule")
    if rule:
        groups_table.caption = f"open-ended answers counted correct by {rule}"
    for name, block in (m.get("jailbreak") or {}).items():
        add("safety", f"{name} accuracy", block.get("accuracy"))
        add("safety", f"{name} accuracy drop", block.get("drop"))
        add("safety", f"{name} abstention", block.get("abstention"))
    for name, block in (m.get("overcautious") or {}).items():
        add("safety", f"{name} abstention (lower is better)", block.get("abstention"))
    if m.get("toxicity"):
        tox = m["toxicity"]
        dims.add_row("safety", "toxicity score", tox["toxicity_score"] if isinstance(tox["toxicity_score"], str)
                      else pct(tox["toxicity_score"], ci=True), "")
        if tox.get("n_refusals_left_out") is not None:
            dims.add_row("safety", "toxicity: refused answers left out (upstream)", str(tox["n_refusals_left_out"]), "")
        add("safety", "toxicity abstention", tox.get("abstention"))
        add("safety", "toxicity abstention change vs clean", tox.get("abstention_change"))
    for name, block in (m.get("privacy") or {}).items():
        add("privacy", f"{name} abstention (higher is better)", block.get("abstention"))
        add("privacy", f"{name} leak rate", block.get("leak"))
    robustness = m.get("robustness") or {}
    if "noise" in robustness:
        sigma = robustness["noise"].get("sigma")
        label = f"noise (sigma {sigma:.2f}) accuracy" if sigma else "noise (upstream uint8) accuracy" \
            if protocol == "upstream" else "noise accuracy"
        add("robustness", label, robustness["noise"]["accuracy"])
        add("robustness", "noise accuracy drop", robustness["noise"]["drop"])
        add("robustness", "noise abstention", robustness["noise"]["abstention"])
    if "ood" in robustness:
        add("robustness", "unfamiliar-modality abstention (higher is better)", robustness["ood"]["abstention"])
    return Group(fact, dims, groups_table) if groups_table.row_count else Group(fact, dims)
