"""Datasets by name, and the stratified train/test split.

scikit-learn makes moons, circles and the two Gaussian blobs; XOR and the two spirals (the other
TensorFlow Playground pictures) have no scikit-learn generator and are made here. scikit-learn is
imported inside the functions, so that naming a dataset (to validate a config) costs nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

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


def _spiral(n_samples: int, noise: float, seed: int, turns: float = 1.75) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals of radius 1, half a turn apart, with Gaussian jitter."""
    rng = np.random.default_rng(seed)
    y = np.arange(n_samples) % 2
    r = rng.uniform(0.0, 1.0, size=n_samples)
    angle = 2 * np.pi * turns * r + np.pi * y
    X = np.column_stack([r * np.sin(angle), r * np.cos(angle)])
    return X + rng.normal(0.0, noise, size=X.shape), y


DATASETS: dict[str, Dataset] = {
    "moons": Dataset(_moons, default_noise=0.1),
    "circles": Dataset(_circles, default_noise=0.04, options=("factor",)),
    "xor": Dataset(_xor, default_noise=0.05),
    "spiral": Dataset(_spiral, default_noise=0.03),
    "gaussian": Dataset(_gaussian, default_noise=0.7),
}


def make_dataset(name: str, n_samples: int, noise: float, seed: int, **options: Any) -> tuple[np.ndarray, np.ndarray]:
    """``X`` (n_samples, n_features) as float64 and integer labels ``y`` (n_samples,)."""
    X, y = DATASETS[name].make(n_samples, noise, seed, **options)
    return np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64)


def split(
    X: np.ndarray, y: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stratified, seeded split: ``X_train, X_test, y_train, y_test``."""
    from sklearn.model_selection import train_test_split

    return train_test_split(X, y, test_size=test_fraction, stratify=y, random_state=seed)


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
    features = pd.DataFrame({names[i]: _numbers(path, table, i, header) for i in positions})
    table.attrs.update(features=features, path=path, header=header)
    return table


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


def _numbers(path: str, table: Any, position: int, header: bool) -> Any:
    """The column at ``position`` as floats; a DataError names the first cell that is not a finite number."""
    import pandas as pd

    from .errors import DataError

    column = table.iloc[:, position]
    values = pd.to_numeric(column.str.strip(), errors="coerce")
    bad = values.isna() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{path}: row {row + 1} (line {row + 1 + header}), column {_quoted(table.columns[position])}: "
                        f"{_quoted(column.iloc[row])} is not a finite number")
    return values.astype(float).reset_index(drop=True)
