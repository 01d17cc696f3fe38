"""Downloading the released CARES-VQA question files (the code path behind `cares data fetch cares-vqa`).

The four question files are taken from the public CARES repository at a pinned commit and each
is checked against its pinned sha256 before it is put in place, so a load always sees the bytes
the published counts were measured on. The images are not fetched: several sources need a
credentialed application, and the toolkit takes an image root per source instead.

`base_url` can be overridden, for a mirror or an offline copy: any http(s) or file:// URL under
which the files sit at the same relative paths as in `DEFAULT_FILES`. The hashes are checked
whatever the base URL.

Files go to ``dest/<relative path>``; `default_vqa_dir()` is the usual `dest`
(``$CARES_CACHE_DIR/cares-vqa``, or ``~/.cache/cares/cares-vqa``).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cares.data.records import file_sha256
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

USER_AGENT = "cares-toolkit (+https://github.com/richard-peng-xia/CARES)"
_CHUNK = 1 << 16


@dataclass(frozen=True)
class FetchedFile:
    source: str
    relative_path: str
    path: Path
    url: str
    sha256: str
    size: int
    downloaded: bool  # False when the file was already in place with the pinned hash

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "relative_path": self.relative_path,
            "path": str(self.path),
            "url": self.url,
            "sha256": self.sha256,
            "size": self.size,
            "downloaded": self.downloaded,
        }


def default_cache_dir() -> Path:
    """``$CARES_CACHE_DIR``, or ``~/.cache/cares``."""
    configured = os.environ.get("CARES_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "cares"


def default_vqa_dir() -> Path:
    return default_cache_dir() / "cares-vqa"


def fetch_cares_vqa(
    dest: Path,
    base_url: str = DEFAULT_BASE_URL,
    *,
    force: bool = False,
    timeout: float = 60,
    sources: Iterable[str] | None = None,
) -> list[FetchedFile]:
    """Download the released question files into `dest`, skipping those already present and intact.

    `force` downloads again even when a file is in place. A file whose download fails or whose
    hash differs from the pinned one raises `CaresError` and leaves nothing at its path.
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
    dest = Path(dest)
    fetched: list[FetchedFile] = []
    for source in wanted:
        relative = DEFAULT_FILES[source]
        expected = PINNED_SHA256[relative]
        target = dest / relative
        url = f"{base_url.rstrip('/')}/{urllib.parse.quote(relative)}"
        if target.is_file():
            intact = file_sha256(target) == expected
            if intact and not force:
                fetched.append(FetchedFile(source, relative, target, url, expected, target.stat().st_size, False))
                continue
            if not intact:
                # A damaged or altered copy must not survive a failed re-download.
                target.unlink()
        size = _download(url, target, expected, timeout)
        fetched.append(FetchedFile(source, relative, target, url, expected, size, True))
    return fetched


def _download(url: str, target: Path, expected: str, timeout: float) -> int:
    """Stream `url` to a temporary file beside `target` and rename it into place only if its hash is right."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise CaresError(f"cannot write to {target.parent}: {exc}") from None
    temp = Path(temp_name)
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(handle, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
            with urllib.request.urlopen(request, timeout=timeout) as response:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual != expected:
            raise CaresError(
                f"download failed: {url}: sha256 is {actual}, expected {expected}; the file was not saved "
                "(check the base URL, or whether a proxy altered the download)"
            )
        os.replace(temp, target)
        return size
    except urllib.error.HTTPError as exc:
        raise CaresError(f"download failed: {url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise CaresError(f"download failed: {url}: {exc.reason}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise CaresError(f"download failed: {url}: {exc}") from None
    finally:
        temp.unlink(missing_ok=True)
