"""Word vectors: intrinsic evaluation, nearest neighbours and file formats.

The evaluation sets are the ones gensim ships (and evaluates with):
``questions-words.txt`` (Mikolov's 19,544 analogies), ``wordsim353.tsv`` and
``simlex999.txt``. Scores follow gensim's ``evaluate_word_analogies`` and
``evaluate_word_pairs``: questions or pairs with a word outside the
vocabulary are skipped, and the share covered is reported beside the score.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np
from scipy import stats

from kerasdl.errors import DataError

ANALOGIES = "questions-words.txt"
WORDSIM353 = "wordsim353.tsv"
SIMLEX999 = "simlex999.txt"


def benchmark_file(name: str) -> Path:
    """The path of one of gensim's evaluation files (gensim is installed
    by ``make install``; it is not imported)."""
    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("The word-vector benchmarks ship with gensim, which is not installed. Install it with "
                        "`make install` or `pip install gensim`.")
    path = Path(list(spec.submodule_search_locations)[0]) / "test" / "test_data" / name
    if not path.is_file():
        raise DataError(f"{path} is missing; reinstall gensim (`pip install --force-reinstall gensim`).")
    return path


class WordVectors:
    """Words and their vectors, with cosine similarity.

    Args:
        words: The words, in vocabulary order.
        vectors: ``[len(words), dim]`` array, row i for word i.
    """

    def __init__(self, words: Sequence[str], vectors: np.ndarray):
        self.words = list(words)
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.index = {word: row for row, word in enumerate(self.words)}
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
        self.unit = self.vectors / np.maximum(norms, 1e-12)

    def neighbours(self, word: str, count: int = 10) -> list[tuple[str, float]]:
        """The ``count`` words most cosine-similar to ``word``, itself excluded."""
        similarities = self.unit @ self.unit[self.index[word]]
        similarities[self.index[word]] = -np.inf
        best = np.argsort(-similarities)[:count]
        return [(self.words[row], float(similarities[row])) for row in best]

    def analogy(self, path: Optional[Path] = None) -> dict:
        """3CosAdd accuracy: for "a is to b as c is to d", d must be the word
        nearest to b - a + c (unit vectors; a, b and c excluded)."""
        path = path or benchmark_file(ANALOGIES)
        questions = []
        total = 0
        for line in path.read_text().splitlines():
            if not line.strip() or line.startswith(":"):
                continue
            total += 1
            rows = [self.index.get(word) for word in line.lower().split()]
            if len(rows) == 4 and None not in rows:
                questions.append(rows)
        correct = 0
        chunk = max(1, (1 << 24) // len(self.words))  # Questions scored at once: ~64 MB of scores.
        table = np.array(questions, dtype=np.int64).reshape(-1, 4)
        for start in range(0, len(table), chunk):
            part = table[start:start + chunk]
            query = self.unit[part[:, 1]] - self.unit[part[:, 0]] + self.unit[part[:, 2]]
            scores = query @ self.unit.T
            np.put_along_axis(scores, part[:, :3], -np.inf, axis=1)
            correct += int(np.sum(np.argmax(scores, axis=1) == part[:, 3]))
        return {
            "accuracy": correct / len(table) if len(table) else 0.0,
            "questions": total,
            "covered": len(table),
            "coverage": len(table) / total if total else 0.0,
        }

    def similarity(self, path: Path) -> dict:
        """Spearman correlation of cosine similarities with human scores."""
        human, model, total = [], [], 0
        for line in path.read_text().splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            try:
                first, second, score = fields[0].lower(), fields[1].lower(), float(fields[2])
            except (IndexError, ValueError):
                continue  # A header row.
            total += 1
            if first in self.index and second in self.index:
                human.append(score)
                model.append(float(self.unit[self.index[first]] @ self.unit[self.index[second]]))
        spearman = float(stats.spearmanr(human, model).statistic) if len(human) > 1 else float("nan")
        return {"spearman": spearman, "pairs": total, "covered": len(human),
                "coverage": len(human) / total if total else 0.0}

    @classmethod
    def read_word2vec(cls, path: Path) -> "WordVectors":
        """Reads the word2vec text format (what ``write_word2vec`` and gensim's
        ``save_word2vec_format`` write; the "count dim" header is optional).

        Raises:
            DataError: for a missing file, or a line that is not a word and
                as many numbers as the others.
        """
        path = Path(path)
        if not path.is_file():
            raise DataError(f"Word-vector file not found: {path}. Expected the word2vec text format, e.g. the "
                            "vectors.txt of a word2vec run.")
        words, rows = [], []
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line_number, line in enumerate(handle, start=1):
                parts = line.rstrip("\n").rstrip(" ").split(" ")
                if line_number == 1 and len(parts) == 2 and all(part.isdigit() for part in parts):
                    continue  # The "count dim" header.
                try:
                    row = [float(value) for value in parts[1:]]
                except ValueError:
                    row = []
                if not row or rows and len(row) != len(rows[0]):
                    raise DataError(
                        f"{path}, line {line_number}: expected a word and {len(rows[0]) if rows else 'its'} "
                        "numbers separated by spaces (the word2vec text format; binary files are not read)."
                    )
                words.append(parts[0])
                rows.append(row)
        if not rows:
            raise DataError(f"{path} holds no word vectors.")
        return cls(words, np.asarray(rows, dtype=np.float32))

    def write_word2vec(self, path: Path) -> None:
        """The word2vec text format: a "count dim" header, then "word v1 v2 ...";
        ``gensim.models.KeyedVectors.load_word2vec_format`` reads it."""
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(f"{len(self.words)} {self.vectors.shape[1]}\n")
            for word, row in zip(self.words, self.vectors):
                handle.write(word + " " + " ".join(f"{value:.6g}" for value in row) + "\n")

    def write_projector(self, folder: Path) -> None:
        """vectors.tsv and metadata.tsv for the TensorBoard Embedding Projector
        (projector.tensorflow.org: Load, then the two files)."""
        np.savetxt(Path(folder) / "vectors.tsv", self.vectors, delimiter="\t", fmt="%.6g")
        (Path(folder) / "metadata.tsv").write_text("\n".join(self.words) + "\n", encoding="utf-8")


def evaluate(vectors: WordVectors) -> dict:
    """Analogy accuracy with its coverage, and Spearman on WordSim353 and SimLex-999."""
    analogy = vectors.analogy()
    wordsim = vectors.similarity(benchmark_file(WORDSIM353))
    simlex = vectors.similarity(benchmark_file(SIMLEX999))
    return {
        "analogy_accuracy": analogy["accuracy"],
        "analogy_coverage": analogy["coverage"],
        "wordsim353_spearman": wordsim["spearman"],
        "wordsim353_coverage": wordsim["coverage"],
        "simlex999_spearman": simlex["spearman"],
        "simlex999_coverage": simlex["coverage"],
    }


def report(evaluation: dict, neighbours: dict[str, list[tuple[str, float]]]) -> Iterator[str]:
    """Lines that print an evaluation and the probe words' neighbours."""
    yield (f"Analogies (3CosAdd): {evaluation['analogy_accuracy']:.2%} correct of the "
           f"{evaluation['analogy_coverage']:.1%} of questions-words.txt the vocabulary covers")
    yield (f"WordSim353 Spearman {evaluation['wordsim353_spearman']:.3f} "
           f"({evaluation['wordsim353_coverage']:.0%} of pairs covered)")
    yield (f"SimLex-999 Spearman {evaluation['simlex999_spearman']:.3f} "
           f"({evaluation['simlex999_coverage']:.0%} of pairs covered)")
    for word, items in neighbours.items():
        yield f"  {word}: " + ", ".join(f"{other} {score:.2f}" for other, score in items)
