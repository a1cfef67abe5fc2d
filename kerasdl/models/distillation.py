"""Knowledge distillation (``training.distillation``; Hinton, Vinyals and
Dean, 2015): a student classifier trained on a teacher's softened answers
as well as on the labels.

The training loss is ``w * hard + (1 - w) * T² * KL(teacher_T || student_T)``:
``hard`` is the recipe's loss on the labels (``w``: ``hard_label_weight``),
and ``teacher_T`` and ``student_T`` are both models' probabilities
softened by the temperature ``T``, ``softmax(log p / T)`` (the same as
dividing the logits by ``T``: a softmax forgets a constant added to every
logit). ``T²`` keeps the soft term's gradients the size of the hard
one's whatever the temperature. The teacher answers each training batch
as the data gives it, in the compiled step: augmentation layers inside
the student (``random_flip``) act after, so the two may see an image and
its mirror (a teacher with ``test_time_flip``, as cnn_best's, answers both
alike). Validation and test scores are the recipe's loss and metrics
alone.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


def soften(probabilities: Any, temperature: float) -> Any:
    """Probabilities at ``temperature``: ``softmax(log p / T)``."""
    logits = ops.log(ops.clip(ops.cast(probabilities, "float32"), 1e-7, 1.0))
    return ops.softmax(logits / temperature, axis=-1)


def distil(model: keras.Model, teacher: keras.Model, temperature: float, hard_label_weight: float) -> None:
    """Makes ``model`` (compiled) learn from ``teacher`` as it trains: its
    ``compute_loss`` gains the soft term when ``training`` (see the module).
    Set again after each ``compile``."""
    own = model.compute_loss
    divergence = keras.losses.KLDivergence()  # Reduced (and scaled across replicas) as Keras's losses are.
    teacher.trainable = False

    def compute_loss(x: Any = None, y: Any = None, y_pred: Any = None, sample_weight: Any = None,
                     training: bool = True) -> Any:
        hard = own(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)
        if not training:
            return hard
        taught = soften(teacher(x, training=False), temperature)
        soft = divergence(taught, soften(y_pred, temperature), sample_weight) * temperature**2
        return hard_label_weight * hard + (1.0 - hard_label_weight) * ops.cast(soft, hard.dtype)

    model.compute_loss = compute_loss
