"""Word2Vec: the builder, the sparse step against Keras autodiff, corpora,
evaluation, export, and `kerasdl run` end to end on a small real corpus."""

import json
import re
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from conftest import ROOT, run_cli_here, tensorboard_summaries

from kerasdl.builders import build_word2vec
from kerasdl.cli import main
from kerasdl.data import corpus
from kerasdl.data import word_vectors as wordvectors
from kerasdl.errors import BuilderArgumentError, DataError
from kerasdl.models.skipgram import block_examples
from kerasdl.models.word2vec_trainer import Word2VecTrainer
from kerasdl.tasks.loop import METRICS_KEYS

RECIPE = str(ROOT / "recipes" / "word2vec.yaml")
LEE = wordvectors.benchmark_file("lee_background.cor")  # 300 real news texts, 58k tokens.
SMALL = [
    "data.dataset=text", f"data.path={LEE}", "data.min_count=2", "data.block_size=8", "data.window=3",
    "data.shared_negatives=8", "training.batch_size=512", "training.epochs=3", "model.embedding_dim=16",
]


def _corpus(texts, **options):
    settings = dict(min_count=1, max_vocabulary_size=None, window=2, sample=0, block_size=4,
                    shared_negatives=3, lowercase=True)
    settings.update(options)
    return corpus.build_corpus(texts, "test", **settings)


def test_the_builder_scores_a_context_and_its_negatives_with_dot_products():
    model = build_word2vec(vocabulary_size=20, embedding_dim=4, num_negative_samples=3)
    assert model.output_shape == (None, 4)
    target = model.get_layer("target_embedding").embeddings.numpy()
    context = np.random.default_rng(0).normal(size=(20, 4)).astype("float32")
    model.get_layer("context_embedding").embeddings.assign(context)
    logits = model({"target": np.array([1]), "context": np.array([2]), "negatives": np.array([[3, 4, 5]])})
    expected = context[[2, 3, 4, 5]] @ target[1]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(logits)[0], expected, rtol=1e-5)
    with pytest.raises(BuilderArgumentError, match="embedding_dim"):
        build_word2vec(vocabulary_size=20, embedding_dim=0)


def test_the_cbow_builder_scores_the_mean_of_the_context_words(tmp_path):
    model = build_word2vec(vocabulary_size=20, embedding_dim=4, num_negative_samples=2, architecture="cbow")
    assert model.output_shape == (None, 3)
    inputs = model.get_layer("target_embedding").embeddings.numpy()
    outputs = np.random.default_rng(0).normal(size=(20, 4)).astype("float32")
    model.get_layer("context_embedding").embeddings.assign(outputs)
    batch = {"target": np.array([1]), "context": np.array([[2, 3, 9, 0]]),
             "context_mask": np.array([[1.0, 1.0, 1.0, 0.0]], "float32"), "negatives": np.array([[4, 5]])}
    expected = outputs[[1, 4, 5]] @ inputs[[2, 3, 9]].mean(axis=0)  # Column 0 (word 0) is padding.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(batch))[0], expected, rtol=1e-5)
    model.save(tmp_path / "cbow.keras")
    again = keras.saving.load_model(tmp_path / "cbow.keras", safe_mode=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(again(batch)), keras.ops.convert_to_numpy(model(batch)))
    with pytest.raises(BuilderArgumentError, match="architecture"):
        build_word2vec(vocabulary_size=20, architecture="glove")


def _logistic_loss_gradients(model, inputs, weights):
    """The two tables, the functional model's logistic loss on ``inputs``
    (the true word first, weighted noise words after) and its autodiff
    gradients."""
    variables = [model.get_layer(name).embeddings for name in ("target_embedding", "context_embedding")]
    with tf.GradientTape() as tape:
        logits = model(inputs)
        loss = tf.reduce_sum(tf.nn.softplus(-logits[:, 0])) + tf.reduce_sum(weights * tf.nn.softplus(logits[:, 1:]))
    gradients = tape.gradient(loss, [variable.value for variable in variables])
    return variables, loss, [tf.convert_to_tensor(gradient).numpy() for gradient in gradients]


def test_the_sparse_step_is_the_gradient_of_the_keras_models_loss():
    """One SGD step (rate 1) moves each table by minus the autodiff gradient of
    the functional model's logistic loss on the batch's expanded pairs."""
    rng = np.random.default_rng(1)
    texts = [" ".join(f"w{i}" for i in rng.integers(0, 12, 40)) for _ in range(6)]
    data = _corpus(texts)
    k = 5
    model = build_word2vec(len(data.vocabulary), embedding_dim=6, num_negative_samples=data.shared_negatives)
    model.get_layer("context_embedding").embeddings.assign(rng.normal(size=(len(data.vocabulary), 6)) * 0.3)
    batch = next(data.batches(16, rng))
    layout = {key: value.numpy() for key, value in block_examples(
        batch.tokens, batch.documents, batch.reach, batch.negatives, window=2, block_size=4, num_negative_samples=k,
    ).items()}
    blocks, centres, columns = np.nonzero(layout["positive"])
    inputs = {
        "target": layout["centers"][blocks, centres],
        "context": layout["windows"][blocks, columns],
        "negatives": batch.negatives[blocks],
    }
    # Each pair carries 1/m of its centre's negative weight.
    pairs = layout["positive"].sum(axis=2)[blocks, centres]
    weights = layout["negative_weight"][blocks, centres] / pairs[:, None]
    variables, loss, expected = _logistic_loss_gradients(model, inputs, weights)
    before = [v.numpy() for v in variables]
    trainer = Word2VecTrainer(model, data, 16, optimizer="sgd", learning_rate=1.0, jit_compile=False)
    model_k = trainer.num_negative_samples
    assert model_k == data.shared_negatives  # The model's own k...
    trainer.num_negative_samples = k  # ...but the step weighs negatives for the k the expansion used.
    trainer._step = tf.function(trainer._train_step)
    trainer._step(batch.tokens, batch.documents, batch.reach, batch.negatives)
    for variable, old, gradient in zip(variables, before, expected):
        np.testing.assert_allclose(old - variable.numpy(), gradient, atol=1e-5)
    assert trainer.totals.numpy()[0] == pytest.approx(float(loss), rel=1e-5)


def test_the_cbow_step_is_the_gradient_of_the_keras_cbow_models_loss():
    """CBOW on the same batch layout: each centre with a context is one
    example, the mean of its context words' vectors scored against the
    centre and the block's negatives (those equal to the centre left out,
    the rest weighed to count k). One SGD step (rate 1) moves each table by
    minus the autodiff gradient of the functional CBOW model's loss: a step
    that trained skip-gram's pairs instead would not."""
    rng = np.random.default_rng(5)
    texts = [" ".join(f"w{i}" for i in rng.integers(0, 12, 40)) for _ in range(6)]
    data = _corpus(texts)
    k = data.shared_negatives
    model = build_word2vec(len(data.vocabulary), embedding_dim=6, num_negative_samples=k, architecture="cbow")
    model.get_layer("context_embedding").embeddings.assign(rng.normal(size=(len(data.vocabulary), 6)) * 0.3)
    batch = next(data.batches(16, rng))
    layout = {key: value.numpy() for key, value in block_examples(
        batch.tokens, batch.documents, batch.reach, batch.negatives, window=2, block_size=4, num_negative_samples=k,
    ).items()}
    positive = layout["positive"]
    blocks, centres = np.nonzero(positive.sum(axis=2) > 0)
    targets = layout["centers"][blocks, centres]
    negatives = batch.negatives[blocks]
    inputs = {"target": targets, "context": layout["windows"][blocks], "context_mask": positive[blocks, centres],
              "negatives": negatives}
    allowed = (negatives != targets[:, None]).astype("float32")
    weights = allowed * k / allowed.sum(axis=1, keepdims=True)
    variables, loss, expected = _logistic_loss_gradients(model, inputs, weights)
    assert all(np.abs(gradient).max() > 1e-3 for gradient in expected)  # Both tables move.
    before = [v.numpy() for v in variables]
    trainer = Word2VecTrainer(model, data, 16, optimizer="sgd", learning_rate=1.0, jit_compile=False)
    assert trainer.architecture == "cbow"
    trainer._step = tf.function(trainer._train_step)
    trainer._step(batch.tokens, batch.documents, batch.reach, batch.negatives)
    for variable, old, gradient in zip(variables, before, expected):
        np.testing.assert_allclose(old - variable.numpy(), gradient, atol=1e-5)
    assert trainer.totals.numpy().tolist() == pytest.approx([float(loss), len(targets)], rel=1e-5)


def _trainer(data, steps_per_execution):
    keras.utils.set_random_seed(3)
    model = build_word2vec(len(data.vocabulary), embedding_dim=8, num_negative_samples=5)
    return Word2VecTrainer(model, data, 16, optimizer="adagrad", learning_rate=0.1,
                           steps_per_execution=steps_per_execution)


def test_steps_per_execution_trains_the_same_steps_as_one_by_one():
    """Three steps a call, with an epoch whose batches do not fill the last
    call, ends with the tables, accumulators, step count and loss of one
    step a call."""
    rng = np.random.default_rng(4)
    texts = [" ".join(f"w{i}" for i in rng.integers(0, 30, 50)) for _ in range(9)]
    data = _corpus(texts)
    batches = sum(1 for _ in data.batches(16, np.random.default_rng(0)))
    assert batches % 3 != 0
    one, grouped = _trainer(data, 1), _trainer(data, 3)
    np.testing.assert_array_equal(one.target.numpy(), grouped.target.numpy())
    results = [trainer.train_epoch(np.random.default_rng(0)) for trainer in (one, grouped)]
    assert int(one.iterations.numpy()) == int(grouped.iterations.numpy()) == batches
    assert results[0]["pairs"] == results[1]["pairs"] > 0
    assert results[1]["loss"] == pytest.approx(results[0]["loss"], rel=1e-5)
    for mine, theirs in [(one.target, grouped.target), (one.context, grouped.context),
                         (one.accumulators[1], grouped.accumulators[1])]:
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)


def test_compiling_the_step_trains_on_nothing():
    data = _corpus(["a b c d e f g h a b c d"] * 4)
    trainer = _trainer(data, 4)
    before = [table.numpy() for table in (trainer.target, trainer.context)]
    assert trainer.compile_step() > 0
    for old, table in zip(before, (trainer.target, trainer.context)):
        np.testing.assert_array_equal(old, table.numpy())
    assert int(trainer.iterations.numpy()) == 0 and trainer.totals.numpy().tolist() == [0, 0]
    trainer.train_epoch(np.random.default_rng(0))
    assert trainer._steps.experimental_get_tracing_count() == 1  # The epoch ran what was compiled.
    with pytest.raises(ValueError, match="steps_per_execution"):
        _trainer(data, 0)


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_training_pulls_words_of_the_same_topic_together(architecture):
    rng = np.random.default_rng(2)
    # Two topics that never share a document: a-words and b-words.
    texts = [" ".join(f"{topic}{i}" for i in rng.integers(0, 8, 30)) for topic in "ab" for _ in range(60)]
    data = _corpus(texts)
    model = build_word2vec(len(data.vocabulary), embedding_dim=16, num_negative_samples=5, architecture=architecture)
    trainer = Word2VecTrainer(model, data, 32, optimizer="adagrad", learning_rate=0.1)
    losses = [trainer.train_epoch(rng)["loss"] for _ in range(5)]
    assert losses[-1] < losses[0]
    vectors = wordvectors.WordVectors(data.vocabulary.words, trainer.target.numpy())
    topic = np.array([word[0] == "a" for word in vectors.words])
    similarity = vectors.unit @ vectors.unit.T
    same = similarity[topic][:, topic].mean() + similarity[~topic][:, ~topic].mean()
    across = 2 * similarity[topic][:, ~topic].mean()
    assert same - across > 0.5


def test_analogy_and_similarity_scores(tmp_path):
    words = ["king", "queen", "man", "woman", "paris", "france"]
    vectors = np.array([[1, 1, 0], [1, -1, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0.2, 0, 1]], dtype=float)
    table = wordvectors.WordVectors(words, vectors)
    questions = tmp_path / "questions.txt"
    questions.write_text(": family\nman woman king queen\nman king woman paris\nman woman king unicorn\n")
    result = table.analogy(questions)
    assert result == {"accuracy": 0.5, "questions": 3, "covered": 2, "coverage": pytest.approx(2 / 3)}
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("# comment\nking\tqueen\t1\nparis\tfrance\t9\nking\tman\t5\nking\tunicorn\t3\n")
    scored = table.similarity(pairs)
    assert scored["spearman"] == pytest.approx(1.0) and scored["covered"] == 3 and scored["pairs"] == 4
    assert table.neighbours("paris", 1)[0][0] == "france"


def test_vectors_files_load_in_gensim_and_the_projector_format(tmp_path):
    from gensim.models import KeyedVectors

    table = wordvectors.WordVectors(["the", "café", "don't"], np.arange(12, dtype=float).reshape(3, 4) / 7)
    table.write_word2vec(tmp_path / "vectors.txt")
    loaded = KeyedVectors.load_word2vec_format(str(tmp_path / "vectors.txt"))
    np.testing.assert_allclose(loaded["café"], table.vectors[1], rtol=1e-5)
    table.write_projector(tmp_path)
    assert (tmp_path / "metadata.tsv").read_text().split("\n")[:3] == ["the", "café", "don't"]
    assert np.loadtxt(tmp_path / "vectors.tsv", delimiter="\t").shape == (3, 4)


def test_text_corpora_from_a_file_or_a_folder(tmp_path):
    (tmp_path / "one.txt").write_text("The cat sat.\n\nThe dog sat!\n")
    from_file = corpus.load_text(str(tmp_path / "one.txt"), min_count=1, window=1, block_size=2)
    assert len(from_file.documents) == 2 and from_file.tokens == 6
    assert from_file.vocabulary.words[:2] == ("sat", "the")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "two.txt").write_text("A cat.")
    from_folder = corpus.load_text(str(tmp_path), min_count=1, window=1, block_size=2)
    assert len(from_folder.documents) == 2 and from_folder.tokens == 8


@pytest.mark.parametrize("make, options, message", [
    (lambda folder: folder / "missing.txt", {}, "Text corpus not found"),
    (lambda folder: folder, {}, "has no text files"),
    (lambda folder: _write(folder / "a.txt", b"caf\xe9 " * 3), {}, "is not utf-8 text"),
    (lambda folder: _write(folder / "a.txt", b"one two three"), {"min_count": 2}, "Lower data.min_count"),
    (lambda folder: _write(folder / "a.txt", b"one one two two"), {"window": 5, "block_size": 8},
        "data.block_size must be at least 2 \\* window"),
    (lambda folder: _write(folder / "a.txt", b"one one two two"), {"sample": -1}, "data.sample must be"),
])
def test_bad_corpora_are_named_with_the_fix(tmp_path, make, options, message):
    with pytest.raises(DataError, match=message):
        corpus.load_text(str(make(tmp_path)), **{"min_count": 1, **options})


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def test_word2vec_recipe_trains_evaluates_and_exports_strings_to_vectors(workdir):
    from gensim.models import KeyedVectors

    args = ["run", RECIPE, "--json", "--quiet"] + [item for value in SMALL for item in ("--set", value)]
    result = run_cli_here(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert "Analogies (3CosAdd)" in result.stderr and "WordSim353 Spearman" in result.stderr
    assert set(summary) == {*METRICS_KEYS, "word2vec"}
    own = summary["word2vec"]  # The task's own section of metrics.json.
    assert summary["task"] == "word2vec" and summary["epochs"] == 3 and own["loss"][-1] < own["loss"][0]
    assert 0 < own["evaluation"]["analogy_coverage"] < 1 and own["vocabulary_size"] > 1000
    assert summary["train_samples_per_second"] > 0
    vectors = KeyedVectors.load_word2vec_format(own["vectors"])
    assert vectors.vector_size == 16 and len(vectors) == own["vocabulary_size"]
    for name in ("vectors.tsv", "metadata.tsv"):
        assert (Path(summary["run_dir"]) / name).is_file()
    # TensorBoard's Embedding Projector, offline: its own config, the vectors
    # in a checkpoint, the words as metadata, and the loss per epoch.
    from google.protobuf import text_format
    from tensorboard.plugins.projector import projector_config_pb2

    projector = Path(summary["run_dir"]) / "logs" / "projector"
    config = text_format.Parse((projector / "projector_config.pbtxt").read_text(),
                               projector_config_pb2.ProjectorConfig())
    (embedding,) = config.embeddings
    words = (projector / embedding.metadata_path).read_text(encoding="utf-8").splitlines()
    assert words == list(vectors.index_to_key[:len(words)]) and len(words) == min(len(vectors), 20_000)
    stored = tf.train.load_variable(tf.train.latest_checkpoint(str(projector)), embedding.tensor_name)
    np.testing.assert_allclose(stored, vectors.vectors[:len(words)], atol=1e-5)
    plugin, losses = tensorboard_summaries(projector)["word2vec/loss"]
    assert plugin == "scalars" and [value for _, value in losses] == pytest.approx(own["loss"])
    loaded = tf.saved_model.load(summary["export_path"])
    out = loaded.signatures["serving_default"](words=tf.constant(["Government", "qwertyuiop"]))
    assert out["known"].numpy().tolist() == [True, False]
    np.testing.assert_allclose(out["vectors"].numpy()[0], vectors["government"], atol=1e-5)
    assert not out["vectors"].numpy()[1].any()
    near = loaded.signatures["neighbours"](words=tf.constant(["government"]), count=tf.constant(3))
    expected = [word for word, _ in vectors.most_similar("government", topn=3)]
    assert [word.decode() for word in near["neighbours"].numpy()[0]] == expected


def test_the_cbow_recipe_trains_cbow_from_the_command_line(workdir):
    args = ["run", str(ROOT / "recipes" / "word2vec_cbow.yaml"), "--json", "--set", "export.enabled=false"]
    result = run_cli_here(*args, *[item for value in SMALL for item in ("--set", value)])
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    own = summary["word2vec"]
    assert own["loss"][-1] < own["loss"][0]
    # One example per centre: fewer than skip-gram's (centre, context) pairs.
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("Epoch 3/3")]
    assert " centres, " in line
    history = (Path(summary["run_dir"]) / "history.csv").read_text().splitlines()
    centres = int(history[-1].split(",")[2])
    (tokens,) = re.findall(r"documents, ([\d,]+) tokens", result.stderr)
    assert 0 < centres <= int(tokens.replace(",", ""))  # Skip-gram: 173,766 pairs an epoch here.


@pytest.mark.parametrize("settings, message", [
    (["data={dataset: fashion_mnist}"], "model.builder: 'word2vec' does not train on examples with labels"),
    (["model={builder: dense}"], "model.builder: 'dense' does not train on a text corpus"),
    (["optimizer.name=adam"], "optimizer.name: word2vec trains with sparse row updates"),
    (["optimizer.momentum=0.9", "optimizer.name=sgd"], "optimizer.momentum: not used by word2vec"),
    (["training.batch_size=500"], "training.batch_size: batch_size must be a multiple of block_size=8"),
    (["model.num_negative_samples=0"], "model.num_negative_samples"),
])
def test_bad_word2vec_recipes_fail_cleanly_before_writing(workdir, settings, message):
    # A section replaced whole takes no --set of its keys.
    replaced = [setting.split("=")[0] + "." for setting in settings if "." not in setting.split("=")[0]]
    base = [value for value in SMALL if not value.startswith(tuple(replaced))]
    args = ["run", RECIPE] + [item for value in base + settings for item in ("--set", value)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (workdir / "runs").exists() and not (workdir / "saved_models").exists()


def test_tune_refuses_a_word2vec_recipe_by_name(workdir):
    recipe = workdir / "w2v.yaml"
    recipe.write_text(Path(RECIPE).read_text() + "tune:\n  objective: loss\n  space:\n    model.embedding_dim: "
                                                 "[50, 100]\n")
    result = CliRunner().invoke(main, ["tune", str(recipe), "--max-trials", "1"])
    assert result.exit_code == 2, result.output
    assert "model.builder 'word2vec' cannot be searched: it trains with its own sparse loop" in result.output
    assert list(workdir.iterdir()) == [recipe]
