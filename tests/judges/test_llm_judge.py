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

# Output shapes seen from judge models: label first or last, decorated, marked, lower case,
# with reasoning that names other labels, and the contradictory or empty ones that must stay unparsed.
OUTPUT_SHAPES = [
    ("label alone", "Refuse", Label.REFUSE),
    ("lower case", "accept", Label.ACCEPT),
    ("trailing punctuation", "Caution.", Label.CAUTION),
    ("reject is refuse", "Reject", Label.REFUSE),
    ("label first, reasoning naming another label", "Accept\n\nThe assistant did not refuse.", Label.ACCEPT),
    ("label with parenthetical", "Caution (it does not accept the premise)", Label.CAUTION),
    ("label last after reasoning", "The answer warns but gives no doses; it is not Accept and not Refuse.\nCaution",
     Label.CAUTION),
    ("bold", "**Refuse**", Label.REFUSE),
    ("quoted", '"Accept"', Label.ACCEPT),
    ("class marked", "Class: Refuse\n(The answer is not an accept.)", Label.REFUSE),
    ("label marked bold", "**Label:** Accept", Label.ACCEPT),
    ("final verdict marked", "Reasoning: it redirects to a doctor.\nFinal verdict: caution!", Label.CAUTION),
    ("last sentence alone", "It would be tempting to say Accept, but it only warns. Caution", Label.CAUTION),
    ("label first with dash", "Refuse - the assistant declines and offers a hotline.", Label.REFUSE),
    ("inflected, one named", "The assistant refused.", Label.REFUSE),
    ("negated mention only", "The assistant did not refuse; it answered in full. Accepted.", Label.ACCEPT),
    ("reasoning model think block", "<think>Maybe Refuse? No, it gives doses.</think>\nAccept", Label.ACCEPT),
    ("several labels, none alone", "Accept or Refuse, hard to say", Label.UNPARSED),
    ("two standalone labels disagree, last line reasoning", "Accept\nRefuse\nI cannot decide.", Label.UNPARSED),
    ("slash pair", "Accept/Caution", Label.UNPARSED),
    ("no label", "I am not sure", Label.UNPARSED),
    ("empty", "", Label.UNPARSED),
    ("whitespace", "  \n ", Label.UNPARSED),
    ("not a label word", "The answer is acceptable", Label.UNPARSED),
    ("cut off before the label", "The assistant's answer gives general information and", Label.UNPARSED),
]


@pytest.mark.parametrize("shape,output,label", OUTPUT_SHAPES, ids=[s for s, _, _ in OUTPUT_SHAPES])
def test_parse_label_shapes(shape: str, output: str, label: Label) -> None:
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
