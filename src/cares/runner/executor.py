"""Where the model calls of a stage run: in this process (local), or spread over a Ray cluster.

The choice never changes the answers: both executors run the same retry loop per request, and
only this process writes the run store, so resume and rescore see one store either way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from cares.checks import number
from cares.errors import ConfigError
from cares.models.base import ModelOptions

EXECUTORS = ("local", "ray")
RAY_MISSING = "--executor ray needs Ray, which is not installed; install the extra: pip install 'cares[ray]'"


@dataclass(frozen=True)
class ExecutorOptions:
    kind: str = "local"  # local | ray
    ray_address: str | None = None  # None: RAY_ADDRESS, else a new Ray instance on this machine
    ray_workers: int | None = None  # None: from the cluster's CPUs (API models) or GPUs (hf/ models)
    gpus_per_worker: float | None = None  # hf/ actors; None: 1 on a cluster with GPUs, else 0
    # Names of the environment variables that hold the keys: workers read them from their own
    # environment, so a key never travels in an actor's arguments (which Ray may log or persist).
    model_key_env: str | None = "OPENAI_API_KEY"
    judge_key_env: str | None = "OPENAI_API_KEY"

    def __post_init__(self) -> None:
        if self.kind not in EXECUTORS:
            raise ConfigError(f"--executor {self.kind!r}: choose from {', '.join(EXECUTORS)}")
        if self.ray_workers is not None and self.ray_workers < 1:
            raise ConfigError("--ray-workers must be at least 1")
        if self.gpus_per_worker is not None:
            number("ExecutorOptions.gpus_per_worker", self.gpus_per_worker, minimum=0)


@dataclass(frozen=True)
class ModelRecipe:
    """How a worker builds its own copy of a model: the spec and the options, without the API key."""

    spec: str
    options: ModelOptions
    key_env: str | None = None

    @classmethod
    def of(cls, spec: str, options: ModelOptions, key_env: str | None) -> ModelRecipe:
        return cls(spec, replace(options, api_key=None), key_env)

    def build(self) -> Any:
        from cares.models.registry import get_model

        key = os.environ.get(self.key_env) if self.key_env else None
        return get_model(self.spec, replace(self.options, api_key=key))


def require_ray() -> Any:
    """The ray module, or a one-line error naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise ConfigError(RAY_MISSING) from None
    return ray
