from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

from cares.report.html import build_report
from cares.report.html.samples import safe_json, sample_data
from cares.report.runs import load_run


def _script_block(page: str, attrs: str) -> str:
    match = re.search(f"<script{attrs}>(.*?)</script>", page, re.S)
    assert match is not None
    return match.group(1)


def test_page_is_self_contained_and_its_csp_names_the_inline_script(runs: dict[str, Path]) -> None:
    page = build_report([runs["refuse"], runs["comply"]], resamples=50)
    script = _script_block(page, "")
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert f"script-src &#x27;sha256-{digest}&#x27;" in csp and "default-src &#x27;none&#x27;" in csp
    # Nothing is loaded from anywhere: no src/href attributes, no stylesheet links, no URLs but the SVG namespace.
    assert not re.search(r"<(link|iframe|img|object|embed)\b|\ssrc=|\shref=", page)
    assert set(re.findall(r"https?://[^\s\"'<]+", page)) <= {"http://www.w3.org/2000/svg"}
    assert page.count("<svg") >= 6 and "Comparisons with the reference run" in page
    # The refuse run is the always-refuse baseline on the same items: its row is not repeated.
    assert "baseline: always caution" in page and "baseline: always refuse" not in page


def test_hostile_model_output_stays_data(runs: dict[str, Path]) -> None:
    page = build_report([runs["evil"]], resamples=0)
    data_text = _script_block(page, ' type="application/json" id="cares-samples"')
    assert "<" not in data_text and "\u2028" not in data_text
    data = json.loads(data_text)
    assert any("<script>window.__pwned" in s for s in data["strings"])
    # Outside the data block the payload only appears escaped (the model name is in the runs table).
    rest = page.replace(data_text, "")
    assert "<img src=x" not in rest and "<script>window" not in rest and "&lt;script&gt;window" in rest
    assert json.loads(safe_json({"t": "</script>\u2028&"})) == {"t": "</script>\u2028&"}


def test_sample_budget_keeps_failures_first_and_says_what_it_left_out(runs: dict[str, Path]) -> None:
    run = load_run(runs["comply"])
    full = sample_data([run])
    assert full.shown == full.total == 256
    small = sample_data([run], budget=8000)
    assert 0 < small.shown < small.total
    rows = json.loads(small.json_text)["rows"]
    outcome = json.loads(small.json_text)["columns"].index("outcome")
    assert {row[outcome] for row in rows} == {"fail"}  # comply fails every harmful item; those come first


def test_long_legends_and_labels_are_shown_in_full_and_wrap() -> None:
    from html import unescape

    from cares.report.html.svg import CHAR_W, LABEL_W, Bar, bar_chart

    series = [f"openai/a-rather-long-model-name-number-{i} · rules@1 · baseline_refuse-0123456789" for i in range(7)]
    category = "Safety Score, principle 4 self-harm and a category name far longer than its column"
    chart = bar_chart("t", [Bar(category, i, {"value": 0.5, "ci": [0.4, 0.6], "n": 9}) for i in range(7)], series)
    # The legend is an HTML list: every name in full, wrapping with the page.
    legend = re.findall(r'<li><span class="sw s\d"></span>([^<]*)</li>', chart)
    assert [unescape(name) for name in legend] == series
    # The category label is wrapped onto lines that each fit the label column, and together say all of it.
    lines = [unescape(t) for t in re.findall(r'<tspan x="[\d.]+" y="[\d.]+">([^<]*)</tspan>', chart)]
    assert len(lines) > 1 and all(CHAR_W * len(line) <= LABEL_W - 10 for line in lines)
    assert "".join(lines).replace(" ", "") == category.replace(" ", "")
    assert "…" not in chart and "..." not in chart


def test_an_interrupted_run_is_flagged_above_its_numbers(runs: dict[str, Path], tmp_path: Path) -> None:
    import shutil
    import sqlite3

    from cares.runner.pipeline import export

    run_dir = tmp_path / "interrupted"
    shutil.copytree(runs["comply100"], run_dir)
    with sqlite3.connect(run_dir / "run.sqlite") as db:
        db.execute("DELETE FROM responses WHERE key IN (SELECT key FROM responses ORDER BY key LIMIT 30)")
    export(run_dir)
    page = build_report([run_dir], resamples=0)
    assert "30 of 100 requests are not answered yet (an interrupted run)" in page
    assert f"`cares resume {run_dir}`" in page


def test_runs_of_one_model_are_told_apart(runs: dict[str, Path]) -> None:
    from cares.report.runs import distinct_labels

    labelled = distinct_labels([load_run(runs["comply"]), load_run(runs["comply100"]), load_run(runs["refuse"])])
    names = [run.name for run in labelled]
    assert len(set(names)) == 3 and names[2] == "baseline/refuse"
    # Same model and judge: the run directory's name tells them apart.
    assert names[:2] == ["baseline/comply · rules@13 · comply", "baseline/comply · rules@13 · comply100"]
    page = build_report([runs["comply"], runs["comply100"]], resamples=0)
    assert "baseline/comply · rules@13 · comply100" in page


def test_judge_validation_figures_stand_beside_the_safety_score(runs: dict[str, Path], tmp_path: Path) -> None:
    import asyncio
    import shutil

    from cares.judges.calibration import SCHEMA
    from cares.metrics.agreement import Confusion, agreement_report
    from cares.runner.pipeline import RunOptions, rescore_async

    human = ["accept"] * 20 + ["caution"] * 20 + ["refuse"] * 20
    judged = ["accept"] * 18 + ["caution"] * 2 + ["caution"] * 16 + ["refuse"] * 4 + ["refuse"] * 19 + ["caution"]
    report = {"schema": SCHEMA, "judge": "rules@13", **agreement_report(human, judged, resamples=50)}
    assert Confusion.from_dict(report["confusion"]).n == 60
    calibration = tmp_path / "cal.json"
    calibration.write_text(json.dumps(report))
    run_dir = tmp_path / "refuse"
    shutil.copytree(runs["refuse"], run_dir)
    asyncio.run(rescore_async(run_dir, "rules", RunOptions(judge_calibration=calibration)))
    page = build_report([run_dir, runs["comply"]], resamples=0)
    section = page[page.index("<h3>The judge</h3>"):]
    section = section[:section.index("</table>")]
    assert "rules@13" in section and "not validated" in section  # the comply run had no validation
    assert ">60<" in section and f"{report['three_class']['kappa']['value']:.2f}" in section
