"""Preprocessing layers that saved models name: ``kerasdl>ApplicationPreprocessing``."""

from __future__ import annotations

import importlib
from typing import Any

import keras
from keras import layers

# Every keras.applications architecture -> the module with its preprocess_input
# (keras.applications.resnet for ResNet50, ...), read from Keras itself.
APPLICATIONS = {
    name: getattr(keras.applications, name).__module__.rsplit(".", 1)[-1]
    for name in dir(keras.applications) if name[:1].isupper()
}

@keras.saving.register_keras_serializable(package="kerasdl")
class ApplicationPreprocessing(layers.Layer):
    """``keras.applications.<module>.preprocess_input`` as a layer: raw RGB
    pixels (0-255) in, what the application was trained on out."""

    def __init__(self, application: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.application = application
        self._preprocess = importlib.import_module(f"keras.applications.{APPLICATIONS[application]}").preprocess_input

    def call(self, inputs: Any) -> Any:
        return self._preprocess(inputs)

    def get_config(self) -> dict:
        return {**super().get_config(), "application": self.application}
