"""Decoding to 8-bit RGB: raster files through Pillow, DICOM through the display pipeline.

DICOM checks use small synthetic files where the exact output is known, and pydicom's own test files
(real CR, CT and MR images) for the behaviour on the data users actually have.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cares.images import ImageError, is_dicom, load_image, sha256_file

pydicom = pytest.importorskip("pydicom", reason="DICOM support is the 'dicom' extra")

from pydicom.data import get_testdata_file  # noqa: E402
from pydicom.dataset import Dataset, FileMetaDataset  # noqa: E402
from pydicom.uid import ExplicitVRLittleEndian, generate_uid  # noqa: E402


def dicom_file(name: str) -> Path:
    found = get_testdata_file(name, download=False)
    if found is None:
        pytest.skip(f"pydicom test file {name} is not installed (pip install pydicom-data)")
    return Path(found)


def write_dicom(
    path: Path,
    frames: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    slope: float | None = None,
    intercept: float | None = None,
    center: float | list[float] | None = None,
    width: float | list[float] | None = None,
    signed: bool = False,
    bits_stored: int = 16,
) -> Path:
    frames = np.asarray(frames)
    if frames.ndim == 2:
        frames = frames[None]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "OT"
    ds.Rows, ds.Columns = frames.shape[1:]
    if frames.shape[0] > 1:
        ds.NumberOfFrames = frames.shape[0]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    if slope is not None:
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    if center is not None:
        ds.WindowCenter, ds.WindowWidth = center, width
    ds.PixelData = frames.astype("<i2" if signed else "<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def grey(img: Image.Image) -> np.ndarray:
    pixels = np.asarray(img)
    assert img.mode == "RGB" and pixels.dtype == np.uint8
    assert (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()
    return pixels[..., 0]


# ---------------------------------------------------------------- synthetic DICOM: exact values

RAMP = np.arange(256, dtype=np.uint16).reshape(16, 16)


def _window(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2.1, written out independently of the implementation."""
    low, high = center - 0.5 - (width - 1) / 2, center - 0.5 + (width - 1) / 2
    inside = ((values - (center - 0.5)) / (width - 1) + 0.5) * 255
    return np.rint(np.where(values <= low, 0, np.where(values > high, 255, inside))).astype(np.uint8)


def test_rescale_then_window_gives_exact_pixels(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "ramp.dcm", RAMP, slope=2, intercept=-100, center=150, width=201)
    out = grey(load_image(path))
    assert np.array_equal(out, _window(RAMP * 2.0 - 100, 150, 201))
    # Hand-checked points: stored 74 -> 48 HU (below the window), 75 -> 50, 125 -> 150 (centre),
    # 174 -> 248, 175 -> 250 (above the window).
    flat = out.ravel()
    assert (flat[74], flat[75], flat[125], flat[174], flat[175]) == (0, 1, 128, 253, 255)


def test_monochrome1_is_the_inverse_of_monochrome2(tmp_path: Path) -> None:
    mono2 = grey(load_image(write_dicom(tmp_path / "m2.dcm", RAMP, center=128, width=200)))
    mono1 = grey(load_image(write_dicom(tmp_path / "m1.dcm", RAMP, photometric="MONOCHROME1", center=128, width=200)))
    assert np.array_equal(mono1.astype(int), 255 - mono2.astype(int))
    assert mono1.ravel()[0] == 255 and mono1.ravel()[-1] == 0


def test_first_of_several_windows_is_used(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "multi.dcm", RAMP, center=[150, 40], width=[201, 80])
    assert np.array_equal(grey(load_image(path)), _window(RAMP.astype(float), 150, 201))


def test_without_a_window_values_are_stretched_min_max(tmp_path: Path) -> None:
    stored = (RAMP.astype(np.int32) * 16 + 1000).astype(np.uint16)  # 1000..5080 in 12 of 16 bits
    out = grey(load_image(write_dicom(tmp_path / "minmax.dcm", stored)))
    expected = np.rint((stored - 1000.0) * 255 / (stored.max() - 1000.0)).astype(np.uint8)
    assert np.array_equal(out, expected)
    assert out.min() == 0 and out.max() == 255


def test_signed_values_with_rescale(tmp_path: Path) -> None:
    stored = np.linspace(-1024, 2000, 256).astype(np.int16).reshape(16, 16)
    out = grey(load_image(write_dicom(tmp_path / "signed.dcm", stored, signed=True, slope=1, intercept=0,
                                      center=40, width=400)))
    assert np.array_equal(out, _window(stored.astype(float), 40, 400))


def test_multi_frame_gives_the_middle_frame(tmp_path: Path) -> None:
    frames = np.stack([np.full((8, 8), value, dtype=np.uint16) for value in (0, 2000, 4000)])
    out = grey(load_image(write_dicom(tmp_path / "frames.dcm", frames, center=2000, width=4001)))
    assert (out == 128).all()
    four = np.stack([np.full((8, 8), value, dtype=np.uint16) for value in (0, 1000, 2000, 4000)])
    assert (grey(load_image(write_dicom(tmp_path / "four.dcm", four, center=2000, width=4001))) == 128).all()


def test_dicom_found_by_magic_without_the_suffix(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "ramp.dcm", RAMP, center=128, width=256)
    bare = tmp_path / "IM000001"
    bare.write_bytes(path.read_bytes())
    assert is_dicom(bare)
    assert np.array_equal(grey(load_image(bare)), grey(load_image(path)))


def test_loading_never_writes_the_source(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "ramp.dcm", RAMP, photometric="MONOCHROME1", slope=2, intercept=-5)
    before, mtime = sha256_file(path), path.stat().st_mtime_ns
    load_image(path)
    assert sha256_file(path) == before and path.stat().st_mtime_ns == mtime


# ---------------------------------------------------------------- real DICOM test files


@pytest.mark.parametrize("name", ["CT_small.dcm", "693_UNCR.dcm", "MR_small.dcm", "MR2_UNCR.dcm"])
def test_real_16_bit_ct_and_mr_render_to_full_8_bit_range(name: str) -> None:
    path = dicom_file(name)
    ds = pydicom.dcmread(path)
    assert ds.BitsAllocated == 16
    out = grey(load_image(path))
    assert out.shape == (ds.Rows, ds.Columns)
    # The file's own window decides the exact range; it should still span most of 0-255.
    assert out.max() >= 245 and int(out.max()) - int(out.min()) >= 180
    assert out.std() > 30  # a picture, not a flat field


def test_real_monochrome1_chest_radiograph(tmp_path: Path) -> None:
    path = dicom_file("RG1_UNCR.dcm")
    ds = pydicom.dcmread(path)
    assert (ds.PhotometricInterpretation, ds.Modality, ds.BodyPartExamined) == ("MONOCHROME1", "CR", "CHEST")
    out = grey(load_image(path))
    assert out.max() - out.min() > 200
    ds.PhotometricInterpretation = "MONOCHROME2"
    as_mono2 = tmp_path / "rg1_as_mono2.dcm"
    ds.save_as(as_mono2)
    assert np.array_equal(out.astype(int), 255 - grey(load_image(as_mono2)).astype(int))
    # Rendered as a viewer shows it, the air outside the body at the image's top corners is dark and the
    # mediastinum in the centre bright; without the inversion it would be the other way round.
    corner = out[:100, :100].mean()
    centre = out[out.shape[0] // 3 : out.shape[0] // 2, out.shape[1] // 2 - 50 : out.shape[1] // 2 + 50].mean()
    assert centre > corner


def test_real_multi_frame_mr() -> None:
    path = dicom_file("emri_small.dcm")
    ds = pydicom.dcmread(path)
    assert int(ds.NumberOfFrames) == 10
    middle = ds.pixel_array[5].astype(float)
    expected = np.rint((middle - middle.min()) * 255 / (middle.max() - middle.min())).astype(np.uint8)
    assert np.array_equal(grey(load_image(path)), expected)


@pytest.mark.parametrize("name", ["SC_rgb.dcm", "US1_UNCR.dcm"])
def test_real_rgb_dicom_keeps_its_colours(name: str) -> None:
    path = dicom_file(name)
    out = np.asarray(load_image(path))
    assert np.array_equal(out, pydicom.dcmread(path).pixel_array)


def test_real_16_bit_rgb_dicom_is_scaled_to_8_bit() -> None:
    path = dicom_file("SC_rgb_16bit.dcm")
    raw = pydicom.dcmread(path).pixel_array.astype(float)
    out = np.asarray(load_image(path))
    assert np.array_equal(out, np.rint(raw * 255 / 65535).astype(np.uint8))


def test_real_palette_colour_dicom() -> None:
    img = load_image(dicom_file("OBXXXX1A.dcm"))
    pixels = np.asarray(img)
    assert img.mode == "RGB" and pixels.shape == (600, 800, 3)
    assert not (pixels[..., 0] == pixels[..., 2]).all()


def test_compressed_syntax_without_a_decoder_is_unsupported() -> None:
    from pydicom.pixels import get_decoder

    path = dicom_file("MR_small_jpeg_ls_lossless.dcm")
    syntax = pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID
    if get_decoder(syntax).is_available:
        pytest.skip("a JPEG-LS decoder is installed here")
    with pytest.raises(ImageError) as caught:
        load_image(path)
    message = str(caught.value)
    assert caught.value.kind == "unsupported"
    assert "JPEG-LS" in message and "install" in message and "\n" not in message


def test_truncated_dicom_is_corrupt(tmp_path: Path) -> None:
    with pytest.raises(ImageError) as caught:
        load_image(dicom_file("MR_truncated.dcm"))
    assert caught.value.kind == "corrupt"
    cut = tmp_path / "cut.dcm"
    data = dicom_file("CT_small.dcm").read_bytes()
    cut.write_bytes(data[: len(data) - 4000])
    with pytest.raises(ImageError) as caught:
        load_image(cut)
    assert caught.value.kind == "corrupt"


def test_dicom_without_pixels_is_not_an_image() -> None:
    with pytest.raises(ImageError) as caught:
        load_image(dicom_file("rtplan.dcm"))
    assert caught.value.kind == "not_image"
    assert "no pixel data" in str(caught.value)


def test_dcm_name_without_dicom_content_is_not_an_image(tmp_path: Path) -> None:
    fake = tmp_path / "fake.dcm"
    fake.write_text("not a dicom file\n", encoding="utf-8")
    with pytest.raises(ImageError) as caught:
        load_image(fake)
    assert caught.value.kind == "not_image"


# ---------------------------------------------------------------- raster files


def test_png_and_jpeg_load_as_rgb(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    Image.fromarray(pixels).save(tmp_path / "a.jpg", quality=95)
    assert np.array_equal(np.asarray(load_image(tmp_path / "a.png")), pixels)
    jpeg = load_image(tmp_path / "a.jpg")
    assert jpeg.mode == "RGB" and jpeg.size == (30, 20)


def test_greyscale_png_becomes_three_equal_channels(tmp_path: Path) -> None:
    values = np.arange(256, dtype=np.uint8).reshape(16, 16)
    Image.fromarray(values).save(tmp_path / "l.png")
    assert np.array_equal(grey(load_image(tmp_path / "l.png")), values)


def test_16_bit_png_is_stretched_not_clipped(tmp_path: Path) -> None:
    values = (np.arange(256, dtype=np.uint16) * 16).reshape(16, 16)  # 0..4080, a 12-bit image
    Image.fromarray(values).save(tmp_path / "deep.png")
    out = grey(load_image(tmp_path / "deep.png"))
    assert out.min() == 0 and out.max() == 255
    assert np.array_equal(out, np.rint(values.astype(float) * 255 / 4080).astype(np.uint8))


def test_transparent_pixels_become_black(tmp_path: Path) -> None:
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., :3] = 200
    rgba[:2, :, 3] = 255  # top half opaque grey, bottom half transparent (with hidden colour)
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "alpha.png")
    out = np.asarray(load_image(tmp_path / "alpha.png"))
    assert (out[:2] == 200).all() and (out[2:] == 0).all()


def test_dicom_without_pydicom_stops_with_the_install_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cares.errors import CaresError

    path = write_dicom(tmp_path / "ramp.dcm", RAMP)
    monkeypatch.setitem(sys.modules, "pydicom", None)
    with pytest.raises(CaresError) as caught:
        load_image(path)
    # Not an ImageError: a missing package fails every DICOM alike, so the run should stop, not skip items.
    assert not isinstance(caught.value, ImageError)
    assert "pip install 'cares[dicom]'" in str(caught.value)
