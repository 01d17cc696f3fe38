"""Where detector training data comes from: a CARES-18K-schema file, the bundled sample, the
bundled default corpus, or the published CARES-18K on the Hugging Face hub."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cares.data import cares18k
from cares.types import Item

DATA_HELP = "a .jsonl/.json/.csv/.parquet file in the CARES-18K schema, sample, default, hf or hf:REPO[@REVISION]"


@dataclass(frozen=True)
class TrainingRow:
    prompt: str
    label: int  # 1 adversarial style, 0 direct
    group: str  # base prompt hash: the unit of every split
    method: str
    family: str  # where the wording came from; the method when the source does not say
    item_id: str = ""  # the source row's id (its own, or a content hash) where the source gives one


@dataclass(frozen=True)
class TrainingData:
    rows: list[TrainingRow]
    provenance: dict[str, Any]
    has_families: bool = False
    # Rows that are only ever scored, never fitted or tuned on (the default corpus's never-tuned set).
    never_tuned: tuple[TrainingRow, ...] = ()

    def subset(self, indices: Sequence[int]) -> TrainingData:
        return TrainingData([self.rows[i] for i in indices], self.provenance, self.has_families, self.never_tuned)


def reported_family(row: TrainingRow) -> str:
    """The name metrics are broken down by. Direct prompts are one class whatever their source, and
    the hand-written rewrites, well over a hundred framings of a row or two each, are reported together."""
    if row.label == 0:
        return "direct"
    if row.family.startswith("handwritten:"):
        return "handwritten"
    if row.family.startswith("authored:"):
        return f"authored ({row.method})"
    return row.family


def rows_sha256(rows: Sequence[TrainingRow]) -> str:
    digest = hashlib.sha256()
    for row in rows:
        digest.update(
            json.dumps([row.prompt, row.label, row.group, row.method, row.family], ensure_ascii=False).encode()
        )
        digest.update(b"\n")
    return digest.hexdigest()


def _from_items(items: list[Item]) -> list[TrainingRow]:
    rows = []
    for item in items:
        method = str(item.metadata["method"])
        family = str(item.metadata.get("family") or method)
        rows.append(TrainingRow(item.prompt, int(method != "direct"), item.group or item.id, method, family, item.id))
    return rows


def load_training_data(spec: str, *, split: str = "train", seed: int = 0) -> TrainingData:
    """Rows with labels and groups, plus a provenance record naming exactly what was read."""
    if spec == "default":
        from cares.guard.corpus import corpus_sha256, default_corpus, never_tuned_set

        corpus, held = default_corpus(seed=seed), never_tuned_set()
        rows = [TrainingRow(r.prompt, r.label, r.group, r.method, r.family) for r in corpus]
        provenance = {"source": "default", "location": "cares.guard.corpus.default_corpus", "seed": seed,
                      "sha256": corpus_sha256(corpus), "n": len(rows),
                      "never_tuned": {"location": "cares.guard.corpus.never_tuned_set", "sha256": corpus_sha256(held),
                                      "n": len(held)}}
        never_tuned = tuple(TrainingRow(r.prompt, r.label, r.group, r.method, r.family) for r in held)
        return TrainingData(rows, provenance, has_families=True, never_tuned=never_tuned)
    items, info = cares18k.load(spec, split=split)
    rows = _from_items(items)
    provenance = {"source": info.source, "location": info.location, "revision": info.revision, "split": info.split,
                  "sha256": rows_sha256(rows), "n": len(rows)}
    # A file whose rows name their wording families (an optional `family` column) is measured per
    # family and left out family by family, like the default corpus.
    # Only a rewrite's family says anything: a family on direct rows alone would make "leave family
    # out" hold out whole styles.
    named = any("family" in item.metadata and item.metadata["method"] != "direct" for item in items)
    return TrainingData(rows, provenance, has_families=named)
