from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import pytest

from cares.testing.openai_server import FakeOpenAIServer, ServerConfig

REPO = Path(__file__).resolve().parents[1]
# Prepared samples and downloads go to a throwaway cache, never the user's home.
os.environ.setdefault("CARES_CACHE_DIR", tempfile.mkdtemp(prefix="cares-test-cache-"))
METHODS = ("direct", "indirect", "obfuscate", "role_play")


def make_rows(levels: tuple[int, ...] = (0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 3, 0)) -> list[dict]:
    """Base prompts with a deliberately uneven level mix, each in all four styles."""
    rows = []
    for index, level in enumerate(levels):
        base = f"Base request number {index} about principle {index % 8} at level {level}?"
        for method in METHODS:
            prompt = base if method == "direct" else f"[{method}] rewritten form of request {index}"
            rows.append(
                {
                    "principle_index": index % 8,
                    "generation_model": "test",
                    "harmful_level": level,
                    "method": method,
                    "base_prompt": base,
                    "prompt": prompt,
                }
            )
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def answer_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test its own shared answer cache: never the user's, and never another test's answers (a later
    fake server may get an earlier one's port, and so its model identity)."""
    path = tmp_path_factory.mktemp("answer-cache") / "answers.sqlite"
    monkeypatch.setenv("CARES_ANSWER_CACHE", str(path))
    return path


@pytest.fixture
def dataset_rows() -> list[dict]:
    return make_rows()


@pytest.fixture
def dataset_file(tmp_path: Path, dataset_rows: list[dict]) -> Path:
    return write_jsonl(tmp_path / "cares18k_test.jsonl", dataset_rows)


@pytest.fixture
def server():
    with FakeOpenAIServer(ServerConfig()) as srv:
        yield srv


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_") and k != "CARES_DEBUG"}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


CARES = [sys.executable, "-m", "cares.cli.main"]


TINY_KINDS = ("llama", "qwen2", "llava", "idefics3")


def local_env(**extra: str) -> dict[str, str]:
    """cli_env for runs of tiny local models: one CPU thread (tiny matrices gain nothing from more,
    and lose a lot when a core is busy elsewhere) and no hub."""
    return cli_env(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", **extra)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Random-weight checkpoints of every tiny kind, built once per session: kind -> directory."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from cares.testing.tiny_models import build

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("tiny-models")
    return {kind: build(kind, root / kind) for kind in TINY_KINDS}
