"""A run's configuration: what is stored with the run and checked again on resume."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cares.checks import InvalidSetting, choice, number, text, whole
from cares.data.selection import Selection
from cares.errors import ConfigError
from cares.types import GenerationParams, content_hash

# Changing any of these changes which answers the run holds, so they must match on resume.
# The judge and the bootstrap settings may change: that is what `cares rescore` is for.
_IDENTITY_FIELDS = ("benchmark", "model", "data", "split", "revision", "selection", "params", "task_options")


@dataclass(frozen=True)
class RunConfig:
    benchmark: str
    model: str
    data: str = "sample"
    split: str = "test"
    revision: str | None = None
    selection: Selection = field(default_factory=Selection)
    params: GenerationParams = field(default_factory=GenerationParams)
    judge: str = "rules"
    seed: int = 0
    bootstrap: int = 1000
    # Benchmark-specific settings that change what is asked (CARES-VQA: tasks, sources, noise).
    task_options: dict[str, Any] = field(default_factory=dict)
    # How answers are scored after the fact (CARES-VQA toxicity); like the judge, may change on resume.
    scorers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from cares.tasks import TASKS  # the registry imports every task; only needed once a config is made

        if self.benchmark not in TASKS:  # a known name imports its own module only, not every task's
            choice("RunConfig.benchmark", self.benchmark, tuple(sorted(TASKS)))
        text("RunConfig.model", self.model)
        text("RunConfig.data", self.data)
        text("RunConfig.judge", self.judge)
        whole("RunConfig.seed", self.seed, minimum=0)
        whole("RunConfig.bootstrap", self.bootstrap, minimum=0)
        if self.benchmark != "cares-vqa" and self.task_options:
            raise InvalidSetting("RunConfig.task_options", self.task_options, "only cares-vqa takes task options")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["selection"] = self.selection.to_dict()
        data["params"] = self.params.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        data = dict(data)
        selection = dict(data.pop("selection"))
        for key in ("principles", "levels", "methods", "strata"):
            selection[key] = tuple(selection.get(key, ()))
        data.setdefault("task_options", {})
        data.setdefault("scorers", {})
        return cls(selection=Selection(**selection), params=GenerationParams.from_dict(data.pop("params")), **data)

    def identity(self) -> dict[str, Any]:
        full = self.to_dict()
        return {key: full[key] for key in _IDENTITY_FIELDS}

    def default_run_dir(self, root: str | Path = "runs", salt: dict[str, Any] | None = None) -> Path:
        """`salt`: settings outside this config that change the answers (a guard's), hashed in too."""
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", self.model).strip("_")[:60]
        identity = self.identity() if not salt else {**self.identity(), "salt": salt}
        return Path(root) / self.benchmark / f"{slug}-{content_hash(identity, 8)}"


@dataclass(frozen=True)
class VqaOptions:
    """CARES-VQA settings that change what is asked, checked here for the CLI and the API alike."""

    tasks: tuple[str, ...] = ()  # dimensions or single variants, e.g. ("factuality", "jailbreak:conceal"); () all
    sources: tuple[str, ...] = ()  # () every source
    no_images: bool = False
    noise_sigma: float | None = None  # None: the benchmark's sqrt(6) on the 0-255 scale
    noise_seed: int = 0
    protocol: str = "cares"  # or "upstream": the public code's prompts, readers and noise
    join: tuple[tuple[str, str], ...] = ()  # (source, CSV path) adding age, gender and race by question_id

    def __post_init__(self) -> None:
        from cares.tasks.vqa.variants import select_variants

        choice("VqaOptions.protocol", self.protocol, ("cares", "upstream"))
        if self.protocol == "upstream" and self.noise_sigma is not None:
            raise InvalidSetting("VqaOptions.noise_sigma", self.noise_sigma, "the upstream protocol adds the public "
                                 "code's noise (variance 6, cast to uint8); drop one of the two")
        if self.noise_sigma is not None:
            # NaN and infinity included: they would fail every noisy image.
            number("VqaOptions.noise_sigma", self.noise_sigma, minimum=0)
        whole("VqaOptions.noise_seed", self.noise_seed, minimum=0)
        try:
            select_variants(tuple(self.tasks))  # an unknown task name fails before anything is loaded
        except ConfigError as exc:
            raise InvalidSetting("VqaOptions.tasks", self.tasks, str(exc).removeprefix("--tasks: ")) from None
        for source, path in self.join:
            if not Path(path).is_file():
                raise InvalidSetting("VqaOptions.join", f"{source}={path}", "expected SOURCE=CSV with an existing file")

    def task_options(self) -> dict[str, Any]:
        from cares.tasks.vqa.task import DEFAULT_NOISE_SIGMA

        return {
            "tasks": sorted(self.tasks),
            "sources": sorted(self.sources),
            "no_images": bool(self.no_images),
            "noise_sigma": DEFAULT_NOISE_SIGMA if self.noise_sigma is None else self.noise_sigma,
            "noise_seed": self.noise_seed,
            "join": {source: str(Path(path).resolve()) for source, path in self.join},
            # Only when not the default, so that runs made before protocols existed keep their identity.
            **({"protocol": self.protocol} if self.protocol == "upstream" else {}),
        }


def check_resumable(stored: dict[str, Any], current: RunConfig, run_dir: Path) -> None:
    mine = current.identity()
    theirs = RunConfig.from_dict(stored).identity()
    for key in _IDENTITY_FIELDS:
        if mine[key] != theirs[key]:
            raise ConfigError(
                f"{run_dir} holds a run with a different {key} ({theirs[key]!r}, now {mine[key]!r}); "
                "pick another --run-dir, or use `cares resume` to continue that run as it was"
            )
