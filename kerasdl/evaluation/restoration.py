"""Scores of restored images against the originals, and the upscalings a
super-resolution model must beat: PSNR and SSIM on 0-255 pixels.

PSNR is ``10 · log10(255² / MSE)`` per image, averaged over the images
(``models.restoration.psnr``); SSIM is Wang et al.'s (2004) structural
similarity with an 11-pixel Gaussian window (``tf.image.ssim``, the
paper's constants), averaged the same way. Both are the field's scores
for super-resolution: higher is better, and a restoration is judged
against bicubic upscaling of the same downscaled image.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from kerasdl.models.restoration import PIXELS, Upscale, degrade, psnr

# Images scored at a time (bounds the memory of SSIM's filters).
CHUNK = 1000
# The upscalings every restoration is scored beside (tf.image.resize's methods).
BASELINES = ("bicubic", "nearest")


def scores(reference: np.ndarray, restored: np.ndarray) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM of ``restored`` against ``reference``, both
    ``[n, h, w, c]`` pixels 0-255 (restorations clipped to that range)."""
    if reference.shape != restored.shape:
        raise ValueError(f"Restored images of shape {restored.shape[1:]} cannot be scored against originals of "
                         f"shape {reference.shape[1:]}.")
    peak, similarity = [], []
    for start in range(0, len(reference), CHUNK):
        real = tf.constant(reference[start:start + CHUNK], tf.float32)
        fake = tf.clip_by_value(tf.constant(restored[start:start + CHUNK], tf.float32), 0.0, PIXELS)
        peak.append(np.asarray(psnr(real, fake)))
        similarity.append(tf.image.ssim(real, fake, max_val=PIXELS).numpy())
    return {"psnr": float(np.mean(np.concatenate(peak))), "ssim": float(np.mean(np.concatenate(similarity)))}


def upscaled(images: np.ndarray, scale: int, method: str) -> np.ndarray:
    """Full-size images downscaled by ``scale`` (as the model's inputs are)
    and upscaled back by ``method``, clipped to 0-255."""
    upscale = Upscale(scale, method)  # The generator's own start, at bicubic.
    return np.concatenate([tf.clip_by_value(upscale(degrade(images[start:start + CHUNK], scale)), 0.0, PIXELS).numpy()
                           for start in range(0, len(images), CHUNK)])


def baselines(images: np.ndarray, scale: int) -> dict[str, dict[str, float]]:
    """The scores of each of ``BASELINES`` on ``images``."""
    return {method: scores(images, upscaled(images, scale, method)) for method in BASELINES}
