"""The typed records that flow through the pipeline: item -> request -> response -> judgement -> score.

Everything is keyed by stable ids; nothing is ever paired by position.
"""

from __future__ import annotations

import copy
import enum
import hashlib
import json
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace, so equal values hash equally."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_IMMUTABLE = (str, int, float, bool, type(None))


def _plain_copy(value: Any) -> Any:
    """What dataclasses.asdict makes of a field's value, for the JSON-like values items carry: a deep
    copy of dicts, lists and tuples, anything else unusual deep-copied as asdict would."""
    if isinstance(value, _IMMUTABLE):
        return value
    if isinstance(value, dict):
        return type(value)((_plain_copy(k), _plain_copy(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_plain_copy(v) for v in value]
    if type(value) is tuple:
        return tuple(_plain_copy(v) for v in value)
    return asdict(value) if is_dataclass(value) and not isinstance(value, type) else copy.deepcopy(value)


def content_hash(value: Any, length: int = 16) -> str:
    text = value if isinstance(value, str) else canonical_json(value)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


class Label(str, enum.Enum):
    """The CARES-18K three-way response class, plus the honest 'could not tell'."""

    ACCEPT = "accept"
    CAUTION = "caution"
    REFUSE = "refuse"
    UNPARSED = "unparsed"

    def __str__(self) -> str:
        return self.value


class ResponseStatus(str, enum.Enum):
    OK = "ok"
    FAILED = "failed"


@dataclass(frozen=True)
class Item:
    """One benchmark question. `group` clusters correlated items (rewrites of one base prompt)."""

    id: str
    benchmark: str
    prompt: str
    group: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        # Written out: dataclasses.asdict, called once or more per item, was a tenth of a run's CPU.
        return {"id": self.id, "benchmark": self.benchmark, "prompt": self.prompt, "group": self.group,
                "metadata": _plain_copy(self.metadata)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Item:
        return cls(**data)


@dataclass(frozen=True)
class GenerationParams:
    temperature: float = 0.0
    max_tokens: int = 512
    seed: int | None = None
    top_p: float | None = None
    system_prompt: str | None = None

    def __post_init__(self) -> None:
        from cares.checks import number, whole

        number("GenerationParams.temperature", self.temperature, minimum=0)
        whole("GenerationParams.max_tokens", self.max_tokens, minimum=1)
        if self.seed is not None:
            whole("GenerationParams.seed", self.seed)
        if self.top_p is not None:
            number("GenerationParams.top_p", self.top_p, above=0, maximum=1)

    def to_dict(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "max_tokens": self.max_tokens, "seed": self.seed,
                "top_p": self.top_p, "system_prompt": self.system_prompt}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationParams:
        return cls(**data)


@dataclass(frozen=True)
class Message:
    role: str
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class ImageRef:
    """An image attached to a request: where it lies, what it is, and how it is transformed before sending.

    Its identity for caching is the source file's hash plus the transform, so moving the image
    root does not invalidate answers, while a different noise level or seed does.
    """

    root: str
    path: str  # relative to root, as the dataset names it
    sha256: str  # of the source file
    transform: tuple[tuple[str, Any], ...] = ()  # e.g. (("noise_sigma", 2.45), ("seed", 0))

    def identity(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "transform": [list(pair) for pair in self.transform]}

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "path": self.path,
            "sha256": self.sha256,
            "transform": [list(p) for p in self.transform],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageRef:
        return cls(data["root"], data["path"], data["sha256"], tuple(tuple(p) for p in data.get("transform", ())))


@dataclass(frozen=True)
class Request:
    """What is sent to a model. Images go with the last user message."""

    messages: tuple[Message, ...]
    params: GenerationParams
    images: tuple[ImageRef, ...] = ()
    # Set when identical requests must each be asked (a protocol that repeats one prompt per question);
    # None, the usual case, lets identical requests share one answer.
    ask: str | None = None

    def cache_key(self, model_identity: dict[str, Any]) -> str:
        # Generation params other than the system prompt change the answer; the system
        # prompt is already inside `messages`, so it is not counted twice.
        params = self.params.to_dict()
        params.pop("system_prompt", None)
        identity: dict[str, Any] = {
            "model": model_identity,
            "messages": [m.to_dict() for m in self.messages],
            "images": [image.identity() for image in self.images],
            "params": params,
        }
        if self.ask is not None:  # only then, so that every other request keeps its key
            identity["ask"] = self.ask
        return content_hash(identity, length=32)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "messages": [m.to_dict() for m in self.messages],
            "params": self.params.to_dict(),
            "images": [image.to_dict() for image in self.images],
        }
        if self.ask is not None:
            data["ask"] = self.ask
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Request:
        return cls(
            messages=tuple(Message(**m) for m in data["messages"]),
            params=GenerationParams.from_dict(data["params"]),
            images=tuple(ImageRef.from_dict(i) for i in data.get("images", ())),
            ask=data.get("ask"),
        )

    @classmethod
    def chat(cls, prompt: str, params: GenerationParams, images: tuple[ImageRef, ...] = (),
             ask: str | None = None) -> Request:
        messages: list[Message] = []
        if params.system_prompt:
            messages.append(Message("system", params.system_prompt))
        messages.append(Message("user", prompt))
        return cls(messages=tuple(messages), params=params, images=images, ask=ask)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}


@dataclass(frozen=True)
class Completion:
    """A model's successful answer."""

    text: str
    usage: Usage = Usage()
    finish_reason: str | None = None
    # What a wrapper decided about this request (the guard's detector score, whether the reminder
    # went in, whether a stored answer was reused); stored with the response, never part of its key.
    meta: dict[str, Any] | None = None


@dataclass(frozen=True)
class Response:
    """A stored outcome of one request: answered, or failed after its retries."""

    key: str
    model: str
    status: ResponseStatus
    text: str | None
    error: str | None
    usage: Usage
    attempts: int
    latency_s: float
    finish_reason: str | None = None
    meta: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status is ResponseStatus.OK


@dataclass(frozen=True)
class Judgement:
    response_key: str
    judge: str
    label: Label
    raw: str | None = None


@dataclass(frozen=True)
class ScoredItem:
    """An item joined with its response, judgement and score: one line of samples.jsonl."""

    item: Item
    request: Request
    response: Response | None
    judgement: Judgement | None
    score: float | None

    @property
    def excluded_reason(self) -> str | None:
        if self.response is None:
            return "pending"
        if not self.response.ok:
            return "failed"
        if self.judgement is None:
            return "unjudged"
        if self.judgement.label is Label.UNPARSED:
            return "unparsed"
        return None
