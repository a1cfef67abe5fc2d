"""What a run shows in TensorBoard beyond Keras's loss and metric curves,
written with TensorBoard's own summaries and plugins, so that
``tensorboard --logdir runs`` (or ``tuning``) shows it with nothing else to
install or upload:

- images: a classifier's confusion matrix, a GAN's sample grid per epoch;
- the test scores beside the baselines' (one TensorBoard run each, the same
  tags, so they share a chart), and a classifier's per-class accuracy;
- word vectors for the Embedding Projector (its own ``projector_config.pbtxt``);
- a search's trials for the HParams dashboard.

Keras's ``TensorBoard`` callback writes ``<run>/logs/train`` and
``<run>/logs/validation``; these go beside them (``EVALUATION``, ``SAMPLES``,
``PROJECTOR``, ``baseline_<name>``).
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import keras
import numpy as np

# Sub-folders of a run's logs/ (each is one "run" in TensorBoard's list).
EVALUATION = "evaluation"
SAMPLES = "samples"
PROJECTOR = "projector"
BASELINE = "baseline_"

# The HParams dashboard's metric: a trial's objective as Keras Tuner scored it
# (the best epoch's), apart from the objective's per-epoch curve.
SCORE = "trial_score"

# The Embedding Projector draws at most this many words (the most frequent):
# more make its page slow, and PCA and t-SNE sample anyway.
PROJECTOR_WORDS = 20_000


class EpochCurves(keras.callbacks.TensorBoard):
    """Keras's ``TensorBoard`` callback (``train`` and ``validation``
    curves per epoch, the model graph) without its per-batch cost.

    Keras 3.15 calls ``tf.summary.scalar`` for every metric after every
    batch even when ``update_freq`` is ``"epoch"``, where no writer is open
    and nothing is written: 0.42 ms a call, 7% of the CNN recipe's
    training time (``bench/run.py`` against a plain ``fit``, which has no
    callback). Per-epoch curves are all a run writes, so the batch hook
    writes nothing but the graph (Keras writes it after the first batch).
    """

    def __init__(self, log_dir: str):
        super().__init__(log_dir, update_freq="epoch")

    def on_train_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        if self._should_write_train_graph:
            self._write_keras_model_train_graph()
            self._should_write_train_graph = False


@contextlib.contextmanager
def writer(folder: Path) -> Iterator[Any]:
    """A summary writer on ``folder``, its default inside the block, flushed
    and closed after it."""
    import tensorflow as tf

    folder.mkdir(parents=True, exist_ok=True)
    summary_writer = tf.summary.create_file_writer(str(folder))
    try:
        with summary_writer.as_default():
            yield summary_writer
    finally:
        summary_writer.flush()
        summary_writer.close()


class Images:
    """Images written to one TensorBoard folder over a run (a GAN's grid
    every epoch) through one writer: one events file, not one per image."""

    def __init__(self, folder: Path):
        self.folder, self._writer = folder, None

    def add(self, tag: str, picture: Any, step: int, description: Optional[str] = None) -> None:
        """One ``uint8 [h, w, c]`` image (or PNG bytes) under ``tag`` at ``step``, flushed."""
        import tensorflow as tf

        if isinstance(picture, (bytes, bytearray)):
            picture = tf.io.decode_png(bytes(picture)).numpy()
        if self._writer is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._writer = tf.summary.create_file_writer(str(self.folder))
        with self._writer.as_default():
            tf.summary.image(tag, picture[None], step=step, description=description)
        self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def image(folder: Path, tag: str, picture: Any, step: int, description: Optional[str] = None) -> None:
    """One ``uint8 [h, w, c]`` image (or PNG bytes) under ``tag`` at ``step``."""
    images = Images(folder)
    try:
        images.add(tag, picture, step, description)
    finally:
        images.close()


def scores(folder: Path, values: dict, step: int, prefix: str = "test/") -> None:
    """Numbers as scalars ``<prefix><key>`` at ``step`` (others are skipped)."""
    import tensorflow as tf

    with writer(folder):
        for key, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value):
                tf.summary.scalar(f"{prefix}{key}", float(value), step=step)


def text(folder: Path, tag: str, markdown: str, step: int) -> None:
    """A Markdown text (a table renders as a table) under ``tag``."""
    import tensorflow as tf

    with writer(folder):
        tf.summary.text(tag, markdown, step=step)


def test_and_baselines(logs: Path, test: dict, baselines: dict, step: int) -> None:
    """The model's test scores in ``logs/evaluation`` and each baseline's in
    ``logs/baseline_<name>``, under the same ``test/<key>`` tags: the
    Scalars dashboard draws them in one chart per score."""
    scores(logs / EVALUATION, test, step)
    for name, baseline in baselines.items():
        scores(logs / f"{BASELINE}{name}", baseline, step)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (what TensorBoard's Text dashboard renders)."""
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(f"{cell:.4f}" if isinstance(cell, float) else str(cell) for cell in row) + " |"
              for row in rows]
    return "\n".join(lines)


def projector(logs: Path, words: Sequence[str], vectors: np.ndarray, losses: Sequence[float] = ()) -> Path:
    """Word vectors for TensorBoard's Embedding Projector, offline: a
    checkpoint of the ``PROJECTOR_WORDS`` first (most frequent) vectors,
    their words as metadata, and the plugin's ``projector_config.pbtxt``, in
    ``logs/projector/`` (with the training loss per epoch as scalars: the
    dashboard lists only folders that hold events). Returns the folder."""
    import tensorflow as tf
    from tensorboard.plugins import projector as plugin

    folder = logs / PROJECTOR
    if folder.exists():
        shutil.rmtree(folder)  # A rerun of the stage writes it whole again.
    folder.mkdir(parents=True)
    count = min(len(words), PROJECTOR_WORDS)
    (folder / "metadata.tsv").write_text("".join(f"{_tsv_cell(word)}\n" for word in words[:count]), encoding="utf-8")
    checkpoint = tf.train.Checkpoint(embedding=tf.Variable(np.asarray(vectors[:count], np.float32)))
    checkpoint.save(str(folder / "embedding.ckpt"))
    config = plugin.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = "embedding/.ATTRIBUTES/VARIABLE_VALUE"
    embedding.metadata_path = "metadata.tsv"
    plugin.visualize_embeddings(str(folder), config)
    with writer(folder):
        for epoch, loss in enumerate(losses):
            tf.summary.scalar("word2vec/loss", float(loss), step=epoch)
        tf.summary.text("word2vec/projector", f"{count:,} word vectors of {len(words):,}: open the Projector "
                        "dashboard (the most frequent words; the whole set is vectors.txt in the run folder).", step=0)
    return folder


def hparams(logs: Path, space: dict[str, list], metric: str, trials: Sequence[dict]) -> None:
    """A search for the HParams dashboard, written whole into ``logs`` (any
    earlier copy replaced): the searched keys as hyperparameters (their
    values as numbers, booleans or labels), the trial's score on ``metric``
    as its metric (``SCORE``), and one TensorBoard run per trial,
    ``trial_<id>``, with its values, its score and, per epoch, what its
    history recorded.

    Args:
        space: Each searched key and every value a trial took.
        trials: ``{"trial", "status", "values", "score", "history"}`` per
            trial; ``history`` maps a logged name to its value per epoch.
    """
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    if logs.exists():
        shutil.rmtree(logs)
    domains = {key: hp.HParam(key, _domain(values)) for key, values in space.items()}
    with writer(logs):
        hp.hparams_config(hparams=list(domains.values()),
                          metrics=[hp.Metric(SCORE, display_name=f"{metric} (the trial's score)")])
    for trial in trials:
        with writer(logs / f"trial_{trial['trial']}"):
            values = {domains[key]: hp_value(value) for key, value in trial["values"].items() if key in domains}
            hp.hparams(values, trial_id=str(trial["trial"]))
            history = trial.get("history") or {}
            for name, series in history.items():
                for epoch, value in enumerate(series):
                    tf.summary.scalar(name, float(value), step=epoch)
            if trial.get("score") is not None:
                tf.summary.scalar(SCORE, float(trial["score"]), step=0)


def hp_value(value: Any) -> Any:
    """A trial's value as HParams takes it: numbers, booleans and strings as
    they are, anything else (a list of units) as its text."""
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _domain(values: list) -> Any:
    from tensorboard.plugins.hparams import api as hp

    taken = [hp_value(value) for value in values if value is not None]
    if taken and all(isinstance(value, bool) for value in taken):
        return hp.Discrete([False, True])
    if taken and all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in taken):
        low, high = float(min(taken)), float(max(taken))
        return hp.RealInterval(low, high) if high > low else hp.Discrete([low])
    return hp.Discrete(sorted({str(value) for value in taken}))


def _tsv_cell(word: str) -> str:
    return word.replace("\t", " ").replace("\n", " ") or " "
