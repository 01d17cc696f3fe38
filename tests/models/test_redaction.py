"""API keys are kept out of error messages without mangling them: a one-letter key once turned
"Expecting" into "E[redacted]pecting"."""

from __future__ import annotations

import asyncio

import pytest

from cares.models.base import ModelCallError, ModelOptions
from cares.models.openai_api import OpenAIChatModel
from cares.redact import redact
from cares.testing.openai_server import FakeOpenAIServer, ServerConfig
from cares.types import GenerationParams, Message, Request


def test_a_short_key_is_redacted_only_as_a_whole_token() -> None:
    assert redact("Expecting value: line 1 column 25", "x") == "Expecting value: line 1 column 25"
    assert redact("Incorrect API key provided: x. See docs", "x") == "Incorrect API key provided: [redacted]. See docs"
    assert redact("Bearer ab12", "ab12") == "Bearer [redacted]"
    assert redact("key=ab12&q=1", "ab12") == "key=[redacted]&q=1"


def test_a_real_key_is_redacted_wherever_it_appears() -> None:
    key = "sk-proj-0123456789abcdef"
    assert redact(f"header Authorization: Bearer{key}z", key) == "header Authorization: Bearer[redacted]z"
    assert redact("nothing here", None) == "nothing here"


def test_a_malformed_answer_reads_plainly_with_a_one_letter_key() -> None:
    with FakeOpenAIServer(ServerConfig(fault_rate=1.0, fault_kinds=("malformed",))) as srv:
        model = OpenAIChatModel("m", ModelOptions(base_url=srv.base_url, api_key="x", timeout_s=5))

        async def ask() -> None:
            try:
                await model.generate(Request((Message("user", "hi"),), GenerationParams()))
            finally:
                await model.aclose()

        with pytest.raises(ModelCallError) as caught:
            asyncio.run(ask())
    assert "Expecting" in str(caught.value) and "[redacted]" not in str(caught.value)
