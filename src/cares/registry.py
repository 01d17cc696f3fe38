"""Named extension points: model providers, benchmarks, judges and toxicity scorers.

Each is one `Registry`. Built-in entries live in their own modules and register when imported;
the registry imports them only when a name is asked for, which keeps `cares --help` fast and
heavy backends optional. Third-party packages add entries through the `cares.plugins` entry
point group: each entry point names a module (importing it registers, e.g. with
`cares.models.registry.provider`) or a callable taking no arguments that does. Plugins load once,
the first time a registry is asked for a name it does not know or for its whole listing.
"""

from __future__ import annotations

import difflib
import importlib
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Generic, TypeVar

from cares.errors import ConfigError

log = logging.getLogger(__name__)

PLUGIN_GROUP = "cares.plugins"
T = TypeVar("T")

_plugins_loaded = False


def load_plugins() -> list[str]:
    """Load every `cares.plugins` entry point once; returns the names of those that failed.

    A plugin that fails to import is logged and left out rather than stopping every command: it
    may be installed for another tool, and asking for its names then says they are unknown."""
    global _plugins_loaded
    if _plugins_loaded:
        return []
    _plugins_loaded = True
    from importlib.metadata import entry_points

    failed = []
    for point in entry_points(group=PLUGIN_GROUP):
        try:
            loaded = point.load()
            if callable(loaded) and not isinstance(loaded, ModuleType):
                loaded()
        except Exception as exc:  # a third party's code: any failure is theirs to report
            failed.append(point.name)
            log.warning("cares plugin %r (%s) failed to load: %s: %s", point.name, point.value,
                        type(exc).__name__, exc)
    return failed


def reset_plugins() -> None:
    """Load the plugins again on the next lookup (after the installed packages changed)."""
    global _plugins_loaded
    _plugins_loaded = False


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    value: T
    help: str
    usage: str  # how a user writes it, e.g. "llm/<model spec>"; the name when it takes nothing more


class Registry(Mapping[str, T]):
    """Names to values of one kind, with lazily imported built-ins, plugins and did-you-mean errors.

    As a Mapping it lists every entry, built-ins and plugins included."""

    def __init__(self, kind: str, builtins: Mapping[str, str] | None = None) -> None:
        self.kind = kind  # what an entry is, in messages: "model provider", "benchmark", ...
        self._builtins = dict(builtins or {})  # name -> the module that registers it
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, value: T, help: str = "", usage: str | None = None) -> T:
        """Add an entry. Registering the same name again with the same object (a module imported
        twice) is harmless; with another object it is an error naming both."""
        known = self._entries.get(name)
        if known is not None and _origin(known.value) != _origin(value):
            raise ConfigError(f"{self.kind} {name!r} is registered twice: by {_origin(known.value)} and by "
                              f"{_origin(value)}; uninstall one of the two packages")
        self._entries[name] = Entry(name, value, help, usage or name)
        return value

    @contextmanager
    def override(self, name: str, value: T) -> Iterator[None]:
        """Within the block, `name` gives `value` instead (tests substituting one backend for another)."""
        before = self.entry(name)
        self._entries[name] = Entry(name, value, before.help, before.usage)
        try:
            yield
        finally:
            self._entries[name] = before

    def add(self, name: str, help: str = "", usage: str | None = None) -> Callable[[T], T]:
        """Decorator form of `register`."""

        def decorate(value: T) -> T:
            return self.register(name, value, help, usage)

        return decorate

    def entry(self, name: str, spec: str | None = None) -> Entry[T]:
        """The entry called `name`; unknown names are a one-line error with the closest known names.
        `spec` is what the user wrote, quoted in that error when it says more than the name."""
        if name not in self._entries and name in self._builtins:
            importlib.import_module(self._builtins[name])
        if name not in self._entries:
            load_plugins()
        if name not in self._entries:
            raise self.unknown(name, spec)
        return self._entries[name]

    def lookup(self, name: str, spec: str | None = None) -> T:
        """The value called `name`, or the one-line error of `entry`."""
        return self.entry(name, spec).value

    def unknown(self, name: str, spec: str | None = None) -> ConfigError:
        entries = sorted(self.entries(), key=lambda e: e.name)
        close = difflib.get_close_matches(name, [e.name for e in entries], n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        where = f" in {spec!r}" if spec and spec != name else ""
        return ConfigError(f"unknown {self.kind} {name!r}{where}{hint} (known: {', '.join(e.usage for e in entries)})")

    def load_all(self) -> None:
        for name, module in self._builtins.items():
            if name not in self._entries:
                importlib.import_module(module)
        load_plugins()

    def names(self) -> list[str]:
        self.load_all()
        return sorted(self._entries)

    def entries(self) -> list[Entry[T]]:
        """Every entry, in the order they were registered (built-ins first, as their modules load)."""
        self.load_all()
        return list(self._entries.values())

    def describe(self) -> dict[str, str]:
        """usage -> help of every entry, sorted by name: what `cares list` shows."""
        return {entry.usage: entry.help for entry in sorted(self.entries(), key=lambda e: e.name)}

    def __getitem__(self, name: str) -> T:
        # The Mapping contract (KeyError), so `in`, `.get()` and dict-style code behave as with a dict.
        try:
            return self.entry(name).value
        except ConfigError:
            raise KeyError(name) from None

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self.entry(name)
        except ConfigError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {sorted(set(self._entries) | set(self._builtins))})"


def _origin(value: object) -> str:
    module = getattr(value, "__module__", None) or type(value).__module__
    qualname = getattr(value, "__qualname__", None) or type(value).__qualname__
    return f"{module}.{qualname}"
