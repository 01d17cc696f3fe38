"""The normalised CARES-VQA question record, its load report, and the field normalisers every loader shares.

Identity: every record has an `id` that depends only on the file's content, never on where a
row sits, so predictions are always paired with questions by id. Rows whose identifying content
is identical (same image and question) are told apart by suffixes `~2`, `~3` in line order,
the only place line order matters.

Demographics: `age` is the exact age in completed years when known; a top-coded age such as
"90+" has `age` None and `age_group` "90+". Age groups are decades ("40-49"), with every age of
90 or more in "90+" so that exact and top-coded ages of the very old land in one group.
`gender` is "male", "female" or None; `race` is lower-cased so that spellings group together.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cares.types import Item

BENCHMARK = "cares-vqa"
ANSWER_TYPES = ("yesno", "mc", "open")

_IMAGE_PLACEHOLDER = re.compile(r"^\s*(?:<image>\s*)+|(?:\s*<image>)+\s*$")
_MISSING = {"", "unknown", "unk", "u", "na", "n/a", "nan", "none", "null", "not reported", "-"}
_MALE = {"m", "male", "man", "boy"}
_FEMALE = {"f", "female", "woman", "girl"}
_TOP_CODED = re.compile(r"^(\d+)\s*\+$")
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
MAX_AGE = 130


@dataclass(frozen=True)
class VQARecord:
    """One CARES-VQA question about one image, with its truth and the patient's demographics."""

    id: str
    source: str  # "iu-xray" | "ham10000" | "fairvlmed" | "ol3i" | "mimic-cxr" | "pmc-oa" | "omnimedvqa" | "custom"
    question: str  # the text sent to the model, without the "<image>" placeholder
    image: str  # relative to the source's image root, exactly as in the file
    answer_type: str  # "yesno" | "mc" | "open"
    options: tuple[tuple[str, str], ...]  # (("A", "scalp"), ("B", "ear"), ...); () unless mc
    truth: str | None  # yesno: "yes"/"no"; mc: the option letter; open: the reference; None when ambiguous
    truth_text: str | None  # mc: the correct option's text; yesno: "yes"/"no"; open: the reference
    ambiguous: str | None  # why the truth cannot be read; such items are counted apart, never guessed
    age: int | None
    age_group: str | None
    gender: str | None
    race: str | None
    question_id: str | None  # the file's own question_id, as a string
    line: int  # 1-based line (or row) in the source file
    raw_answer: str | None = None  # the file's answer as written, so ambiguous labels can be audited
    subset: str | None = None  # a source's own sub-dataset (OmniMedVQA's `dataset`), for slicing results
    # The question as the file writes it, placeholder included, where that differs from `question`:
    # `--protocol upstream` builds its prompts from it, as the public code does.
    raw_question: str | None = None

    def to_item(self) -> Item:
        metadata: dict[str, Any] = {
            "source": self.source,
            "question": self.question,
            "image": self.image,
            "answer_type": self.answer_type,
            "options": [[letter, text] for letter, text in self.options],
            "truth": self.truth,
            "truth_text": self.truth_text,
            "ambiguous": self.ambiguous,
            "age": self.age,
            "age_group": self.age_group,
            "gender": self.gender,
            "race": self.race,
            "question_id": self.question_id,
            "line": self.line,
            "raw_answer": self.raw_answer,
        }
        if self.subset is not None:
            # Only where a source has sub-datasets, so other sources' items keep their exact metadata.
            metadata["subset"] = self.subset
        if self.raw_question is not None:
            metadata["raw_question"] = self.raw_question
        return Item(
            id=self.id,
            benchmark=BENCHMARK,
            prompt=self.question,
            group=f"{self.source}:{self.image}",
            metadata=metadata,
        )

    @classmethod
    def from_item(cls, item: Item) -> VQARecord:
        if item.benchmark != BENCHMARK:
            raise ValueError(f"item {item.id!r} belongs to benchmark {item.benchmark!r}, not {BENCHMARK!r}")
        meta = item.metadata
        try:
            return cls(
                id=item.id,
                source=meta["source"],
                question=meta["question"],
                image=meta["image"],
                answer_type=meta["answer_type"],
                options=tuple((str(letter), str(text)) for letter, text in meta["options"]),
                truth=meta["truth"],
                truth_text=meta["truth_text"],
                ambiguous=meta["ambiguous"],
                age=meta["age"],
                age_group=meta["age_group"],
                gender=meta["gender"],
                race=meta["race"],
                question_id=meta["question_id"],
                line=meta["line"],
                raw_answer=meta.get("raw_answer"),
                subset=meta.get("subset"),
                raw_question=meta.get("raw_question"),
            )
        except KeyError as exc:
            raise ValueError(f"item {item.id!r} lacks CARES-VQA metadata field {exc.args[0]!r}") from None


@dataclass(frozen=True)
class VQALoadReport:
    """What a load found: enough to check a file against the published counts at a glance."""

    source: str
    path: str
    sha256: str
    n_lines: int  # records read (blank lines are skipped); every one becomes an item, none are dropped
    n_items: int
    n_ambiguous: int
    ambiguous_reasons: dict[str, int] = field(default_factory=dict)
    answer_types: dict[str, int] = field(default_factory=dict)
    truth_counts: dict[str, int] = field(default_factory=dict)  # yesno/mc: by truth; open: under "open"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "path": self.path,
            "sha256": self.sha256,
            "n_lines": self.n_lines,
            "n_items": self.n_items,
            "n_ambiguous": self.n_ambiguous,
            "ambiguous_reasons": dict(self.ambiguous_reasons),
            "answer_types": dict(self.answer_types),
            "truth_counts": dict(self.truth_counts),
        }

    @classmethod
    def build(cls, source: str, path: str, sha256: str, n_lines: int, records: list[VQARecord]) -> VQALoadReport:
        reasons = Counter(r.ambiguous for r in records if r.ambiguous is not None)
        truths = Counter(
            ("open" if r.answer_type == "open" else str(r.truth)) for r in records if r.ambiguous is None
        )
        return cls(
            source=source,
            path=path,
            sha256=sha256,
            n_lines=n_lines,
            n_items=len(records),
            n_ambiguous=sum(reasons.values()),
            ambiguous_reasons=dict(sorted(reasons.items())),
            answer_types=dict(sorted(Counter(r.answer_type for r in records).items())),
            truth_counts=dict(sorted(truths.items())),
        )


def clean_question(text: str) -> str:
    """The question as sent: without the LLaVA-style "<image>" placeholder or surrounding whitespace."""
    return _IMAGE_PLACEHOLDER.sub("", text).strip()


def content_key(image: str, question: str, length: int = 12) -> str:
    return hashlib.sha256(f"{image}\n{question}".encode()).hexdigest()[:length]


def assign_ids(bases: list[str]) -> list[str]:
    """Make ids unique: the first occurrence keeps its base, later ones get `~2`, `~3`, in list order."""
    seen: Counter[str] = Counter()
    ids: list[str] = []
    for base in bases:
        seen[base] += 1
        ids.append(base if seen[base] == 1 else f"{base}~{seen[base]}")
    return ids


def age_group(age: int) -> str:
    if age >= 90:
        return "90+"
    low = age // 10 * 10
    return f"{low}-{low + 9}"


def parse_age(value: object) -> tuple[int | None, str | None]:
    """(age, age_group) from an int, a float (floored to completed years), a numeric string or "90+".

    Raises ValueError with a message that says what was expected.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected an age in years, got {value!r}")
    if value is None:
        return None, None
    if isinstance(value, float):
        if math.isnan(value):
            return None, None
        value = math.floor(value)
    if isinstance(value, str):
        text = value.strip()
        if text.casefold() in _MISSING:
            return None, None
        top = _TOP_CODED.match(text)
        if top:
            bound = int(top.group(1))
            return None, ("90+" if bound >= 90 else f"{bound}+")
        if not _NUMBER.match(text):
            raise ValueError(f"expected an age in years or a top-coded age like '90+', got {value!r}")
        value = math.floor(float(text))
    if not isinstance(value, int):
        raise ValueError(f"expected an age in years, got {type(value).__name__}")
    if not 0 <= value <= MAX_AGE:
        raise ValueError(f"age {value} is out of range 0-{MAX_AGE}")
    return value, age_group(value)


def parse_gender(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected male or female, got {value!r}")
    key = value.strip().casefold()
    if key in _MALE:
        return "male"
    if key in _FEMALE:
        return "female"
    if key in _MISSING:
        return None
    raise ValueError(f"expected male/female (or M/F), or empty/unknown when missing, got {value!r}")


def parse_race(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    text = re.sub(r"\s+", " ", value).strip()
    return None if text.casefold() in _MISSING else text.lower()


def question_id_string(value: object) -> str | None:
    """The file's question_id as a string; integral floats (from CSV or parquet) lose their ".0"."""
    if isinstance(value, bool):
        raise ValueError(f"expected a string or an integer, got {value!r}")
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        return text or None
    raise ValueError(f"expected a string or an integer, got {type(value).__name__}")
