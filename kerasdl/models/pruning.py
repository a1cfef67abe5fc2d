"""Magnitude pruning in Keras 3 (``training.pruning``; TensorFlow Model
Optimization's pruning does not run on Keras 3).

Every kernel of a dense or convolutional layer gets a mask, a variable of
zeros and ones. While training, at every ``frequency`` steps from
``begin_epoch`` to ``end_epoch``, the mask is set to keep the kernel's
largest weights by magnitude, at the sparsity the schedule gives that
step: Zhu and Gupta's (2017) cubic ramp from 0 to the final ``sparsity``,
which prunes fast while the network has many redundant weights and slowly
towards the end. The mask is the kernel's constraint, which Keras's
optimizer applies after every update inside the training step: a pruned
weight stays exactly zero, whatever the optimizer's momentum wants. After
``end_epoch`` the network trains on at the final sparsity; the saved and
exported weights hold the zeros (the layers' configs are unchanged: the
masks are not saved).
"""

from __future__ import annotations

import math
from typing import Any, Optional

import keras
import numpy as np

# The layers whose kernel is pruned (biases, normalization and embeddings are left whole).
PRUNABLE = (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D,
            keras.layers.Conv2DTranspose, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)


def kernels(model: keras.Model) -> list[Any]:
    """The prunable kernels of ``model``, nested models included."""
    found = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, PRUNABLE) and layer.built:
            found += [getattr(layer, name) for name in ("kernel", "depthwise_kernel", "pointwise_kernel")
                      if getattr(layer, name, None) is not None]
    return found


def sparsity(model: keras.Model) -> float:
    """The share of the prunable kernels' weights that are exactly zero."""
    weights = [keras.ops.convert_to_numpy(kernel) for kernel in kernels(model)]
    total = sum(weight.size for weight in weights)
    return float(sum(int(np.sum(weight == 0)) for weight in weights) / max(total, 1))


class Masked(keras.constraints.Constraint):
    """A kernel times its mask, after the kernel's own constraint (if any)."""

    def __init__(self, mask: Any, inner: Optional[Any] = None):
        self.mask, self.inner = mask, inner

    def __call__(self, weights: Any) -> Any:
        weights = self.inner(weights) if self.inner is not None else weights
        return weights * keras.ops.cast(self.mask, weights.dtype)


def magnitude_mask(weights: np.ndarray, share: float) -> np.ndarray:
    """Ones for the kernel's largest weights by magnitude, zeros for the
    smallest ``share`` of them (exactly ``round(share * size)``)."""
    flat = np.abs(np.asarray(weights, np.float32)).ravel()
    mask = np.ones(flat.size, np.float32)
    count = int(round(share * flat.size))
    if count:
        mask[np.argpartition(flat, count - 1)[:count]] = 0.0
    return mask.reshape(np.shape(weights))


def schedule(step: int, final: float, begin: int, end: int) -> float:
    """Zhu and Gupta's sparsity at ``step``: 0 before ``begin``, ``final``
    from ``end`` on, and ``final * (1 - (1 - progress) ** 3)`` between."""
    if step < begin:
        return 0.0
    if step >= end or end <= begin:
        return final
    return final * (1.0 - (1.0 - (step - begin) / (end - begin)) ** 3)


class Pruner(keras.callbacks.Callback):
    """Sets the masks on the schedule (``training.pruning``, resolved).

    Args:
        spec: ``sparsity``, ``begin_epoch``, ``end_epoch`` (None: two
            thirds into the run) and ``frequency`` (steps between masks).
        steps_per_epoch, epochs: The run's, for the schedule's steps.
    """

    def __init__(self, spec: dict, steps_per_epoch: int, epochs: int):
        super().__init__()
        self.final = float(spec["sparsity"])
        end_epoch = spec["end_epoch"] if spec["end_epoch"] is not None else math.ceil(2 * epochs / 3)
        self.begin, self.end = spec["begin_epoch"] * steps_per_epoch, end_epoch * steps_per_epoch
        self.frequency = spec["frequency"]
        self.masks: list[tuple[Any, Any]] = []
        self.next_step = -1
        self.settled = False

    def on_train_begin(self, logs: Optional[dict] = None) -> None:
        """Gives every kernel its mask (once per model), before the training
        step is traced: the optimizer applies a constraint it finds then."""
        if not self.masks:
            for kernel in kernels(self.model):
                mask = keras.Variable(np.ones(kernel.shape, np.float32), trainable=False, name="pruning_mask")
                kernel.constraint = Masked(mask, kernel.constraint)
                self.masks.append((kernel, mask))
        self.next_step = -1  # The first batch sets the masks.

    def on_train_batch_begin(self, batch: int, logs: Optional[dict] = None) -> None:
        """The masks at the step's sparsity, the first batch of a ``fit``
        included: by then a resumed run's checkpoint is restored (in the
        callbacks' ``on_train_begin``), so its zeros are the smallest
        weights and stay zeros."""
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        if self.next_step < 0 or (not self.settled and (step >= self.next_step or step >= self.end)):
            self._prune(step)

    def _prune(self, step: int) -> None:
        share = schedule(step, self.final, self.begin, self.end)
        for kernel, mask in self.masks:
            weights = keras.ops.convert_to_numpy(kernel)
            mask.assign(magnitude_mask(weights, share))
            kernel.assign(weights * keras.ops.convert_to_numpy(mask))
        self.next_step = step + self.frequency
        self.settled = share >= self.final  # From here on the masks stay as they are.

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        if logs is not None:
            logs["sparsity"] = sparsity(self.model)
