"""`cares generate`: extend the benchmark with your own base prompts, in every adversarial style."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cares.attacks.llm_rewriter import STYLE_INSTRUCTIONS, clean_rewrite, rewrite_request
from cares.attacks.refusals import refusal_reason
from cares.data.cares18k import field_int, field_text
from cares.data.records import read_records
from cares.errors import ConfigError, InputError
from cares.models.registry import get_model
from cares.report.outputs import write_atomic
from cares.runner.engine import generate_pending
from cares.runner.pipeline import RunOptions
from cares.store import RunStore

# Names the rule rewriters in `generation_model`, as a model's spec names a rewriter model.
RULE_REWRITER = "cares/rule-rewriter"


@dataclass
class Generated:
    """What `cares generate` wrote and what it left out."""

    rows: int = 0
    missing: int = 0  # the rewriter model failed after retries; the next run asks again
    refused: list[tuple[int, str, str]] = field(default_factory=list)  # (base line, style, the refusal text)


async def generate_file(
    source: Path, output: Path, styles: tuple[str, ...], rewriter: str | None, seed: int, options: RunOptions
) -> Generated:
    """Writes the direct rows and every rewrite that is one; failed rewrites and the rewriter's refusals are left
    out and counted."""
    from cares.attacks.styles import rewrite

    unknown = [style for style in styles if style not in STYLE_INSTRUCTIONS]
    if unknown or not styles:
        raise ConfigError(
            f"--styles: unknown style(s) {', '.join(unknown) or '(none)'}; choose from indirect, obfuscate, role_play"
        )
    if output.exists() and output.resolve() == source.resolve():
        raise InputError(output, "output would overwrite the input; choose another --output")
    bases: list[dict[str, Any]] = []
    for record in read_records(source):
        bases.append(
            {
                "principle_index": field_int(record, "principle_index", range(0, 8)),
                "harmful_level": field_int(record, "harmful_level", range(0, 4)),
                "base_prompt": field_text(record, "base_prompt").strip(),
                "generation_model": str(record.data.get("generation_model") or "user"),
            }
        )
    rewrites: dict[tuple[int, str], str] = {}
    if rewriter is None:
        for index, base in enumerate(bases):
            for style in styles:
                rewrites[(index, style)] = rewrite(base["base_prompt"], style, seed=seed)
    else:
        rewrites = await _rewrite_with_model(bases, styles, rewriter, options, output)
    rows = []
    done = Generated()
    for index, base in enumerate(bases):
        rows.append({**base, "method": "direct", "prompt": base["base_prompt"]})
        for style in styles:
            text = rewrites.get((index, style))
            if not text:
                done.missing += 1
            elif rewriter is not None and refusal_reason(text):
                # Kept, a refusal would be a "prompt" every model answers safely, inflating its score.
                done.refused.append((index + 1, style, text))
            else:
                rows.append({**base, "method": style, "prompt": text, "generation_model": rewriter or RULE_REWRITER})
    write_atomic(output, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    done.rows = len(rows)
    return done


async def _rewrite_with_model(
    bases: list[dict[str, Any]], styles: tuple[str, ...], spec: str, options: RunOptions, output: Path
) -> dict[tuple[int, str], str]:
    model = get_model(spec, options.model)
    wanted = {
        (i, style): rewrite_request(base["base_prompt"], style) for i, base in enumerate(bases) for style in styles
    }
    keys = {slot: request.cache_key(model.identity()) for slot, request in wanted.items()}
    try:
        # Rewrites are cached beside the output, so an interrupted job never pays for one twice.
        with RunStore(output.with_name(output.name + ".cares.sqlite")) as store:
            answered = store.answered_keys()
            pending = {keys[slot]: req for slot, req in wanted.items() if keys[slot] not in answered}
            await generate_pending(model, pending, store, options.engine, label="rewriting")
            responses = store.responses(keys.values())
    finally:
        await model.aclose()
    result = {}
    for slot, key in keys.items():
        response = responses.get(key)
        if response is not None and response.ok and response.text and clean_rewrite(response.text):
            result[slot] = clean_rewrite(response.text)
    return result
