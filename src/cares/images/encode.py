"""The bytes a model is sent: canonical PNG, its hash, and the data URL for OpenAI-style image messages."""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from cares.errors import ConfigError
from cares.images.load import load_image
from cares.images.noise import add_gaussian_noise, add_upstream_noise
from cares.images.paths import resolve_image, sha256_file

# Fixed so that the same pixels give the same bytes from run to run. Different zlib builds (Pillow wheels
# ship zlib-ng) may still compress differently, so compare hashes across machines with that in mind.
_PNG_COMPRESS_LEVEL = 6


def to_png_bytes(img: Image.Image) -> bytes:
    """Canonical PNG of `img` as RGB: no text chunks, timestamps, ICC profile, EXIF or DPI."""
    if img.mode != "RGB":
        img = img.convert("RGB")
    # A bare copy of the pixels, because Pillow's PNG writer picks some metadata (the ICC profile)
    # up from `img.info` by itself.
    clean = Image.frombytes("RGB", img.size, img.tobytes())
    buffer = io.BytesIO()
    clean.save(buffer, format="PNG", optimize=False, compress_level=_PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def image_sha256(img: Image.Image) -> str:
    return hashlib.sha256(to_png_bytes(img)).hexdigest()


def data_url(png_bytes: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes).decode("ascii")


@dataclass(frozen=True)
class PreparedImage:
    """One image ready to send, with what is needed to record exactly what the model saw."""

    png: bytes = field(repr=False)
    sha256: str
    source_sha256: str
    width: int
    height: int
    source_path: Path
    transform: dict[str, Any] = field(default_factory=dict)

    @property
    def data_url(self) -> str:
        return data_url(self.png)


def prepare_image(
    root: Path,
    relative: str,
    *,
    noise_sigma: float | None = None,
    seed: int = 0,
    max_side: int | None = None,
    noise: str | None = None,
) -> PreparedImage:
    """Resolve, decode, optionally downsize then add noise, and encode one image. The source file is only read."""
    if max_side is not None and (isinstance(max_side, bool) or not isinstance(max_side, int) or max_side < 1):
        raise ConfigError(f"max_side must be a positive integer, got {max_side!r}")
    path = resolve_image(Path(root), relative)
    source_sha256 = sha256_file(path)
    img = load_image(path)
    transform: dict[str, Any] = {}
    if max_side is not None:
        img = downsize(img, max_side)
        transform["max_side"] = max_side
    if noise_sigma is not None:
        # Noise after resizing, so that sigma means the same thing whatever the source resolution.
        img = add_gaussian_noise(img, noise_sigma, seed)
        transform["noise_sigma"] = float(noise_sigma)
        transform["seed"] = int(seed)
    if noise == "upstream-uint8":
        img = upstream_noisy_copy(img, path, seed)
        transform["noise"] = noise
        transform["seed"] = int(seed)
    elif noise is not None:
        raise ConfigError(f"unknown image noise {noise!r}; known: upstream-uint8")
    png = to_png_bytes(img)
    return PreparedImage(
        png=png,
        sha256=hashlib.sha256(png).hexdigest(),
        source_sha256=source_sha256,
        width=img.width,
        height=img.height,
        source_path=path,
        transform=transform,
    )


def upstream_noisy_copy(img: Image.Image, source: Path, seed: int) -> Image.Image:
    """The upstream noise, written as the public code wrote it (same format; JPEG at cv2's default
    quality 95) but to a temporary copy that is read back and deleted: never over the source."""
    import tempfile

    noisy = add_upstream_noise(img, seed)
    suffix = source.suffix.lower()
    jpeg = suffix in (".jpg", ".jpeg")
    with tempfile.TemporaryDirectory(prefix="cares-noise-") as tmp:
        copy = Path(tmp) / f"noisy{suffix if jpeg or suffix == '.png' else '.png'}"
        if jpeg:
            noisy.save(copy, format="JPEG", quality=95)
        else:
            noisy.save(copy, format="PNG")
        with Image.open(copy) as reread:
            return reread.convert("RGB")


def downsize(img: Image.Image, max_side: int) -> Image.Image:
    """`img` scaled down with Lanczos so that its longer side is at most `max_side`; never enlarged."""
    width, height = img.size
    longest = max(width, height)
    if longest <= max_side:
        return img
    scale = max_side / longest
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return img.resize(size, Image.Resampling.LANCZOS)
