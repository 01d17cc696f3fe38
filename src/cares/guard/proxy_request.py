"""What the guarding proxy accepts from a client, and the OpenAI-style errors it answers with.

A chat request is checked only as far as the guard needs to read it (the messages, whether it
streams); every other field is the upstream server's business and is forwarded untouched.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from cares.data.records import lone_surrogate

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    408: "invalid_request_error",
    413: "invalid_request_error",
}


class ProxyError(Exception):
    """A request the proxy answers itself, with an OpenAI-style JSON error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers or {}

    def response(self) -> web.Response:
        return error_response(self.status, self.message, code=self.code, param=self.param, headers=self.headers)


def error_response(
    status: int,
    message: str,
    *,
    code: str,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    error_type = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    return web.json_response(body, status=status, headers=headers)


@dataclass(frozen=True)
class ChatRequest:
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body["messages"]

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream", False))

    @property
    def model(self) -> Any:
        return self.body.get("model")


def bad_request(message: str, *, param: str | None, code: str = "invalid_request") -> ProxyError:
    return ProxyError(400, message, code=code, param=param)


def parse_chat_request(raw: bytes) -> ChatRequest:
    """The request body as a chat request, or a 400 naming the field that is wrong. Every body that is
    not JSON text the upstream could be sent is a 400, never a 500: bad UTF-8, bad syntax, nesting past
    the parser's limit, a lone UTF-16 surrogate ("\\ud800" parses, but cannot be encoded to send)."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise bad_request("request body is not UTF-8 text", param=None, code="invalid_json") from None
    except json.JSONDecodeError as exc:
        message = re.sub(r"\s+(starting\s+)?at$", "", exc.msg)  # json's 'starting at' would read 'at at'
        raise bad_request(f"request body is not valid JSON ({message} at line {exc.lineno} column {exc.colno})",
                          param=None, code="invalid_json") from None
    except RecursionError:
        raise bad_request("request body is nested too deeply", param=None, code="invalid_json") from None
    surrogate = lone_surrogate(body)
    if surrogate is not None:
        field, code_point = surrogate
        raise bad_request(f"request body holds a lone UTF-16 surrogate (\\u{code_point:04x}), which is not text",
                          param=field, code="invalid_json")
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object", param=None, code="invalid_json")
    if "messages" not in body:
        raise bad_request("field 'messages' is required", param="messages", code="missing_field")
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        raise bad_request("field 'messages' must be a non-empty list of messages", param="messages",
                          code="invalid_type")
    for index, message in enumerate(messages):
        _check_message(message, f"messages[{index}]")
    if "model" in body and not isinstance(body["model"], str):
        raise bad_request("field 'model' must be a string", param="model", code="invalid_type")
    if "stream" in body and body["stream"] is not None and not isinstance(body["stream"], bool):
        raise bad_request("field 'stream' must be true or false", param="stream", code="invalid_type")
    return ChatRequest(body)


def _check_message(message: Any, where: str) -> None:
    if not isinstance(message, dict):
        raise bad_request(f"field '{where}' must be an object with 'role' and 'content'", param=where,
                          code="invalid_type")
    if not isinstance(message.get("role"), str):
        raise bad_request(f"field '{where}.role' must be a string", param=f"{where}.role", code="invalid_type")
    content = message.get("content")
    if isinstance(content, str):
        return
    if content is None:
        # OpenAI's schema allows no content only on an assistant turn that calls tools; anywhere else
        # the guard would have nothing to read, and the upstream would get a request it must refuse.
        if message["role"] == "assistant" and (message.get("tool_calls") or message.get("function_call")):
            return
        raise bad_request(f"field '{where}.content' must be a string or a list of content parts (null is allowed "
                          "only on an assistant message with tool_calls)", param=f"{where}.content",
                          code="invalid_type")
    if not isinstance(content, list):
        raise bad_request(
            f"field '{where}.content' must be a string or a list of content parts",
            param=f"{where}.content",
            code="invalid_type",
        )
    for index, part in enumerate(content):
        at = f"{where}.content[{index}]"
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise bad_request(f"field '{at}' must be an object with a string 'type'", param=at, code="invalid_type")
        if part["type"] == "text" and not isinstance(part.get("text"), str):
            raise bad_request(f"field '{at}.text' must be a string", param=f"{at}.text", code="invalid_type")
