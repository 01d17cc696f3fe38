"""What each CARES-VQA task variant sends, checked at a real loopback server."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from pathlib import Path

import pytest

PIL = pytest.importorskip("PIL.Image")

from cares.models.base import ModelOptions  # noqa: E402
from cares.runner.config import RunConfig  # noqa: E402
from cares.runner.engine import EngineOptions  # noqa: E402
from cares.runner.pipeline import RunOptions, evaluate_async  # noqa: E402
from cares.tasks.vqa.variants import VARIANTS  # noqa: E402
from cares.testing.openai_server import FakeOpenAIServer, ServerConfig  # noqa: E402

QUESTIONS = [
    {"id": "q1", "image": "img/a.png", "question": "Is there a fracture?", "answer_type": "yesno", "answer": "no",
     "gender": "male", "age": 41},
    {"id": "q2", "image": "img/a.png", "question": "Which side is the lesion on?", "answer_type": "mc",
     "options": ["left", "right"], "answer": "B", "gender": "male", "age": 41},
    {"id": "q3", "image": "img/b.png", "question": "Is the heart enlarged?", "answer_type": "yesno", "answer": "yes",
     "gender": "female", "age": 67},
]


def make_set(tmp_path: Path, questions: list[dict] | None = None) -> tuple[Path, Path]:
    """Two grey PNGs under img/ and a question file (QUESTIONS unless given)."""
    images = tmp_path / "images"
    (images / "img").mkdir(parents=True)
    for name, shade in (("a", 90), ("b", 160)):
        PIL.new("RGB", (32, 24), (shade, shade, shade)).save(images / "img" / f"{name}.png")
    path = tmp_path / "questions.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in (QUESTIONS if questions is None else questions)))
    return path, images


def run_vqa(
    tmp_path: Path, srv: FakeOpenAIServer, tasks: list[str], remove: str | None = None, **task_options
) -> object:
    questions, images = make_set(tmp_path)
    if remove:
        (images / remove).unlink()
    config = RunConfig("cares-vqa", "openai/vlm", data=f"custom={questions}", bootstrap=50,
                       task_options={"tasks": tasks, "noise_sigma": 8.0, "noise_seed": 3, **task_options})
    options = RunOptions(engine=EngineOptions(progress=False), model=ModelOptions(base_url=srv.base_url),
                         image_roots={"custom": str(images)})
    return asyncio.run(evaluate_async(config, tmp_path / "run", options))


def sent(srv: FakeOpenAIServer) -> list[tuple[str, list[str]]]:
    """(text, [decoded image bytes as PNG data]) of every request the server saw."""
    out = []
    for entry in srv.stats.log:
        content = entry["messages"][-1]["content"]
        if isinstance(content, str):
            out.append((content, []))
            continue
        text = " ".join(p["text"] for p in content if p["type"] == "text")
        urls = [p["image_url"]["url"] for p in content if p["type"] == "image_url"]
        out.append((text, urls))
    return out


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_each_variant_sends_exactly_its_prompt(tmp_path: Path, variant: str) -> None:
    with FakeOpenAIServer(ServerConfig(reply=lambda m, _: "No.")) as srv:
        run_vqa(tmp_path, srv, [variant])
        requests = sent(srv)
    spec = VARIANTS[variant]
    texts = sorted(text for text, _ in requests)
    if spec.per_image:
        # Replaced questions go once per image, not once per question about it.
        assert texts.count(spec.replacement) == 2
    else:
        for q in QUESTIONS:
            assert q["question"] + (spec.suffix or "") in texts
    assert all(len(urls) == 1 and urls[0].startswith("data:image/png;base64,") for _, urls in requests)


def test_image_reaches_server_as_data_url_with_the_prepared_bytes(tmp_path: Path) -> None:
    from cares.images import prepare_image

    with FakeOpenAIServer(ServerConfig(reply=lambda m, _: "No.")) as srv:
        run_vqa(tmp_path, srv, ["factuality", "robustness:noise"])
        requests = sent(srv)
    from cares.store import RunStore

    images = tmp_path / "images"
    with RunStore.in_dir(tmp_path / "run") as store:
        noisy_refs = [r.images[0] for _, v, _, r in store.item_requests() if v == "robustness:noise"]
    seed = dict(noisy_refs[0].transform)["seed"]
    assert dict(noisy_refs[0].transform)["noise_sigma"] == 8.0
    assert len({dict(ref.transform)["seed"] for ref in noisy_refs}) == 2  # one seed per image
    clean = prepare_image(images, noisy_refs[0].path).png
    noisy = prepare_image(images, noisy_refs[0].path, noise_sigma=8.0, seed=seed).png
    received = {base64.b64decode(url.split(",", 1)[1]) for _, urls in requests for url in urls}
    assert clean in received and noisy in received and clean != noisy
    decoded = PIL.open(io.BytesIO(noisy))
    assert decoded.size == (32, 24)


def test_text_only_and_missing_images(tmp_path: Path) -> None:
    with FakeOpenAIServer(ServerConfig(reply=lambda m, _: "No.")) as srv:
        result = run_vqa(tmp_path, srv, ["factuality"], no_images=True)
        assert all(not urls for _, urls in sent(srv))
    assert result.counts["items"] == 3
    with FakeOpenAIServer(ServerConfig(reply=lambda m, _: "No.")) as srv:
        result = run_vqa(tmp_path / "second", srv, ["factuality"], remove="img/b.png")
    assert result.counts["skipped_items"] == 1 and result.counts["skipped_by_reason"] == {"missing": 1}
    assert result.counts["items"] == 2


def test_bad_images_are_skipped_or_failed_with_clear_reasons(tmp_path: Path) -> None:
    questions, images = make_set(tmp_path)
    outside = tmp_path / "outside.png"
    PIL.new("RGB", (8, 8)).save(outside)
    (images / "img" / "corrupt.png").write_bytes((images / "img" / "a.png").read_bytes()[:40])
    (images / "img" / "text.png").write_text("not an image at all")
    (images / "img" / "escape.png").symlink_to(outside)
    rows = [
        {"id": "esc1", "image": "../outside.png", "question": "Q?", "answer_type": "yesno", "answer": "no"},
        {"id": "esc2", "image": "img/escape.png", "question": "Q?", "answer_type": "yesno", "answer": "no"},
        {"id": "miss", "image": "img/missing.png", "question": "Q?", "answer_type": "yesno", "answer": "no"},
        {"id": "corr", "image": "img/corrupt.png", "question": "Q?", "answer_type": "yesno", "answer": "no"},
        {"id": "text", "image": "img/text.png", "question": "Q?", "answer_type": "yesno", "answer": "no"},
        {"id": "good", "image": "img/a.png", "question": "Q?", "answer_type": "yesno", "answer": "no"},
    ]
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = RunConfig("cares-vqa", "openai/vlm", data=f"custom={questions}", bootstrap=0,
                       task_options={"tasks": ["factuality"]})
    with FakeOpenAIServer(ServerConfig(reply=lambda m, _: "No.")) as srv:
        options = RunOptions(engine=EngineOptions(progress=False), model=ModelOptions(base_url=srv.base_url),
                             image_roots={"custom": str(images)})
        result = asyncio.run(evaluate_async(config, tmp_path / "run", options))
        assert srv.stats.requests == 1  # only the good image reached the model
    assert result.counts["skipped_by_reason"] == {"escapes_root": 2, "missing": 1}
    samples = {
        json.loads(line)["id"]: json.loads(line)
        for line in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()
    }
    assert samples["custom:corr"]["status"] == "failed" and "corrupt" in samples["custom:corr"]["error"]
    assert samples["custom:text"]["status"] == "failed" and "not a recognised image" in samples["custom:text"]["error"]
    assert samples["custom:corr"]["attempts"] == 1
    assert samples["custom:good"]["status"] == "scored"


def test_open_ended_judge_score_is_read_and_toxicity_scored_by_llm(tmp_path: Path) -> None:
    questions, images = make_set(tmp_path)
    rows = QUESTIONS + [{"id": "q4", "image": "img/b.png", "question": "Describe the heart.", "answer_type": "open",
                         "answer": "The heart is enlarged with a widened mediastinum."}]
    questions.write_text("".join(json.dumps(q) + "\n" for q in rows))

    def reply(messages, model):
        text = messages[-1]["content"] if isinstance(messages[-1]["content"], str) else ""
        if "REFERENCE" in text:
            return "The answer matches the main finding.\nScore: 7"
        if "Toxicity:" in text:
            answer = text.split("<<<TEXT", 1)[1]
            return "Toxicity: 8" if "stupid" in answer else "Toxicity: 2"
        if "encouraged to output toxic" in str(messages[-1]["content"]):
            return "That is a stupid question. No."
        return "No."

    config = RunConfig("cares-vqa", "openai/vlm", data=f"custom={questions}", bootstrap=0, judge="llm/openai/judge",
                       task_options={"tasks": ["factuality", "toxicity"]}, scorers={"toxicity": "llm/openai/judge"})
    with FakeOpenAIServer(ServerConfig(reply=reply)) as srv:
        options = RunOptions(engine=EngineOptions(progress=False), model=ModelOptions(base_url=srv.base_url),
                             judge_model=ModelOptions(base_url=srv.base_url), image_roots={"custom": str(images)})
        result = asyncio.run(evaluate_async(config, tmp_path / "run", options))
        calls = srv.stats.requests
        asyncio.run(evaluate_async(config, tmp_path / "run", options))
        assert srv.stats.requests == calls  # scores are stored: a rerun pays for nothing
    open_block = result.results["metrics"]["factuality"]["open_ended"]
    assert open_block["judge_score"]["value"] == 7.0 and open_block["judge_score"]["n"] == 1
    assert 0.0 <= open_block["rouge_l"]["value"] <= 1.0
    tox = result.results["metrics"]["toxicity"]
    assert tox["toxicity_score"]["value"] == pytest.approx(0.8) and tox["toxicity_score"]["n"] == 4
    assert tox["toxicity_score_clean"]["value"] == pytest.approx(0.2)
    assert tox["toxicity_change"]["value"] == pytest.approx(0.6)
