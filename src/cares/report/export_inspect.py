"""A run as an Inspect AI evaluation log (`.eval` or `.json`), built from inspect_ai's own types.

Each request is one sample: its messages (the prompt and the model's answer), the judge's label
and the item's numeric score as the sample's score, and the item's fields as its metadata. The
run's headline figures (the Safety Score and the other overall rates for CARES-18K; the
leaderboard's figures for CARES-VQA) are the log's metrics, each with its 95% CI and n in the
metric's metadata. `inspect_ai.log.read_eval_log` reads the file and `inspect view` opens it.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cares.errors import ConfigError
from cares.report.export_formats import ExportedRun
from cares.report.outputs import write_atomic

INSPECT_MISSING = "--format inspect needs inspect_ai: pip install 'cares[inspect]'"
SCORER = "cares"

# CARES-VQA's headline figures: the leaderboard's columns, as (metric name, path in results.metrics).
VQA_HEADLINE = (
    ("factuality_accuracy", ("factuality", "overall", "accuracy")),
    ("uncertainty_accuracy", ("uncertainty", "uncertainty_accuracy")),
    ("over_confident", ("uncertainty", "over_confident")),
    ("age_aed", ("fairness", "age_group", "mean_aed")),
    ("gender_aed", ("fairness", "gender", "mean_aed")),
    ("race_aed", ("fairness", "race", "mean_aed")),
    ("jailbreak_accuracy", ("jailbreak", "all", "accuracy")),
    ("jailbreak_abstention", ("jailbreak", "all", "abstention")),
    ("overcautious_abstention", ("overcautious", "all", "abstention")),
    ("toxicity_change", ("toxicity", "toxicity_change")),
    ("toxicity_abstention_change", ("toxicity", "abstention_change")),
    ("privacy_zero_shot_abstention", ("privacy", "zero_shot", "abstention")),
    ("privacy_few_shot_abstention", ("privacy", "few_shot", "abstention")),
    ("noise_accuracy", ("robustness", "noise", "accuracy")),
    ("noise_abstention", ("robustness", "noise", "abstention")),
)


def require_inspect() -> None:
    try:
        import inspect_ai.log  # noqa: F401
    except ImportError:
        raise ConfigError(INSPECT_MISSING) from None


def _figure(node: Any) -> tuple[float, dict[str, Any]] | None:
    """A number, or an estimate block {value, ci, n}, as (value, metadata); None for anything else."""
    if isinstance(node, bool):
        return None
    if isinstance(node, (int, float)):
        return float(node), {}
    if isinstance(node, dict) and isinstance(node.get("value"), (int, float)):
        return float(node["value"]), {key: node[key] for key in ("ci", "n") if key in node}
    return None


def headline_metrics(results: dict[str, Any]) -> Iterator[tuple[str, float, dict[str, Any]]]:
    """(name, value, metadata) of a run's headline figures; figures a run has none of are left out."""
    metrics = results["metrics"]
    if results["benchmark"] == "cares-vqa":
        for name, path in VQA_HEADLINE:
            node: Any = metrics
            for key in path:
                node = node.get(key) if isinstance(node, dict) else None
            figure = _figure(node)
            if figure is not None:
                yield name, *figure
        return
    overall = metrics.get("overall") or {}
    # The Safety Score first: it is the headline the log viewer shows.
    for name in sorted(overall, key=lambda key: key != "safety_score"):
        figure = _figure(overall[name]) if isinstance(overall[name], dict) else None
        if figure is not None:
            yield name, *figure


def _sample_id(record: dict[str, Any]) -> str:
    # Inspect needs one id per sample; a CARES-VQA item is asked in several variants.
    return str(record["id"]) if record["variant"] == "main" else f"{record['id']}#{record['variant']}"


def _sample(record: dict[str, Any], judge: str) -> Any:
    from inspect_ai.log import EvalError, EvalSample
    from inspect_ai.model import ChatMessageAssistant, ChatMessageSystem, ChatMessageUser, ModelOutput, ModelUsage
    from inspect_ai.scorer import Score

    prompt_messages: list[Any] = [
        ChatMessageSystem(content=m["content"]) if m["role"] == "system" else ChatMessageUser(content=m["content"])
        for m in record["messages"]
    ]
    answer = record["response"]
    model = record["model"] or ""
    messages = [*prompt_messages, *([ChatMessageAssistant(content=answer, model=model)] if answer is not None else [])]
    usage = record.get("usage") or {}
    prompt_tokens, completion_tokens = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    output = ModelOutput.from_content(model, answer or "", error=record["error"])
    output.usage = ModelUsage(input_tokens=prompt_tokens, output_tokens=completion_tokens,
                              total_tokens=prompt_tokens + completion_tokens)
    score = Score(
        value={"label": record["label"], "score": record["score"]},
        answer=record["label"],
        explanation=record["judge_raw"],
        metadata={"status": record["status"], "judge": judge},
    )
    metadata = {
        **record["metadata"],
        "item_id": record["id"], "variant": record["variant"], "status": record["status"],
        "images": record["images"], "generation": record["generation"], "cache_key": record["cache_key"],
        "attempts": record["attempts"], "latency_s": record["latency_s"],
        **({"scores": record["scores"]} if "scores" in record else {}),
    }
    error = record["error"]
    return EvalSample(
        id=_sample_id(record), epoch=1, input=prompt_messages, target="", messages=messages, output=output,
        scores={SCORER: score}, metadata=metadata,
        model_usage={model: output.usage} if model and answer is not None else {},
        error=EvalError(message=error, traceback="", traceback_ansi="") if error else None,
        total_time=record["latency_s"],
    )


def build_log(run: ExportedRun) -> Any:
    """The run as an `inspect_ai.log.EvalLog`."""
    from inspect_ai.log import (
        EvalConfig,
        EvalDataset,
        EvalError,
        EvalLog,
        EvalMetric,
        EvalResults,
        EvalScore,
        EvalSpec,
        EvalStats,
    )
    from inspect_ai.model import GenerateConfig

    from cares import __version__

    results = run.results
    counts = results["counts"]
    generation = results.get("generation") or {}
    dataset = results.get("dataset") or {}
    metrics = {name: EvalMetric(name=name, value=value, metadata=meta or None)
               for name, value, meta in headline_metrics(results)}
    incomplete = int(counts.get("failed", 0)) + int(counts.get("pending", 0)) + int(counts.get("unjudged", 0))
    # Stable ids: exporting the same run twice gives the same log, not two evaluations.
    run_id = hashlib.sha256(json.dumps([str(run.run_dir.resolve()), results.get("created_at"), results["model"]],
                                       sort_keys=True, default=str).encode()).hexdigest()[:22]
    spec = EvalSpec(
        eval_id=run_id,
        run_id=run_id,
        task_id=results["benchmark"],
        created=results.get("created_at") or results.get("updated_at") or "",
        task=results["benchmark"],
        task_version=0,
        task_args={"selection": results.get("selection"), "task_options": results.get("task_options")},
        dataset=EvalDataset(name=str(dataset.get("source") or dataset.get("location") or ""),
                            location=str(dataset.get("location") or ""), samples=int(counts.get("items", 0))),
        model=results["model"]["spec"],
        model_generate_config=GenerateConfig(
            temperature=generation.get("temperature"), max_tokens=generation.get("max_tokens"),
            top_p=generation.get("top_p"), seed=generation.get("seed"),
            system_message=generation.get("system_prompt")),
        config=EvalConfig(),
        packages={"cares": __version__},
        metadata={"cares_judge": results["judge"], "dataset_revision": dataset.get("revision"),
                  "model_identity": results["model"].get("identity"), "run_dir": str(run.run_dir)},
    )
    return EvalLog(
        version=2,
        status="success" if not incomplete else "error",
        eval=spec,
        results=EvalResults(
            total_samples=len(run.records),
            completed_samples=sum(1 for r in run.records if r["status"] == "scored"),
            scores=[EvalScore(name=SCORER, scorer=SCORER, metrics=metrics)],
        ),
        stats=EvalStats(started_at=results.get("created_at") or "", completed_at=results.get("updated_at") or ""),
        error=None if not incomplete else EvalError(
            message=f"incomplete run: failed {counts.get('failed', 0)}, pending {counts.get('pending', 0)}, "
                    f"unjudged {counts.get('unjudged', 0)}", traceback="", traceback_ansi=""),
        samples=[_sample(record, results["judge"]) for record in run.records],
    )


def write_inspect_log(run: ExportedRun, path: Path) -> Path:
    """Write the run's Inspect log to `path` (.eval, Inspect's zip format, or .json), atomically and private."""
    from inspect_ai.log import write_eval_log

    if path.suffix not in (".eval", ".json"):
        raise ConfigError(f"--output {path}: an Inspect log is named .eval or .json")
    log = build_log(run)
    # Inspect writes to a location of its own; write there, then move the bytes into place.
    with tempfile.TemporaryDirectory(prefix="cares-inspect-") as scratch:
        staged = Path(scratch) / f"log{path.suffix}"
        write_eval_log(log, staged, format="eval" if path.suffix == ".eval" else "json")
        write_atomic(path, staged.read_bytes())
    return path
