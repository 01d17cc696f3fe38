"""Judges turn (prompt, response) into Accept / Caution / Refuse. Specs: `rules` or `llm/<model spec>`."""

from __future__ import annotations

from pathlib import Path

from cares.errors import ConfigError
from cares.judges.base import Judge, Verdict
from cares.models.base import ModelOptions

JUDGE_HELP = {
    "rules": "deterministic offline judge (how the answer opens, refusal and redirection phrasing)",
    "llm/<model spec>": "an LLM judge over any backend, e.g. llm/openai/gpt-4o-mini",
}


def get_judge(spec: str, options: ModelOptions | None = None, template: str | Path | None = None) -> Judge:
    if spec == "rules":
        if template is not None:
            raise ConfigError("--judge-template applies to llm/... judges, not to 'rules'")
        from cares.judges.rules import RulesJudge

        return RulesJudge()
    if spec.startswith("llm/"):
        from cares.judges.llm import LLMJudge, default_template, load_template
        from cares.models.registry import get_model

        text = load_template(template) if template is not None else default_template()
        return LLMJudge(get_model(spec[len("llm/") :], options), text)
    raise ConfigError(f"unknown judge {spec!r}; use 'rules' or 'llm/<model spec>' (e.g. llm/openai/gpt-4o-mini)")


__all__ = ["Judge", "Verdict", "get_judge", "JUDGE_HELP"]
