"""A judge's validation record, as `cares judge validate --output` writes it and a run keeps it.

A run given `--judge-calibration FILE` stores the record and reports its Safety Score both as
judged and corrected for the judge's misclassification rates (metrics/judge_calibration.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cares.errors import InputError
from cares.metrics.agreement import Confusion

SCHEMA = "cares.judge_validation/1"
CALIBRATION_META = "judge_calibration"


@dataclass(frozen=True)
class Calibration:
    """What a run keeps of a judge's validation: enough to correct its Safety Score and to show why."""

    judge: str
    confusion: Confusion
    source: str
    summary: dict[str, Any]  # agreement, kappa and macro-F1 with CIs, and n

    def to_meta(self) -> dict[str, Any]:
        return {"judge": self.judge, "confusion": self.confusion.to_dict(), "source": self.source,
                "summary": self.summary}

    @classmethod
    def from_meta(cls, data: dict[str, Any]) -> Calibration:
        return cls(data["judge"], Confusion.from_dict(data["confusion"]), data["source"], data["summary"])


def load_calibration(path: Path) -> Calibration:
    """A `cares judge validate --output` report, checked."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(path, f"cannot read judge calibration ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not a JSON file ({exc})") from None
    except RecursionError:
        raise InputError(path, "not a judge validation report: JSON nested too deeply") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise InputError(path, f"not a judge validation report (expected schema {SCHEMA!r}); "
                               "make one with `cares judge validate FILE --judge SPEC --output report.json`")
    if not isinstance(data.get("judge"), str):
        raise InputError(path, "missing the judge id", field="judge")
    try:
        confusion = Confusion.from_dict(data["confusion"])
        summary = {"n": int(data["n"]), "agreement": data["three_class"]["agreement"],
                   "kappa": data["three_class"]["kappa"], "macro_f1": data["three_class"]["macro_f1"]}
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(path, f"bad validation report ({exc})", field="confusion") from None
    return Calibration(data["judge"], confusion, str(path), summary)
