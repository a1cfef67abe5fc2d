import pytest

from kerasdl.errors import RegistryError
from kerasdl.registry import BUILDERS, DATASETS, Registry


def test_builders_are_registered():
    assert {"dense", "cnn"} <= set(BUILDERS.names())


def test_unknown_builder_lists_known_ones_and_closest():
    with pytest.raises(RegistryError) as error:
        BUILDERS.get("cnnn")
    message = str(error.value)
    assert "did you mean 'cnn'" in message
    assert "dense" in message and "Received: 'cnnn'" in message


def test_unknown_dataset_lists_known_ones():
    with pytest.raises(KeyError, match="fashion_mnist"):
        DATASETS.get("fashion")


def test_duplicate_registration_is_refused():
    registry = Registry("thing", "kerasdl")
    registry.register("a")(lambda: 1)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("a")(lambda: 2)


def test_parameters_leave_out_data_arguments():
    parameters = BUILDERS.parameters("cnn")
    assert "filters" in parameters
    assert "input_shape" not in parameters and "num_classes" not in parameters
