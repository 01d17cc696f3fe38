"""Loaders for the CARES-VQA question files, one per source, each handling that file's quirks.

Released files (Xia et al. 2024, richard-peng-xia/CARES; `DEFAULT_FILES` gives the seven paths):

- ``iu-xray``: yes/no. ``question_id`` is 0 on every row, so the id is a hash of image and
  question. The answer is free text: one starting with the word "yes" or "no" gives that truth;
  any other (125 in the release, e.g. "The report does not mention...") is marked ambiguous.
- ``ham10000``: multiple choice with no ``answer``; the truth is ``fig_caption`` ("C:upper
  extremity"). ``question_id`` names the image and repeats, so the id adds a content hash.
- ``ol3i``: multiple choice; the truth is ``answer`` ("B:No"), read by letter and checked against
  the option text, because B is "No" in some rows and "Yes" in others. ``age`` may be "90+".
- ``fairvlmed``: open-ended, with a sentence as reference. ``question_id`` is the source
  dataset's index, several questions per image, so the id adds a content hash. Demographics are
  not in the file: add them with `cares.data.vqa.demographics.join_demographics`.

The three large released files (``mimic-cxr``, ``pmc-oa``, ``omnimedvqa``) are read by
`cares.data.vqa.large_sources`, whose docstring gives their shapes.

Every released loader first checks the row's shape (`fields.require_shape`): a row lacking
fields its source needs is an error naming the file, the line and every field it lacks, never
loaded as some other kind of item.

Custom sets (``custom``), JSONL, CSV or parquet, one item a line or row:

=============  =========  ======================================================================
field          required   meaning
=============  =========  ======================================================================
id             yes        unique in the file; the item id becomes ``custom:<id>``
image          yes        image path relative to the image root given at run time
question       yes        the question sent with the image
answer_type    yes        ``yesno``, ``mc`` or ``open``
options        mc only    a list of strings, or one string "A:first, B:second" (commas inside
                          an option are fine); in CSV, either form in one cell
answer         yes        yesno: ``yes`` or ``no``; mc: the letter ("B"), "B:text" or the
                          option text; open: the reference answer
age            no         years (int, or a string such as "67" or "90+")
gender         no         male/female (M/F accepted); empty or "unknown" when missing
race           no         free text, grouped case-insensitively
=============  =========  ======================================================================

Custom files are checked strictly: an answer that names no option, or a yesno answer other than
yes/no, is an error to fix rather than an ambiguous item, since its author can correct it.

Errors (a missing field, a wrong type, unreadable options, a duplicate id, an unknown source)
raise `cares.errors.InputError` naming the file, line and field.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cares.data.records import RawRecord, file_sha256, read_records
from cares.data.vqa import fields
from cares.data.vqa.large_sources import load_omnimedvqa, load_open_ended
from cares.data.vqa.options import normalise_text
from cares.data.vqa.records import ANSWER_TYPES, VQALoadReport, VQARecord, content_key
from cares.errors import InputError

SOURCES: dict[str, str] = {
    "iu-xray": "IU-Xray chest X-rays, yes/no questions (released file)",
    "ham10000": "HAM10000 dermatoscopy, multiple choice (released file)",
    "fairvlmed": "Harvard-FairVLMed SLO fundus, open-ended (released file; demographics joined from a CSV)",
    "ol3i": "OL3I heart CT, two-option multiple choice (released file)",
    "mimic-cxr": "MIMIC-CXR chest X-rays, open-ended, with age, gender and race (released file)",
    "pmc-oa": "PMC-OA mixed modalities, open-ended (released file)",
    "omnimedvqa": "OmniMedVQA mixed modalities, multiple choice over option_A..option_D (released file)",
    "custom": "your own VQA set in the normalised schema (JSONL, CSV or parquet)",
}

# Paths under the repository's data/ folder; the same layout is used in a fetched pack.
DEFAULT_FILES: dict[str, str] = {
    "mimic-cxr": "MIMIC-CXR/mimic_factuality.jsonl",
    "iu-xray": "IU-Xray/iuxray_factuality.jsonl",
    "fairvlmed": "Harvard-FairVLMed/fundus_factuality.jsonl",
    "ham10000": "HAM10000/HAM10000_factuality.jsonl",
    "ol3i": "OL3I/OL3I_factuality.jsonl",
    "pmc-oa": "PMC-OA/pmcoa_factuality.jsonl",
    "omnimedvqa": "OmniMedVQA/omnimedvqa_factuality.jsonl",
}

IU_XRAY_SHAPE = ("image", ("text", "question"), "answer")
HAM10000_SHAPE = ("question_id", "image", "text", "options", "fig_caption")
OL3I_SHAPE = ("image", "text", "options", "answer")
FAIRVLMED_SHAPE = ("question_id", "image", "text", "answer")


def load_vqa(source: str, path: str | Path) -> tuple[list[VQARecord], VQALoadReport]:
    """Load one source's question file. For a released source, `path` may also be the pack's root folder."""
    path = Path(path)
    if source not in SOURCES:
        raise InputError(path, f"unknown CARES-VQA source {source!r}; choose one of: {', '.join(SOURCES)}")
    if source in DEFAULT_FILES and path.is_dir():
        path = path / DEFAULT_FILES[source]
    raws = read_records(path)
    records = _LOADERS[source](source, raws)
    report = VQALoadReport.build(source, str(path), file_sha256(path), len(raws), records)
    return records, report


# -- the four files in the shared copies ----------------------------------------------------------


def _load_iu_xray(source: str, raws: list[RawRecord]) -> list[VQARecord]:
    records, bases = [], []
    for raw in raws:
        fields.require_shape(raw, source, IU_XRAY_SHAPE)
        question, image = fields.question(raw, "text", "question"), fields.image(raw)
        answer = fields.string(raw, "answer", allow_empty=True)
        records.append(fields.yes_no_record(source, raw, question, image, answer, fields.question_id(raw)))
        bases.append(f"{source}:{content_key(image, question)}")
    return fields.with_ids(records, bases)


def _load_ham10000(source: str, raws: list[RawRecord]) -> list[VQARecord]:
    records, bases = [], []
    for raw in raws:
        fields.require_shape(raw, source, HAM10000_SHAPE)
        question, image = fields.question(raw, "text"), fields.image(raw)
        qid = fields.question_id(raw, required=True)
        options, caption = fields.options(raw), fields.string(raw, "fig_caption")
        records.append(fields.mc_record(source, raw, question, image, options, caption, qid))
        bases.append(f"{source}:{qid}:{content_key(image, question)}")
    return fields.with_ids(records, bases)


def _load_ol3i(source: str, raws: list[RawRecord]) -> list[VQARecord]:
    records, bases = [], []
    for raw in raws:
        fields.require_shape(raw, source, OL3I_SHAPE)
        question, image = fields.question(raw, "text"), fields.image(raw)
        options, answer = fields.options(raw), fields.string(raw, "answer")
        records.append(fields.mc_record(source, raw, question, image, options, answer, fields.question_id(raw)))
        bases.append(f"{source}:{content_key(image, question)}")
    return fields.with_ids(records, bases)


def _load_fairvlmed(source: str, raws: list[RawRecord]) -> list[VQARecord]:
    records, bases = [], []
    for raw in raws:
        fields.require_shape(raw, source, FAIRVLMED_SHAPE)
        question, image = fields.question(raw, "text"), fields.image(raw)
        qid = fields.question_id(raw, required=True)
        answer = fields.string(raw, "answer", allow_empty=True)
        records.append(fields.open_record(source, raw, question, image, answer, qid))
        bases.append(f"{source}:{qid}:{content_key(image, question)}")
    return fields.with_ids(records, bases)


# -- custom ---------------------------------------------------------------------------------------


def _load_custom(source: str, raws: list[RawRecord]) -> list[VQARecord]:
    records: list[VQARecord] = []
    first_line: dict[str, int] = {}
    for raw in raws:
        item_id = _custom_id(raw)
        if item_id in first_line:
            raise raw.error(f"duplicate id {item_id!r} (first on line {first_line[item_id]})", "id")
        first_line[item_id] = raw.line
        question, image = fields.question(raw, "question"), fields.image(raw)
        answer_type = fields.string(raw, "answer_type").strip().lower()
        if answer_type not in ANSWER_TYPES:
            raise raw.error(f"expected one of {', '.join(ANSWER_TYPES)}, got {answer_type!r}", "answer_type")
        answer = fields.string(raw, "answer")
        if answer_type != "mc" and fields.present(raw, "options"):
            raise raw.error(f"options are only for mc items, this one is {answer_type}", "options")
        if answer_type == "yesno":
            if normalise_text(answer) not in ("yes", "no"):
                raise raw.error(f"a yesno answer must be yes or no, got {answer!r}", "answer")
            record = fields.yes_no_record(source, raw, question, image, answer, item_id)
        elif answer_type == "mc":
            record = fields.mc_record(source, raw, question, image, fields.options(raw), answer, item_id)
            if record.ambiguous:
                raise raw.error(f"{record.ambiguous} ({answer!r})", "answer")
        else:
            record = fields.open_record(source, raw, question, image, answer, item_id)
        records.append(record)
    return fields.with_ids(records, [f"{source}:{record.question_id}" for record in records])


def _custom_id(raw: RawRecord) -> str:
    value = raw.data.get("id")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        if value is None:
            raise raw.error("is missing", "id")
        raise raw.error(f"expected a string or an integer, got {type(value).__name__}", "id")
    text = str(value).strip()
    if not text:
        raise raw.error("is empty", "id")
    return text


_LOADERS: dict[str, Callable[[str, list[RawRecord]], list[VQARecord]]] = {
    "iu-xray": _load_iu_xray,
    "ham10000": _load_ham10000,
    "fairvlmed": _load_fairvlmed,
    "ol3i": _load_ol3i,
    "mimic-cxr": load_open_ended,
    "pmc-oa": load_open_ended,
    "omnimedvqa": load_omnimedvqa,
    "custom": _load_custom,
}
