"""Gaussian noise for the robustness task: right statistics, clipped instead of wrapped, seeded, non-destructive."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cares.errors import ConfigError
from cares.images import (
    UPSTREAM_NOISE_VARIANCE,
    add_gaussian_noise,
    prepare_image,
    sha256_file,
    sigma_from_variance,
    to_png_bytes,
)


def flat(value: int, size: int = 256) -> Image.Image:
    return Image.fromarray(np.full((size, size, 3), value, dtype=np.uint8))


def test_noise_on_mid_grey_has_the_requested_mean_and_spread() -> None:
    noisy = np.asarray(add_gaussian_noise(flat(128), 10.0, 0), dtype=np.float64)
    delta = noisy - 128
    assert abs(delta.mean()) <= 0.2
    assert abs(delta.std() - 10.0) <= 0.03 * 10.0


def test_black_image_is_clipped_at_zero_not_wrapped_to_white() -> None:
    noisy = np.asarray(add_gaussian_noise(flat(0), 10.0, 0))
    assert noisy.max() <= 5 * 10 + 1
    assert (noisy == 0).mean() > 0.45  # every negative draw lands on 0
    # The expected value of max(0, N(0, s)) is s / sqrt(2 pi).
    assert abs(noisy.mean() - 10 / math.sqrt(2 * math.pi)) < 0.3


def test_white_image_is_clipped_at_255() -> None:
    noisy = np.asarray(add_gaussian_noise(flat(255), 10.0, 0))
    assert noisy.min() >= 255 - 5 * 10 - 1
    assert (noisy == 255).mean() > 0.45


def test_same_seed_same_bytes_different_seed_different_bytes() -> None:
    image = flat(128, 64)
    first = to_png_bytes(add_gaussian_noise(image, 5.0, 7))
    assert to_png_bytes(add_gaussian_noise(image, 5.0, 7)) == first
    assert to_png_bytes(add_gaussian_noise(image, 5.0, 8)) != first
    assert to_png_bytes(add_gaussian_noise(image, 6.0, 7)) != first


def test_sigma_zero_returns_an_identical_copy() -> None:
    rng = np.random.default_rng(5)
    image = Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    out = add_gaussian_noise(image, 0.0, 3)
    assert out is not image
    assert out.tobytes() == image.tobytes() and out.mode == image.mode


def test_input_image_is_not_modified() -> None:
    image = flat(100, 32)
    before = image.tobytes()
    add_gaussian_noise(image, 20.0, 1)
    assert image.tobytes() == before


def test_greyscale_input_stays_greyscale() -> None:
    image = Image.fromarray(np.full((8, 8), 50, dtype=np.uint8))
    out = add_gaussian_noise(image, 3.0, 0)
    assert out.mode == "L" and out.size == (8, 8)


def test_sigma_from_variance() -> None:
    assert sigma_from_variance(UPSTREAM_NOISE_VARIANCE) == pytest.approx(math.sqrt(6))
    assert sigma_from_variance(0) == 0
    with pytest.raises(ConfigError):
        sigma_from_variance(-1)


@pytest.mark.parametrize("sigma", [-0.5, float("nan"), float("inf"), "loud"])
def test_bad_sigma_is_refused(sigma: object) -> None:
    with pytest.raises(ConfigError):
        add_gaussian_noise(flat(1, 4), sigma, 0)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [-1, 1.5, True, "0"])
def test_bad_seed_is_refused(seed: object) -> None:
    with pytest.raises(ConfigError):
        add_gaussian_noise(flat(1, 4), 1.0, seed)  # type: ignore[arg-type]


def test_preparing_a_noisy_copy_leaves_the_source_file_unchanged(tmp_path: Path) -> None:
    source = tmp_path / "scan.png"
    flat(128, 64).save(source)
    before, mtime = sha256_file(source), source.stat().st_mtime_ns
    prepared = prepare_image(tmp_path, "scan.png", noise_sigma=sigma_from_variance(6), seed=11)
    assert sha256_file(source) == before and source.stat().st_mtime_ns == mtime
    assert prepared.source_sha256 == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scan.png"]  # nothing written beside it
    assert prepared.png != to_png_bytes(flat(128, 64))
    assert prepared.transform == {"noise_sigma": pytest.approx(math.sqrt(6)), "seed": 11}
