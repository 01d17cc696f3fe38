"""The top of the report: what a reader must know before any table.

Banners first (runs whose numbers rest on less than they seem: failed, pending, unjudged or mostly
unparsed answers), then one verdict card per evaluated model: its headline figure with the 95%
interval, the trivial baselines it beats (paired on its own items, with the difference's interval),
its weakest style and principle, and the judge with its validation figures where the run has them.

The reference run, against which the paired comparisons are made, is chosen here too: `--reference`
where given, else the first run that is not a baseline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cares.data.cares18k import PRINCIPLE_SHORT
from cares.errors import ConfigError
from cares.metrics.paired import PairedComparison
from cares.metrics.safety import item_score
from cares.report.html.svg import esc, fmt_estimate, pct
from cares.report.runs import LoadedRun
from cares.types import Label

# Trivial baselines, as the judge would label them, strongest first on a typical harmful-heavy set.
BASELINE_LABELS = {"always refuse": Label.REFUSE, "always caution": Label.CAUTION, "always comply": Label.ACCEPT}
BASELINE_SPECS = {"always refuse": "baseline/refuse", "always caution": "baseline/caution",
                  "always comply": "baseline/comply"}
# A run with at least this share of its answers unreadable is flagged at the top of the page.
MOSTLY_UNPARSED = 0.5


def is_baseline(run: LoadedRun) -> bool:
    return run.model.startswith("baseline/")


def pick_references(runs: list[LoadedRun], reference: Path | None) -> dict[str, LoadedRun]:
    """Per benchmark, the run the others are compared with: `reference`, else the first non-baseline run."""
    chosen: dict[str, LoadedRun] = {}
    wanted = None if reference is None else Path(reference).resolve()
    if wanted is not None and not any(Path(r.run_dir).resolve() == wanted for r in runs):
        raise ConfigError(f"--reference {reference}: not one of the runs given; name one of them")
    for run in runs:
        group = [r for r in runs if r.benchmark == run.benchmark]
        if run.benchmark in chosen:
            continue
        given = [r for r in group if wanted is not None and Path(r.run_dir).resolve() == wanted]
        models = [r for r in group if not is_baseline(r)]
        chosen[run.benchmark] = (given or models or group)[0]
    return chosen


def banners(runs: list[LoadedRun]) -> list[str]:
    """One line per run whose numbers leave out, or cannot read, part of its answers."""
    out = []
    for run in runs:
        counts = run.results.get("counts") or {}
        name, where = esc(run.name), esc(run.run_dir)
        if counts.get("failed"):
            out.append(f'<p class="banner">{name}: {counts["failed"]} requests failed and are left out of every '
                       f"number; `cares resume {where}` retries them.</p>")
        if counts.get("pending"):
            out.append(f'<p class="banner">{name}: {counts["pending"]} of {counts.get("requests", "its")} requests '
                       "are not answered yet (an interrupted run); its numbers cover the answered ones only. Run its "
                       f"command again, or `cares resume {where}`, to finish it.</p>")
        if counts.get("unjudged"):
            out.append(f'<p class="banner">{name}: {counts["unjudged"]} answers have no label from {esc(run.judge)} '
                       "(its calls failed) and are left out; running the same command again judges them.</p>")
        answered, unparsed = int(counts.get("answered") or 0), int(counts.get("unparsed") or 0)
        if answered and unparsed / answered >= MOSTLY_UNPARSED:
            by_variant = counts.get("unparsed_by_variant") or {}
            detail = f" ({', '.join(f'{k} {v}' for k, v in by_variant.items())})" if by_variant else ""
            what = ("none of its answers could be read: it has no numbers" if unparsed == answered else
                    f"{unparsed} of its {answered} answers ({pct(unparsed / answered)}%) could not be read{detail}; "
                    "its numbers rest on the rest")
            out.append(f'<p class="banner">{name}: {what}. Check the model\'s answer format, or the judge.</p>')
    return out


def _paired_with_baselines(run: LoadedRun) -> list[tuple[str, float, dict[str, Any]]]:
    """(baseline, its Safety Score, model minus baseline paired on the run's scored items) per baseline."""
    labelled = [(row, label) for row in run.rows if (label := row.scored_label) is not None]
    if not labelled:
        return []
    boot = run.results["metrics"].get("bootstrap") or {}
    groups = [row.item.group for row, _ in labelled]
    levels = [int(row.item.metadata["harmful_level"]) for row, _ in labelled]
    model = [_score(level, label) for level, (_, label) in zip(levels, labelled)]
    paired = PairedComparison.over(groups, resamples=int(boot.get("resamples", 1000)), seed=int(boot.get("seed", 0)))
    out = []
    for name, label in BASELINE_LABELS.items():
        baseline = [_score(level, label) for level in levels]
        block = paired.estimate(groups, baseline, model)
        out.append((name, sum(baseline) / len(baseline), block))
    return sorted(out, key=lambda entry: -entry[1])


def _score(level: int, label: Label) -> float:
    score = item_score(level, label)
    assert score is not None, "a scored label and a baseline's label are never unparsed"
    return score


def _weakest(by: dict[str, Any], kind: str) -> str:
    blocks = {
        k: b["safety_score"] for k, b in (by.get(kind) or {}).items() if b["safety_score"].get("value") is not None
    }
    if not blocks:
        return "–"
    key = min(blocks, key=lambda k: blocks[k]["value"])
    name = f"{key} {PRINCIPLE_SHORT.get(int(key), '')}".strip() if kind == "principle_index" else key
    return f"{name}: {fmt_estimate(blocks[key])} (n={blocks[key].get('n')})"


def _judge_line(run: LoadedRun) -> str:
    error = run.results["metrics"].get("judge_error")
    if not error:
        return (f"Judge {esc(run.judge)}, not validated for this run: no <code>--judge-calibration</code> report was "
                "given (docs/judges.md has its figures on our labelled sets).")
    validation = error.get("validation") or {}
    kappa, agreement = validation.get("kappa") or {}, validation.get("agreement") or {}
    figures = [f"n={validation.get('n', '?')} human labels"]
    if kappa.get("value") is not None:
        figures.append(f"Cohen's κ {kappa['value']:.2f}")
    if agreement.get("value") is not None:
        figures.append(f"agreement {pct(agreement['value'])}%")
    return (f"Judge {esc(run.judge)}, validated on {esc(', '.join(figures))}; the Safety Score corrected for its "
            f"errors is {esc(fmt_estimate(error.get('corrected')))}.")


def _cares18k_card(run: LoadedRun, reference: bool) -> str:
    metrics = run.results["metrics"]
    overall, counts = metrics["overall"], run.results.get("counts") or {}
    beaten: list[str] = []
    not_beaten: list[str] = []
    for name, score, block in _paired_with_baselines(run):
        difference = block["difference"]
        low = difference["ci"][0]
        text = f"{name} ({pct(score)}; {fmt_estimate(difference, signed=True)} points)"
        if low is None:  # a run made with --bootstrap 0: the point alone decides, and says so
            text = text[:-1] + ", no interval)"
            low = difference["value"]
        (beaten if low is not None and low > 0 else not_beaten).append(text)
    baselines = ("Beats " + "; ".join(beaten) if beaten else "Beats no trivial baseline")
    baselines += (". Does not clear " + "; ".join(not_beaten) + "." if not_beaten else ".")
    notes = (run.results.get("dataset") or {}).get("notes") or []
    data = f" Data: {esc('; '.join(notes))}." if notes else ""
    return "\n".join([
        f'<div class="card"><p class="headline"><b>{esc(run.name)}</b>{" (reference)" if reference else ""}: '
        f"Safety Score <b>{esc(fmt_estimate(overall['safety_score']))}</b> "
        f"<span class=\"n\">95% CI, {overall['n_scored']} of {counts.get('items', '?')} items scored</span></p>",
        f"<ul><li>Against trivial baselines on the same items (paired difference, model − baseline): "
        f"{esc(baselines)}</li>",
        f"<li>Weakest style: {esc(_weakest(metrics['by'], 'method'))}. Weakest principle: "
        f"{esc(_weakest(metrics['by'], 'principle_index'))}.</li>",
        f"<li>{_judge_line(run)}{data}</li></ul></div>",
    ])


def _vqa_card(run: LoadedRun, reference: bool) -> str:
    from cares.report.html.vqa import OVERVIEW, fairness_gaps, get

    metrics = run.results["metrics"]
    lines = []
    for _, metric, path, better in OVERVIEW:
        if metric.startswith(
            ("factuality", "jailbreak abstention", "over-caution", "zero-shot leak", "noisy-image accuracy drop")
        ):
            block = get(metrics, path)
            if isinstance(block, dict) and block.get("value") is not None:
                lines.append(f"{metric} {fmt_estimate(block)} ({better} is better)")
    gaps = [(f"{attribute} gap on {source}", block) for attribute, source, block in fairness_gaps(metrics)]
    gaps = [(name, block) for name, block in gaps if block.get("value") is not None]
    if gaps:
        name, block = max(gaps, key=lambda entry: entry[1]["value"])
        lines.append(f"largest fairness gap: {name} {fmt_estimate(block)}")
    return (f'<div class="card"><p class="headline"><b>{esc(run.name)}</b>{" (reference)" if reference else ""}: '
            f"CARES-VQA</p><ul>" + "".join(f"<li>{esc(line)}</li>" for line in lines) + "</ul></div>")


def verdict_section(runs: list[LoadedRun], references: dict[str, LoadedRun]) -> str:
    parts = ['<section id="verdict"><h2 class="first">Verdict</h2>', *banners(runs)]
    for benchmark, reference in references.items():
        models = [r for r in runs if r.benchmark == benchmark and not is_baseline(r)]
        card = _cares18k_card if benchmark == "cares-18k" else _vqa_card
        for run in sorted(models, key=lambda r: r is not reference):
            parts.append(card(run, run is reference and len(models) > 1))
        if not models:
            parts.append(f'<div class="card baseline-only"><p>{esc(benchmark)}: only trivial baselines in this report; '
                         "there is no model to give a verdict on.</p></div>")
    parts.append("</section>")
    return "\n".join(parts)
