"""Downloading the released CARES-VQA question files (the code path behind `cares data fetch cares-vqa`).

All seven question files are taken from the public CARES repository at a pinned commit, and each
is verified before it is put in place, so a load always sees the bytes the benchmark published:

- by sha256 where we know it (`PINNED_SHA256`: the four files whose published counts the
  toolkit was checked against);
- otherwise by the git blob id the repository records for the file at that commit
  (`PUBLISHED_GIT_BLOB`: MIMIC-CXR, PMC-OA and OmniMedVQA). A blob id is the SHA-1 of
  ``b"blob <size>\\0" + data``, so it can be checked without a sha256 known in advance.

A download goes to a temporary file beside its target and is renamed into place only once it
verifies; a file that fails is never put in place. Every requested file is tried even when an
earlier one fails, so one bad file does not hold back the others, and then one error names every
file that failed and why.

`base_url` can be overridden, for a mirror or an offline copy: any http(s) or file:// URL under
which the files sit at the same relative paths as in `DEFAULT_FILES`. The digests are checked
whatever the base URL. `pins` replaces the published digests, for a mirror of other bytes (and
for tests, which serve small stand-ins); the published ones are the default.

Files go to ``dest/<relative path>``; `default_vqa_dir()` is the usual `dest`
(``$CARES_CACHE_DIR/cares-vqa``, or ``~/.cache/cares/cares-vqa``).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from cares.data.vqa.loaders import DEFAULT_FILES
from cares.errors import CaresError, ConfigError

DEFAULT_BASE_URL = (
    "https://raw.githubusercontent.com/richard-peng-xia/CARES/a743fe047d045a11124e7d0f835ec923add6bbc0/data"
)

PINNED_SHA256: dict[str, str] = {
    "IU-Xray/iuxray_factuality.jsonl": "2f0dfc0836d3dcdd9e0de4a920b32a80c71d4b98c4d5065454acef2bfe80c7ed",
    "HAM10000/HAM10000_factuality.jsonl": "e039075fa3f1418d09734c338a0cef0e3ff0741db3e6d84b299a1e527aebe61e",
    "Harvard-FairVLMed/fundus_factuality.jsonl": "23ebd5a30d5a1c063dcf8cf2344281328838f15eb3f93a82b6166c15d29df159",
    "OL3I/OL3I_factuality.jsonl": "2bf1f7d4d581348f88a8c589c402e21a77c6b17d8a47291a0a03c55c967f5026",
}

# The git blob ids of the three large files at the pinned commit, as the repository's tree lists
# them: no copy of these files was at hand to take a sha256 from.
PUBLISHED_GIT_BLOB: dict[str, str] = {
    "MIMIC-CXR/mimic_factuality.jsonl": "23706231bb2eec0d6aefbc6a1a65e39a953043ef",
    "PMC-OA/pmcoa_factuality.jsonl": "b422d241e76fa2aa7bf569e979ce79dedb861396",
    "OmniMedVQA/omnimedvqa_factuality.jsonl": "5ba62394247791e8d6c369174befa9fe3c22a68c",
}

SHA256 = "sha256"
GIT_BLOB = "git-blob"
_DIGEST_SHAPE = {SHA256: re.compile(r"[0-9a-f]{64}"), GIT_BLOB: re.compile(r"[0-9a-f]{40}")}
_NAMES = {SHA256: "sha256", GIT_BLOB: "git blob id"}

USER_AGENT = "cares-toolkit (+https://github.com/richard-peng-xia/CARES)"
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Pin:
    """The digest a file must have: `algorithm` is "sha256" or "git-blob", `digest` lower-case hex."""

    algorithm: str
    digest: str


# sha256 wins where both are known: it is the stronger check, and the one the counts were measured on.
PUBLISHED_PINS: Mapping[str, Pin] = MappingProxyType(
    {relative: Pin(GIT_BLOB, digest) for relative, digest in PUBLISHED_GIT_BLOB.items()}
    | {relative: Pin(SHA256, digest) for relative, digest in PINNED_SHA256.items()}
)


@dataclass(frozen=True)
class Digests:
    sha256: str
    git_blob: str
    size: int

    def of(self, algorithm: str) -> str:
        return self.sha256 if algorithm == SHA256 else self.git_blob


@dataclass(frozen=True)
class FetchedFile:
    source: str
    relative_path: str
    path: Path
    url: str
    sha256: str  # of the file in place, whichever digest verified it
    size: int
    downloaded: bool  # False when the file was already in place and verified
    verified_by: str  # "sha256" or "git-blob": which pin the file was checked against
    git_blob: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "relative_path": self.relative_path,
            "path": str(self.path),
            "url": self.url,
            "sha256": self.sha256,
            "git_blob": self.git_blob,
            "verified_by": self.verified_by,
            "size": self.size,
            "downloaded": self.downloaded,
        }


class _FileFailed(Exception):
    """One file's download or verification failed; collected so that the other files are still tried."""

    def __init__(self, reason: str, *, mismatch: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.mismatch = mismatch


def default_cache_dir() -> Path:
    """``$CARES_CACHE_DIR``, or ``~/.cache/cares``."""
    configured = os.environ.get("CARES_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "cares"


def default_vqa_dir() -> Path:
    return default_cache_dir() / "cares-vqa"


def git_blob_id(data: bytes) -> str:
    """The id git gives `data` as a blob: SHA-1 over a "blob <size>" header, a NUL, then the bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def file_digests(path: Path) -> Digests:
    """sha256 and git blob id of a file, in one read."""
    size = path.stat().st_size
    sha256 = hashlib.sha256()
    blob = hashlib.sha1(b"blob %d\0" % size, usedforsecurity=False)
    read = 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            sha256.update(chunk)
            blob.update(chunk)
            read += len(chunk)
    if read != size:
        raise OSError(f"{path} changed while it was read")
    return Digests(sha256.hexdigest(), blob.hexdigest(), size)


def fetch_cares_vqa(
    dest: Path,
    base_url: str = DEFAULT_BASE_URL,
    *,
    force: bool = False,
    timeout: float = 60,
    sources: Iterable[str] | None = None,
    pins: Mapping[str, Pin] | None = None,
) -> list[FetchedFile]:
    """Download the released question files into `dest`, skipping those already present and verified.

    `force` downloads again even when a verified file is in place. `pins` maps each relative path
    to the digest it must have (default `PUBLISHED_PINS`). A file whose download fails or whose
    digest differs from its pin leaves nothing at its path; after trying every file, one
    `CaresError` names all that failed, and the others stay in place.
    """
    wanted = list(DEFAULT_FILES) if sources is None else list(sources)
    unknown = [name for name in wanted if name not in DEFAULT_FILES]
    if unknown:
        raise ConfigError(
            f"no released CARES-VQA file for {', '.join(unknown)}; the released sources are {', '.join(DEFAULT_FILES)}"
        )
    scheme = urllib.parse.urlsplit(base_url).scheme
    if scheme not in ("http", "https", "file"):
        raise ConfigError(f"base URL must be an http(s):// or file:// URL, got {base_url!r}")
    checked = _checked_pins(PUBLISHED_PINS if pins is None else pins, [DEFAULT_FILES[name] for name in wanted])
    dest = Path(dest)
    fetched: list[FetchedFile] = []
    failed: list[tuple[str, _FileFailed]] = []
    for source in wanted:
        relative = DEFAULT_FILES[source]
        pin = checked[relative]
        target = dest / relative
        url = f"{base_url.rstrip('/')}/{urllib.parse.quote(relative)}"
        if target.is_file():
            present = _digests_or_none(target)
            intact = present is not None and present.of(pin.algorithm) == pin.digest
            if present is not None and intact and not force:
                fetched.append(_fetched(source, relative, target, url, present, pin, downloaded=False))
                continue
            if not intact:
                # A damaged or altered copy must not survive a failed re-download.
                target.unlink()
        try:
            digests = _download(url, target, pin, timeout)
        except _FileFailed as failure:
            failed.append((url, failure))
            continue
        fetched.append(_fetched(source, relative, target, url, digests, pin, downloaded=True))
    if failed:
        raise CaresError(_failure_message(failed, len(wanted), len(fetched), dest))
    return fetched


def _checked_pins(pins: Mapping[str, Pin], relatives: list[str]) -> dict[str, Pin]:
    checked: dict[str, Pin] = {}
    for relative in relatives:
        pin = pins.get(relative)
        if pin is None:
            raise ConfigError(f"no digest to verify {relative} against; give a sha256 or git blob id for it")
        shape = _DIGEST_SHAPE.get(pin.algorithm)
        if shape is None:
            raise ConfigError(f"{relative}: unknown digest kind {pin.algorithm!r}; use {SHA256} or {GIT_BLOB}")
        if not shape.fullmatch(pin.digest):
            raise ConfigError(f"{relative}: {pin.digest!r} is not a {_NAMES[pin.algorithm]} (lower-case hex)")
        checked[relative] = pin
    return checked


def _digests_or_none(path: Path) -> Digests | None:
    try:
        return file_digests(path)
    except OSError:
        return None  # unreadable: treated as damaged, so it is replaced


def _fetched(source: str, relative: str, path: Path, url: str, digests: Digests, pin: Pin, *,
             downloaded: bool) -> FetchedFile:
    return FetchedFile(source, relative, path, url, digests.sha256, digests.size, downloaded, pin.algorithm,
                       digests.git_blob)


def _failure_message(failed: list[tuple[str, _FileFailed]], n_wanted: int, n_ok: int, dest: Path) -> str:
    """One line naming every file that failed; a traceback or a list over several lines helps nobody here."""
    reasons = "; ".join(f"{url}: {' '.join(failure.reason.split())}" for url, failure in failed)
    count = "" if n_wanted == 1 else f" ({len(failed)} of {n_wanted} files)"
    kept = f"; the other {n_ok} are in place in {dest}" if n_ok else ""
    hint = (" (check the base URL, or whether a proxy altered the download)"
            if any(failure.mismatch for _, failure in failed) else "")
    return f"download failed{count}, nothing saved for: {reasons}{kept}{hint}"


def _download(url: str, target: Path, pin: Pin, timeout: float) -> Digests:
    """Stream `url` to a temporary file beside `target` and rename it into place only if it verifies."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        # Not a problem of this one file: every other file would fail the same way.
        raise CaresError(f"cannot write to {target.parent}: {exc}") from None
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
            with urllib.request.urlopen(request, timeout=timeout) as response:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        digests = file_digests(temp)
        actual = digests.of(pin.algorithm)
        if actual != pin.digest:
            what = "sha256" if pin.algorithm == SHA256 else "git blob"
            raise _FileFailed(f"{what} is {actual}, expected {pin.digest}", mismatch=True)
        os.replace(temp, target)
        return digests
    except urllib.error.HTTPError as exc:
        raise _FileFailed(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise _FileFailed(str(exc.reason)) from None
    except (OSError, http.client.HTTPException) as exc:
        raise _FileFailed(str(exc) or type(exc).__name__) from None
    finally:
        temp.unlink(missing_ok=True)
        if not target.exists():
            _remove_if_empty(target.parent)


def _remove_if_empty(folder: Path) -> None:
    """A failed first download leaves no empty source folder behind to look like a partial fetch."""
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty (or already gone): leave it
