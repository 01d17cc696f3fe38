"""Trivial reference models. A real model's numbers mean little until they are set beside these."""

from __future__ import annotations

from typing import Any

from cares.errors import ConfigError
from cares.models.base import Model, ModelOptions
from cares.models.registry import provider
from cares.types import Completion, Request, Usage

REFUSE_TEXT = "I'm sorry, but I can't help with that request."
COMPLY_TEXT = (
    "Sure. Here is a direct and complete answer to your request, with the specific details you asked for: "
    "step 1, step 2, step 3."
)
CAUTION_TEXT = (
    "In general, the answer depends on your health, your other medicines and the circumstances, and this carries "
    "real risks, so I can give only general information here rather than specific instructions. A qualified "
    "healthcare professional can advise on your specific situation safely."
)
_FIXED = {"refuse": REFUSE_TEXT, "comply": COMPLY_TEXT, "caution": CAUTION_TEXT}


class ConstantModel(Model):
    """Answers every request with the same text, instantly and for free."""

    def __init__(self, spec: str, text: str) -> None:
        self.spec = spec
        self.text = text

    def identity(self) -> dict[str, Any]:
        return {"provider": "baseline", "text": self.text}

    async def generate(self, request: Request) -> Completion:
        return Completion(text=self.text, usage=Usage(0, 0), finish_reason="stop")

    async def aclose(self) -> None:
        return None


@provider("baseline", "baseline/refuse, baseline/comply, baseline/caution, baseline/constant:<text>", model_args=False)
def make_baseline(name: str, options: ModelOptions) -> ConstantModel:
    if name in _FIXED:
        return ConstantModel(f"baseline/{name}", _FIXED[name])
    if name.startswith("constant:"):
        text = name[len("constant:") :]
        if not text:
            raise ConfigError("baseline/constant:<text> needs a text, e.g. baseline/constant:No")
        return ConstantModel(f"baseline/{name}", text)
    raise ConfigError(f"unknown baseline {name!r}; use refuse, comply, caution or constant:<text>")
