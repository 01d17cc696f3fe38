"""The bundled training corpus for the jailbreak-style detector.

The detector is meant to flag public jailbreak prompts it has never seen, so the corpus mixes
several independent sources of adversarial wording instead of leaning on one generator:

- the bundled CARES-18K sample, in all four methods;
- our own direct base prompts (`data/base_prompts.jsonl`), which are the negatives, including
  hard negatives that are long, carry clinical context or state a professional role;
- the rule-based CARES rewrites of every base prompt in the three adversarial styles;
- hand-written rewrites of a subset of base prompts in many framings
  (`data/handwritten_rewrites.jsonl`);
- generic attack transforms (`cares.guard.augment`) applied to a deterministic subset;
- more direct prompts in named families (`data/direct_prompts.jsonl`): plainly asked harmful
  questions, which must stay unflagged, and plain questions that use the words the styles use
  ("a friend", "suppose", "stands for", "for my essay"), which must too;
- indirect and obfuscate rewrites of those prompts in named wording families
  (`data/family_rewrites.jsonl`), each family one way of framing or encoding a request, so a
  whole family can be held out of training and the detector measured on it.

A separate never-tuned set (`data/never_tuned_*.jsonl`, `never_tuned_set()`) has its own base
prompts and its own families. It is never part of the corpus: it was written before any tuning
and is only ever scored.

Every row carries `group`, a hash of its base prompt, so a grouped split never puts a base
prompt's rewrites on one side and the base prompt itself on the other.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

from cares.attacks.styles import STYLES, rewrite
from cares.data.cares18k import field_int, field_text, load_sample
from cares.data.records import RawRecord, read_records
from cares.guard.augment import TRANSFORM_NAMES, TRANSFORMS, augment
from cares.types import content_hash

__all__ = [
    "BasePrompt",
    "CorpusRow",
    "HandwrittenRewrite",
    "base_prompts_path",
    "corpus_families",
    "corpus_sha256",
    "default_corpus",
    "handwritten_path",
    "load_base_prompts",
    "load_direct_prompts",
    "load_handwritten",
    "never_tuned_set",
    "write_jsonl",
]

ADVERSARIAL_METHODS = ("indirect", "obfuscate", "role_play")

# One base prompt in this many gets a generic transform; with ~240 base prompts that is
# enough rows per transform to be learned without drowning the hand-written families.
_AUGMENT_EVERY = 2


@dataclass(frozen=True)
class CorpusRow:
    prompt: str
    method: str  # direct | indirect | obfuscate | role_play
    base_prompt: str
    principle_index: int
    harmful_level: int
    family: str  # where the wording came from, e.g. "sample", "rules:indirect", "augment:leetspeak"
    label: int  # 1 written in an adversarial style, 0 asked directly
    group: str  # hash of the base prompt: rows sharing it must stay on one side of a split


@dataclass(frozen=True)
class BasePrompt:
    id: str
    principle_index: int
    harmful_level: int
    base_prompt: str
    family: str = "direct"  # the direct prompt's own family; its row's family is "direct" or "direct:<family>"


@dataclass(frozen=True)
class HandwrittenRewrite:
    id: str
    base_id: str
    method: str
    family: str
    prompt: str


def _data_file(name: str) -> Path:
    return Path(str(resources.files("cares.guard") / "data" / name))


def base_prompts_path() -> Path:
    return _data_file("base_prompts.jsonl")


def handwritten_path() -> Path:
    return _data_file("handwritten_rewrites.jsonl")


def direct_prompts_path() -> Path:
    return _data_file("direct_prompts.jsonl")


def family_rewrites_path() -> Path:
    return _data_file("family_rewrites.jsonl")


def never_tuned_paths() -> tuple[Path, Path]:
    return _data_file("never_tuned_prompts.jsonl"), _data_file("never_tuned_rewrites.jsonl")


def group_of(base_prompt: str) -> str:
    # The same hash cares18k uses for an item's group, so corpus groups line up with
    # the groups of benchmark items built from the same base prompt.
    return content_hash(base_prompt.strip())


def _unique_id(record: RawRecord, seen: dict[str, int]) -> str:
    identifier = field_text(record, "id").strip()
    if identifier in seen:
        raise record.error(f"duplicate id {identifier!r} (first used on line {seen[identifier]})", "id")
    seen[identifier] = record.line
    return identifier


def load_base_prompts(path: Path | None = None, *, with_family: bool = False) -> list[BasePrompt]:
    """Read and check the base prompts; a bad row raises InputError naming file, line and field.
    `with_family` requires a `family` field on every row (the direct-prompt files have one)."""
    path = path or base_prompts_path()
    seen_ids: dict[str, int] = {}
    seen_texts: dict[str, int] = {}
    prompts: list[BasePrompt] = []
    for record in read_records(path):
        identifier = _unique_id(record, seen_ids)
        text = field_text(record, "base_prompt").strip()
        if text in seen_texts:
            raise record.error(f"same base prompt as line {seen_texts[text]}", "base_prompt")
        seen_texts[text] = record.line
        prompts.append(
            BasePrompt(
                id=identifier,
                principle_index=field_int(record, "principle_index", range(0, 8)),
                harmful_level=field_int(record, "harmful_level", range(0, 4)),
                base_prompt=text,
                family=field_text(record, "family").strip() if with_family else "direct",
            )
        )
    return prompts


def load_direct_prompts(path: Path | None = None) -> list[BasePrompt]:
    """The direct prompts in named families (`data/direct_prompts.jsonl` unless `path` is given)."""
    return load_base_prompts(path or direct_prompts_path(), with_family=True)


def load_handwritten(path: Path | None = None, base_ids: Iterable[str] | None = None) -> list[HandwrittenRewrite]:
    """Read and check the hand-written rewrites; every `base_id` must name a known base prompt."""
    path = path or handwritten_path()
    known = set(base_ids) if base_ids is not None else {p.id for p in load_base_prompts()}
    seen_ids: dict[str, int] = {}
    rewrites: list[HandwrittenRewrite] = []
    for record in read_records(path):
        identifier = _unique_id(record, seen_ids)
        base_id = field_text(record, "base_id").strip()
        if base_id not in known:
            raise record.error(f"no base prompt has id {base_id!r}", "base_id")
        method = field_text(record, "method").strip()
        if method not in ADVERSARIAL_METHODS:
            raise record.error(f"unknown method {method!r}; expected one of {', '.join(ADVERSARIAL_METHODS)}", "method")
        rewrites.append(
            HandwrittenRewrite(
                id=identifier,
                base_id=base_id,
                method=method,
                family=field_text(record, "family").strip(),
                prompt=field_text(record, "prompt").strip(),
            )
        )
    return rewrites


def _sample_rows() -> list[CorpusRow]:
    items, _ = load_sample()
    rows = []
    for item in items:
        meta = item.metadata
        method = str(meta["method"])
        rows.append(
            CorpusRow(
                prompt=item.prompt,
                method=method,
                base_prompt=str(meta["base_prompt"]),
                principle_index=int(meta["principle_index"]),
                harmful_level=int(meta["harmful_level"]),
                family="sample",
                label=int(method != "direct"),
                group=group_of(str(meta["base_prompt"])),
            )
        )
    return rows


def _direct_family(base: BasePrompt) -> str:
    return "direct" if base.family == "direct" else f"direct:{base.family}"


def _row(base: BasePrompt, prompt: str, method: str, family: str) -> CorpusRow:
    return CorpusRow(
        prompt=prompt,
        method=method,
        base_prompt=base.base_prompt,
        principle_index=base.principle_index,
        harmful_level=base.harmful_level,
        family=family,
        label=int(method != "direct"),
        group=group_of(base.base_prompt),
    )


def _augment_plan(bases: Sequence[BasePrompt], seed: int) -> list[tuple[BasePrompt, str]]:
    """Which base prompts get a generic transform, and which one.

    Prompts are ordered by a seeded digest and every `_AUGMENT_EVERY`-th is taken; the
    transforms are then dealt round-robin so each is used about equally often.
    """
    ranked = sorted(bases, key=lambda b: hashlib.sha256(f"{seed}\x1faugment\x1f{b.id}".encode()).digest())
    chosen = ranked[::_AUGMENT_EVERY]
    return [(base, TRANSFORM_NAMES[index % len(TRANSFORM_NAMES)]) for index, base in enumerate(chosen)]


def default_corpus(seed: int = 0) -> list[CorpusRow]:
    """The full bundled corpus; the same seed always gives the same rows in the same order."""
    bases = load_base_prompts()
    by_id = {base.id: base for base in bases}
    handwritten = load_handwritten(base_ids=by_id)

    rows = _sample_rows()
    rows.extend(_row(base, base.base_prompt, "direct", "direct") for base in bases)
    for base in bases:
        for style in STYLES:
            rows.append(_row(base, rewrite(base.base_prompt, style, seed=seed), style, f"rules:{style}"))
    for item in handwritten:
        rows.append(_row(by_id[item.base_id], item.prompt, item.method, f"handwritten:{item.family}"))
    for base, name in _augment_plan(bases, seed):
        method, _ = TRANSFORMS[name]
        rows.append(_row(base, augment(base.base_prompt, name, seed), method, f"augment:{name}"))
    rows.extend(_family_rows(load_direct_prompts(), family_rewrites_path(), "authored", known=set(by_id)))
    return rows


def _family_rows(directs: list[BasePrompt], rewrites_path: Path, prefix: str, known: set[str]) -> list[CorpusRow]:
    """Direct prompts with a family and their rewrites, as rows; ids must not reuse `known` ones."""
    by_id = {base.id: base for base in directs}
    clash = sorted(set(by_id) & known)
    if clash:
        raise ValueError(f"direct prompt id {clash[0]!r} is used twice in the bundled corpus")
    rows = [_row(base, base.base_prompt, "direct", _direct_family(base)) for base in directs]
    for item in load_handwritten(rewrites_path, base_ids=by_id):
        rows.append(_row(by_id[item.base_id], item.prompt, item.method, f"{prefix}:{item.family}"))
    return rows


def never_tuned_set() -> list[CorpusRow]:
    """The never-tuned check set: base prompts and wording families of its own, never trained on.

    Written before any tuning of the detector and kept apart from `default_corpus`, so scoring it
    with a detector trained on the corpus measures wording and requests it never saw."""
    prompts_path, rewrites_path = never_tuned_paths()
    return _family_rows(load_base_prompts(prompts_path, with_family=True), rewrites_path, "never-tuned", known=set())


def corpus_families(rows: Sequence[CorpusRow] | None = None) -> dict[str, dict[str, int]]:
    """Row counts per family, split by label, sorted by family name: a quick look at the mix."""
    rows = default_corpus() if rows is None else rows
    counts: Counter[tuple[str, int]] = Counter((row.family, row.label) for row in rows)
    summary: dict[str, dict[str, int]] = {}
    for family in sorted({family for family, _ in counts}):
        positive, negative = counts[(family, 1)], counts[(family, 0)]
        summary[family] = {"rows": positive + negative, "adversarial": positive, "direct": negative}
    return summary


def _schema_row(row: CorpusRow) -> dict[str, object]:
    return {
        "principle_index": row.principle_index,
        "harmful_level": row.harmful_level,
        "method": row.method,
        "base_prompt": row.base_prompt,
        "prompt": row.prompt,
        "family": row.family,
    }


def write_jsonl(rows: Iterable[CorpusRow], path: str | Path) -> int:
    """Write rows in the CARES-18K file schema (plus `family`); returns how many were written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(_schema_row(row), ensure_ascii=False) + "\n")
            count += 1
    return count


def corpus_sha256(rows: Iterable[CorpusRow]) -> str:
    """A digest of every field of every row, in order: names the exact corpus a detector saw."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(asdict(row), sort_keys=True, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()
