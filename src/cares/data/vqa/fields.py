"""Reading one row's fields and building its `VQARecord`: the pieces every CARES-VQA loader shares.

Every reader raises `cares.errors.InputError` naming the file, the line and the field, so a bad
row is always located exactly. `require_shape` is checked first by every released loader: a row
that lacks the fields its source's shape needs is refused with all of them named at once, rather
than loaded as some other kind of item (an open-ended item with no options, say).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from cares.data.records import RawRecord
from cares.data.vqa.options import Options, OptionsError, match_answer, parse_options, yes_no
from cares.data.vqa.records import (
    VQARecord,
    assign_ids,
    clean_question,
    content_key,
    parse_age,
    parse_gender,
    parse_race,
    question_id_string,
)

NOT_YES_NO = "answer is neither yes nor no"
NO_REFERENCE = "no reference answer"


def present(raw: RawRecord, name: str) -> bool:
    """Whether the row carries a value for `name`: null, "" and [] count as absent."""
    value = raw.data.get(name)
    return value is not None and value != "" and value != []


def require_shape(raw: RawRecord, source: str, fields: Sequence[str | tuple[str, ...]]) -> None:
    """Refuse a row lacking any of `fields`, naming every one it lacks and the shape expected.

    A tuple in `fields` is satisfied by any one of its names (("text", "question")). One missing
    field is reported as that field ("field 'answer': is missing ..."), like any other field
    error; several are listed in the message, since no single field is to blame.
    """
    def name(spec: str | tuple[str, ...]) -> str:
        return spec if isinstance(spec, str) else f"{spec[0]} (or {', '.join(spec[1:])})"

    def lacks(spec: str | tuple[str, ...]) -> bool:
        names = (spec,) if isinstance(spec, str) else spec
        return all(raw.data.get(one) is None for one in names)

    missing = [spec for spec in fields if lacks(spec)]
    if not missing:
        return
    shape = f"{source} rows have {', '.join(name(spec) for spec in fields)}"
    if len(missing) == 1:
        first = missing[0]
        raise raw.error(f"is missing ({shape})", first if isinstance(first, str) else first[0])
    raise raw.error(f"lacks fields {', '.join(name(spec) for spec in missing)} ({shape})")


def string(raw: RawRecord, name: str, *, allow_empty: bool = False) -> str:
    value = raw.data.get(name)
    if value is None:
        raise raw.error("is missing", name)
    if not isinstance(value, str):
        raise raw.error(f"expected a string, got {type(value).__name__}", name)
    if not allow_empty and not value.strip():
        raise raw.error("is empty", name)
    return value


def question(raw: RawRecord, *names: str) -> str:
    """The question from the first of `names` the row carries, without the "<image>" placeholder."""
    chosen = next((name for name in names if raw.data.get(name) is not None), names[0])
    text = clean_question(string(raw, chosen))
    if not text:
        raise raw.error("has no question besides the image placeholder", chosen)
    return text


def image(raw: RawRecord) -> str:
    return string(raw, "image")


def question_id(raw: RawRecord, *, required: bool = False) -> str | None:
    try:
        qid = question_id_string(raw.data.get("question_id"))
    except ValueError as exc:
        raise raw.error(str(exc), "question_id") from None
    if qid is None and required:
        raise raw.error("is missing", "question_id")
    return qid


def options(raw: RawRecord, name: str = "options") -> Options:
    value = raw.data.get(name)
    if value is None:
        raise raw.error("is missing", name)
    try:
        return parse_options(value)
    except OptionsError as exc:
        raise raw.error(str(exc), name) from None


def demographics(raw: RawRecord) -> tuple[int | None, str | None, str | None, str | None]:
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


def record(
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
    subset: str | None = None,
) -> VQARecord:
    age, group, gender, race = demographics(raw)
    written = next((raw.data[name] for name in ("text", "question") if isinstance(raw.data.get(name), str)), question)
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
        subset=subset,
        raw_question=written if written != question else None,
    )


def yes_no_record(source: str, raw: RawRecord, question: str, image: str, answer: str, qid: str | None) -> VQARecord:
    verdict = yes_no(answer)
    return record(
        source, raw, question=question, image=image, answer_type="yesno", truth=verdict, truth_text=verdict,
        ambiguous=None if verdict else NOT_YES_NO, question_id=qid, raw_answer=answer,
    )


def mc_record(
    source: str, raw: RawRecord, question: str, image: str, choices: Options, answer: str, qid: str | None
) -> VQARecord:
    match = match_answer(answer, choices)
    return record(
        source, raw, question=question, image=image, answer_type="mc", options=choices, truth=match.letter,
        truth_text=match.text, ambiguous=match.problem, question_id=qid, raw_answer=answer,
    )


def open_record(source: str, raw: RawRecord, question: str, image: str, answer: str, qid: str | None) -> VQARecord:
    reference = answer.strip() or None
    return record(
        source, raw, question=question, image=image, answer_type="open", truth=reference, truth_text=reference,
        ambiguous=None if reference else NO_REFERENCE, question_id=qid, raw_answer=answer,
    )


def with_ids(records: list[VQARecord], bases: list[str]) -> list[VQARecord]:
    return [replace(rec, id=new_id) for rec, new_id in zip(records, assign_ids(bases), strict=True)]


def with_question_ids(source: str, records: list[VQARecord]) -> list[VQARecord]:
    """Ids from the file's question_ids: ``<source>:<qid>`` when they are unique across the file;
    otherwise (several questions per image share one) the qid plus a hash of image and question."""
    qids = [rec.question_id for rec in records]
    if all(qid is not None for qid in qids) and len(set(qids)) == len(qids):
        bases = [f"{source}:{qid}" for qid in qids]
    else:
        bases = [f"{source}:{rec.question_id}:{content_key(rec.image, rec.question)}" for rec in records]
    return with_ids(records, bases)
