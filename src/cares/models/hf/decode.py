"""Prompts in, completions out, many at a time: chat templates, batched `generate`, OOM halving."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cares.models.base import ModelCallError
from cares.models.content import prepared_png
from cares.models.hf.checkpoint import Loaded
from cares.types import Completion, GenerationParams, Request, Usage


@dataclass
class Prompt:
    """One request, rendered: what the batch runner needs and nothing it would have to recompute."""

    text: str
    params: GenerationParams
    images: list[Any] = field(default_factory=list)  # PIL images, exactly the PNGs an API model would get
    templated: bool = True  # a chat template added the special tokens; do not add them twice


def chat_messages(request: Request, image_parts: int) -> list[dict[str, Any]]:
    """The request as chat messages; the images become `{"type": "image"}` parts before the text of
    the last user message, the layout processors' chat templates expect."""
    messages: list[dict[str, Any]] = [m.to_dict() for m in request.messages]
    if image_parts:
        last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
        parts: list[dict[str, Any]] = [{"type": "image"} for _ in range(image_parts)]
        parts.append({"type": "text", "text": messages[last_user]["content"]})
        messages[last_user] = {"role": "user", "content": parts}
    return messages


def render(request: Request, loaded: Loaded) -> Prompt:
    images = [_decode_png(image) for image in request.images] if request.images else []
    owner = loaded.processor if loaded.processor is not None else loaded.tokenizer
    messages = chat_messages(request, len(images))
    if getattr(owner, "chat_template", None):
        try:
            text = owner.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception as exc:  # some templates refuse a system role: fold it into the first user turn
            if messages[0]["role"] != "system":
                raise ModelCallError(f"chat template failed: {exc}", retryable=False) from exc
            text = owner.apply_chat_template(_fold_system(messages), tokenize=False, add_generation_prompt=True)
        return Prompt(text, request.params, images, templated=True)
    return Prompt(_plain(messages, _image_token(loaded)), request.params, images, templated=False)


def _decode_png(image: Any) -> Any:
    from PIL import Image

    # Decoding the PNG (not the source) gives the model the very pixels an API model receives.
    return Image.open(io.BytesIO(prepared_png(image))).convert("RGB")


def _fold_system(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    system, rest = messages[0]["content"], [dict(m) for m in messages[1:]]
    for message in rest:
        if message["role"] == "user":
            if isinstance(message["content"], str):
                message["content"] = f"{system}\n\n{message['content']}"
            else:
                message["content"] = [{"type": "text", "text": system + "\n\n"}, *message["content"]]
            break
    return rest


def _image_token(loaded: Loaded) -> str:
    return str(getattr(loaded.processor, "image_token", None) or "<image>")


def _plain(messages: list[dict[str, Any]], image_token: str) -> str:
    """A transcript for base models that ship no chat template."""
    lines = []
    for message in messages:
        content = message["content"]
        if not isinstance(content, str):
            content = "".join(image_token if p["type"] == "image" else p["text"] for p in content)
        lines.append(f"{message['role'].capitalize()}: {content}")
    return "\n".join(lines) + "\nAssistant:"


def prompt_length(prompt: Prompt, loaded: Loaded) -> int:
    with loaded.tokenizer_lock:
        return len(loaded.tokenizer(prompt.text, add_special_tokens=not prompt.templated)["input_ids"])


def is_out_of_memory(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


class BatchGenerator:
    """Runs a batch of prompts through `generate`; a batch that runs out of memory is split in half
    (recursively) instead of failing, and later batches are capped at the size that fitted."""

    def __init__(self, loaded: Loaded, ignore_eos: bool = False, on_shrink: Callable[[int], None] | None = None):
        self.loaded = loaded
        self.ignore_eos = ignore_eos
        self.on_shrink = on_shrink
        self.eos_ids = _eos_ids(loaded)

    def run(self, prompts: list[Prompt]) -> list[Completion | BaseException]:
        try:
            return list(self.generate(prompts))
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise ModelCallError(f"generation failed: {type(exc).__name__}: {exc}", retryable=False) from exc
            free_cached_memory()
            if len(prompts) == 1:
                return [ModelCallError(
                    "out of memory on a batch of one; lower --max-tokens, use a smaller dtype or another device",
                    retryable=False,
                )]
            # The larger half first: its size becomes the cap, and an odd batch should not lose a row of it.
            half = (len(prompts) + 1) // 2
            if self.on_shrink is not None:
                self.on_shrink(half)
            return self.run(prompts[:half]) + self.run(prompts[half:])

    def generate(self, prompts: list[Prompt]) -> list[Completion]:
        import torch

        loaded = self.loaded
        params = prompts[0].params
        inputs = self._encode(prompts)
        settings: dict[str, Any] = {"max_new_tokens": params.max_tokens, "pad_token_id": loaded.tokenizer.pad_token_id}
        if params.temperature and params.temperature > 0:
            settings.update(do_sample=True, temperature=params.temperature, top_p=params.top_p or 1.0, top_k=None)
            # Seeded from the batch's own prompts: the same batch samples the same answers on any run.
            torch.manual_seed(_batch_seed(params.seed, prompts))
        else:
            # Explicit, because a checkpoint's generation_config may ask for sampling.
            settings.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if self.ignore_eos:
            settings["min_new_tokens"] = params.max_tokens
        with torch.inference_mode():
            output = loaded.model.generate(**inputs, **settings)
        width = inputs["input_ids"].shape[1]
        prompt_tokens = inputs["attention_mask"].sum(dim=1).tolist()
        completions = []
        for row, used in zip(output[:, width:].tolist(), prompt_tokens, strict=True):
            stop = next((i for i, token in enumerate(row) if token in self.eos_ids), None)
            kept = row if stop is None else row[:stop]
            with loaded.tokenizer_lock:
                text = loaded.tokenizer.decode(kept, skip_special_tokens=True).strip()
            completions.append(Completion(
                text=text,
                usage=Usage(int(used), len(kept) + (0 if stop is None else 1)),
                finish_reason="length" if stop is None else "stop",
            ))
        return completions

    def _encode(self, prompts: list[Prompt]) -> dict[str, Any]:
        loaded = self.loaded
        texts = [p.text for p in prompts]
        add_special = not prompts[0].templated
        with loaded.tokenizer_lock:
            if loaded.processor is not None:
                images = [p.images for p in prompts] if prompts[0].images else None
                encoded = loaded.processor(
                    text=texts, images=images, padding=True, return_tensors="pt", add_special_tokens=add_special
                )
            else:
                encoded = loaded.tokenizer(texts, padding=True, return_tensors="pt", add_special_tokens=add_special)
        moved = {}
        for name, value in encoded.items():
            if hasattr(value, "to"):
                value = value.to(loaded.device)
                if value.is_floating_point():
                    value = value.to(loaded.dtype)
            moved[name] = value
        return moved


def _eos_ids(loaded: Loaded) -> set[int]:
    ids: set[int] = set()
    config = getattr(loaded.model, "generation_config", None)
    for value in (getattr(config, "eos_token_id", None), loaded.tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(int(v) for v in value)
    return ids


def _batch_seed(seed: int | None, prompts: list[Prompt]) -> int:
    digest = hashlib.sha256(f"{seed or 0}\0".encode() + "\0".join(p.text for p in prompts).encode())
    return int.from_bytes(digest.digest()[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF


def free_cached_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
