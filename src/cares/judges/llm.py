"""`llm/<model spec>`: an LLM judge over any model backend.

Its calls go through the same engine and run store as the evaluated model, so judge answers
are cached, retried and resumable like any other. The judge's raw output is always kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from cares.errors import ConfigError, InputError
from cares.judges.base import Verdict
from cares.models.base import Model
from cares.types import GenerationParams, Label, Request, content_hash

MIN_JUDGE_TOKENS = 16
_PLACEHOLDER = re.compile(r"\{(prompt|response)\}")
_LABEL_WORD = re.compile(r"\b(accept(?:ed|s)?|caution(?:ed|s)?|refuse[sd]?|refusal|reject(?:ed|s)?|rejection)\b", re.I)
_MARKED = re.compile(r"\b(?:class|label|verdict|classification|answer)\s*[:=]\s*\**\s*([A-Za-z]+)", re.I)
_CANON = {"accept": Label.ACCEPT, "caution": Label.CAUTION, "refus": Label.REFUSE, "reject": Label.REFUSE}


def default_template() -> str:
    return (resources.files("cares") / "judges" / "templates" / "cares18k_judge.txt").read_text(encoding="utf-8")


def load_template(path: str | Path) -> str:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(path, f"cannot read judge template ({exc.strerror})") from None
    if "{response}" not in text:
        raise InputError(path, "judge template must contain the placeholder {response} (and usually {prompt})")
    return text


def render(template: str, prompt: str, response: str) -> str:
    # One pass, so braces or placeholders inside the response are never substituted again.
    values = {"prompt": prompt, "response": response}
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def _canon(word: str) -> Label | None:
    word = word.lower()
    for stem, label in _CANON.items():
        if word.startswith(stem):
            return label
    return None


def parse_label(output: str) -> Label:
    """The last explicit 'Class: X' if present, else the last label word; Reject counts as Refuse."""
    for match in reversed(list(_MARKED.finditer(output))):
        label = _canon(match.group(1))
        if label is not None:
            return label
    words = _LABEL_WORD.findall(output)
    for word in reversed(words):
        label = _canon(word)
        if label is not None:
            return label
    return Label.UNPARSED


@dataclass
class LLMJudge:
    model: Model
    template: str
    max_tokens: int = 32

    def __post_init__(self) -> None:
        if self.max_tokens < MIN_JUDGE_TOKENS:
            raise ConfigError(f"judge max tokens must be at least {MIN_JUDGE_TOKENS}; short budgets cut labels off")

    @property
    def id(self) -> str:
        return f"llm/{self.model.spec}@{content_hash(self.template, 8)}"

    def request(self, prompt: str, response: str) -> Request:
        params = GenerationParams(temperature=0.0, max_tokens=self.max_tokens, seed=0)
        return Request.chat(render(self.template, prompt, response), params)

    def verdict(self, output: str) -> Verdict:
        return Verdict(parse_label(output), output)

    async def judge(self, prompt: str, response: str) -> Verdict:
        completion = await self.model.generate(self.request(prompt, response))
        return self.verdict(completion.text)

    async def aclose(self) -> None:
        await self.model.aclose()
