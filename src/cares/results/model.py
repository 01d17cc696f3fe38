"""The typed content of results.json: one dataclass per benchmark over a shared base.

results.json is written from these objects and read back into them, so the file, `cares show --json`
and the Python API agree by construction. Every rate, score and interval bound is a fraction in
[0, 1] (`VALUE_SCALE`); only the terminal tables print them as percents. Metrics stay the nested
mapping each benchmark's metrics module builds (its shape is pinned by the JSON Schema beside this
module); the typed accessors below read the figures people ask for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar

from cares.errors import ConfigError
from cares.metrics.bootstrap import Estimate

# Bumped when a key changes name or meaning; a reader refuses a file from a newer major version.
# Files written before the version existed have none and read as version 0 (the same keys).
SCHEMA_VERSION = 1
VALUE_SCALE = "fraction"


def estimate(block: Any, where: str) -> Estimate:
    """An {"value", "ci": [low, high], "n"} block as an Estimate."""
    if not isinstance(block, dict) or "value" not in block:
        raise KeyError(f"{where} is not a figure with a confidence interval")
    low, high = block.get("ci") or (None, None)
    return Estimate(block["value"], low, high, int(block.get("n", 0)))


@dataclass(frozen=True)
class ModelInfo:
    spec: str
    identity: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "identity": self.identity}


@dataclass(frozen=True)
class Counts:
    """What a run holds, per request (an item asked in several variants counts once per variant)."""

    items: int
    requests: int
    answered: int
    failed: int
    pending: int
    unparsed: int
    unjudged: int
    scored: int
    # CARES-VQA reads answers itself: its readers' unparsed count per variant (None for CARES-18K).
    unparsed_by_variant: dict[str, int] | None = None
    skipped_items: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "items": self.items, "requests": self.requests, "answered": self.answered, "failed": self.failed,
            "pending": self.pending, "unparsed": self.unparsed, "unjudged": self.unjudged,
        }
        if self.unparsed_by_variant is not None:
            data["unparsed_by_variant"] = dict(self.unparsed_by_variant)
        data["scored"] = self.scored
        if self.skipped_items:
            data["skipped_items"] = self.skipped_items
            data["skipped_by_reason"] = dict(self.skipped_by_reason)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Counts:
        return cls(
            items=int(data["items"]), requests=int(data.get("requests", data["items"])),
            answered=int(data.get("answered", 0)), failed=int(data.get("failed", 0)),
            pending=int(data.get("pending", 0)), unparsed=int(data.get("unparsed", 0)),
            unjudged=int(data.get("unjudged", 0)), scored=int(data.get("scored", 0)),
            unparsed_by_variant=data.get("unparsed_by_variant"),
            skipped_items=int(data.get("skipped_items", 0)),
            skipped_by_reason=dict(data.get("skipped_by_reason") or {}),
        )


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    attempts: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "attempts": self.attempts}


@dataclass(frozen=True)
class Invocation:
    """What the command that wrote the file did; an export or rescore asks no model and reuses nothing."""

    requested: int = 0
    newly_answered: int = 0
    newly_failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    judge_calls: int = 0
    judge_failed: int = 0
    judge_errors: dict[str, int] = field(default_factory=dict)
    # Where answers came from; None when this invocation asked no model (rescore, export).
    reused_from_run_dir: int | None = None
    reused_from_cache: int = 0
    answer_cache: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "requested": self.requested, "newly_answered": self.newly_answered, "newly_failed": self.newly_failed,
            "errors": dict(self.errors), "judge_calls": self.judge_calls,
        }
        if self.reused_from_run_dir is not None:
            data.update(reused_from_run_dir=self.reused_from_run_dir, reused_from_cache=self.reused_from_cache,
                        answer_cache=self.answer_cache)
        data.update(judge_failed=self.judge_failed, judge_errors=dict(self.judge_errors))
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Invocation:
        return cls(
            requested=int(data.get("requested", 0)), newly_answered=int(data.get("newly_answered", 0)),
            newly_failed=int(data.get("newly_failed", 0)), errors=dict(data.get("errors") or {}),
            judge_calls=int(data.get("judge_calls", 0)), judge_failed=int(data.get("judge_failed", 0)),
            judge_errors=dict(data.get("judge_errors") or {}),
            reused_from_run_dir=data.get("reused_from_run_dir"),
            reused_from_cache=int(data.get("reused_from_cache", 0)), answer_cache=data.get("answer_cache"),
        )


@dataclass(frozen=True)
class Headline:
    """The one figure a run is summed up by, with its interval."""

    name: str
    estimate: Estimate


@dataclass(frozen=True)
class Results:
    """results.json of one run. Use `results_from_dict` to read one: it picks the benchmark's class."""

    benchmark: ClassVar[str]
    headline_name: ClassVar[str]

    cares_version: str
    model: ModelInfo
    judge: str
    counts: Counts
    metrics: dict[str, Any]
    judges_available: list[str] = field(default_factory=list)
    judge_cascade: dict[str, Any] | None = None
    dataset: dict[str, Any] | None = None
    selection: dict[str, Any] = field(default_factory=dict)
    generation: dict[str, Any] = field(default_factory=dict)
    task_options: dict[str, Any] = field(default_factory=dict)
    scorers: dict[str, str] = field(default_factory=dict)
    seed: int = 0
    usage: Usage = field(default_factory=Usage)
    this_invocation: Invocation = field(default_factory=Invocation)
    notes: list[str] = field(default_factory=list)
    created_at: str | None = None
    updated_at: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    @property
    def headline(self) -> Headline | None:
        raise NotImplementedError  # each benchmark's class names its own

    def by(self, slice_name: str, metric: str | None = None) -> dict[str, Estimate]:
        """A figure per value of a slice; each benchmark's class says which slices it has."""
        raise NotImplementedError

    def metric(self, name: str) -> Estimate:
        """A figure by its dotted path in `metrics`, e.g. 'overall.over_refusal' or 'jailbreak.all.abstention'."""
        node: Any = self.metrics
        for part in name.split("."):
            if not isinstance(node, dict) or part not in node:
                raise KeyError(f"{self.benchmark} results have no metric {name!r}")
            node = node[part]
        return estimate(node, f"{self.benchmark} metric {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """The results.json mapping; the keys and their meaning are those of schema_version."""
        return {
            "schema_version": self.schema_version,
            "value_scale": VALUE_SCALE,
            "cares_version": self.cares_version,
            "benchmark": self.benchmark,
            "model": self.model.to_dict(),
            "judge": self.judge,
            "judges_available": list(self.judges_available),
            "judge_cascade": self.judge_cascade,
            "dataset": self.dataset,
            "selection": self.selection,
            "generation": self.generation,
            "task_options": self.task_options,
            "scorers": self.scorers,
            "seed": self.seed,
            "counts": self.counts.to_dict(),
            "metrics": self.metrics,
            "usage": self.usage.to_dict(),
            "this_invocation": self.this_invocation.to_dict(),
            "notes": list(self.notes),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "timings": dict(self.timings),
        }


@dataclass(frozen=True)
class Cares18kResults(Results):
    """CARES-18K: every answer judged Accept, Caution or Refuse, combined into the Safety Score."""

    benchmark: ClassVar[str] = "cares-18k"
    headline_name: ClassVar[str] = "safety_score"

    @property
    def headline(self) -> Headline:
        return Headline(self.headline_name, self.safety_score)

    @property
    def safety_score(self) -> Estimate:
        return self.metric("overall.safety_score")

    def overall(self, name: str) -> Estimate:
        """An overall figure, e.g. 'over_refusal', 'harmful_compliance', 'refuse_rate'."""
        return self.metric(f"overall.{name}")

    def by(self, slice_name: str, metric: str | None = None) -> dict[str, Estimate]:
        """A figure (default the Safety Score) per slice value: 'method', 'harmful_level', 'principle_index'."""
        metric = metric or "safety_score"
        slices = self.metrics.get("by") or {}
        if slice_name not in slices:
            raise KeyError(f"cares-18k results have no slice {slice_name!r}; they have {', '.join(slices) or 'none'}")
        return {
            key: estimate(block.get(metric), f"{slice_name}={key} {metric}")
            for key, block in slices[slice_name].items()
        }


@dataclass(frozen=True)
class CaresVqaResults(Results):
    """CARES-VQA: trustfulness, fairness, safety, privacy and robustness of a vision-language model."""

    benchmark: ClassVar[str] = "cares-vqa"
    headline_name: ClassVar[str] = "factuality_accuracy"

    @property
    def headline(self) -> Headline:
        return Headline(self.headline_name, self.metric("factuality.overall.accuracy"))

    def by(self, slice_name: str, metric: str | None = None) -> dict[str, Estimate]:
        """Factuality (default its accuracy) per source; fairness groups are in metrics['fairness']."""
        metric = metric or "accuracy"
        if slice_name != "source":
            raise KeyError(f"cares-vqa results are sliced by 'source', not {slice_name!r} "
                           "(fairness groups: metric('fairness.<attribute>...'))")
        blocks = (self.metrics.get("factuality") or {}).get("by_source") or {}
        return {key: estimate(block.get(metric), f"source={key} {metric}") for key, block in blocks.items()}


@dataclass(frozen=True)
class PluginResults(Results):
    """A benchmark a plugin registers: its metrics as its task builds them, read by dotted path."""

    benchmark: ClassVar[str] = ""
    headline_name: ClassVar[str] = ""

    @property
    def headline(self) -> Headline | None:
        return None  # nothing here knows which of a plugin's figures sums it up

    def by(self, slice_name: str, metric: str | None = None) -> dict[str, Estimate]:
        raise KeyError(f"{self.benchmark} results have no slices known here; read them with metric('<dotted path>')")


RESULT_TYPES: dict[str, type[Results]] = {cls.benchmark: cls for cls in (Cares18kResults, CaresVqaResults)}


@cache
def _plugin_type(benchmark: str) -> type[Results]:
    # One class per benchmark, so that results of the same plugin benchmark compare equal.
    return type(f"PluginResults[{benchmark}]", (PluginResults,), {"benchmark": benchmark})


def results_type(benchmark: str) -> type[Results]:
    """The typed results of `benchmark`: CARES-18K's and CARES-VQA's own classes, a plugin's the generic one."""
    return RESULT_TYPES.get(benchmark) or _plugin_type(benchmark)


def results_from_dict(data: dict[str, Any], where: str = "results") -> Results:
    """Read a results.json mapping into its benchmark's class; one-line errors for what cannot be read."""
    version = data.get("schema_version", 0)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise ConfigError(f"{where}: schema_version {version!r} is newer than this cares reads ({SCHEMA_VERSION}); "
                          "upgrade cares")
    scale = data.get("value_scale", VALUE_SCALE)
    if scale != VALUE_SCALE:
        raise ConfigError(f"{where}: value_scale {scale!r}; this cares reads {VALUE_SCALE!r} results")
    benchmark = data.get("benchmark")
    if not isinstance(benchmark, str) or not benchmark:
        raise ConfigError(f"{where}: no benchmark named (benchmark {benchmark!r})")
    try:
        model = data.get("model") or {}
        return results_type(benchmark)(
            cares_version=str(data.get("cares_version", "unknown")),
            model=ModelInfo(str(model.get("spec")), model.get("identity")),
            judge=str(data.get("judge")),
            counts=Counts.from_dict(data["counts"]),
            metrics=dict(data["metrics"]),
            judges_available=list(data.get("judges_available") or []),
            judge_cascade=data.get("judge_cascade"),
            dataset=data.get("dataset"),
            selection=dict(data.get("selection") or {}),
            generation=dict(data.get("generation") or {}),
            task_options=dict(data.get("task_options") or {}),
            scorers=dict(data.get("scorers") or {}),
            seed=int(data.get("seed", 0)),
            usage=Usage(**{k: int(v) for k, v in (data.get("usage") or {}).items()}),
            this_invocation=Invocation.from_dict(data.get("this_invocation") or {}),
            notes=list(data.get("notes") or []),
            created_at=data.get("created_at"),
            updated_at=data.get("updated_at"),
            timings=dict(data.get("timings") or {}),
            schema_version=SCHEMA_VERSION if version == 0 else version,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: not a cares results file ({type(exc).__name__}: {exc})") from None
