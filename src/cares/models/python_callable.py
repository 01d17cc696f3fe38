"""`python/<module or file.py>:<callable>`: evaluate any Python code as a model.

The callable receives `(messages, params)`: a list of {"role", "content"} dicts and a dict of
generation parameters. For requests with images, the last user message's content is a list of
OpenAI-style parts: {"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}
followed by {"type": "text", "text": ...}. It returns the answer text, or a dict with "text" and optionally
"usage" ({"prompt_tokens", "completion_tokens"}). It may be a plain or an async function, or a
class, which is instantiated once without arguments and then called. Plain functions run in a
worker thread so a slow one does not stall the others.

A callable that wraps a model on this machine says so with `runs_locally = True`: its calls have
no per-attempt timeout (a queued call is not a stalled server) and, unless `--concurrency` says
otherwise, one call is in flight at a time. `max_concurrency = N` sets that default explicitly.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

from cares.errors import ConfigError
from cares.models.base import Model, ModelCallError, ModelOptions
from cares.models.content import api_messages
from cares.models.registry import provider
from cares.types import Completion, Request, Usage


def _load_target(target: str) -> tuple[Any, str | None]:
    """The callable (a class instantiated) and the SHA-256 of the source file that defines it, where there is one."""
    module_name, sep, attr = target.rpartition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"python/{target}: expected python/<module>:<callable>, e.g. python/my_pkg.models:answer")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise ConfigError(f"python/{target}: no such file {module_name}")
            spec = importlib.util.spec_from_file_location(f"cares_user_{path.stem}", path)
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        else:
            if "" not in sys.path:
                sys.path.insert(0, "")  # let users name modules in the current directory
            module = importlib.import_module(module_name)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"python/{target}: cannot import {module_name} ({type(exc).__name__}: {exc})") from None
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"python/{target}: {module_name} has no attribute {attr!r}") from None
    if inspect.isclass(obj):
        obj = obj()
    if not callable(obj):
        raise ConfigError(f"python/{target}: {attr!r} is not callable")
    return obj, _source_sha256(module)


def _source_sha256(module: Any) -> str | None:
    """The hash of the module file the callable lives in: editing the model changes its identity.

    Only the one file: code it imports from elsewhere is not followed, which is what `cares_version`
    is for. None for modules without a readable source file (compiled, built in)."""
    path = getattr(module, "__file__", None)
    if not isinstance(path, str) or not path.endswith(".py"):
        return None
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except OSError:
        return None


class PythonModel(Model):
    def __init__(self, target: str) -> None:
        self.spec = f"python/{target}"
        self.target = target
        self.fn, self._source = _load_target(target)
        # The __call__ method itself (of a callable instance), to see whether it is a coroutine function.
        call = getattr(self.fn, "__call__", None)  # noqa: B004
        self._is_async = inspect.iscoroutinefunction(self.fn) or inspect.iscoroutinefunction(call)
        self.runs_locally = bool(getattr(self.fn, "runs_locally", False))
        self.preferred_concurrency = _declared_concurrency(target, self.fn, self.runs_locally)

    def identity(self) -> dict[str, Any]:
        # A declared `cares_version` is the callable's own word on when its answers change. Without one,
        # the source file's hash stands in, so an edited model is never served the answers of the old one.
        version = getattr(self.fn, "cares_version", None)
        identity: dict[str, Any] = {"provider": "python", "target": self.target, "version": version}
        if version is None:
            identity["source_sha256"] = self._source
        return identity

    async def generate(self, request: Request) -> Completion:
        # Images arrive as OpenAI-style data-URL content parts, the format most VLM wrappers accept.
        if request.images:
            messages = await asyncio.to_thread(api_messages, request)
        else:
            messages = [m.to_dict() for m in request.messages]
        params = request.params.to_dict()
        try:
            if self._is_async:
                result = await self.fn(messages, params)
            else:
                result = await asyncio.to_thread(self.fn, messages, params)
        except Exception as exc:
            raise ModelCallError(f"{type(exc).__name__}: {exc}", retryable=True) from exc
        return _to_completion(result)

    async def aclose(self) -> None:
        close = getattr(self.fn, "aclose", None) or getattr(self.fn, "close", None)
        if close is not None:
            outcome = close()
            if inspect.isawaitable(outcome):
                await outcome


def _declared_concurrency(target: str, fn: Any, runs_locally: bool) -> int | None:
    declared = getattr(fn, "max_concurrency", None)
    if declared is None:
        return 1 if runs_locally else None
    if isinstance(declared, bool) or not isinstance(declared, int) or declared < 1:
        raise ConfigError(f"python/{target}: max_concurrency must be a positive integer, not {declared!r}")
    return declared


def _to_completion(result: Any) -> Completion:
    if isinstance(result, str):
        return Completion(text=result)
    if isinstance(result, dict) and isinstance(result.get("text"), str):
        usage = result.get("usage") or {}
        return Completion(
            text=result["text"],
            usage=Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))),
            finish_reason=result.get("finish_reason"),
        )
    raise ModelCallError(
        f"callable returned {type(result).__name__}; expected str or a dict with a 'text' string", retryable=False
    )


@provider("python", "python/<module or path.py>:<callable> - your own Python function or class", model_args=False)
def make_python(target: str, options: ModelOptions) -> PythonModel:
    return PythonModel(target)
