"""Loaders for the CARES-VQA question files, one per source, each handling that file's quirks.

Released files (Xia et al. 2024, richard-peng-xia/CARES; `DEFAULT_FILES` gives their paths):

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

Generic CARES-style JSONL (``mimic-cxr``, ``pmc-oa``, ``omnimedvqa``), one object a line:
``image`` (required), ``text`` (or ``question``; required), ``answer`` (or ``fig_caption``),
``options`` (optional, "A:..., B:..." or a list), ``question_id``, ``age``, ``gender``, ``race``
(optional). With options the item is "mc" and the truth is the option the answer names (letter,
"B:No" or the option text); otherwise an answer starting with yes/no makes it "yesno", anything
else "open". The id is ``<source>:<question_id>`` when question_ids are unique across the file,
else it is built from a content hash.

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
from dataclasses import replace
from pathlib import Path

from cares.data.records import RawRecord, file_sha256, read_records
from cares.data.vqa.options import Options, OptionsError, match_answer, normalise_text, parse_options, yes_no
from cares.data.vqa.records import (
    ANSWER_TYPES,
    VQALoadReport,
    VQARecord,
    assign_ids,
    clean_question,
    content_key,
    parse_age,
    parse_gender,
    parse_race,
    question_id_string,
)
from cares.errors import InputError

SOURCES: dict[str, str] = {
    "iu-xray": "IU-Xray chest X-rays, yes/no questions (released file)",
    "ham10000": "HAM10000 dermatoscopy, multiple choice (released file)",
    "fairvlmed": "Harvard-FairVLMed SLO fundus, open-ended (released file; demographics joined from a CSV)",
    "ol3i": "OL3I heart CT, two-option multiple choice (released file)",
    "mimic-cxr": "MIMIC-CXR chest X-rays, open-ended (not in the public pack; generic CARES-style JSONL)",
    "pmc-oa": "PMC-OA mixed modalities, open-ended (not in the public pack; generic CARES-style JSONL)",
    "omnimedvqa": "OmniMedVQA mixed modalities, multiple choice (not in the public pack; generic CARES-style JSONL)",
    "custom": "your own VQA set in the normalised schema (JSONL, CSV or parquet)",
}

DEFAULT_FILES: dict[str, str] = {
    "iu-xray": "IU-Xray/iuxray_factuality.jsonl",
    "ham10000": "HAM10000/HAM10000_factuality.jsonl",
    "fairvlmed": "Harvard-FairVLMed/fundus_factuality.jsonl",
    "ol3i": "OL3I/OL3I_factuality.jsonl",
}

GENERIC_SOURCES = ("mimic-cxr", "pmc-oa", "omnimedvqa")

NOT_YES_NO = "answer is neither yes nor no"
NO_REFERENCE = "no reference answer"


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


# -- fields -------------------------------------------------------------------------------------


def _string(raw: RawRecord, name: str, *, allow_empty: bool = False) -> str:
    value = raw.data.get(name)
    if value is None:
        raise raw.error("is missing", name)
    if not isinstance(value, str):
        raise raw.error(f"expected a string, got {type(value).__name__}", name)
    if not allow_empty and not value.strip():
        raise raw.error("is empty", name)
    return value


def _question(raw: RawRecord, *names: str) -> str:
    present = next((name for name in names if raw.data.get(name) is not None), names[0])
    question = clean_question(_string(raw, present))
    if not question:
        raise raw.error("has no question besides the image placeholder", present)
    return question


def _image(raw: RawRecord) -> str:
    return _string(raw, "image")


def _question_id(raw: RawRecord, *, required: bool = False) -> str | None:
    try:
        qid = question_id_string(raw.data.get("question_id"))
    except ValueError as exc:
        raise raw.error(str(exc), "question_id") from None
    if qid is None and required:
        raise raw.error("is missing", "question_id")
    return qid


def _options(raw: RawRecord, name: str = "options") -> Options:
    value = raw.data.get(name)
    if value is None:
        raise raw.error("is missing", name)
    try:
        return parse_options(value)
    except OptionsError as exc:
        raise raw.error(str(exc), name) from None


def _has_value(raw: RawRecord, name: str) -> bool:
    value = raw.data.get(name)
    return value is not None and value != "" and value != []


def _demographics(raw: RawRecord) -> tuple[int | None, str | None, str | None, str | None]:
    """(age, age_group, gender, race); fields a file does not carry come back None."""
    try:
        age, group = parse_age(raw.data.get("age"))
    except ValueError as exc:
        raise raw.error(str(exc), "age") from None
    try:
        gender = parse_gender(raw.data.get("gender"))
    except ValueError as exc:
        raise raw.error(str(exc), "gender") from None
    try:
        race = parse_race(raw.data.get("race"))
    except ValueError as exc:
        raise raw.error(str(exc), "race") from None
    return age, group, gender, race


def _record(
    source: str,
    raw: RawRecord,
    *,
    question: str,
    image: str,
    answer_type: str,
    truth: str | None,
    truth_text: str | None,
    ambiguous: str | None,
    question_id: str | None,
    raw_answer: str | None,
    options: Options = (),
) -> VQARecord:
    age, group, gender, race = _demographics(raw)
    return VQARecord(
        id="",
        source=source,
        question=question,
        image=image,
        answer_type=answer_type,
        options=options,
        truth=truth,
        truth_text=truth_text,
        ambiguous=ambiguous,
        age=age,
        age_group=group,
        gender=gender,
        race=race,
        question_id=question_id,
        line=raw.line,
        raw_answer=raw_answer,
    )


def _with_ids(records: list[VQARecord], bases: list[str]) -> list[VQARecord]:
    return [replace(record, id=new_id) for record, new_id in zip(records, assign_ids(bases), strict=True)]


def _yes_no_record(source: str, raw: RawRecord, question: str, image: str, answer: str, qid: str | None) -> VQARecord:
    verdict = yes_no(answer)
    return _record(
        source, raw, question=question, image=image, answer_type="yesno", truth=verdict, truth_text=verdict,
        ambiguous=None if verdict else NOT_YES_NO, question_id=qid, raw_answer=answer,
    )


def _mc_record(
    source: str, raw: RawRecord, question: str, image: str, options: Options, answer: str, qid: str | None
) -> VQARecord:
    match = match_answer(answer, options)
    return _record(
        source, raw, question=question, image=image, answer_type="mc", options=options, truth=match.letter,
        truth_text=match.text, ambiguous=match.problem, question_id=qid, raw_answer=answer,
    )


def _open_record(source: str, raw: RawRecord, question: str, image: str, answer: str, qid: str | None) -> VQARecord:
    reference = answer.strip() or None
    return _record(
        source, raw, question=question, image=image, answer_type="open", truth=reference, truth_text=reference,
        ambiguous=None if reference else NO_REFERENCE, question_id=qid, raw_answer=answer,
    )


# -- released sources ---------------------------------------------------------------------------


def _load_iu_xray(source: str, raws: list[RawRecord]) -> list[VQARecord]:
    records, bases = [], []
    for raw in raws:
        question, image = _question(raw, "text", "question"), _image(raw)
        answer = _string(raw, "answer", allow_empty=True)
        records.append(_yes_no_record(source, raw, question, image, answer, _question_id(raw)))
        bases.append(f"{source}:{content_key(image, question)}")
    return _with_ids(records, bases)


def _load_ham10000(source: str, raws: list[RawRecord]) -> list[VQARecord]:
    records, bases = [], []
    for raw in raws:
        question, image, qid = _question(raw, "text"), _image(raw), _question_id(raw, required=True)
        options, caption = _options(raw), _string(raw, "fig_caption")
        records.append(_mc_record(source, raw, question, image, options, caption, qid))
        bases.append(f"{source}:{qid}:{content_key(image, question)}")
    return _with_ids(records, bases)


def _load_ol3i(source: str, raws: list[RawRecord]) -> list[VQARecord]:
    records, bases = [], []
    for raw in raws:
        question, image = _question(raw, "text"), _image(raw)
        options, answer = _options(raw), _string(raw, "answer")
        records.append(_mc_record(source, raw, question, image, options, answer, _question_id(raw)))
        bases.append(f"{source}:{content_key(image, question)}")
    return _with_ids(records, bases)


def _load_fairvlmed(source: str, raws: list[RawRecord]) -> list[VQARecord]:
    records, bases = [], []
    for raw in raws:
        question, image, qid = _question(raw, "text"), _image(raw), _question_id(raw, required=True)
        answer = _string(raw, "answer", allow_empty=True)
        records.append(_open_record(source, raw, question, image, answer, qid))
        bases.append(f"{source}:{qid}:{content_key(image, question)}")
    return _with_ids(records, bases)


# -- generic and custom -------------------------------------------------------------------------


def _load_generic(source: str, raws: list[RawRecord]) -> list[VQARecord]:
    records: list[VQARecord] = []
    for raw in raws:
        question, image, qid = _question(raw, "text", "question"), _image(raw), _question_id(raw)
        # HAM10000-style files keep the truth in fig_caption instead of answer.
        use_caption = raw.data.get("answer") is None and "fig_caption" in raw.data
        answer_field = "fig_caption" if use_caption else "answer"
        answer = _string(raw, answer_field, allow_empty=True)
        if _has_value(raw, "options"):
            records.append(_mc_record(source, raw, question, image, _options(raw), answer, qid))
        elif yes_no(answer):
            records.append(_yes_no_record(source, raw, question, image, answer, qid))
        else:
            records.append(_open_record(source, raw, question, image, answer, qid))
    qids = [record.question_id for record in records]
    present = [qid for qid in qids if qid is not None]
    if len(present) == len(qids) and len(set(present)) == len(present):
        bases = [f"{source}:{qid}" for qid in present]
    elif len(present) == len(qids) and len(set(present)) > 1:
        bases = [f"{source}:{r.question_id}:{content_key(r.image, r.question)}" for r in records]
    else:
        bases = [f"{source}:{content_key(r.image, r.question)}" for r in records]
    return _with_ids(records, bases)


def _load_custom(source: str, raws: list[RawRecord]) -> list[VQARecord]:
    records: list[VQARecord] = []
    first_line: dict[str, int] = {}
    for raw in raws:
        item_id = _custom_id(raw)
        if item_id in first_line:
            raise raw.error(f"duplicate id {item_id!r} (first on line {first_line[item_id]})", "id")
        first_line[item_id] = raw.line
        question, image = _question(raw, "question"), _image(raw)
        answer_type = _string(raw, "answer_type").strip().lower()
        if answer_type not in ANSWER_TYPES:
            raise raw.error(f"expected one of {', '.join(ANSWER_TYPES)}, got {answer_type!r}", "answer_type")
        answer = _string(raw, "answer")
        if answer_type != "mc" and _has_value(raw, "options"):
            raise raw.error(f"options are only for mc items, this one is {answer_type}", "options")
        if answer_type == "yesno":
            if normalise_text(answer) not in ("yes", "no"):
                raise raw.error(f"a yesno answer must be yes or no, got {answer!r}", "answer")
            record = _yes_no_record(source, raw, question, image, answer, item_id)
        elif answer_type == "mc":
            record = _mc_record(source, raw, question, image, _options(raw), answer, item_id)
            if record.ambiguous:
                raise raw.error(f"{record.ambiguous} ({answer!r})", "answer")
        else:
            record = _open_record(source, raw, question, image, answer, item_id)
        records.append(record)
    return _with_ids(records, [f"{source}:{record.question_id}" for record in records])


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
    "mimic-cxr": _load_generic,
    "pmc-oa": _load_generic,
    "omnimedvqa": _load_generic,
    "custom": _load_custom,
}

