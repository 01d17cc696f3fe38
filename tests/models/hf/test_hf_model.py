"""The hf/ backend behind the model protocol: identity, lazy loading, batching through the engine,
vision-language requests with PNG, JPEG and DICOM images, and its errors."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from cares.models.base import FatalModelError, ModelOptions  # noqa: E402
from cares.models.hf import HFModel  # noqa: E402
from cares.models.hf.decode import render  # noqa: E402
from cares.models.registry import get_model  # noqa: E402
from cares.runner.engine import EngineOptions, effective_concurrency, generate_pending  # noqa: E402
from cares.store import RunStore  # noqa: E402
from cares.types import Completion, GenerationParams, Request, ResponseStatus  # noqa: E402
from tests.models.hf.conftest import IMAGE_FILES, IMAGE_SIZES, image_ref  # noqa: E402
from tests.models.hf.test_decode import OutOfMemoryAbove  # noqa: E402

QUIET = EngineOptions(progress=False)


def hf_model(path: Path, **settings: Any) -> HFModel:
    extra = (("dtype", "float32"), ("device", "cpu"), *((k, str(v)) for k, v in settings.items()))
    model = get_model(f"hf/{path}", ModelOptions(extra=extra))
    assert isinstance(model, HFModel)
    return model


def questions(n: int, params: GenerationParams) -> list[Request]:
    return [Request.chat(f"Question {i}: is dose {i * 5} mg " + "safe? " * (i % 5), params) for i in range(n)]


def test_identity_names_the_content_not_the_path(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    original = hf_model(tiny_models["llama"])
    copied = hf_model(Path(shutil.copytree(tiny_models["llama"], tmp_path / "moved" / "my-llama")), batch_size=3)
    identity = original.identity()
    assert identity == copied.identity()
    text = json.dumps(identity)
    assert str(tiny_models["llama"]) not in text and str(tmp_path) not in text and "/" not in text
    assert identity["provider"] == "hf" and identity["kind"] == "text" and identity["dtype"] == "float32"
    request = Request.chat("Hello", GenerationParams(max_tokens=4))
    assert request.cache_key(identity) == request.cache_key(copied.identity())
    # What changes the answers changes the identity.
    assert hf_model(tiny_models["llama"], dtype="bfloat16").identity() != identity
    assert hf_model(tiny_models["llama"], ignore_eos="true").identity() != identity
    assert hf_model(tiny_models["qwen2"]).identity() != identity
    assert original._loaded is None, "naming a model must not load its weights"


def test_concurrency_follows_the_batch_size(tiny_models: dict[str, Path]) -> None:
    model = hf_model(tiny_models["llama"], batch_size=3)
    assert model.runs_locally
    assert effective_concurrency(model, EngineOptions()) == 12
    assert effective_concurrency(model, EngineOptions(concurrency=2)) == 2
    assert model.batch_stats == {"batches": 0, "largest_batch": 0, "batch_size": 3}


def engine_run(model: HFModel, requests: list[Request], store: RunStore, options: EngineOptions = QUIET) -> Any:
    pending = {request.cache_key(model.identity()): request for request in requests}
    assert len(pending) == len(requests)

    async def go() -> Any:
        try:
            return await generate_pending(model, pending, store, options)
        finally:
            await model.aclose()

    return pending, asyncio.run(go())


def test_engine_requests_are_batched_and_agree_with_batches_of_one(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    requests = questions(24, GenerationParams(max_tokens=8))
    batched = hf_model(tiny_models["llama"], batch_size=4)
    with RunStore(tmp_path / "batched.sqlite") as store:
        pending, stats = engine_run(batched, requests, store)
        assert (stats.requested, stats.answered, stats.failed) == (24, 24, 0)
        assert store.answered_keys() == set(pending)
        answers = {key: r.text for key, r in store.responses().items()}
    assert 1 < batched.batch_stats["largest_batch"] <= 4
    assert batched.batch_stats["batches"] < 24
    assert stats.prompt_tokens > 0 and 0 < stats.completion_tokens <= 24 * 8

    single = hf_model(tiny_models["llama"], batch_size=1)
    with RunStore(tmp_path / "single.sqlite") as store:
        engine_run(single, requests, store)
        assert {key: r.text for key, r in store.responses().items()} == answers
    assert single.batch_stats["largest_batch"] == 1 and single.batch_stats["batches"] == 24


def test_nothing_pending_loads_nothing(
    tiny_models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cares.models.hf as hf_backend

    loads: list[str] = []
    real_load = hf_backend.load

    def counted_load(checkpoint: Any, *args: Any) -> Any:
        loads.append(checkpoint.spec)
        return real_load(checkpoint, *args)

    monkeypatch.setattr(hf_backend, "load", counted_load)
    model = hf_model(tiny_models["llama"])
    prepared: list[int] = []
    prepare = model.prepare

    async def counted_prepare() -> None:
        prepared.append(1)
        await prepare()

    model.prepare = counted_prepare  # type: ignore[method-assign]
    with RunStore(tmp_path / "run.sqlite") as store:
        _, stats = engine_run(model, [], store)
        assert stats.requested == 0 and prepared == [] and loads == [] and model._loaded is None
        _, stats = engine_run(model, questions(3, GenerationParams(max_tokens=4)), store)
        assert stats.answered == 3 and prepared and loads == [model.spec]


def test_local_models_have_no_per_attempt_timeout(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    model = hf_model(tiny_models["llama"], batch_size=2, ignore_eos="true")
    hurried = EngineOptions(progress=False, timeout_s=0.001, max_attempts=1)
    with RunStore(tmp_path / "run.sqlite") as store:
        _, stats = engine_run(model, questions(6, GenerationParams(max_tokens=48)), store, hurried)
        assert stats.seconds > hurried.timeout_s * 6
        assert (stats.answered, stats.failed) == (6, 0), stats.errors
        assert all(r.status is ResponseStatus.OK and r.finish_reason == "length" for r in store.responses().values())


def test_out_of_memory_caps_later_batches(tiny_models: dict[str, Path], caplog: pytest.LogCaptureFixture) -> None:
    model = hf_model(tiny_models["llama"], batch_size=8)

    async def go() -> tuple[list[Completion], OutOfMemoryAbove]:
        await model.prepare()
        assert model._loaded is not None
        generator = OutOfMemoryAbove(model._loaded, 2, on_shrink=model._shrink)
        model._generator = generator
        try:
            out = await asyncio.gather(*(model.generate(r) for r in questions(16, GenerationParams(max_tokens=4))))
        finally:
            await model.aclose()
        return out, generator

    completions, generator = asyncio.run(go())
    assert len(completions) == 16 and all(isinstance(c, Completion) for c in completions)
    assert model.batch_stats["batch_size"] == 2
    # The first batch of 8 is split down to pairs; every later batch is formed at the capped size.
    assert generator.sizes[:7] == [8, 4, 2, 2, 4, 2, 2]
    assert len(generator.sizes) > 7 and all(size <= 2 for size in generator.sizes[7:])
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(m.endswith(": out of memory; batches capped at 4 from now on") for m in warned), warned
    assert any(m.endswith(": out of memory; batches capped at 2 from now on") for m in warned), warned
    assert model._loaded is None, "aclose releases the weights"


# ------------------------------------------------------------------ vision-language models


@pytest.mark.parametrize("kind", ["llava", "idefics3"])
def test_vlm_answers_png_jpeg_and_dicom_requests(tiny_models: dict[str, Path], image_root: Path, kind: str) -> None:
    model = hf_model(tiny_models[kind], batch_size=4)
    params = GenerationParams(max_tokens=6)
    noisy = (("noise_sigma", 8.0), ("seed", 3))
    with_images = {
        fmt: Request.chat("Is there a fracture?", params, (image_ref(image_root, fmt),)) for fmt in IMAGE_FILES
    }
    with_images["dicom+noise"] = Request.chat("Is there a fracture?", params, (image_ref(image_root, "dicom", noisy),))
    text_only = Request.chat("Is there a fracture?", params)

    async def go() -> tuple[dict[str, Completion], Completion, dict[str, Any]]:
        try:
            answers = await asyncio.gather(*(model.generate(r) for r in [*with_images.values(), text_only]))
            assert model._loaded is not None
            rendered = {fmt: render(r, model._loaded) for fmt, r in with_images.items()}
            return dict(zip(with_images, answers[:-1])), answers[-1], rendered
        finally:
            await model.aclose()

    answers, plain, rendered = asyncio.run(go())
    assert model.checkpoint.kind == "vlm"
    assert model.batch_stats["largest_batch"] > 1  # the four one-image requests shared batches
    for fmt, completion in answers.items():
        assert completion.finish_reason in ("length", "stop") and completion.usage.completion_tokens >= 1
        # The image's tokens are part of the prompt: more than the same question without it.
        assert completion.usage.prompt_tokens > plain.usage.prompt_tokens, fmt
    for fmt, size in IMAGE_SIZES.items():
        (image,) = rendered[fmt].images
        assert image.mode == "RGB" and image.size == size, fmt
    assert rendered["dicom"].images[0].tobytes() != rendered["dicom+noise"].images[0].tobytes()
    assert len({rendered[fmt].images[0].tobytes() for fmt in IMAGE_FILES}) == 3


@pytest.mark.parametrize("kind", ["llava", "idefics3"])
def test_the_pixels_reach_the_model(load_tiny: Any, image_root: Path, kind: str) -> None:
    from cares.models.hf.decode import BatchGenerator

    loaded = load_tiny(kind)
    generator = BatchGenerator(loaded)
    params = GenerationParams(max_tokens=1)
    prompts = [render(Request.chat("Is there a fracture?", params, (image_ref(image_root, fmt),)), loaded)
               for fmt in ("png", "jpeg", "dicom")]
    with torch.inference_mode():
        logits = loaded.model(**generator._encode(prompts)).logits[:, -1]
        alone = loaded.model(**generator._encode(prompts[1:2])).logits[:, -1]
    assert not torch.allclose(logits[0], logits[1]) and not torch.allclose(logits[1], logits[2])
    torch.testing.assert_close(logits[1], alone[0], atol=1e-4, rtol=0)


def test_a_text_only_model_refuses_image_requests(tiny_models: dict[str, Path], image_root: Path) -> None:
    model = hf_model(tiny_models["qwen2"])
    request = Request.chat("Is there a fracture?", GenerationParams(max_tokens=4), (image_ref(image_root, "png"),))

    async def go() -> None:
        try:
            await model.generate(request)
        finally:
            await model.aclose()

    with pytest.raises(FatalModelError) as info:
        asyncio.run(go())
    text = str(info.value)
    assert "is a text-only model (qwen2)" in text and "vision-language checkpoint" in text and "\n" not in text


def test_a_fatal_error_stops_the_engine_and_keeps_what_was_answered(
    tiny_models: dict[str, Path], image_root: Path, tmp_path: Path
) -> None:
    model = hf_model(tiny_models["llama"], batch_size=2)
    params = GenerationParams(max_tokens=4)
    requests = [*questions(2, params), Request.chat("Look", params, (image_ref(image_root, "jpeg"),))]
    with RunStore(tmp_path / "run.sqlite") as store, pytest.raises(FatalModelError):
        engine_run(model, requests, store, EngineOptions(progress=False, concurrency=1))
    with RunStore(tmp_path / "run.sqlite") as store:
        assert len(store.answered_keys()) == 2
