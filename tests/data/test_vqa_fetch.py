"""Fetching the seven released CARES-VQA files, against a real HTTP server on the loopback interface.

The four files in ../shared are served as they are and checked against their published sha256.
The three large files are not available offline, so small stand-ins in their published shapes
are served instead and pinned by their git blob ids through `fetch_cares_vqa(pins=...)`; the
production defaults are checked separately against the specification.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cares.data.vqa import DEFAULT_FILES, load_vqa
from cares.data.vqa.fetch import (
    DEFAULT_BASE_URL,
    GIT_BLOB,
    PINNED_SHA256,
    PUBLISHED_GIT_BLOB,
    PUBLISHED_PINS,
    SHA256,
    Pin,
    default_cache_dir,
    default_vqa_dir,
    fetch_cares_vqa,
    file_digests,
    git_blob_id,
)
from cares.errors import CaresError, ConfigError

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
PACK = SHARED / "data" / "cares-vqa"
SPEC = SHARED / "CARES_SPEC.md"
LARGE = ("mimic-cxr", "pmc-oa", "omnimedvqa")  # released, but not in the shared copies
LOCAL = tuple(source for source in DEFAULT_FILES if source not in LARGE)
PUBLISHED_COUNTS = {"iu-xray": 2573, "ham10000": 2000, "fairvlmed": 2838, "ol3i": 1000}


def _rows(source: str) -> list[dict[str, Any]]:
    """A few rows in each source's published shape, so a fetched pack also loads."""
    if source == "mimic-cxr":
        return [{"question_id": f"m{i}", "image": f"files/p10/s{i}/view.jpg", "text": "<image>\nWhat is seen?",
                 "answer": f"A small effusion ({i}).", "age": 40 + i, "gender": "F", "race": "WHITE"}
                for i in range(3)]
    if source == "pmc-oa":
        return [{"question_id": f"p{i}", "image": f"PMC{i}_F1.jpg", "text": "What does the figure show?",
                 "answer": f"An axial CT slice ({i})."} for i in range(4)]
    if source == "omnimedvqa":
        return [{"question_id": f"o{i}", "image": f"Images/ACRIMA/Im{i:03d}.png", "dataset": "ACRIMA",
                 "text": "Which finding is shown?", "answer": "Glaucoma", "option_A": "Normal",
                 "option_B": "Glaucoma", "option_C": "Cataract"} for i in range(5)]
    if source == "iu-xray":
        return [{"question_id": 0, "image": f"CXR{i}/0.png", "text": f"Is it normal ({i})?\n<image>", "answer": "No."}
                for i in range(2)]
    if source == "ham10000":
        return [{"question_id": "ISIC_1", "image": "ISIC_1.jpg", "text": "Where?", "options": "A:scalp, B:ear",
                 "fig_caption": "B:ear", "age": 45, "gender": "female"}]
    if source == "ol3i":
        return [{"question_id": 0, "image": "o.jpg", "text": "Q?", "options": "A:Yes, B:No", "answer": "B:No",
                 "label": 0, "age": "90+", "gender": "male"}]
    return [{"question_id": 7, "image": "slo_fundus_00007.jpg", "text": "What?", "answer": "Glaucoma."}]


def _body(source: str) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in _rows(source)).encode()


SYNTHETIC_COUNTS = {source: len(_rows(source)) for source in DEFAULT_FILES}


@dataclass
class Server:
    root: Path  # what the server serves; base_url points at it
    base_url: str
    pins: dict[str, Pin]  # what the served bytes verify against
    released: bool  # True when the four local files are the released ones
    requests: list[str] = field(default_factory=list)

    def file(self, source: str) -> Path:
        return self.root / DEFAULT_FILES[source]


def _have_pack() -> bool:
    return all((PACK / DEFAULT_FILES[source]).is_file() for source in LOCAL)


@pytest.fixture(autouse=True)
def _no_proxy_for_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture(params=["released", "synthetic"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """Serves the four released files plus stand-ins for the three large ones, or stand-ins for all
    seven, each with the pins its bytes verify against: the published sha256 for the released four,
    git blob ids for the large three (as in production), sha256 for the four synthetic ones."""
    root = tmp_path / "served" / "data"
    released = request.param == "released"
    if released and not _have_pack():
        pytest.skip(f"the released CARES-VQA files are not at {PACK}")
    pins: dict[str, Pin] = {}
    for source, relative in DEFAULT_FILES.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        if released and source in LOCAL:
            shutil.copyfile(PACK / relative, root / relative)
            pins[relative] = PUBLISHED_PINS[relative]
            continue
        body = _body(source)
        (root / relative).write_bytes(body)
        pins[relative] = Pin(GIT_BLOB, git_blob_id(body)) if source in LARGE else Pin(SHA256, _sha256(body))
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
        yield Server(root, f"http://127.0.0.1:{httpd.server_address[1]}/data", pins, released, requests)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(dest: Path) -> list[Path]:
    return [path for path in dest.rglob("*") if path.is_file() and path.name.endswith(".part")]


# -- all seven fetched and verified ------------------------------------------------------------------


def test_fetch_downloads_verifies_and_then_skips(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "cache" / "cares-vqa"
    fetched = fetch_cares_vqa(dest, server.base_url, timeout=10, pins=server.pins)
    assert [f.source for f in fetched] == list(DEFAULT_FILES) and len(fetched) == 7
    assert all(f.downloaded for f in fetched)
    assert sorted(server.requests) == sorted(f"/data/{relative}" for relative in DEFAULT_FILES.values())
    for f in fetched:
        data = f.path.read_bytes()
        assert f.path == dest / f.relative_path and data == server.root.joinpath(f.relative_path).read_bytes()
        assert (f.sha256, f.git_blob, f.size) == (_sha256(data), git_blob_id(data), len(data))
        assert f.verified_by == (GIT_BLOB if f.source in LARGE else SHA256)
        assert (f.sha256 if f.verified_by == SHA256 else f.git_blob) == server.pins[f.relative_path].digest
        assert f.url == f"{server.base_url}/{f.relative_path}"
        assert f.to_dict()["verified_by"] == f.verified_by
    assert leftovers(dest) == []

    again = fetch_cares_vqa(dest, server.base_url, timeout=10, pins=server.pins)
    assert not any(f.downloaded for f in again) and len(server.requests) == 7
    assert [f.to_dict()["path"] for f in again] == [str(f.path) for f in fetched]

    forced = fetch_cares_vqa(dest, server.base_url, force=True, timeout=10, sources=["ol3i", "omnimedvqa"],
                             pins=server.pins)
    assert [(f.source, f.downloaded) for f in forced] == [("ol3i", True), ("omnimedvqa", True)]
    assert len(server.requests) == 9


@pytest.mark.parametrize("source", list(DEFAULT_FILES))
def test_tampered_copy_of_each_file_is_refused_by_name(server: Server, tmp_path: Path, source: str) -> None:
    server.file(source).write_bytes(server.file(source).read_bytes() + b"\n")
    dest = tmp_path / "cache"
    with pytest.raises(CaresError) as caught:
        fetch_cares_vqa(dest, server.base_url, timeout=10, pins=server.pins)
    message = str(caught.value)
    relative = DEFAULT_FILES[source]
    what, width = ("git blob", 40) if source in LARGE else ("sha256", 64)
    assert re.search(rf"{re.escape(relative)}: {what} is [0-9a-f]{{{width}}}, expected {server.pins[relative].digest}",
                     message)
    assert "\n" not in message and "(1 of 7 files)" in message and "the other 6 are in place" in message
    assert not (dest / relative).exists() and leftovers(dest) == []
    # The other six were tried all the same, verified and put in place.
    assert all((dest / DEFAULT_FILES[other]).is_file() for other in DEFAULT_FILES if other != source)


def test_default_pins_are_the_published_ones(server: Server, tmp_path: Path) -> None:
    """Without `pins`, stand-ins for the large files are refused against the published blob ids."""
    dest = tmp_path / "cache"
    with pytest.raises(CaresError) as caught:
        fetch_cares_vqa(dest, server.base_url, timeout=10)
    message = str(caught.value)
    for source in LARGE:
        relative = DEFAULT_FILES[source]
        assert f"{relative}: git blob is {git_blob_id(server.file(source).read_bytes())}, " \
               f"expected {PUBLISHED_GIT_BLOB[relative]}" in message
        assert not (dest / relative).exists()
    failed = 3 if server.released else 7
    assert f"({failed} of 7 files)" in message and "\n" not in message
    assert all((dest / DEFAULT_FILES[s]).is_file() == server.released for s in LOCAL)


def test_damaged_local_copy_is_replaced_or_removed(server: Server, tmp_path: Path) -> None:
    for source in ("ol3i", "pmc-oa"):
        dest = tmp_path / source
        target = dest / DEFAULT_FILES[source]
        target.parent.mkdir(parents=True)
        target.write_bytes(b"not the released file\n")
        fetched = fetch_cares_vqa(dest, server.base_url, timeout=10, sources=[source], pins=server.pins)
        assert fetched[0].downloaded and target.read_bytes() == server.file(source).read_bytes()

        target.write_bytes(b"damaged again\n")
        server.file(source).write_bytes(b"and the server is wrong too\n")
        with pytest.raises(CaresError, match="sha256 is" if source == "ol3i" else "git blob is"):
            fetch_cares_vqa(dest, server.base_url, timeout=10, sources=[source], pins=server.pins)
        assert not target.exists() and leftovers(dest) == []


def test_http_error_leaves_nothing(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "cache"
    with pytest.raises(CaresError, match="HTTP 404") as caught:
        fetch_cares_vqa(dest, server.base_url + "/nowhere", timeout=10, pins=server.pins)
    assert "(7 of 7 files)" in str(caught.value) and "in place" not in str(caught.value)
    assert not any(path.is_file() for path in dest.rglob("*"))


def test_forced_download_that_fails_keeps_the_good_copy(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "cache"
    fetch_cares_vqa(dest, server.base_url, timeout=10, sources=["iu-xray", "mimic-cxr"], pins=server.pins)
    good = {s: (dest / DEFAULT_FILES[s]).read_bytes() for s in ("iu-xray", "mimic-cxr")}
    with pytest.raises(CaresError, match="HTTP 404"):
        fetch_cares_vqa(dest, server.base_url + "/nowhere", force=True, timeout=10, sources=["iu-xray", "mimic-cxr"],
                        pins=server.pins)
    assert {s: (dest / DEFAULT_FILES[s]).read_bytes() for s in good} == good and leftovers(dest) == []


def test_unreachable_server(tmp_path: Path) -> None:
    httpd = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    port = httpd.server_address[1]
    httpd.server_close()  # nothing listens on the port any more
    with pytest.raises(CaresError, match="download failed") as caught:
        fetch_cares_vqa(tmp_path / "cache", f"http://127.0.0.1:{port}/data", timeout=5, sources=["ol3i"])
    assert "\n" not in str(caught.value)
    assert leftovers(tmp_path / "cache") == []


def test_file_url_mirror(server: Server, tmp_path: Path) -> None:
    fetched = fetch_cares_vqa(tmp_path / "cache", server.root.as_uri(), sources=["ham10000", "omnimedvqa"],
                              pins=server.pins)
    assert [f.source for f in fetched] == ["ham10000", "omnimedvqa"] and all(f.downloaded for f in fetched)
    assert server.requests == []


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no released CARES-VQA file for custom"):
        fetch_cares_vqa(tmp_path, sources=["custom"])
    with pytest.raises(ConfigError, match="http"):
        fetch_cares_vqa(tmp_path, "ftp://example.org/data")
    with pytest.raises(ConfigError, match="no digest to verify OL3I/OL3I_factuality.jsonl against"):
        fetch_cares_vqa(tmp_path, sources=["ol3i"], pins={})
    with pytest.raises(ConfigError, match="is not a git blob id"):
        fetch_cares_vqa(tmp_path, sources=["ol3i"], pins={DEFAULT_FILES["ol3i"]: Pin(GIT_BLOB, "ab" * 32)})
    with pytest.raises(ConfigError, match="unknown digest kind 'md5'"):
        fetch_cares_vqa(tmp_path, sources=["ol3i"], pins={DEFAULT_FILES["ol3i"]: Pin("md5", "ab" * 16)})
    assert not any(tmp_path.rglob("*.jsonl"))


def test_git_blob_id_matches_git() -> None:
    # Ids `git hash-object` gives these contents.
    assert git_blob_id(b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
    assert git_blob_id(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"
    data = b'{"question_id": 1}\n' * 5000  # several read chunks
    assert git_blob_id(data) == hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def test_file_digests_of_the_released_files(tmp_path: Path) -> None:
    if not _have_pack():
        pytest.skip(f"the released CARES-VQA files are not at {PACK}")
    for source in LOCAL:
        relative = DEFAULT_FILES[source]
        digests = file_digests(PACK / relative)
        data = (PACK / relative).read_bytes()
        assert (digests.sha256, digests.git_blob) == (PINNED_SHA256[relative], git_blob_id(data))
        assert digests.size == len(data)


# -- the released files load after a fetch, and a pack folder finds all seven -------------------------


def test_fetched_pack_loads_with_the_published_counts(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "cache"
    fetch_cares_vqa(dest, server.base_url, timeout=10, pins=server.pins)
    counts = {source: load_vqa(source, dest)[1].n_items for source in DEFAULT_FILES}
    expected = {**SYNTHETIC_COUNTS, **(PUBLISHED_COUNTS if server.released else {})}
    assert counts == expected
    omni, _ = load_vqa("omnimedvqa", dest)
    assert {(r.answer_type, r.truth, r.subset) for r in omni} == {("mc", "B", "ACRIMA")}


def test_pack_folder_finds_all_seven_and_reports_missing_ones(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from cares.tasks.vqa.sources import load_sources, parse_data

    caplog.set_level("INFO", logger="cares.tasks.vqa.sources")

    monkeypatch.setenv("CARES_CACHE_DIR", str(tmp_path / "cache"))
    dest = default_vqa_dir()
    fetch_cares_vqa(dest, server.base_url, timeout=10, pins=server.pins)
    selected = parse_data("cares-vqa")
    assert [source for source, _ in selected.files] == list(DEFAULT_FILES) and selected.missing == []
    items, info = load_sources("cares-vqa", {})
    assert [entry["source"] for entry in info.sources] == list(DEFAULT_FILES)
    assert info.notes == [] and caplog.messages == []
    assert len(items) == sum(entry["n_items"] for entry in info.sources)

    for source in ("pmc-oa", "omnimedvqa"):
        (dest / DEFAULT_FILES[source]).unlink()
    items, info = load_sources(str(dest), {})
    kept = [s for s in DEFAULT_FILES if s not in ("pmc-oa", "omnimedvqa")]
    assert [entry["source"] for entry in info.sources] == kept
    note = info.notes[-1]
    assert "pmc-oa (PMC-OA/pmcoa_factuality.jsonl)" in note and "omnimedvqa" in note and "fetch" in note
    assert caplog.messages == [note]  # shown by the CLI as `cares: note: ...`
    # Filtered to sources that are present: nothing is missing from what was asked for.
    _, info = load_sources(str(dest), {"sources": ["mimic-cxr"]})
    assert info.notes == [] and [entry["source"] for entry in info.sources] == ["mimic-cxr"]
    with pytest.raises(ConfigError, match=r"--source asks for omnimedvqa \(OmniMedVQA/omnimedvqa_factuality.jsonl\)"):
        load_sources(str(dest), {"sources": ["omnimedvqa", "mimic-cxr"]})


# -- the pins in the code are the published ones ------------------------------------------------------


def test_pins_match_the_shared_readme() -> None:
    readme = SHARED / "data" / "README.md"
    if not readme.is_file():
        pytest.skip(f"{readme} is absent")
    listed = dict(re.findall(r"^- (\S+\.jsonl)\s+([0-9a-f]{64})\s*$", readme.read_text(encoding="utf-8"), re.MULTILINE))
    assert listed == PINNED_SHA256
    assert set(PINNED_SHA256) == {DEFAULT_FILES[source] for source in LOCAL}
    assert DEFAULT_BASE_URL.startswith("https://raw.githubusercontent.com/richard-peng-xia/CARES/")


def test_blob_ids_and_files_match_the_spec() -> None:
    if not SPEC.is_file():
        pytest.skip(f"{SPEC} is absent")
    text = SPEC.read_text(encoding="utf-8")
    blobs = dict(re.findall(r"`([^`\s]+\.jsonl)` \(released; git blob `([0-9a-f]{40})`\)", text))
    assert blobs == PUBLISHED_GIT_BLOB
    in_table = re.findall(r"^\|[^\n]*\| `([^`\s]+/[^`\s]+\.jsonl)`", text, re.MULTILINE)
    assert in_table == list(DEFAULT_FILES.values())  # all seven, in the table's order
    assert "a743fe0" in text and "/a743fe0" in DEFAULT_BASE_URL
    # Each file is verified one way: by sha256 where it is known, else by the published blob id.
    assert set(PUBLISHED_PINS) == set(DEFAULT_FILES.values())
    assert {rel for rel, pin in PUBLISHED_PINS.items() if pin.algorithm == GIT_BLOB} == set(PUBLISHED_GIT_BLOB)


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CARES_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert default_cache_dir() == tmp_path / "elsewhere"
    assert default_vqa_dir() == tmp_path / "elsewhere" / "cares-vqa"
    monkeypatch.delenv("CARES_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "cares"


# -- the command line ---------------------------------------------------------------------------------


@pytest.mark.parametrize("server", ["released"], indirect=True)
def test_cli_fetch_names_the_refused_files_then_runs_on_the_rest(server: Server, tmp_path: Path) -> None:
    """`cares data fetch cares-vqa` as a user runs it. The CLI verifies against the published digests,
    so the released four pass and the three stand-ins are refused, by name, in one line."""
    from tests.cli.test_cli import cares
    from tests.conftest import cli_env

    env = cli_env(no_proxy="127.0.0.1,localhost", CARES_CACHE_DIR=str(tmp_path / "cache"))
    dest = tmp_path / "cache" / "cares-vqa"
    for attempt in range(2):
        proc = cares("data", "fetch", "cares-vqa", "--base-url", server.base_url, env=env)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("cares: error: download failed (3 of 7 files)")
        for source in LARGE:
            assert f"{DEFAULT_FILES[source]}: git blob is " in lines[0]
            assert not (dest / DEFAULT_FILES[source]).exists()
        assert f"the other 4 are in place in {dest}" in lines[0]
        assert all((dest / DEFAULT_FILES[source]).is_file() for source in LOCAL)
        assert len(server.requests) == (7 if attempt == 0 else 10)  # the verified four are not fetched again

    run = cares("run", "cares-vqa", "--model", "baseline/constant:No", "--data", "cares-vqa", "--no-images",
                "--source", "ol3i", "--tasks", "factuality", "--bootstrap", "0", "--run-dir", str(tmp_path / "run"),
                env=env)
    assert run.returncode == 0, run.stderr
    assert "ol3i" in run.stdout
    missing = cares("run", "cares-vqa", "--model", "baseline/constant:No", "--data", "cares-vqa", "--no-images",
                    "--source", "pmc-oa", "--tasks", "factuality", "--run-dir", str(tmp_path / "run2"), env=env)
    assert missing.returncode == 2 and "pmc-oa (PMC-OA/pmcoa_factuality.jsonl)" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
