"""CARES-VQA loaders: the released files' counts and quirks, stable ids, and every bad-input error."""

from __future__ import annotations

import csv
import json
import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cares.data.vqa import (
    DEFAULT_FILES,
    PINNED_SHA256,
    SOURCES,
    VQARecord,
    join_demographics,
    load_vqa,
    match_answer,
    parse_age,
    parse_gender,
    parse_options,
    yes_no,
)
from cares.data.vqa.options import OptionsError
from cares.errors import ConfigError, InputError
from cares.types import Item

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
PACK = SHARED / "data" / "cares-vqa"
EXPECTED_ITEMS = {"iu-xray": 2573, "ham10000": 2000, "fairvlmed": 2838, "ol3i": 1000}
# The four released files the shared copies hold; the three large ones are tested on rows in their shapes.
LOCAL_FILES = {source: relative for source, relative in DEFAULT_FILES.items() if source in EXPECTED_ITEMS}


@pytest.fixture(scope="module")
def pack() -> Path:
    if not all((PACK / relative).is_file() for relative in LOCAL_FILES.values()):
        pytest.skip(f"the released CARES-VQA files are not at {PACK}")
    return PACK


@pytest.fixture(scope="module")
def loaded(pack: Path) -> dict[str, list[VQARecord]]:
    return {source: load_vqa(source, pack / relative)[0] for source, relative in LOCAL_FILES.items()}


def raw_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# -- the released files ---------------------------------------------------------------------------


@pytest.mark.parametrize("source", list(LOCAL_FILES))
def test_released_counts_hashes_and_unique_ids(pack: Path, source: str) -> None:
    records, report = load_vqa(source, pack / DEFAULT_FILES[source])
    assert report.n_items == report.n_lines == len(records) == EXPECTED_ITEMS[source]
    assert report.sha256 == PINNED_SHA256[DEFAULT_FILES[source]]
    assert len({record.id for record in records}) == len(records)
    assert all(record.id.startswith(f"{source}:") and "~" not in record.id for record in records)
    assert [record.line for record in records] == list(range(1, len(records) + 1))
    assert all(record.question and "<image>" not in record.question for record in records)
    assert all(record.question == record.question.strip() for record in records)
    json.dumps(report.to_dict())


def test_iu_xray_labels(loaded: dict[str, list[VQARecord]], pack: Path) -> None:
    records = loaded["iu-xray"]
    _, report = load_vqa("iu-xray", pack)  # the pack's root folder is accepted for a released source
    assert Counter(record.truth for record in records) == {"no": 1809, "yes": 639, None: 125}
    assert report.truth_counts == {"no": 1809, "yes": 639}
    assert report.n_ambiguous == 125
    assert report.ambiguous_reasons == {"answer is neither yes nor no": 125}
    assert report.answer_types == {"yesno": 2573}
    ambiguous = [record for record in records if record.ambiguous]
    assert all(record.truth is None and record.truth_text is None for record in ambiguous)
    assert any((record.raw_answer or "").startswith("The report does not mention") for record in ambiguous)
    assert all(record.truth_text == record.truth for record in records if not record.ambiguous)
    first = records[0]
    assert first.question.endswith("Please choose from the following two options: [yes, no]")
    assert first.image == "CXR3030_IM-1405/0.png" and first.question_id == "0" and first.options == ()


def test_iu_xray_always_no_baseline(loaded: dict[str, list[VQARecord]]) -> None:
    records = loaded["iu-xray"]
    said_no = sum(record.truth == "no" for record in records)
    unambiguous = [record for record in records if record.ambiguous is None]
    assert (said_no, len(records), len(unambiguous)) == (1809, 2573, 2448)
    assert round(100 * said_no / len(records), 1) == 70.3
    assert round(100 * said_no / len(unambiguous), 1) == 73.9


def test_ham10000_truth_from_fig_caption(loaded: dict[str, list[VQARecord]], pack: Path) -> None:
    records = loaded["ham10000"]
    rows = raw_rows(pack / DEFAULT_FILES["ham10000"])
    for record in records:
        row = rows[record.line - 1]
        assert f"{record.truth}:{record.truth_text}" == row["fig_caption"]
        assert record.options and len(record.options) == 4
        assert dict(record.options)[str(record.truth)] == record.truth_text
        assert record.question_id == row["question_id"] and record.id.startswith(f"ham10000:{row['question_id']}:")
        assert record.age == row["age"] and record.gender == row["gender"]
    assert Counter(record.truth for record in records) == {"D": 796, "C": 461, "A": 461, "B": 282}
    assert all(record.answer_type == "mc" and record.ambiguous is None for record in records)
    assert len({record.question_id for record in records}) == 1000  # two questions per image
    groups = Counter(record.age_group for record in records)
    assert groups["40-49"] == 460 and groups["0-9"] == 46 and groups["90+"] == 4


def test_ol3i_options_with_commas_inside(loaded: dict[str, list[VQARecord]]) -> None:
    records = loaded["ol3i"]
    assert all(len(record.options) == 2 for record in records)
    calcification = [r for r in records if r.options[0][1].startswith("Yes, calcification")]
    assert len(calcification) == 65
    assert calcification[0].options == (
        ("A", "Yes, calcification is present"),
        ("B", "No, there is no calcification visible in the image"),
    )
    spaced = [r for r in records if r.options[0][1] == "Yes, there are visual indicators"]
    assert spaced and spaced[0].options[1] == ("B", "No, there are no visual indicators")


def test_ol3i_truth_read_from_option_text(loaded: dict[str, list[VQARecord]], pack: Path) -> None:
    records = loaded["ol3i"]
    rows = raw_rows(pack / DEFAULT_FILES["ol3i"])
    for record in records:
        letter, text = rows[record.line - 1]["answer"].split(":", 1)
        assert record.truth == letter and record.truth_text == text.strip()
        assert dict(record.options)[letter] == record.truth_text
    assert all(record.answer_type == "mc" and record.ambiguous is None for record in records)
    assert Counter(record.truth for record in records) == {"B": 953, "A": 47}
    meaning = Counter(yes_no(record.truth_text or "") for record in records)
    assert (meaning["no"], meaning["yes"]) == (711, 84)
    # The letter does not carry the meaning: B is "Yes" where the options read "A:No, B:Yes".
    by_letter = Counter((record.truth, yes_no(record.truth_text or "")) for record in records)
    assert by_letter[("B", "yes")] == 70 and by_letter[("A", "no")] == 2
    assert by_letter[("B", "no")] == 709 and by_letter[("A", "yes")] == 14


def test_ol3i_top_coded_age(loaded: dict[str, list[VQARecord]]) -> None:
    records = loaded["ol3i"]
    oldest = [record for record in records if record.age_group == "90+"]
    assert len(oldest) == 5 and all(record.age is None for record in oldest)
    assert all(record.age is not None for record in records if record.age_group != "90+")
    assert Counter(record.gender for record in records) == {"female": 578, "male": 422}


def test_fairvlmed_open_answers(loaded: dict[str, list[VQARecord]]) -> None:
    records = loaded["fairvlmed"]
    assert all(record.answer_type == "open" and record.ambiguous is None for record in records)
    assert all(record.truth == record.truth_text == record.raw_answer for record in records)
    assert len({record.question_id for record in records}) == 713
    assert all(record.id.startswith(f"fairvlmed:{record.question_id}:") for record in records)
    assert all(record.age is None and record.gender is None and record.race is None for record in records)


@pytest.mark.parametrize("source", list(LOCAL_FILES))
def test_ids_stable_and_independent_of_line_order(pack: Path, tmp_path: Path, source: str) -> None:
    path = pack / DEFAULT_FILES[source]
    first, _ = load_vqa(source, path)
    second, _ = load_vqa(source, path)
    assert [r.id for r in first] == [r.id for r in second]
    lines = path.read_text(encoding="utf-8").splitlines()
    random.Random(7).shuffle(lines)
    shuffled_path = tmp_path / path.name
    shuffled_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    shuffled, _ = load_vqa(source, shuffled_path)

    def by_id(records: list[VQARecord]) -> dict[str, tuple[Any, ...]]:
        return {r.id: (r.image, r.question, r.truth, r.truth_text, r.age, r.gender) for r in records}

    assert by_id(shuffled) == by_id(first)
    assert [r.id for r in shuffled] != [r.id for r in first]  # the order really changed


def test_item_round_trip(loaded: dict[str, list[VQARecord]]) -> None:
    for records in loaded.values():
        for record in records[:50] + [r for r in records if r.ambiguous][:5]:
            item = record.to_item()
            assert item.id == record.id and item.benchmark == "cares-vqa" and item.prompt == record.question
            assert item.group == f"{record.source}:{record.image}"
            assert "id" not in item.metadata
            restored = Item.from_dict(json.loads(json.dumps(item.to_dict())))
            assert VQARecord.from_item(restored) == record
    ham = loaded["ham10000"][0].to_item()
    assert ham.metadata["options"][0] == ["A", "scalp"]


def test_from_item_rejects_other_items() -> None:
    with pytest.raises(ValueError, match="cares-18k"):
        VQARecord.from_item(Item(id="x", benchmark="cares-18k", prompt="p", group="g"))
    with pytest.raises(ValueError, match="metadata field"):
        VQARecord.from_item(Item(id="x", benchmark="cares-vqa", prompt="p", group="g", metadata={}))


# -- parsing helpers ------------------------------------------------------------------------------


def test_parse_options_forms() -> None:
    expected = (("A", "Yes, calcification is present"), ("B", "No, there is none"))
    assert parse_options("A:Yes, calcification is present, B:No, there is none") == expected
    assert parse_options("[A:Yes, calcification is present, B:No, there is none]") == expected
    assert parse_options("A: Yes, calcification is present,B: No, there is none") == expected
    assert parse_options(["Yes, calcification is present", "No, there is none"]) == expected
    assert parse_options(["A:Yes, calcification is present", "B: No, there is none"]) == expected
    assert parse_options('["Yes, calcification is present", "No, there is none"]') == expected
    assert parse_options("A:ratio A:B, B:other") == (("A", "ratio A:B"), ("B", "other"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("scalp, ear", "must start with 'A:'"),
        ("A:scalp, C:ear", "run A, B, C"),
        ("B:scalp, C:ear", "run A, B, C"),
        ("A:scalp", "at least two"),
        ("A:scalp, B:", "option B has no text"),
        ("", "empty"),
        (["A:scalp", "ear"], "all carry a letter"),
        (["A:scalp", "C:ear"], "run A, B, C"),
        ([1, 2], "must be a string"),
        (3, "expected a string"),
    ],
)
def test_parse_options_errors(value: object, message: str) -> None:
    with pytest.raises(OptionsError, match=re.escape(message)):
        parse_options(value)


def test_match_answer() -> None:
    options = parse_options("A:No, B:Yes")
    assert match_answer("B:Yes", options).letter == "B"
    assert match_answer("B", options).letter == "B"
    assert match_answer("(B)", options).letter == "B"
    assert match_answer("B. yes.", options).letter == "B"
    assert match_answer(" yes ", options).letter == "B"
    assert match_answer("B:No", options).problem == "answer text disagrees with the option text"
    assert match_answer("C:Maybe", options).problem == "answer letter is not among the options"
    assert match_answer("Maybe", options).problem == "answer matches no option"
    assert match_answer("", options).problem == "answer is empty"
    assert match_answer("no", parse_options("A:No, B:no")).problem == "answer matches several options"


def test_yes_no_and_demographic_normalisers() -> None:
    assert yes_no("No (since the silhouette is normal).") == "no"
    assert yes_no("Yes.") == "yes" and yes_no("  YES") == "yes"
    assert yes_no("Not mentioned") is None and yes_no("None") is None and yes_no("- No.") is None
    assert parse_age(45) == (45, "40-49") and parse_age("7") == (7, "0-9")
    assert parse_age(67.9) == (67, "60-69") and parse_age(90) == (90, "90+")
    assert parse_age("90+") == (None, "90+") and parse_age("") == (None, None) and parse_age(None) == (None, None)
    assert [parse_gender(v) for v in ("M", "f", "Male", "FEMALE", "", "unknown", None)] == [
        "male", "female", "male", "female", None, None, None,
    ]
    for bad in ("old", -3, 200, True, "4O"):
        with pytest.raises(ValueError):
            parse_age(bad)
    with pytest.raises(ValueError):
        parse_gender("x")


# -- small files: quirks and ids -------------------------------------------------------------------


def iu_row(question: str, answer: str, image: str = "CXR1/0.png") -> dict[str, Any]:
    text = f"{question}\n<image>"
    return {"question": text, "answer": answer, "image": image, "question_id": 0, "text": text}


def test_iu_duplicate_content_gets_suffixes(tmp_path: Path) -> None:
    rows = [iu_row("Is it normal?", "Yes."), iu_row("Is it big?", "No."), iu_row("Is it normal?", "No.")]
    records, _ = load_vqa("iu-xray", write_jsonl(tmp_path / "iu.jsonl", rows))
    ids = [r.id for r in records]
    assert ids[2] == ids[0] + "~2" and len(set(ids)) == 3
    reordered, _ = load_vqa("iu-xray", write_jsonl(tmp_path / "iu2.jsonl", [rows[1], rows[2], rows[0]]))
    assert {r.id: r.question for r in reordered} == {r.id: r.question for r in records}
    assert next(r for r in reordered if r.id == ids[1]).truth == "no"


def test_ol3i_disagreements_are_ambiguous_not_guessed(tmp_path: Path) -> None:
    base = {"label": 0, "age": "90+", "gender": "M", "question_id": 0, "text": "Q? [yes, no]\n", "image": "x.jpg"}
    rows = [
        {**base, "options": "A:Yes, B:No", "answer": "B:Yes", "text": "Q1"},
        {**base, "options": "A:Yes, B:No", "answer": "C:No", "text": "Q2"},
        {**base, "options": "A:Yes, it is, B:No, it is not", "answer": "B: No, it is not", "text": "Q3"},
    ]
    records, report = load_vqa("ol3i", write_jsonl(tmp_path / "ol3i.jsonl", rows))
    assert [r.ambiguous for r in records] == [
        "answer text disagrees with the option text", "answer letter is not among the options", None,
    ]
    assert records[0].truth is None and records[2].truth == "B" and records[2].truth_text == "No, it is not"
    assert records[0].gender == "male" and records[0].age_group == "90+"
    assert report.n_ambiguous == 2 and report.truth_counts == {"B": 1}


# -- the three large released files, on rows in their published shapes ------------------------------

MIMIC = {"question_id": "m1", "image": "files/p10/p10000032/s50414267/02aa804e.jpg",
         "text": "<image>\nWhat abnormality is seen in the image?", "answer": "A small left pleural effusion.",
         "age": 52, "gender": "F", "race": "BLACK/AFRICAN AMERICAN"}
PMC = {"question_id": "PMC1_F1_q1", "image": "PMC1_F1.jpg", "text": "What imaging modality is shown?",
       "answer": "Axial contrast-enhanced CT."}
OMNI = {"question_id": "omni_1", "image": "Images/ACRIMA/Im001_ACRIMA.png", "dataset": "ACRIMA",
        "text": "What is the diagnosis of this fundus image?", "answer": "Glaucoma",
        "option_A": "Normal", "option_B": "Glaucoma", "option_C": "Cataract", "option_D": "Diabetic retinopathy"}


def test_mimic_cxr_open_ended_with_demographics(tmp_path: Path) -> None:
    rows = [
        MIMIC,
        {**MIMIC, "question_id": "m2", "text": "Is there a pneumothorax?", "answer": "No, there is no pneumothorax.",
         "age": "91", "gender": "male", "race": "WHITE"},
        {**drop(drop(drop(MIMIC, "age"), "gender"), "race"), "question_id": "m3", "text": "Where?"},
    ]
    records, report = load_vqa("mimic-cxr", write_jsonl(tmp_path / "mimic.jsonl", rows))
    assert [r.id for r in records] == ["mimic-cxr:m1", "mimic-cxr:m2", "mimic-cxr:m3"]
    # Open-ended, even where the reference starts with "No": never re-read as a yes/no item.
    assert [r.answer_type for r in records] == ["open"] * 3 and report.answer_types == {"open": 3}
    assert records[1].truth == records[1].truth_text == "No, there is no pneumothorax."
    assert records[0].question == "What abnormality is seen in the image?" and records[0].options == ()
    assert [(r.age, r.age_group, r.gender, r.race) for r in records] == [
        (52, "50-59", "female", "black/african american"), (91, "90+", "male", "white"), (None, None, None, None),
    ]
    # Demographics a row lacks are joined from a CSV exactly as for FairVLMed.
    path = write_csv(tmp_path / "demo.csv", ["question_id", "age", "gender", "race"], [["m3", "67", "F", "Asian"]])
    joined, join_report = join_demographics(records, path)
    assert (joined[2].age_group, joined[2].gender, joined[2].race) == ("60-69", "female", "asian")
    assert joined[:2] == records[:2] and join_report.filled == {"age": 1, "gender": 1, "race": 1}


def test_pmc_oa_open_ended_and_ids(tmp_path: Path) -> None:
    rows = [PMC, {**PMC, "question_id": "PMC1_F1_q2", "text": "Which organ?", "answer": "Liver",
                  "fig_caption": "Figure 1. Axial CT of the abdomen."}]
    records, report = load_vqa("pmc-oa", write_jsonl(tmp_path / "pmc.jsonl", rows))
    assert [r.id for r in records] == ["pmc-oa:PMC1_F1_q1", "pmc-oa:PMC1_F1_q2"]
    assert [r.truth for r in records] == ["Axial contrast-enhanced CT.", "Liver"]
    assert all(r.answer_type == "open" and r.age is None and r.race is None for r in records)
    assert report.truth_counts == {"open": 2} and report.n_ambiguous == 0

    # Several questions share a question_id: the id adds a hash of image and question.
    repeated = [{**PMC, "text": f"Q{i}?"} for i in range(3)]
    records, _ = load_vqa("pmc-oa", write_jsonl(tmp_path / "r.jsonl", repeated))
    assert all(re.fullmatch(r"pmc-oa:PMC1_F1_q1:[0-9a-f]{12}", r.id) for r in records)
    assert len({r.id for r in records}) == 3


def test_omnimedvqa_truth_is_the_option_whose_text_is_the_answer(tmp_path: Path) -> None:
    rows = [
        OMNI,
        {**OMNI, "question_id": "omni_2", "answer": "  diabetic   RETINOPATHY "},
        {**drop(OMNI, "option_D"), "question_id": "omni_3", "answer": "Cataract", "dataset": "Cataract Dataset"},
        {**OMNI, "question_id": "omni_4", "option_C": None, "option_D": "", "answer": "normal"},
    ]
    records, report = load_vqa("omnimedvqa", write_jsonl(tmp_path / "omni.jsonl", rows))
    assert [r.id for r in records] == [f"omnimedvqa:omni_{i}" for i in range(1, 5)]
    assert [(r.truth, r.truth_text) for r in records] == [
        ("B", "Glaucoma"), ("D", "Diabetic retinopathy"), ("C", "Cataract"), ("A", "Normal"),
    ]
    assert [len(r.options) for r in records] == [4, 4, 3, 2]
    assert records[0].options == (("A", "Normal"), ("B", "Glaucoma"), ("C", "Cataract"), ("D", "Diabetic retinopathy"))
    assert [r.subset for r in records] == ["ACRIMA", "ACRIMA", "Cataract Dataset", "ACRIMA"]
    assert records[1].raw_answer == "  diabetic   RETINOPATHY " and records[0].image == OMNI["image"]
    assert all(r.answer_type == "mc" and r.ambiguous is None for r in records)
    assert report.truth_counts == {"A": 1, "B": 1, "C": 1, "D": 1}
    item = records[2].to_item()
    assert item.metadata["subset"] == "Cataract Dataset"
    assert VQARecord.from_item(Item.from_dict(json.loads(json.dumps(item.to_dict())))) == records[2]
    assert "subset" not in load_vqa("pmc-oa", write_jsonl(tmp_path / "p.jsonl", [PMC]))[0][0].to_item().metadata


def test_custom_jsonl_and_csv(tmp_path: Path) -> None:
    rows = [
        {"id": "a1", "image": "i/1.png", "question": "Normal?", "answer_type": "yesno", "answer": "No.", "age": 71},
        {"id": 2, "image": "i/2.png", "question": "Where?", "answer_type": "mc",
         "options": ["scalp", "ear, left"], "answer": "ear, left", "gender": "F"},
        {"id": "a3", "image": "i/3.png", "question": "What?", "answer_type": "open", "answer": "A fracture."},
    ]
    records, report = load_vqa("custom", write_jsonl(tmp_path / "c.jsonl", rows))
    assert [r.id for r in records] == ["custom:a1", "custom:2", "custom:a3"]
    assert [r.truth for r in records] == ["no", "B", "A fracture."]
    assert records[0].age_group == "70-79" and records[1].gender == "female" and records[1].question_id == "2"
    assert report.n_ambiguous == 0

    path = write_csv(
        tmp_path / "c.csv",
        ["id", "image", "question", "answer_type", "options", "answer", "age", "gender", "race"],
        [
            ["x", "1.png", "Normal?", "YesNo", "", "yes", "", "", ""],
            ["y", "2.png", "Where?", "mc", "A:scalp, B:ear, left", "B:ear, left", "90+", "m", "Asian"],
            ["z", "3.png", "Which?", "mc", '["scalp", "ear"]', "A", "33", "female", ""],
        ],
    )
    records, _ = load_vqa("custom", path)
    assert [(r.answer_type, r.truth, r.line) for r in records] == [("yesno", "yes", 2), ("mc", "B", 3), ("mc", "A", 4)]
    assert records[1].options == (("A", "scalp"), ("B", "ear, left")) and records[1].race == "asian"


# -- bad input: one line naming file, line and field -----------------------------------------------


def assert_input_error(source: str, path: Path, line: int | None, field: str | None, message: str) -> None:
    with pytest.raises(InputError) as caught:
        load_vqa(source, path)
    error = caught.value
    assert (error.line, error.field) == (line, field)
    assert message in error.message
    text = str(error)
    assert "\n" not in text and text.startswith(str(path) + (f":{line}" if line else ""))
    if field:
        assert f"field '{field}'" in text


def test_unknown_source(tmp_path: Path) -> None:
    assert_input_error("iu_xray", write_jsonl(tmp_path / "x.jsonl", [{}]), None, None, "unknown CARES-VQA source")
    assert "custom" in SOURCES and set(DEFAULT_FILES) <= set(SOURCES) and len(DEFAULT_FILES) == 7


def test_broken_json_line_and_empty_file(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "iu.jsonl", [iu_row("Q?", "Yes"), '{"question": "Q2", "answer": '])
    assert_input_error("iu-xray", path, 2, None, "not valid JSON")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    assert_input_error("iu-xray", empty, None, None, "file is empty")
    assert_input_error("iu-xray", tmp_path / "missing.jsonl", None, None, "no such file")


HAM = {
    "question_id": "ISIC_1", "options": "A:scalp, B:ear", "fig_caption": "B:ear", "age": 45,
    "gender": "female", "image": "ham/ISIC_1.jpg", "text": "Where?",
}
OL3I = {"label": 0, "age": "68", "gender": "male", "options": "A:Yes, B:No", "answer": "B:No",
        "question_id": 0, "text": "Q?", "image": "o.jpg"}
FAIR = {"question_id": 1, "image": "slo_fundus_00001.jpg", "text": "What?", "answer": "Glaucoma."}


def drop(row: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key != name}


@pytest.mark.parametrize(
    ("source", "bad", "field", "message"),
    [
        ("iu-xray", drop(iu_row("Q?", "Yes"), "answer"), "answer", "is missing"),
        ("iu-xray", {**iu_row("Q?", "Yes"), "image": 5}, "image", "expected a string, got int"),
        ("iu-xray", {**iu_row("Q?", "Yes"), "answer": 1}, "answer", "expected a string, got int"),
        ("iu-xray", {**iu_row("Q?", "Yes"), "text": "\n<image>"}, "text", "no question besides the image"),
        ("iu-xray", {**iu_row("Q?", "Yes"), "question_id": True}, "question_id", "expected a string or an integer"),
        ("ham10000", drop(HAM, "fig_caption"), "fig_caption", "is missing"),
        ("ham10000", drop(HAM, "question_id"), "question_id", "is missing"),
        ("ham10000", {**HAM, "options": "scalp, ear"}, "options", "must start with 'A:'"),
        ("ham10000", {**HAM, "options": "A:scalp, C:ear"}, "options", "run A, B, C"),
        ("ham10000", {**HAM, "age": "old"}, "age", "expected an age"),
        ("ham10000", {**HAM, "age": 200}, "age", "out of range"),
        ("ham10000", {**HAM, "gender": "x"}, "gender", "expected male/female"),
        ("ol3i", drop(OL3I, "options"), "options", "is missing"),
        ("ol3i", {**OL3I, "options": 3}, "options", "expected a string"),
        ("ol3i", {**OL3I, "answer": ""}, "answer", "is empty"),
        ("fairvlmed", drop(FAIR, "question_id"), "question_id", "is missing"),
        ("fairvlmed", drop(FAIR, "text"), "text", "is missing"),
        ("fairvlmed", {**FAIR, "race": 3}, "race", "expected a string"),
        ("mimic-cxr", drop(MIMIC, "answer"), "answer", "is missing (mimic-cxr rows have question_id, image, text"),
        ("mimic-cxr", drop(MIMIC, "question_id"), "question_id", "is missing"),
        ("mimic-cxr", {**MIMIC, "gender": "x"}, "gender", "expected male/female"),
        ("mimic-cxr", {**MIMIC, "age": "old"}, "age", "expected an age"),
        ("mimic-cxr", {**MIMIC, "text": 3}, "text", "expected a string, got int"),
        ("pmc-oa", {**PMC, "options": "A:x, B:y"}, "options", "pmc-oa questions are open-ended"),
        ("pmc-oa", {**PMC, "option_A": "x"}, "option_A", "open-ended"),
        ("pmc-oa", drop(PMC, "image"), "image", "is missing"),
        ("omnimedvqa", drop(OMNI, "dataset"), "dataset", "is missing (omnimedvqa rows have"),
        ("omnimedvqa", drop(OMNI, "option_B"), "option_B", "is missing"),
        ("omnimedvqa", {**OMNI, "answer": "Myopia"}, "answer",
         "'Myopia' matches none of the options (A:Normal, B:Glaucoma, C:Cataract, D:Diabetic retinopathy)"),
        ("omnimedvqa", {**OMNI, "answer": "B"}, "answer", "matches none of the options"),
        ("omnimedvqa", {**OMNI, "option_C": "glaucoma"}, "answer", "matches several options (B, C)"),
        ("omnimedvqa", {**OMNI, "option_C": None}, "option_D", "is given but option_C is not"),
        ("omnimedvqa", {**OMNI, "option_C": 3}, "option_C", "expected a string, got int"),
        ("omnimedvqa", {**OMNI, "dataset": " "}, "dataset", "is empty"),
    ],
)
def test_bad_field_errors(tmp_path: Path, source: str, bad: dict[str, Any], field: str, message: str) -> None:
    good = {"iu-xray": iu_row("Fine?", "No"), "ham10000": HAM, "ol3i": OL3I, "mimic-cxr": MIMIC, "pmc-oa": PMC,
            "omnimedvqa": OMNI}.get(source, FAIR)
    path = write_jsonl(tmp_path / "bad.jsonl", [good, bad])
    assert_input_error(source, path, 2, field, message)


@pytest.mark.parametrize(
    ("source", "row", "lacking"),
    [
        # Rows of one source's shape given to another: refused, never loaded as open-ended.
        ("mimic-cxr", OMNI | {"answer": None}, "answer"),
        ("mimic-cxr", HAM, "answer"),
        ("pmc-oa", {"image": "a.png", "question": "What?", "reference": "x"}, "question_id, text, answer"),
        ("omnimedvqa", MIMIC, "dataset, option_A, option_B"),
        ("omnimedvqa", HAM, "answer, dataset, option_A, option_B"),
        ("fairvlmed", {"image": "x.jpg"}, "question_id, text, answer"),
        ("iu-xray", {"image": "x.png"}, "text (or question), answer"),
        ("ham10000", OL3I, "fig_caption"),
        ("ol3i", FAIR, "options"),
    ],
)
def test_rows_of_an_unknown_shape_name_the_fields_they_lack(
    tmp_path: Path, source: str, row: dict[str, Any], lacking: str
) -> None:
    path = write_jsonl(tmp_path / "shape.jsonl", [row])
    fields = lacking.split(", ")
    if len(fields) == 1:
        assert_input_error(source, path, 1, fields[0], f"is missing ({source} rows have ")
    else:
        assert_input_error(source, path, 1, None, f"lacks fields {lacking} ({source} rows have ")


CUSTOM = {"id": "a", "image": "1.png", "question": "Q?", "answer_type": "mc", "options": "A:x, B:y", "answer": "A"}


@pytest.mark.parametrize(
    ("bad", "field", "message"),
    [
        ({**CUSTOM, "id": "a"}, "id", "duplicate id 'a' (first on line 1)"),
        (drop(CUSTOM, "id"), "id", "is missing"),
        ({**CUSTOM, "id": " "}, "id", "is empty"),
        ({**CUSTOM, "id": 1.5}, "id", "expected a string or an integer"),
        ({**CUSTOM, "id": "b", "answer_type": "free"}, "answer_type", "expected one of yesno, mc, open"),
        (drop({**CUSTOM, "id": "b"}, "answer_type"), "answer_type", "is missing"),
        ({**CUSTOM, "id": "b", "answer": "C"}, "answer", "answer letter is not among the options"),
        ({**CUSTOM, "id": "b", "answer": "z"}, "answer", "answer matches no option"),
        ({**CUSTOM, "id": "b", "answer": "B:x"}, "answer", "disagrees"),
        (drop({**CUSTOM, "id": "b"}, "options"), "options", "is missing"),
        ({**CUSTOM, "id": "b", "answer_type": "yesno", "answer": "maybe", "options": None}, "answer", "yes or no"),
        ({**CUSTOM, "id": "b", "answer_type": "yesno", "answer": "yes"}, "options", "only for mc items"),
        ({**CUSTOM, "id": "b", "answer_type": "open", "answer": ""}, "answer", "is empty"),
        (drop({**CUSTOM, "id": "b"}, "image"), "image", "is missing"),
        (drop({**CUSTOM, "id": "b"}, "question"), "question", "is missing"),
    ],
)
def test_custom_errors(tmp_path: Path, bad: dict[str, Any], field: str, message: str) -> None:
    path = write_jsonl(tmp_path / "custom.jsonl", [CUSTOM, bad])
    assert_input_error("custom", path, 2, field, message)


def test_custom_csv_errors_name_the_csv_line(tmp_path: Path) -> None:
    header = ["id", "image", "question", "answer_type", "options", "answer"]
    rows = [["a", "1.png", "Q?", "yesno", "", "no"], ["b", "2.png", "Q?", "mc", "A:x", "A"]]
    path = write_csv(tmp_path / "c.csv", header, rows)
    assert_input_error("custom", path, 3, "options", "at least two")


# -- demographics ------------------------------------------------------------------------------------


def fair_records(tmp_path: Path) -> list[VQARecord]:
    rows = [
        {**FAIR, "question_id": 8731, "image": "slo_fundus_08731.jpg", "text": "Q1"},
        {**FAIR, "question_id": 8731, "image": "slo_fundus_08731.jpg", "text": "Q2"},
        {**FAIR, "question_id": 12, "image": "slo_fundus_00012.jpg", "text": "Q3"},
        {**FAIR, "question_id": 99, "image": "slo_fundus_00099.jpg", "text": "Q4"},
    ]
    return load_vqa("fairvlmed", write_jsonl(tmp_path / "fair.jsonl", rows))[0]


def test_join_demographics_by_question_id(tmp_path: Path) -> None:
    records = fair_records(tmp_path)
    path = write_csv(
        tmp_path / "demo.csv",
        ["question_id", "age", "gender", "race", "ethnicity"],
        [["08731", "67.4", "Female", "Asian", "x"], ["12", "90+", "M", "", ""], ["5", "40", "male", "black", ""]],
    )
    joined, report = join_demographics(records, path)
    assert [(r.age, r.age_group, r.gender, r.race) for r in joined] == [
        (67, "60-69", "female", "asian"), (67, "60-69", "female", "asian"), (None, "90+", "male", None),
        (None, None, None, None),
    ]
    assert [r.id for r in joined] == [r.id for r in records]
    assert (report.matched, report.unmatched, report.unused_rows, report.n_rows) == (3, 1, 1, 3)
    assert report.filled == {"age": 3, "gender": 3, "race": 2} and report.columns == ("age", "gender", "race")
    json.dumps(report.to_dict())

    disagreeing = write_csv(tmp_path / "d2.csv", ["question_id", "gender"], [["8731", "male"]])
    again, report = join_demographics(joined, disagreeing)
    assert again == joined and report.conflicts == {"gender": 2} and report.filled == {"gender": 0}


def test_join_demographics_by_image(tmp_path: Path) -> None:
    records = fair_records(tmp_path)
    path = write_csv(tmp_path / "demo.csv", ["image", "gender"], [["slo_fundus_00099.jpg", "F"]])
    joined, report = join_demographics(records, path, key="image")
    assert [r.gender for r in joined] == [None, None, None, "female"] and report.matched == 1
    with pytest.raises(ConfigError):
        join_demographics(records, path, key="line")


@pytest.mark.parametrize(
    ("header", "rows", "line", "field", "message"),
    [
        (["qid", "age"], [["1", "4"]], 1, "question_id", "no 'question_id' column"),
        (["question_id", "ethnicity"], [["1", "x"]], 1, None, "no demographic column"),
        (["question_id", "age"], [["1", "40"], ["2", "old"]], 3, "age", "expected an age"),
        (["question_id", "gender"], [["1", "f"], ["2", "x"]], 3, "gender", "expected male/female"),
        (["question_id", "age"], [["1", "40"], ["01", "41"]], 3, "question_id", "duplicate key '1' (first on line 2)"),
        (["question_id", "age"], [["1", "40"], ["", "41"]], 3, "question_id", "is empty"),
    ],
)
def test_join_demographics_errors(
    tmp_path: Path, header: list[str], rows: list[list[str]], line: int, field: str | None, message: str
) -> None:
    path = write_csv(tmp_path / "demo.csv", header, rows)
    with pytest.raises(InputError) as caught:
        join_demographics(fair_records(tmp_path), path)
    assert (caught.value.line, caught.value.field) == (line, field)
    assert message in caught.value.message and str(caught.value).startswith(f"{path}:{line}")


def test_join_demographics_on_released_fairvlmed(loaded: dict[str, list[VQARecord]], tmp_path: Path) -> None:
    records = loaded["fairvlmed"]
    ids = sorted({int(r.question_id or 0) for r in records})
    rows = [[f"{qid:05d}", str(30 + qid % 60), "female" if qid % 2 else "male", ("asian", "black", "white")[qid % 3]]
            for qid in ids[:-1]]
    path = write_csv(tmp_path / "fair.csv", ["question_id", "age", "gender", "race"], rows)
    joined, report = join_demographics(records, path)
    last = sum(r.question_id == str(ids[-1]) for r in records)
    assert (report.matched, report.unmatched, report.unused_rows) == (2838 - last, last, 0)
    assert sum(r.gender is not None for r in joined) == 2838 - last
