"""A `python/` adapter for a vision-language model that needs its own inference code.

Models such as LLaVA-Med v1, RadFM and Med-Flamingo ship their own loader, conversation format and
image preprocessing, so `hf/<dir>` cannot run them. An adapter like this one wraps that code. This
one runs a transformers Llava checkpoint with explicit classes and a hand-built LLaVA-Med-v1-style
prompt, so it works anywhere; the comments marked CHANGE are where your model's code goes.

    python -m cares.testing.tiny_models llava ./tiny-llava
    CARES_ADAPTER_MODEL=./tiny-llava cares run cares-vqa \
        --model python/examples/custom_vlm_adapter.py:CustomVLM --limit 4 --max-tokens 16

Environment: CARES_ADAPTER_MODEL (checkpoint directory, required), CARES_ADAPTER_DEVICE (default
cuda if available, else cpu).
"""

from __future__ import annotations

import base64
import gc
import hashlib
import io
import os
import threading
from pathlib import Path
from typing import Any

import torch
import transformers
from PIL import Image
from transformers import AutoProcessor, LlavaForConditionalGeneration

from cares.errors import ConfigError  # reported as one line, `cares: error: ...`, exit 2

# CHANGE: your model's conversation format. This is the shape of LLaVA-Med v1's "simple" template:
# a system line, then "###Human: ..." and "###Assistant: ..." turns; the answer ends at the next "###".
SYSTEM = (
    "You are a medical vision-language assistant. You understand the images the user provides and "
    "answer their medical questions about them. Follow the instructions carefully."
)
ROLES = {"user": "Human", "assistant": "Assistant"}
SEP = "###"


class CustomVLM:
    # Bump when the code changes what the model answers, so cached answers are not reused.
    VERSION = "1"
    # A model on this machine: no per-call timeout, and one call in flight unless --concurrency says more.
    runs_locally = True

    def __init__(self) -> None:
        path = os.environ.get("CARES_ADAPTER_MODEL")
        if not path or not Path(path).is_dir():
            raise ConfigError(f"set CARES_ADAPTER_MODEL to the model's checkpoint directory (now {path!r})")
        self.device = os.environ.get("CARES_ADAPTER_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch.float16 if self.device.startswith("cuda") else torch.float32
        # CHANGE: your loader. LLaVA-Med v1: LlavaLlamaForCausalLM from its repository plus its CLIP
        # vision tower and image processor; RadFM: MultiLLaMAForCausalLM with its state dict loaded and
        # its <imageN> placeholder tokens added to the tokenizer; Med-Flamingo: open_flamingo's
        # create_model_and_transforms on a LLaMA-7B, then the Med-Flamingo checkpoint.
        transformers.utils.logging.disable_progress_bar()
        self.processor = AutoProcessor.from_pretrained(path, local_files_only=True)
        self.tokenizer = self.processor.tokenizer
        self.model = LlavaForConditionalGeneration.from_pretrained(path, dtype=dtype, local_files_only=True)
        self.model.to(self.device).eval()
        # The callable is called from worker threads; one generate at a time.
        self.lock = threading.Lock()
        # The checkpoint is part of what decides the answers: `cares` stores this with every answer.
        self.cares_version = f"{self.VERSION}+{_fingerprint(Path(path))}"

    def __call__(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        prompt, images = self.build_prompt(messages)
        # CHANGE: your image preprocessing. Here the checkpoint's processor resizes and normalises the
        # image and expands each image token. RadFM wants a (3, H, W, depth) tensor per image (a 2D
        # image is one slice); Med-Flamingo its own vision transform on a (batch, images, frames) stack.
        inputs = self.processor(text=prompt, images=images or None, return_tensors="pt").to(self.device)
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
        settings: dict[str, Any] = {"max_new_tokens": int(params["max_tokens"])}
        temperature = params.get("temperature") or 0.0
        if temperature > 0:
            settings.update(do_sample=True, temperature=temperature, top_p=params.get("top_p") or 1.0)
        else:
            settings.update(do_sample=False, temperature=None, top_p=None, top_k=None)  # greedy
        with self.lock, torch.inference_mode():
            if temperature > 0:
                torch.manual_seed(params.get("seed") or 0)  # one request at a time: reproducible per request
            output = self.model.generate(
                **inputs, **settings, pad_token_id=self.tokenizer.pad_token_id,
                stop_strings=[SEP], tokenizer=self.tokenizer,  # LLaVA-Med stops at the next separator
            )
        new_tokens = output[0, inputs["input_ids"].shape[1]:]
        text = self.tokenizer.decode(new_tokens, skip_special_tokens=True).split(SEP)[0].strip()
        usage = {"prompt_tokens": int(inputs["input_ids"].shape[1]), "completion_tokens": int(len(new_tokens))}
        return {"text": text, "usage": usage}

    def build_prompt(self, messages: list[dict[str, Any]]) -> tuple[str, list[Image.Image]]:
        """The conversation in this model's own format, and the request's images in order.

        Images arrive as {"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}
        parts before the text of the last user message. LLaVA-Med v1 puts the image after the question.
        """
        system, turns, images = SYSTEM, [], []
        for message in messages:
            content = message["content"]
            if message["role"] == "system":
                system = content  # --system-prompt replaces the default system line
                continue
            if isinstance(content, list):
                text = " ".join(p["text"] for p in content if p["type"] == "text")
                pictures = [decode_image(p["image_url"]["url"]) for p in content if p["type"] == "image_url"]
                images.extend(pictures)
                content = text + "".join("\n" + self.processor.image_token for _ in pictures)
            turns.append(f"{ROLES[message['role']]}: {content}\n")
        return system + "".join(f"{SEP}{turn}" for turn in turns) + f"{SEP}{ROLES['assistant']}:", images

    def close(self) -> None:
        """Called once at the end of the run: free the weights (and the GPU memory they held)."""
        self.model = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def decode_image(url: str) -> Image.Image:
    """A data URL from `cares` (always a PNG, already windowed, noised or downsized as the task asks)."""
    header, _, payload = url.partition(",")
    if not header.startswith("data:image/"):
        raise ValueError(f"expected a data URL, got {url[:40]!r}")
    return Image.open(io.BytesIO(base64.b64decode(payload))).convert("RGB")


def _fingerprint(path: Path) -> str:
    """Names and sizes of every file, and the content of the small ones (configs, tokenizer)."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        size = file.stat().st_size
        digest.update(f"{file.relative_to(path).as_posix()}\0{size}\0".encode())
        if size < 8 * 1024 * 1024:
            digest.update(file.read_bytes())
    return digest.hexdigest()[:12]
