"""Confining image paths from dataset records to the image root the user gave.

Records come from files the user may not have written (downloaded benchmark packs), so an image field
must never reach outside the root: not by an absolute path, not by `..`, not through a symlink.
"""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Literal

from cares.errors import InputError

ImageErrorKind = Literal["escapes_root", "missing", "corrupt", "not_image", "unsupported"]
IMAGE_ERROR_KINDS: tuple[ImageErrorKind, ...] = ("escapes_root", "missing", "corrupt", "not_image", "unsupported")


class ImageError(InputError):
    """An item's image cannot be used. `kind` lets a run count failures by cause instead of crashing."""

    def __init__(self, path: str | Path, message: str, *, kind: ImageErrorKind, field: str | None = None) -> None:
        if kind not in IMAGE_ERROR_KINDS:
            raise ValueError(f"unknown image error kind {kind!r}")
        self.kind: ImageErrorKind = kind
        # The CLI prints errors as one line; decoder messages often span several.
        super().__init__(path, _one_line(message), field=field)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def resolve_image(root: Path, relative: str) -> Path:
    """The real path of `relative` under `root`, or an `ImageError` saying why it cannot be used."""
    root = Path(root)
    if not isinstance(relative, str) or not relative.strip():
        raise ImageError(str(relative), "no image path given", kind="missing", field="image")
    # Both flavours, so that a Windows-style path in a record is judged the same on every platform.
    posix, windows = PurePosixPath(relative), PureWindowsPath(relative)
    if posix.is_absolute() or windows.anchor:
        raise ImageError(relative, "absolute image paths are refused; give a path relative to the image root",
                         kind="escapes_root", field="image")
    if ".." in posix.parts or ".." in windows.parts:
        raise ImageError(relative, "image paths may not contain '..'", kind="escapes_root", field="image")

    real_root = root.resolve()
    if not real_root.is_dir():
        raise ImageError(relative, f"image not found under {root}: the image root is not a directory",
                         kind="missing", field="image")
    candidate = root / relative
    # Resolving follows every symlink on the way, so a link anywhere in the path is caught, dangling or not.
    real = candidate.resolve()
    if not real.is_relative_to(real_root):
        raise ImageError(relative, f"image path leaves the image root {root} through a symlink",
                         kind="escapes_root", field="image")
    if not real.exists():
        raise ImageError(relative, f"image not found under {root}", kind="missing", field="image")
    if not real.is_file():
        raise ImageError(relative, f"not a file under {root}", kind="not_image", field="image")
    return real


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
