"""Per-image measurements on a small luma thumbnail: size, perceptual hash, exposure, blur.

Reading an image costs most of the time, so each image is decoded once, as small as the
measurements allow: for JPEG, ``Image.draft`` asks the decoder for a 1/2-1/8 scaled grayscale
decode (the DCT scaling skips most of the work), then ``thumbnail`` brings the long side to
``thumbnail_size`` pixels. Everything below is computed from that thumbnail. PIL releases the
GIL while decoding and resizing, so a thread pool measures several images at once.

Example:
    >>> from PIL import Image
    >>> m = measure_image(Image.new("L", (64, 32), 0))
    >>> (m.width, m.height, m.dark_score, m.blurry_score)
    (64, 32, 0.0, nan)
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, fields
from typing import Any

import imagehash
import numpy as np
import numpy.typing as npt
from PIL import Image

from synapse_nb.health._errors import HealthInputError

__all__ = ["ImageMeasure", "ImageSource", "content_hash", "measure_image", "read_source"]

#: What an image can be given as: encoded bytes, a file path, or a PIL image.
ImageSource = bytes | str | os.PathLike[str] | Image.Image

_FLAT_SPREAD = 2.0 / 255.0  # below this luma spread an image has no edges to judge


@dataclass(frozen=True, slots=True)
class ImageMeasure:
    """The cached measurements of one image (see :class:`~.thresholds.ImageThresholds`).

    Attributes:
        width: Width of the full image, px.
        height: Height of the full image, px.
        phash: 64-bit DCT perceptual hash (``imagehash.phash``, hash size 8) as an int.
        dark_score: 95th percentile of luma, 0-1.
        overexposed_score: 5th percentile of luma, 0-1.
        low_contrast_score: Michelson contrast of the 2nd and 98th percentiles of luma,
            ``(p98 - p2) / (p98 + p2)``, mirrored for bright images (``2 - p98 - p2`` in the
            denominator when smaller), so a dark or a bright image is judged relative to its
            own level, 0-1.
        blurry_score: Variance of the Laplacian of the luma stretched to its 2-98
            percentile range (8-bit units); NaN for flat images.
        low_information_score: Entropy of the luma histogram, bits.
    """

    width: int
    height: int
    phash: int
    dark_score: float
    overexposed_score: float
    low_contrast_score: float
    blurry_score: float
    low_information_score: float

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of the fields, in order.

        Example:
            >>> ImageMeasure.field_names()[:3]
            ('width', 'height', 'phash')
        """
        return tuple(f.name for f in fields(cls))

    def as_tuple(self) -> tuple[Any, ...]:
        """The field values, in :meth:`field_names` order."""
        return tuple(getattr(self, name) for name in _FIELDS)


_FIELDS = ImageMeasure.field_names()


def read_source(source: ImageSource) -> tuple[str, bytes | Image.Image]:
    """The content hash of an image source and what to decode it from.

    Encoded bytes and files are hashed as stored (BLAKE2b, 128 bits); a PIL image is hashed
    over its mode, size and pixels.

    Example:
        >>> key, data = read_source(b"not really an image")
        >>> len(key), data == b"not really an image"
        (32, True)
    """
    if isinstance(source, Image.Image):
        return content_hash(source), source
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    elif isinstance(source, str | os.PathLike):
        try:
            with open(source, "rb") as handle:
                data = handle.read()
        except OSError as err:
            raise HealthInputError("image", source, f"cannot be read ({err.strerror})") from err
    else:
        raise HealthInputError("image", source, "must be bytes, a path or a PIL image")
    return hashlib.blake2b(data, digest_size=16).hexdigest(), data


def content_hash(image: Image.Image) -> str:
    """Content hash of a decoded image (mode, size and pixel bytes).

    Example:
        >>> content_hash(Image.new("L", (2, 2))) == content_hash(Image.new("L", (2, 2)))
        True
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{image.mode}:{image.size}".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


def _thumbnail(data: bytes | Image.Image, size: int) -> tuple[Image.Image, int, int]:
    image = data if isinstance(data, Image.Image) else Image.open(io.BytesIO(data))
    width, height = image.size
    scale = size / max(width, height, 1)
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    if image.format == "JPEG" and scale < 1:
        # Ask for the thumbnail's own shape: JPEG picks the largest DCT scaling (1/2-1/8)
        # that stays at least this large in both directions.
        image.draft("L", target)
    image = image.convert("L") if image.mode != "L" else image
    if image is data:
        image = image.copy()
    if scale < 1:
        image = image.resize(target, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return image, width, height


def _percentiles(histogram: npt.NDArray[np.int64], points: tuple[float, ...]) -> list[float]:
    cdf = np.cumsum(histogram) / max(int(histogram.sum()), 1)
    return [float(np.searchsorted(cdf, p)) / 255.0 for p in points]


def _blur(luma: npt.NDArray[np.float32], spread: float) -> float:
    if spread < _FLAT_SPREAD or min(luma.shape) < 3:
        return float("nan")
    lap = (
        luma[1:-1, :-2] + luma[1:-1, 2:] + luma[:-2, 1:-1] + luma[2:, 1:-1]
        - 4.0 * luma[1:-1, 1:-1]
    )
    return float(lap.var(dtype=np.float64) / spread**2)


def measure_image(data: bytes | Image.Image, thumbnail_size: int = 256) -> ImageMeasure:
    """Measure one image from its encoded bytes or a PIL image.

    Args:
        data: Encoded image bytes (any format PIL reads) or a PIL image.
        thumbnail_size: Long side of the thumbnail the scores are computed on, px.

    Raises:
        OSError: The bytes are not an image PIL can decode.

    Example:
        >>> m = measure_image(Image.new("L", (300, 100), 255))
        >>> (m.width, m.height, m.overexposed_score, m.low_information_score)
        (300, 100, 1.0, 0.0)
    """
    thumb, width, height = _thumbnail(data, thumbnail_size)
    pixels = np.asarray(thumb, dtype=np.uint8)
    histogram = np.bincount(pixels.ravel(), minlength=256)
    p02, p05, p95, p98 = _percentiles(histogram, (0.02, 0.05, 0.95, 0.98))
    share = histogram[histogram > 0] / pixels.size
    entropy = float(-(share * np.log2(share)).sum()) + 0.0
    spread = p98 - p02
    contrast = spread / max(min(p98 + p02, 2.0 - p98 - p02), 1e-9)
    # imagehash resamples to 32×32 with Lanczos; a box reduction to ~64 px first costs a
    # fraction of that and moves the hash by well under one bit on average.
    small = thumb.reduce(max(1, min(thumb.size) // 64))
    phash = int(str(imagehash.phash(small, hash_size=8)), 16)
    return ImageMeasure(
        width=width,
        height=height,
        phash=phash,
        dark_score=p95,
        overexposed_score=p05,
        low_contrast_score=min(contrast, 1.0),
        blurry_score=_blur(pixels.astype(np.float32), spread),
        low_information_score=entropy,
    )
