"""Prompts to completions on real tiny checkpoints: batched decoding equals one-at-a-time decoding,
seeded sampling, usage and finish reasons, out-of-memory halving and chat templates."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from transformers import AutoProcessor, AutoTokenizer  # noqa: E402

from cares.models.base import ModelCallError  # noqa: E402
from cares.models.hf.checkpoint import Loaded  # noqa: E402
from cares.models.hf.decode import (  # noqa: E402
    BatchGenerator,
    Prompt,
    chat_messages,
    is_out_of_memory,
    prompt_length,
    render,
)
from cares.types import Completion, GenerationParams, Request, Usage  # noqa: E402
from tests.models.hf.conftest import image_ref  # noqa: E402

TEXTS = [  # 5, 24, 12, 69, 33 and 20 tokens with the chat template
    "Hi",
    "Is there a fracture in this X-ray? Answer yes or no.",
    "Is there a fracture?",
    "The patient presents with chest pain and shortness of breath. " * 3,
    "Take two tablets every six hours with food; do not exceed the stated dose.",
    "Is this dose safe for a child?",
]
GREEDY = GenerationParams(max_tokens=12)
# Float32 on the CPU: a row's logits may differ from the same prompt decoded alone only by the
# reordering of float sums that padding and batching bring (observed: below 1e-6).
LOGIT_ATOL = 1e-4


def prompts_for(loaded: Loaded, params: GenerationParams = GREEDY, texts: list[str] = TEXTS) -> list[Prompt]:
    return [render(Request.chat(text, params), loaded) for text in texts]


@dataclass
class Greedy:
    tokens: list[list[int]]  # new tokens per row
    logits: tuple[Any, ...]  # per step: (rows, vocab), before any processing


def greedy(loaded: Loaded, inputs: dict[str, Any], steps: int) -> Greedy:
    with torch.inference_mode():
        out = loaded.model.generate(
            **inputs, max_new_tokens=steps, do_sample=False, temperature=None, top_p=None, top_k=None,
            pad_token_id=loaded.tokenizer.pad_token_id, output_logits=True, return_dict_in_generate=True,
        )
    width = inputs["input_ids"].shape[1]
    return Greedy(out.sequences[:, width:].tolist(), out.logits)


def until_eos(tokens: list[int], eos: set[int]) -> list[int]:
    stop = next((i for i, t in enumerate(tokens) if t in eos), None)
    return tokens if stop is None else tokens[: stop + 1]


@pytest.mark.parametrize("kind", ["llama", "qwen2"])
def test_batched_greedy_decoding_equals_one_prompt_at_a_time(load_tiny: Callable[[str], Loaded], kind: str) -> None:
    loaded = load_tiny(kind)
    assert loaded.dtype == torch.float32
    generator = BatchGenerator(loaded)
    prompts = prompts_for(loaded)
    lengths = [prompt_length(p, loaded) for p in prompts]
    assert len(set(lengths)) == len(prompts) and max(lengths) > 4 * min(lengths)

    inputs = generator._encode(prompts)
    mask = inputs["attention_mask"]
    assert mask.sum(dim=1).tolist() == lengths
    assert bool((mask[:, -1] == 1).all()), "rows must be padded on the left"
    assert int((mask == 0).sum()) > 0

    steps = GREEDY.max_tokens
    batched = greedy(loaded, inputs, steps)
    compared = 0
    for row, prompt in enumerate(prompts):
        alone = greedy(loaded, generator._encode([prompt]), steps)
        tokens = until_eos(alone.tokens[0], generator.eos_ids)
        assert until_eos(batched.tokens[row], generator.eos_ids) == tokens, f"row {row} decoded differently"
        torch.testing.assert_close(batched.logits[0][row], alone.logits[0][0], atol=LOGIT_ATOL, rtol=0)
        for step in range(1, len(tokens)):
            torch.testing.assert_close(batched.logits[step][row], alone.logits[step][0], atol=LOGIT_ATOL, rtol=0)
            compared += 1
    assert compared >= len(prompts)

    # The same through the generator's own path: text, usage and finish reason agree too.
    together = generator.generate(prompts)
    assert together == [generator.generate([p])[0] for p in prompts]
    assert all(isinstance(c, Completion) for c in together)


def test_greedy_decoding_is_deterministic(load_tiny: Callable[[str], Loaded]) -> None:
    loaded = load_tiny("llama")
    generator = BatchGenerator(loaded)
    first = generator.generate(prompts_for(loaded))
    torch.manual_seed(1234)  # the global RNG plays no part in greedy decoding
    assert generator.generate(prompts_for(loaded)) == first
    assert BatchGenerator(loaded).generate(prompts_for(loaded)) == first


def test_sampling_is_seeded_by_the_request_seed_and_the_batch(load_tiny: Callable[[str], Loaded]) -> None:
    loaded = load_tiny("llama")
    generator = BatchGenerator(loaded)
    sampled = GenerationParams(temperature=1.0, max_tokens=12, seed=7)
    first = generator.generate(prompts_for(loaded, sampled))
    torch.manual_seed(999)
    assert generator.generate(prompts_for(loaded, sampled)) == first
    texts = [c.text for c in first]
    assert texts != [c.text for c in generator.generate(prompts_for(loaded, GREEDY))], "temperature>0 must sample"
    assert texts != [c.text for c in generator.generate(prompts_for(loaded, replace(sampled, seed=8)))]
    nucleus = generator.generate(prompts_for(loaded, replace(sampled, temperature=0.7, top_p=0.9)))
    assert len(nucleus) == len(TEXTS) and all(c.usage.completion_tokens > 0 for c in nucleus)


def test_usage_and_finish_reason_length(load_tiny: Callable[[str], Loaded]) -> None:
    loaded = load_tiny("qwen2")
    params = GenerationParams(max_tokens=7)
    prompts = prompts_for(loaded, params)
    completions = BatchGenerator(loaded, ignore_eos=True).generate(prompts)
    for prompt, completion in zip(prompts, completions, strict=True):
        expected_prompt = len(loaded.tokenizer(prompt.text, add_special_tokens=False)["input_ids"])
        assert completion.usage == Usage(expected_prompt, 7)
        assert completion.finish_reason == "length"


def test_finish_reason_stop_counts_the_end_token(
    load_tiny: Callable[[str], Loaded], monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = load_tiny("llama")
    params = GenerationParams(max_tokens=10)
    generator = BatchGenerator(loaded)
    runs = {p.text: (p, greedy(loaded, generator._encode([p]), 10).tokens[0]) for p in prompts_for(loaded, params)}
    assert all(not set(tokens) & generator.eos_ids for _, tokens in runs.values())
    (prompt, tokens), *others = runs.values()
    # Declare a token the model produces at step k an end token: that row must stop there, while a
    # row that never produces it runs to max_tokens in the same batch.
    k = next(i for i in range(2, len(tokens)) if tokens[i] not in tokens[:i])
    other = next(p for p, other_tokens in others if tokens[k] not in other_tokens)
    config = copy.deepcopy(loaded.model.generation_config)
    config.eos_token_id = [loaded.tokenizer.eos_token_id, tokens[k]]
    monkeypatch.setattr(loaded.model, "generation_config", config)
    stopped, full = BatchGenerator(loaded).generate([prompt, other])
    assert stopped.finish_reason == "stop"
    assert stopped.usage.completion_tokens == k + 1
    assert stopped.text == loaded.tokenizer.decode(tokens[:k], skip_special_tokens=True).strip()
    assert full.finish_reason == "length" and full.usage.completion_tokens == 10


@pytest.mark.parametrize("kind,rounds", [("llava", 300), ("llama", 600)])
def test_prompt_lengths_and_batch_encoding_may_run_on_two_threads_at_once(
    load_tiny: Callable[[str], Loaded], image_root: Path, kind: str, rounds: int
) -> None:
    """HFModel measures prompts on the event loop while the batch thread encodes the running batch;
    both use one fast tokenizer, whose padding setting is shared state."""
    import sys
    import threading

    loaded = load_tiny(kind)
    generator = BatchGenerator(loaded)
    images = (image_ref(image_root, "png"),) if kind == "llava" else ()
    prompts = [render(Request.chat(text, GREEDY, images), loaded) for text in TEXTS]
    failures: list[str] = []
    widths: set[int] = set()

    def encode() -> None:
        for _ in range(rounds):
            try:
                widths.add(int(generator._encode(prompts)["input_ids"].shape[1]))
            except Exception as exc:  # noqa: BLE001 - collected for the assertion
                failures.append(f"encode: {type(exc).__name__}: {str(exc)[:80]}")

    def measure() -> None:
        for i in range(rounds * 3):
            try:
                prompt_length(prompts[i % len(prompts)], loaded)
            except Exception as exc:  # noqa: BLE001
                failures.append(f"length: {type(exc).__name__}: {str(exc)[:80]}")

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, so that an unguarded overlap shows within the rounds
    try:
        threads = [threading.Thread(target=encode), threading.Thread(target=measure)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []
    assert len(widths) == 1


# ------------------------------------------------------------------ out of memory


class OutOfMemoryAbove(BatchGenerator):
    """Runs out of memory on batches larger than `limit`; a real OOM cannot be produced on this machine."""

    def __init__(self, loaded: Loaded, limit: int, **kwargs: Any) -> None:
        super().__init__(loaded, **kwargs)
        self.limit = limit
        self.sizes: list[int] = []

    def generate(self, prompts: list[Prompt]) -> list[Completion]:
        self.sizes.append(len(prompts))
        if len(prompts) > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return super().generate(prompts)


def test_out_of_memory_halves_the_batch_and_answers_everything(load_tiny: Callable[[str], Loaded]) -> None:
    loaded = load_tiny("llama")
    prompts = prompts_for(loaded)[:4]
    shrinks: list[int] = []
    generator = OutOfMemoryAbove(loaded, 2, on_shrink=shrinks.append)
    results = generator.run(prompts)
    assert shrinks == [2]
    assert generator.sizes == [4, 2, 2]
    assert results == BatchGenerator(loaded).run(prompts)
    assert all(isinstance(r, Completion) for r in results)


def test_out_of_memory_halving_recurses_and_keeps_the_order(load_tiny: Callable[[str], Loaded]) -> None:
    loaded = load_tiny("llama")
    prompts = prompts_for(loaded)
    shrinks: list[int] = []
    results = OutOfMemoryAbove(loaded, 2, on_shrink=shrinks.append).run(prompts)
    assert shrinks[0] == (len(prompts) + 1) // 2 and all(size <= 2 for size in shrinks[1:])
    assert results == [BatchGenerator(loaded).generate([p])[0] for p in prompts]


def test_an_odd_batch_is_split_larger_half_first(load_tiny: Callable[[str], Loaded]) -> None:
    loaded = load_tiny("llama")
    prompts = prompts_for(loaded)[:5]
    assert len(prompts) == 5
    shrinks: list[int] = []
    generator = OutOfMemoryAbove(loaded, 3, on_shrink=shrinks.append)
    results = generator.run(prompts)
    assert shrinks == [3] and generator.sizes == [5, 3, 2]
    assert all(isinstance(r, Completion) for r in results)


def test_out_of_memory_on_a_batch_of_one_is_a_failed_result_not_an_exception(
    load_tiny: Callable[[str], Loaded],
) -> None:
    loaded = load_tiny("llama")
    prompts = prompts_for(loaded)[:2]
    shrinks: list[int] = []
    generator = OutOfMemoryAbove(loaded, 0, on_shrink=shrinks.append)
    (alone,) = generator.run(prompts[:1])
    assert isinstance(alone, ModelCallError) and not alone.retryable
    assert "out of memory on a batch of one" in str(alone)
    both = generator.run(prompts)
    assert shrinks == [1]
    assert len(both) == 2 and all(isinstance(r, ModelCallError) and not r.retryable for r in both)


def test_other_generation_errors_fail_the_batch_without_retry(load_tiny: Callable[[str], Loaded]) -> None:
    class Broken(BatchGenerator):
        def generate(self, prompts: list[Prompt]) -> list[Completion]:
            raise ValueError("shape mismatch")

    shrinks: list[int] = []
    loaded = load_tiny("llama")
    with pytest.raises(ModelCallError) as info:
        Broken(loaded, on_shrink=shrinks.append).run(prompts_for(loaded))
    assert not info.value.retryable and "generation failed: ValueError: shape mismatch" in str(info.value)
    assert shrinks == []


def test_what_counts_as_out_of_memory() -> None:
    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory"))
    assert is_out_of_memory(RuntimeError("MPS backend out of memory (MPS allocated: 9 GB)"))
    assert is_out_of_memory(RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: Out of memory"))
    assert not is_out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not is_out_of_memory(ValueError("out of memory"))


# ------------------------------------------------------------------ chat templates

SYSTEM = GenerationParams(max_tokens=8, system_prompt="Be careful.")
NO_SYSTEM_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "<|{{ m['role'] }}|>{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for p in m['content'] %}"
    "{% if p['type'] == 'image' %}<image>{% else %}{{ p['text'] }}{% endif %}{% endfor %}{% endif %}<|end|>"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def with_tokenizer(loaded: Loaded, path: Path, template: str | None) -> Loaded:
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.chat_template = template
    tokenizer.padding_side = "left"
    return Loaded(loaded.model, tokenizer, None, loaded.device, loaded.dtype)


def test_chat_template_is_applied(load_tiny: Callable[[str], Loaded]) -> None:
    loaded = load_tiny("llama")
    prompt = render(Request.chat("Hello", SYSTEM), loaded)
    assert prompt.text == "<|system|>Be careful.<|end|><|user|>Hello<|end|><|assistant|>"
    assert prompt.templated and prompt.images == [] and prompt.params == SYSTEM
    # The template's markers are special tokens, counted once each: no tokenizer-added extras.
    ids = loaded.tokenizer(prompt.text, add_special_tokens=False)["input_ids"]
    assert prompt_length(prompt, loaded) == len(ids)
    assert ids[0] == loaded.tokenizer.convert_tokens_to_ids("<|system|>")
    assert ids[-1] == loaded.tokenizer.convert_tokens_to_ids("<|assistant|>")


def test_system_prompt_folds_into_the_first_user_turn_when_the_template_refuses_it(
    load_tiny: Callable[[str], Loaded], tiny_models: dict[str, Path]
) -> None:
    loaded = with_tokenizer(load_tiny("llama"), tiny_models["llama"], NO_SYSTEM_TEMPLATE)
    prompt = render(Request.chat("Hello", SYSTEM), loaded)
    assert prompt.text == "<|user|>Be careful.\n\nHello<|end|><|assistant|>"
    assert prompt.templated
    (completion,) = BatchGenerator(loaded).generate([prompt])
    assert completion.usage.prompt_tokens == prompt_length(prompt, loaded)


def test_a_template_that_fails_without_a_system_role_is_a_non_retryable_error(
    load_tiny: Callable[[str], Loaded], tiny_models: dict[str, Path]
) -> None:
    loaded = with_tokenizer(load_tiny("llama"), tiny_models["llama"], "{{ raise_exception('broken template') }}")
    with pytest.raises(ModelCallError) as info:
        render(Request.chat("Hello", GREEDY), loaded)
    assert not info.value.retryable and "chat template failed" in str(info.value)


def test_plain_transcript_without_a_chat_template(
    load_tiny: Callable[[str], Loaded], tiny_models: dict[str, Path]
) -> None:
    loaded = with_tokenizer(load_tiny("llama"), tiny_models["llama"], None)
    prompt = render(Request.chat("Hello", SYSTEM), loaded)
    assert prompt.text == "System: Be careful.\nUser: Hello\nAssistant:"
    assert not prompt.templated
    (completion,) = BatchGenerator(loaded).generate([prompt])
    expected = len(loaded.tokenizer(prompt.text, add_special_tokens=True)["input_ids"])
    assert completion.usage.prompt_tokens == expected == prompt_length(prompt, loaded)


def test_images_go_before_the_text_of_the_last_user_message(image_root: Path) -> None:
    request = Request.chat("What is shown?", SYSTEM, (image_ref(image_root, "png"), image_ref(image_root, "dicom")))
    messages = chat_messages(request, len(request.images))
    assert messages == [
        {"role": "system", "content": "Be careful."},
        {"role": "user", "content": [{"type": "image"}, {"type": "image"}, {"type": "text", "text": "What is shown?"}]},
    ]
    assert chat_messages(request, 0)[1] == {"role": "user", "content": "What is shown?"}


def vlm_with_template(loaded: Loaded, path: Path, template: str | None) -> Loaded:
    processor = AutoProcessor.from_pretrained(path)
    processor.chat_template = template
    processor.tokenizer.padding_side = "left"
    return Loaded(loaded.model, processor.tokenizer, processor, loaded.device, loaded.dtype)


def test_vlm_prompt_templated_folded_and_plain(
    load_tiny: Callable[[str], Loaded], tiny_models: dict[str, Path], image_root: Path
) -> None:
    loaded = load_tiny("llava")
    request = Request.chat("What is shown?", SYSTEM, (image_ref(image_root, "png"),))
    prompt = render(request, loaded)
    assert prompt.text == "<|system|>Be careful.<|end|><|user|><image>What is shown?<|end|><|assistant|>"
    assert len(prompt.images) == 1 and prompt.images[0].mode == "RGB" and prompt.images[0].size == (40, 30)

    folded = render(request, vlm_with_template(loaded, tiny_models["llava"], NO_SYSTEM_TEMPLATE))
    assert folded.text == "<|user|>Be careful.\n\n<image>What is shown?<|end|><|assistant|>"

    plain_loaded = vlm_with_template(loaded, tiny_models["llava"], None)
    plain = render(request, plain_loaded)
    assert plain.text == "System: Be careful.\nUser: <image>What is shown?\nAssistant:" and not plain.templated
    (completion,) = BatchGenerator(plain_loaded).generate([plain])
    # The processor expands the one <image> into the vision tower's patch tokens.
    assert completion.usage.prompt_tokens > prompt_length(plain, plain_loaded)
