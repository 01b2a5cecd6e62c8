"""Reading images at display size and encoding the drawn previews for the browser.

What the preview sends to an ``ipywidgets.Image`` follows one rule (``image_format``):

* ``"auto"`` (the widget's default): a JPEG when the row's image file is a JPEG (a photo,
  already lossy: re-encoding it at quality 90 adds no visible loss and costs a tenth of a
  PNG), a PNG otherwise (PNG, BMP, TIFF... sources and the "no image" placeholder), so an
  image that was pixel-exact stays pixel-exact;
* ``"png"``: always PNG, exact pixels (what a test or a user comparing pixels asks for);
* ``"jpeg"``: always JPEG.

The JPEG keeps full colour resolution (4:4:4, no chroma subsampling): halving the colour
resolution, JPEG's usual trade, smears the one- and two-pixel coloured outlines and the
label text into their neighbours. The PNG uses zlib's fastest setting.

Example:
    >>> buf = io.BytesIO(); Image.new("RGB", (400, 200), "navy").save(buf, "JPEG")
    >>> shown = read_display(buf.getvalue(), (100, 100))
    >>> shown.image.size, shown.source_size, shown.source_format
    ((100, 50), (400, 200), 'JPEG')
    >>> fmt = display_format("auto", shown.source_format)
    >>> fmt, encode_image(shown.image, fmt)[:2]
    ('jpeg', b'\\xff\\xd8')
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

__all__ = [
    "IMAGE_FORMATS",
    "JPEG_QUALITY",
    "DisplayImage",
    "display_format",
    "encode_image",
    "open_display",
    "read_display",
]

#: Values of the preview's ``image_format``.
IMAGE_FORMATS = ("auto", "png", "jpeg")
#: JPEG quality of the preview images.
JPEG_QUALITY = 90
#: File formats Pillow reports for JPEG files (``MPO``: a camera's JPEG with extra frames).
_LOSSY_SOURCES = frozenset({"JPEG", "MPO"})


@dataclass(frozen=True)
class DisplayImage:
    """An image decoded at display size.

    Attributes:
        image: The RGB image that fits in the requested size.
        source_size: ``(width, height)`` of the full image (what annotations refer to).
        source_format: Pillow's name of the file's format (``"JPEG"``, ``"PNG"``...); None
            for an image made here.

    Example:
        >>> DisplayImage(Image.new("RGB", (2, 1)), (4, 2), "PNG").source_size
        (4, 2)
    """

    image: Image.Image
    source_size: tuple[int, int]
    source_format: str | None


def read_display(source: str | Path | bytes, max_size: tuple[int, int]) -> DisplayImage:
    """Open an image at (at most) ``max_size``, keeping its aspect ratio.

    A JPEG is decoded directly at a reduced scale (``Image.draft``), which is what makes a
    1920x1080 photo cheap to preview.

    Args:
        source: A file path or the encoded bytes.
        max_size: ``(width, height)`` the result must fit in.

    Returns:
        The :class:`DisplayImage`.

    Example:
        >>> buf = io.BytesIO(); Image.new("RGB", (400, 200)).save(buf, "PNG")
        >>> read_display(buf.getvalue(), (100, 100)).image.size
        (100, 50)
    """
    handle = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
    with handle:
        size, source_format = handle.size, handle.format
        scale = min(1.0, max_size[0] / size[0], max_size[1] / size[1])
        target = (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))
        if handle.format == "JPEG" and target != size:
            handle.draft("RGB", target)
        image = handle.convert("RGB")
    if image.size != target:
        image = image.resize(target, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return DisplayImage(image, size, source_format)


def open_display(
    source: str | Path | bytes, max_size: tuple[int, int]
) -> tuple[Image.Image, tuple[int, int]]:
    """:func:`read_display` as ``(image, source_size)``.

    Example:
        >>> buf = io.BytesIO(); Image.new("RGB", (400, 200)).save(buf, "PNG")
        >>> img, size = open_display(buf.getvalue(), (100, 100))
        >>> img.size, size
        ((100, 50), (400, 200))
    """
    shown = read_display(source, max_size)
    return shown.image, shown.source_size


def display_format(requested: str, source_format: str | None) -> str:
    """The format to send: ``requested`` itself, or for ``"auto"`` JPEG for a JPEG source.

    Args:
        requested: One of :data:`IMAGE_FORMATS`.
        source_format: Pillow's format name of the shown file (None: no file, a placeholder).

    Example:
        >>> [display_format("auto", source) for source in ("JPEG", "PNG", None)]
        ['jpeg', 'png', 'png']
        >>> display_format("png", "JPEG")
        'png'
    """
    if requested != "auto":
        return requested
    return "jpeg" if source_format in _LOSSY_SOURCES else "png"


def encode_image(image: Image.Image, fmt: str = "png") -> bytes:
    """Encode for an ``ipywidgets.Image``: PNG with zlib's fastest level, or JPEG.

    Args:
        image: An RGB image.
        fmt: ``"png"`` (exact) or ``"jpeg"`` (quality :data:`JPEG_QUALITY`, 4:4:4).

    Example:
        >>> encode_image(Image.new("RGB", (4, 4)))[:4]
        b'\\x89PNG'
    """
    buffer = io.BytesIO()
    if fmt == "png":
        # level 1 + Huffman-only: the deflate search is what dominates PNG time at 1 MP
        image.save(buffer, "PNG", compress_level=1, compress_type=2)
    else:
        image.save(buffer, "JPEG", quality=JPEG_QUALITY, subsampling=0)
    return buffer.getvalue()
