"""The names of an export on disk and the formats ``kerasdl export`` writes,
spelled here once (no TensorFlow import: the CLI reads them for its help).

``<directory>/<name>/<version>/`` holds ``saved_model.pb`` and
``variables/`` (or ``model.tflite``, or ``model.keras``), and
``assets.extra/``: the recipe, the class names and, beside a SavedModel,
the ``model.keras`` it was written from.
"""

from kerasdl.runtime import runs

SIGNATURE = "serving_default"
# Beside the SavedModel, ignored by TF Serving.
ASSETS = "assets.extra"
SAVED_MODEL = "saved_model.pb"
KERAS_FILE = runs.MODEL
TFLITE_FILE = "model.tflite"
RECIPE_FILE = runs.RECIPE
# A two-class classifier's decision threshold (chosen on validation data), in
# the run folder and beside the export: {"threshold", "positive_class", "rule"}.
DECISION_FILE = "decision_threshold.json"
# An anomaly detector's threshold on its score (chosen on normal validation
# inputs), in the run folder and beside the export: {"threshold", "rule", ...}.
ANOMALY_FILE = "anomaly_threshold.json"
# The serving signature's input of a classifier or forecaster.
INPUT_NAME = "inputs"

FORMATS = ("savedmodel", "keras", "tflite")
QUANTIZATIONS = ("dynamic", "float16", "int8")
