"""Which question files a CARES-VQA run reads: the bundled sample, the released pack, or named files."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cares.data.cares18k import DatasetInfo
from cares.errors import ConfigError
from cares.types import Item

log = logging.getLogger(__name__)

SAMPLE_SOURCE = "sample"


@dataclass(frozen=True)
class DataFiles:
    """The question files a --data value names, and the released files a pack folder lacks."""

    files: list[tuple[str, Path]]
    missing: list[tuple[str, str]] = field(default_factory=list)  # (source, relative path) not in the folder


def parse_data(data: str) -> DataFiles:
    """`sample`, `cares-vqa` (the fetched pack), a directory laid out like it, or `SOURCE=FILE[,SOURCE=FILE]`.

    A pack folder may hold only some of the seven released files (a fetch that failed for some, or
    a copy made by hand): the ones present are used and the others are listed in `missing`, for
    the caller to report.
    """
    from cares.data.vqa import DEFAULT_FILES, SOURCES

    if data == "sample":
        from cares.data.vqa_sample import sample_dir

        return DataFiles([(SAMPLE_SOURCE, sample_dir() / "questions.jsonl")])
    if "=" in data:
        pairs = []
        for part in data.split(","):
            source, _, path = part.partition("=")
            source = source.strip()
            if source not in SOURCES:
                raise ConfigError(f"--data {part!r}: unknown source {source!r}; known: {', '.join(SOURCES)}")
            pairs.append((source, Path(path.strip())))
        return DataFiles(pairs)
    if data == "cares-vqa":
        from cares.data.vqa.fetch import default_cache_dir

        directory = default_cache_dir() / "cares-vqa"
    else:
        directory = Path(data)
    if not directory.is_dir():
        hint = "run `cares data fetch cares-vqa` first" if data == "cares-vqa" else "give a directory or SOURCE=FILE"
        raise ConfigError(f"--data {data}: {directory} is not a directory; {hint}")
    found = [(source, directory / rel) for source, rel in DEFAULT_FILES.items() if (directory / rel).is_file()]
    if not found:
        expected = ", ".join(DEFAULT_FILES.values())
        raise ConfigError(f"--data {data}: none of the released question files ({expected}) are in {directory}")
    missing = [(source, rel) for source, rel in DEFAULT_FILES.items() if not (directory / rel).is_file()]
    return DataFiles(found, missing)


def _missing_note(data: str, selected: DataFiles, wanted: set[str]) -> str | None:
    """Released files the run would have read but the folder lacks: an error when asked for by
    --source, otherwise a note, so that a partial pack is never mistaken for the whole benchmark."""
    missing = [(source, rel) for source, rel in selected.missing if not wanted or source in wanted]
    if not missing:
        return None
    names = ", ".join(f"{source} ({rel})" for source, rel in missing)
    fetch = "run `cares data fetch cares-vqa` to fetch all seven"
    if wanted:
        raise ConfigError(f"--data {data}: --source asks for {names}, which the folder lacks; {fetch}")
    return f"--data {data}: not run, the folder lacks {names}; {fetch}"


def load_sources(data: str, options: dict[str, Any]) -> tuple[list[Item], DatasetInfo]:
    from cares.data.vqa import join_demographics, load_vqa

    wanted = set(options.get("sources") or ())
    joins = dict(options.get("join") or {})
    selected = parse_data(data)
    missing_note = _missing_note(data, selected, wanted)
    items: list[Item] = []
    reports: list[dict[str, Any]] = []
    for source, path in selected.files:
        if wanted and source not in wanted:
            continue
        records, report = load_vqa("custom" if source == SAMPLE_SOURCE else source, path)
        entry = report.to_dict()
        if source in joins:
            records, join_report = join_demographics(records, Path(joins[source]))
            entry["demographics_join"] = join_report.to_dict()
        entry["source"] = source
        reports.append(entry)
        for record in records:
            item = record.to_item()
            if source == SAMPLE_SOURCE:
                # The sample's images live in a prepared cache, found without an --image-root.
                item = Item(item.id, item.benchmark, item.prompt, f"{SAMPLE_SOURCE}:{record.image}",
                            {**item.metadata, "source": SAMPLE_SOURCE})
            items.append(item)
    if not items:
        raise ConfigError(f"--data {data}: no items after --source filtering ({', '.join(sorted(wanted))})")
    notes = []
    if data == "sample":
        notes.append("bundled sample written for this toolkit with real images from pydicom and scikit-image; "
                     "not the published CARES-VQA items")
    if missing_note:
        notes.append(missing_note)
        log.info("%s", missing_note)
    info = DatasetInfo(
        "sample" if data == "sample" else "files",
        data,
        revision=";".join(f"{r['source']}:sha256:{r.get('sha256', '')}" for r in reports),
        n_source_rows=sum(int(r.get("n_lines", 0)) for r in reports),
        notes=notes,
        sources=reports,
    )
    return items, info
