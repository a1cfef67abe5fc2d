"""Grad-CAM (Selvaraju et al., 2017): which parts of an image drove a
convolutional classifier's answer.

The explained layer is the last convolutional feature map of the model (or
of its nested backbone, for ``transfer``): its channels, weighted by the
mean gradient of the class's score over each channel, summed and kept
where positive, give a coarse map, resized to the image. The class's score
is its logit (the output layer's input times its kernel, plus its bias):
the probability saturates near 1 and its gradient vanishes there.
HiResCAM (``method="hirescam"``) weighs each position by its own gradient.

The map is checked the way the literature checks saliency:

- ``masking_check``: covering the 20 % of the pixels Grad-CAM ranks highest
  lowers the explained class's probability more than covering 20 % chosen
  by a random map of the same resolution (smoothed as Grad-CAM's is);
- ``randomization_check`` (Adebayo et al., 2018): a model of the same
  architecture with random weights gives different maps.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import keras
import numpy as np

from kerasdl.errors import InputError
from kerasdl.evaluation.intervals import t_interval
from kerasdl.models import test_time
from kerasdl.models.heads import TwoClassProbabilities
from kerasdl.schema import EXPLANATIONS

# Layers whose 4-D output is not a feature map to explain: they pool it
# coarser, drop it, or come before the convolutions (preprocessing).
SKIPPED = (
    keras.layers.MaxPooling2D, keras.layers.AveragePooling2D, keras.layers.Dropout, keras.layers.SpatialDropout2D,
    keras.layers.Resizing, keras.layers.Rescaling, keras.layers.ZeroPadding2D, keras.layers.Cropping2D,
)
CONVOLUTIONS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)
# How the map weighs the feature map's channels: Grad-CAM by each channel's
# mean gradient; HiResCAM (Draelos and Carin, 2020) by the gradient at each
# position, the element-wise product, which is faithful to any head, where
# Grad-CAM's mean assumes global pooling (cnn.yaml flattens its 7x7 map:
# docs/techniques.md measures both on it).
METHODS = EXPLANATIONS
# The share of the pixels masking_check covers, and the images explained at a time.
MASKED = 0.2
BATCH = 64


class Explainer:
    """Grad-CAM maps of a Keras classifier (see the module).

    Args:
        model: A functional classifier on images, ending in a ``Dense``
            output layer (every kerasdl classifier does); a test-time-flip
            model's map is the mean of its network's maps of the image and
            of its mirror image (flipped back), for the class their mean
            probabilities pick, as the model answers.
        layer: The feature map to explain: a layer name, ``backbone/name``
            for a layer of a nested model; None: the last convolutional map.
        method: ``"gradcam"`` or ``"hirescam"`` (see ``METHODS``).

    Raises:
        InputError: a model without a convolutional feature map, or a
            ``layer`` it has not.
    """

    def __init__(self, model: keras.Model, layer: Optional[str] = None, method: str = "gradcam"):
        if method not in METHODS:
            raise InputError(f"Unknown explanation method {method!r}: expected one of {', '.join(METHODS)}.")
        self.method = method
        network = test_time.unwrapped(model)
        self.flipped = network is not model
        output = network.layers[-1]
        self.sigmoid = isinstance(output, TwoClassProbabilities)
        if self.sigmoid:  # Its sigmoid unit's logit z is the evidence for class 1, -z for class 0.
            output = network.layers[-2]
        if not isinstance(output, keras.layers.Dense):
            raise InputError(f"Grad-CAM explains a classifier ending in a Dense layer; {network.name} ends in a "
                             f"{type(output).__name__}.")
        self.output_layer = output
        self.input_shape = tuple(network.inputs[0].shape[1:])
        trunk = keras.Model(network.inputs, _inputs_of(network, output), name=f"{network.name}_trunk")
        self.features, self.layer = _feature_function(trunk, layer.split("/") if layer else None)

    def scores(self, features: Any) -> Any:
        """The output layer's logits for its input ``features`` (a sigmoid
        head's: half its logit for class 1, and the negation for class 0)."""
        from keras import ops

        logits = ops.matmul(ops.cast(features, "float32"), ops.cast(self.output_layer.kernel, "float32"))
        if self.output_layer.use_bias:
            logits = logits + ops.cast(self.output_layer.bias, "float32")
        # (-z/2, z/2): their softmax is the sigmoid's [1 - p, p], each class's score the evidence for it.
        return ops.concatenate([-logits / 2, logits / 2], axis=-1) if self.sigmoid else logits

    def explain(self, images: np.ndarray, classes: Optional[Sequence[int]] = None) -> dict:
        """Grad-CAM maps of ``images`` (raw pixels, as the model takes them).

        Args:
            classes: The class to explain for each image; by default the
                one the model predicts.

        Returns:
            ``{"maps": [n, height, width] in [0, 1], "probabilities": [n,
            classes], "classes": [n]}``: a map at the image's size, 1 where
            the class's evidence is strongest.
        """
        found: dict[str, list] = {"maps": [], "probabilities": [], "classes": []}
        for start in range(0, len(images), BATCH):
            chosen = None if classes is None else np.asarray(classes[start:start + BATCH])
            maps, probabilities, explained = self._explain_batch(np.asarray(images[start:start + BATCH]), chosen)
            found["maps"].append(maps)
            found["probabilities"].append(probabilities)
            found["classes"].append(explained)
        return {key: np.concatenate(value) for key, value in found.items()}

    def _views(self, images: Any) -> list:
        """The images the model answers for: the image, and its mirror
        image for a test-time-flip model (which averages the two)."""
        import tensorflow as tf

        images = tf.convert_to_tensor(images, tf.float32)
        return [images, tf.reverse(images, axis=[2])] if self.flipped else [images]

    def _explain_batch(self, images: np.ndarray, classes: Optional[np.ndarray]) -> tuple:
        """One batch's maps (a flip model's: the mean of the image's map and
        its mirror image's, flipped back), probabilities and classes."""
        import tensorflow as tf

        with tf.GradientTape() as tape:
            outputs = [self.features(view) for view in self._views(images)]
            logits = [self.scores(features) for _, features in outputs]
            probabilities = tf.add_n([tf.nn.softmax(view, axis=-1) for view in logits]) / len(logits)
            if classes is None:
                classes = np.argmax(probabilities.numpy(), axis=-1)
            index = tf.constant(classes, tf.int32)
            chosen = tf.add_n([tf.gather(view, index, axis=1, batch_dims=1) for view in logits])
        gradients = tape.gradient(chosen, [maps for maps, _ in outputs])
        found = []
        for (maps, _), gradient in zip(outputs, gradients):
            weights = tf.cast(gradient, tf.float32)
            if self.method == "gradcam":  # A weight per channel; HiResCAM keeps each position's gradient.
                weights = tf.reduce_mean(weights, axis=(1, 2), keepdims=True)
            cams = tf.nn.relu(tf.reduce_sum(weights * tf.cast(maps, tf.float32), axis=-1))
            found.append(_upsampled(cams.numpy(), self.input_shape[:2]))
        if self.flipped:
            found = [_peaked(found[0] + np.flip(found[1], axis=2))]
        return found[0], probabilities.numpy(), np.asarray(classes)

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """The model's probabilities for ``images``, as ``explain`` reports them."""
        import tensorflow as tf

        found = []
        for start in range(0, len(images), BATCH):
            views = self._views(images[start:start + BATCH])
            found.append(sum(tf.nn.softmax(self.scores(self.features(view)[1]), axis=-1).numpy()
                             for view in views) / len(views))
        return np.concatenate(found)


def answers(result: dict, names: Sequence[str]) -> list[dict]:
    """Each explained image's class (name and index), its probability and
    the class the model predicts, from ``Explainer.explain``'s result."""
    found = []
    for classes, probabilities in zip(result["classes"], result["probabilities"]):
        explained, predicted = int(classes), int(np.argmax(probabilities))
        found.append({"class": names[explained], "index": explained,
                      "probability": float(probabilities[explained]), "predicted": names[predicted]})
    return found


def caption(answer: dict) -> str:
    """An ``answers`` entry as a figure's caption: the class and its probability."""
    text = f"{answer['class']} {answer['probability']:.1%}"
    return text if answer["predicted"] == answer["class"] else f"{text} (predicted {answer['predicted']})"


def _upsampled(cams: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """Coarse maps resized (bilinear) to the image and scaled to a maximum
    of 1 each (a map with no positive evidence stays 0)."""
    import tensorflow as tf

    return _peaked(tf.image.resize(cams[..., None], tuple(size), method="bilinear").numpy()[..., 0])


def _peaked(maps: np.ndarray) -> np.ndarray:
    """Each map scaled to a maximum of 1 (one without positive evidence stays 0)."""
    peaks = maps.max(axis=(1, 2), keepdims=True)
    return np.divide(maps, peaks, out=np.zeros_like(maps), where=peaks > 0).astype(np.float32)


def _call_in(model: keras.Model, layer: Any) -> Any:
    """The call (Keras's node) of ``layer`` in ``model``'s graph: a layer may
    be called in several graphs (a kerasdl backbone shares its layers with
    the model it was cut from), and ``layer.output`` is its first call's."""
    from keras.src.ops.function import make_node_key  # Keras 3 keys a model's own calls so; no public accessor.

    for index, node in enumerate(layer._inbound_nodes):
        if make_node_key(layer, index) in model._nodes:
            return node
    raise InputError(f"{model.name}: layer {layer.name!r} is not called in the model's graph.")


def _inputs_of(model: keras.Model, layer: Any) -> Any:
    """The tensor ``layer`` takes in ``model``'s graph."""
    (tensor,) = _call_in(model, layer).input_tensors
    return tensor


def _outputs_of(model: keras.Model, layer: Any) -> Any:
    (tensor,) = _call_in(model, layer).output_tensors
    return tensor


def _feature_function(model: keras.Model, path: Optional[list[str]]) -> tuple[Callable, str]:
    """A function from ``model``'s input to ``(feature map, model output)``
    and the map's layer path (``backbone/out_relu``): the layer ``path``
    names, else the last map larger than 1 x 1 at or after the first convolution,
    descending into a nested model that holds one."""
    layer = _named(model, path[0]) if path else _last_map(model)
    if layer is None:
        raise InputError(
            f"{model.name.removesuffix('_trunk')}: has no convolutional feature map for Grad-CAM to explain (it "
            "explains cnn and transfer models); a dense model on images has none."
        )
    if isinstance(layer, keras.Model):
        inner, name = _feature_function(layer, path[1:] if path and len(path) > 1 else None)
        before = keras.Model(model.inputs, _inputs_of(model, layer))
        after = keras.Model(_outputs_of(model, layer), model.outputs[0])

        def through(images: Any) -> tuple:
            maps, inner_outputs = inner(before(images, training=False))
            return maps, after(inner_outputs, training=False)

        return through, f"{layer.name}/{name}"
    maps = _outputs_of(model, layer)
    if len(maps.shape) != 4:
        raise InputError(f"{model.name.removesuffix('_trunk')}: layer {layer.name!r} gives outputs of shape "
                         f"{tuple(maps.shape[1:])}; Grad-CAM explains a feature map (height, width, "
                         "channels). Name a convolution's or activation's layer.")
    both = keras.Model(model.inputs, [maps, model.outputs[0]])
    return (lambda images: both(images, training=False)), layer.name


def _named(model: keras.Model, name: str) -> Any:
    try:
        return model.get_layer(name)
    except ValueError:
        names = ", ".join(layer.name for layer in model.layers)
        raise InputError(f"{model.name.removesuffix('_trunk')}: has no layer {name!r} to explain. Its layers: "
                         f"{names}") from None


def _last_map(model: keras.Model) -> Any:
    """The last layer with a feature map larger than 1 x 1 at or after the
    first convolution, or a nested model holding one; None if there is none."""
    candidates, convolved = [], False
    for layer in model.layers[1:]:
        nested = isinstance(layer, keras.Model) and _last_map(layer) is not None
        convolved = convolved or nested or isinstance(layer, CONVOLUTIONS)
        shape = _outputs_of(model, layer).shape
        spatial = len(shape) == 4 and min(shape[1:3]) > 1
        if convolved and (nested or (spatial and not isinstance(layer, SKIPPED))):
            candidates.append(layer)
    return candidates[-1] if candidates else None


def masked(images: np.ndarray, maps: np.ndarray, fill: np.ndarray, fraction: float = MASKED) -> np.ndarray:
    """``images`` with the ``fraction`` of each image's pixels its map ranks
    highest set to ``fill`` (a value per channel)."""
    flat = maps.reshape(len(maps), -1)
    count = max(1, int(round(fraction * flat.shape[1])))
    top = np.argsort(-flat, axis=1, kind="stable")[:, :count]
    cover = np.zeros_like(flat, dtype=bool)
    np.put_along_axis(cover, top, True, axis=1)
    cover = cover.reshape(maps.shape)[..., None]
    return np.where(cover, fill.reshape(1, 1, 1, -1), images).astype(np.float32)


def random_maps(count: int, coarse: Sequence[int], size: Sequence[int], seed: int) -> np.ndarray:
    """Maps drawn uniformly at Grad-CAM's coarse resolution and resized as
    its maps are: the random mask covers blobs of the same size."""
    rng = np.random.default_rng(seed)
    return _upsampled(rng.random((count, *coarse)).astype(np.float32), size)


def masking_check(explainer: Explainer, images: np.ndarray, fraction: float = MASKED, seed: int = 0) -> dict:
    """How much the explained (predicted) class's probability falls when the
    ``fraction`` of the pixels the maps rank highest are covered, against as
    many covered by a random map; covered with the images' mean pixel, and
    with 0 (black: Fashion-MNIST's background).

    Returns:
        The mean probability before; for each fill the mean drops under
        each mask, the paired t interval of their difference, and the share
        of images where the map's mask lowered it more.
    """
    images = np.asarray(images, np.float32)
    found = explainer.explain(images)
    classes, clean = found["classes"], found["probabilities"][np.arange(len(images)), found["classes"]]
    coarse = _coarse_shape(explainer, images[:1])
    noise = random_maps(len(images), coarse, images.shape[1:3], seed)
    fills = {"mean_pixel": images.mean(axis=(0, 1, 2)), "zero": np.zeros(images.shape[-1], np.float32)}
    summary: dict[str, Any] = {
        "images": int(len(images)), "fraction_masked": fraction, "explained": "the predicted class",
        "method": explainer.method, "layer": explainer.layer, "map_shape": list(coarse),
        "probability": float(clean.mean()), "fills": {},
    }
    for fill, value in fills.items():
        drops = {}
        for name, maps in (("map", found["maps"]), ("random", noise)):
            after = explainer.probabilities(masked(images, maps, value, fraction))[np.arange(len(images)), classes]
            drops[name] = clean - after
        difference = drops["map"] - drops["random"]
        summary["fills"][fill] = {
            "drop_map": float(drops["map"].mean()), "drop_random": float(drops["random"].mean()),
            "difference": float(difference.mean()), "interval_95": t_interval(difference),
            "map_larger_share": float(np.mean(difference > 0)),
        }
    return summary


def randomization_check(explainer: Explainer, randomized: Explainer, images: np.ndarray) -> dict:
    """How alike the maps of a trained model and of the same architecture
    with random weights are, explaining the trained model's predicted
    class: the mean Spearman rank correlation over ``images`` (1: the same
    ranking of the pixels; near 0: unrelated)."""
    trained = explainer.explain(images)
    random = randomized.explain(images, classes=trained["classes"])
    correlations = [_spearman(a.ravel(), b.ravel()) for a, b in zip(trained["maps"], random["maps"])]
    return {"images": int(len(images)), "mean_rank_correlation": float(np.mean(correlations)),
            "explained": "the trained model's predicted class"}


def randomized(model: keras.Model, seed: int = 0) -> keras.Model:
    """A model of ``model``'s architecture with fresh random weights (its
    initializers'), for ``randomization_check``."""
    keras.utils.set_random_seed(seed)
    return keras.models.clone_model(test_time.unwrapped(model))


def _coarse_shape(explainer: Explainer, image: np.ndarray) -> tuple:
    import tensorflow as tf

    maps, _ = explainer.features(tf.convert_to_tensor(image, tf.float32))
    return tuple(int(side) for side in maps.shape[1:3])


def _spearman(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman's rank correlation, ties (a map's zeros) at their mean rank; 0 for a constant map."""
    from scipy import stats

    if np.ptp(first) == 0 or np.ptp(second) == 0:
        return 0.0
    return float(stats.spearmanr(first, second).statistic)
