"""A Python callable or class given to `cares.evaluate` directly, rather than named as `python/<module>:<callable>`.

It follows the same protocol as `python/` models (see `cares.models.python_callable`). Its identity,
and so its cached answers, follows its `cares_version` attribute where it declares one, else the hash
of its own source code (a notebook cell's included), else the hash of the file that defines it: edit
the function and its answers are asked again.
"""

from __future__ import annotations

import hashlib
import inspect
import sys
from collections.abc import Callable
from typing import Any

from cares.checks import InvalidSetting
from cares.models.base import Model
from cares.models.python_callable import PythonModel, _declared_concurrency, _source_sha256


def _own_source_sha256(fn: Any) -> str | None:
    target = fn if inspect.isfunction(fn) or inspect.ismethod(fn) else type(fn)
    try:
        source = inspect.getsource(target)
    except (OSError, TypeError):
        return _source_sha256(sys.modules.get(getattr(target, "__module__", ""), None))
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


class CallableModel(PythonModel):
    """A `python/` model built from the object itself; its spec names where it was defined."""

    def __init__(self, obj: Callable[..., Any] | type) -> None:
        fn = obj() if inspect.isclass(obj) else obj
        if not callable(fn):
            raise InvalidSetting("model", obj, "expected a model spec string, a cares Model or a callable")
        named = obj if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismethod(obj) else type(fn)
        self.target = f"{getattr(named, '__module__', None) or 'object'}:{getattr(named, '__qualname__', 'callable')}"
        self.spec = f"python/{self.target}"
        self.fn = fn
        self._source = _own_source_sha256(fn)
        # The __call__ method itself (of a callable instance), to see whether it is a coroutine function.
        call = getattr(fn, "__call__", None)  # noqa: B004
        self._is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call)
        self.runs_locally = bool(getattr(fn, "runs_locally", False))
        self.preferred_concurrency = _declared_concurrency(self.target, fn, self.runs_locally)


def as_model(model: str | Model | Callable[..., Any]) -> tuple[str, Model | None]:
    """The spec a run records, and the model object when one was given instead of a spec string."""
    if isinstance(model, str):
        return model, None
    if isinstance(model, Model):
        try:
            return model.spec, model
        except AttributeError:
            raise InvalidSetting("model", model, "a Model object needs a `spec` string naming it") from None
    built = CallableModel(model)
    return built.spec, built
