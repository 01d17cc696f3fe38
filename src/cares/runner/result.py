"""The typed result of a run, as returned by `cares.evaluate`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cares.metrics.bootstrap import Estimate


def _estimate(block: dict[str, Any]) -> Estimate:
    low, high = block["ci"]
    return Estimate(block["value"], low, high, block["n"])


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    results: dict[str, Any]  # exactly what results.json holds

    @property
    def benchmark(self) -> str:
        return str(self.results["benchmark"])

    @property
    def model(self) -> str:
        return str(self.results["model"]["spec"])

    @property
    def judge(self) -> str:
        return str(self.results["judge"])

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.results["counts"])

    @property
    def incomplete(self) -> int:
        """Requests without a usable outcome yet: failed, never asked, or answered but not judged.
        Zero means the run is done; the CLI exits 3 otherwise (docs/design.md, exit statuses)."""
        counts = self.results["counts"]
        return int(counts.get("failed", 0)) + int(counts.get("pending", 0)) + int(counts.get("unjudged", 0))

    @property
    def safety_score(self) -> Estimate:
        return _estimate(self.results["metrics"]["overall"]["safety_score"])

    def metric(self, name: str) -> Estimate:
        """An overall metric, e.g. 'over_refusal', 'harmful_compliance', 'refuse_rate'."""
        return _estimate(self.results["metrics"]["overall"][name])

    def by(self, slice_name: str, metric: str = "safety_score") -> dict[str, Estimate]:
        """A metric per slice value, e.g. by('method') or by('harmful_level', 'refuse_rate')."""
        return {key: _estimate(block[metric]) for key, block in self.results["metrics"]["by"][slice_name].items()}

    @property
    def results_path(self) -> Path:
        return self.run_dir / "results.json"

    @property
    def samples_path(self) -> Path:
        return self.run_dir / "samples.jsonl"
