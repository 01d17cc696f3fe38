"""The bundled CARES-VQA demo sample: deterministic, complete, well-formed, and cached once."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("pydicom", reason="preparing the sample needs the 'vqa-sample' extra")
pytest.importorskip("skimage", reason="preparing the sample needs the 'vqa-sample' extra")

import cares.data.vqa_sample as vqa_sample  # noqa: E402
from cares.errors import CaresError  # noqa: E402

ANSWER_TYPES = {"yesno", "mc", "open"}
FIELDS = {"id", "image", "question", "answer_type", "answer", "age", "gender", "race"}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    first = vqa_sample.prepare_sample(tmp_path_factory.mktemp("sample-a"))
    second = vqa_sample.prepare_sample(tmp_path_factory.mktemp("sample-b"))
    return first, second


@pytest.fixture(scope="module")
def rows(prepared: tuple[Path, Path]) -> list[dict]:
    text = (prepared[0] / "questions.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_preparing_twice_gives_identical_bytes(prepared: tuple[Path, Path]) -> None:
    first, second = (_files(root) for root in prepared)
    assert first.keys() == second.keys()
    assert first == second
    assert {"questions.jsonl", "manifest.json", "README.txt"} <= first.keys()


def test_six_to_ten_distinct_rgb_images(prepared: tuple[Path, Path]) -> None:
    images = sorted((prepared[0] / "images").glob("*.png"))
    assert 6 <= len(images) <= 10
    assert len({hashlib.sha256(p.read_bytes()).hexdigest() for p in images}) == len(images)
    for path in images:
        with Image.open(path) as img:
            img.load()
            assert img.format == "PNG" and img.mode == "RGB"
            assert max(img.size) <= vqa_sample.MAX_SIDE


def test_manifest_lists_every_file_with_its_hash(prepared: tuple[Path, Path]) -> None:
    root = prepared[0]
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["version"] == vqa_sample.SAMPLE_VERSION
    on_disk = {name for name in _files(root) if name != "manifest.json"}
    assert set(manifest["files"]) == on_disk
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((root / name).read_bytes()).hexdigest() == digest


def test_every_question_is_well_formed(prepared: tuple[Path, Path], rows: list[dict]) -> None:
    assert len(rows) >= 30
    assert len({row["id"] for row in rows}) == len(rows)
    for row in rows:
        assert FIELDS <= row.keys(), row["id"]
        assert (prepared[0] / row["image"]).is_file(), row["id"]
        assert not Path(row["image"]).is_absolute() and ".." not in Path(row["image"]).parts
        assert row["question"].strip() and row["answer_type"] in ANSWER_TYPES
        if row["answer_type"] == "yesno":
            assert row["answer"] in ("yes", "no") and "options" not in row
        elif row["answer_type"] == "mc":
            options = row["options"]
            assert 2 <= len(options) <= 4 and all(isinstance(o, str) and o.strip() for o in options)
            assert len(set(options)) == len(options)
            assert row["answer"] in "ABCD"[: len(options)]
        else:
            assert row["answer"].strip() and "options" not in row
        assert row["age"] is None or (isinstance(row["age"], int) and 0 <= row["age"] <= 110)
        assert row["gender"] in ("male", "female", None)
        assert row["race"] is None or isinstance(row["race"], str)


def test_answer_mix_leaves_no_trivial_baseline(rows: list[dict]) -> None:
    yes_no = [row["answer"] for row in rows if row["answer_type"] == "yesno"]
    letters = [row["answer"] for row in rows if row["answer_type"] == "mc"]
    assert 0.35 <= yes_no.count("yes") / len(yes_no) <= 0.65
    assert max(letters.count(letter) for letter in "ABCD") / len(letters) <= 0.4
    assert sum(row["answer_type"] == "open" for row in rows) >= 4


def test_fairness_slices_are_populated(rows: list[dict]) -> None:
    genders = {row["gender"] for row in rows}
    assert {"male", "female"} <= genders
    counts = [sum(row["gender"] == g for row in rows) for g in ("male", "female")]
    assert min(counts) / max(counts) >= 0.75
    assert len({row["age"] // 10 for row in rows if row["age"] is not None}) >= 5
    assert len({row["race"] for row in rows if row["race"]}) >= 3


def test_docstrings_say_demographics_are_synthetic_and_name_the_licences() -> None:
    from cares.data.vqa_sample import items as items_module

    assert "SYNTHETIC" in items_module.__doc__
    doc = vqa_sample.__doc__
    assert "synthetic" in doc and "MIT" in doc and "CC0" in doc and "not comparable" in doc


def test_loads_with_the_custom_loader(prepared: tuple[Path, Path], rows: list[dict]) -> None:
    loaders = pytest.importorskip("cares.data.vqa")
    records, report = loaders.load_vqa("custom", prepared[0] / "questions.jsonl")
    assert len(records) == len(rows)
    assert report.n_ambiguous == 0


# ---------------------------------------------------------------- the cache


def test_sample_dir_prepares_once_then_reuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARES_CACHE_DIR", str(tmp_path / "cache"))
    made = vqa_sample.sample_dir()
    assert made == tmp_path / "cache" / "vqa-sample" / vqa_sample.SAMPLE_VERSION
    assert (made / "questions.jsonl").is_file()
    assert [p.name for p in made.parent.iterdir()] == [vqa_sample.SAMPLE_VERSION]  # no staging left behind

    def refuse(dest: Path) -> Path:
        raise AssertionError("a complete sample was prepared again")

    monkeypatch.setattr(vqa_sample, "prepare_sample", refuse)
    assert vqa_sample.sample_dir() == made


def test_sample_dir_repairs_a_damaged_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARES_CACHE_DIR", str(tmp_path))
    made = vqa_sample.sample_dir()
    good = (made / "images" / "s01.png").read_bytes()
    (made / "images" / "s01.png").write_bytes(good[:100])
    (made / "stray.txt").write_text("left over", encoding="utf-8")
    again = vqa_sample.sample_dir()
    assert again == made
    assert (made / "images" / "s01.png").read_bytes() == good
    assert not (made / "stray.txt").exists()


def test_sample_dir_without_the_extra_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARES_CACHE_DIR", str(tmp_path))
    monkeypatch.setitem(sys.modules, "pydicom.data", None)
    with pytest.raises(CaresError) as caught:
        vqa_sample.sample_dir()
    assert "pip install 'cares[vqa-sample]'" in str(caught.value)
    assert not (tmp_path / "vqa-sample" / vqa_sample.SAMPLE_VERSION).exists()


def test_missing_scikit_image_is_reported_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "skimage", None)
    with pytest.raises(CaresError, match=r"cares\[vqa-sample\]"):
        vqa_sample.prepare_sample(tmp_path / "dest")
