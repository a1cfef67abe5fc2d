"""kerasdl: YAML recipes in, trained, evaluated and exported Keras models out.

Importing ``kerasdl`` is cheap; TensorFlow loads only when a builder, the
data pipeline or training is used.
"""

__version__ = "0.1.0"
