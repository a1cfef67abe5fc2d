"""Text classifiers: a model that reads raw strings (lstm), optionally with
its embedding started from Word2Vec vectors trained on its own training
texts (the ``pretrain`` section), scored beside the majority class and
TF-IDF + logistic regression."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

import keras
import numpy as np

from kerasdl.builders.lstm import start_embedding
from kerasdl.builders.word2vec import build_word2vec
from kerasdl.data import skipgram
from kerasdl.data.corpus import BLOCK_SIZE, SHARED_NEGATIVES, build_corpus
from kerasdl.data.streaming import as_numpy
from kerasdl.data.texts import standardize_texts
from kerasdl.data.word_vectors import WordVectors
from kerasdl.errors import BuilderArgumentError, DataError, RecipeError
from kerasdl.evaluation.baselines import text_baselines
from kerasdl.models.word2vec_trainer import Word2VecTrainer
from kerasdl.registry import BUILDERS, register_task
from kerasdl.tasks.classifier import Classifier

# The run folder's copy of the word vectors a text model's embedding started from.
PRETRAINED_VECTORS = "pretrained_vectors.txt"


@register_task("text")
class TextClassifier(Classifier):
    """Any builder that adapts a vocabulary (lstm) on labelled texts."""

    data_kinds = ("texts",)
    sections = ("pretrain",)

    def check(self) -> None:
        super().check()
        recipe = self.recipe
        if not recipe["pretrain"]["enabled"]:
            return
        if "embedding_path" not in BUILDERS.parameters(recipe["model"]["builder"]):
            raise RecipeError(
                f"{recipe.path}: pretrain.enabled: Word2Vec pretraining starts the embedding of a text "
                f"model, but this recipe trains '{recipe['model']['builder']}' on {self.data.description}. "
                "Set pretrain.enabled: false."
            )
        model = recipe.builder_arguments()  # Resolved: every argument, defaults filled.
        if model["embedding_path"]:
            raise RecipeError(
                f"{recipe.path}: pretrain.enabled: the embedding would start from pretrained vectors and "
                f"from model.embedding_path ({model['embedding_path']}). Keep one: set pretrain.enabled: false "
                "or model.embedding_path: null."
            )

    def before_build(self, pretrain: bool) -> None:
        """Trains the word vectors when ``pretrain.enabled`` (kept in
        ``pretrained``, a ``WordVectors``)."""
        recipe = self.recipe
        self.pretrained: Optional[WordVectors] = None
        if pretrain and recipe["pretrain"]["enabled"]:
            model = recipe.builder_arguments()
            self.pretrained = pretrain_vectors(
                self.training_texts(), standardize=model["standardize"], embedding_dim=model["embedding_dim"],
                settings=recipe["pretrain"], seed=recipe["training"]["seed"], log=self.log,
            )

    def build(self) -> keras.Model:
        model = super().build()
        if self.pretrained is not None:
            try:
                start_embedding(model, self.pretrained)
            except BuilderArgumentError as error:
                raise RecipeError(f"{self.recipe.path}: pretrain: {error}") from None
        return model

    def train(self, folder: Path, verbose: Any = "auto") -> None:
        if self.pretrained is not None:
            self.pretrained.write_word2vec(folder / PRETRAINED_VECTORS)
        super().train(folder, verbose)

    def baselines(self) -> dict:
        return text_baselines(self.data, self.training_texts(), self.fit_labels, log=self.log)

    def training_texts(self) -> np.ndarray:
        """The training texts whole, in the order of ``fit_labels``: Word2Vec
        pretraining and the TF-IDF baseline read them all. Streamed texts
        are read here (their ``fit_inputs`` stream every training text, in
        order, for the vocabulary)."""
        if not self.data.streamed:
            return self.fit_inputs
        return np.concatenate([as_numpy(batch) for batch in self.fit_inputs])

    def report(self, folder: Path) -> dict:
        written = self.pretrained is not None and self.placement.is_chief
        return {"pretrained_vectors": str(folder / PRETRAINED_VECTORS) if written else None}


def pretrain_vectors(
    texts: Any, *, standardize: Optional[str], embedding_dim: int, settings: dict, seed: int,
    log: Callable[[str], None] = print,
) -> WordVectors:
    """Word vectors for a text model's embedding, trained on its training texts.

    The texts are split into words as the model's ``TextVectorization``
    splits them, so the vectors' words are the model's tokens.

    Args:
        texts: The training texts (never the test split).
        standardize: The text model's ``standardize`` setting.
        embedding_dim: Length of the vectors (the model's embedding_dim).
        settings: The recipe's ``pretrain`` section.
        seed: Seeds the initial vectors and the sampling.

    Raises:
        RecipeError: naming ``pretrain.<key>`` for settings the corpus
            cannot take (too few words, a batch size that is not a
            multiple of 16, ...).
    """
    try:
        corpus = build_corpus(
            standardize_texts(texts, standardize), "the training texts", min_count=settings["min_count"],
            max_vocabulary_size=None, window=settings["window"], sample=settings["sample"],
            block_size=max(BLOCK_SIZE, 2 * settings["window"]), shared_negatives=SHARED_NEGATIVES,
            lowercase=False, split=str.split,
        )
        skipgram.check_layout(corpus.window, settings["batch_size"], corpus.block_size)
    except (DataError, ValueError) as error:
        message = str(error).replace("data.", "pretrain.")
        raise RecipeError(f"pretrain: {message}") from None
    keras.utils.set_random_seed(seed)
    model = build_word2vec(len(corpus.vocabulary), embedding_dim, settings["num_negative_samples"])
    trainer = Word2VecTrainer(model, corpus, settings["batch_size"], optimizer="adagrad",
                              learning_rate=settings["learning_rate"])
    rng = np.random.default_rng(seed)
    seconds = sum(trainer.train_epoch(rng)["seconds"] for _ in range(settings["epochs"]))
    log(f"Pretrained word vectors: {len(corpus.vocabulary):,} words from {corpus.tokens:,} tokens of "
        f"training text, {settings['epochs']} epochs in {seconds:.1f} s.")
    return WordVectors(corpus.vocabulary.words, keras.ops.convert_to_numpy(trainer.target))
