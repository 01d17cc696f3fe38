"""Finding, checking, fingerprinting and loading a transformers checkpoint for `hf/<path or hub id>`.

Checking happens when the model is named, before any run directory exists, so a typo costs one
line and nothing else. Loading the weights waits until there is something to generate: resuming a
finished run never pays for it.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from cares.errors import ConfigError
from cares.models.base import FatalModelError

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_SMALL_FILE = 8 * 1024 * 1024
_SAMPLE = 1024 * 1024
_IGNORED = re.compile(r"(^\.|\.md$|^LICEN[CS]E|^NOTICE|\.lock$)", re.IGNORECASE)
_DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class HFSettings:
    """`--model-arg KEY=VALUE` settings of the hf/ backend."""

    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = 8
    revision: str | None = None
    trust_remote_code: bool = False
    attn_implementation: str | None = None
    ignore_eos: bool = False

    @classmethod
    def from_args(cls, spec: str, extra: tuple[tuple[str, Any], ...]) -> HFSettings:
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, raw in extra:
            name = key.replace("-", "_")
            if name not in known:
                raise ConfigError(f"{spec}: unknown --model-arg {key!r}; known: {', '.join(sorted(known))}")
            values[name] = _convert(spec, key, name, raw)
        settings = cls(**values)
        if settings.batch_size < 1:
            raise ConfigError(f"{spec}: --model-arg batch_size must be at least 1")
        if settings.dtype not in _DTYPES:
            raise ConfigError(f"{spec}: --model-arg dtype must be one of {', '.join(_DTYPES)}, got {settings.dtype!r}")
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", settings.device):
            raise ConfigError(
                f"{spec}: --model-arg device must be auto, cpu, mps, cuda or cuda:N, got {settings.device!r}"
            )
        return settings


def _convert(spec: str, key: str, name: str, raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    if name == "batch_size":
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{spec}: --model-arg {key} expects an integer, got {raw!r}") from None
    if name in ("trust_remote_code", "ignore_eos"):
        lowered = raw.lower()
        if lowered not in ("true", "false", "1", "0", "yes", "no"):
            raise ConfigError(f"{spec}: --model-arg {key} expects true or false, got {raw!r}")
        return lowered in ("true", "1", "yes")
    return raw


@dataclass(frozen=True)
class Checkpoint:
    spec: str
    source: str  # what from_pretrained receives: a directory or a hub id
    local: bool
    kind: str  # "text" or "vlm"
    model_type: str
    fingerprint: dict[str, Any] = field(default_factory=dict)


def locate(name: str, settings: HFSettings) -> Checkpoint:
    spec = f"hf/{name}"
    if name.startswith("hub:"):
        name = name.removeprefix("hub:")
        if not _HUB_ID.match(name):
            raise ConfigError(f"{spec}: {name!r} is not a hub id (org/name)")
        return _checkpoint(spec, name, None, settings)
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ConfigError(f"{spec}: {path} is a file; give the checkpoint's directory")
        if not (path / "config.json").is_file():
            raise ConfigError(f"{spec}: {path} is not a transformers checkpoint (no config.json in it)")
        source, local = str(path), True
    elif _HUB_ID.match(name) and not path.parent.is_dir():
        source, local = name, False
    elif _HUB_ID.match(name):
        # `models/tiny` with a local `models/` is a mistyped path far more often than a hub
        # organisation that happens to share a local folder's name; asking the hub would only
        # add a slow, confusing network error.
        raise ConfigError(
            f"{spec}: no such directory {path} (though {path.parent}/ exists here); "
            f"for a hub id in an organisation named like that folder, use --model hf/hub:{name}"
        )
    else:
        raise ConfigError(f"{spec}: no such directory {path}, and {name!r} is not a hub id (org/name)")
    return _checkpoint(spec, source, path if local else None, settings)


def _checkpoint(spec: str, source: str, path: Path | None, settings: HFSettings) -> Checkpoint:
    local = path is not None
    config = _read_config(spec, source, local, settings)
    kind = _kind(spec, config)
    if path is not None:
        fingerprint = fingerprint_dir(path)
    else:
        fingerprint = {"hub": source, "commit": getattr(config, "_commit_hash", None) or settings.revision}
    return Checkpoint(spec, source, local, kind, config.model_type, fingerprint)


def _read_config(spec: str, source: str, local: bool, settings: HFSettings) -> Any:
    try:
        from transformers import AutoConfig
    except ImportError:
        raise ConfigError(f"{spec}: the hf/ backend needs transformers and torch: pip install 'cares[local]'") from None
    _quiet_transformers()
    try:
        return AutoConfig.from_pretrained(
            source, revision=settings.revision, trust_remote_code=settings.trust_remote_code, local_files_only=local
        )
    except Exception as exc:  # transformers raises OSError, ValueError, KeyError... for bad checkpoints
        where = (
            "cannot read its config.json" if local else "not a local directory, and the hub copy could not be loaded"
        )
        raise ConfigError(f"{spec}: {where} ({_first_line(exc)})") from None


def _kind(spec: str, config: Any) -> str:
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES,
    )

    auto_map = getattr(config, "auto_map", None) or {}
    if config.model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES or "AutoModelForImageTextToText" in auto_map:
        return "vlm"
    if config.model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES or "AutoModelForCausalLM" in auto_map:
        return "text"
    raise ConfigError(
        f"{spec}: model type {config.model_type!r} is neither a causal language model nor an image-text-to-text "
        "model; for models with their own inference code use a python/<module>:<callable> adapter"
    )


def fingerprint_dir(path: Path) -> dict[str, Any]:
    """A content hash of a checkpoint that is cheap for 16 GB of weights and survives copying.

    Small files (configs, tokenizer, chat template) are hashed whole; large ones by their size and
    three 1 MiB samples (start, middle, end). Fine-tuning changes every tensor, so the samples
    change with it. The path itself is left out, so a moved checkpoint keeps its cached answers.
    """
    digest = hashlib.sha256()
    names: list[str] = []
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        relative = file.relative_to(path).as_posix()
        if any(_IGNORED.search(part) for part in relative.split("/")):
            continue
        names.append(relative)
        size = file.stat().st_size
        digest.update(f"{relative}\0{size}\0".encode())
        with file.open("rb") as handle:
            if size <= _SMALL_FILE:
                digest.update(handle.read())
                continue
            for offset in (0, size // 2, size - _SAMPLE):
                handle.seek(offset)
                digest.update(handle.read(_SAMPLE))
    return {"checkpoint_sha256": digest.hexdigest(), "files": len(names)}


@dataclass
class Loaded:
    model: Any
    tokenizer: Any
    processor: Any | None
    device: str
    dtype: Any
    # A fast tokenizer keeps its padding setting in shared state that every call resets: prompt
    # lengths (event loop) and batch encoding (batch thread) must not tokenize at the same time.
    tokenizer_lock: threading.Lock = field(default_factory=threading.Lock)


def resolve_device(requested: str) -> str:
    import torch

    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def resolve_dtype(requested: str, device: str) -> str:
    if requested != "auto":
        return requested
    if device.startswith("cuda"):
        import torch

        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "float16" if device == "mps" else "float32"


def load(checkpoint: Checkpoint, settings: HFSettings, device: str, dtype: str) -> Loaded:
    """Weights, tokenizer and (for VLMs) processor, on `device`; any failure is fatal for the run."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText, AutoProcessor, AutoTokenizer

    _quiet_transformers()
    common = dict(
        revision=settings.revision, trust_remote_code=settings.trust_remote_code, local_files_only=checkpoint.local
    )
    try:
        processor = None
        if checkpoint.kind == "vlm":
            processor = AutoProcessor.from_pretrained(checkpoint.source, **common)
            tokenizer = processor.tokenizer
            auto_class: Any = AutoModelForImageTextToText
        else:
            tokenizer = AutoTokenizer.from_pretrained(checkpoint.source, **common)
            auto_class = AutoModelForCausalLM
        extra = {"attn_implementation": settings.attn_implementation} if settings.attn_implementation else {}
        model = auto_class.from_pretrained(checkpoint.source, dtype=getattr(torch, dtype), **common, **extra)
        model.to(device)
        model.eval()
    except Exception as exc:
        raise FatalModelError(f"{checkpoint.spec}: cannot load the model ({_first_line(exc)})") from None
    # Decoder-only generation continues from the last position of every row: pad on the left.
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return Loaded(model, tokenizer, processor, device, getattr(torch, dtype))


def _quiet_transformers() -> None:
    # Their progress bars and retry chatter would bury our one-line errors and the run's own progress.
    import huggingface_hub
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    huggingface_hub.utils.logging.set_verbosity_error()
    huggingface_hub.utils.disable_progress_bars()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
