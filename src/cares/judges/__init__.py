"""Judges turn (prompt, response) into Accept / Caution / Refuse.

Specs: `rules`, `llm/<model spec>`, or `cascade[@T]:llm/<model spec>` (rules where sure, else the LLM).
A spec's family is what comes before its first `/`, `:` or `@`; each family is one entry of
`JUDGES`, and a plugin adds its own family there (docs/plugins.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cares.errors import ConfigError
from cares.judges.base import Judge, Verdict
from cares.models.base import ModelOptions
from cares.registry import Registry

if TYPE_CHECKING:
    from cares.judges.llm import LLMJudge

# factory(the whole spec, options for any model the judge asks, --judge-template) -> Judge
JudgeFactory = Callable[[str, "ModelOptions | None", "str | Path | None"], Judge]
JUDGES: Registry[JudgeFactory] = Registry("judge")


def judge_family(spec: str) -> str:
    return re.split(r"[/:@]", spec, maxsplit=1)[0]


def get_judge(spec: str, options: ModelOptions | None = None, template: str | Path | None = None) -> Judge:
    return JUDGES.lookup(judge_family(spec), spec)(spec, options, template)


def judge(name: str, help: str, usage: str | None = None) -> Callable[[JudgeFactory], JudgeFactory]:
    """Register a judge family: `@judge("myjudge", "what it does")` over `factory(spec, options, template)`."""
    return JUDGES.add(name, help, usage)


@judge("rules", "offline judge of what the answer gives, not how it is wrapped: structural readings and lexical "
               "weights fitted to labelled answers; rules@2 is the previous clause-rules judge (docs/judges.md)",
       "rules[@2]")
def _rules(spec: str, options: ModelOptions | None, template: str | Path | None) -> Judge:
    from cares.judges.rules_judge import RULES_VERSION, RulesJudge

    if spec not in ("rules", f"rules@{RULES_VERSION}", "rules@2"):
        raise ConfigError(f"unknown judge {spec!r}; the rules judges are 'rules' (rules@{RULES_VERSION}, the "
                          "weights this cares ships) and 'rules@2'; earlier weights are not kept: a run judged "
                          "by them keeps its labels, `cares rescore` judges it again")
    if template is not None:
        raise ConfigError(f"--judge-template applies to llm/... judges, not to {spec!r}")
    if spec == "rules@2":
        from cares.judges.clause_rules import ClauseRulesJudge

        return ClauseRulesJudge()
    return RulesJudge()


@judge("llm", "an LLM judge over any backend, e.g. llm/openai/gpt-4o-mini", "llm/<model spec>")
def _llm(spec: str, options: ModelOptions | None, template: str | Path | None) -> Judge:
    if not spec.startswith("llm/"):
        raise ConfigError(f"judge {spec!r}: an LLM judge is 'llm/<model spec>', e.g. llm/openai/gpt-4o-mini")
    return _llm_judge(spec, options, template)


@judge("cascade", "the rules judge where its confidence is at least T (default 0.7), the LLM judge for the rest",
       "cascade[@T]:llm/<model spec>")
def _cascade(spec: str, options: ModelOptions | None, template: str | Path | None) -> Judge:
    from cares.judges.cascade import CascadeJudge, parse_spec

    threshold, llm_spec = parse_spec(spec)
    return CascadeJudge(_llm_judge(llm_spec, options, template), threshold)


def _llm_judge(spec: str, options: ModelOptions | None, template: str | Path | None) -> LLMJudge:
    from cares.judges.llm import LLMJudge, default_template, load_template
    from cares.models.registry import get_model

    text = load_template(template) if template is not None else default_template()
    return LLMJudge(get_model(spec[len("llm/") :], options), text)


def __getattr__(name: str) -> Any:
    # JUDGE_HELP is computed when read, so that it lists the judges plugins add.
    if name == "JUDGE_HELP":
        return {entry.usage: entry.help for entry in JUDGES.entries()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Judge", "Verdict", "get_judge", "judge", "JUDGES", "JUDGE_HELP", "JudgeFactory"]
