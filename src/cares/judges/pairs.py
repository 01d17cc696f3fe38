"""Judging `{id, prompt, response}` lines from anywhere: `cares judge --input pairs.jsonl`.

An LLM judge's calls and labels are kept in a store beside the output, so an interrupted job
picks up where it stopped and a second run over the same file costs nothing. The rules judge
needs no store: it labels thousands of answers a second and writes only the output.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cares.data.records import RawRecord, read_records
from cares.errors import InputError
from cares.judges import get_judge
from cares.judges.base import Judge, OfflineJudge, Verdict
from cares.report.outputs import write_atomic
from cares.runner.judging import JudgeInput, judge_pending
from cares.runner.pipeline import RunOptions
from cares.store import RunStore
from cares.types import content_hash


@dataclass(frozen=True)
class Pair:
    """One line of a pairs file: its own fields, where it was read, and what the judge sees."""

    record: RawRecord
    id: str
    entry: JudgeInput


def _text(record: RawRecord, name: str, allow_empty: bool = False) -> str:
    value = record.data.get(name)
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise record.error(f"expected text, got {value!r}", name)
    return value


def read_pairs(path: Path) -> list[Pair]:
    """Every line's id, prompt and response, checked; ids must be unique."""
    pairs: list[Pair] = []
    seen: dict[str, int] = {}
    for record in read_records(path):
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
        pairs.append(Pair(record, item_id, JudgeInput(key, prompt, response)))
    return pairs


async def judge_pairs(pairs: list[Pair], judge: Judge, store_path: Path, options: RunOptions) -> dict[str, Verdict]:
    """Each pair's verdict by id; a pair whose judge call failed after retries is absent.

    Only a judge that calls a model needs the store: the rules judge answers at once and leaves
    no file behind."""
    if isinstance(judge, OfflineJudge):
        verdicts = judge.judge_many([(pair.entry.prompt, pair.entry.response) for pair in pairs])
        return {pair.id: verdict for pair, verdict in zip(pairs, verdicts)}
    try:
        with RunStore(store_path) as store:
            await judge_pending(judge, [pair.entry for pair in pairs], store, options.engine)
            stored = store.judgements(judge.id)
    finally:
        await judge.aclose()
    by_id: dict[str, Verdict] = {}
    for pair in pairs:
        judgement = stored.get(pair.entry.response_key)
        if judgement is not None:
            by_id[pair.id] = Verdict(judgement.label, judgement.raw or "")
    return by_id


async def judge_file(input_path: Path, output_path: Path, judge_spec: str, options: RunOptions) -> dict[str, int]:
    pairs = read_pairs(input_path)
    if output_path.resolve() == input_path.resolve():
        raise InputError(output_path, "output would overwrite the input; choose another --output")
    judge = get_judge(judge_spec, options.judge_model, options.judge_template)
    verdicts = await judge_pairs(pairs, judge, output_path.with_name(output_path.name + ".cares.sqlite"), options)
    counts: Counter[str] = Counter()
    lines = []
    for pair in pairs:
        verdict = verdicts.get(pair.id)
        label = verdict.label.value if verdict is not None else "unparsed"
        # A failed call is counted apart from an output that could not be read, so the caller can tell.
        counts[label if verdict is not None else "failed"] += 1
        out: dict[str, Any] = {**pair.record.data, "label": label, "judge": judge.id,
                               "judge_raw": verdict.raw if verdict is not None else None}
        if verdict is None:
            out["judge_error"] = "judge call failed after retries; rerun to retry"
        lines.append(json.dumps(out, ensure_ascii=False))
    write_atomic(output_path, "\n".join(lines) + "\n")
    return dict(sorted(counts.items()))
