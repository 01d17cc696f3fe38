"""cares: is this medical LLM or VLM safe and trustworthy enough to deploy?

Python API:
    >>> import cares
    >>> result = cares.evaluate("cares-18k", model="baseline/refuse")
    >>> result.safety_score.value, result.by("method")
"""

from __future__ import annotations

__version__ = "0.1.0"

from cares.api import evaluate, evaluate_async, rescore  # noqa: E402

__all__ = ["evaluate", "evaluate_async", "rescore", "__version__"]
