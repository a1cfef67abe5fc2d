"""Grad-CAM (evaluation/gradcam.py): its maps pass the literature's two
checks on a trained CNN (masking the pixels they rank highest hurts more
than masking random ones; random weights give other maps), and it finds
the feature map of every convolutional model kerasdl builds. The command
line (``kerasdl explain``) and a run's grad_cam.png are tested in
test_use.py."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kerasdl.builders.cnn import build_cnn
from kerasdl.builders.dense import build_dense
from kerasdl.builders.transfer import build_transfer
from kerasdl.errors import InputError
from kerasdl.evaluation import gradcam


def test_masking_what_gradcam_ranks_highest_hurts_more_than_masking_at_random(fashion_cnn):
    model, images, _ = fashion_cnn
    for method in gradcam.METHODS:
        found = gradcam.masking_check(gradcam.Explainer(model, method=method), images)
        assert found["images"] == 256 and found["map_shape"] == [14, 14] and found["method"] == method
        assert list(found["fills"]) == ["mean_pixel", "zero"]
        # Covered with the mean pixel (black, the images' background, leaves background evidence as it was:
        # docs/techniques.md). A map no better than random, or one that ranks the pixels backwards, fails here.
        fill = found["fills"]["mean_pixel"]
        assert fill["interval_95"][0] > 0, found
        assert fill["drop_map"] > fill["drop_random"] + 0.02, found
        assert fill["map_larger_share"] > 0.5, found


def test_random_weights_give_other_maps(fashion_cnn):
    model, images, _ = fashion_cnn
    explainer = gradcam.Explainer(model)
    same = gradcam.randomization_check(explainer, gradcam.Explainer(model), images[:64])
    other = gradcam.randomization_check(explainer, gradcam.Explainer(gradcam.randomized(model)), images[:64])
    assert same["mean_rank_correlation"] == pytest.approx(1.0)
    assert other["mean_rank_correlation"] < 0.5, other


def test_maps_explain_the_class_asked_for_at_the_images_size(fashion_cnn):
    model, images, _ = fashion_cnn
    explainer = gradcam.Explainer(model)
    found = explainer.explain(images[:6], classes=[0, 1, 2, 3, 4, 5])
    assert found["maps"].shape == (6, 28, 28)
    assert found["maps"].min() >= 0 and found["maps"].max(axis=(1, 2)) == pytest.approx(np.ones(6))
    assert list(found["classes"]) == [0, 1, 2, 3, 4, 5]
    # The logits it differentiates are the model's: their softmax is its answer.
    np.testing.assert_allclose(found["probabilities"], model.predict(images[:6], verbose=0), atol=1e-5)
    predicted = explainer.explain(images[:6])
    assert list(predicted["classes"]) == list(np.argmax(predicted["probabilities"], axis=-1))
    # Another class has another map.
    other = explainer.explain(images[:1], classes=[(int(predicted["classes"][0]) + 1) % 10])
    assert not np.allclose(other["maps"][0], predicted["maps"][0])


@pytest.mark.parametrize("build, layer", [
    (lambda: build_cnn((28, 28, 1), 10, filters=(4, 8)), "block2_act2"),
    (lambda: build_cnn((28, 28, 1), 10, filters=(4, 8), residual=True, random_flip="horizontal",
                       test_time_flip=True), "block2_out"),
    (lambda: build_cnn((28, 28, 1), 10, filters=(4, 8), augmentation=["random_erasing"]), "block2_act2"),
    (lambda: build_transfer((28, 28, 1), 3, backbone="MobileNetV2", input_size=(64, 64)), "backbone/out_relu"),
    (lambda: build_cnn((28, 28, 1), 2, filters=(4, 8), output_activation="sigmoid"), "block2_act2"),
], ids=["cnn", "residual, test-time flip", "augmented", "transfer", "sigmoid head"])
def test_it_finds_the_last_convolutional_map(build, layer):
    model = build()
    explainer = gradcam.Explainer(model)
    assert explainer.layer == layer
    images = np.random.default_rng(0).uniform(0, 255, (2, 28, 28, 1)).astype(np.float32)
    found = explainer.explain(images)
    assert found["maps"].shape == (2, 28, 28)
    # The probabilities of the class explained are the model's answer (a flip model's: both views' mean).
    np.testing.assert_allclose(found["probabilities"], model.predict(images, verbose=0), atol=1e-5)


def test_a_transfer_model_on_a_kerasdl_backbone_is_explained_inside_it(fashion_cnn, tmp_path):
    model, images, _ = fashion_cnn
    model.save(tmp_path / "base.keras")
    transfer = build_transfer((28, 28, 1), 4, backbone=str(tmp_path / "base.keras"))
    explainer = gradcam.Explainer(transfer)
    assert explainer.layer == "backbone/block2_act1"
    assert gradcam.Explainer(transfer, "backbone/block1_act1").explain(images[:2])["maps"].shape == (2, 28, 28)


@pytest.mark.parametrize("build, layer, message", [
    (lambda: build_dense((28, 28, 1), 10), None, "has no convolutional feature map"),
    (lambda: build_cnn((28, 28, 1), 10, filters=(4, 8)), "nowhere", "has no layer 'nowhere'"),
    (lambda: build_cnn((28, 28, 1), 10, filters=(4, 8)), "flatten", "Grad-CAM explains a feature map"),
], ids=["dense", "unknown layer", "not a map"])
def test_what_it_cannot_explain_is_refused(build, layer, message):
    with pytest.raises(InputError, match=message):
        gradcam.Explainer(build(), layer)


def test_masked_covers_the_share_of_pixels_its_map_ranks_highest():
    maps = np.arange(2 * 10 * 10, dtype=np.float32).reshape(2, 10, 10)
    images = np.full((2, 10, 10, 3), 200.0, np.float32)
    covered = gradcam.masked(images, maps, np.array([1.0, 2.0, 3.0]), fraction=0.2)
    changed = np.all(covered == np.array([1.0, 2.0, 3.0]), axis=-1)
    assert changed.sum(axis=(1, 2)).tolist() == [20, 20]
    assert changed[:, 8:, :].all() and not changed[:, :8, :].any()  # The 20 highest values: the last two rows.
    assert keras.ops.convert_to_numpy(gradcam.random_maps(3, (4, 4), (12, 12), seed=1)).shape == (3, 12, 12)
