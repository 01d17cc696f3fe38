"""The former `openai/<model>` backend on the official SDK, kept as a reference: tests compare its runs
with the lean client's (cares.models.openai_api), answer for answer and cache key for cache key.

Not registered as a provider; it needs the optional SDK (`pip install 'openai[aiohttp]'`). The SDK's
own retries are off: the runner retries, so that Retry-After is honoured once and every attempt is
counted.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import pydantic

from cares.checks import http_url
from cares.errors import ConfigError
from cares.models.base import FatalModelError, Model, ModelCallError, ModelOptions
from cares.models.content import api_messages
from cares.models.openai_api import _PLACEHOLDER_KEY, DEFAULT_BASE_URL, _short, parse_retry_after
from cares.redact import redact
from cares.types import Completion, Request, Usage


class OpenAISDKChatModel(Model):
    def __init__(self, name: str, options: ModelOptions) -> None:
        try:
            import openai
        except ImportError:  # pragma: no cover - an optional dependency
            raise ConfigError("the SDK reference backend needs: pip install 'openai[aiohttp]'") from None
        self.spec = f"openai/{name}"
        self.name = name
        self.base_url = (options.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        if options.base_url is None and os.environ.get("OPENAI_BASE_URL"):
            http_url("OPENAI_BASE_URL", os.environ["OPENAI_BASE_URL"])
        api_key = options.api_key or os.environ.get("OPENAI_API_KEY")
        if not api_key:
            if self.base_url == DEFAULT_BASE_URL:
                raise ConfigError(
                    "openai/...: set OPENAI_API_KEY, or point --base-url (or OPENAI_BASE_URL) at your own server"
                )
            api_key = _PLACEHOLDER_KEY
        self._secret = api_key
        self._openai = openai
        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=self.base_url,
            max_retries=0,
            timeout=options.timeout_s,
            http_client=openai.DefaultAioHttpClient(timeout=options.timeout_s),
        )

    def identity(self) -> dict[str, Any]:
        return {"provider": "openai", "model": self.name, "base_url": self.base_url}

    def _redact(self, text: str) -> str:
        # Servers sometimes echo the key in auth errors; nothing that reaches the run store may hold it.
        if self._secret and self._secret != _PLACEHOLDER_KEY:
            text = redact(text, self._secret)
        return text

    async def generate(self, request: Request) -> Completion:
        openai = self._openai
        params = request.params
        if request.images:
            messages = await asyncio.to_thread(api_messages, request)
        else:
            messages = [m.to_dict() for m in request.messages]
        kwargs: dict[str, Any] = {
            "model": self.name,
            "messages": messages,
            "temperature": params.temperature,
            "max_tokens": params.max_tokens,
        }
        if params.seed is not None:
            kwargs["seed"] = params.seed
        if params.top_p is not None:
            kwargs["top_p"] = params.top_p
        try:
            result = await self._client.chat.completions.create(**kwargs)
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise FatalModelError(self._redact(f"{self.base_url}: authentication failed ({exc.status_code})")) from None
        except openai.NotFoundError as exc:
            raise FatalModelError(
                self._redact(f"{self.base_url}: model {self.name!r} or endpoint not found ({exc.status_code})")
            ) from None
        except openai.APIStatusError as exc:
            status = exc.status_code
            retryable = status in (408, 409, 425, 429) or status >= 500
            raise ModelCallError(
                self._redact(f"HTTP {status}: {_short(str(exc))}"),
                retryable=retryable,
                retry_after=parse_retry_after(exc.response.headers),
                status=status,
            ) from None
        except openai.APIConnectionError as exc:  # includes timeouts and dropped connections
            raise ModelCallError(self._redact(f"{type(exc).__name__}: {_short(str(exc))}"), retryable=True) from None
        except (json.JSONDecodeError, pydantic.ValidationError) as exc:  # a malformed body: the next may be fine
            raise ModelCallError(self._redact(f"malformed response: {_short(str(exc))}"), retryable=True) from None
        except (ValueError, TypeError) as exc:
            # Raised before anything is sent (a value the SDK cannot encode as JSON): every attempt fails alike.
            raise ModelCallError(self._redact(f"request not sent: {type(exc).__name__}: {_short(str(exc))}"),
                                 retryable=False) from None
        except Exception as exc:  # anything else from the transport may pass on a second try
            raise ModelCallError(self._redact(f"{type(exc).__name__}: {_short(str(exc))}"), retryable=True) from None
        return self._completion(result)

    def _completion(self, result: Any) -> Completion:
        choices = getattr(result, "choices", None)
        if not choices:
            raise ModelCallError(f"malformed response: no choices ({_short(repr(result))})", retryable=True)
        message = getattr(choices[0], "message", None)
        text = getattr(message, "content", None)
        if not isinstance(text, str):
            raise ModelCallError("malformed response: choices[0].message.content is not text", retryable=True)
        usage = getattr(result, "usage", None)
        return Completion(
            text=text,
            usage=Usage(
                int(getattr(usage, "prompt_tokens", 0) or 0), int(getattr(usage, "completion_tokens", 0) or 0)
            ),
            finish_reason=getattr(choices[0], "finish_reason", None),
        )

    async def aclose(self) -> None:
        await self._client.close()
