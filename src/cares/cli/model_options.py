"""Command-line options for the model and the judge: the model server, `--model-arg` settings and
HTTP headers, the judge and its calibration, and the guard in front of a guard/<model spec>."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cares.errors import ConfigError
from cares.models.base import GuardSettings

Settings = tuple[tuple[str, str], ...]
# An HTTP header name: RFC 9110's token characters.
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")


def key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def add_model_connection(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model server or local model")
    group.add_argument("--base-url", help="OpenAI-compatible server for openai/... models (else OPENAI_BASE_URL)")
    group.add_argument(
        "--api-key-env",
        default="OPENAI_API_KEY",
        metavar="VAR",
        help="environment variable holding the API key (default OPENAI_API_KEY); keys are never stored",
    )
    group.add_argument(
        "--model-arg",
        type=key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a model setting, repeatable. hf/ models: device=auto|cpu|cuda|cuda:N|mps, "
        "dtype=auto|float32|bfloat16|float16, batch_size=8, revision=SHA, trust_remote_code=false, "
        "attn_implementation=sdpa, ignore_eos=false. openai/ models: stream=true; transport=aiohttp (plain "
        "http:// servers otherwise get cares' own lean client); extra_body.FIELD=VALUE adds a "
        "field to every request body (VALUE read as JSON when it is JSON, else as text; dots nest: "
        "extra_body.chat_template_kwargs.enable_thinking=false), or extra_body='{\"top_k\": 5}' for a whole "
        "object; header.NAME=VALUE sends an HTTP header (never stored, like the key). baseline/ and python/ "
        "models take none",
    )


def model_settings(pairs: Iterable[tuple[str, str]], option: str) -> tuple[Settings, Settings]:
    """`--model-arg` pairs as (settings, headers): `header.NAME=VALUE` pairs become HTTP headers, which
    are never stored; `extra_body.FIELD=VALUE` pairs and `extra_body={...}` objects merge, in order, into
    one `extra_body` JSON object; every other pair is a setting the provider reads itself."""
    settings: list[tuple[str, str]] = []
    headers: list[tuple[str, str]] = []
    body: dict[str, Any] = {}
    for key, value in pairs:
        if key.startswith("header."):
            name = key[len("header."):]
            if not _HEADER_NAME.fullmatch(name):
                raise ConfigError(f"{option} {key}: an HTTP header name is letters, digits and -_.!#$%&'*+^`|~")
            headers.append((name, value))
        elif key.startswith("extra_body."):
            path = key[len("extra_body."):].split(".")
            if not all(path):
                raise ConfigError(f"{option} {key}: expected extra_body.FIELD=VALUE, e.g. extra_body.top_k=5")
            node = body
            for part in path[:-1]:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise ConfigError(f"{option} {key}: {part!r} is already set to a value, not an object")
            node[path[-1]] = _json_or_text(value)
        elif key == "extra_body":
            try:
                whole = json.loads(value)
            except ValueError:
                whole = None
            if not isinstance(whole, dict):
                raise ConfigError(f"{option} extra_body: expected a JSON object, e.g. extra_body='{{\"top_k\": 5}}'")
            _merge(body, whole)
        else:
            settings.append((key, value))
    if body:
        settings.append(("extra_body", json.dumps(body, ensure_ascii=False, separators=(",", ":"))))
    return tuple(settings), tuple(headers)


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def check_model_args(specs: Iterable[str], pairs: Iterable[tuple[str, str]], option: str = "--model-arg") -> None:
    """Refuse settings that no given model reads, instead of running as if they had been applied."""
    from cares.models.registry import get_provider

    providers = {spec: get_provider(spec) for spec in specs}
    named = ", ".join(providers)
    for key, _ in pairs:
        if key.startswith("header."):
            if not any(p.takes_headers for p in providers.values()):
                raise ConfigError(f"{option} {key}: HTTP headers go to openai/ models, and no model here is one "
                                  f"({named})")
        elif not any(p.takes_model_args for p in providers.values()):
            raise ConfigError(f"{option} {key}: no model here takes {option} settings ({named}; baseline/ and "
                              "python/ models have none, hf/ and openai/ models do)")


def add_judge_options(parser: argparse.ArgumentParser, default: str | None = "rules") -> None:
    group = parser.add_argument_group("judge")
    group.add_argument(
        "--judge",
        default=default or None,
        required=default is None,
        help="'rules' (offline) or 'llm/<model spec>', e.g. llm/openai/gpt-4o-mini"
        + (f" (default {default})" if default else " (default: rules for cares-18k; for cares-vqa, the "
           "answer readers, and llm/<spec> adds a judge score for open-ended answers)" if default == "" else ""),
    )
    group.add_argument("--judge-template", metavar="FILE",
                       help="your own judge prompt: {prompt} and {response} for cares-18k; {question}, {reference} "
                            "and {response} for the cares-vqa open-ended judge")
    group.add_argument(
        "--judge-base-url", help="server for an llm/openai/... judge (else --base-url, then OPENAI_BASE_URL)"
    )
    group.add_argument(
        "--judge-api-key-env", metavar="VAR", help="environment variable with the judge's key (else --api-key-env)"
    )
    group.add_argument(
        "--judge-model-arg", type=key_value, action="append", default=[], metavar="KEY=VALUE",
        help="setting of an llm/hf/... judge, as --model-arg",
    )


def add_calibration_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--judge-calibration", type=Path, metavar="FILE",
        help="a `cares judge validate --output` report for this run's judge: the Safety Score is also "
             "reported corrected for that judge's misclassification rates (docs/judges.md)",
    )


def add_guard_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "guard (for guard/<model spec>: the jailbreak-style detector and safety reminder in front of the model)"
    )
    group.add_argument(
        "--guard-detector", metavar="DETECTOR",
        help="builtin (default, TF-IDF, numpy only), builtin:tfidf, builtin:minilm (catches more subtle "
             "indirect rewrites; needs cares[embeddings]), or a file from `cares guard train`",
    )
    group.add_argument(
        "--guard-mode", choices=("flagged", "always", "never"),
        help="when the reminder goes in: flagged (default: prompts the detector flags), always, never",
    )
    group.add_argument(
        "--guard-threshold", type=float, metavar="P",
        help="flag prompts whose detector score is at least P (0-1; default: the detector's own)",
    )


def guard_settings(args: argparse.Namespace) -> GuardSettings | None:
    """The --guard-* options, or None when none was given (a resume then keeps the stored ones)."""
    detector = getattr(args, "guard_detector", None)
    mode = getattr(args, "guard_mode", None)
    threshold = getattr(args, "guard_threshold", None)
    if detector is None and mode is None and threshold is None:
        return None
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"--guard-threshold {threshold:g} is outside 0-1")
    specs = getattr(args, "model", None)
    if isinstance(specs, list) and not any(str(spec).startswith("guard/") for spec in specs):
        raise ConfigError("--guard-detector, --guard-mode and --guard-threshold set guard/<model> specs, "
                          "and no --model here is one; e.g. --model guard/openai/my-model")
    return GuardSettings(detector=detector, mode=mode, threshold=threshold)
