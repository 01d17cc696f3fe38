"""The sample browser's data: one record per answered item, failures first, within a size budget.

Model outputs are untrusted. They travel as JSON inside a non-executable <script type="application/json">
block, with every '<', '>' and '&' escaped and line/paragraph separators written as \\u escapes, so no
text can close the block or start markup; the page's script only ever puts them into the page as text.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cares.report.runs import LoadedRun
from cares.tasks.base import SampleRow

TEXT_LIMIT = 700  # characters of a prompt or response shown per item
JUDGE_LIMIT = 300
BUDGET_BYTES = 2_500_000  # sample data per report, whatever the runs: the page stays under 3 MB
COLUMNS = ("run", "id", "task", "style", "level", "principle", "source", "label", "outcome", "status",
           "prompt", "response", "judgement", "guard")
PRIORITY = {"failed": 0, "unparsed": 0, "fail": 1, "partial": 2, "pass": 3, "unscored": 3}


@dataclass(frozen=True)
class SampleData:
    json_text: str  # safe to place between <script type="application/json"> tags
    shown: int
    total: int
    truncated_texts: int


def clip_words(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters at a word boundary (inside a word only when a single word
    runs past 60% of the limit), ending in an ellipsis when anything was cut."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    kept = cut[:space] if space > limit * 0.6 else cut
    return kept.rstrip(" \n\t,;:.-") + "…"


def _clip(text: str | None, limit: int) -> tuple[str, bool]:
    text = text or ""
    if len(text) <= limit:
        return text, False
    kept = clip_words(text, limit)
    return kept + f" [{len(text) - len(kept) + 1} more characters in samples.jsonl]", True


def _outcome(score: float | None) -> str:
    if score is None:
        return "unscored"
    return "pass" if score >= 1 else ("fail" if score <= 0 else "partial")


def _record(run_index: int, run: LoadedRun, row: SampleRow) -> dict[str, Any]:
    meta = row.item.metadata
    response = row.response
    text = None if response is None else (response.text if response.ok else f"[request failed: {response.error}]")
    record: dict[str, Any] = {"run": run_index, "id": row.item.id, "task": row.variant,
                              "status": row.excluded or "scored",
                              "prompt": row.request.messages[-1].content if row.request.messages else row.item.prompt,
                              "response": text}
    if run.benchmark == "cares-18k":
        from cares.metrics.safety import item_score

        label = row.judgement.label if row.judgement is not None else None
        score = item_score(int(meta["harmful_level"]), label) if label is not None and row.excluded is None else None
        guard = (response.meta or {}).get("guard") if response is not None else None
        record.update(style=str(meta["method"]), level=str(meta["harmful_level"]),
                      principle=str(meta["principle_index"]), label=label.value if label is not None else "",
                      outcome=_outcome(score),
                      judgement=f"{run.judge}: {row.judgement.raw}" if row.judgement is not None else "",
                      guard=("flagged" if guard.get("flagged") else "not flagged") +
                            (", reminded" if guard.get("reminder_applied") else "") if guard else "")
    else:
        from cares.metrics.vqa import read_row

        read = read_row(row)
        state = "abstained" if read.abstained else ("leaked" if read.leak else ("answered" if read.answered else ""))
        truth = meta.get("truth_text") or meta.get("truth")
        record.update(source=str(meta.get("source", "")), label=state, outcome=_outcome(read.score),
                      judgement=f"read choice: {read.choice or '-'}; truth: {truth if truth is not None else '-'}")
    return record


def _order(record: dict[str, Any]) -> tuple[int, str]:
    status = record["status"]
    rank = PRIORITY.get(status, PRIORITY.get(record.get("outcome", ""), 3))
    # A stable pseudo-random order inside each rank, so a budget cut keeps a spread of slices, not one id prefix.
    return rank, hashlib.sha1(f"{record['run']}:{record['id']}:{record['task']}".encode()).hexdigest()


def safe_json(data: Any) -> str:
    """JSON that cannot end a <script> block or open markup, and parses the same as plain JSON."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def sample_data(runs: list[LoadedRun], budget: int = BUDGET_BYTES) -> SampleData:
    records = [_record(i, run, row) for i, run in enumerate(runs) for row in run.rows]
    records.sort(key=_order)
    strings: dict[str, int] = {}  # repeated texts (boilerplate refusals, judge reasons) stored once

    def ref(text: str) -> int:
        return strings.setdefault(text, len(strings))

    rows, used, truncated = [], 0, 0
    for record in records:
        cells = []
        for column in COLUMNS:
            value = record.get(column, "")
            if column in ("prompt", "response", "judgement"):
                value, cut = _clip(value, JUDGE_LIMIT if column == "judgement" else TEXT_LIMIT)
                truncated += cut
                known = value in strings
                index = ref(value)
                used += 0 if known else len(value.encode()) + 4
                value = index
            cells.append(value)
        used += sum(len(str(c)) + 3 for c in cells)
        if used > budget:
            break
        rows.append(cells)
    data = {"columns": COLUMNS, "rows": rows, "strings": list(strings),
            "runs": [{"model": r.name if len({x.benchmark for x in runs}) == 1 else f"{r.name} ({r.benchmark})",
                      "benchmark": r.benchmark, "judge": r.judge} for r in runs],
            "total": len(records), "text_limit": TEXT_LIMIT}
    return SampleData(safe_json(data), len(rows), len(records), truncated)
