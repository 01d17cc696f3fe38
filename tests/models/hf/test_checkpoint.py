"""hf/ settings, checkpoint checks and content fingerprints, on real tiny checkpoints."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from cares.errors import ConfigError  # noqa: E402
from cares.models.hf import checkpoint as ckpt  # noqa: E402
from cares.models.hf.checkpoint import HFSettings, fingerprint_dir, locate, resolve_device, resolve_dtype  # noqa: E402

SPEC = "hf/some-model"


def test_settings_parse_every_key() -> None:
    settings = HFSettings.from_args(SPEC, (
        ("device", "cuda:1"), ("dtype", "bfloat16"), ("batch-size", "4"), ("revision", "abc123"),
        ("trust_remote_code", "yes"), ("attn_implementation", "eager"), ("ignore_eos", "0"),
    ))
    assert settings == HFSettings(device="cuda:1", dtype="bfloat16", batch_size=4, revision="abc123",
                                  trust_remote_code=True, attn_implementation="eager", ignore_eos=False)
    assert HFSettings.from_args(SPEC, ()) == HFSettings()
    # Values from the Python API arrive typed and are taken as they are.
    assert HFSettings.from_args(SPEC, (("batch_size", 3), ("ignore_eos", True))).batch_size == 3


@pytest.mark.parametrize(
    "value,expected", [("true", True), ("1", True), ("YES", True), ("false", False), ("no", False)]
)
def test_boolean_spellings(value: str, expected: bool) -> None:
    assert HFSettings.from_args(SPEC, (("ignore_eos", value),)).ignore_eos is expected


@pytest.mark.parametrize(
    "extra,message",
    [
        ((("temperature", "0.5"),), "unknown --model-arg 'temperature'; known: attn_implementation, batch_size"),
        ((("batch_size", "eight"),), "--model-arg batch_size expects an integer, got 'eight'"),
        ((("batch_size", "0"),), "batch_size must be at least 1"),
        ((("batch_size", "-2"),), "batch_size must be at least 1"),
        ((("ignore_eos", "maybe"),), "--model-arg ignore_eos expects true or false, got 'maybe'"),
        ((("trust_remote_code", ""),), "--model-arg trust_remote_code expects true or false"),
        ((("dtype", "float8"),), "dtype must be one of auto, float32, bfloat16, float16, got 'float8'"),
        ((("device", "gpu"),), "device must be auto, cpu, mps, cuda or cuda:N, got 'gpu'"),
        ((("device", "cuda:x"),), "got 'cuda:x'"),
    ],
)
def test_bad_settings_are_one_line_config_errors(extra: tuple, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        HFSettings.from_args(SPEC, extra)
    text = str(info.value)
    assert "\n" not in text and text.startswith(f"{SPEC}: ") and message in text


def test_device_and_dtype_resolution_on_this_machine() -> None:
    import torch

    assert resolve_device("cpu") == "cpu" and resolve_device("cuda:3") == "cuda:3"
    if not torch.cuda.is_available() and not torch.backends.mps.is_available():
        assert resolve_device("auto") == "cpu"
    assert resolve_dtype("auto", "cpu") == "float32"
    assert resolve_dtype("auto", "mps") == "float16"
    assert resolve_dtype("bfloat16", "cpu") == "bfloat16"


# ------------------------------------------------------------------ locate


def test_missing_path_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-checkpoint"
    with pytest.raises(ConfigError) as info:
        locate(str(missing), HFSettings())
    assert str(missing) in str(info.value) and "no such directory" in str(info.value)
    assert "\n" not in str(info.value)


def test_a_mistyped_relative_path_is_not_sent_to_the_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        locate("models/tiny", HFSettings())
    message = str(info.value)
    assert "no such directory models/tiny" in message and "models/ exists here" in message
    assert "hf/hub:models/tiny" in message and "\n" not in message


def test_hub_prefix_needs_an_org_and_name() -> None:
    with pytest.raises(ConfigError, match=r"hf/hub:just-a-name: 'just-a-name' is not a hub id \(org/name\)"):
        locate("hub:just-a-name", HFSettings())


def test_a_file_is_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"weights")
    with pytest.raises(ConfigError, match="is a file; give the checkpoint's directory"):
        locate(str(path), HFSettings())


def test_a_directory_without_config_json(tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(ConfigError, match=r"is not a transformers checkpoint \(no config.json in it\)"):
        locate(str(tmp_path), HFSettings())


def test_an_unreadable_config_json(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError) as info:
        locate(str(tmp_path), HFSettings())
    assert "cannot read its config.json" in str(info.value) and "\n" not in str(info.value)


def _distilbert(path: Path) -> None:
    from transformers import DistilBertConfig

    DistilBertConfig(dim=32, n_layers=1, n_heads=2, hidden_dim=37).save_pretrained(path)


def _t5(path: Path) -> None:
    from transformers import T5Config

    T5Config(d_model=32, d_ff=37, num_layers=1, num_heads=2).save_pretrained(path)


@pytest.mark.parametrize("write,model_type", [(_distilbert, "distilbert"), (_t5, "t5")])
def test_a_non_generative_model_type_points_to_python_adapters(tmp_path: Path, write, model_type: str) -> None:
    write(tmp_path)
    with pytest.raises(ConfigError) as info:
        locate(str(tmp_path), HFSettings())
    text = str(info.value)
    assert f"model type {model_type!r} is neither a causal language model nor an image-text-to-text model" in text
    assert "python/<module>:<callable>" in text and "\n" not in text


@pytest.mark.parametrize("kind,expected", [("llama", "text"), ("qwen2", "text"), ("llava", "vlm"), ("idefics3", "vlm")])
def test_text_and_vision_language_kinds(tiny_models: dict[str, Path], kind: str, expected: str) -> None:
    found = locate(str(tiny_models[kind]), HFSettings())
    assert found.kind == expected
    assert found.model_type == kind
    assert found.local and found.source == str(tiny_models[kind])
    assert found.fingerprint == fingerprint_dir(tiny_models[kind])


# ------------------------------------------------------------------ fingerprint_dir


@pytest.fixture
def llama_copy(tiny_models: dict[str, Path], tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_models["llama"], tmp_path / "elsewhere" / "renamed"))


def _flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_fingerprint_survives_copying(tiny_models: dict[str, Path], llama_copy: Path) -> None:
    original = fingerprint_dir(tiny_models["llama"])
    assert fingerprint_dir(llama_copy) == original
    assert original["files"] == len([p for p in llama_copy.iterdir() if p.is_file()])
    assert str(tiny_models["llama"]) not in json.dumps(original)


def test_fingerprint_ignores_readmes_licences_and_hidden_files(tiny_models: dict[str, Path], llama_copy: Path) -> None:
    (llama_copy / "README.md").write_text("# my model\n")
    (llama_copy / "LICENSE").write_text("MIT\n")
    (llama_copy / ".cache").mkdir()
    (llama_copy / ".cache" / "x.lock").write_text("")
    assert fingerprint_dir(llama_copy) == fingerprint_dir(tiny_models["llama"])


def test_fingerprint_changes_with_one_weight_byte_or_a_new_file(tiny_models: dict[str, Path], llama_copy: Path) -> None:
    original = fingerprint_dir(tiny_models["llama"])
    weights = llama_copy / "model.safetensors"
    _flip_byte(weights, weights.stat().st_size // 2)
    changed = fingerprint_dir(llama_copy)
    assert changed["checkpoint_sha256"] != original["checkpoint_sha256"]
    _flip_byte(weights, weights.stat().st_size // 2)
    assert fingerprint_dir(llama_copy) == original
    (llama_copy / "extra_config.json").write_text("{}")
    assert fingerprint_dir(llama_copy)["checkpoint_sha256"] != original["checkpoint_sha256"]
    template = llama_copy / "chat_template.jinja"
    (llama_copy / "extra_config.json").unlink()
    template.write_text(template.read_text() + " ")
    assert fingerprint_dir(llama_copy)["checkpoint_sha256"] != original["checkpoint_sha256"]


def test_large_files_are_sampled_at_start_middle_and_end(
    llama_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ckpt, "_SMALL_FILE", 4096)
    monkeypatch.setattr(ckpt, "_SAMPLE", 1024)
    weights = llama_copy / "model.safetensors"
    size = weights.stat().st_size
    assert size > 3 * 4096
    original = fingerprint_dir(llama_copy)
    for offset in (10, size // 2 + 5, size - 3):
        _flip_byte(weights, offset)
        assert fingerprint_dir(llama_copy) != original, offset
        _flip_byte(weights, offset)
    assert fingerprint_dir(llama_copy) == original
