"""Canonical PNG bytes, hashes, data URLs and `prepare_image`."""

from __future__ import annotations

import base64
import hashlib
import io
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from cares.errors import ConfigError
from cares.images import (
    ImageError,
    PreparedImage,
    add_gaussian_noise,
    data_url,
    image_sha256,
    load_image,
    prepare_image,
    sha256_file,
    to_png_bytes,
)


def picture(width: int = 40, height: int = 30, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def png_chunks(data: bytes) -> list[bytes]:
    chunks, offset = [], 8
    while offset < len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        chunks.append(data[offset + 4 : offset + 8])
        offset += 12 + length
    return chunks


def test_data_url_round_trip() -> None:
    png = to_png_bytes(picture())
    url = data_url(png)
    prefix = "data:image/png;base64,"
    assert url.startswith(prefix)
    assert base64.b64decode(url[len(prefix) :], validate=True) == png


def test_png_bytes_are_deterministic_and_carry_no_metadata() -> None:
    image = picture()
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "scanner 1.0")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info, dpi=(300, 300))
    with Image.open(io.BytesIO(buffer.getvalue())) as tagged:
        tagged.load()
        tagged.info["icc_profile"] = b"not really a profile"
        png = to_png_bytes(tagged)
    assert png == to_png_bytes(image) == to_png_bytes(picture())
    assert set(png_chunks(png)) == {b"IHDR", b"IDAT", b"IEND"}
    assert image_sha256(image) == hashlib.sha256(png).hexdigest()
    with Image.open(io.BytesIO(png)) as decoded:
        assert decoded.mode == "RGB" and decoded.tobytes() == image.tobytes()


def test_canonical_png_is_rgb_whatever_the_input_mode() -> None:
    grey = Image.fromarray(np.full((5, 5), 9, dtype=np.uint8))
    with Image.open(io.BytesIO(to_png_bytes(grey))) as decoded:
        assert decoded.mode == "RGB"
    assert image_sha256(grey) == image_sha256(grey.convert("RGB"))


def test_prepare_image_fields(tmp_path: Path) -> None:
    picture(40, 30).save(tmp_path / "a.png")
    prepared = prepare_image(tmp_path, "a.png")
    assert isinstance(prepared, PreparedImage)
    assert (prepared.width, prepared.height) == (40, 30)
    assert prepared.sha256 == hashlib.sha256(prepared.png).hexdigest()
    assert prepared.source_sha256 == sha256_file(tmp_path / "a.png")
    assert prepared.source_path == (tmp_path / "a.png").resolve()
    assert prepared.transform == {}
    assert prepared.png == to_png_bytes(load_image(tmp_path / "a.png"))
    assert prepared.data_url == data_url(prepared.png)
    assert "png=" not in repr(prepared)  # megabytes of bytes never end up in logs


def test_max_side_downsizes_keeping_the_aspect_ratio(tmp_path: Path) -> None:
    picture(400, 100).save(tmp_path / "wide.png")
    prepared = prepare_image(tmp_path, "wide.png", max_side=200)
    assert (prepared.width, prepared.height) == (200, 50)
    assert prepared.transform == {"max_side": 200}
    with Image.open(io.BytesIO(prepared.png)) as decoded:
        assert decoded.size == (200, 50)
    small = prepare_image(tmp_path, "wide.png", max_side=1000)
    assert (small.width, small.height) == (400, 100)  # never enlarged


def test_noise_comes_after_downsizing_and_is_recorded(tmp_path: Path) -> None:
    picture(400, 100).save(tmp_path / "wide.png")
    prepared = prepare_image(tmp_path, "wide.png", max_side=200, noise_sigma=4.0, seed=3)
    assert prepared.transform == {"max_side": 200, "noise_sigma": 4.0, "seed": 3}
    clean = prepare_image(tmp_path, "wide.png", max_side=200)
    with Image.open(io.BytesIO(clean.png)) as resized:
        resized.load()
        expected = to_png_bytes(add_gaussian_noise(resized, 4.0, 3))
    assert prepared.png == expected
    again = prepare_image(tmp_path, "wide.png", max_side=200, noise_sigma=4.0, seed=3)
    assert again.png == prepared.png and again.sha256 == prepared.sha256
    assert prepare_image(tmp_path, "wide.png", max_side=200, noise_sigma=4.0, seed=4).sha256 != prepared.sha256


def test_noise_sigma_zero_is_recorded_but_changes_nothing(tmp_path: Path) -> None:
    picture().save(tmp_path / "a.png")
    prepared = prepare_image(tmp_path, "a.png", noise_sigma=0.0, seed=9)
    assert prepared.png == prepare_image(tmp_path, "a.png").png
    assert prepared.transform == {"noise_sigma": 0.0, "seed": 9}


@pytest.mark.parametrize("max_side", [0, -5, 2.5, True])
def test_bad_max_side_is_refused(tmp_path: Path, max_side: object) -> None:
    picture().save(tmp_path / "a.png")
    with pytest.raises(ConfigError):
        prepare_image(tmp_path, "a.png", max_side=max_side)  # type: ignore[arg-type]


def test_prepare_image_refuses_escaping_paths_before_reading(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    picture().save(tmp_path / "outside.png")
    with pytest.raises(ImageError) as caught:
        prepare_image(tmp_path / "root", "../outside.png")
    assert caught.value.kind == "escapes_root"


def test_prepare_image_from_dicom(tmp_path: Path) -> None:
    pydicom_data = pytest.importorskip("pydicom.data", reason="DICOM support is the 'dicom' extra")
    found = pydicom_data.get_testdata_file("CT_small.dcm", download=False)
    (tmp_path / "ct.dcm").write_bytes(Path(found).read_bytes())
    prepared = prepare_image(tmp_path, "ct.dcm", max_side=64, noise_sigma=math.sqrt(6), seed=0)
    assert (prepared.width, prepared.height) == (64, 64)
    with Image.open(io.BytesIO(prepared.png)) as decoded:
        assert decoded.mode == "RGB"
