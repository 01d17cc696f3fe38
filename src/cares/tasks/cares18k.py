"""CARES-18K: safety of medical LLMs, judged Accept / Caution / Refuse and scored by harm level."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cares.data import cares18k as dataset
from cares.data.selection import Selection
from cares.errors import ConfigError
from cares.tasks import TASKS
from cares.tasks.base import RunContext, SampleRow, Task
from cares.types import GenerationParams, Item, Request

# The metrics, the judge's validation record and the summary table are imported where they are
# used: a run needs none of them before its last answer (cares.runner.warm readies them meanwhile).
if TYPE_CHECKING:
    from rich.console import RenderableType

    from cares.judges.calibration import Calibration
    from cares.metrics.bootstrap import ClusterBootstrap
    from cares.metrics.safety import JudgedItem


class Cares18KTask(Task):
    name = dataset.BENCHMARK
    overview_title = "overview (95% CIs, clustered by base prompt)"
    description = "CARES-18K: medical LLM safety (Accept / Caution / Refuse, Safety Score by style, level, principle)"
    # No score stage: the judge's labels are all the metrics need.
    score_stage_reads_rows = False

    def __init__(self, options: dict[str, Any] | None = None, context: RunContext | None = None) -> None:
        if options:
            raise ConfigError(f"cares-18k takes no task options (got {', '.join(options)})")
        super().__init__(options, context)
        record = self.context.judge_calibration
        # The run's judge validation record (judges/calibration.py), when one was given.
        self.judge_calibration: Calibration | None = None
        if record:
            from cares.judges.calibration import Calibration

            self.judge_calibration = Calibration.from_meta(record)

    def load(
        self, data: str, split: str, revision: str | None, selection: Selection
    ) -> tuple[list[Item], dataset.DatasetInfo]:
        items, info = dataset.load(data, split=split, revision=revision)
        return selection.apply(items), info

    def requests(self, item: Item, params: GenerationParams) -> dict[str, Request]:
        return {"main": Request.chat(item.prompt, params)}

    def score(self, row: SampleRow) -> float | None:
        if row.excluded is not None or row.judgement is None:
            return None
        from cares.metrics.safety import item_score

        return item_score(int(row.item.metadata["harmful_level"]), row.judgement.label)

    def metrics(self, rows: list[SampleRow], resamples: int, seed: int) -> dict[str, Any]:
        from cares.metrics.safety import JudgedItem, safety_metrics

        judged = [
            JudgedItem(
                id=row.item.id,
                group=row.item.group,
                level=int(row.item.metadata["harmful_level"]),
                method=str(row.item.metadata["method"]),
                principle=int(row.item.metadata["principle_index"]),
                label=row.judgement.label if row.judgement is not None else None,
                excluded=row.excluded,
                guard=(row.response.meta or {}).get("guard") if row.response is not None else None,
            )
            for row in rows
        ]
        boot = _bootstrap([row.item.group for row in rows], resamples, seed)
        metrics = safety_metrics(judged, boot)
        if self.judge_calibration is not None:
            metrics["judge_error"] = self._judge_error(judged, boot)
        return metrics

    def ready_metrics(self, groups: list[str], resamples: int, seed: int) -> None:
        # The bootstrap's weights depend on the clusters alone, and drawing them (numpy's generator and
        # bincount, which mostly release the GIL) is much of the metrics' time: drawn while the answers come in.
        _prepared.clear()
        key = _bootstrap_key(groups, resamples, seed)
        if resamples * len(key[0]) * 8 > AHEAD_MAX_BYTES:
            return
        _prepared[key] = _new_bootstrap(groups, resamples, seed)

    def _judge_error(self, judged: list[JudgedItem], boot: ClusterBootstrap) -> dict[str, Any]:
        """The Safety Score corrected for the judge's misclassification rates on its validation set."""
        from cares.metrics.judge_calibration import corrected_safety

        calibration = self.judge_calibration
        assert calibration is not None
        scored = [it for it in judged if it.excluded is None and it.label is not None]
        # Every label in `scored` is set; the list comprehension's filter is lost on mypy.
        corrected = corrected_safety([it.level for it in scored], [it.label for it in scored],  # type: ignore[misc]
                                     [it.group for it in scored], calibration.confusion, boot)
        return {"validation": {"judge": calibration.judge, "source": calibration.source, **calibration.summary},
                **corrected}

    def summary(self, results: dict[str, Any]) -> RenderableType:
        from rich.console import Group
        from rich.table import Table

        from cares.metrics.safety import CARES18K_SLICES

        metrics = results["metrics"]
        overall = metrics["overall"]
        title = f"CARES-18K  {results['model']['spec']}  judge={results['judge']}"
        table = Table(title=title, title_justify="left", show_lines=False)
        for column in ("slice", "n", "Safety Score [95% CI]", "Accept", "Caution", "Refuse", "failed", "unparsed"):
            table.add_column(column, justify="left" if column == "slice" else "right", no_wrap=True)

        def add(name: str, block: dict[str, Any], style: str | None = None) -> None:
            table.add_row(
                name,
                str(block["n_scored"]),
                fmt_ci(block["safety_score"]),
                fmt_pct(block["accept_rate"]["value"]),
                fmt_pct(block["caution_rate"]["value"]),
                fmt_pct(block["refuse_rate"]["value"]),
                str(block["n_failed"]),
                str(block["n_unparsed"]),
                style=style,
            )

        add("overall", overall, style="bold")
        for cut in CARES18K_SLICES:
            group = cut.key
            table.add_section()
            for key, block in metrics["by"][group].items():
                name = f"{cut.label} {key}"
                if group == "harmful_level":
                    name += f" {dataset.HARM_LEVELS.get(int(key), '')}"
                if group == "principle_index":
                    name += f" {dataset.PRINCIPLE_SHORT.get(int(key), '')}"
                add(name, block)
        extra = Table.grid(padding=(0, 2))
        extra.add_row(
            "over-refusal (level 0 not accepted)", fmt_ci(overall["over_refusal"]), f"n={overall['over_refusal']['n']}"
        )
        extra.add_row(
            "harmful compliance (level >= 2 accepted)",
            fmt_ci(overall["harmful_compliance"]),
            f"n={overall['harmful_compliance']['n']}",
        )
        error = metrics.get("judge_error")
        if error:
            validation = error["validation"]
            extra.add_row("Safety Score corrected for judge error", fmt_ci(error["corrected"]),
                          f"judge validated on n={validation['n']}: agreement {fmt_value(validation['agreement'])}, "
                          f"kappa {fmt_value(validation['kappa'])}")
        cascade = results.get("judge_cascade")
        if cascade and cascade.get("share_sent_to_llm") is not None:
            extra.add_row("cascade: answers sent to the LLM judge", fmt_pct(cascade["share_sent_to_llm"]),
                          f"{cascade['sent_to_llm']} of {cascade['sent_to_llm'] + cascade['labelled_by_rules']}")
        guard = overall.get("guard")
        if guard:
            extra.add_row("guard: prompts flagged / reminder applied",
                          f"{guard['flagged']} / {guard['reminder_applied']}", f"of {guard['n_decided']}")
        return Group(table, extra)

    def overview_row(self, results: dict[str, Any]) -> dict[str, str]:
        overall = results["metrics"]["overall"]
        error = results["metrics"].get("judge_error")
        return {
            "model": results["model"]["spec"],
            "n": str(overall["n_scored"]),
            "Safety Score [95% CI]": fmt_ci(overall["safety_score"]),
            "corrected for judge error": fmt_ci(error["corrected"]) if error else "-",
            "over-refusal": fmt_ci(overall["over_refusal"]),
            "harmful compliance": fmt_ci(overall["harmful_compliance"]),
            "failed": str(overall["n_failed"]),
            "unparsed": str(overall["n_unparsed"]),
        }


# At most one bootstrap drawn ahead by `ready_metrics`, handed over (and dropped from here) by `_bootstrap`.
# Only a weight matrix of at most this size is drawn ahead: held from the request phase on, a larger
# one (120 MB for 15,000 clusters) raised the peak RSS of the 60,000-item run from 383 to 397 MB.
AHEAD_MAX_BYTES = 80 * 2**20
_prepared: dict[tuple[tuple[str, ...], int, int], ClusterBootstrap] = {}


def _bootstrap_key(groups: list[str], resamples: int, seed: int) -> tuple[tuple[str, ...], int, int]:
    # What ClusterBootstrap's draws depend on: the sorted distinct clusters, the resamples and the seed.
    return tuple(sorted(set(groups))), resamples, seed


def _new_bootstrap(groups: list[str], resamples: int, seed: int) -> ClusterBootstrap:
    from cares.metrics.bootstrap import ClusterBootstrap

    return ClusterBootstrap(groups, resamples=resamples, seed=seed)


def _bootstrap(groups: list[str], resamples: int, seed: int) -> ClusterBootstrap:
    """The bootstrap of these clusters: the one drawn ahead where it is of the same clusters, resamples
    and seed (the same draws), else drawn now."""
    ready = _prepared.pop(_bootstrap_key(groups, resamples, seed), None)
    return ready if ready is not None else _new_bootstrap(groups, resamples, seed)


def fmt_pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def fmt_value(block: dict[str, Any]) -> str:
    """A 0-1 statistic (agreement, kappa) with its CI, as a decimal."""
    value = block.get("value")
    if value is None:
        return "-"
    low, high = block.get("ci") or (None, None)
    return f"{value:.2f}" if low is None else f"{value:.2f} [{low:.2f}, {high:.2f}]"


def fmt_ci(block: dict[str, Any]) -> str:
    value = block["value"]
    if value is None:
        return "-"
    low, high = block["ci"]
    if low is None:
        return f"{100 * value:.1f}"
    return f"{100 * value:.1f} [{100 * low:.1f}, {100 * high:.1f}]"


TASKS.register(Cares18KTask.name, Cares18KTask, Cares18KTask.description)
