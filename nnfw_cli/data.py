"""Datasets by name, and the stratified train/test split.

scikit-learn makes moons, circles and the two Gaussian blobs; XOR and the two spirals (the other
TensorFlow Playground pictures) have no scikit-learn generator and are made here. scikit-learn is
imported inside the functions, so that naming a dataset (to validate a config) costs nothing.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import numpy as np


@dataclass(frozen=True)
class Dataset:
    """A generator of ``(X, y)`` with what a config needs to know before calling it."""

    make: Callable[..., tuple[np.ndarray, np.ndarray]]
    default_noise: float
    n_features: int = 2
    n_classes: int = 2
    options: tuple[str, ...] = ()  # settings beyond n_samples and noise


def _moons(n_samples: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_moons

    return make_moons(n_samples, noise=noise, random_state=seed)


def _circles(n_samples: int, noise: float, seed: int, factor: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_circles

    return make_circles(n_samples, noise=noise, factor=factor, random_state=seed)


def _gaussian(n_samples: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_blobs

    return make_blobs(n_samples, centers=[[-1.0, -1.0], [1.0, 1.0]], cluster_std=noise, random_state=seed)


def _xor(n_samples: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform on [-1, 1]^2, class 1 where x and y share a sign, then Gaussian jitter."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n_samples, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    return X + rng.normal(0.0, noise, size=X.shape), y


def _blobs(n_samples: int, noise: float, seed: int, classes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """``classes`` Gaussian blobs in the plane, centred evenly on a circle of radius 3: the seed
    draws the points, never the centres, so fresh data from another seed is the same problem."""
    from sklearn.datasets import make_blobs

    angles = 2 * np.pi * np.arange(classes) / classes
    centres = 3.0 * np.column_stack([np.cos(angles), np.sin(angles)])
    return make_blobs(n_samples, n_features=2, centers=centres, cluster_std=noise, random_state=seed)


def _spiral(n_samples: int, noise: float, seed: int, turns: float = 1.75,
            classes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """``classes`` interleaved spiral arms of radius 1, evenly spaced in angle, with Gaussian jitter.

    Two arms are half a turn apart: ``2 * pi * y / 2`` is exactly ``pi * y``, so the two-arm
    spiral is the same, bit for bit, as before arms could be counted.
    """
    rng = np.random.default_rng(seed)
    y = np.arange(n_samples) % classes
    r = rng.uniform(0.0, 1.0, size=n_samples)
    angle = 2 * np.pi * turns * r + 2 * np.pi * y / classes
    X = np.column_stack([r * np.sin(angle), r * np.cos(angle)])
    return X + rng.normal(0.0, noise, size=X.shape), y


DATASETS: dict[str, Dataset] = {
    "moons": Dataset(_moons, default_noise=0.1),
    "circles": Dataset(_circles, default_noise=0.04, options=("factor",)),
    "xor": Dataset(_xor, default_noise=0.05),
    "spiral": Dataset(_spiral, default_noise=0.03, options=("classes",)),
    "gaussian": Dataset(_gaussian, default_noise=0.7),
    "blobs": Dataset(_blobs, default_noise=1.0, options=("classes",)),
}


# Generated sets of more rows are made this many at a time: scikit-learn's generators keep work
# arrays of several times the data they return, a gigabyte for 10^7 points.
MAKE_CHUNK = 10**6


def make_dataset(name: str, n_samples: int, noise: float, seed: int, **options: Any) -> tuple[np.ndarray, np.ndarray]:
    """``X`` (n_samples, n_features) as float64 and integer labels ``y`` (n_samples,).

    Past MAKE_CHUNK samples, each chunk of MAKE_CHUNK is made with its own seed drawn from
    ``seed`` (``chunk_seed``) into arrays allocated once, so memory stays near the data's size.
    """
    make = DATASETS[name].make
    if n_samples <= MAKE_CHUNK:
        X, y = make(n_samples, noise, seed, **options)
        return np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64)
    X = y = None
    for index, start in enumerate(range(0, n_samples, MAKE_CHUNK)):
        size = min(MAKE_CHUNK, n_samples - start)
        part_X, part_y = make(size, noise, chunk_seed(seed, index), **options)
        if X is None:
            X, y = np.empty((n_samples, np.shape(part_X)[1])), np.empty(n_samples, dtype=np.int64)
        X[start:start + size], y[start:start + size] = part_X, part_y
    return X, y


def chunk_seed(seed: int, index: int) -> int:
    """The seed of chunk ``index`` of data made from ``seed`` a chunk at a time."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def split(
    X: np.ndarray, y: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stratified, seeded split: ``X_train, X_test, y_train, y_test``.

    Past MAKE_CHUNK rows, each of ``ceil(n / MAKE_CHUNK)`` equal runs of rows is split on its own
    (seeded with ``chunk_seed``): every run keeps its classes in proportion, so the whole does,
    and the work arrays stay those of one run (scikit-learn's split of 10^7 rows at once takes
    about 700 MB of them). A class too rare to be split within each run splits the rows at once.
    The parts are scikit-learn's ``train_test_split(X, y, stratify=y)``, row for row.
    """
    n = len(y)
    bounds = np.linspace(0, n, -(-n // MAKE_CHUNK) + 1).astype(np.int64)
    if len(bounds) <= 2 or min(np.bincount(y[a:b]).min() for a, b in zip(bounds, bounds[1:])) < 2:
        train, test = split_rows(y, test_fraction, seed)
    else:
        parts = [split_rows(y[a:b], test_fraction, chunk_seed(seed, i)) for i, (a, b) in enumerate(zip(bounds, bounds[1:]))]
        train = np.concatenate([a + p[0] for a, p in zip(bounds, parts)])
        test = np.concatenate([a + p[1] for a, p in zip(bounds, parts)])
    # take() copies the same rows as X[train], several times faster on a narrow X of many rows
    return X.take(train, axis=0), X.take(test, axis=0), y.take(train), y.take(test)


def split_rows(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The train and test positions of a stratified, seeded split of the labels ``y``: those
    scikit-learn's ``train_test_split(..., stratify=y, random_state=seed)`` takes its parts at.

    This is scikit-learn's ``StratifiedShuffleSplit``, draw for draw, with its positions kept in
    arrays: scikit-learn's gathers them in a Python list, one object per row, which costs more
    than making the data. A split it would refuse is left to it, for its message.
    """
    from math import ceil

    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    n_test = ceil(test_fraction * len(y))
    n_train = len(y) - n_test
    if counts.min() < 2 or min(n_train, n_test) < len(classes):
        from sklearn.model_selection import StratifiedShuffleSplit

        splitter = StratifiedShuffleSplit(n_splits=1, test_size=test_fraction, random_state=seed)
        return next(splitter.split(y, y))  # raises ValueError; its X is only counted
    rng = np.random.RandomState(seed)
    in_train = _approximate_mode(counts, n_train, rng)
    in_test = _approximate_mode(counts - in_train, n_test, rng)
    by_class = np.split(np.argsort(inverse, kind="stable"), np.cumsum(counts)[:-1])
    del inverse  # each work array goes once used: they are as long as y
    parts: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
    for rows, count, a, b in zip(by_class, counts, in_train, in_test):
        rows = rows.take(rng.permutation(count))
        parts[0].append(rows[:a])
        parts[1].append(rows[a:a + b])
    del by_class, rows
    train, test = np.concatenate(parts[0]), np.concatenate(parts[1])
    rng.shuffle(train)  # in place, as permutation() shuffles its copy
    rng.shuffle(test)
    return train, test


def _approximate_mode(counts: np.ndarray, n_draws: int, rng: np.random.RandomState) -> np.ndarray:
    """How many of ``n_draws`` rows each class gives: its share rounded down, then one more for
    the classes with the largest remainders, ties broken at random (scikit-learn's rule)."""
    continuous = counts / counts.sum() * n_draws
    floored = np.floor(continuous)
    need = int(n_draws - floored.sum())
    remainder = continuous - floored
    for value in np.sort(np.unique(remainder))[::-1] if need > 0 else ():
        (tied,) = np.where(remainder == value)
        add = min(len(tied), need)
        floored[rng.choice(tied, size=add, replace=False)] += 1
        need -= add
        if need == 0:
            break
    return floored.astype(int)


def split_validation(X: np.ndarray, y: np.ndarray, validation_fraction: float,
                     seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The validation split taken from the training part ``(X, y)``, stratified and seeded:
    ``X_train, X_val, y_train, y_val``; with ``validation_fraction`` 0, ``(X, y)`` as they are
    and empty validation arrays.

    The seed is drawn from ``seed``, so the validation rows are not the rows that the same seed
    would pick for a test split of the same size.
    """
    from .errors import DataError

    if not validation_fraction:
        return X, X[:0], y, y[:0]
    drawn = int(np.random.SeedSequence([seed, 1]).generate_state(1)[0])
    try:
        return split(X, y, validation_fraction, drawn)
    except ValueError as exc:  # scikit-learn: a class with too few rows to be on both sides
        raise DataError(f"data.validation_fraction={validation_fraction}: the training part ({len(y)} rows) cannot "
                        f"give a validation split with every class on both sides: {exc}") from None


# -- every source of data: generated sets, scikit-learn's real sets, CSV files ----------------

# scikit-learn's real data sets, shipped with it (nothing is downloaded): the loader's name, and
# the numbers of features and classes a config is checked against before anything is loaded.
REAL_DATASETS: dict[str, tuple[str, int, int]] = {
    "digits": ("load_digits", 64, 10),
    "iris": ("load_iris", 4, 3),
    "wine": ("load_wine", 13, 3),
    "breast_cancer": ("load_breast_cancer", 30, 2),
}
SOURCES: tuple[str, ...] = (*DATASETS, *REAL_DATASETS, "csv")  # every name `data.dataset` may take
MAX_DATA_BYTES = 4 * 2**30  # a CSV becomes a table in memory; the run also checks it fits (experiment)


@dataclass
class Split:
    """The data of a run, ready for a model, and how it was made.

    ``X_*`` are float64 ``(n_rows, n_features)`` after the transform; ``y_*`` integer labels
    ``0 .. n_classes-1``, in ``class_names`` order. ``sha256`` is the source file's (None for
    data made or loaded by name); ``notes`` say what was done to the rows (rows dropped).
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    transform: Any  # features.Transform
    sha256: str | None = None
    notes: list[str] = field(default_factory=list)
    inputs: tuple[np.ndarray, np.ndarray] | None = None  # train and test points before Playground features
    X_val: np.ndarray | None = None  # the validation split (data.validation_fraction), taken from the training part
    y_val: np.ndarray | None = None

    @property
    def has_validation(self) -> bool:
        return self.y_val is not None and len(self.y_val) > 0

    def plane(self, test: bool = True) -> tuple[np.ndarray, np.ndarray | None, Any] | None:
        """The train and test points in the 2-D input plane, and the function that turns points of
        that plane into model inputs (the Playground features, the scaling); None when the data
        is not 2-D. Pictures of the plane (the decision boundary) draw through it. ``test``
        False leaves the test points out (None), unread: training with a validation split
        reads the test split only at the end."""
        from .features import apply

        if self.inputs is not None:
            train, held_out = self.inputs
        else:
            train, held_out = self.X_train, (self.X_test if test else None)
        if train.shape[1] != 2:
            return None
        held_out = held_out if test else None
        if self.inputs is None:
            return train, held_out, lambda points: points
        return train, held_out, lambda points: apply(self.transform, points)

    @property
    def class_names(self) -> list[str]:
        return self.transform.class_names

    @property
    def feature_names(self) -> list[str]:
        return self.transform.feature_names

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def X_all(self) -> np.ndarray:
        return np.vstack([self.X_train, self.X_test])


def load_split(data: Any, seed: int) -> Split:
    """The data a ``DataConfig`` describes, split train/test with ``seed``, transformed.

    The transform (standardisation, one-hot categories, Playground features) is fitted on the
    training rows only and applied to both parts. For the generated sets with the defaults
    the arrays are exactly ``split(make_dataset(...))``. With ``data.validation_fraction``
    the validation split is then taken from the training rows (``split_validation``), before
    the transform is fitted on what is left. Raises DataError for a file that cannot be used.
    """
    if data.dataset == "csv":
        return _csv_split(data, seed)
    if data.dataset in REAL_DATASETS:
        X, y, class_names, names = _real(data.dataset)
    else:
        X, y = make_dataset(data.dataset, data.n_samples, data.noise, seed, **data.options())
        class_names, names = [str(k) for k in range(int(y.max()) + 1)], feature_names(X.shape[1])
    rows, notes = _sample(y, getattr(data, "max_rows", None), seed)
    X, y = (X, y) if rows is None else (X[rows], y[rows])
    X_train, X_test, y_train, y_test = split(X, y, data.test_fraction, seed)
    X_train, X_val, y_train, y_val = split_validation(X_train, y_train, _validation(data), seed)
    from .features import apply, fit

    transform = fit(X_train, names, expand=data.features, standardize=bool(data.standardize), class_names=class_names)
    split_ = Split(apply(transform, X_train), y_train, apply(transform, X_test), y_test, transform, notes=notes)
    if len(y_val):
        split_.X_val, split_.y_val = apply(transform, X_val), y_val
    if (data.features is not None or data.standardize) and X_train.shape[1] == 2:  # pictures show the plane
        split_.inputs = (X_train, X_test)
    return split_


def _validation(data: Any) -> float:
    return getattr(data, "validation_fraction", 0.0) or 0.0


def _real(name: str) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """One of scikit-learn's real sets: ``X, y``, the class names and the feature names."""
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, REAL_DATASETS[name][0])()
    names = list(getattr(bunch, "feature_names", [])) or [f"x{i + 1}" for i in range(bunch.data.shape[1])]
    return (np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64),
            [str(c) for c in bunch.target_names], [str(n) for n in names])


def read_table(path: str, delimiter: str | None = None, numbers: bool = False, text: Iterable[str] = ()) -> Any:
    """A CSV file with a header row as a DataFrame of text cells (missing cells NaN); with
    ``numbers``, a column of numbers is parsed as numbers instead (every column but those named
    in ``text``), which takes a fraction of the time and memory for a large file.

    The index holds each row's line number in the file; ``.attrs`` has ``path``, ``sha256``
    (of the file's bytes) and ``lines``. The delimiter is detected when not given. A missing,
    empty, ragged or oversized file, or one that is not a regular file (a FIFO, a device), is
    a DataError naming the file and, where there is one, the line. The file is read as a
    stream: its bytes are never all in memory at once.
    """
    return next(read_table_parts(path, None, delimiter, numbers, text))


# How a CSV file is read: blank lines kept (as rows of missing cells) so that rows keep their line numbers.
_READ: dict[str, Any] = dict(skip_blank_lines=False, skipinitialspace=True, index_col=False, encoding="utf-8-sig")


def read_table_parts(path: str, rows: int | None, delimiter: str | None = None, numbers: bool = False,
                     text: Iterable[str] = (), verbatim: bool = False) -> Iterator[Any]:
    """``read_table``'s table, ``rows`` rows at a time (one table for None), each part indexed by
    its lines: the table of a large file need never be whole in memory. With ``numbers`` and
    ``rows``, a column that is not all numbers is left as the parser made it, not read again as
    text (``saved._predict_lines`` reads such a part again, from its lines). ``verbatim`` keeps
    every text cell as written, spaces after a delimiter too, an empty one as "": no 'NA' or
    'null' read as missing (``with_missing`` reads them so, where that matters)."""
    import pandas as pd

    from .errors import DataError

    with _open_data(path) as handle, _BlankLines(path) as blank:
        delimiter, sha256, quoted = _delimiter_and_digest(path, handle, delimiter)
        options = dict(_READ, sep=delimiter, **(dict(keep_default_na=False, skipinitialspace=False) if verbatim else {}))
        try:
            header = _header(path, handle, options)
            dtype: Any = _text_columns(handle, options, text) if numbers else str
            line, checked, found = 2, False, False  # line 1 is the header
            for table, warned in _parsed(handle, dict(options, dtype=dtype), rows):
                if numbers and rows is None:  # a column of text cells too: read again as text, every cell as written
                    mixed = [name for name in table.columns if table[name].dtype.kind not in "fiu" and name not in dtype]
                    if mixed:
                        handle.seek(0)
                        table[mixed] = pd.read_csv(handle, usecols=mixed, dtype=str, **options)[mixed]
                # A row with fewer cells than the header reads as missing cells, one with more than the
                # first row has as a warning: the rows are then checked one by one, for the message naming the line.
                if not checked and (warned or _may_be_short(table)):
                    _check_rows_of(path, handle, delimiter)
                    checked = True
                table, line = _numbered(table, line, path, sha256, blank, quoted)
                table.attrs["header"] = header
                if len(table):
                    found = True
                    yield table
            if not found:
                raise only_a_header(path)
        except UnicodeDecodeError:
            handle.seek(0)
            _decode(path, handle.read())
            raise
        except pd.errors.EmptyDataError:
            handle.seek(0)
            if handle.readline().strip() or not any(line.strip() for line in handle):
                raise DataError(f"{path}: the file is empty; expected a header row naming the columns, then one "
                                "row per sample") from None
            raise DataError(f"{path}: line 1 is blank; the header row naming the columns must be the first line") \
                from None
        except (pd.errors.ParserError, ValueError) as exc:
            _check_rows_of(path, handle, delimiter)
            raise DataError(f"{path}: not a readable CSV file: {str(exc).strip()[:200]}") from None


def _delimiter_and_digest(path: str, handle: Any, delimiter: str | None) -> tuple[str, str, bool]:
    """The delimiter (told from the first bytes when not given), the sha256 of the open file, and
    whether it holds a quote (a quoted cell may hold line breaks); a DataError for an empty one."""
    from .errors import DataError

    head = handle.read(_HEAD_BYTES)
    sample = _head_text(path, head)
    if len(head) < _HEAD_BYTES and not sample.strip():
        raise DataError(f"{path}: the file is empty; expected a header row naming the columns, then one row per sample")
    return (delimiter or _sniff(sample), *_sha256(handle, head))


def _numbered(table: Any, line: int, path: str, sha256: str, blank: Callable[[list[int]], set[int]],
              quoted: bool = False) -> tuple[Any, int]:
    """A table read from the file at ``path``, its first row on line ``line``, as ``read_table``
    gives it, and the line after its last row: the names stripped, each row indexed by the line
    it begins on (in a ``quoted`` file, a row whose quoted cells hold line breaks spans several),
    blank lines left out (``blank`` tells which of the lines given are blank: a row of empty
    cells, ``,,``, reads as one does, and is kept, to be filled, dropped or refused as any row
    with missing values)."""
    table.columns = [str(name).strip() for name in table.columns]
    spans = np.ones(len(table), dtype=np.int64)
    for n in range(table.shape[1]) if quoted else ():
        cells = table.iloc[:, n]
        if cells.dtype.kind not in "fiub" and "\n" in "\0".join(cells.dropna().astype(str)):  # one search a column
            spans += cells.str.count("\n").fillna(0).to_numpy(dtype=np.int64)
    starts = line + np.cumsum(spans) - spans
    table.index = starts
    rows = np.arange(len(table))  # the rows whose cells are all empty so far: most are ruled out by their first
    for n in range(table.shape[1]):
        if not len(rows):
            break
        cells = table.iloc[rows, n]
        empty = cells.isna().to_numpy()
        if cells.dtype.kind not in "fiub":  # read verbatim, an empty cell is "", or spaces
            try:
                spaces = cells.str.lstrip(" ").eq("")  # not text (NaN): a missing cell, or a number
            except AttributeError:  # no text at all: numbers in a column of objects
                spaces = cells.eq("")
            empty = empty | spaces.to_numpy(dtype=bool, na_value=False)
        rows = rows[empty]
    if len(rows):
        table = table.drop(index=sorted(blank(starts[rows].tolist())))
    table.attrs.update(path=path, sha256=sha256, lines=True)
    return table, line + int(spans.sum())


class _BlankLines:
    """Which of a file's lines are blank (spaces aside), asked in increasing order: the file is
    read once, as far as asked, and only if asked (a table of rows not all empty never asks)."""

    def __init__(self, path: str) -> None:
        self.path, self.handle, self.number, self.text = path, None, 0, b""

    def __call__(self, lines: list[int]) -> set[int]:
        from .errors import DataError
        from .runs import open_regular

        if self.handle is None:
            self.handle = open_regular(self.path, DataError)
        found = set()
        for line in lines:
            while self.number < line and (self.text or not self.number):
                self.text, self.number = self.handle.readline(), self.number + 1
            if self.number == line and not self.text.strip():
                found.add(line)
        return found

    def __enter__(self) -> "_BlankLines":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.handle is not None:
            self.handle.close()


def with_missing(table: Any, columns: Iterable[str]) -> Any:
    """``table`` (read ``verbatim``) with the cells of its ``columns`` that pandas reads as missing
    ('', 'NA', 'null', ...) made NaN, as they were in the training rows, whose cells were read
    without the spaces after a delimiter; the table is left as it is."""
    from pandas._libs.parsers import STR_NA_VALUES  # read_csv's own list
    from pandas.api.types import is_numeric_dtype

    names = [name for name in columns if name in table.columns and not is_numeric_dtype(table[name].dtype)]
    if not names:
        return table
    read = table.copy(deep=False)
    for name in names:
        try:
            cells = table[name].str.lstrip(" ")
        except AttributeError:  # no text at all: numbers in a column of objects
            cells = table[name]
        read[name] = table[name].mask(cells.isin(STR_NA_VALUES))
    read.attrs = dict(table.attrs)
    return read


def only_a_header(path: str) -> Exception:
    """The error for a CSV file with no row below its header (blank lines aside)."""
    from .errors import DataError

    return DataError(f"{path}: only a header row, no data below it")


def lines_as_text(table: Any, header: bytes, lines: list[bytes]) -> Any:
    """The rows of ``table`` (a part of ``read_table_parts`` with ``numbers``, of a file
    ``written_plainly`` accepts) as ``read_table_parts`` reads them as text: from ``lines``, the
    file's lines from the one after the previous part's last row to this part's last, below
    ``header``, its first line."""
    import io

    import pandas as pd

    first = int(table.index[-1]) - len(lines) + 1
    text = pd.read_csv(io.BytesIO(header + b"".join(lines)), **_READ, sep=",", dtype=str, keep_default_na=False)
    text, _ = _numbered(text, first, table.attrs["path"], table.attrs["sha256"],
                        lambda numbers: {n for n in numbers if not lines[n - first].strip()})
    text.attrs["header"] = table.attrs["header"]
    return text


def _head_text(path: str, head: bytes) -> str:
    """The text of a file's first bytes ``head`` (_HEAD_BYTES of them, or the whole file), up to
    its last whole line: what the delimiter is told from."""
    return _decode(path, head if len(head) < _HEAD_BYTES else head[: head.rfind(b"\n") + 1] or head)


# What a row of numbers written plainly is made of: digits, points, exponents, signs and commas.
_PLAIN_ROWS = b"0123456789.eE+-,\r\n"


def written_plainly(path: str) -> bool:
    """Whether the CSV at ``path`` has comma-separated rows of numbers written plainly below a
    header without quotes: no space, quote or letter but an exponent's, each row one line
    ending in \\n or \\r\\n. Its rows read as the same cells whether as text or as numbers
    (``read_table_parts`` with ``numbers``), and each line holds a row's cells as written."""
    from .errors import DataError

    try:
        with _open_data(path) as handle:
            head = handle.read(_HEAD_BYTES)
            if _sniff(_head_text(path, head)) != ",":
                return False
            handle.seek(0)
            header = handle.readline()
            if b'"' in header or header.count(b"\r") != header.count(b"\r\n"):
                return False
            for block in iter(lambda: handle.read(2**22) + handle.readline(), b""):  # whole lines
                if block.translate(None, _PLAIN_ROWS) or block.count(b"\r") != block.count(b"\r\n"):
                    return False
    except (DataError, OSError):
        return False  # the usual reading says what is wrong
    return True


def _header(path: str, handle: Any, options: dict[str, Any]) -> list[str]:
    """The column names as the header writes them ("" for a column without one, which pandas
    calls ``Unnamed: 3``); a DataError if it names a column twice (spaces around a name aside):
    pandas would call the second ``name.1``, the user's column renamed, and a target named twice
    would be trained on as a feature too."""
    from collections import Counter

    import pandas as pd

    from .errors import DataError

    handle.seek(0)
    first = pd.read_csv(handle, header=None, nrows=1, dtype=str, **dict(options, keep_default_na=False))
    written = [str(name) for name in first.iloc[0]] if len(first) else []
    names = [name.strip() for name in written]
    twice = [name for name, count in Counter(names).items() if count > 1 and name]  # unnamed ones are told apart
    if twice:
        where = [str(n + 1) for n, name in enumerate(names) if name == twice[0]]
        raise DataError(f"{path}: column {_quoted(twice[0])} appears {len(where)} times in the header (columns "
                        f"{', '.join(where[:-1])} and {where[-1]}); name each column once")
    return written


def _text_columns(handle: Any, options: dict[str, Any], text: Iterable[str]) -> dict[str, Any]:
    """pandas' dtype for the columns named in ``text``: str, keyed by the names as the header writes them."""
    import pandas as pd

    handle.seek(0)
    keep = set(text)
    return {raw: str for raw in pd.read_csv(handle, nrows=0, **options).columns if str(raw).strip() in keep}


def _parsed(handle: Any, options: dict[str, Any], rows: int | None) -> Iterator[tuple[Any, bool]]:
    """The file's table (``rows`` rows at a time, or whole), each with whether the parser warned."""
    import pandas as pd

    handle.seek(0)
    parts = pd.read_csv(handle, chunksize=rows, **options) if rows else None
    while True:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            table = pd.read_csv(handle, **options) if parts is None else next(parts, None)
        if table is None:
            return
        yield table, bool(caught)
        if parts is None:
            return


def _may_be_short(table: Any) -> bool:
    """Whether a row of ``table`` may have had fewer cells than the header: pandas fills a short
    row's missing cells, its last ones, with NaN. Where no row's last cell is empty, every row
    had every cell, whatever other cells are empty. Read ``verbatim``, an empty cell is ""."""
    last = table.iloc[:, -1]
    return bool(last.isna().any() or (last.dtype.kind not in "fiub" and last.eq("").any()))


def _check_rows_of(path: str, handle: Any, delimiter: str) -> None:
    """``_check_ragged`` on the whole open file, read as a stream, then back where the handle was."""
    import io

    position = handle.tell()
    handle.seek(0)
    lines = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
    try:
        _check_ragged(path, lines, delimiter)
    except UnicodeDecodeError:
        handle.seek(0)
        _decode(path, handle.read())  # the message names the byte
        raise
    finally:
        lines.detach()
    handle.seek(position)


_HEAD_BYTES = 65536  # read first: the delimiter is told from these


def _open_data(path: str) -> Any:
    import os

    from .errors import DataError
    from .runs import open_regular

    if not os.path.lexists(path):
        raise DataError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataError(f"{path}: is a directory, not a CSV file")
    return open_regular(path, DataError, limit=MAX_DATA_BYTES)


def _decode(path: str, raw: bytes) -> str:
    from .errors import DataError

    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a UTF-8 text file (byte {exc.start}); save the CSV as UTF-8") from None


def file_sha256(path: str) -> str | None:
    """The sha256 of the file's bytes, as a split records it; None if it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return _sha256(handle, b"")[0]
    except OSError:
        return None


def _sha256(handle: Any, head: bytes) -> tuple[str, bool]:
    """The sha256 of the file whose first bytes are ``head``, read on from where ``head`` ended,
    and whether the file holds a double quote."""
    import hashlib

    digest, quoted = hashlib.sha256(head), b'"' in head
    for block in iter(lambda: handle.read(2**20), b""):
        digest.update(block)
        quoted = quoted or b'"' in block
    return digest.hexdigest(), quoted


def _sniff(text: str) -> str:
    """The delimiter of a CSV text (comma, semicolon, tab or bar); a comma when it cannot be told."""
    import csv

    try:
        return csv.Sniffer().sniff("\n".join(text[:65536].splitlines()[:20]), delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _check_ragged(path: str, lines: Iterable[str], delimiter: str) -> None:
    """A DataError naming the first row with more or fewer cells than the header has columns;
    ``lines``: the file's text, a line at a time, newlines kept (a file opened with newline="")."""
    import csv

    from .errors import DataError

    reader = csv.reader(lines, delimiter=delimiter)
    try:
        width = len(next(reader))
        start = reader.line_num + 1  # the line each row begins on: a quoted cell may hold line breaks
        for row in reader:
            if row and len(row) != width and (len(row) > 1 or row[0].strip()):  # a line of spaces is blank
                quote = (f" (this row runs from line {start} to line {reader.line_num} inside quotes: is a quote left "
                         f"open on line {start}?)" if start != reader.line_num else "")
                raise DataError(f"{path}: line {start} has {len(row)} cell{'s' * (len(row) != 1)}, but the header has "
                                f"{width} columns (delimiter {delimiter!r}); every row needs one cell per column{quote}")
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DataError(f"{path}: line {reader.line_num}: not a readable CSV row: {exc}") from None


def _csv_split(data: Any, seed: int) -> Split:
    """``load_split`` for ``dataset: csv``."""
    from .features import apply, fit

    path = data.path
    table = read_table(path, data.delimiter, numbers=True, text=[data.target])
    sha256 = table.attrs["sha256"]
    target = _column(path, table, data.target, "target")
    features = [_column(path, table, name, "feature") for name in data.features] if data.features else \
        [name for name in table.columns if name != target]
    features, left_out = _named(path, table, features)
    _check_features(path, features, target)
    _no_decimal_commas(path, table, features)
    table, notes = _missing(path, table[[*features, target]], data.missing or "error", target)
    notes = left_out + notes
    class_names, y = _classes(path, table[target], target)
    _check_rows(path, y, class_names, data.test_fraction, _validation(data))
    rows, sampled = _sample(y, data.max_rows, seed, path)
    if rows is not None:
        table, y, notes = table.iloc[rows], y[rows], notes + sampled
        _check_rows(path, y, class_names, data.test_fraction, _validation(data))
    lines = np.asarray(table.index)
    train, test, y_train, y_test = split(lines, y, data.test_fraction, seed)
    train, validation, y_train, y_val = split_validation(train, y_train, _validation(data), seed)
    settings = dict(missing=data.missing or "error", standardize=bool(data.standardize), target=target,
                    class_names=class_names, source=path)
    columns = _finite_columns(table, features)
    if columns is not None:  # numbers only, none missing: arrays from here on, without the table's copies
        del table
        parts = [_rows(columns, np.searchsorted(lines, part)) for part in (train, test, validation)]
        del columns
        transform = fit(parts[0], features, **settings)
        parts = [apply(transform, part, path, overwrite=True) for part in parts]
    else:
        parts = [table.loc[part, features] for part in (train, test, validation)]
        for part in parts:
            part.attrs.update(lines=True)
        transform = fit(parts[0], **settings)
        parts = [apply(transform, part, path) for part in parts]
    split_ = Split(parts[0], y_train, parts[1], y_test, transform, sha256, notes)
    if len(y_val):
        split_.X_val, split_.y_val = parts[2], y_val
    return split_


_DECIMAL_COMMA = re.compile(r"\s*[+-]?\d*,\d+\s*")


def _no_decimal_commas(path: str, table: Any, features: list[str]) -> None:
    """A DataError for a feature column of text whose every cell is a number written with a decimal
    comma (0,5): read as they are, its values would be categories, one per number."""
    from .errors import DataError

    for name in features:
        if table[name].dtype.kind in "fiub":
            continue
        cells = table[name].dropna().unique()
        if len(cells) and all(_DECIMAL_COMMA.fullmatch(str(cell)) for cell in cells):  # most stop at the first
            raise DataError(f"{path}: column {_quoted(name)}: its cells are numbers written with a decimal comma "
                            f"({_quoted(cells[0])}), which would be read as categories; write them with a point "
                            "(0.5), as nnfw reads numbers")


def _named(path: str, table: Any, features: list[str]) -> tuple[list[str], list[str]]:
    """``features`` without the columns the header gives no name, and a note of those left out:
    one empty on every line (a delimiter ending each line) is left out; one holding values is a
    DataError (a row number written by pandas' ``to_csv``, perhaps, which no model should learn)."""
    from .errors import DataError

    nameless = {name: n + 1 for n, (name, written) in enumerate(zip(table.columns, table.attrs.get("header", ())))
                if not written.strip() and name in features}
    for name, position in nameless.items():
        if table[name].notna().any():
            raise DataError(f"{path}: column {position} has no name in the header, and values; name it, or pick the "
                            "feature columns with data.features (a row number written by pandas' to_csv has no "
                            "name: write the file with index=False)")
    if not nameless:
        return features, []
    where = ", ".join(map(str, nameless.values()))
    return [name for name in features if name not in nameless], [
        f"left out column{'s' * (len(nameless) > 1)} {where}: no name in the header and no value on any line "
        "(a delimiter ending each line)"]


def _finite_columns(table: Any, features: list[str]) -> list[np.ndarray] | None:
    """The feature columns as float64 arrays if they hold finite numbers only, else None (a cell
    to encode, fill or name in a message: the table's way)."""
    if not all(table[name].dtype.kind in "fiu" for name in features):
        return None
    columns = [table[name].to_numpy(dtype=np.float64) for name in features]
    return columns if all(np.isfinite(column).all() for column in columns) else None


def _rows(columns: list[np.ndarray], positions: np.ndarray, block: int = 4096) -> np.ndarray:
    """The rows at ``positions`` of the matrix whose columns are ``columns``, ``(len(positions),
    len(columns))``: gathered a block of rows at a time, so that the rows being written stay in cache."""
    X = np.empty((len(positions), len(columns)))
    for start in range(0, len(positions), block):
        rows, part = positions[start : start + block], X[start : start + block]
        for j, column in enumerate(columns):
            part[:, j] = column[rows]
    return X


def stratified_rows(y: np.ndarray, n_rows: int, seed: int) -> np.ndarray:
    """The sorted positions of a seeded sample of ``n_rows`` of the labels ``y``, each class in its
    share (largest remainders first) and with at least 2 rows, so that it can still be split.

    ``n_rows`` is exceeded only when it is less than 2 rows a class.
    """
    classes, counts = np.unique(y, return_counts=True)
    if n_rows >= len(y):
        return np.arange(len(y))
    quota = counts * n_rows / len(y)
    take = np.minimum(counts, np.maximum(2, np.floor(quota).astype(np.int64)))
    order = np.argsort(np.floor(quota) - quota, kind="stable")  # largest remainder first
    while take.sum() < n_rows:
        for i in order:
            if take.sum() < n_rows and take[i] < counts[i]:
                take[i] += 1
    for i in np.argsort(-take, kind="stable"):  # 2 a class pushed the total over: take back from the largest
        take[i] -= min(max(take[i] - 2, 0), max(take.sum() - n_rows, 0))
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(y == label), size=int(n), replace=False) for label, n in zip(classes, take)]
    return np.sort(np.concatenate(chosen))


def _sample(y: np.ndarray, max_rows: int | None, seed: int,
            path: str | None = None) -> tuple[np.ndarray | None, list[str]]:
    """The rows ``data.max_rows`` keeps (None: all of them) and a note saying so."""
    from .errors import DataError

    if max_rows is None or max_rows >= len(y):
        return None, []
    k = len(np.unique(y))
    if max_rows < 2 * k:
        raise DataError(f"{path or 'data'}: max_rows={max_rows} is too few for {k} classes: a class needs at least "
                        f"2 rows (one to train on, one to hold out), so at least {2 * k}")
    rows = stratified_rows(y, max_rows, seed)
    return rows, [f"a stratified sample of {len(rows):,} of the {len(y):,} rows (data.max_rows)"]


def _column(path: str, table: Any, name: str, role: str) -> str:
    from .config import did_you_mean
    from .errors import DataError

    if name not in table.columns:
        names = [str(column) for column in table.columns[:30]]
        shown = ", ".join(column if len(column) <= ECHOED_CHARACTERS else _quoted(column) for column in names) \
            + (" ..." if len(table.columns) > 30 else "")
        raise DataError(f"{path}: line 1: no {role} column {name!r}{did_you_mean(name, table.columns)} "
                        f"(the header has: {shown})")
    return name


def _check_features(path: str, features: list[str], target: str) -> None:
    from .errors import DataError

    if target in features:
        raise DataError(f"{path}: the target column {target!r} cannot also be a feature")
    if not features:
        raise DataError(f"{path}: no feature columns: the file has only the target column {target!r}")


def _missing(path: str, table: Any, missing: str, target: str) -> tuple[Any, list[str]]:
    """``table`` without the rows ``missing: drop`` drops, and a note; a DataError for ``error``."""
    from .errors import DataError

    empty = table.isna()
    columns = [name for name in table.columns if empty[name].any() and (missing == "error" or name == target)]
    if missing == "drop":
        rows = empty.any(axis=1)
        if len(table) and rows.all():
            whole = sorted((name for name in table.columns if empty[name].all()), key=lambda name: name != target)
            why = ("every row has a missing value; missing: mean fills them instead" if not whole else
                   f"the target column {_quoted(target)} is empty on every line" if whole[0] == target else
                   f"column {_quoted(whole[0])} is empty on every line; leave it out with data.features, or remove "
                   "it from the file")
            raise DataError(f"{path}: missing: drop would drop every row: {why}")
        lines = list(table.index[rows.to_numpy()])
        note = [f"dropped {len(lines)} row{'s' * (len(lines) != 1)} with missing values "
                f"(line{'s' * (len(lines) != 1)} {_lines(lines)})"] if lines else []
        return table[~rows], note
    if columns:
        name = columns[0]
        lines = list(table.index[empty[name].to_numpy()])
        fix = ("with missing: drop, rows without a class are dropped" if name == target else
               "missing: drop drops such rows, missing: mean fills them from the training rows")
        raise DataError(f"{path}: column {name!r}: {len(lines)} missing value{'s' * (len(lines) != 1)}, on "
                        f"line{'s' * (len(lines) != 1)} {_lines(lines)}; {fix} (missing: error | drop | mean)")
    return table, []


def _lines(lines: list) -> str:
    from .features import SHOWN_ROWS

    shown = ", ".join(str(line) for line in lines[:SHOWN_ROWS])
    return shown + (f" and {len(lines) - SHOWN_ROWS} more" if len(lines) > SHOWN_ROWS else "")


def _classes(path: str, column: Any, target: str) -> tuple[list[str], np.ndarray]:
    """The class names (numbers in numeric order, else in text order) and each row's label."""
    import pandas as pd

    from .errors import DataError
    from .features import shown_cell

    codes, cells = pd.factorize(column)  # each row's cell as a position in cells, the distinct cells
    stripped = [str(cell).strip() for cell in cells]
    names = sorted(set(stripped))
    try:
        names = sorted(names, key=int)
    except ValueError:
        pass
    if len(names) < 2:
        raise DataError(f"{path}: target column {target!r} holds one class ({shown_cell(names[0])}); "
                        "a classifier needs at least two")
    index = {name: i for i, name in enumerate(names)}
    return names, np.array([index[cell] for cell in stripped], dtype=np.int64)[codes]


def _check_rows(path: str, y: np.ndarray, class_names: list[str], test_fraction: float,
                validation_fraction: float = 0.0) -> None:
    """Enough rows of each class to train on some and hold out others (for testing, and validation)."""
    import math

    from .errors import DataError
    from .features import shown_cell

    k, n = len(class_names), len(y)
    if n < 2 * k:
        raise DataError(f"{path}: {n} rows for {k} classes; at least {2 * k} are needed (2 a class: "
                        "one to train on, one to hold out)")
    counts = np.bincount(y, minlength=k)
    if counts.min() < 2:
        name = class_names[int(np.argmin(counts))]
        raise DataError(f"{path}: class {shown_cell(name)} has {counts.min()} row; every class needs at least 2 "
                        "(one to train on, one to hold out)")
    n_test = math.ceil(n * test_fraction)
    if n_test < k or n - n_test < k:
        raise DataError(f"{path}: {n} rows cannot hold out test_fraction={test_fraction} with each of the "
                        f"{k} classes on both sides; change test_fraction or add rows")
    n_val = math.ceil((n - n_test) * validation_fraction)
    if validation_fraction and (n_val < k or n - n_test - n_val < k):
        raise DataError(f"{path}: {n} rows cannot hold out test_fraction={test_fraction} and then "
                        f"validation_fraction={validation_fraction} with each of the {k} classes in every part; "
                        "change the fractions or add rows")


def feature_names(n_features: int) -> list[str]:
    """Column names of the features: ``x, y`` in the plane, ``x1 ... xn`` otherwise."""
    return ["x", "y"] if n_features == 2 else [f"x{i + 1}" for i in range(n_features)]


def read_points(path: str, n_features: int) -> Any:
    """A CSV of points as a DataFrame: all its columns, as text, and the features as floats in ``.attrs``.

    A header is recognised, not assumed: a first row whose cells are all numbers is data, and
    the columns are then named ``x, y`` (or ``x1 ... xn``). Features are the columns named so
    (other columns are kept and ignored), or else all columns by position when there are exactly
    ``n_features``. ``.attrs`` holds ``features``, ``path`` and ``header`` (whether the file has
    one). Raises DataError naming the row and column at fault; a FIFO or device is refused
    before it is opened.
    """
    import pandas as pd

    from .errors import DataError

    with _open_csv(path) as handle:
        cells = _read_cells(path, handle)
    header = not all(_is_number(cell) for cell in cells.iloc[0])
    if header:
        names = [str(name) for name in cells.iloc[0]]
        table = cells.iloc[1:].reset_index(drop=True)
    elif cells.shape[1] == n_features:
        names, table = feature_names(n_features), cells
    else:
        raise DataError(f"{path}: no header (the first row is all numbers) and {cells.shape[1]} columns; without "
                        f"a header the file must have exactly {n_features} columns, the features in order "
                        f"({', '.join(feature_names(n_features))}); or add a header naming them")
    table.columns = names
    positions = _feature_columns(path, names, n_features)
    if table.empty:
        raise DataError(f"{path}: the header has no rows below it")
    features = pd.DataFrame(np.column_stack([_numbers(path, table, i, header) for i in positions]),
                            columns=[names[i] for i in positions])  # by position: a header may name two alike
    table.attrs.update(features=features, path=path, header=header)
    return table


def read_points_plainly(path: str, n_features: int) -> tuple[Any, Any] | None:
    """``read_points`` for a file ``written_plainly``, several times faster: its rows parsed as
    numbers, not text, and each row's cells as written taken from its line. Returns that table
    (its columns numbers where they read as such, its ``.attrs`` as ``read_points`` gives them)
    and the rows' lines, without their ends; None for a file the usual reading would refuse or
    read otherwise (a cell that is not a finite number, a row shorter or longer than the first,
    a blank first line): ``read_points`` then says what is wrong."""
    import io

    import pandas as pd

    from .errors import DataError

    with _open_csv(path) as handle:
        data = handle.read()
    rows = [line for line in data.splitlines() if line]  # blank lines are no rows; CR only in CRLF here
    if not data[:1].strip() or not rows:
        return None
    try:
        with io.BytesIO(rows[0]) as first:
            names = [str(name) for name in _read_cells(path, first).iloc[0]]
        header = not all(_is_number(cell) for cell in names)
        if not header:
            names = feature_names(n_features) if len(names) == n_features else []
        positions = _feature_columns(path, names, n_features)
    except DataError:
        return None
    body = rows[header:]
    lines = b"\n".join(body)
    # no row has more cells than the first (the parser refuses those) nor, with as many commas in all, fewer
    if not body or lines.count(b",") != len(body) * (len(names) - 1):
        return None
    try:
        table = pd.read_csv(io.BytesIO(lines), header=None, index_col=False)
    except (pd.errors.ParserError, ValueError):
        return None
    if table.shape != (len(body), len(names)):
        return None
    table.columns = names
    features = table.iloc[:, positions]
    if any(dtype.kind not in "fiu" for dtype in features.dtypes) or \
            not np.isfinite(features.to_numpy(dtype=np.float64)).all():
        return None
    table.attrs.update(features=features.astype(np.float64), path=path, header=header)
    return table, np.array(lines.decode("ascii").split("\n"), dtype=object)


_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)", re.IGNORECASE)
ECHOED_CHARACTERS = 80  # of a cell or column name quoted in a message: a cell may hold megabytes


def _is_number(cell: Any) -> bool:
    return isinstance(cell, str) and _NUMBER.fullmatch(cell.strip()) is not None


def _quoted(text: Any) -> str:
    """``text`` quoted for a message, cut to about ECHOED_CHARACTERS."""
    text = "" if text is None or text != text else str(text)  # a missing cell (NaN) shows as empty
    if len(text) <= ECHOED_CHARACTERS:
        return repr(text)
    return f"{repr(text[: ECHOED_CHARACTERS - 20])[:ECHOED_CHARACTERS]}... ({len(text):,} characters)"


def _open_csv(path: str) -> Any:
    """``path`` opened for reading in binary; a missing file, folder, FIFO or device is a DataError."""
    import os

    from .errors import DataError
    from .runs import open_regular

    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataError(f"{path}: is a directory, not a CSV file")
    return open_regular(path, DataError)


def _read_cells(path: str, handle: Any) -> Any:
    """Every cell of the file as text, no row taken for a header; a DataError if it cannot be parsed."""
    import pandas as pd

    from .errors import DataError

    try:
        return pd.read_csv(handle, header=None, dtype=str, keep_default_na=False, skipinitialspace=True,
                           index_col=False, encoding="utf-8")
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty; expected a header row and one point per row") from None
    except pd.errors.ParserError as exc:  # a row longer than the first, or a broken quote
        handle.seek(0)
        line, header = _long_line(handle)
        if line is not None:
            first = "the header has columns" if header else "the first row has cells"
            raise DataError(f"{path}: line {line} has more cells than {first}") from None
        raise DataError(f"{path}: not a readable CSV file: {str(exc).strip()[:200]}") from None
    except (UnicodeDecodeError, OSError) as exc:
        raise DataError(f"{path}: not a readable CSV file: {str(exc)[:200]}") from None


def _long_line(handle: Any) -> tuple[int | None, bool]:
    """The number of the first line with more cells than the first row, and whether that row is a header."""
    import csv
    import io

    try:
        reader = csv.reader(io.TextIOWrapper(handle, encoding="utf-8", newline=""), skipinitialspace=True)
        first = next((row for row in reader if row), [])  # the first row not blank
        for row in reader:
            if len(row) > len(first):
                return reader.line_num, not all(_is_number(cell) for cell in first)
    except (OSError, UnicodeDecodeError, csv.Error):
        pass
    return None, True


def _feature_columns(path: str, columns: list[str], n_features: int) -> list[int]:
    """The positions of the feature columns, in the model's order."""
    from .errors import DataError

    stripped = [name.strip() for name in columns]
    for names in (feature_names(n_features), [f"x{i + 1}" for i in range(n_features)]):
        if set(names) <= set(stripped):
            for name in names:
                if stripped.count(name) > 1:
                    raise DataError(f"{path}: column {name!r} appears {stripped.count(name)} times; "
                                    "name each feature column once")
            return [stripped.index(name) for name in names]
    if len(columns) == n_features:
        return list(range(n_features))
    wanted = ", ".join(feature_names(n_features))
    found = ", ".join(name if len(name) <= ECHOED_CHARACTERS else _quoted(name) for name in columns[:20])
    more = f" and {len(columns) - 20} more" if len(columns) > 20 else ""
    raise DataError(f"{path}: expected {n_features} feature columns ({wanted}), or columns with those names; "
                    f"found {len(columns)}: {found}{more}")


def _numbers(path: str, table: Any, position: int, header: bool) -> np.ndarray:
    """The column at ``position`` as floats; a DataError names the first cell that is not a finite number."""
    from .errors import DataError
    from .features import to_numbers

    column = table.iloc[:, position]
    values = to_numbers(column)  # pandas skips ASCII spaces around a number
    missed = np.isnan(values)
    if missed.any():  # other spaces (a no-break space, say) are stripped as Python strips them
        values[missed] = to_numbers(column[missed].str.strip())
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}: row {row + 1} (line {row + 1 + header}), column {_quoted(table.columns[position])}: "
                        f"{_quoted(column.iloc[row])} is not a finite number")
    return values
