"""How the run store writes and reads its rows: the response upsert, and the JSON of stored records."""

from __future__ import annotations

import json
from typing import Any

import orjson

from cares.types import Response, ResponseStatus, Usage

# A failure never overwrites an answer (answers are paid for); attempts add up over resumes.
PUT_RESPONSE = """INSERT INTO responses(key, model, status, text, error, prompt_tokens, completion_tokens,
       attempts, latency_s, finish_reason, request, created_at, meta)
   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
   ON CONFLICT(key) DO UPDATE SET
       model=excluded.model, status=excluded.status, text=excluded.text, error=excluded.error,
       prompt_tokens=excluded.prompt_tokens, completion_tokens=excluded.completion_tokens,
       attempts=responses.attempts + excluded.attempts, latency_s=excluded.latency_s,
       finish_reason=excluded.finish_reason, created_at=excluded.created_at, meta=excluded.meta
   WHERE responses.status != 'ok'"""


def dump_json(value: Any) -> str:
    """The JSON text of a stored record. orjson where it can (several times faster than json, and
    the store is written once per answer); json where orjson refuses, e.g. a lone surrogate that a
    python/ model returned."""
    try:
        return orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value)


def load_json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # NaN, or a lone surrogate escape: what json wrote, json reads
        return json.loads(text)


def response_from_row(row: tuple[Any, ...]) -> Response:
    return Response(
        key=row[0],
        model=row[1],
        status=ResponseStatus(row[2]),
        text=row[3],
        error=row[4],
        usage=Usage(row[5] or 0, row[6] or 0),
        attempts=row[7] or 0,
        latency_s=row[8] or 0.0,
        finish_reason=row[9],
        meta=None if row[10] is None else json.loads(row[10]),
    )
