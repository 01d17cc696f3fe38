"""Gaussian pixel noise for the input-level robustness task.

Upstream drew noise of variance 6 and cast it to uint8 before adding, so every negative draw wrapped to
about 255 and the "noisy" image was salt noise; it also wrote the result over the source file. Here the
noise stays in float until the sum is clipped, the draw is seeded, and a new image is returned.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from cares.errors import ConfigError

# The paper's setting, on the 0-255 scale.
UPSTREAM_NOISE_VARIANCE = 6.0


def sigma_from_variance(var: float) -> float:
    var = float(var)
    if not math.isfinite(var) or var < 0:
        raise ConfigError(f"noise variance must be a finite number >= 0, got {var}")
    return math.sqrt(var)


def add_gaussian_noise(img: Image.Image, sigma: float, seed: int) -> Image.Image:
    """`img` plus N(0, sigma^2) noise per pixel and channel on the 0-255 scale, clipped and rounded to uint8.

    The same image, sigma and seed always give the same bytes. The input image is not modified.
    """
    sigma = _check_sigma(sigma)
    seed = _check_seed(seed)
    if img.mode not in ("L", "RGB"):
        img = img.convert("RGB")
    if sigma == 0:
        return img.copy()
    pixels = np.asarray(img, dtype=np.float64)
    rng = np.random.default_rng(seed)
    noisy = pixels + rng.normal(0.0, sigma, size=pixels.shape)
    return Image.fromarray(np.rint(np.clip(noisy, 0.0, 255.0)).astype(np.uint8))


def _check_sigma(sigma: float) -> float:
    try:
        value = float(sigma)
    except (TypeError, ValueError):
        raise ConfigError(f"noise sigma must be a number, got {sigma!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"noise sigma must be a finite number >= 0, got {sigma}")
    return value


def _check_seed(seed: int) -> int:
    # bool is an int, but a True/False seed is always a mistake at the call site.
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"noise seed must be an integer >= 0, got {seed!r}")
    return int(seed)


def add_upstream_noise(img: Image.Image, seed: int) -> Image.Image:
    """The public code's noise (`src/noise_add.py`), reproduced for `--protocol upstream`.

    It read every image as three 8-bit channels (cv2.imread), drew N(0, 6) per pixel and channel, cast
    the draw to uint8 (truncated toward zero, negatives wrapping: -1.4 becomes 255) and added it with
    saturation (cv2.add), so about a third of the values go to or near white. Seeded here, where the
    public code was not, so a rerun sends the same image.
    """
    seed = _check_seed(seed)
    pixels = np.asarray(img.convert("RGB"), dtype=np.int16)
    draw = np.random.default_rng(seed).normal(0.0, math.sqrt(UPSTREAM_NOISE_VARIANCE), size=pixels.shape)
    wrapped = np.mod(np.trunc(draw).astype(np.int16), 256)
    return Image.fromarray(np.minimum(pixels + wrapped, 255).astype(np.uint8))
