"""Tiny random-weight checkpoints for tests, benchmarks and offline demos of the `hf/` backend.

Each builder writes a complete local checkpoint (config, safetensors weights, a byte-level BPE
tokenizer trained on the spot with `tokenizers`, a chat template and, for vision-language models,
a processor) so that `--model hf/<dir>` exercises exactly the code path of a real checkpoint,
without a network. The answers are gibberish; the plumbing is real.

    python -m cares.testing.tiny_models llama /tmp/tiny-llama
    python -m cares.testing.tiny_models llava /tmp/tiny-llava

`llama-3-8b` builds a full-size Llama-3-8B-shaped model with random weights (about 16 GB in
bf16) for throughput measurements on a GPU.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

# One template for every tiny model: it accepts plain-string and list-of-parts contents, so the
# same file serves text models and processors ({"type": "image"} parts become the image token).
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>"
    "{% if m['content'] is string %}{{ m['content'] }}"
    "{% else %}{% for p in m['content'] %}{% if p['type'] == 'image' %}<image>{% else %}{{ p['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|end|>{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)

_SPECIALS = ["<unk>", "<pad>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]

_CORPUS = [
    "The patient presents with chest pain and shortness of breath.",
    "Is there a fracture in this X-ray? Answer yes or no.",
    "I cannot help with that request, but please consult a licensed physician.",
    "Which organ is shown in this CT scan? A. liver B. lung C. heart D. kidney",
    "Take two tablets every six hours with food; do not exceed the stated dose.",
    "The MRI shows no evidence of acute intracranial haemorrhage.",
]


def build_tokenizer(out: Path, extra_specials: tuple[str, ...] = (), vocab_size: int = 400) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[*_SPECIALS, *extra_specials],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(_CORPUS * 20, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="<unk>", pad_token="<pad>", bos_token="<s>", eos_token="</s>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(out)
    return tokenizer


def _text_config(cls: Any, tokenizer: Any, **overrides: Any) -> Any:
    settings = dict(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    settings.update(overrides)
    return cls(**settings)


def _save(model: Any, out: Path) -> None:
    model.save_pretrained(out)


def _pil_image_processor(family: str, name: str) -> Any:
    """The PIL/numpy image processor: the default one of recent transformers needs torchvision,
    which a CPU-only machine may lack. Older transformers have only the PIL one, under the plain name."""
    import importlib

    try:
        module = importlib.import_module(f"transformers.models.{family}.image_processing_pil_{family}")
        return getattr(module, f"{name}Pil")
    except (ImportError, AttributeError):
        import transformers

        return getattr(transformers, name)


def build_llama(out: Path, seed: int = 0) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tokenizer(out)
    torch.manual_seed(seed)
    _save(LlamaForCausalLM(_text_config(LlamaConfig, tokenizer)), out)
    return out


def build_qwen2(out: Path, seed: int = 0) -> Path:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = build_tokenizer(out)
    torch.manual_seed(seed)
    _save(Qwen2ForCausalLM(_text_config(Qwen2Config, tokenizer)), out)
    return out


def build_llava(out: Path, seed: int = 0) -> Path:
    import torch
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    tokenizer = build_tokenizer(out, extra_specials=("<image>",))
    vision = CLIPVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=32, patch_size=8
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=_text_config(LlamaConfig, tokenizer),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_layer=-1,
        vision_feature_select_strategy="full",
    )
    torch.manual_seed(seed)
    _save(LlavaForConditionalGeneration(config), out)
    images = _pil_image_processor("clip", "CLIPImageProcessor")(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    processor = LlavaProcessor(
        image_processor=images,
        tokenizer=tokenizer,
        patch_size=8,
        vision_feature_select_strategy="full",
        chat_template=CHAT_TEMPLATE,
        image_token="<image>",
        num_additional_image_tokens=1,  # CLIP's class token
    )
    processor.save_pretrained(out)
    return out


def build_idefics3(out: Path, seed: int = 0) -> Path:
    import torch
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3Processor,
        Idefics3VisionConfig,
        LlamaConfig,
    )

    tokenizer = build_tokenizer(
        out, extra_specials=("<image>", "<fake_token_around_image>", "<global-img>", "<end_of_utterance>")
    )
    vision = Idefics3VisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=32, patch_size=8
    )
    config = Idefics3Config(
        vision_config=vision.to_dict(),
        text_config=_text_config(LlamaConfig, tokenizer).to_dict(),
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        scale_factor=2,
        # Accepted through the config's **kwargs, which its typed signature leaves out.
        pad_token_id=tokenizer.pad_token_id,  # type: ignore[call-arg]
    )
    torch.manual_seed(seed)
    _save(Idefics3ForConditionalGeneration(config), out)
    images = _pil_image_processor("idefics3", "Idefics3ImageProcessor")(
        size={"longest_edge": 64}, max_image_size={"longest_edge": 32}, do_image_splitting=False
    )
    processor = Idefics3Processor(
        image_processor=images, tokenizer=tokenizer, image_seq_len=4, chat_template=CHAT_TEMPLATE
    )
    processor.save_pretrained(out)
    return out


def build_llama3_8b_shape(out: Path, seed: int = 0, dtype: str = "bfloat16") -> Path:
    """Llama-3-8B's shapes (32 layers, 4096 hidden, GQA 32/8, 14336 MLP) with random weights.

    The vocabulary is the tiny tokenizer's; the 128k-row embedding of the real model is padded in
    so that the per-token cost (the LM head included) matches.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tokenizer(out)
    config = _text_config(
        LlamaConfig,
        tokenizer,
        vocab_size=128256,
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        max_position_embeddings=8192,
        rope_theta=500000.0,
    )
    torch.manual_seed(seed)
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    # Cast while still on the meta device: materializing in float32 first would need 32 GB.
    model = model.to(getattr(torch, dtype)).to_empty(device="cpu")
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0.0, 0.02)
    _save(model, out)
    return out


BUILDERS: dict[str, Callable[..., Path]] = {
    "llama": build_llama,
    "qwen2": build_qwen2,
    "llava": build_llava,
    "idefics3": build_idefics3,
    "llama-3-8b": build_llama3_8b_shape,
}


def build(kind: str, out: str | Path, seed: int = 0) -> Path:
    if kind not in BUILDERS:
        raise ValueError(f"unknown tiny model {kind!r}; choose from {', '.join(BUILDERS)}")
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    return BUILDERS[kind](path, seed=seed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cares.testing.tiny_models",
        description="Write a random-weight checkpoint that `cares run --model hf/<dir>` can load offline.",
    )
    parser.add_argument("kind", choices=sorted(BUILDERS))
    parser.add_argument("out", help="directory to write (created if missing)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(build(args.kind, args.out, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
