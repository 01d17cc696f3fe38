"""Image paths from records stay inside the image root, and every refusal is one clear line."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cares.errors import CaresError, InputError
from cares.images import IMAGE_ERROR_KINDS, ImageError, load_image, prepare_image, resolve_image

needs_symlinks = pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="needs POSIX symlinks")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    images = tmp_path / "root"
    (images / "sub").mkdir(parents=True)
    Image.fromarray(np.full((8, 8, 3), 100, dtype=np.uint8)).save(images / "sub" / "a.png")
    return images


def _refused(root: Path, relative: str, kind: str) -> ImageError:
    with pytest.raises(ImageError) as caught:
        resolve_image(root, relative)
    error = caught.value
    assert error.kind == kind
    assert isinstance(error, InputError) and isinstance(error, CaresError)
    message = str(error)
    assert "\n" not in message
    assert relative in message
    assert error.field == "image"
    return error


def test_plain_relative_path_resolves_inside_the_root(root: Path) -> None:
    path = resolve_image(root, "sub/a.png")
    assert path == (root / "sub" / "a.png").resolve()
    assert path.is_file()


def test_dot_dot_is_refused_even_when_it_would_land_inside(root: Path) -> None:
    error = _refused(root, "sub/../sub/a.png", "escapes_root")
    assert "'..'" in str(error)
    _refused(root, "../outside.png", "escapes_root")
    _refused(root, "..\\outside.png", "escapes_root")


def test_absolute_paths_are_refused(root: Path) -> None:
    inside = str((root / "sub" / "a.png").resolve())
    error = _refused(root, inside, "escapes_root")
    assert "absolute" in str(error)
    _refused(root, "/etc/passwd", "escapes_root")
    _refused(root, "C:\\images\\a.png", "escapes_root")


def test_missing_file_names_the_root(root: Path) -> None:
    error = _refused(root, "sub/nope.png", "missing")
    assert f"image not found under {root}" in str(error)


def test_empty_path_is_refused(root: Path) -> None:
    with pytest.raises(ImageError) as caught:
        resolve_image(root, "  ")
    assert caught.value.kind == "missing"


def test_missing_root(tmp_path: Path) -> None:
    error = _refused(tmp_path / "no-such-root", "a.png", "missing")
    assert "image root" in str(error)


def test_directory_is_not_an_image(root: Path) -> None:
    _refused(root, "sub", "not_image")


@needs_symlinks
def test_symlinked_file_escaping_the_root_is_refused(root: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes((root / "sub" / "a.png").read_bytes())
    (root / "link.png").symlink_to(secret)
    error = _refused(root, "link.png", "escapes_root")
    assert "symlink" in str(error)


@needs_symlinks
def test_symlinked_directory_escaping_the_root_is_refused(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "b.png").write_bytes((root / "sub" / "a.png").read_bytes())
    (root / "sub" / "elsewhere").symlink_to(outside, target_is_directory=True)
    _refused(root, "sub/elsewhere/b.png", "escapes_root")


@needs_symlinks
def test_dangling_symlink_pointing_outside_is_refused_not_missing(root: Path, tmp_path: Path) -> None:
    (root / "dangling.png").symlink_to(tmp_path / "does-not-exist.png")
    _refused(root, "dangling.png", "escapes_root")


@needs_symlinks
def test_symlink_staying_inside_the_root_is_allowed(root: Path) -> None:
    (root / "alias.png").symlink_to(root / "sub" / "a.png")
    (root / "alias-dir").symlink_to(root / "sub", target_is_directory=True)
    assert resolve_image(root, "alias.png") == (root / "sub" / "a.png").resolve()
    assert resolve_image(root, "alias-dir/a.png") == (root / "sub" / "a.png").resolve()


@needs_symlinks
def test_root_that_is_itself_a_symlink(root: Path, tmp_path: Path) -> None:
    link = tmp_path / "root-link"
    link.symlink_to(root, target_is_directory=True)
    assert resolve_image(link, "sub/a.png") == (root / "sub" / "a.png").resolve()


def test_corrupt_truncated_png(root: Path) -> None:
    data = (root / "sub" / "a.png").read_bytes()
    (root / "cut.png").write_bytes(data[: len(data) // 2])
    error = _load_refused(root, "cut.png", "corrupt")
    assert "PNG" in str(error)


def test_corrupt_truncated_jpeg(root: Path) -> None:
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(root / "full.jpg", quality=90)
    data = (root / "full.jpg").read_bytes()
    (root / "cut.jpg").write_bytes(data[: len(data) // 2])
    error = _load_refused(root, "cut.jpg", "corrupt")
    assert "JPEG" in str(error)


def test_png_with_a_broken_checksum_is_corrupt(root: Path) -> None:
    data = bytearray((root / "sub" / "a.png").read_bytes())
    idat = data.index(b"IDAT")
    data[idat + 6] ^= 0xFF
    (root / "flipped.png").write_bytes(bytes(data))
    _load_refused(root, "flipped.png", "corrupt")


@pytest.mark.parametrize("name", ["notes.jpg", "notes.png", "empty.png"])
def test_text_file_with_an_image_name_is_not_an_image(root: Path, name: str) -> None:
    (root / name).write_text("" if name.startswith("empty") else "patient notes, not pixels\n", encoding="utf-8")
    error = _load_refused(root, name, "not_image")
    assert "not a recognised image" in str(error)


def test_unsupported_pillow_format(root: Path) -> None:
    Image.new("RGB", (16, 16), (1, 2, 3)).save(root / "icon.ico", format="ICO")
    _load_refused(root, "icon.ico", "unsupported")


def test_load_image_on_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ImageError) as caught:
        load_image(tmp_path / "gone.png")
    assert caught.value.kind == "missing"


def test_kinds_are_the_documented_set() -> None:
    assert set(IMAGE_ERROR_KINDS) == {"escapes_root", "missing", "corrupt", "not_image", "unsupported"}
    with pytest.raises(ValueError):
        ImageError("x.png", "message", kind="other")  # type: ignore[arg-type]


def _load_refused(root: Path, relative: str, kind: str) -> ImageError:
    """Through the public entry point a run uses, so the path resolution and the decoding both apply."""
    with pytest.raises(ImageError) as caught:
        prepare_image(root, relative)
    error = caught.value
    assert error.kind == kind, str(error)
    assert "\n" not in str(error)
    assert relative in str(error)
    return error
