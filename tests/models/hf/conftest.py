from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from cares.images import sha256_file  # noqa: E402
from cares.models.hf.checkpoint import HFSettings, Loaded, load, locate  # noqa: E402
from cares.types import ImageRef  # noqa: E402


@pytest.fixture(scope="session")
def load_tiny(tiny_models: dict[str, Path]) -> Callable[[str], Loaded]:
    """kind -> the loaded tiny model in float32 on the CPU, loaded once per session. Tests that
    change a loaded model restore it (monkeypatch)."""
    cache: dict[str, Loaded] = {}

    def get(kind: str) -> Loaded:
        if kind not in cache:
            settings = HFSettings(device="cpu", dtype="float32")
            cache[kind] = load(locate(str(tiny_models[kind]), settings), settings, "cpu", "float32")
        return cache[kind]

    return get


@pytest.fixture(scope="session")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One image of each format CARES-VQA reads: a PNG, a JPEG photograph (scikit-image's retina)
    and a DICOM CT slice (pydicom's test file)."""
    from PIL import Image

    pydicom_data = pytest.importorskip("pydicom.data")
    skimage_data = pytest.importorskip("skimage.data")
    root = tmp_path_factory.mktemp("images")
    (root / "scans").mkdir()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(root / "scans" / "red.png")
    Image.fromarray(skimage_data.retina()).resize((160, 160)).save(root / "scans" / "retina.jpg", quality=90)
    ct = pydicom_data.get_testdata_file("CT_small.dcm", download=False)
    if ct is None:
        pytest.skip("pydicom's CT_small.dcm test file is not installed")
    shutil.copy(ct, root / "scans" / "ct.dcm")
    return root


IMAGE_FILES = {"png": "scans/red.png", "jpeg": "scans/retina.jpg", "dicom": "scans/ct.dcm"}
IMAGE_SIZES = {"png": (40, 30), "jpeg": (160, 160), "dicom": (128, 128)}


def image_ref(root: Path, fmt: str, transform: tuple[tuple[str, Any], ...] = ()) -> ImageRef:
    relative = IMAGE_FILES[fmt]
    return ImageRef(str(root), relative, sha256_file(root / relative), transform)
