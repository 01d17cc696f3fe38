"""Decoding benchmark images (PNG, JPEG and other raster files, and DICOM) into 8-bit RGB.

Models see RGB, so every source ends there. DICOM needs a display pipeline first: the stored values are
detector units, not brightness, so they go through the modality LUT, the VOI window and, for MONOCHROME1,
inversion, as a viewer would show them.

Every image is capped at `max_pixels()` decoded pixels (`CARES_MAX_IMAGE_PIXELS`, default 1536 x 1536, more
than hosted VLMs look at: OpenAI scales the short side to 768, Anthropic the long side to 1568): a larger
one is scaled down while it is decoded (JPEG) or right after (by an integer box filter), so that the noise,
encoding and base64 stages behind it never see more. A file whose full decode alone would take more than
`MAX_DECODE_BYTES` (a decompression bomb: a few kilobytes of PNG can claim 9000 x 9000 pixels or more) is
refused as an `ImageError` before it is decoded.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from cares.errors import CaresError
from cares.images.paths import ImageError

# Still-image formats a dataset plausibly ships; anything else Pillow happens to open (EPS, ICO, PSD, ...)
# is more likely a mistake than an image to evaluate on.
PILLOW_FORMATS = frozenset({"PNG", "JPEG", "MPO", "TIFF", "BMP", "GIF", "WEBP", "PPM", "JPEG2000"})

_DICOM_MAGIC_OFFSET = 128

MAX_PIXELS_ENV = "CARES_MAX_IMAGE_PIXELS"
DEFAULT_MAX_PIXELS = 1536 * 1536
# The most memory one full decode may take before it is scaled down. Pillow holds a 1-bit image at a
# byte per pixel, so the 9000 x 9000 bomb costs 81 MB here; DICOM windowing works in float64.
MAX_DECODE_BYTES = 256 * 1024 * 1024
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "LA": 2, "PA": 2, "La": 2, "RGB": 3, "YCbCr": 3, "LAB": 3, "HSV": 3,
                    "RGBA": 4, "RGBa": 4, "RGBX": 4, "CMYK": 4, "I": 4, "F": 4}


def max_pixels() -> int:
    """The decoded-pixel cap: `CARES_MAX_IMAGE_PIXELS` when set (a positive integer), else 1536 x 1536."""
    text = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise CaresError(f"{MAX_PIXELS_ENV}={text!r}: expected a positive whole number of pixels, e.g. 2359296")
    return value


def is_dicom(path: Path) -> bool:
    path = Path(path)
    if path.suffix.lower() in (".dcm", ".dicom"):
        return True
    try:
        with path.open("rb") as handle:
            head = handle.read(_DICOM_MAGIC_OFFSET + 4)
    except OSError:
        return False
    return head[_DICOM_MAGIC_OFFSET:] == b"DICM"


def load_image(path: Path, *, limit: int | None = None) -> Image.Image:
    """The image at `path` as an 8-bit RGB Pillow image, fully decoded, with at most `limit` pixels
    (default `max_pixels()`); the file is only read."""
    path = Path(path)
    limit = max_pixels() if limit is None else limit
    if limit < 1:
        raise CaresError(f"the decoded-pixel cap must be at least 1, got {limit}")
    if not path.exists():
        raise ImageError(path, "image file not found", kind="missing")
    if not path.is_file():
        raise ImageError(path, "not a file", kind="not_image")
    if is_dicom(path):
        return _load_dicom(path, limit)
    return _load_raster(path, limit)


def _too_large(path: Path, width: int, height: int, bytes_per_pixel: int) -> ImageError:
    need = width * height * bytes_per_pixel / 2**20
    return ImageError(path, f"image too large to decode safely: {width}x{height} pixels would take {need:,.0f} MB "
                            f"(limit {MAX_DECODE_BYTES // 2**20} MB)", kind="unsupported")


def reduce_factor(width: int, height: int, limit: int) -> int:
    """The smallest integer box-filter factor that brings `width` x `height` within `limit` pixels."""
    factor = max(1, math.isqrt(max(0, width * height // limit - 1)))
    while math.ceil(width / factor) * math.ceil(height / factor) > limit:
        factor += 1
    return factor


def shrink(img: Image.Image, limit: int) -> Image.Image:
    """`img` box-filtered down by a whole factor to at most `limit` pixels; unchanged when it fits."""
    width, height = img.size
    if width * height <= limit:
        return img
    factor = reduce_factor(width, height, limit)
    if img.mode in ("1", "P", "PA"):
        # Box filtering would average palette indices, and a full-size 8-bit copy first would double the
        # memory of the largest images: pick pixels, as Pillow itself does for these modes.
        size = (math.ceil(width / factor), math.ceil(height / factor))
        return img.resize(size, Image.Resampling.NEAREST)
    if img.mode.startswith("I;16"):
        img = img.convert("I")
    return img.reduce(factor)


# ---------------------------------------------------------------- PNG, JPEG and other raster files


def _load_raster(path: Path, limit: int) -> Image.Image:
    fmt: str | None = None
    try:
        with warnings.catch_warnings():
            # Pillow warns above its own pixel limit; the checks below decide instead, per image.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            # verify() checks PNG chunk CRCs and that the stream reaches its end, which load() alone lets slide.
            with Image.open(path) as probe:
                fmt = probe.format
                if fmt not in PILLOW_FORMATS:
                    raise ImageError(path, f"unsupported image format {fmt}; use PNG, JPEG or DICOM",
                                     kind="unsupported")
                probe.verify()
            with Image.open(path) as img:
                rgb = to_rgb8(shrink(_decode_within(path, img, limit), limit))
    except UnidentifiedImageError:
        # A file that starts like a PNG or JPEG but cannot be identified was cut short or damaged.
        signature = _signature(path)
        if signature is not None:
            raise ImageError(
                path, f"corrupt or truncated {signature} file: cannot be decoded", kind="corrupt"
            ) from None
        message = "not a recognised image file (PNG, JPEG or DICOM expected)"
        raise ImageError(path, message, kind="not_image") from None
    except PermissionError as exc:
        raise ImageError(path, f"cannot read image file: {exc.strerror}", kind="missing") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(path, f"image too large to decode safely: {exc}", kind="unsupported") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(path, f"corrupt or truncated {fmt or 'image'} file: {exc}", kind="corrupt") from None
    return rgb


def _decode_within(path: Path, img: Image.Image, limit: int) -> Image.Image:
    """Decode `img` (opened, not loaded) at the smallest scale the format allows that still has at least
    `limit` pixels, refusing it first when that decode alone would take more than `MAX_DECODE_BYTES`."""
    width, height = img.size
    if width * height > limit and img.format in ("JPEG", "MPO"):
        # JPEG decodes at 1/2, 1/4 or 1/8 scale for almost nothing; draft picks the smallest scale at
        # or above the requested size.
        factor = reduce_factor(width, height, limit)
        img.draft(img.mode, (max(1, width // factor), max(1, height // factor)))
        width, height = img.size
    per_pixel = _BYTES_PER_PIXEL.get(img.mode, 4)
    if width * height * per_pixel > MAX_DECODE_BYTES:
        raise _too_large(path, width, height, per_pixel)
    img.load()
    return img


_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"))


def _signature(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError:
        return None
    return next((name for magic, name in _SIGNATURES if head.startswith(magic)), None)


def to_rgb8(img: Image.Image) -> Image.Image:
    """An 8-bit RGB copy. Deeper greyscale is stretched min-max, because Pillow's own conversion clips at 255."""
    if img.mode == "RGB":
        return img.copy()
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return _grey_to_rgb(_minmax_to_uint8(np.asarray(img, dtype=np.float64)))
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        # Composite on black, the background of nearly every medical image, so that hidden colour under
        # transparent pixels never reaches the model.
        rgba = img.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(base, rgba).convert("RGB")
    return img.convert("RGB")


# ---------------------------------------------------------------- DICOM


def _import_pydicom() -> Any:
    try:
        import pydicom
        import pydicom.pixels  # noqa: F401
    except ImportError:
        # An environment problem, not a per-item one: every DICOM would fail the same way.
        raise CaresError("reading DICOM images needs pydicom 3 or later: pip install 'cares[dicom]'") from None
    return pydicom


def _load_dicom(path: Path, limit: int) -> Image.Image:
    pydicom = _import_pydicom()
    from pydicom.errors import InvalidDicomError
    from pydicom.pixels import get_decoder, pixel_array

    try:
        # Large values (the pixel data) are read only when used, after the size check below.
        ds = pydicom.dcmread(path, force=False, defer_size="1 MB")
    except InvalidDicomError:
        raise ImageError(path, "not a DICOM file (no 'DICM' preamble)", kind="not_image") from None
    except PermissionError as exc:
        raise ImageError(path, f"cannot read image file: {exc.strerror}", kind="missing") from None
    except Exception as exc:  # pydicom raises many types for damaged files
        raise ImageError(path, f"corrupt DICOM file: {exc}", kind="corrupt") from None
    if not any(tag in ds for tag in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        modality = ds.get("Modality") or "unknown"
        raise ImageError(path, f"DICOM file has no pixel data (modality {modality})", kind="not_image")

    meta = getattr(ds, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    if syntax is not None:
        name = f"'{syntax.name}' ({syntax})"
        try:
            decoder = get_decoder(syntax)
        except NotImplementedError:
            raise ImageError(path, f"DICOM transfer syntax {name} is not supported; convert the file to "
                                   "uncompressed DICOM or PNG", kind="unsupported") from None
        if not decoder.is_available:
            needs = "; ".join(decoder.missing_dependencies) or "a decoder plugin"
            raise ImageError(path, f"cannot decode DICOM transfer syntax {name}: install one of: {needs}; "
                                   "or convert the file to uncompressed DICOM", kind="unsupported")

    _check_dicom_size(path, ds)
    frames = _frame_count(ds)
    try:
        # A single representative frame; for a cine loop or a volume stored as frames, the middle one.
        arr = pixel_array(ds, index=frames // 2 if frames > 1 else None)
    except Exception as exc:
        raise ImageError(path, f"corrupt DICOM pixel data: {exc}", kind="corrupt") from None
    try:
        rgb = _dicom_to_rgb8(arr, ds, limit)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise ImageError(path, f"cannot render DICOM pixel data: {exc}", kind="unsupported") from None
    return shrink(Image.fromarray(rgb), limit)  # colour frames; grey ones were scaled before windowing


def _check_dicom_size(path: Path, ds: Any) -> None:
    """One frame is decoded, then windowed in float64: refuse a frame whose decode would not fit."""
    try:
        rows, columns = int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)
        samples = max(1, int(ds.get("SamplesPerPixel") or 1))
    except (TypeError, ValueError):
        return  # pydicom reports the malformed header when it decodes
    if rows * columns * samples * 8 > MAX_DECODE_BYTES:
        raise _too_large(path, columns, rows, samples * 8)


def _frame_count(ds: Any) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames") or 1))
    except (TypeError, ValueError):
        return 1


def _dicom_to_rgb8(arr: np.ndarray, ds: Any, limit: int) -> np.ndarray:
    from pydicom.pixels import apply_color_lut, apply_modality_lut

    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    samples = int(ds.get("SamplesPerPixel", 1) or 1)

    if photometric == "PALETTE COLOR":
        rgb = np.asarray(apply_color_lut(arr, ds))[..., :3]
        depth = 16 if rgb.dtype.itemsize > 1 else 8
        return _scale_bits(rgb, depth)
    if samples >= 3 or arr.ndim == 3:
        # pydicom already converts YBR to RGB; colour values are scaled by the stored bit depth rather
        # than stretched, so colour balance survives.
        depth = int(ds.get("BitsStored") or ds.get("BitsAllocated") or 8)
        return _scale_bits(np.asarray(arr)[..., :3], depth)

    values = np.asarray(apply_modality_lut(arr, ds), dtype=np.float64)
    if values.ndim == 2 and values.size > limit:
        # Averaged in modality units, before the window and the inversion, as a viewer zooming out does.
        factor = reduce_factor(values.shape[1], values.shape[0], limit)
        values = np.asarray(Image.fromarray(values.astype(np.float32), "F").reduce(factor), dtype=np.float64)
    window = _first_window(ds)
    if window is not None:
        center, width = window
        function = str(ds.get("VOILUTFunction", "LINEAR")).strip().upper()
        grey = _apply_window(values, center, width, function)
    else:
        grey = _minmax_to_uint8(values)
    if photometric == "MONOCHROME1":
        grey = 255 - grey
    return np.repeat(grey[..., None], 3, axis=-1)


def _first_window(ds: Any) -> tuple[float, float] | None:
    center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if center is None or width is None:
        return None
    # Multi-valued windows offer alternative presets; the first is the modality's default.
    center = center[0] if _is_sequence(center) else center
    width = width[0] if _is_sequence(width) else width
    try:
        center, width = float(center), float(width)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(center) and math.isfinite(width)) or width < 1:
        return None
    return center, width


def _is_sequence(value: Any) -> bool:
    return isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue"


def _apply_window(values: np.ndarray, center: float, width: float, function: str) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2 VOI window onto 0..255."""
    if function == "SIGMOID":
        out = 255.0 / (1.0 + np.exp(-4.0 * (values - center) / width))
    elif function == "LINEAR_EXACT":
        out = ((values - center) / width + 0.5) * 255.0
    else:
        if width == 1:
            out = np.where(values < center - 0.5, 0.0, 255.0)
        else:
            out = ((values - (center - 0.5)) / (width - 1) + 0.5) * 255.0
    return np.rint(np.clip(out, 0.0, 255.0)).astype(np.uint8)


def _minmax_to_uint8(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros(values.shape, dtype=np.uint8)
    low, high = float(finite.min()), float(finite.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    out = (np.nan_to_num(values, nan=low, posinf=high, neginf=low) - low) * (255.0 / (high - low))
    return np.rint(np.clip(out, 0.0, 255.0)).astype(np.uint8)


def _scale_bits(values: np.ndarray, depth: int) -> np.ndarray:
    if depth <= 8 and values.dtype == np.uint8:
        return np.ascontiguousarray(values)
    top = float(2 ** max(1, depth) - 1)
    out = np.asarray(values, dtype=np.float64) * (255.0 / top)
    return np.rint(np.clip(out, 0.0, 255.0)).astype(np.uint8)


def _grey_to_rgb(grey: np.ndarray) -> Image.Image:
    return Image.fromarray(np.repeat(grey[..., None], 3, axis=-1))
