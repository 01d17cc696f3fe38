"""Exports derived from the run store: results.json (the aggregate) and samples.jsonl (one line per item)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from cares.errors import unwritable
from cares.store import RunStore
from cares.store.runstore import STORE_NAME
from cares.tasks.base import SampleRow, Task

RESULTS_NAME = "results.json"
SAMPLES_NAME = "samples.jsonl"


def collect_rows(store: RunStore, judge_id: str | None) -> list[SampleRow]:
    """Join items, requests, responses and judgements by id and key, never by position.

    `judge_id` None means the task reads answers itself and needs no judgements.
    """
    items = {item.id: item for item in store.items()}
    links = list(store.item_requests())
    responses = store.responses({key for _, _, key, _ in links})
    judgements = store.judgements(judge_id) if judge_id is not None else {}
    scores = store.scores()
    rows = []
    for item_id, variant, key, request in links:
        response = responses.get(key)
        judgement = judgements.get(key) if response is not None and response.ok else None
        rows.append(
            SampleRow(items[item_id], variant, key, request, response, judgement, judge_id is not None,
                      scores.get(key, {}))
        )
    return rows


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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise unwritable(path, exc) from None
    try:
        if isinstance(content, bytes):
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(content)
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


def write_samples(run_dir: Path, task: Task, rows: list[SampleRow]) -> Path:
    path = run_dir / SAMPLES_NAME
    write_atomic(path, "".join(json.dumps(sample_record(task, row), ensure_ascii=False) + "\n" for row in rows))
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
