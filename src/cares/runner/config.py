"""A run's configuration: what is stored with the run and checked again on resume."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cares.checks import whole
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
        whole("RunConfig.seed", self.seed, minimum=0)
        whole("RunConfig.bootstrap", self.bootstrap, minimum=0)

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


def check_resumable(stored: dict[str, Any], current: RunConfig, run_dir: Path) -> None:
    mine = current.identity()
    theirs = RunConfig.from_dict(stored).identity()
    for key in _IDENTITY_FIELDS:
        if mine[key] != theirs[key]:
            raise ConfigError(
                f"{run_dir} holds a run with a different {key} ({theirs[key]!r}, now {mine[key]!r}); "
                "pick another --run-dir, or use `cares resume` to continue that run as it was"
            )
