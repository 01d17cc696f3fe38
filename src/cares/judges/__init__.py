"""Judges turn (prompt, response) into Accept / Caution / Refuse.

Specs: `rules`, `llm/<model spec>`, or `cascade[@T]:llm/<model spec>` (rules where sure, else the LLM).
"""

from __future__ import annotations

from pathlib import Path

from cares.errors import ConfigError
from cares.judges.base import Judge, Verdict
from cares.models.base import ModelOptions

JUDGE_HELP = {
    "rules": "deterministic offline judge of what the answer gives, not how it is wrapped (docs/judges.md)",
    "llm/<model spec>": "an LLM judge over any backend, e.g. llm/openai/gpt-4o-mini",
    "cascade[@T]:llm/<model spec>": "the rules judge where its confidence is at least T (default 0.9), "
                                    "the LLM judge for the rest",
}


def get_judge(spec: str, options: ModelOptions | None = None, template: str | Path | None = None) -> Judge:
    if spec == "rules":
        if template is not None:
            raise ConfigError("--judge-template applies to llm/... judges, not to 'rules'")
        from cares.judges.rules import RulesJudge

        return RulesJudge()
    if spec.startswith("llm/"):
        return _llm_judge(spec, options, template)
    if spec.startswith("cascade"):
        from cares.judges.cascade import CascadeJudge, parse_spec

        threshold, llm_spec = parse_spec(spec)
        return CascadeJudge(_llm_judge(llm_spec, options, template), threshold)
    raise ConfigError(f"unknown judge {spec!r}; use 'rules', 'llm/<model spec>' (e.g. llm/openai/gpt-4o-mini) "
                      "or 'cascade:llm/<model spec>'")


def _llm_judge(spec: str, options: ModelOptions | None, template: str | Path | None) -> Judge:
    from cares.judges.llm import LLMJudge, default_template, load_template
    from cares.models.registry import get_model

    text = load_template(template) if template is not None else default_template()
    return LLMJudge(get_model(spec[len("llm/") :], options), text)


__all__ = ["Judge", "Verdict", "get_judge", "JUDGE_HELP"]
