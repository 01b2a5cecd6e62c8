"""Generated images with known problems for the health tests and benchmark."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def scene(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A clean, distinct RGB scene: gradient background, random shapes, mild sensor noise."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = rng.uniform(40, 200, 3)
    slope = rng.uniform(-0.3, 0.3, (2, 3))
    bg = base + xx[..., None] * slope[0] * 320 / w + yy[..., None] * slope[1] * 240 / h
    image = Image.fromarray(np.clip(bg, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(6, 12))):
        x0, y0 = rng.uniform(0, w * 0.8), rng.uniform(0, h * 0.8)
        x1, y1 = x0 + rng.uniform(w * 0.08, w * 0.5), y0 + rng.uniform(h * 0.08, h * 0.5)
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x0, y0, x1, y1), fill=fill)
    noisy = np.asarray(image, dtype=np.float64) + rng.normal(0, 6, (h, w, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def blurred(image: Image.Image, radius: float = 6) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(radius))


def low_contrast(image: Image.Image) -> Image.Image:
    luma = np.asarray(image.convert("RGB"), dtype=np.float64)
    squeezed = 120 + (luma - luma.mean()) * 0.2
    return Image.fromarray(np.clip(squeezed, 0, 255).astype(np.uint8), "RGB")


def darkened(image: Image.Image) -> Image.Image:
    return Image.fromarray((np.asarray(image, dtype=np.float64) * 0.12).astype(np.uint8), "RGB")


def brightened(image: Image.Image) -> Image.Image:
    pixels = 232 + np.asarray(image, dtype=np.float64) * 0.09
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
