"""Image grids: tiles of uint8 images, written as PNG (a GAN's samples,
a super-resolution model's restorations beside their originals)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

GRID_COLUMNS = 10
GRID_SCALE = 2  # 28-pixel garments are small on a screen.


def grid(images: np.ndarray, columns: int = GRID_COLUMNS, scale: int = GRID_SCALE, border: int = 2) -> np.ndarray:
    """Tiles uint8 images ``[n, h, w, c]`` into one image, rows of ``columns``."""
    count, height, width, channels = images.shape
    rows = -(-count // columns)
    canvas = np.full(
        (rows * (height + border) + border, columns * (width + border) + border, channels), 255, np.uint8
    )
    for index, image in enumerate(images):
        top = border + (index // columns) * (height + border)
        left = border + (index % columns) * (width + border)
        canvas[top:top + height, left:left + width] = image
    return canvas.repeat(scale, axis=0).repeat(scale, axis=1)


def write_png(path: Path, image: np.ndarray) -> None:
    """Writes a uint8 ``[h, w, c]`` image as PNG, whole or not at all."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(tf.io.encode_png(image).numpy())
    temporary.replace(path)
