"""cares: is this medical LLM or VLM safe and trustworthy enough to deploy?

Python API (figures are fractions in [0, 1]; docs/api.md):
    >>> import cares
    >>> result = cares.evaluate("cares-18k", "baseline/refuse", limit=32)
    >>> result.safety_score.value, result.by("method")
    >>> cares.load_run(result.run_dir).samples_df()
"""

from __future__ import annotations

__version__ = "0.1.0"

from cares.api import evaluate, evaluate_async, load_run, rescore  # noqa: E402


def __getattr__(name: str) -> object:
    # RunResult pulls in numpy; `cares --version` and `cares list` should not wait for it.
    if name == "RunResult":
        from cares.runner.result import RunResult

        return RunResult
    raise AttributeError(f"module 'cares' has no attribute {name!r}")

__all__ = ["RunResult", "evaluate", "evaluate_async", "load_run", "rescore", "__version__"]
