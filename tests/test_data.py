"""nnfw_cli.data: datasets made from a seed, the stratified split, points read from CSV files."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from nnfw_cli import data
from nnfw_cli.config import DataConfig
from nnfw_cli.data import DATASETS, SOURCES, load_split, make_dataset, read_points, split
from nnfw_cli.errors import DataError

NAMES = sorted(DATASETS)


@pytest.mark.parametrize("name", NAMES)
def test_a_dataset_is_reproducible_from_its_seed(name):
    first, again, other = (make_dataset(name, 200, 0.1, seed) for seed in (7, 7, 8))
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n_samples", [201, 1000])
def test_shapes_types_and_class_balance(name, n_samples):
    X, y = make_dataset(name, n_samples, DATASETS[name].default_noise, 0)
    assert X.shape == (n_samples, DATASETS[name].n_features) and X.dtype == np.float64
    assert y.shape == (n_samples,) and y.dtype == np.int64
    counts = np.bincount(y, minlength=DATASETS[name].n_classes)
    assert len(counts) == DATASETS[name].n_classes
    # xor's classes are the quadrants uniform points fall in: even only on average (four standard
    # deviations of the binomial difference allowed); the others are made even.
    tolerance = 4 * np.sqrt(n_samples) if name == "xor" else 1
    assert np.ptp(counts) <= tolerance, counts
    assert np.isfinite(X).all()


@pytest.mark.parametrize("name", [name for name in NAMES if "classes" in DATASETS[name].options])
def test_k_classes_in_even_shares(name):
    X, y = make_dataset(name, 301, DATASETS[name].default_noise, 0, classes=3)
    assert X.shape == (301, 2) and np.ptp(np.bincount(y)) <= 1 and set(y) == {0, 1, 2}


@pytest.mark.parametrize("name", SOURCES)
def test_every_source_splits_the_same_from_the_same_seed(tmp_path, name):
    settings: dict = {"dataset": name}
    if name == "csv":
        rng = np.random.default_rng(0)
        rows = [f"{a:.6f},{b:.6f},{'red' if a + b > 0 else 'blue'}" for a, b in rng.normal(size=(60, 2))]
        (tmp_path / "points.csv").write_text("a,b,kind\n" + "\n".join(rows) + "\n")
        settings.update(path=str(tmp_path / "points.csv"), target="kind")
    data = DataConfig.model_validate(settings)
    first, again, other = (load_split(data, seed) for seed in (1, 1, 2))
    for part in ("X_train", "y_train", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(first, part), getattr(again, part))
    assert not np.array_equal(first.X_test, other.X_test)
    assert len(first.X_train) > len(first.X_test) > 0


@pytest.mark.parametrize("name", NAMES)
def test_noise_spreads_the_points(name):
    X, _ = make_dataset(name, 500, 0.0, 0)
    noisy, _ = make_dataset(name, 500, 0.5, 0)
    assert np.std(noisy) > np.std(X)


def test_noise_free_circles_lie_on_their_two_circles():
    X, y = make_dataset("circles", 400, 0.0, 0, factor=0.3)
    radius = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radius[y == 0], 1.0)
    np.testing.assert_allclose(radius[y == 1], 0.3)


def test_noise_free_xor_labels_by_quadrant():
    X, y = make_dataset("xor", 400, 0.0, 0)
    assert np.abs(X).max() <= 1
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] > 0).astype(int))


def test_noise_free_spirals_lie_in_the_unit_disc_half_a_turn_apart():
    X, y = make_dataset("spiral", 2000, 0.0, 0)
    assert np.hypot(X[:, 0], X[:, 1]).max() <= 1
    # Half a turn apart: each arm turned by 180 degrees lies on the other.
    turned = -X[y == 1]
    gaps = np.linalg.norm(turned[:, None, :] - X[y == 0][None, :, :], axis=2).min(axis=1)
    assert gaps.max() < 0.05
    across = np.linalg.norm(X[y == 1][:, None, :] - X[y == 0][None, :, :], axis=2).min(axis=1)
    assert np.median(across) > 4 * np.median(gaps)  # and the arms themselves are apart


def test_gaussian_blobs_sit_around_their_centres():
    X, y = make_dataset("gaussian", 2000, 0.5, 0)
    np.testing.assert_allclose(X[y == 0].mean(axis=0), [-1, -1], atol=0.1)
    np.testing.assert_allclose(X[y == 1].mean(axis=0), [1, 1], atol=0.1)


# -- split ------------------------------------------------------------------------------------


def _rows(X: np.ndarray) -> set[tuple]:
    return {tuple(row) for row in X}


@pytest.mark.parametrize("chunk", [None, 150])  # None: at once; 150: in runs of rows, as large data is
@pytest.mark.parametrize("test_fraction", [0.2, 0.5])
def test_split_is_disjoint_complete_and_stratified(test_fraction, chunk, monkeypatch):
    if chunk:
        monkeypatch.setattr(data, "MAKE_CHUNK", chunk)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 2))
    y = (rng.random(500) < 0.3).astype(np.int64)  # 30% of class 1
    X_train, X_test, y_train, y_test = split(X, y, test_fraction, seed=1)
    assert abs(len(X_test) - 500 * test_fraction) <= (1 if chunk is None else 4) and len(X_train) + len(X_test) == 500
    assert not _rows(X_train) & _rows(X_test)
    assert _rows(X_train) | _rows(X_test) == _rows(X)
    for X_part, y_part in ((X_train, y_train), (X_test, y_test)):  # rows keep their labels
        lookup = {tuple(row): label for row, label in zip(X, y)}
        assert all(lookup[tuple(row)] == label for row, label in zip(X_part, y_part))
    runs = 1 if chunk is None else 4  # each run of rows rounds its own shares
    assert abs(y_test.mean() - y.mean()) < runs / len(y_test) + 1e-12
    assert abs(y_train.mean() - y.mean()) < runs / len(y_train) + 1e-12


def test_a_large_split_is_reproducible_and_splits_at_once_when_a_class_is_too_rare(monkeypatch):
    monkeypatch.setattr(data, "MAKE_CHUNK", 100)
    X, y = make_dataset("moons", 450, 0.1, 0)
    first, again, other = (split(X, y, 0.2, seed) for seed in (3, 3, 4))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[1], other[1])
    y = np.zeros(450, dtype=np.int64)
    y[[0, 440]] = 1  # two rows of class 1, in different runs of rows: the split takes all rows at once
    X_train, X_test, y_train, y_test = split(X, y, 0.5, 0)
    assert sorted(y_test.tolist()).count(1) == 1 and sorted(y_train.tolist()).count(1) == 1


@pytest.mark.parametrize("name", list(DATASETS))
def test_large_data_is_made_a_chunk_at_a_time_and_small_data_as_before(name, monkeypatch):
    small = make_dataset(name, 300, 0.1, 5)
    generator = DATASETS[name].make(300, 0.1, 5)
    np.testing.assert_array_equal(small[0], generator[0])  # up to MAKE_CHUNK: the generator's own data
    monkeypatch.setattr(data, "MAKE_CHUNK", 120)
    X, y = make_dataset(name, 300, 0.1, 5)
    again = make_dataset(name, 300, 0.1, 5)
    assert X.shape == (300, 2) and X.dtype == np.float64 and y.dtype == np.int64
    np.testing.assert_array_equal(X, again[0])
    assert not np.array_equal(X, small[0])  # chunks of their own seeds
    if np.ptp(np.bincount(small[1])) <= 1:  # a generator that makes its classes in even shares
        assert np.ptp(np.bincount(y)) <= 3  # still does so, within a row a chunk
    assert len(np.unique(X, axis=0)) == 300  # no chunk repeats another


def _labels(case: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Labels of ``n`` rows: two even classes, a rare class, three classes, five uneven ones."""
    if case == "even":
        return np.arange(n) % 2
    if case == "rare":
        return (rng.random(n) < 0.04).astype(np.int64)
    shares = {"three": [1, 1, 1], "uneven": [8, 4, 2, 1, 1]}[case]
    return rng.choice(len(shares), n, p=np.array(shares) / sum(shares)).astype(np.int64)


@pytest.mark.parametrize("case", ["even", "rare", "three", "uneven"])
@pytest.mark.parametrize("n", [57, 400, 2001])
def test_split_takes_the_rows_scikit_learns_train_test_split_takes(case, n):
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng(n)
    y = _labels(case, n, rng)
    X, index = rng.normal(size=(n, 2)), np.arange(100, 100 + n)  # points, and a CSV table's row labels
    for seed in (0, 1, 7, 12345):
        for test_fraction in (0.2, 0.35):
            for rows in (X, index):
                try:
                    theirs = train_test_split(rows, y, test_size=test_fraction, stratify=y, random_state=seed)
                except ValueError as exc:  # a class too rare to split: the same refusal, word for word
                    with pytest.raises(ValueError, match=f"^{re.escape(str(exc))}$"):
                        split(rows, y, test_fraction, seed)
                    continue
                for a, b in zip(split(rows, y, test_fraction, seed), theirs):
                    assert a.dtype == b.dtype and a.flags.c_contiguous
                    np.testing.assert_array_equal(a, b)


def test_split_positions_are_stratified_shuffle_splits_even_when_classes_tie():
    """Equal classes leave equal remainders, which scikit-learn's split shares out at random."""
    from sklearn.model_selection import StratifiedShuffleSplit

    rng = np.random.default_rng(5)
    for _ in range(60):
        k, size = int(rng.integers(2, 8)), int(rng.integers(2, 40))
        y = np.repeat(np.arange(k), size) if rng.random() < 0.7 else rng.integers(0, k, k * size)
        y = y[rng.permutation(len(y))]
        test_fraction, seed = float(rng.uniform(0.05, 0.95)), int(rng.integers(2**31))
        splitter = StratifiedShuffleSplit(n_splits=1, test_size=test_fraction, random_state=seed)
        try:
            theirs = next(splitter.split(y, y))
        except ValueError:
            with pytest.raises(ValueError):
                data.split_rows(y, test_fraction, seed)
            continue
        for a, b in zip(data.split_rows(y, test_fraction, seed), theirs):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("case", ["even", "rare", "three"])
def test_a_split_in_runs_of_rows_takes_the_rows_each_runs_train_test_split_takes(case, monkeypatch):
    from sklearn.model_selection import train_test_split

    monkeypatch.setattr(data, "MAKE_CHUNK", 300)
    rng = np.random.default_rng(3)
    y = _labels(case, 1000, rng)
    X = rng.normal(size=(1000, 2))
    bounds = [0, 250, 500, 750, 1000]  # four equal runs of rows
    for seed in (0, 5):
        parts = [train_test_split(np.arange(a, b), test_size=0.2, stratify=y[a:b], random_state=data.chunk_seed(seed, i))
                 for i, (a, b) in enumerate(zip(bounds, bounds[1:]))]
        train, test = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        for a, b in zip(split(X, y, 0.2, seed), (X[train], X[test], y[train], y[test])):
            np.testing.assert_array_equal(a, b)


def test_split_is_reproducible_from_its_seed():
    X, y = make_dataset("moons", 300, 0.1, 0)
    first, again, other = (split(X, y, 0.2, seed) for seed in (3, 3, 4))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[1], other[1])


# -- read_points ------------------------------------------------------------------------------


def _csv(tmp_path, text: str) -> str:
    path = tmp_path / "points.csv"
    path.write_text(text)
    return str(path)


def test_read_points_by_name_keeps_every_column(tmp_path):
    table = read_points(_csv(tmp_path, "id,y,x\na,2,1\nb,4.5,-3\n"), 2)
    assert list(table.columns) == ["id", "y", "x"]
    features = table.attrs["features"]
    assert list(features.columns) == ["x", "y"]
    np.testing.assert_array_equal(features.to_numpy(), [[1.0, 2.0], [-3.0, 4.5]])


def test_read_points_by_position_when_the_count_fits(tmp_path):
    features = read_points(_csv(tmp_path, "a,b\n1, 2\n3,4e-1\n"), 2).attrs["features"]
    np.testing.assert_array_equal(features.to_numpy(), [[1.0, 2.0], [3.0, 0.4]])


def test_read_points_reads_numbers_as_python_does(tmp_path):
    """A number written with a plus, or with spaces around it, reads as float() reads it: pandas'
    conversion of text alone is a unit in the last place off for some with a plus."""
    cells = ["+902.4215555380657", " +240.14363833505402", "+714338e-168", "\u00a0+.5", "-902.4215555380657"]
    text = "x,y\n" + "".join(f"{cell},{cell}\n" for cell in cells)
    features = read_points(_csv(tmp_path, text), 2).attrs["features"]
    assert features["x"].tolist() == features["y"].tolist() == [float(cell) for cell in cells]


def test_read_points_by_position_under_a_header_naming_two_alike(tmp_path):
    features = read_points(_csv(tmp_path, "a,b,b\n1,2,3\n"), 3).attrs["features"]
    assert list(features.columns) == ["a", "b", "b"]
    np.testing.assert_array_equal(features.to_numpy(), [[1.0, 2.0, 3.0]])


def test_read_points_with_more_features(tmp_path):
    features = read_points(_csv(tmp_path, "x3,x1,x2\n3,1,2\n"), 3).attrs["features"]
    assert list(features.columns) == ["x1", "x2", "x3"]
    np.testing.assert_array_equal(features.to_numpy(), [[1.0, 2.0, 3.0]])


@pytest.mark.parametrize("text, needles", [
    ("x,y\n0,0\n1,abc\n", ["row 2 (line 3), column 'y': 'abc' is not a finite number"]),
    ("x,y\n0,inf\n", ["row 1 (line 2), column 'y': 'inf' is not a finite number"]),
    ("x,y\n0,\n", ["row 1 (line 2), column 'y'"]),
    ("", ["the file is empty"]),
    ("x,y\n", ["the header has no rows below it"]),
    ("a,b,c\n1,2,3\n", ["expected 2 feature columns (x, y)", "found 3: a, b, c"]),
    ("x,y\n1,2,3\n", ["line 2 has more cells than the header"]),
    ("x,y\n1,2\n3,4,5\n", ["line 3"]),
], ids=["text", "infinite", "empty-cell", "empty-file", "header-only", "columns", "long-first-row", "long-row"])
def test_read_points_names_what_is_wrong(tmp_path, text, needles):
    path = _csv(tmp_path, text)
    with pytest.raises(DataError) as caught:
        read_points(path, 2)
    assert str(caught.value).startswith(path)
    for needle in needles:
        assert needle in str(caught.value)


def test_read_points_of_a_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_points(str(tmp_path / "nowhere.csv"), 2)


SPACES = [" ", "\t", "\u00a0", "\u2003", "\u3000", "\x0b", "\x0c"]  # what Python's str.strip() removes, ASCII or not


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells=st.lists(st.tuples(st.floats(min_value=-1e300, max_value=1e300),
                                st.sampled_from(["", *SPACES]), st.sampled_from(["", *SPACES]),
                                st.sampled_from(["r", ".6g", ".3e", "d"])), min_size=1, max_size=30))
def test_read_points_reads_a_number_with_any_spaces_around_it_as_python_strips_them(tmp_path, cells):
    texts = [before + (repr(value) if spec == "r" else format(int(value) if spec == "d" and abs(value) < 1e15
                                                              else value, ".0f" if spec == "d" else spec)) + after
             for value, before, after, spec in cells]
    path = tmp_path / "spaces.csv"
    path.write_text("x,y\n" + "".join(f"{text},1\n" for text in texts), encoding="utf-8")
    features = read_points(str(path), 2).attrs["features"]
    np.testing.assert_array_equal(features["x"].to_numpy(), [float(text.strip()) for text in texts])
