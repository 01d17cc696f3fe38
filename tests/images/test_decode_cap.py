"""The decoded-pixel cap: images larger than it are scaled down while decoded, and a file whose full
decode alone would not fit in memory (a decompression bomb) is refused before it is decoded."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from cares.errors import CaresError
from cares.images import ImageError, load_image
from cares.images.load import DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV, max_pixels, reduce_factor

BOMB_SIDE = 9000


def one_bit_bomb(path: Path, side: int = BOMB_SIDE) -> Path:
    """About 10 KB of PNG that decodes to side x side pixels."""
    Image.new("1", (side, side), 0).save(path, optimize=True)
    return path


def png_header_only(path: Path, width: int, height: int, colour_type: int = 6) -> Path:
    """A PNG whose header claims width x height (RGBA by default), with a few valid rows of data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    rows = zlib.compress(b"\x00" + b"\x00" * width * 4)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b""))
    return path


def test_a_one_bit_png_bomb_is_decoded_within_the_pixel_cap(tmp_path: Path) -> None:
    bomb = one_bit_bomb(tmp_path / "bomb.png")
    assert bomb.stat().st_size < 20_000
    img = load_image(bomb)
    assert img.mode == "RGB"
    assert img.width * img.height <= DEFAULT_MAX_PIXELS
    # Scaled by one whole factor, so the aspect ratio is kept.
    assert img.width == img.height == BOMB_SIDE // reduce_factor(BOMB_SIDE, BOMB_SIDE, DEFAULT_MAX_PIXELS)


def test_preparing_the_bomb_with_noise_stays_under_500_mb_of_memory(tmp_path: Path) -> None:
    one_bit_bomb(tmp_path / "bomb.png")
    # VmHWM is this process's own peak: ru_maxrss of a child forked from a large parent (pytest, late in
    # a full run) starts at the parent's peak on Linux.
    script = (
        "import json, resource, sys\n"
        "from pathlib import Path\n"
        "from cares.images import prepare_image\n"
        "p = prepare_image(Path(sys.argv[1]), 'bomb.png', noise_sigma=2.45, seed=1)\n"
        "status = Path('/proc/self/status')\n"
        "hwm = [int(l.split()[1]) for l in status.read_text().splitlines() if l.startswith('VmHWM:')] "
        "if status.exists() else []\n"
        "kb = hwm[0] if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(json.dumps({'size': [p.width, p.height], 'rss_mb': kb / 1024}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    figures = json.loads(out.stdout)
    print(f"bomb prepared at {figures['size']} with peak RSS {figures['rss_mb']:.0f} MB")
    assert figures["size"][0] * figures["size"][1] <= DEFAULT_MAX_PIXELS
    assert figures["rss_mb"] <= 500


def test_images_within_the_cap_are_decoded_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "small.png"
    Image.new("RGB", (640, 480), (10, 200, 30)).save(path)
    img = load_image(path)
    assert img.size == (640, 480) and img.getpixel((5, 5)) == (10, 200, 30)


def test_a_jpeg_over_the_cap_is_decoded_at_a_reduced_scale(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    Image.new("RGB", (4000, 3000), (120, 120, 120)).save(path, quality=90)
    img = load_image(path, limit=500_000)
    assert img.width * img.height <= 500_000
    assert abs(img.width / img.height - 4 / 3) < 0.01


def test_the_cap_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "square.png"
    Image.new("L", (400, 400), 90).save(path)
    monkeypatch.setenv(MAX_PIXELS_ENV, "10000")
    assert max_pixels() == 10_000
    img = load_image(path)
    assert img.size == (100, 100)
    monkeypatch.setenv(MAX_PIXELS_ENV, "lots")
    with pytest.raises(CaresError, match=MAX_PIXELS_ENV):
        load_image(path)


def test_palette_and_one_bit_images_keep_their_colours_when_scaled(tmp_path: Path) -> None:
    path = tmp_path / "palette.png"
    Image.new("RGB", (300, 300), (200, 10, 10)).convert("P", palette=Image.Palette.ADAPTIVE).save(path)
    img = load_image(path, limit=2_500)
    assert img.size == (50, 50) and img.getpixel((3, 3)) == (200, 10, 10)
    bits = tmp_path / "bits.png"
    Image.new("1", (300, 300), 1).save(bits)
    assert load_image(bits, limit=2_500).getpixel((3, 3)) == (255, 255, 255)


def test_a_decode_larger_than_the_memory_ceiling_is_refused_before_decoding(tmp_path: Path) -> None:
    # 10000 x 10000 RGBA would take 400 MB to decode; the file is under 100 bytes.
    path = png_header_only(tmp_path / "claims.png", 10_000, 10_000)
    with pytest.raises(ImageError, match="too large to decode safely") as caught:
        load_image(path)
    assert caught.value.kind == "unsupported"
