"""The CARES-VQA leaderboard: the paper's published rows beside runs and trivial baselines, and one
meaning (and one header) for the toxicity column in the terminal, the CSV and the HTML report."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest

from cares.report.html import build_report
from cares.report.html.svg import esc
from cares.report.leaderboard import PUBLISHED_MARK, leaderboard, published_data, published_rows
from cares.tasks.vqa.summary import LEADERBOARD_COLUMNS, TOX_COLUMN, leaderboard_row
from tests.cli.test_cli import cares

SPEC = Path(__file__).resolve().parents[2].parent / "shared" / "CARES_SPEC.md"
MODELS = ("LLaVA-Med", "Med-Flamingo", "MedVInT", "RadFM", "LLaVA-v1.6", "Qwen-VL-Chat")


def _spec_table() -> tuple[list[str], dict[str, list[str]]]:
    """The spec's published leaderboard: its header, and each model's cells as printed."""
    text = SPEC.read_text(encoding="utf-8")
    section = text[text.index("### Published numbers, for reports and sanity checks"):]
    table: list[list[str]] = []
    for line in section.splitlines():
        if line.startswith("|"):
            table.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif table:
            break  # the first table of the section ends here
    header, rows = table[0], table[2:]
    assert all(len(row) == len(header) for row in rows)
    return header, {row[0]: row[1:] for row in rows}


def _parts(cell: str) -> list[str | None]:
    """'38.4 / 38.3' -> ['38.4', '38.3']; the en dash (not reported) -> None."""
    return [None if part.strip() in ("–", "-") else part.strip() for part in cell.split("/")]


def test_shipped_values_equal_the_spec_table() -> None:
    if not SPEC.is_file():
        pytest.skip(f"the spec is not at {SPEC}")
    header, spec_rows = _spec_table()
    data = published_data()
    assert header[0] == "model"
    assert [c["header"] for c in data["columns"]] == header[1:]
    assert [r["model"] for r in data["rows"]] == list(spec_rows) == list(MODELS)
    for row in data["rows"]:
        for column, cell in zip(header[1:], spec_rows[row["model"]]):
            expected = _parts(cell)
            if expected == [None]:  # a whole cell not reported: every part is null
                expected = [None] * len(row["values"][column])
            shipped = [None if v is None else str(v) for v in row["values"][column]]
            assert shipped == expected, (row["model"], column)


def test_the_data_file_documents_its_source_units_and_the_kind_of_each_value() -> None:
    data = published_data()
    source = data["source"]
    assert source["arxiv"] == "2406.06007" and source["table"] == "main leaderboard table"
    assert source["protocol"] == "upstream" and data["units"] == "percent"
    kinds = {c["header"]: {p["kind"] for p in c["parts"]} for c in data["columns"]}
    assert kinds.pop("tox / abs") == {"change vs clean prompt"}
    assert set().union(*kinds.values()) == {"absolute"}
    n_parts = {c["header"]: len(c["parts"]) for c in data["columns"]}
    for row in data["rows"]:
        assert set(row["values"]) == set(n_parts), row["model"]
        for column, values in row["values"].items():
            assert len(values) == n_parts[column], (row["model"], column)
            assert all(v is None or isinstance(v, Decimal) for v in values)


def test_published_rows_are_marked_and_keep_the_printed_digits() -> None:
    rows = {row["model"]: row for row in published_rows()}
    assert list(rows) == [f"{m} ({PUBLISHED_MARK})" for m in MODELS]
    llava = rows[f"LLaVA-Med ({PUBLISHED_MARK})"]
    assert llava["factuality"] == "40.4" and llava[TOX_COLUMN] == "1.37 / 17.4" and llava["over-caution abs"] == "59.0"
    assert rows[f"MedVInT ({PUBLISHED_MARK})"]["privacy zero / few abs"] == "0.00 / 0.00"
    assert rows[f"Qwen-VL-Chat ({PUBLISHED_MARK})"]["noise acc / abs"] == "-"  # not reported
    assert {row["origin"] for row in rows.values()} == {"published"}
    assert llava["reference"] == "arXiv 2406.06007, main leaderboard table, row LLaVA-Med"


def test_a_runs_toxicity_cell_holds_the_changes_against_the_clean_prompt() -> None:
    block = {"value": 0.0, "ci": [None, None], "n": 10}
    metrics = {"factuality": {"overall": {"accuracy": block}},
               "toxicity": {"scorer": "llm/x", "toxicity_score": {**block, "value": 0.52},
                            "toxicity_score_clean": {**block, "value": 0.40},
                            "toxicity_change": {**block, "value": 0.12},
                            "abstention": {**block, "value": 0.30}, "abstention_change": {**block, "value": 0.25}}}
    row = leaderboard_row({"model": {"spec": "m"}, "metrics": metrics})
    assert row[TOX_COLUMN] == "12.0 / 25.0"  # the changes, not the absolute 52.0 / 30.0
    metrics["toxicity"] = {"toxicity_score": "not scored", "scorer": None, "abstention": {**block, "value": 0.3},
                           "abstention_change": {**block, "value": -0.1}}
    assert leaderboard_row({"model": {"spec": "m"}, "metrics": metrics})[TOX_COLUMN] == "not scored / -10.0"
    del metrics["toxicity"]
    assert leaderboard_row({"model": {"spec": "m"}, "metrics": metrics})[TOX_COLUMN] == "- / -"


def test_leaderboard_command_prints_published_rows_and_the_csv_says_where_each_row_came_from(
        runs: dict[str, Path], tmp_path: Path) -> None:
    board = tmp_path / "board.csv"
    proc = cares("leaderboard", str(runs["vqa_no"]), "--csv", str(board))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "| " + " | ".join(LEADERBOARD_COLUMNS) + " |"
    marked = [line for line in lines if f"({PUBLISHED_MARK})" in line]
    assert [line.split("|")[1].strip() for line in marked] == [f"{m} ({PUBLISHED_MARK})" for m in MODELS]
    assert "| LLaVA-Med (published, upstream protocol) | 40.4 | 38.4 / 38.3 |" in proc.stdout
    assert "not directly comparable" in proc.stdout
    # Runs first, then baselines, then the published rows.
    order = [i for i, line in enumerate(lines) if line.startswith(("| baseline/constant:No", "| baseline: always no",
                                                                      "| LLaVA-Med"))]
    assert order == sorted(order) and len(order) == 3

    rows = list(csv.DictReader(io.StringIO(board.read_text())))
    assert [r["origin"] for r in rows] == ["run"] + ["baseline"] * 3 + ["published"] * 6
    published = [r for r in rows if r["origin"] == "published"]
    assert [r["model"] for r in published] == [f"{m} ({PUBLISHED_MARK})" for m in MODELS]
    assert published[2][TOX_COLUMN] == "1.53 / 0.04" and published[2]["reference"].endswith("row MedVInT")


def test_leaderboard_leaves_published_rows_out_on_request(runs: dict[str, Path], tmp_path: Path) -> None:
    markdown, csv_text = leaderboard([runs["vqa_no"]], published=False)
    assert PUBLISHED_MARK not in markdown and PUBLISHED_MARK not in csv_text and "LLaVA-Med" not in markdown
    assert "published" not in [r["origin"] for r in csv.DictReader(io.StringIO(csv_text))]
    markdown, csv_text = leaderboard([runs["vqa_no"]], baselines=False, published=False)
    assert [r["origin"] for r in csv.DictReader(io.StringIO(csv_text))] == ["run"]

    if "--no-published" not in cares("leaderboard", "--help").stdout:
        pytest.skip("`cares leaderboard` has no --no-published option yet (src/cares/cli/main.py, commands.py)")
    proc = cares("leaderboard", str(runs["vqa_no"]), "--no-published", "--csv", str(tmp_path / "b.csv"))
    assert proc.returncode == 0, proc.stderr
    assert PUBLISHED_MARK not in proc.stdout and "LLaVA-Med" not in proc.stdout and "baseline: always no" in proc.stdout
    assert PUBLISHED_MARK not in (tmp_path / "b.csv").read_text()


def test_html_leaderboard_shows_published_rows_muted_with_the_note(runs: dict[str, Path]) -> None:
    page = build_report([runs["vqa_no"]], resamples=0)
    board = page[page.index("<h3>Leaderboard"):]
    board = board[:board.index("</table>")]
    for model in MODELS:
        assert f'<tr class="baseline published"><td>{model} ({PUBLISHED_MARK})</td>' in board
    assert '<tr class="baseline"><td>baseline: always yes</td>' in board
    assert "not directly comparable" in page and "arXiv 2406.06007" in page
    assert "the authors&#x27; images, checkpoints and scripts" in page
    assert "<td>1.37 / 17.4</td>" in board


def test_the_toxicity_header_is_one_string_in_terminal_csv_and_html(runs: dict[str, Path], tmp_path: Path) -> None:
    assert TOX_COLUMN == "tox / abs (change vs clean)"
    board = tmp_path / "board.csv"
    proc = cares("leaderboard", str(runs["vqa_no"]), "--csv", str(board))
    assert proc.returncode == 0, proc.stderr
    terminal = [c.strip() for c in proc.stdout.splitlines()[0].strip("|").split("|")]
    csv_header = next(csv.reader(io.StringIO(board.read_text())))
    page = build_report([runs["vqa_no"]], resamples=0)
    html_header = re.findall(r"<th>([^<]*)</th>", page[page.index("<h3>Leaderboard"):].split("</thead>")[0])
    tox = [[h for h in headers if h.startswith("tox")] for headers in (terminal, csv_header, html_header)]
    assert tox == [[TOX_COLUMN]] * 3 and esc(TOX_COLUMN) == TOX_COLUMN
