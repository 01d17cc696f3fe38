"""The CARES-18K dataset: schema validation and loading from the hub, local files or the bundled sample."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from cares.data.records import RawRecord, file_sha256, read_records
from cares.errors import ConfigError, InputError
from cares.types import Item, content_hash

BENCHMARK = "cares-18k"
HF_REPO = "HFXM/CARES-18K"
METHODS = ("direct", "indirect", "obfuscate", "role_play")
PRINCIPLES = {
    0: "patient privacy and consent",
    1: "clinical ethics and professional conduct",
    2: "discrimination and bias in care",
    3: "health misinformation",
    4: "self-harm and unsafe behaviour",
    5: "illicit medical practice",
    6: "AI and clinical-safety boundaries",
    7: "community and public health responsibility",
}
PRINCIPLE_SHORT = {
    0: "privacy & consent",
    1: "ethics & conduct",
    2: "bias in care",
    3: "misinformation",
    4: "self-harm",
    5: "illicit practice",
    6: "AI boundaries",
    7: "public health",
}
HARM_LEVELS = {0: "harmless", 1: "mildly harmful", 2: "moderately harmful", 3: "highly harmful"}
REQUIRED_FIELDS = ("principle_index", "harmful_level", "method", "base_prompt", "prompt")


@dataclass(frozen=True)
class DatasetInfo:
    """Where the items came from, precisely enough to reproduce the run."""

    source: str  # "sample", "hf" or "file"
    location: str
    revision: str | None = None  # hub commit sha, or the sha256 of a local file
    split: str | None = None
    n_source_rows: int = 0
    notes: list[str] = field(default_factory=list)
    # One load report per source file (counts, ambiguous truths, hashes) for multi-file benchmarks.
    sources: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "source": self.source,
            "location": self.location,
            "revision": self.revision,
            "split": self.split,
            "n_source_rows": self.n_source_rows,
            "notes": list(self.notes),
        }
        if self.sources:
            data["sources"] = list(self.sources)
        return data


def field_int(record: RawRecord, name: str, allowed: range) -> int:
    value = record.data.get(name)
    if isinstance(value, bool):
        raise record.error(f"expected an integer, got {value!r}", name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise record.error(f"expected an integer, got {value!r}", name) from None
    if not isinstance(value, int):
        raise record.error(f"expected an integer, got {value!r}", name)
    if value not in allowed:
        raise record.error(f"{value} is out of range {allowed.start}-{allowed.stop - 1}", name)
    return value


def field_text(record: RawRecord, name: str) -> str:
    value = record.data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise record.error(f"expected non-empty text, got {value!r}", name)
    return value


def validate_record(record: RawRecord) -> dict[str, Any]:
    """Check one CARES-18K row and return it normalised; raise InputError naming the bad field."""
    missing = [name for name in REQUIRED_FIELDS if name not in record.data]
    if missing:
        raise record.error(
            "missing required field(s) " + ", ".join(missing) + "; CARES-18K rows need "
            + ", ".join(REQUIRED_FIELDS),
            missing[0],
        )
    method = record.data.get("method")
    if not isinstance(method, str) or method.strip() not in METHODS:
        raise record.error(f"unknown method {method!r}; expected one of {', '.join(METHODS)}", "method")
    generation_model = record.data.get("generation_model")
    # Optional, not in the published data: the wording family a rewrite came from, so that a
    # detector can be measured per family and on families left out of its training.
    family = record.data.get("family")
    if family not in (None, "") and (not isinstance(family, str) or not family.strip()):
        raise record.error(f"expected text naming the rewrite's wording family, got {family!r}", "family")
    return {
        "principle_index": field_int(record, "principle_index", range(0, 8)),
        "harmful_level": field_int(record, "harmful_level", range(0, 4)),
        "method": method.strip(),
        "base_prompt": field_text(record, "base_prompt"),
        "prompt": field_text(record, "prompt"),
        "generation_model": str(generation_model) if generation_model not in (None, "") else None,
        "family": family.strip() if isinstance(family, str) and family.strip() else None,
    }


def items_from_records(records: list[RawRecord]) -> list[Item]:
    """Validate rows and give each a stable id: the rows' own `id`s, else (no row has one) a content hash.

    Ids that some rows lack or that repeat are an error naming the line: they are how answers are
    joined back to the user's rows, so they are never silently replaced by hashes."""
    rows = [(record, validate_record(record)) for record in records]
    source_ids = [record.data.get("id") for record, _ in rows]
    use_source_ids = any(value not in (None, "") for value in source_ids)
    if use_source_ids:
        _check_unique_ids([record for record, _ in rows], source_ids)

    items: list[Item] = []
    seen: Counter[str] = Counter()
    for (record, row), source_id in zip(rows, source_ids):
        if use_source_ids:
            item_id = str(source_id)
        else:
            base_id = content_hash(
                [row["principle_index"], row["harmful_level"], row["method"], row["base_prompt"], row["prompt"]]
            )
            seen[base_id] += 1
            # Identical rows would get identical answers; a suffix keeps both counted.
            item_id = base_id if seen[base_id] == 1 else f"{base_id}~{seen[base_id]}"
        metadata = {key: row[key] for key in ("principle_index", "harmful_level", "method", "generation_model")}
        metadata["base_prompt"] = row["base_prompt"]
        metadata["source_line"] = f"{Path(record.path).name}:{record.line}"
        if row["family"] is not None:
            metadata["family"] = row["family"]
        items.append(
            Item(
                id=item_id,
                benchmark=BENCHMARK,
                prompt=row["prompt"],
                group=content_hash(row["base_prompt"].strip()),
                metadata=metadata,
            )
        )
    return items


def _check_unique_ids(records: list[RawRecord], ids: list[Any]) -> None:
    fix = "give every row a unique id, or leave id out of every row to identify rows by their content"
    first_given = next(record for record, value in zip(records, ids) if value not in (None, ""))
    seen: dict[str, RawRecord] = {}
    for record, value in zip(records, ids):
        if value in (None, ""):
            raise record.error(f"missing, while {first_given.unit} {first_given.line} has an id; {fix}", "id")
        key = str(value)
        if key in seen:
            raise record.error(f"duplicate id {key!r}, first on {seen[key].unit} {seen[key].line}; {fix}", "id")
        seen[key] = record


def sample_path() -> Path:
    return Path(str(resources.files("cares") / "data" / "bundled" / "cares18k_sample.jsonl"))


def load_file(path: str | Path) -> tuple[list[Item], DatasetInfo]:
    path = Path(path)
    records = read_records(path)
    info = DatasetInfo("file", str(path.resolve()), revision=f"sha256:{file_sha256(path)}", n_source_rows=len(records))
    return items_from_records(records), info


def load_sample() -> tuple[list[Item], DatasetInfo]:
    path = sample_path()
    items, info = load_file(path)
    return items, DatasetInfo(
        "sample",
        "cares/data/bundled/cares18k_sample.jsonl",
        revision=info.revision,
        n_source_rows=info.n_source_rows,
        notes=["bundled sample written for this toolkit; not the published CARES-18K items"],
    )


def load_hub(
    repo: str = HF_REPO, *, split: str = "test", revision: str | None = None
) -> tuple[list[Item], DatasetInfo]:
    """Load from the Hugging Face hub (or a local directory laid out like a hub dataset repo)."""
    try:
        import datasets
    except ImportError:
        raise ConfigError("loading from the Hugging Face hub needs: pip install 'cares[hf]'") from None
    if not Path(repo).exists():
        _check_hub_reachable(repo)
    try:
        dataset = datasets.load_dataset(repo, split=split, revision=revision)
    except ValueError as exc:
        raise ConfigError(f"{repo}: cannot load split '{split}' ({exc})") from None
    except Exception as exc:  # network, auth and missing-repo errors come in many types
        raise ConfigError(f"{repo}: could not load from the hub ({type(exc).__name__}: {exc})") from None
    label = f"{repo}[{split}]"
    records = [RawRecord(dict(row), label, index, unit="row") for index, row in enumerate(dataset, start=1)]
    if not records:
        raise InputError(label, "dataset split is empty")
    resolved, notes = _resolve_revision(repo, revision)
    info = DatasetInfo("hf", repo, revision=resolved, split=split, n_source_rows=len(records), notes=notes)
    return items_from_records(records), info


def _check_hub_reachable(repo: str, timeout_s: float = 5.0) -> None:
    """Fail in seconds, with one line, where the hub cannot be reached: the datasets library would
    retry for about half a minute and print a stack of warnings first."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return  # the user asked for the local cache; datasets reads it without the network
    import urllib.error  # here: a run on a local file never loads the HTTP client (and email parsing) it brings
    import urllib.request

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    request = urllib.request.Request(f"{endpoint}/api/datasets/{repo}", method="HEAD")
    try:
        urllib.request.urlopen(request, timeout=timeout_s).close()
    except urllib.error.HTTPError:
        return  # the hub answered; authentication or a missing repo is reported by datasets itself
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ConfigError(
            f"{repo}: cannot reach {endpoint} ({reason}); set HF_HUB_OFFLINE=1 to use a copy already in the "
            "Hugging Face cache, or give --data a local file or dataset directory"
        ) from None


def _resolve_revision(repo: str, requested: str | None) -> tuple[str | None, list[str]]:
    if Path(repo).exists():
        files = sorted(p for p in Path(repo).rglob("*") if p.is_file() and ".git" not in p.parts)
        digest = content_hash([[str(p.relative_to(repo)), file_sha256(p)] for p in files], length=64)
        return f"local-dir:{digest}", ["loaded from a local directory"]
    try:
        from huggingface_hub import HfApi

        return HfApi().dataset_info(repo, revision=requested).sha, []
    except Exception as exc:
        note = f"could not confirm the hub revision ({type(exc).__name__}); recorded the requested one"
        return requested, [note]


def parse_data_spec(spec: str) -> tuple[str, str | None, str | None]:
    """`sample`, `hf`, `hf:REPO`, `hf:REPO@REVISION` or a file path -> (kind, location, revision)."""
    if spec == "sample":
        return "sample", None, None
    if spec == "hf" or spec.startswith("hf:"):
        rest = spec[3:] if spec.startswith("hf:") else HF_REPO
        repo, _, revision = rest.partition("@")
        return "hf", repo or HF_REPO, revision or None
    return "file", spec, None


def load(spec: str = "sample", *, split: str = "test", revision: str | None = None) -> tuple[list[Item], DatasetInfo]:
    kind, location, spec_revision = parse_data_spec(spec)
    if kind == "sample":
        return load_sample()
    if kind == "hf":
        assert location is not None
        return load_hub(location, split=split, revision=revision or spec_revision)
    assert location is not None
    return load_file(location)
