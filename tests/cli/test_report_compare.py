from __future__ import annotations

import json
from pathlib import Path

import pytest

from cares.cli.main import main


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli-runs")
    out = {}
    for name, argv in (("refuse", ["--model", "baseline/refuse"]),
                       ("comply", ["--model", "baseline/comply", "--limit", "64"]),
                       ("guarded", ["--model", "guard/baseline/comply", "--guard-mode", "always", "--limit", "16"])):
        assert main(["run", "cares-18k", *argv, "--run-dir", str(root / name), "--bootstrap", "100", "--json",
                     "--no-progress"]) == 0
        out[name] = root / name
    return out


def test_compare_prints_the_paired_table_and_warns_about_unshared_items(
        cli_runs: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    html = tmp_path / "cmp.html"
    assert main(["compare", str(cli_runs["refuse"]), str(cli_runs["comply"]), "--resamples", "200",
                 "--html", str(html)]) == 0
    captured = capsys.readouterr()
    assert "the runs share 64 of their units" in captured.err and "192 only in A" in captured.err
    assert (
        "Safety Score" in captured.out
        and "difference B - A" in captured.out
        and "p: two-sided, from the same bootstrap as the intervals" in captured.out
    )
    assert "CARES-18K: B = baseline/comply against A = baseline/refuse" in html.read_text()
    assert f"wrote {html}" in captured.out

    assert main(["compare", str(cli_runs["refuse"]), str(cli_runs["comply"]), "--json", "--resamples", "0"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["units"]["shared"] == 64 and data["overall"]["over_refusal"]["difference"]["value"] == -1.0


def test_report_writes_one_file_with_guard_decisions_in_the_sample_browser(
        cli_runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.html"
    assert (
        main(["report", str(cli_runs["guarded"]), str(cli_runs["refuse"]), "--out", str(out), "--resamples", "50"]) == 0
    )
    page = out.read_text()
    assert "flagged" in page and "reminded" in page and "the guard decided 16 answers" in page
    # The guarded model is the reference and gets the verdict; the baseline run is not compared with it, since
    # the verdict already pairs the model with every trivial baseline.
    assert '<p class="headline"><b>guard/baseline/comply</b>' in page
    assert "B = baseline/refuse" not in page and "Beats" in page


@pytest.mark.parametrize("argv, message", [
    (["report", "{missing}", "--out", "{tmp}/r.html"], "no such run directory"),
    (["compare", "{refuse}", "{tmp}"], "not a run directory (no results.json, no run.sqlite)"),
    (["report", "{unfinished}", "--out", "{tmp}/r.html"], "the run has not finished"),
    (["report", "{damaged}", "--out", "{tmp}/r.html"], "run.sqlite: not a readable run store (file is not a database)"),
    (["report", "{no_metrics}", "--out", "{tmp}/r.html"], "not a cares results file (no metrics, counts)"),
    (["report", "{refuse}", "--out", "{tmp}"], "is a directory; name the HTML file to write"),
    (["compare", "{refuse}", "{refuse}", "--html", "{refuse}/results.json/x.html"], "cannot write there"),
    (["report", "{refuse}", "--reference", "{missing}", "--out", "{tmp}/r.html"], "not one of the runs given"),
])
def test_bad_input_is_one_line_and_exit_two(argv: list[str], message: str, cli_runs: dict[str, Path], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    unfinished, damaged, no_metrics = tmp_path / "unfinished", tmp_path / "damaged", tmp_path / "no-metrics"
    for folder in (unfinished, damaged, no_metrics):
        folder.mkdir()
        (folder / "run.sqlite").write_bytes((cli_runs["refuse"] / "run.sqlite").read_bytes())
    (damaged / "results.json").write_bytes((cli_runs["refuse"] / "results.json").read_bytes())
    (damaged / "run.sqlite").write_text("not a database")
    (no_metrics / "results.json").write_text(json.dumps({"benchmark": "cares-18k", "judge": "rules@1"}))
    fill = {"missing": str(tmp_path / "missing"), "tmp": str(tmp_path), "refuse": str(cli_runs["refuse"]),
            "unfinished": str(unfinished), "damaged": str(damaged), "no_metrics": str(no_metrics)}
    assert main([a.format(**fill) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cares: error:") and message in err and "\n" not in err


def test_leaderboard_also_writes_the_html_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "vqa"
    assert main(["run", "cares-vqa", "--model", "baseline/constant:No", "--tasks", "factuality", "--run-dir", str(run),
                 "--bootstrap", "50", "--json", "--no-progress"]) == 0
    out = tmp_path / "board.html"
    assert main(["leaderboard", str(run), "--html", str(out)]) == 0
    page = out.read_text()
    assert (
        "CARES-VQA leaderboard" in page and "baseline: always yes" in page and "Factuality accuracy by dataset" in page
    )
    assert '<tr class="baseline published"><td>LLaVA-Med (published, upstream protocol)</td>' in page
    out_text = capsys.readouterr().out
    assert (
        "| LLaVA-Med (published, upstream protocol) | 40.4 |" in out_text and "tox / abs (change vs clean)" in out_text
    )
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "results.json").write_bytes((run / "results.json").read_bytes())
    (damaged / "run.sqlite").write_text("not a database")
    assert main(["leaderboard", str(damaged)]) == 2
    assert (
        capsys.readouterr().err.strip()
        == f"cares: error: {damaged}/run.sqlite: not a readable run store (file is not a database)"
    )
