"""The Word2Vec task: trains word vectors with the sparse skip-gram or CBOW
step (``kerasdl/models/word2vec_trainer.py``) in a loop of its own, scores them on
analogies and word similarity, and exports a SavedModel that looks words up.

The run folder gets history.csv, metrics.json and the vectors in word2vec
text format (vectors.txt) and as vectors.tsv + metadata.tsv for the
TensorBoard Embedding Projector.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional

import keras
import numpy as np

from kerasdl.artifacts.word_vectors import export_word_vectors
from kerasdl.data import skipgram
from kerasdl.data.corpus import Corpus
from kerasdl.data.word_vectors import WordVectors, evaluate, report
from kerasdl.errors import RecipeError, TrainingError
from kerasdl.models.word2vec_trainer import OPTIMIZERS, Word2VecTrainer
from kerasdl.recipe.resolve import Recipe
from kerasdl.registry import register_task
from kerasdl.runtime import atomic, devices, runs, summaries
from kerasdl.runtime.optimizers import build_schedule
from kerasdl.tasks.building import build_model
from kerasdl.tasks.task import Task

PROBE_WORDS = ("government", "money", "city", "war", "music", "monday", "france", "good")
VECTORS = "vectors.txt"
# The scores that stand for the test split.
TEST_SCORES = ("analogy_accuracy", "wordsim353_spearman", "simlex999_spearman")


@register_task("word2vec")
class WordVectorsTask(Task):
    """The ``word2vec`` builder on a text corpus."""

    builders = ("word2vec",)
    data_kinds = ("corpus",)
    # Epochs take seconds: a word2vec run starts afresh, it does not resume.
    resumable = False
    prunes = False  # Its own step (two optimizers; a sparse loop).
    not_tunable = ("it trains with its own sparse loop, which `kerasdl tune` does not drive yet: it "
                   "searches the models trained with fit (dense, cnn, lstm). Compare word2vec settings with "
                   "`kerasdl run --set ...`.")

    def check(self) -> None:
        super().check()
        for key in ("early_stopping", "reduce_on_plateau"):
            if self.recipe["training"][key]:
                raise RecipeError(
                    f"{self.recipe.path}: training.{key}: word2vec trains with its own sparse loop, which has no "
                    "validation loss to watch; its learning rate decays linearly (gensim's rule). Set "
                    f"training.{key}: false."
                )

    def prepare(self, pretrain: bool = True) -> None:
        """Builds the model and the trainer; checks the optimizer and the
        batch layout against the corpus."""
        recipe, corpus = self.recipe, self.data
        keras.utils.set_random_seed(recipe["training"]["seed"])
        with self.placement.strategy.scope():
            self.model = build_model(recipe, corpus)
        self.trainer = trainer_for(recipe, self.model, corpus, self.placement)
        self.batch_size = self.trainer.batch_size
        self.train_examples = int(skipgram.expected_centers(corpus.vocabulary, corpus.sample))
        self.steps_per_epoch = corpus.steps_per_epoch(self.trainer.batch_size)

    def train(self, folder: Path, verbose: Any = "auto") -> None:
        corpus, training = self.data, self.recipe["training"]
        self.log(f"Corpus: {corpus.source}: {len(corpus.documents)} documents, {corpus.tokens:,} tokens, "
                 f"{len(corpus.vocabulary):,} words in the vocabulary.")
        rng = np.random.default_rng(training["seed"])
        compiled = self.trainer.compile_step()
        if compiled is not None:
            self.log(f"Compiled the training step in {compiled:.1f} s.")
        self.history: list[dict] = []
        examples = "centres" if self.trainer.architecture == "cbow" else "pairs"
        for epoch in range(training["epochs"]):
            result = self.trainer.train_epoch(rng)
            if not math.isfinite(result["loss"]):
                raise TrainingError(
                    f"{self.recipe.path}: the training loss became {result['loss']} in epoch {epoch + 1}: the "
                    "vectors diverged. Lower optimizer.learning_rate (now "
                    f"{self.recipe['optimizer']['learning_rate']})."
                )
            result["words_per_second"] = corpus.tokens / result["seconds"]
            self.history.append({"epoch": epoch, **result})
            atomic.write_text(folder / runs.HISTORY, _history_csv(self.history))
            if verbose:
                self.log(f"Epoch {epoch + 1}/{training['epochs']}: loss {result['loss']:.4f}, "
                         f"{result['pairs']:,} {examples}, {result['words_per_second']:,.0f} words/s")
        self.vectors = WordVectors(corpus.vocabulary.words, keras.ops.convert_to_numpy(self.trainer.target))

    def samples_per_second(self, folder: Path) -> Optional[float]:
        """Corpus tokens per second of training (gensim's words/s)."""
        seconds = sum(entry["seconds"] for entry in self.history)
        return self.data.tokens * len(self.history) / seconds if seconds else None

    def evaluate(self, folder: Path) -> dict:
        """Analogies, WordSim353 and SimLex-999 stand for the test split."""
        self.evaluation = evaluate(self.vectors)
        self.neighbours = {word: self.vectors.neighbours(word, 8) for word in PROBE_WORDS if word in self.vectors.index}
        for line in report(self.evaluation, self.neighbours):
            self.log(line)
        return {"test": {key: self.evaluation[key] for key in TEST_SCORES}, "baselines": {}}

    def save(self, folder: Path) -> None:
        """vectors.txt, the projector's TSV files, and the vectors in
        TensorBoard's Embedding Projector (``logs/projector``)."""
        self.vectors.write_word2vec(folder / VECTORS)
        self.vectors.write_projector(folder)
        summaries.projector(folder / runs.LOGS, self.vectors.words, self.vectors.vectors,
                            runs.read_history(folder).get("loss", []))

    def export(self, folder: Path) -> tuple[Path, Optional[float]]:
        recipe = self.recipe
        return export_word_vectors(
            self.vectors, recipe["export"]["directory"], recipe.name, lowercase=self.data.lowercase,
            check=recipe["export"]["verify"], origin=folder,
        )

    def report(self, folder: Path) -> dict:
        chief = self.placement.is_chief
        return {
            "evaluation": self.evaluation,
            "neighbours": {word: [item[0] for item in items] for word, items in self.neighbours.items()},
            "loss": [entry["loss"] for entry in self.history],
            "vocabulary_size": len(self.data.vocabulary),
            "vectors": str(folder / VECTORS) if chief else None,
        }


def trainer_for(
    recipe: Recipe, model: keras.Model, corpus: Corpus, placement: Optional[devices.Placement] = None,
) -> Word2VecTrainer:
    """The trainer a recipe's ``optimizer`` and ``training`` sections describe
    (``jit_compile: auto`` is on: XLA fuses the step's gathers and einsums).

    Raises:
        RecipeError: naming the key, for an optimizer or option the sparse
            step does not have.
    """
    section, training = dict(recipe["optimizer"]), recipe["training"]
    name, rate = section.pop("name"), section.pop("learning_rate")
    if name not in OPTIMIZERS:
        raise RecipeError(
            f"{recipe.path}: optimizer.name: word2vec trains with sparse row updates, which "
            f"kerasdl has for {' and '.join(OPTIMIZERS)}. Received: {name!r}"
        )
    if section:
        key = sorted(section)[0]
        raise RecipeError(f"{recipe.path}: optimizer.{key}: not used by word2vec's sparse {name}; remove it.")
    if training["precision"] != "float32":
        raise RecipeError(
            f"{recipe.path}: training.precision: word2vec's sparse step computes in float32 (its cost is "
            f"gathers and scatters, not matrix products); remove the key. Received: {training['precision']!r}"
        )
    strategy = placement.strategy if placement is not None else None
    batch_size = training["batch_size"]
    if placement is not None:
        batch_size = placement.global_batch_size(batch_size, training["batch_scope"])
    if isinstance(rate, dict):
        rate = build_schedule(rate, corpus.steps_per_epoch(batch_size), training["epochs"])
    try:
        return Word2VecTrainer(
            model, corpus, batch_size, optimizer=name, learning_rate=rate,
            jit_compile=training["jit_compile"] is not False, strategy=strategy,
            steps_per_execution=training["steps_per_execution"],
        )
    except ValueError as error:
        raise RecipeError(f"{recipe.path}: training.batch_size: {error}") from None


def _history_csv(history: list[dict]) -> str:
    columns = ["epoch", "loss", "pairs", "seconds", "words_per_second"]
    lines = [",".join(columns)] + [",".join(str(entry[key]) for key in columns) for entry in history]
    return "\n".join(lines) + "\n"
