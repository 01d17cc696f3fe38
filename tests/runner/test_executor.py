"""How the Ray executor lays out its actors, and what a worker is told about a model (no Ray needed)."""

from __future__ import annotations

import pickle

import pytest

from cares.errors import ConfigError
from cares.models.base import ModelOptions
from cares.models.registry import get_model
from cares.runner.engine import EngineOptions
from cares.runner.executor import ExecutorOptions, ModelRecipe
from cares.runner.ray_executor import plan


class LocalModel:
    spec = "hf/tiny"
    runs_locally = True
    preferred_concurrency = 32


def test_api_workers_share_the_concurrency_budget() -> None:
    api = get_model("baseline/refuse")
    layout = plan(api, EngineOptions(concurrency=70), {"CPU": 64.0}, pending=10_000)
    assert layout.workers == 8 and sum(layout.slots) == 70 and max(layout.slots) - min(layout.slots) <= 1
    assert layout.gpus == 0
    small = plan(
        api, EngineOptions(concurrency=8, executor=ExecutorOptions(kind="ray", ray_workers=3)), {"CPU": 2.0}, 1000
    )
    assert small.slots == [3, 3, 2]
    # Little work, few workers: an actor costs a process start.
    assert plan(api, EngineOptions(concurrency=64), {"CPU": 64.0}, pending=20).slots == [22, 21, 21]


def test_local_model_actors_take_one_gpu_each_with_their_own_budget() -> None:
    layout = plan(LocalModel(), EngineOptions(), {"CPU": 96.0, "GPU": 8.0}, pending=10_000)
    assert (layout.workers, layout.gpus, layout.slots) == (8, 1.0, [32] * 8)
    halves = EngineOptions(executor=ExecutorOptions(kind="ray", gpus_per_worker=0.5))
    assert plan(LocalModel(), halves, {"GPU": 2.0}, 10_000).workers == 4
    cpu_only = plan(LocalModel(), EngineOptions(), {"CPU": 2.0}, pending=10_000)
    assert (cpu_only.workers, cpu_only.gpus) == (1, 0.0)
    assert plan(LocalModel(), EngineOptions(), {"GPU": 8.0}, pending=40).workers == 2


def test_a_recipe_carries_the_key_variable_name_never_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-never-in-actor-args"
    recipe = ModelRecipe.of("openai/fake", ModelOptions(base_url="http://127.0.0.1:9/v1", api_key=secret), "MY_KEY")
    assert secret.encode() not in pickle.dumps(recipe)
    monkeypatch.setenv("MY_KEY", secret)
    assert recipe.build()._secret == secret


def test_executor_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="--ray-workers must be at least 1"):
        ExecutorOptions(kind="ray", ray_workers=0)
    with pytest.raises(ConfigError, match="choose from local, ray"):
        ExecutorOptions(kind="dask")
