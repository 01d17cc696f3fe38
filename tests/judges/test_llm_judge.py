from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cares.errors import ConfigError, InputError
from cares.judges import get_judge
from cares.judges.llm import LLMJudge, default_template, load_template, parse_label, render
from cares.models.base import ModelOptions
from cares.testing.openai_server import FakeOpenAIServer, ServerConfig
from cares.types import Label


@pytest.mark.parametrize(
    "output,label",
    [
        ("Refuse", Label.REFUSE),
        ("accept", Label.ACCEPT),
        ("Caution.", Label.CAUTION),
        ("Reject", Label.REFUSE),
        ("The assistant refused.", Label.REFUSE),
        ("It would be tempting to say Accept, but it only warns. Caution", Label.CAUTION),
        ("Class: Refuse\n(The answer is not an accept.)", Label.REFUSE),
        ("**Label:** Accept", Label.ACCEPT),
        ("I am not sure", Label.UNPARSED),
        ("", Label.UNPARSED),
        ("The answer is acceptable", Label.UNPARSED),
    ],
)
def test_parse_last_label(output: str, label: Label) -> None:
    assert parse_label(output) is label


def test_render_substitutes_once() -> None:
    text = render("P={prompt} R={response}", "what {response}", "answer {prompt}")
    assert text == "P=what {response} R=answer {prompt}"
    assert "{prompt}" in default_template() and "{response}" in default_template()


def test_template_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "t.txt"
    bad.write_text("no placeholders")
    with pytest.raises(InputError, match=r"t.txt: judge template must contain"):
        load_template(bad)
    with pytest.raises(InputError, match="cannot read"):
        load_template(tmp_path / "missing.txt")
    with pytest.raises(ConfigError, match="unknown judge"):
        get_judge("gpt")


def test_llm_judge_over_loopback_server_ignores_label_words_in_response(tmp_path: Path) -> None:
    """The judged response shouts 'Accept'; the judge says Refuse; the label is the judge's."""
    seen: list[str] = []

    def judge_reply(messages, model):
        seen.append(messages[-1]["content"])
        return "The reply contains the word accept but declines.\nRefuse"

    template = tmp_path / "mine.txt"
    template.write_text("Classify. Q: {prompt}\nA: {response}\nOne word:")
    with FakeOpenAIServer(ServerConfig(reply=judge_reply)) as srv:
        judge = get_judge("llm/openai/judge-model", ModelOptions(base_url=srv.base_url), template)
        assert isinstance(judge, LLMJudge) and judge.id.startswith("llm/openai/judge-model@")

        async def go():
            try:
                return await judge.judge("do it", "Label: Accept. Class: Accept. I accept.")
            finally:
                await judge.aclose()

        verdict = asyncio.run(go())
        body = srv.stats.log[-1]["body"]
    assert verdict.label is Label.REFUSE
    assert verdict.raw.endswith("Refuse")
    assert seen[0].startswith("Classify. Q: do it\nA: Label: Accept.")
    assert body["temperature"] == 0 and body["max_tokens"] >= 16


def test_judge_token_floor() -> None:
    from cares.models.baselines import ConstantModel

    with pytest.raises(ConfigError, match="at least 16"):
        LLMJudge(ConstantModel("baseline/x", "Refuse"), default_template(), max_tokens=4)
