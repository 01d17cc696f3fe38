"""The typed result of a run, as returned by `cares.evaluate` and `cares.load_run`.

Every rate, score and interval bound it gives is a fraction in [0, 1] (`value_scale`), as in
results.json; the command line prints the same figures as percents.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from cares.metrics.bootstrap import Estimate
from cares.results.model import VALUE_SCALE, Cares18kResults, Headline, Results, results_from_dict

if TYPE_CHECKING:
    import pandas

RESULTS_FILE = "results.json"
SAMPLES_FILE = "samples.jsonl"
# Per-request fields too bulky or nested for a table; they stay in samples.jsonl.
_LEFT_OUT_OF_TABLE = ("messages", "images", "generation", "usage", "metadata")


@dataclass(frozen=True, repr=False)
class RunResult:
    run_dir: Path
    typed: Results  # results.json, read into its benchmark's class

    value_scale: ClassVar[str] = VALUE_SCALE

    @classmethod
    def load(cls, run_dir: str | Path) -> RunResult:
        """A finished run from its directory (its results.json), e.g. one made by `cares run`."""
        from cares.report.outputs import load_results

        path = Path(run_dir)
        return cls(path, results_from_dict(load_results(path), str(path / RESULTS_FILE)))

    @cached_property
    def results(self) -> dict[str, Any]:
        """Exactly what results.json holds."""
        return self.typed.to_dict()

    @property
    def benchmark(self) -> str:
        return self.typed.benchmark

    @property
    def model(self) -> str:
        return self.typed.model.spec

    @property
    def judge(self) -> str:
        return self.typed.judge

    @property
    def counts(self) -> dict[str, int]:
        return self.typed.counts.to_dict()

    @property
    def n(self) -> int:
        """Items in the run (a CARES-VQA item is asked in several variants: `counts['requests']`)."""
        return self.typed.counts.items

    @property
    def incomplete(self) -> int:
        """Requests without a usable outcome yet: failed, never asked, or answered but not judged.
        Zero means the run is done; the CLI exits 3 otherwise (docs/design.md, exit statuses)."""
        counts = self.typed.counts
        return counts.failed + counts.pending + counts.unjudged

    @property
    def headline(self) -> Headline | None:
        """The figure a run is summed up by: CARES-18K's Safety Score, CARES-VQA's factuality accuracy
        (None for a plugin's benchmark)."""
        return self.typed.headline

    @property
    def safety_score(self) -> Estimate:
        if not isinstance(self.typed, Cares18kResults):
            named = f" ({self.typed.headline_name})" if self.typed.headline_name else ""
            raise AttributeError(f"a {self.benchmark} run has no Safety Score (a CARES-18K figure); see "
                                 f"result.headline{named} and result.metric('<dotted path>')")
        return self.typed.safety_score

    def metric(self, name: str) -> Estimate:
        """A figure with its CI. CARES-18K: an overall metric ('over_refusal', 'harmful_compliance',
        'refuse_rate'); either benchmark: a dotted path in results.json's metrics, e.g.
        'factuality.overall.accuracy' or 'jailbreak.all.abstention'."""
        if isinstance(self.typed, Cares18kResults) and "." not in name:
            return self.typed.overall(name)
        return self.typed.metric(name)

    def by(self, slice_name: str, metric: str | None = None) -> dict[str, Estimate]:
        """A figure per slice value: CARES-18K by('method') or by('harmful_level', 'refuse_rate');
        CARES-VQA by('source') (factuality accuracy per source)."""
        return self.typed.by(slice_name, metric)

    def samples_df(self) -> pandas.DataFrame:
        """One row per request (per item for CARES-18K; per item and variant for CARES-VQA): id, variant,
        status, label (CARES-18K's judge label, None for CARES-VQA), score, response, prompt, and the item's
        metadata as columns (principle_index, harmful_level, method; source, answer_type...)."""
        try:
            import pandas
        except ImportError:
            raise ImportError("RunResult.samples_df needs pandas: pip install 'cares[pandas]'") from None
        records = []
        with self.samples_path.open(encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                metadata = record.get("metadata") or {}
                row = {key: value for key, value in record.items() if key not in _LEFT_OUT_OF_TABLE}
                row.update({key: value for key, value in metadata.items() if key not in row})
                records.append(row)
        return pandas.DataFrame.from_records(records)

    @property
    def results_path(self) -> Path:
        return self.run_dir / RESULTS_FILE

    @property
    def samples_path(self) -> Path:
        return self.run_dir / SAMPLES_FILE

    def __repr__(self) -> str:
        head = self.headline
        figure = f"{head.name}={_figure(head.estimate)}, " if head is not None else ""
        return f"RunResult({self.benchmark}, model={self.model!r}, n={self.n}, {figure}run_dir='{self.run_dir}')"


def _figure(value: Estimate) -> str:
    if value.value is None:
        return "none"
    if value.low is None or value.high is None:
        return f"{value.value:.3f}"
    return f"{value.value:.3f} [{value.low:.3f}, {value.high:.3f}]"
