"""`--model-arg` for every provider: openai/ body fields and headers reach the server, settings no
model reads are refused naming the argument, and a resume keeps the stored ones."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cares.cli.options import model_settings
from cares.errors import ConfigError
from cares.testing.openai_server import FakeOpenAIServer, ServerConfig
from tests.conftest import CARES, cli_env


def cares(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(CARES + list(args), env=cli_env(), capture_output=True, text=True, timeout=180)


def test_settings_headers_and_extra_body_fields_are_told_apart() -> None:
    settings, headers = model_settings(
        [("stream", "true"), ("extra_body", '{"a": {"b": 1}, "c": 2}'), ("extra_body.a.d", "true"),
         ("extra_body.top_k", "5"), ("extra_body.name", "gpt-x"), ("extra_body.stop", '["END"]'),
         ("header.X-Gateway", "abc"), ("dtype", "bfloat16")], "--model-arg")
    assert headers == (("X-Gateway", "abc"),)
    assert settings[:2] == (("stream", "true"), ("dtype", "bfloat16")) and settings[2][0] == "extra_body"
    assert json.loads(settings[2][1]) == {
        "a": {"b": 1, "d": True},
        "c": 2,
        "top_k": 5,
        "name": "gpt-x",
        "stop": ["END"],
    }
    assert model_settings([("device", "cpu")], "--model-arg") == ((("device", "cpu"),), ())


@pytest.mark.parametrize("pair,message", [
    (("header.Bad Name", "x"), "--model-arg header.Bad Name: an HTTP header name is"),
    (("extra_body.", "5"), "--model-arg extra_body.: expected extra_body.FIELD=VALUE"),
    (("extra_body", "[1]"), "--model-arg extra_body: expected a JSON object"),
])
def test_malformed_pairs_are_named(pair: tuple[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match="^" + message.replace(".", r"\.").replace("[", r"\[")):
        model_settings([pair], "--model-arg")


def test_openai_body_fields_and_headers_reach_the_server_and_resume_keeps_them(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with FakeOpenAIServer(ServerConfig()) as srv:
        proc = cares("run", "cares-18k", "--model", "openai/m", "--base-url", srv.base_url, "--limit", "4",
                     "--bootstrap", "0", "--run-dir", str(run), "--no-progress", "--no-cache",
                     "--model-arg", "extra_body.top_k=5",
                     "--model-arg", "extra_body.chat_template_kwargs.thinking=false",
                     "--model-arg", "header.X-Gateway-Token=tok-123")
        assert proc.returncode == 0, proc.stderr
        assert len(srv.stats.log) == 4
        for entry in srv.stats.log:
            assert entry["body"]["top_k"] == 5 and entry["body"]["chat_template_kwargs"] == {"thinking": False}
            assert entry["headers"]["X-Gateway-Token"] == "tok-123"
        # The header is a secret like the key: nowhere in the run directory.
        assert not any(b"tok-123" in path.read_bytes() for path in run.iterdir() if path.is_file())
        results = json.loads((run / "results.json").read_text())
        assert results["model"]["identity"]["extra_body"] == {"top_k": 5, "chat_template_kwargs": {"thinking": False}}
        # A resume with only a header keeps the stored body fields: the same identity, nothing asked again.
        again = cares("resume", str(run), "--model-arg", "header.X-Gateway-Token=tok-456", "--no-progress")
        assert again.returncode == 0, again.stderr
        assert len(srv.stats.log) == 4


@pytest.mark.parametrize("model,arg,message", [
    ("baseline/refuse", "extra_body.top_k=5",
     "--model-arg extra_body.top_k: no model here takes --model-arg settings (baseline/refuse;"),
    ("python/my_model.py:answer", "dtype=bfloat16", "--model-arg dtype: no model here takes --model-arg settings"),
    ("hf/./tiny", "header.X-Foo=bar", "--model-arg header.X-Foo: HTTP headers go to openai/ models"),
    ("guard/baseline/refuse", "stream=true", "--model-arg stream: no model here takes --model-arg settings"),
])
def test_settings_no_model_reads_are_refused(tmp_path: Path, model: str, arg: str, message: str) -> None:
    proc = cares("run", "cares-18k", "--model", model, "--model-arg", arg, "--run-dir", str(tmp_path / "r"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[-1].startswith(f"cares: error: {message}"), proc.stderr
    assert not (tmp_path / "r").exists()


def test_unknown_openai_setting_is_refused_by_the_client(tmp_path: Path) -> None:
    proc = cares("run", "cares-18k", "--model", "openai/m", "--base-url", "http://127.0.0.1:9/v1",
                 "--model-arg", "top_k=5", "--run-dir", str(tmp_path / "r"))
    assert proc.returncode == 2 and "unknown --model-arg 'top_k'" in proc.stderr, proc.stderr
