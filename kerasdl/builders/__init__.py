"""Model builders, the public API: each returns an uncompiled functional model.

>>> from kerasdl.builders import build_cnn
>>> model = build_cnn((28, 28, 1), num_classes=10)
"""

from kerasdl.builders.autoencoder import build_autoencoder
from kerasdl.builders.cnn import build_cnn
from kerasdl.builders.dense import build_dense
from kerasdl.builders.gan import GAN, build_discriminator, build_gan, build_generator
from kerasdl.builders.lstm import build_lstm
from kerasdl.builders.resnet import build_resnet
from kerasdl.builders.super_resolution import build_super_resolution, build_super_resolution_generator
from kerasdl.builders.transfer import build_transfer
from kerasdl.builders.word2vec import build_word2vec

__all__ = [
    "GAN", "build_autoencoder", "build_cnn", "build_dense", "build_discriminator", "build_gan", "build_generator",
    "build_lstm", "build_resnet", "build_super_resolution", "build_super_resolution_generator", "build_transfer",
    "build_word2vec",
]
