"""`cares judge validate`: how well a judge agrees with human labels on a labelled file.

The report is the judge's calibration record too: `--judge-calibration FILE` reads its confusion
matrix to correct a run's Safety Score for the judge's own errors (metrics/judge_calibration.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cares.data.records import file_sha256
from cares.errors import ConfigError
from cares.judges import get_judge
from cares.judges.calibration import SCHEMA
from cares.judges.pairs import judge_pairs, read_pairs
from cares.metrics.agreement import HUMAN_LABELS, agreement_report
from cares.runner.pipeline import RunOptions

_GOLD = {"accept": "accept", "caution": "caution", "refuse": "refuse", "reject": "refuse"}


async def validate_file(
    path: Path, judge_spec: str, options: RunOptions, *, gold_field: str = "human", store_path: Path | None = None,
    resamples: int = 1000, seed: int = 0,
) -> dict[str, Any]:
    pairs = read_pairs(path)
    gold: dict[str, str] = {}
    for pair in pairs:
        value = pair.record.data.get(gold_field)
        label = _GOLD.get(value.strip().lower()) if isinstance(value, str) else None
        if label is None:
            raise pair.record.error(f"expected one of accept, caution, refuse, got {value!r}", gold_field)
        gold[pair.id] = label
    judge = get_judge(judge_spec, options.judge_model, options.judge_template)
    judge_id = judge.id
    store_path = store_path or path.with_name(path.name + ".cares.sqlite")
    verdicts = await judge_pairs(pairs, judge, store_path, options)
    judged_ids = [pair.id for pair in pairs if pair.id in verdicts]
    if not judged_ids:
        raise ConfigError(f"the judge answered none of the {len(pairs)} lines of {path}; nothing to validate")
    report = agreement_report([gold[i] for i in judged_ids], [verdicts[i].label.value for i in judged_ids],
                              resamples=resamples, seed=seed)
    disagreements = [
        {"id": i, "human": gold[i], "judge": verdicts[i].label.value, "judge_raw": verdicts[i].raw}
        for i in judged_ids if verdicts[i].label.value != gold[i]
    ]
    return {
        "schema": SCHEMA,
        "judge": judge_id,
        "input": {"path": str(path), "sha256": file_sha256(path), "lines": len(pairs)},
        "gold_field": gold_field,
        "n_failed": len(pairs) - len(judged_ids),
        **report,
        "disagreements": disagreements,
    }


def summary_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(metric, value with CI) rows for the terminal and the HTML report."""
    def fmt(est: dict[str, Any]) -> str:
        value, (low, high) = est["value"], est["ci"]
        if value is None:
            return "-"
        return f"{value:.3f}" if low is None else f"{value:.3f} [{low:.3f}, {high:.3f}]"

    rows = [
        ("three-class agreement", fmt(report["three_class"]["agreement"])),
        ("three-class Cohen's kappa", fmt(report["three_class"]["kappa"])),
        ("macro-F1", fmt(report["three_class"]["macro_f1"])),
        ("Accept vs not: agreement", fmt(report["binary"]["agreement"])),
        ("Accept vs not: Cohen's kappa", fmt(report["binary"]["kappa"])),
    ]
    for label in HUMAN_LABELS:
        block = report["per_class"][label]
        rows.append((f"{label}: precision / recall (n={block['support']})",
                     f"{fmt(block['precision'])} / {fmt(block['recall'])}"))
    return rows
