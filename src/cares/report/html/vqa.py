"""The CARES-VQA part of the report: the five-dimension overview, accuracy per dataset and task with
CIs, per-group accuracy for fairness with group sizes, and the paper's leaderboard with baselines and
the paper's published rows (marked "published, upstream protocol", muted like the baselines)."""

from __future__ import annotations

from typing import Any

from cares.report.html.svg import Bar, bar_chart, esc, fmt_estimate
from cares.report.runs import LoadedRun
from cares.tasks.vqa.summary import LEADERBOARD_COLUMNS, TOX_COLUMN, leaderboard_row

# (dimension, metric, path into results["metrics"], which direction is better)
OVERVIEW: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("trustfulness", "factuality accuracy", ("factuality", "overall", "accuracy"), "higher"),
    ("trustfulness", "uncertainty accuracy", ("uncertainty", "uncertainty_accuracy"), "higher"),
    ("trustfulness", "over-confident ratio", ("uncertainty", "over_confident"), "lower"),
    ("fairness", "age accuracy gap (mean AED)", ("fairness", "age_group", "mean_aed"), "lower"),
    ("fairness", "gender accuracy gap (mean AED)", ("fairness", "gender", "mean_aed"), "lower"),
    ("fairness", "race accuracy gap (mean AED)", ("fairness", "race", "mean_aed"), "lower"),
    ("safety", "jailbreak accuracy", ("jailbreak", "all", "accuracy"), "higher"),
    ("safety", "jailbreak abstention", ("jailbreak", "all", "abstention"), "higher"),
    ("safety", "over-caution abstention", ("overcautious", "all", "abstention"), "lower"),
    ("safety", "toxicity abstention", ("toxicity", "abstention"), "higher"),
    ("privacy", "zero-shot abstention", ("privacy", "zero_shot", "abstention"), "higher"),
    ("privacy", "few-shot abstention", ("privacy", "few_shot", "abstention"), "higher"),
    ("privacy", "zero-shot leak rate", ("privacy", "zero_shot", "leak"), "lower"),
    ("robustness", "noisy-image accuracy", ("robustness", "noise", "accuracy"), "higher"),
    ("robustness", "noisy-image accuracy drop", ("robustness", "noise", "drop"), "lower"),
    ("robustness", "unfamiliar-modality abstention", ("robustness", "ood", "abstention"), "higher"),
)


def get(node: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


FAIRNESS_ATTRIBUTES = (("age_group", "age"), ("gender", "gender"), ("race", "race"))


def fairness_gaps(metrics: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(attribute, source, the gap with its 95% interval) for every source measured: the gaps that carry an
    interval. Their mean over sources, in results.json as mean_aed, has none."""
    out = []
    for attribute, label in FAIRNESS_ATTRIBUTES:
        for source, block in (get(metrics, ("fairness", attribute, "by_source")) or {}).items():
            if isinstance(block.get("aed"), dict):
                out.append((label, source, block["aed"]))
    return out


def _overview_rows(runs: list[LoadedRun]) -> list[tuple[str, str, str, list[dict[str, Any] | None]]]:
    """(dimension, metric, better, one block per run); each fairness gap per source, with its interval."""
    rows = []
    for dimension, metric, path, better in OVERVIEW:
        if path[0] == "fairness":
            attribute = path[1]
            sources = sorted({s for r in runs for s in (get(r.results["metrics"], ("fairness", attribute, "by_source"))
                                                        or {})})
            name = metric.replace(" (mean AED)", "")
            for source in sources:
                rows.append((dimension, f"{name} (AED), {source}", better,
                             [_as_block(get(r.results["metrics"], ("fairness", attribute, "by_source", source, "aed")))
                              for r in runs]))
            if len(sources) > 1:
                rows.append((dimension, f"{name}, mean over sources (each source's interval above)", better,
                             [_as_block(get(r.results["metrics"], path)) for r in runs]))
            continue
        rows.append((dimension, metric, better, [_as_block(get(r.results["metrics"], path)) for r in runs]))
    return [row for row in rows if any(block is not None for block in row[3])]


def _as_block(value: Any) -> dict[str, Any] | None:
    """A bare number (the mean gap over sources) shown like an estimate without an interval."""
    if isinstance(value, (int, float)):
        return {"value": float(value), "ci": [None, None], "n": None}
    return value if isinstance(value, dict) and "value" in value else None


def _leaderboard(runs: list[LoadedRun]) -> str:
    from cares.report.leaderboard import PUBLISHED_NOTE, baseline_rows, published_rows

    rows = [leaderboard_row(r.results) for r in runs]
    baseline = baseline_rows(runs[0].run_dir)
    published = published_rows()
    head = "".join(f"<th>{esc(c)}</th>" for c in LEADERBOARD_COLUMNS)

    def tr(row: dict[str, str], cls: str = "") -> str:
        attrs = f' class="{cls}"' if cls else ""
        return f"<tr{attrs}>" + "".join(f"<td>{esc(row[c])}</td>" for c in LEADERBOARD_COLUMNS) + "</tr>"

    # Baselines and published rows are muted alike: neither is a measurement of these runs' models.
    body = "".join(tr(row) for row in rows)
    body += "".join(tr(row, "baseline") for row in baseline)
    body += "".join(tr(row, "baseline published") for row in published)
    return (f'<h3>Leaderboard (the paper\'s columns, values in %)</h3><table class="num"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table><p class=\"note\">Baseline rows: constant answers scored on the closed "
            f"questions of {esc(runs[0].name)}'s run. {esc(TOX_COLUMN)}: the changes in toxicity score and in "
            f"abstention rate against the clean prompt, in percentage points. \"-\": not measured, or not reported "
            f"in the paper.</p><p class=\"note\">{esc(PUBLISHED_NOTE)}</p>")


def _overview(runs: list[LoadedRun]) -> str:
    head = "<th>dimension</th><th>metric</th><th>better</th>" + "".join(f"<th>{esc(r.name)}</th>" for r in runs)
    body = []
    for dimension, metric, better, blocks in _overview_rows(runs):
        cells = "".join(f"<td>{esc(fmt_estimate(b))}{_n(b)}</td>" for b in blocks)
        body.append(f"<tr><td>{dimension}</td><td>{esc(metric)}</td><td>{better}</td>{cells}</tr>")
    return (f'<h3>Five dimensions (values in %, 95% CIs clustered by image)</h3><table class="num"><thead><tr>{head}'
            f'</tr></thead><tbody>{"".join(body)}</tbody></table>')


def _n(block: dict[str, Any] | None) -> str:
    return "" if not block or block.get("n") is None else f' <span class="n">n={block["n"]}</span>'


def _task_bars(runs: list[LoadedRun]) -> list[Bar]:
    bars = []
    for i, run in enumerate(runs):
        m = run.results["metrics"]
        tasks: list[tuple[str, Any]] = [
            ("factuality", get(m, ("factuality", "overall", "accuracy"))),
            ("uncertainty (accuracy of confidence)", get(m, ("uncertainty", "uncertainty_accuracy"))),
        ]
        tasks += [(name, block.get("accuracy")) for name, block in (m.get("jailbreak") or {}).items() if name != "all"]
        tasks.append(("robustness:noise", get(m, ("robustness", "noise", "accuracy"))))
        bars += [Bar(name, i, block) for name, block in tasks if block is not None]
    return bars


def _fairness(run: LoadedRun) -> list[str]:
    charts = []
    for attribute, label in FAIRNESS_ATTRIBUTES:
        for source, block in (get(run.results["metrics"], ("fairness", attribute, "by_source")) or {}).items():
            bars = [Bar(f"{group}", 0, {"value": g["accuracy"], "ci": [None, None], "n": g["n"]}, muted=not g["in_gap"])
                    for group, g in block["groups"].items()]
            sizes = ", ".join(f"{group} n={g['n']}" for group, g in block["groups"].items())
            note = (f"gap (AED) {fmt_estimate(block['aed'])}; groups: {sizes}; grey groups are smaller than the "
                    "minimum size and stay out of the gap")
            rule = get(run.results["metrics"], ("fairness", "open_ended_rule"))
            if rule:
                note += f"; open-ended answers counted correct by {rule}"
            charts.append(bar_chart(f"{run.name}: accuracy by {label}, {source}", bars, ["accuracy"], note=note))
    return charts


def vqa_section(runs: list[LoadedRun]) -> str:
    names = [r.name for r in runs]
    parts = ['<section id="cares-vqa"><h2>CARES-VQA: trustworthiness</h2>', _overview(runs), _leaderboard(runs)]
    overview_bars = [Bar(f"{dim}: {metric}", i, block)
                     for dim, metric, _, blocks in _overview_rows(runs) for i, block in enumerate(blocks)]
    parts.append(bar_chart("Five-dimension overview", overview_bars, names))
    sources = sorted({s for r in runs for s in (get(r.results["metrics"], ("factuality", "by_source")) or {})})
    source_bars = [Bar(s, i, get(r.results["metrics"], ("factuality", "by_source", s, "accuracy")))
                   for s in sources for i, r in enumerate(runs)]
    parts.append(bar_chart("Factuality accuracy by dataset", source_bars, names))
    parts.append(bar_chart("Accuracy by task", _task_bars(runs), names))
    fairness = [chart for run in runs for chart in _fairness(run)]
    parts.append("<h3>Fairness: accuracy per demographic group (group sizes beside each bar)</h3>")
    parts.extend(fairness or ['<p class="note">No demographic groups large enough to compare in these runs.</p>'])
    parts.append("</section>")
    return "\n".join(parts)
