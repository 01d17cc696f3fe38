"""Loaders for the three large released files: MIMIC-CXR, PMC-OA and OmniMedVQA.

These files are in the public repository at the pinned commit; their shapes are taken from the
upstream scripts and third-party code that read them. That is why each loader checks a row's shape
strictly and refuses, naming file, line and missing fields, any row that does not have it: a silent
fallback (to open-ended, say) would score the benchmark wrongly without anyone noticing.

- ``mimic-cxr``: open-ended. ``question_id``, ``image``, ``text`` (the question) and ``answer``
  (the reference), plus the patient's ``age``, ``gender`` and ``race`` where the row carries
  them; missing ones can be joined from a CSV (`cares.data.vqa.demographics`).
- ``pmc-oa``: open-ended, same shape, no demographics.
- ``omnimedvqa``: multiple choice. ``question_id``, ``text``, ``answer`` (the option *text*, not
  a letter), ``image`` (``Images/<dataset>/.../file``), ``dataset`` (the OmniMedVQA sub-dataset,
  kept as the record's `subset`) and the options in ``option_A``, ``option_B`` and, where the
  question has them, ``option_C`` and ``option_D``. The truth is the option whose text equals
  the answer, ignoring case and spacing; an answer that names no option, or several, is an error.

Ids are ``<source>:<question_id>`` when question_ids are unique in the file, otherwise the
question_id plus a hash of image and question.
"""

from __future__ import annotations

from cares.data.records import RawRecord
from cares.data.vqa import fields
from cares.data.vqa.options import Options, format_options, letters
from cares.data.vqa.records import VQARecord

OPEN_SHAPE = ("question_id", "image", "text", "answer")
OMNIMEDVQA_SHAPE = ("question_id", "image", "text", "answer", "dataset", "option_A", "option_B")
# Fields that mark a multiple-choice row; an open-ended source must not quietly drop them. (Not
# `fig_caption`: PMC-derived rows may carry the figure's caption beside the question.)
_CHOICE_FIELDS = ("options", "option_A", "option_B")
_MAX_OPTIONS = 26


def load_open_ended(source: str, raws: list[RawRecord]) -> list[VQARecord]:
    """MIMIC-CXR and PMC-OA: CARES-style open-ended rows, the answer being the reference."""
    records: list[VQARecord] = []
    for raw in raws:
        fields.require_shape(raw, source, OPEN_SHAPE)
        choice = next((name for name in _CHOICE_FIELDS if fields.present(raw, name)), None)
        if choice is not None:
            raise raw.error(f"{source} questions are open-ended, but this row has multiple-choice options; "
                            "load your own multiple-choice set as source 'custom'", choice)
        qid = fields.question_id(raw, required=True)
        question, image = fields.question(raw, "text"), fields.image(raw)
        answer = fields.string(raw, "answer", allow_empty=True)
        records.append(fields.open_record(source, raw, question, image, answer, qid))
    return fields.with_question_ids(source, records)


def load_omnimedvqa(source: str, raws: list[RawRecord]) -> list[VQARecord]:
    records: list[VQARecord] = []
    for raw in raws:
        fields.require_shape(raw, source, OMNIMEDVQA_SHAPE)
        qid = fields.question_id(raw, required=True)
        question, image = fields.question(raw, "text"), fields.image(raw)
        subset = fields.string(raw, "dataset").strip()
        choices = option_fields(raw)
        answer = fields.string(raw, "answer")
        letter = truth_letter(raw, choices, answer)
        records.append(fields.record(
            source, raw, question=question, image=image, answer_type="mc", options=choices, truth=letter,
            truth_text=dict(choices)[letter], ambiguous=None, question_id=qid, raw_answer=answer, subset=subset,
        ))
    return fields.with_question_ids(source, records)


def option_fields(raw: RawRecord) -> Options:
    """Options from ``option_A``, ``option_B``, ...: a question has two to four, and the letters
    must run without a gap, since upstream's scorer stops at the first one missing."""
    found: list[tuple[str, str]] = []
    gap: str | None = None
    for letter in letters(_MAX_OPTIONS):
        name = f"option_{letter}"
        if not fields.present(raw, name):
            gap = gap or name
            continue
        if gap is not None:
            raise raw.error(f"is given but {gap} is not; options must run A, B, C... without a gap", name)
        found.append((letter, fields.string(raw, name).strip()))
    return tuple(found)


def truth_letter(raw: RawRecord, choices: Options, answer: str) -> str:
    """The letter of the option whose text is `answer`, ignoring case and spacing; never a guess."""
    wanted = _fold(answer)
    named = [letter for letter, text in choices if _fold(text) == wanted]
    if len(named) == 1:
        return named[0]
    if named:
        raise raw.error(f"{answer!r} matches several options ({', '.join(named)})", "answer")
    raise raw.error(f"{answer!r} matches none of the options ({format_options(choices)})", "answer")


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()
