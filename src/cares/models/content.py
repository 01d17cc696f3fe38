"""Turning a request into OpenAI-style chat messages, images included as base64 data-URL parts."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from cares.types import ImageRef, Request

# One image is prepared at a time in a process: a decode at the pixel cap with noise in float64 takes
# about 120 bytes per pixel, and requests in flight preparing images side by side would multiply that
# by the concurrency. Under the lock a request also finds the PNG another one has just prepared.
_PREPARE_LOCK = threading.Lock()
# Each question on an image sends the same PNG in up to fifteen variants: keep the recent ones.
_CACHE_BYTES = 64 * 1024 * 1024
_cache: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()


def prepared_png(image: ImageRef) -> bytes:
    """The PNG every backend sends: the source decoded, windowed, noised and downsized as asked."""
    key = (image.root, image.path, image.sha256, image.transform)
    with _PREPARE_LOCK:
        png = _cache.get(key)
        if png is not None:
            _cache.move_to_end(key)
            return png
        png = _prepare(image)
        if len(png) <= _CACHE_BYTES // 8:
            _cache[key] = png
            while sum(map(len, _cache.values())) > _CACHE_BYTES:
                _cache.popitem(last=False)
        return png


def _prepare(image: ImageRef) -> bytes:
    from cares.images import prepare_image

    options = dict(image.transform)
    prepared = prepare_image(
        Path(image.root),
        image.path,
        noise_sigma=options.get("noise_sigma"),
        seed=int(options.get("seed", 0)),
        max_side=options.get("max_side"),
        noise=options.get("noise"),
    )
    return prepared.png


def image_data_url(image: ImageRef) -> str:
    from cares.images import data_url

    return data_url(prepared_png(image))


def api_messages(request: Request) -> list[dict[str, Any]]:
    """Plain messages, with the images placed before the text of the last user message.

    Image preparation (decoding, windowing, noise) is CPU work: callers on an event loop run
    this in a worker thread.
    """
    messages: list[dict[str, Any]] = [m.to_dict() for m in request.messages]
    if not request.images:
        return messages
    last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
    parts: list[dict[str, Any]] = [
        {"type": "image_url", "image_url": {"url": image_data_url(image)}} for image in request.images
    ]
    parts.append({"type": "text", "text": messages[last_user]["content"]})
    messages[last_user] = {"role": "user", "content": parts}
    return messages
