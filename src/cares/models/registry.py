"""Model specs `provider/name` -> backends. Adding a provider is one module and one `@provider` line;
a third-party package adds one through the `cares.plugins` entry point group (docs/plugins.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cares.errors import ConfigError
from cares.models.base import Model, ModelOptions
from cares.registry import Registry

Factory = Callable[[str, ModelOptions], Model]


@dataclass(frozen=True)
class Provider:
    factory: Factory
    # Whether `--model-arg` settings reach it (it checks their keys itself); False for providers
    # that have nothing to set, so that a setting given to them is refused instead of ignored.
    takes_model_args: bool = True
    # Whether it sends `header.NAME=VALUE` settings (ModelOptions.headers) as HTTP headers.
    takes_headers: bool = False


# Providers live in their own modules and register on import; importing lazily keeps
# `cares --help` fast and lets heavy backends stay optional.
PROVIDERS: Registry[Provider] = Registry("model provider", {
    "openai": "cares.models.openai_api",
    "baseline": "cares.models.baselines",
    "python": "cares.models.python_callable",
    "hf": "cares.models.hf",
    "guard": "cares.guard.wrapper",
})


def provider(name: str, help: str, *, model_args: bool = True, headers: bool = False) -> Callable[[Factory], Factory]:
    """Register `factory(name_after_the_slash, options) -> Model` as provider `name`."""

    def register(factory: Factory) -> Factory:
        PROVIDERS.register(name, Provider(factory, model_args, headers), help)
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


# Providers whose name is followed by another model spec, which is the one that --model-arg sets.
WRAPPERS = frozenset({"guard"})


def get_provider(spec: str) -> Provider:
    """The provider a spec names; a wrapper's (guard/) is that of the model it wraps."""
    name, rest = split_spec(spec)
    found = PROVIDERS.lookup(name, spec)
    return get_provider(rest) if name in WRAPPERS else found


def get_model(spec: str, options: ModelOptions | None = None) -> Model:
    name, rest = split_spec(spec)
    return PROVIDERS.lookup(name, spec).factory(rest, options or ModelOptions())


def describe_providers() -> dict[str, str]:
    return {entry.name: entry.help for entry in sorted(PROVIDERS.entries(), key=lambda e: e.name)}
