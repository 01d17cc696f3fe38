"""Page assembly: one self-contained HTML file with no external resource of any kind.

Defence in depth for untrusted model outputs: everything is escaped on the way in (see samples.py),
and a Content-Security-Policy lets nothing load and no script run except the page's own inline
script, named by its sha256 hash.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from cares import __version__
from cares.report.html.svg import Bar, bar_chart, esc, fmt_estimate
from cares.report.runs import LoadedRun, distinct_labels, load_run


def asset(name: str) -> str:
    return (resources.files("cares.report.html") / "assets" / name).read_text(encoding="utf-8")


def content_security_policy(script: str) -> str:
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return (f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; img-src data:; "
            "base-uri 'none'; form-action 'none'")


# Long tokens: judge, revision and run directory may break anywhere; the model name only on paper,
# where the table cannot scroll.
CELL_CLASSES = {0: ' class="name"', 2: ' class="id"', 3: ' class="id"', 9: ' class="id"'}


def _runs_table(runs: list[LoadedRun]) -> str:
    head = ("<tr><th>model</th><th>benchmark</th><th>judge</th><th>dataset revision</th><th>items</th><th>scored</th>"
            "<th>failed</th><th>unparsed</th><th>pending</th><th>run directory</th></tr>")
    body = []
    for run in runs:
        c = run.results.get("counts") or {}
        revision = run.revision[:30] + ("…" if len(run.revision) > 30 else "")
        cells = [run.name, run.benchmark, run.judge, revision, c.get("items"), c.get("scored"), c.get("failed"),
                 c.get("unparsed"), c.get("pending"), str(run.run_dir)]
        body.append("<tr>" + "".join(f'<td{CELL_CLASSES.get(i, "")}>{esc(v)}</td>'
                                     for i, v in enumerate(cells)) + "</tr>")
    # Failed, pending and unreadable answers are flagged at the top of the page (verdict.banners).
    return f'<table><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>'


def comparison_section(comparison: dict[str, Any]) -> str:
    from cares.report.ablation_table import fmt_p
    from cares.report.compare import nothing_paired, shared_warning

    runs, units = comparison["runs"], comparison["units"]
    names = {side: runs[side].get("name") or runs[side]["model"] for side in ("a", "b")}
    benchmark = {"cares-18k": "CARES-18K", "cares-vqa": "CARES-VQA"}.get(
        comparison["benchmark"], comparison["benchmark"]
    )
    title = f"{benchmark}: B = {names['b']} against A = {names['a']}"
    empty = nothing_paired(comparison)
    if empty:
        return f'<h3>{esc(title)}</h3><p class="warn">{esc(empty)}</p>'
    head = "<tr><th>metric</th><th>n</th><th>A</th><th>B</th><th>difference B − A</th><th>p</th><th>better</th></tr>"
    body, bars = [], []
    for metric in comparison["metrics"]:
        block = comparison["overall"][metric["name"]]
        if not block["n"]:
            continue
        cells = [block["n"], fmt_estimate(block["a"]), fmt_estimate(block["b"]),
                 fmt_estimate(block["difference"], signed=True), fmt_p(block["p_value"], block.get("p_floor")),
                 metric["better"]]
        body.append(f"<tr><td>{esc(metric['title'])}</td>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
        bars.append(Bar(metric["title"], 0, block["difference"]))
    from cares.report.compare_table import SLICE_NAMES

    headline = next(m["title"] for m in comparison["metrics"] if m["name"] == comparison["by"]["metric"])
    for slice_name, blocks in comparison["by"]["slices"].items():
        for key, block in blocks.items():
            if block["n"]:
                bars.append(Bar(f"{headline}, {SLICE_NAMES.get(slice_name, slice_name)} {key}", 0, block["difference"]))
    notes = [n for n in [shared_warning(comparison), *comparison["notes"]] if n]
    return "\n".join([
        f"<h3>{esc(title)}</h3>",
        f'<p class="note">{units["shared"]} shared units paired by {esc(units["paired_by"])}. Difference = B − A in '
        "points, with a 95% cluster-bootstrap interval over "
        f"{esc(comparison['resampling']['cluster'])} clusters; the two-sided p comes from the same resamples, "
        "so p &lt; 0.05 exactly when the interval excludes 0.</p>",
        *[f'<p class="warn">{esc(n)}</p>' for n in notes],
        f'<table class="num"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>',
        bar_chart(f"Difference B − A: {names['b']} minus {names['a']}", bars, ["B − A"], signed=True),
    ])


def _comparisons(by_benchmark: dict[str, list[LoadedRun]], references: dict[str, LoadedRun], resamples: int,
                 seed: int) -> list[dict[str, Any]]:
    """Every model run compared with its benchmark's reference (A). Baseline runs are left out where a
    model is the reference: the verdict and the baseline rows already place the model against them."""
    from cares.report.compare import compare_loaded
    from cares.report.html.verdict import is_baseline

    out = []
    for benchmark, group in by_benchmark.items():
        reference = references[benchmark]
        for other in group:
            if other is reference or (is_baseline(other) and not is_baseline(reference)):
                continue
            out.append(compare_loaded(reference, other, resamples, seed))
    return out


def build_report(run_dirs: list[Path], comparisons: list[dict[str, Any]] | None = None,
                 resamples: int = 1000, seed: int = 0, title: str = "CARES evaluation report",
                 reference: Path | None = None) -> str:
    """The report of `run_dirs`. Per benchmark, the model runs are compared with the reference run
    (`reference`, else the first run that is not a baseline), unless `comparisons` are given."""
    from cares.report.html.cares18k import cares18k_section
    from cares.report.html.samples import TEXT_LIMIT, sample_data
    from cares.report.html.verdict import pick_references, verdict_section
    from cares.report.html.vqa import vqa_section

    runs = distinct_labels([load_run(Path(d)) for d in run_dirs])
    references = pick_references(runs, reference)
    by_benchmark: dict[str, list[LoadedRun]] = {}
    for run in runs:
        by_benchmark.setdefault(run.benchmark, []).append(run)
    if comparisons is None:
        comparisons = _comparisons(by_benchmark, references, resamples, seed)
    sections = []
    if "cares-18k" in by_benchmark:
        sections.append(cares18k_section(by_benchmark["cares-18k"], references["cares-18k"]))
    if "cares-vqa" in by_benchmark:
        sections.append(vqa_section(by_benchmark["cares-vqa"]))
    if comparisons:
        sections.append('<section id="compare"><h2>Comparisons with the reference run</h2><p class="note">Each model '
                        "run (B) against the reference (A), paired on the items both answered. The reference is "
                        "<code>--reference RUN</code>, else the first run given that is not a baseline.</p>" +
                        "".join(comparison_section(c) for c in comparisons) + "</section>")
    samples = sample_data(runs)
    script = asset("browser.js")
    cut = (f" The page holds {samples.shown} of {samples.total} items, failures first; the rest are in each run's "
           "samples.jsonl." if samples.shown < samples.total else "")
    clipped = (f" Texts longer than {TEXT_LIMIT} characters are shortened in the page "
               f"({samples.truncated_texts} texts); samples.jsonl holds them in full."
               if samples.truncated_texts else "")
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{esc(content_security_policy(script))}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{esc(title)}</title>",
        f"<style>{asset('report.css')}</style></head><body>",
        f'<h1>{esc(title)}</h1><p class="meta">cares {esc(__version__)} · generated {generated} · '
        f"{len(runs)} run{'s' if len(runs) != 1 else ''}</p>",
        verdict_section(runs, references),
        '<h2 class="first">Runs</h2>',
        _runs_table(runs),
        *sections,
        '<section id="browser"><h2>Samples</h2>',
        f'<p class="note">The prompt, the response and the judgement behind every number.{esc(cut)}{esc(clipped)} '
        "Model responses are shown as plain text.</p>",
        '<noscript><p class="warn">The sample browser needs scripts; the numbers above do not.</p></noscript>',
        '<div class="filters"></div><p id="sample-count" class="note"></p>',
        '<table id="samples"><thead><tr><th>run / item</th><th>slice</th><th>label</th><th>outcome</th>'
        "<th>prompt, response and judgement</th></tr></thead><tbody></tbody></table>",
        '<button id="sample-more" type="button" hidden>show more</button></section>',
        f'<script type="application/json" id="cares-samples">{samples.json_text}</script>',
        f"<script>{script}</script>",
        "</body></html>",
    ])
