"""Checks of numeric and URL settings, shared by the configuration objects and so by the CLI and the API.

A value that cannot work (a NaN temperature, a zero timeout, a URL without a host) is refused when
the setting is made, as an `InvalidSetting` naming it, instead of failing every request of a run.
"""

from __future__ import annotations

import math
import numbers
from urllib.parse import urlsplit

from cares.errors import ConfigError


class InvalidSetting(ConfigError, ValueError):
    """A setting whose value cannot work. `setting` is its name in the configuration object; the CLI
    names the option it came from instead. A ValueError too, which is what Python callers of the API
    expect from a bad argument."""

    def __init__(self, setting: str, value: object, problem: str) -> None:
        self.setting = setting
        self.value = value
        self.problem = problem
        super().__init__(self.render(setting))

    def render(self, name: str) -> str:
        return f"{name} {self.value!r}: {self.problem}"


def number(setting: str, value: object, *, minimum: float | None = None, above: float | None = None,
           maximum: float | None = None) -> float:
    """`value` as a finite float within the bounds (`minimum` inclusive, `above` exclusive, `maximum` inclusive)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidSetting(setting, value, "expected a number")
    result = float(value)
    if not math.isfinite(result):
        raise InvalidSetting(setting, value, "expected a finite number")
    if minimum is not None and result < minimum:
        raise InvalidSetting(setting, value, f"must be {minimum:g} or more")
    if above is not None and result <= above:
        raise InvalidSetting(setting, value, f"must be more than {above:g}")
    if maximum is not None and result > maximum:
        raise InvalidSetting(setting, value, f"must be {maximum:g} or less")
    return result


def whole(setting: str, value: object, *, minimum: int | None = None) -> int:
    """`value` as an int of at least `minimum`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidSetting(setting, value, "expected a whole number")
    if minimum is not None and value < minimum:
        raise InvalidSetting(setting, value, f"must be {minimum} or more")
    return int(value)


def http_url(setting: str, value: object) -> str:
    """`value` as an http(s) URL with a host, e.g. http://localhost:8000/v1."""
    if not isinstance(value, str):
        raise InvalidSetting(setting, value, "expected an http:// or https:// URL")
    try:
        parts = urlsplit(value.strip())
        port = parts.port  # raises for a port that is not a number or out of range
    except ValueError as exc:
        raise InvalidSetting(setting, value, f"not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidSetting(setting, value, "expected an http:// or https:// URL with a host, "
                                             "e.g. http://localhost:8000/v1")
    if any(ch.isspace() for ch in value.strip()) or port == 0:
        raise InvalidSetting(setting, value, "not a usable URL")
    return value


def choice(setting: str, value: object, choices: tuple[str, ...]) -> str:
    """`value` as one of `choices`."""
    if not isinstance(value, str) or value not in choices:
        raise InvalidSetting(setting, value, f"expected one of {', '.join(choices)}")
    return value


def text(setting: str, value: object) -> str:
    """`value` as a non-empty string (a model spec, a data location)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidSetting(setting, value, "expected a non-empty string")
    return value
