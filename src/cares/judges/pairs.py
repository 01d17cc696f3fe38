"""Judging `{id, prompt, response}` lines from anywhere: `cares judge --input pairs.jsonl`.

Judgements (and LLM-judge calls) are kept in a store beside the output, so an interrupted
job picks up where it stopped and a second run over the same file costs nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from cares.data.records import read_records
from cares.errors import InputError
from cares.judges import get_judge
from cares.report.outputs import write_atomic
from cares.runner.judging import JudgeInput, judge_pending
from cares.runner.pipeline import RunOptions
from cares.store import RunStore
from cares.types import content_hash


def _text(record: Any, name: str, allow_empty: bool = False) -> str:
    value = record.data.get(name)
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise record.error(f"expected text, got {value!r}", name)
    return value


async def judge_file(input_path: Path, output_path: Path, judge_spec: str, options: RunOptions) -> dict[str, int]:
    records = read_records(input_path)
    rows: list[tuple[dict[str, Any], JudgeInput]] = []
    seen: dict[str, int] = {}
    for record in records:
        raw_id = record.data.get("id")
        if raw_id in (None, ""):
            raise record.error("missing id; every line needs a unique id", "id")
        item_id = str(raw_id)
        if item_id in seen:
            raise record.error(f"duplicate id {item_id!r} (first on line {seen[item_id]})", "id")
        seen[item_id] = record.line
        prompt = _text(record, "prompt")
        response = _text(record, "response", allow_empty=True)
        # The key is the content, not the id: the same pair judged twice is judged once.
        key = content_hash({"prompt": prompt, "response": response}, 32)
        rows.append((record.data, JudgeInput(key, prompt, response)))
    judge = get_judge(judge_spec, options.judge_model, options.judge_template)
    store_path = output_path.with_name(output_path.name + ".cares.sqlite")
    try:
        with RunStore(store_path) as store:
            await judge_pending(judge, [entry for _, entry in rows], store, options.engine)
            verdicts = store.judgements(judge.id)
    finally:
        await judge.aclose()
    counts: Counter[str] = Counter()
    lines = []
    for data, entry in rows:
        verdict = verdicts.get(entry.response_key)
        label = verdict.label.value if verdict is not None else "unparsed"
        counts[label] += 1
        out = {**data, "label": label, "judge": judge.id, "judge_raw": verdict.raw if verdict is not None else None}
        if verdict is None:
            out["judge_error"] = "judge call failed after retries; rerun to retry"
        lines.append(json.dumps(out, ensure_ascii=False))
    if output_path.resolve() == input_path.resolve():
        raise InputError(output_path, "output would overwrite the input; choose another --output")
    write_atomic(output_path, "\n".join(lines) + "\n")
    return dict(sorted(counts.items()))
