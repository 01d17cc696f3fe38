"""Fetching the released CARES-VQA files, against a real HTTP server on the loopback interface."""

from __future__ import annotations

import hashlib
import http.server
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cares.data.vqa import DEFAULT_FILES, load_vqa
from cares.data.vqa import fetch as fetch_module
from cares.data.vqa.fetch import (
    DEFAULT_BASE_URL,
    PINNED_SHA256,
    default_cache_dir,
    default_vqa_dir,
    fetch_cares_vqa,
)
from cares.errors import CaresError, ConfigError

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
PACK = SHARED / "data" / "cares-vqa"


@dataclass
class Server:
    root: Path  # what the server serves; base_url points at it
    base_url: str
    requests: list[str] = field(default_factory=list)

    def file(self, source: str) -> Path:
        return self.root / DEFAULT_FILES[source]


def _have_pack() -> bool:
    return all((PACK / relative).is_file() for relative in DEFAULT_FILES.values())


@pytest.fixture(autouse=True)
def _no_proxy_for_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture(params=["released", "synthetic"])
def server(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """Serves a copy of the released files, or small stand-ins pinned for the test so the logic is tested everywhere."""
    root = tmp_path / "served" / "data"
    if request.param == "released":
        if not _have_pack():
            pytest.skip(f"the released CARES-VQA files are not at {PACK}")
        for relative in DEFAULT_FILES.values():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(PACK / relative, root / relative)
    else:
        pins = {}
        for source, relative in DEFAULT_FILES.items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            body = f'{{"source": "{source}"}}\n'.encode() * 1000
            (root / relative).write_bytes(body)
            pins[relative] = hashlib.sha256(body).hexdigest()
        monkeypatch.setattr(fetch_module, "PINNED_SHA256", pins)
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root.parent), **kwargs)

        def do_GET(self) -> None:
            requests.append(self.path)
            super().do_GET()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Server(root, f"http://127.0.0.1:{httpd.server_address[1]}/data", requests)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def leftovers(dest: Path) -> list[Path]:
    return [path for path in dest.rglob("*") if path.is_file() and path.name.endswith(".part")]


def test_fetch_downloads_verifies_and_then_skips(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "cache" / "cares-vqa"
    fetched = fetch_cares_vqa(dest, server.base_url, timeout=10)
    assert [f.source for f in fetched] == list(DEFAULT_FILES)
    assert all(f.downloaded for f in fetched)
    assert sorted(server.requests) == sorted(f"/data/{relative}" for relative in DEFAULT_FILES.values())
    for f in fetched:
        assert f.path == dest / f.relative_path
        assert f.path.read_bytes() == server.root.joinpath(f.relative_path).read_bytes()
        assert f.sha256 == fetch_module.PINNED_SHA256[f.relative_path] and f.size == f.path.stat().st_size
        assert f.url == f"{server.base_url}/{f.relative_path}"
    assert leftovers(dest) == []

    again = fetch_cares_vqa(dest, server.base_url, timeout=10)
    assert not any(f.downloaded for f in again) and len(server.requests) == 4
    assert [f.to_dict()["path"] for f in again] == [str(f.path) for f in fetched]

    forced = fetch_cares_vqa(dest, server.base_url, force=True, timeout=10, sources=["ol3i"])
    assert [(f.source, f.downloaded) for f in forced] == [("ol3i", True)] and len(server.requests) == 5


def test_tampered_download_is_refused_and_not_kept(server: Server, tmp_path: Path) -> None:
    server.file("ham10000").write_bytes(server.file("ham10000").read_bytes() + b"\n")
    dest = tmp_path / "cache"
    with pytest.raises(CaresError, match=r"sha256 is [0-9a-f]{64}, expected [0-9a-f]{64}") as caught:
        fetch_cares_vqa(dest, server.base_url, timeout=10)
    assert "HAM10000/HAM10000_factuality.jsonl" in str(caught.value) and "\n" not in str(caught.value)
    assert not (dest / DEFAULT_FILES["ham10000"]).exists()
    assert leftovers(dest) == []


def test_damaged_local_copy_is_replaced_or_removed(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "cache"
    target = dest / DEFAULT_FILES["ol3i"]
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not the released file\n")
    fetched = fetch_cares_vqa(dest, server.base_url, timeout=10, sources=["ol3i"])
    assert fetched[0].downloaded and target.read_bytes() == server.file("ol3i").read_bytes()

    target.write_bytes(b"damaged again\n")
    server.file("ol3i").write_bytes(b"and the server is wrong too\n")
    with pytest.raises(CaresError, match="sha256"):
        fetch_cares_vqa(dest, server.base_url, timeout=10, sources=["ol3i"])
    assert not target.exists() and leftovers(dest) == []


def test_http_error_leaves_nothing(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "cache"
    with pytest.raises(CaresError, match="HTTP 404"):
        fetch_cares_vqa(dest, server.base_url + "/nowhere", timeout=10)
    assert not any(path.is_file() for path in dest.rglob("*"))


def test_forced_download_that_fails_keeps_the_good_copy(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "cache"
    fetch_cares_vqa(dest, server.base_url, timeout=10, sources=["iu-xray"])
    good = (dest / DEFAULT_FILES["iu-xray"]).read_bytes()
    with pytest.raises(CaresError, match="HTTP 404"):
        fetch_cares_vqa(dest, server.base_url + "/nowhere", force=True, timeout=10, sources=["iu-xray"])
    assert (dest / DEFAULT_FILES["iu-xray"]).read_bytes() == good and leftovers(dest) == []


def test_unreachable_server(tmp_path: Path) -> None:
    httpd = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    port = httpd.server_address[1]
    httpd.server_close()  # nothing listens on the port any more
    with pytest.raises(CaresError, match="download failed"):
        fetch_cares_vqa(tmp_path / "cache", f"http://127.0.0.1:{port}/data", timeout=5, sources=["ol3i"])
    assert leftovers(tmp_path / "cache") == []


def test_file_url_mirror(server: Server, tmp_path: Path) -> None:
    fetched = fetch_cares_vqa(tmp_path / "cache", server.root.as_uri(), sources=["ham10000", "ol3i"])
    assert [f.source for f in fetched] == ["ham10000", "ol3i"] and all(f.downloaded for f in fetched)
    assert server.requests == []


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no released CARES-VQA file for mimic-cxr"):
        fetch_cares_vqa(tmp_path, sources=["mimic-cxr"])
    with pytest.raises(ConfigError, match="http"):
        fetch_cares_vqa(tmp_path, "ftp://example.org/data")


@pytest.mark.parametrize("server", ["released"], indirect=True)
def test_released_files_load_after_fetch(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "cache"
    fetch_cares_vqa(dest, server.base_url, timeout=10)
    counts = {source: load_vqa(source, dest)[1].n_items for source in DEFAULT_FILES}
    assert counts == {"iu-xray": 2573, "ham10000": 2000, "fairvlmed": 2838, "ol3i": 1000}


def test_pins_match_the_shared_readme() -> None:
    readme = SHARED / "data" / "README.md"
    if not readme.is_file():
        pytest.skip(f"{readme} is absent")
    listed = dict(re.findall(r"^- (\S+\.jsonl)\s+([0-9a-f]{64})\s*$", readme.read_text(encoding="utf-8"), re.MULTILINE))
    assert listed == PINNED_SHA256
    assert set(PINNED_SHA256) == set(DEFAULT_FILES.values())
    assert DEFAULT_BASE_URL.startswith("https://raw.githubusercontent.com/richard-peng-xia/CARES/")


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CARES_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert default_cache_dir() == tmp_path / "elsewhere"
    assert default_vqa_dir() == tmp_path / "elsewhere" / "cares-vqa"
    monkeypatch.delenv("CARES_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "cares"


def test_cli_fetch_then_run_on_the_fetched_pack(server: Server, tmp_path: Path) -> None:
    """`cares data fetch cares-vqa` as a user runs it, then a run reading the fetched pack."""
    if not _have_pack():
        pytest.skip(f"the released CARES-VQA files are not at {PACK}")
    from tests.cli.test_cli import cares
    from tests.conftest import cli_env

    env = cli_env(no_proxy="127.0.0.1,localhost", CARES_CACHE_DIR=str(tmp_path / "cache"))
    proc = cares("data", "fetch", "cares-vqa", "--base-url", server.base_url, env=env)
    if "synthetic" in server.root.parts[-3:] or proc.returncode != 0 and "sha256" in proc.stderr:
        pytest.skip("the CLI checks the released hashes; only the released copy can pass")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("downloaded") == 4
    again = cares("data", "fetch", "cares-vqa", "--base-url", server.base_url, env=env)
    assert again.stdout.count("already present") == 4
    run = cares("run", "cares-vqa", "--model", "baseline/constant:No", "--data", "cares-vqa", "--no-images",
                "--source", "ol3i", "--tasks", "factuality", "--bootstrap", "0", "--run-dir", str(tmp_path / "run"),
                env=env)
    assert run.returncode == 0, run.stderr
    assert "ol3i" in run.stdout
