"""Feature transforms: fitted on the training rows only, saved with a run, applied alike later.

A ``Transform`` turns a table (a pandas DataFrame of text cells, as ``data.read_table`` gives)
or a numeric array into the model's input matrix, in three steps:

1. encode: numeric columns as floats; a categorical column (text) one-hot, one column per
   category seen in the training rows (a category never seen there is a DataError naming the
   column, the value and the line); missing cells filled from the training rows with
   ``missing: mean`` (a numeric column's mean, a categorical column's most frequent value),
   an error otherwise;
2. expand: for two inputs, the TensorFlow Playground features (``x1_squared``, ``sin_x1``, ...);
3. standardise: minus the training mean, over the training standard deviation.

Everything fitted is plain data (``to_dict()``/``from_dict()``), so a run can keep it as JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from .errors import DataError

# The TensorFlow Playground's features of a point (x1, x2) in the plane.
PLAYGROUND: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "x1": lambda x1, x2: x1,
    "x2": lambda x1, x2: x2,
    "x1_squared": lambda x1, x2: x1 * x1,
    "x2_squared": lambda x1, x2: x2 * x2,
    "x1_x2": lambda x1, x2: x1 * x2,
    "sin_x1": lambda x1, x2: np.sin(x1),
    "sin_x2": lambda x1, x2: np.sin(x2),
}
MISSING = ("error", "drop", "mean")
SHOWN_ROWS = 5  # lines named in a message about missing cells
SHOWN_CHARACTERS = 80  # of a cell quoted in a message


@dataclass
class Transform:
    """What was fitted on the training rows; ``apply`` makes model inputs from a table or an array.

    Args:
        columns: the input columns, in order (a table's columns are matched by these names).
        categories: a categorical column's categories seen in training, in one-hot order.
        fill: a column's value for a missing cell (``missing: mean``); empty otherwise.
        expand: the Playground features made from the two inputs, or None for the inputs as they are.
        mean, scale: standardisation of each output feature, or None.
        target, class_names: the label column (None for generated data) and the class names, in label order.
    """

    columns: list[str]
    categories: dict[str, list[str]] = field(default_factory=dict)
    fill: dict[str, Any] = field(default_factory=dict)
    expand: list[str] | None = None
    mean: list[float] | None = None
    scale: list[float] | None = None
    target: str | None = None
    class_names: list[str] = field(default_factory=list)

    @property
    def encoded_names(self) -> list[str]:
        """The columns after one-hot encoding: ``island=Biscoe`` for a category."""
        return [n for name in self.columns for n in self._names_of(name)]

    def _names_of(self, column: str) -> list[str]:
        if column in self.categories:
            return [f"{column}={value}" for value in self.categories[column]]
        return [column]

    @property
    def feature_names(self) -> list[str]:
        """The names of the model's inputs, in order."""
        return list(self.expand) if self.expand else self.encoded_names

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-able) from which ``from_dict`` makes the same transform."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Transform":
        return cls(**data)


def fit(data: Any, columns: list[str] | None = None, *, missing: str = "error", expand: list[str] | None = None,
        standardize: bool = False, target: str | None = None, class_names: list[str] | None = None,
        source: str = "the data") -> Transform:
    """A Transform fitted on ``data``, the training rows only: a DataFrame of text cells or an array.

    ``columns`` defaults to the table's columns (for an array: ``x1 ... xn``); ``source`` names
    the data in messages.
    """
    array = _numeric_array(data)
    table = _as_table(data, columns) if array is None else None
    columns = list(table.columns) if table is not None else (columns or [f"x{i + 1}" for i in range(array.shape[1])])
    if expand is not None and len(columns) != 2:
        raise DataError(f"the Playground features need two inputs (got {len(columns)}: {', '.join(columns)})")
    if table is None:  # an array of numbers: nothing to encode
        table, numeric, categories = array, dict.fromkeys(columns, True), {}
    else:
        numeric = {name: _is_numeric(table[name]) for name in columns}
        categories = {name: sorted(set(table[name].dropna().map(str).str.strip())) for name in columns if not numeric[name]}
    transform = Transform(columns, categories, expand=expand, target=target, class_names=list(class_names or []))
    if missing == "mean":
        frame = _as_table(data, columns)
        transform.fill = {name: _fill_value(frame[name], numeric[name]) for name in columns}
    if standardize:
        mean, scale = _moments(apply(transform, table, source))
        transform.mean, transform.scale = mean.tolist(), np.where(scale > 0, scale, 1.0).tolist()
    return transform


def _moments(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's mean and standard deviation. A column of numbers so large that their sum or
    their squares overflow (1e300) is divided by its largest magnitude first, and the two
    multiplied by it after: finite, where they would be infinite."""
    with np.errstate(over="ignore", invalid="ignore"):
        mean, scale = X.mean(axis=0), X.std(axis=0)
    large = ~(np.isfinite(mean) & np.isfinite(scale))
    if large.any():
        top = np.abs(X[:, large]).max(axis=0)
        mean[large], scale[large] = (X[:, large] / top).mean(axis=0) * top, (X[:, large] / top).std(axis=0) * top
    return mean, scale


def apply(transform: Transform, data: Any, source: str = "the data", overwrite: bool = False) -> np.ndarray:
    """The model's inputs ``(n_rows, n_features)`` from a DataFrame or an array.

    A table's columns are matched by name, in any order; other columns are ignored. An array
    holds the input columns in ``transform.columns`` order and no categorical column. Rows are
    never dropped here, so the output lines up with the input: a missing cell is filled (as
    fitted with ``missing: mean``) or is a DataError. With ``overwrite``, a float64 array given
    is standardised in place (the caller's to give up: no copy of a large array).
    """
    X = _numeric_array(data) if not transform.categories else None
    made = X is None or X.shape[1] != len(transform.columns)  # a table, or cells that need a message
    if made:
        table = _select(transform, data, source)
        encoded = np.column_stack([_encode(transform, table, name, source) for name in transform.columns]) \
            if len(table) else np.empty((0, len(transform.encoded_names)))
        X = encoded.astype(np.float64, copy=False)
    if transform.expand:
        X, made = np.column_stack([PLAYGROUND[name](X[:, 0], X[:, 1]) for name in transform.expand]), True
    if transform.mean is not None:
        if made or overwrite and X is data:  # an array of this function's, or one given up: the same arithmetic, in place
            X -= np.asarray(transform.mean)
            X /= np.asarray(transform.scale)
        else:
            X = (X - np.asarray(transform.mean)) / np.asarray(transform.scale)
    return X


def labels(transform: Transform, data: Any, source: str = "the data") -> np.ndarray:
    """The integer labels (0 .. k-1, in ``class_names`` order) of a table's target column."""
    if transform.target not in data.columns:
        raise DataError(f"{source}: no target column {transform.target!r}")
    index = {name: i for i, name in enumerate(transform.class_names)}
    cells = data[transform.target].map(lambda cell: cell if cell != cell else str(cell).strip())
    unknown = ~cells.isin(list(index))
    if unknown.any():
        line = cells.index[int(np.flatnonzero(unknown.to_numpy())[0])]
        raise DataError(f"{source}: {_where(data, line)}, column {transform.target!r}: {shown_cell(cells.loc[line])} is "
                        f"not one of the classes the model knows ({', '.join(transform.class_names)})")
    return cells.map(index).to_numpy(dtype=np.int64)


# -- helpers ----------------------------------------------------------------------------------


def _numeric_array(data: Any) -> np.ndarray | None:
    """``data`` as a float64 matrix (not copied when it is one) if it is an array of finite
    numbers; None for a table or anything else, which takes the way that names a bad cell.

    Generated data, millions of rows of it, is such an array: it goes through without a table's copies.
    """
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return None
    try:
        array = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array if array.ndim == 2 and np.isfinite(array).all() else None


def _as_table(data: Any, columns: list[str] | None) -> Any:
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data if columns is None else data[list(columns)]
    array = np.asarray(data, dtype=np.float64)
    names = columns or [f"x{i + 1}" for i in range(array.shape[1])]
    return pd.DataFrame(array, columns=names)


def _select(transform: Transform, data: Any, source: str) -> Any:
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        if transform.categories:
            raise DataError(f"{source}: an array cannot hold the categorical columns "
                            f"{', '.join(transform.categories)}; pass a table")
        array = np.asarray(data, dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != len(transform.columns):
            raise DataError(f"{source}: expected {len(transform.columns)} columns ({', '.join(transform.columns)}), "
                            f"got an array of shape {array.shape}")
        return pd.DataFrame(array, columns=transform.columns)
    absent = [name for name in transform.columns if name not in data.columns]
    if absent:
        from .config import did_you_mean

        hint = did_you_mean(absent[0], list(map(str, data.columns)))
        raise DataError(f"{source}: no column {', '.join(map(repr, absent))}{hint} (the model takes "
                        f"{', '.join(transform.columns)})")
    return data[transform.columns]


def _encode(transform: Transform, table: Any, name: str, source: str) -> np.ndarray:
    """One input column as floats, one-hot ``(n, k)`` if it is categorical."""
    column = table[name]
    missing = column.isna().to_numpy()
    if missing.any() and name not in transform.fill:
        line = column.index[int(np.flatnonzero(missing)[0])]
        raise DataError(f"{source}: {_where(table, line)}, column {name!r}: missing value; "
                        f"the model was fitted without filling missing values")
    if name in transform.categories:
        cells = column.where(~column.isna(), transform.fill.get(name)).map(lambda cell: str(cell).strip())
        known = transform.categories[name]
        unseen = ~cells.isin(known).to_numpy()
        if unseen.any():
            line = cells.index[int(np.flatnonzero(unseen)[0])]
            raise DataError(f"{source}: {_where(table, line)}, column {name!r}: category {shown_cell(cells.loc[line])} "
                            f"was never seen in the training rows (known: {', '.join(map(repr, known[:20]))}); "
                            "remove such rows, or give the file more rows of that category")
        return (cells.to_numpy()[:, None] == np.asarray(known, dtype=object)[None, :]).astype(np.float64)
    return _numbers(column.where(~column.isna(), transform.fill.get(name)), table, name, source)[:, None]


def _numbers(column: Any, table: Any, name: str, source: str) -> np.ndarray:
    """A column as finite floats; a DataError names the first cell that is not a number."""
    if column.dtype.kind in "fiu":
        values = column.to_numpy(dtype=np.float64)
    else:  # cells as written: a number with spaces around it reads as itself; stripping them all is slow
        values = to_numbers(column)
        again = np.isnan(values)  # not a number as it is: perhaps once stripped (a no-break space, say)
        if again.any():
            values[again] = to_numbers(column[again].astype(str).str.strip())
    bad = ~np.isfinite(values)
    if bad.any():
        line = column.index[int(np.flatnonzero(bad)[0])]
        cell = column.loc[line]
        why = " (so written, or a number beyond ±1.8e308, as 1e400)" if isinstance(cell, float) and np.isinf(cell) else ""
        raise DataError(f"{source}: {_where(table, line)}, column {name!r}: {shown_cell(cell)}{why} is not a finite "
                        "number, in a numeric column")
    return values


def to_numbers(cells: Any) -> np.ndarray:
    """Text cells as floats, NaN where one is not a number; as Python and pandas' CSV parser read
    them: pandas' conversion of text is a unit in the last place off for some numbers written with
    a plus (+902.4215555380657), so that sign goes first."""
    import pandas as pd

    try:
        signed = "+" in "\0".join(cells.dropna())  # one search: most columns hold no plus at all
    except TypeError:  # cells that are not text (numbers in a column of objects): each is looked at
        signed = True
    try:
        plus = cells.str.match(r"\s*\+[0-9.]", na=False).to_numpy(dtype=bool) if signed else None
    except AttributeError:  # no text in them at all
        plus = None
    if plus is not None and plus.any():
        cells = cells.copy()
        cells[plus] = cells[plus].str.replace("+", "", n=1, regex=False)
    return pd.to_numeric(cells, errors="coerce").to_numpy(dtype=np.float64, copy=True)


def _is_numeric(column: Any) -> bool:
    """A column is numeric when most of its cells (missing ones aside) read as numbers."""
    import pandas as pd

    if column.dtype.kind in "fiu":
        return True
    cells = column.dropna().map(lambda cell: str(cell).strip())
    return bool(pd.to_numeric(cells, errors="coerce").notna().mean() >= 0.5) if len(cells) else True


def _fill_value(column: Any, numeric: bool) -> Any:
    """The training rows' mean of a numeric column, or the most frequent value of a categorical one."""
    present = column.dropna()
    if numeric:
        values = present.to_numpy(dtype=np.float64) if present.dtype.kind in "fiu" else \
            to_numbers(present.map(lambda cell: str(cell).strip()))  # as ``_numbers`` reads the cells
        if np.isnan(values).all():
            return 0.0
        with np.errstate(over="ignore", invalid="ignore"):
            mean = np.nanmean(values)  # as pandas' mean sums: the gaps as zeros
        return float(mean if np.isfinite(mean) else _moments(values[~np.isnan(values), None])[0][0])
    counts = present.map(lambda cell: str(cell).strip()).value_counts()
    return str(sorted(counts[counts == counts.max()].index)[0]) if len(counts) else ""


def _where(table: Any, line: Any) -> str:
    """``line 12`` for a table read from a file (its index holds the line numbers), else ``row 12``."""
    return f"line {line}" if table.attrs.get("lines") else f"row {line + 1 if isinstance(line, (int, np.integer)) else line}"


def shown_cell(cell: Any) -> str:
    """A cell quoted for a message, cut to about SHOWN_CHARACTERS: a cell may hold megabytes."""
    text = "" if cell is None or cell != cell else str(cell)
    if len(text) <= SHOWN_CHARACTERS:
        return repr(text)
    return f"{repr(text[: SHOWN_CHARACTERS - 20])}... ({len(text):,} characters)"
