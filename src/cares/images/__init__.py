"""Images for CARES-VQA: confined paths, decoding (PNG, JPEG, DICOM), seeded noise and canonical PNG bytes.

Every failure on one item's image is an `ImageError` with a `kind` (see `IMAGE_ERROR_KINDS`), so a run can
report how many images were missing, corrupt or unsupported instead of stopping at the first.
"""

from cares.images.encode import PreparedImage, data_url, downsize, image_sha256, prepare_image, to_png_bytes
from cares.images.load import is_dicom, load_image, to_rgb8
from cares.images.noise import UPSTREAM_NOISE_VARIANCE, add_gaussian_noise, sigma_from_variance
from cares.images.paths import IMAGE_ERROR_KINDS, ImageError, ImageErrorKind, resolve_image, sha256_file

__all__ = [
    "IMAGE_ERROR_KINDS",
    "UPSTREAM_NOISE_VARIANCE",
    "ImageError",
    "ImageErrorKind",
    "PreparedImage",
    "add_gaussian_noise",
    "data_url",
    "downsize",
    "image_sha256",
    "is_dicom",
    "load_image",
    "prepare_image",
    "resolve_image",
    "sha256_file",
    "sigma_from_variance",
    "to_png_bytes",
    "to_rgb8",
]
