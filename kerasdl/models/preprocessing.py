"""Preprocessing layers that saved models name: ``kerasdl>ApplicationPreprocessing``."""

from __future__ import annotations

import importlib
from typing import Any

import keras
from keras import layers

# keras.applications architectures -> the module with their preprocess_input.
APPLICATIONS = {
    "MobileNet": "mobilenet", "MobileNetV2": "mobilenet_v2", "MobileNetV3Small": "mobilenet_v3",
    "MobileNetV3Large": "mobilenet_v3", "ResNet50": "resnet", "ResNet101": "resnet", "ResNet50V2": "resnet_v2",
    "EfficientNetB0": "efficientnet", "EfficientNetB1": "efficientnet", "EfficientNetB2": "efficientnet",
    "EfficientNetV2B0": "efficientnet_v2", "DenseNet121": "densenet", "VGG16": "vgg16",
    "InceptionV3": "inception_v3", "Xception": "xception", "ConvNeXtTiny": "convnext",
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
