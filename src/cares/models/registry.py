"""Model specs `provider/name` -> backends. Adding a provider is one module and one `@provider` line."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from cares.errors import ConfigError
from cares.models.base import Model, ModelOptions

Factory = Callable[[str, ModelOptions], Model]
_PROVIDERS: dict[str, Factory] = {}
_HELP: dict[str, str] = {}

# Providers live in their own modules and register on import; importing lazily keeps
# `cares --help` fast and lets heavy backends stay optional.
_BUILTIN_MODULES = {
    "openai": "cares.models.openai_api",
    "baseline": "cares.models.baselines",
    "python": "cares.models.python_callable",
    "hf": "cares.models.hf",
    "guard": "cares.guard.wrapper",
}


def provider(name: str, help: str) -> Callable[[Factory], Factory]:
    def register(factory: Factory) -> Factory:
        _PROVIDERS[name] = factory
        _HELP[name] = help
        return factory

    return register


def split_spec(spec: str) -> tuple[str, str]:
    name, sep, rest = spec.partition("/")
    if not sep or not name or not rest:
        raise ConfigError(
            f"model spec {spec!r} is not provider/model; e.g. openai/gpt-4o-mini, baseline/refuse, "
            "python/my_module:my_fn"
        )
    return name, rest


def get_model(spec: str, options: ModelOptions | None = None) -> Model:
    name, rest = split_spec(spec)
    if name not in _PROVIDERS and name in _BUILTIN_MODULES:
        importlib.import_module(_BUILTIN_MODULES[name])
    if name not in _PROVIDERS:
        known = ", ".join(sorted(set(_PROVIDERS) | set(_BUILTIN_MODULES)))
        raise ConfigError(f"unknown model provider {name!r} in {spec!r}; known providers: {known}")
    return _PROVIDERS[name](rest, options or ModelOptions())


def describe_providers() -> dict[str, str]:
    for module in _BUILTIN_MODULES.values():
        importlib.import_module(module)
    return dict(sorted(_HELP.items()))
