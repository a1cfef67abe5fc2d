"""Word2Vec: kerasdl against gensim on the same corpus, side by side in one run.

Both train skip-gram with negative sampling with the settings of
recipes/word2vec.yaml (dimension, window, negatives, sample, min_count,
epochs) on NewsArticles tokenised the same way; gensim with sg=1 and
workers=2. With --architecture cbow, both train CBOW with
recipes/word2vec_cbow.yaml's settings (gensim: sg=0, the mean of the
context vectors, its default alpha for CBOW). The runs alternate (``--repeats`` each) so that machine noise
hits both alike; the table gives medians. words/s counts corpus tokens
(before the vocabulary cut, as gensim does) times epochs over training
time (vocabulary building excluded for both, and kerasdl's one-off XLA
compilation of its step, printed beside it; words/s with it counted is
printed too). Both sets of vectors are
scored by kerasdl.data.word_vectors; gensim's own analogy score is printed too,
as a check of that scorer.

Usage: python bench/word2vec.py [--repeats 3] [--epochs N] [--architecture skipgram|cbow]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from kerasdl.data import catalogue, corpus  # noqa: E402
from kerasdl.data import word_vectors as wordvectors  # noqa: E402
from kerasdl.recipe import load_recipe  # noqa: E402
from kerasdl.tasks import word2vec  # noqa: E402
from kerasdl.tasks.building import build_model  # noqa: E402

RECIPES = {
    "skipgram": Path(__file__).resolve().parent.parent / "recipes" / "word2vec.yaml",
    "cbow": Path(__file__).resolve().parent.parent / "recipes" / "word2vec_cbow.yaml",
}


def train_kerasdl(recipe, data, seed: int) -> tuple[float, float, wordvectors.WordVectors]:
    """Training seconds, compilation seconds and the vectors."""
    model = build_model(recipe, data)
    trainer = word2vec.trainer_for(recipe, model, data)
    compiled = trainer.compile_step()
    rng = np.random.default_rng(seed)
    seconds = sum(trainer.train_epoch(rng)["seconds"] for _ in range(recipe["training"]["epochs"]))
    return seconds, compiled, wordvectors.WordVectors(data.vocabulary.words, trainer.target.numpy())


def train_gensim(recipe, token_lists, seed: int) -> tuple[float, wordvectors.WordVectors, float]:
    from gensim.models import Word2Vec

    section, model_section = recipe["data"], recipe["model"]
    model = Word2Vec(
        vector_size=model_section["embedding_dim"], window=section["window"], min_count=section["min_count"],
        sample=section["sample"], negative=model_section["num_negative_samples"],
        sg=int(model_section["architecture"] == "skipgram"), cbow_mean=1, workers=2,
        epochs=recipe["training"]["epochs"], seed=seed,
    )
    model.build_vocab(token_lists)
    start = time.perf_counter()
    model.train(token_lists, total_examples=len(token_lists), epochs=model.epochs)
    seconds = time.perf_counter() - start
    own = model.wv.evaluate_word_analogies(str(wordvectors.benchmark_file(wordvectors.ANALOGIES)))[0]
    return seconds, wordvectors.WordVectors(model.wv.index_to_key, model.wv.vectors), own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None, help="Both systems' epochs (the recipe's by default).")
    parser.add_argument("--architecture", choices=sorted(RECIPES), default="skipgram")
    arguments = parser.parse_args()
    overrides = [f"training.epochs={arguments.epochs}"] if arguments.epochs else []
    recipe = load_recipe(RECIPES[arguments.architecture], overrides)
    data = catalogue.from_recipe(recipe)
    token_lists = [corpus.tokenize(text, data.lowercase) for text in corpus.news_articles_texts()]
    assert sum(map(len, token_lists)) == data.tokens
    words = data.tokens * recipe["training"]["epochs"]
    print(f"{arguments.architecture} on {data.source}: {data.tokens:,} tokens, {len(data.vocabulary):,} words, "
          f"{recipe['training']['epochs']} epochs, {arguments.repeats} runs each, alternating")
    results: dict[str, list[dict]] = {"gensim": [], "kerasdl": []}
    for repeat in range(arguments.repeats):
        seconds, vectors, own = train_gensim(recipe, token_lists, seed=repeat + 1)
        results["gensim"].append({"words/s": words / seconds, **wordvectors.evaluate(vectors), "gensim_analogy": own})
        seconds, compiled, vectors = train_kerasdl(recipe, data, seed=repeat + 1)
        results["kerasdl"].append({
            "words/s": words / seconds, "words/s with compilation": words / (seconds + compiled),
            "compilation": compiled, **wordvectors.evaluate(vectors),
        })
        for name in results:
            entry = results[name][-1]
            print(f"  run {repeat + 1} {name:8s} {entry['words/s']:>10,.0f} words/s  analogy "
                  f"{entry['analogy_accuracy']:.2%}"
                  f"  WS353 {entry['wordsim353_spearman']:.3f}  SimLex {entry['simlex999_spearman']:.3f}"
                  + (f"  (gensim's own analogy score {entry['gensim_analogy']:.2%})"
                     if "gensim_analogy" in entry else "")
                  + (f"  (compiled in {entry['compilation']:.1f} s before)" if "compilation" in entry else ""),
                  flush=True)
    median = {name: {key: statistics.median(entry[key] for entry in runs) for key in runs[0]}
              for name, runs in results.items()}
    ours, theirs = median["kerasdl"], median["gensim"]
    print()
    print("| system | words/s | analogy (3CosAdd) | WordSim353 | SimLex-999 |")
    print("| --- | --- | --- | --- | --- |")
    for name in ("gensim", "kerasdl"):
        row = median[name]
        print(f"| {name} | {row['words/s']:,.0f} | {row['analogy_accuracy']:.2%} | {row['wordsim353_spearman']:.3f} "
              f"| {row['simlex999_spearman']:.3f} |")
    ratio = ours["words/s"] / theirs["words/s"]
    analogy_gap = 100 * (ours["analogy_accuracy"] - theirs["analogy_accuracy"])
    wordsim_gap = ours["wordsim353_spearman"] - theirs["wordsim353_spearman"]
    print()
    pairs = [mine["words/s"] / peer["words/s"] for mine, peer in zip(results["kerasdl"], results["gensim"])]
    print(f"words/s ratio kerasdl/gensim: {ratio:.2f}x (target >= 1.5: {'met' if ratio >= 1.5 else 'MISSED'}); "
          f"per alternated pair {', '.join(f'{value:.2f}' for value in pairs)}")
    counted = ours["words/s with compilation"] / theirs["words/s"]
    print(f"with kerasdl's compilation ({ours['compilation']:.1f} s) counted as training time: {counted:.2f}x")
    print(f"analogy: {analogy_gap:+.2f} points (target >= -1: {'met' if analogy_gap >= -1 else 'MISSED'})")
    print(f"WordSim353: {wordsim_gap:+.3f} (target >= 0: {'met' if wordsim_gap >= 0 else 'MISSED'})")
    print(f"analogy coverage {ours['analogy_coverage']:.1%} of questions-words.txt (same vocabulary for both)")


if __name__ == "__main__":
    main()
