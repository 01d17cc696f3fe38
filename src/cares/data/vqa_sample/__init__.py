"""A small CARES-VQA demo set that runs offline, with real medical images from offline packages.

Questions of our own (48 in version 1) on 8 images: modality, body region, plane, view, laterality and obvious
structures, plus a few open-ended questions with short reference answers (see `items.py`). The
demographics attached to the questions are synthetic.

The images are not shipped with this package: `prepare_sample` renders them on the user's machine,
through `cares.images` (DICOM windowing, 8-bit RGB, Lanczos downsizing to 512 px, canonical PNG), from

- pydicom's and pydicom-data's test files (MIT licence, see those packages; most images come from the
  NEMA WG04 compression test sets): a CR chest radiograph (RG1_UNCR.dcm), a CR lower-leg radiograph
  (RG3_UNCR.dcm), an axial head CT (693_UNCR.dcm), an axial thoracic CT slice (CT_small.dcm), a shoulder
  MRI (MR2_UNCR.dcm) and an abdominal MRI (MR-SIEMENS-DICOM-WithOverlays.dcm);
- scikit-image's `skimage.data.retina()`: a fundus photograph of a normal left eye by Mikael Häggström,
  released under CC0 1.0 (public domain dedication), used whole and as a crop around the optic disc.

This sample is for demos and tests. It is not part of CARES-VQA, and its numbers are not comparable to
the published benchmark's.

Preparing needs `pip install 'cares[vqa-sample]'` (pydicom, pydicom-data, scikit-image); reading the
prepared cache needs nothing beyond the core install.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from cares.data.vqa_sample.items import IMAGES, SampleImage, image_path, questions
from cares.errors import CaresError

# Bump when the images, their rendering or the questions change, so that old caches are not reused.
SAMPLE_VERSION = "1"
MAX_SIDE = 512
QUESTIONS_FILE = "questions.jsonl"
MANIFEST_FILE = "manifest.json"
INSTALL_HINT = "pip install 'cares[vqa-sample]'"

__all__ = ["SAMPLE_VERSION", "cache_root", "prepare_sample", "sample_dir", "questions"]

_README = """\
CARES-VQA demo sample (version {version}), prepared by the `cares` toolkit.

For demos and tests only: not part of the CARES-VQA benchmark and not comparable to its published results.
Patient demographics in questions.jsonl are synthetic.

Images, rendered from DICOM or photographs to 8-bit RGB PNG:
{images}

Sources and licences:
- pydicom and pydicom-data test files: MIT licence (Copyright (c) 2008-2020 Darcy Mason and pydicom
  contributors; Copyright (c) 2020 Dicom in Python); most originate from the NEMA WG04 test data sets.
- skimage.data.retina(): "Fundus photograph of normal left eye" by Mikael Häggström, Wikimedia Commons,
  CC0 1.0 Universal Public Domain Dedication.
"""


def cache_root() -> Path:
    env = os.environ.get("CARES_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "cares"


def sample_dir() -> Path:
    """The prepared sample, made once in the cache and reused while its manifest checks out."""
    dest = cache_root() / "vqa-sample" / SAMPLE_VERSION
    if _is_complete(dest):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Prepared beside the target and renamed into place, so a crash or a second process never leaves
    # a half-written sample that looks finished.
    staging = Path(tempfile.mkdtemp(prefix=f".{SAMPLE_VERSION}-", dir=dest.parent))
    try:
        prepare_sample(staging)
        if dest.exists() and not _is_complete(dest):
            shutil.rmtree(dest, ignore_errors=True)
        try:
            staging.rename(dest)
        except OSError:
            if not _is_complete(dest):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not _is_complete(dest):
        raise CaresError(f"could not prepare the VQA sample in {dest}; remove that folder and try again")
    return dest


def prepare_sample(dest: Path) -> Path:
    """Write the images, `questions.jsonl`, a README and `manifest.json` (last) into `dest`; return `dest`."""
    dest = Path(dest)
    sources = _Sources()
    (dest / "images").mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for image in IMAGES:
        png = _render(image, sources)
        files[image_path(image.key)] = _write(dest, image_path(image.key), png)
    lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in questions())
    files[QUESTIONS_FILE] = _write(dest, QUESTIONS_FILE, lines.encode("utf-8"))
    listing = "\n".join(f"- {image_path(i.key)}: {i.description} [{i.source}]" for i in IMAGES)
    readme = _README.format(version=SAMPLE_VERSION, images=listing)
    files["README.txt"] = _write(dest, "README.txt", readme.encode("utf-8"))
    manifest = {
        "version": SAMPLE_VERSION,
        "files": files,
        "images": {image_path(i.key): {"source": i.source, "description": i.description} for i in IMAGES},
    }
    (dest / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return dest


def _write(dest: Path, relative: str, data: bytes) -> str:
    (dest / relative).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _is_complete(dest: Path) -> bool:
    try:
        manifest = json.loads((dest / MANIFEST_FILE).read_text(encoding="utf-8"))
        files = manifest["files"]
        if manifest.get("version") != SAMPLE_VERSION or QUESTIONS_FILE not in files:
            return False
        if set(files) != {image_path(i.key) for i in IMAGES} | {QUESTIONS_FILE, "README.txt"}:
            return False
        return all(hashlib.sha256((dest / name).read_bytes()).hexdigest() == digest for name, digest in files.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


# ---------------------------------------------------------------- rendering


class _Sources:
    """Source images, each decoded once, found without network access."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    def get(self, source: str) -> Any:
        if source not in self._cache:
            self._cache[source] = self._load(source)
        return self._cache[source]

    def _load(self, source: str) -> Any:
        from cares.images import load_image, to_rgb8

        package, _, name = source.partition(":")
        if package == "pydicom":
            try:
                from pydicom.data import get_testdata_file
            except ImportError:
                raise CaresError(f"preparing the VQA sample needs pydicom: {INSTALL_HINT}") from None
            found = get_testdata_file(name, download=False)
            if found is None:
                raise CaresError(f"preparing the VQA sample needs pydicom's test file {name} "
                                 f"(from pydicom-data): {INSTALL_HINT}")
            return load_image(Path(found))
        if package == "skimage":
            try:
                from skimage import data
            except ImportError:
                raise CaresError(f"preparing the VQA sample needs scikit-image: {INSTALL_HINT}") from None
            from PIL import Image

            try:
                pixels = getattr(data, name)()
            except Exception as exc:  # a missing data file surfaces as whatever the fetcher raises
                raise CaresError(f"scikit-image's {name} image is not available offline ({exc}); "
                                 f"reinstall scikit-image: {INSTALL_HINT}") from None
            return to_rgb8(Image.fromarray(pixels))
        raise ValueError(f"unknown sample image source {source!r}")


def _render(image: SampleImage, sources: _Sources) -> bytes:
    from cares.images import downsize, to_png_bytes

    img = sources.get(image.source)
    if image.crop is not None:
        img = img.crop(image.crop)
    return to_png_bytes(downsize(img, MAX_SIDE))
