"""Datasets by name, and the stratified train/test split.

scikit-learn makes moons, circles and the two Gaussian blobs; XOR and the two spirals (the other
TensorFlow Playground pictures) have no scikit-learn generator and are made here. scikit-learn is
imported inside the functions, so that naming a dataset (to validate a config) costs nothing.
"""

from __future__ import annotations

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
    """A CSV of points as a DataFrame: all its columns, and the features as floats in ``.attrs``.

    Features are the columns named ``x, y`` (or ``x1 ... xn``), or else all columns by position
    when there are exactly ``n_features``. Raises DataError naming the row and column at fault.
    """
    import warnings

    import pandas as pd

    from .errors import DataError

    try:
        with warnings.catch_warnings():
            # A row longer than the header: pandas would take its first cell for an index, or
            # (index_col=False) drop its last cells with only a warning.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True, index_col=False)
    except pd.errors.ParserWarning:
        raise DataError(f"{path}: line {_long_line(path)} has more cells than the header has columns") from None
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, not a CSV file") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty; expected a header row and one point per row") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise DataError(f"{path}: not a readable CSV file: {exc}") from None
    columns = _feature_columns(path, list(table.columns), n_features)
    if table.empty:
        raise DataError(f"{path}: the header has no rows below it")
    features = pd.DataFrame({name: _numbers(path, table, name) for name in columns})
    table.attrs["features"] = features
    table.attrs["path"] = path
    return table


def _long_line(path: str) -> int | str:
    """The number of the first line with more cells than the header (for the message)."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle, skipinitialspace=True)
            width = next((len(row) for row in reader if row), 0)  # the header: the first row not blank
            for row in reader:
                if len(row) > width:
                    return reader.line_num
    except (OSError, UnicodeDecodeError, csv.Error):
        pass
    return "?"


def _feature_columns(path: str, columns: list[str], n_features: int) -> list[str]:
    from .errors import DataError

    for names in (feature_names(n_features), [f"x{i + 1}" for i in range(n_features)]):
        if set(names) <= set(columns):
            return names
    if len(columns) == n_features:
        return columns
    wanted = ", ".join(feature_names(n_features))
    raise DataError(f"{path}: expected {n_features} feature columns ({wanted}), or columns with those names; "
                    f"found {len(columns)}: {', '.join(map(str, columns))}")


def _numbers(path: str, table: Any, column: str) -> Any:
    import pandas as pd

    from .errors import DataError

    values = pd.to_numeric(table[column].str.strip(), errors="coerce")
    bad = values.isna() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        cell = table[column].iloc[row]
        raise DataError(f"{path}: row {row + 1} (line {row + 2}), column {column!r}: "
                        f"{cell!r} is not a finite number")
    return values.astype(float)
