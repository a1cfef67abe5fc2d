"""Export: atomic, versioned, verified SavedModels with a documented signature."""

import numpy as np
import pytest
import tensorflow as tf

from kerasdl.artifacts import savedmodel as export
from kerasdl.builders import build_dense
from kerasdl.errors import ExportError


@pytest.fixture
def model():
    return build_dense((4, 4, 1), 3, units=[8])


def _sample():
    return np.random.default_rng(0).uniform(0, 255, (5, 4, 4, 1)).astype("float32")


def test_signature_and_versions(model, tmp_path):
    first, difference = export.export_savedmodel(model, str(tmp_path), "m", _sample(), {"class_names.txt": "a\nb\nc\n"})
    second, _ = export.export_savedmodel(model, str(tmp_path), "m", _sample(), {"class_names.txt": "a\nb\nc\n"})
    assert (first.name, second.name) == ("1", "2")
    assert difference <= 1e-4
    signature = tf.saved_model.load(str(first)).signatures["serving_default"]
    (spec,) = signature.structured_input_signature[1].values()
    assert spec.name == "inputs" and spec.dtype == tf.float32 and spec.shape.as_list() == [None, 4, 4, 1]
    assert list(signature.structured_outputs) == ["probabilities"]
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["1", "2"]


def test_failed_verification_leaves_nothing_behind(model, tmp_path, monkeypatch):
    def broken(path, model, sample, output_name="probabilities", precision="float32"):
        raise ExportError("mismatch")

    monkeypatch.setattr(export, "verify", broken)
    with pytest.raises(ExportError):
        export.export_savedmodel(model, str(tmp_path), "m", _sample(), {"class_names.txt": "a\nb\nc\n"})
    assert list((tmp_path / "m").iterdir()) == []


def test_verify_detects_a_different_model(model, tmp_path):
    path, _ = export.export_savedmodel(model, str(tmp_path), "m", _sample(), {"class_names.txt": "a\nb\nc\n"},
                                       check=False)
    other = build_dense((4, 4, 1), 3, units=[8])  # Fresh random weights.
    with pytest.raises(ExportError, match="does not reproduce"):
        export.verify(path, other, _sample())
