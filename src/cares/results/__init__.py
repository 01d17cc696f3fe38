"""Typed, versioned run results: what results.json holds, its JSON Schema, and how it is built."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from cares.results.model import (
    RESULT_TYPES,
    SCHEMA_VERSION,
    VALUE_SCALE,
    Cares18kResults,
    CaresVqaResults,
    Counts,
    Headline,
    Invocation,
    ModelInfo,
    PluginResults,
    Results,
    Usage,
    results_from_dict,
    results_type,
)

SCHEMA_FILE = "results.schema.json"


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) every results.json of this schema_version satisfies."""
    text = (resources.files("cares.results") / "schema" / SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


__all__ = [
    "RESULT_TYPES", "SCHEMA_VERSION", "VALUE_SCALE", "Cares18kResults", "CaresVqaResults", "Counts", "Headline",
    "Invocation", "ModelInfo", "PluginResults", "Results", "Usage", "json_schema", "results_from_dict", "results_type",
]
