"""Exports derived from the run store: results.json (the aggregate) and samples.jsonl (one line per item)."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from cares.errors import unwritable
from cares.store import RunStore
from cares.store.records import load_json, response_from_row
from cares.store.runstore import STORE_NAME
from cares.tasks.base import SampleRow, Task
from cares.types import GenerationParams, ImageRef, Item, Judgement, Label, Message, Request

RESULTS_NAME = "results.json"
SAMPLES_NAME = "samples.jsonl"


def iter_rows(store: RunStore, judge_id: str | None) -> Iterator[SampleRow]:
    """Every item-variant in display order, joined with its item, response and judgement by id and
    key, never by position; read from the store as it is used, so a caller that streams (writing
    samples.jsonl) holds one row at a time.

    `judge_id` None means the task reads answers itself and needs no judgements.
    """
    scores = store.scores()
    item: Item | None = None
    # Rows held whole (the metrics) share what repeats: the generation settings of every request,
    # and the prompt, which is also the request's user message.
    params: dict[tuple[Any, ...], GenerationParams] = {}
    for item_id, item_data, variant, key, request_json, stored, label, raw in store.joined_rows(judge_id):
        if item is None or item.id != item_id:  # an item's variants come together: decoded once
            item = Item.from_dict(load_json(item_data))
        data = load_json(request_json)
        settings = tuple(data["params"].items())
        shared = params.get(settings)
        if shared is None:
            shared = params[settings] = GenerationParams.from_dict(data["params"])
        request = Request(
            messages=tuple(Message(m["role"], item.prompt if m["content"] == item.prompt else m["content"])
                           for m in data["messages"]),
            params=shared,
            images=tuple(ImageRef.from_dict(i) for i in data.get("images", ())),
            ask=data.get("ask"),
        )
        response = None if stored is None else response_from_row(stored)
        judgement = None
        if label is not None and response is not None and response.ok:
            judgement = Judgement(key, str(judge_id), Label(label), raw)
        yield SampleRow(item, variant, key, request, response, judgement, judge_id is not None, scores.get(key, {}))


def collect_rows(store: RunStore, judge_id: str | None) -> list[SampleRow]:
    """All rows at once (iter_rows), for the metrics, which look at every row."""
    return list(iter_rows(store, judge_id))


def sample_record(task: Task, row: SampleRow) -> dict[str, Any]:
    response = row.response
    return {
        "id": row.item.id,
        "variant": row.variant,
        "benchmark": row.item.benchmark,
        "prompt": row.item.prompt,
        "messages": [m.to_dict() for m in row.request.messages],
        "images": [image.to_dict() for image in row.request.images],
        "response": response.text if response is not None else None,
        "status": row.excluded or "scored",
        "error": response.error if response is not None else None,
        "label": row.judgement.label.value if row.judgement is not None else None,
        "judge_raw": row.judgement.raw if row.judgement is not None else None,
        "score": task.score(row),
        "metadata": row.item.metadata,
        "generation": row.request.params.to_dict(),
        "model": response.model if response is not None else None,
        "usage": response.usage.to_dict() if response is not None else None,
        "attempts": response.attempts if response is not None else 0,
        "latency_s": round(response.latency_s, 4) if response is not None else None,
        "cache_key": row.key,
        # Per-request decisions of a wrapper, e.g. guard: {detector_score, flagged, reminder_applied}.
        **(response.meta if response is not None and response.meta else {}),
        **({"scores": row.scores} if row.scores else {}),
        **task.sample_extra(row),
    }


def write_atomic(path: Path, content: str | bytes, *, shared: bool = False) -> None:
    """Write beside the target and rename, so a crash never leaves a half-written file.

    The file is private to its owner unless `shared` (a model file meant to be shipped), which
    gives it the permissions the umask allows. A path that cannot be written (a file where a
    folder should be, no permission, a full disk) is a one-line error naming it, not a traceback."""
    mode = "wb" if isinstance(content, bytes) else "w"
    write_atomic_with(path, lambda handle: handle.write(content), mode=mode, shared=shared)


def write_atomic_with(path: Path, write: Any, *, mode: str = "w", shared: bool = False) -> None:
    """write_atomic for content written piece by piece: `write(handle)` writes into the new file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise unwritable(path, exc) from None
    try:
        handle: IO[Any]
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as handle:
            write(handle)
        if shared:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise unwritable(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# The fallback encoders, built once: json.dumps with options builds a new one per call. A lone
# surrogate cannot be written as UTF-8, so a line holding one is written with escapes.
_LINE = json.JSONEncoder(ensure_ascii=False)
_ESCAPED_LINE = json.JSONEncoder(ensure_ascii=True)


def _finite(value: Any) -> bool:
    """No NaN or infinity anywhere in `value`: orjson would write them as null, json as NaN."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_finite(v) for v in value)
    return True


def sample_line(record: dict[str, Any], metadata: dict[str, Any]) -> bytes:
    """One samples.jsonl line. orjson (a sixth of json's time) unless the item's metadata holds a value
    orjson would change (NaN read from a CSV, which json keeps as NaN) or one it refuses (a lone
    surrogate, an integer beyond 64 bits); then json, as before."""
    if _finite(metadata):
        try:
            return orjson.dumps(record)
        except (orjson.JSONEncodeError, TypeError):
            pass
    try:
        return _LINE.encode(record).encode("utf-8")
    except UnicodeEncodeError:
        return _ESCAPED_LINE.encode(record).encode("ascii")


def write_samples(run_dir: Path, task: Task, rows: Iterable[SampleRow]) -> Path:
    """samples.jsonl, one line per row, written as the rows come (a stream of rows is never held whole)."""
    path = run_dir / SAMPLES_NAME

    def write(handle: IO[bytes]) -> None:
        lines: list[bytes] = []
        for row in rows:
            lines.append(sample_line(sample_record(task, row), row.item.metadata))
            if len(lines) == 512:
                lines.append(b"")
                handle.write(b"\n".join(lines))
                lines.clear()
        if lines:
            lines.append(b"")
            handle.write(b"\n".join(lines))

    write_atomic_with(path, write, mode="wb")
    return path


def write_results(run_dir: Path, results: dict[str, Any]) -> Path:
    path = run_dir / RESULTS_NAME
    write_atomic(path, json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return path


def load_results(run_dir: Path) -> dict[str, Any]:
    """A run's results.json, with one-line errors for a missing or damaged file."""
    from cares.errors import ConfigError

    path = run_dir / RESULTS_NAME
    if not path.is_file():
        if not (run_dir / STORE_NAME).is_file():
            raise ConfigError(f"{run_dir}: not a run directory (no results.json, no run.sqlite)")
        # A store without results.json: the run stopped before its first export.
        raise ConfigError(f"{run_dir}: no results.json yet, the run has not finished; run its command again "
                          f"(or `cares resume {run_dir}`) to finish it")
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc.msg}); `cares export {run_dir}` rebuilds it") from None
    missing = [key for key in ("benchmark", "metrics", "counts") if not isinstance(results, dict) or key not in results]
    if missing:
        raise ConfigError(f"{path}: not a cares results file (no {', '.join(missing)}); "
                          f"`cares export {run_dir}` rebuilds it")
    return results
