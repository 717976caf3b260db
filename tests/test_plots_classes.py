"""The pictures of k >= 2 classes: confusion matrix, one-vs-rest ROC curves, decision regions,
subsampled points; and the two-class pictures exactly as they were."""

from __future__ import annotations

import hashlib
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from nnfw_cli import plots
from nnfw_cli.metrics import confusion_counts, macro_roc_auc

pytestmark = pytest.mark.filterwarnings("error")  # a picture that warns (glyphs, layout, NaN) fails

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LONG_NAMES = ["Adelie", "Chinstrap penguin (Pygoscelis antarctica)", "Gentoo", "Emperor", "Little blue penguin",
              "Macaroni", "King penguin of the far south", "Rockhopper", "Royal", "Humboldt"]


def _names(k: int) -> list[str]:
    return LONG_NAMES[:k] if k <= len(LONG_NAMES) else [f"category number {i} of many" for i in range(k)]


def _classes(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """k Gaussian blobs around a circle: ``(X, y)``."""
    y = rng.integers(0, k, n)
    angle = 2 * np.pi * y / k
    return rng.normal(size=(n, 2)) + 3 * np.column_stack([np.cos(angle), np.sin(angle)]), y


def _softmax(X: np.ndarray, k: int, sharpness: float = 1.5) -> np.ndarray:
    """A stand-in model: the class whose direction X points in is the most probable."""
    angle = 2 * np.pi * np.arange(k) / k
    logits = sharpness * X @ np.vstack([np.cos(angle), np.sin(angle)])
    logits -= logits.max(axis=1, keepdims=True)
    return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def _saved_png(fig, path: Path, dpi: int = 60) -> bytes:
    width, height = fig.get_size_inches()
    plots.save_figure(fig, path, dpi=dpi)
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    from matplotlib.image import imread

    assert imread(path).shape[:2] == (round(height * dpi), round(width * dpi))
    return data


def _legend_texts(fig) -> list[str]:
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    return [text.get_text() for legend in legends for text in legend.get_texts()]


def _legend_titles(fig) -> list[str]:
    return [legend.get_title().get_text() for legend in fig.legends]


def _assert_laid_out(fig) -> None:
    """Every axes with its labels and title inside the figure; legends inside it, clear of every axes;
    no two level tick labels of an axis overlapping (turned ones have square boxes that would)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    page = fig.bbox.padded(1.0)
    boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]
    for box in boxes + [text.get_window_extent(renderer) for text in fig.texts if text.get_text()]:
        assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1, (box, page)
    for legend in fig.legends:
        frame = legend.get_window_extent(renderer)
        assert page.x0 <= frame.x0 and frame.x1 <= page.x1 and page.y0 <= frame.y0 and frame.y1 <= page.y1
        assert not any(frame.overlaps(ax.get_window_extent(renderer)) for ax in fig.axes), "a legend covers a plot"
    for ax in fig.axes:
        for labels in (ax.get_xticklabels(), ax.get_yticklabels()):
            shown = [label.get_window_extent(renderer) for label in labels
                     if label.get_visible() and label.get_text() and label.get_rotation() == 0]
            for a, b in zip(shown, shown[1:]):
                assert not a.overlaps(b), f"tick labels overlap: {a} {b}"


# -- confusion matrix -------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("k", [2, 3, 5, 10, 15])
def test_confusion_matrix_for_each_k(tmp_path: Path, rng: np.random.Generator, k: int) -> None:
    X, y = _classes(rng, 60 * k, k)
    counts = confusion_counts(y, _softmax(X, k))["counts"]
    fig = plots.confusion_matrix(counts, _names(k), title=f"blobs · {k} classes")
    left, right = fig.axes
    assert (left.get_title(), right.get_title()) == ("counts", "share of each true class")
    shortened = [plots._short(name) for name in _names(k)]
    assert [label.get_text() for label in left.get_xticklabels()] == shortened
    assert [label.get_text() for label in left.get_yticklabels()] == shortened
    assert [label.get_text() for label in right.get_xticklabels()] == shortened
    assert len(left.texts) == len(right.texts) == k * k
    assert [text.get_text() for text in left.texts] == [str(n) for n in np.ravel(counts)]
    _assert_laid_out(fig)
    _saved_png(fig, tmp_path / "confusion.png")


def test_confusion_matrix_cells_are_parted_by_lines_and_the_rows_named_once() -> None:
    from matplotlib.collections import LineCollection

    k = 4
    fig = plots.confusion_matrix(np.eye(k, dtype=int) * 5)
    edges = np.arange(k + 1) - 0.5
    expected = sorted([((-0.5, e), (k - 0.5, e)) for e in edges] + [((e, -0.5), (e, k - 0.5)) for e in edges])
    for ax in fig.axes:
        (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
        assert sorted(tuple(map(tuple, segment)) for segment in lines.get_segments()) == expected
        assert len(ax.xaxis.get_minorticklocs()) == len(ax.yaxis.get_minorticklocs()) == 0
    assert len(fig.axes[0].get_yticks()) == k and len(fig.axes[1].get_yticks()) == 0


def test_confusion_matrix_shares_are_of_each_row() -> None:
    fig = plots.confusion_matrix([[3, 1, 0], [0, 0, 0], [1, 1, 2]])  # class 1 absent from the data
    left, right = fig.axes
    assert [text.get_text() for text in right.texts] == ["75.0%", "25.0%", "0", "", "", "", "25.0%", "25.0%", "50.0%"]
    assert [label.get_text() for label in left.get_yticklabels()] == ["0", "1", "2"]
    assert right.images[0].get_array().mask[1].all()  # the empty row is blank, not NaN-coloured


def test_confusion_matrix_big_counts_stay_short() -> None:
    fig = plots.confusion_matrix([[1_234_567, 45_678], [999, 123_456]])
    assert [text.get_text() for text in fig.axes[0].texts] == ["1.2M", "45.7k", "999", "123k"]
    assert [text.get_text() for text in fig.axes[1].texts] == ["96.4%", "3.6%", "0.8%", "99.2%"]


def test_confusion_matrix_short_names_stay_level() -> None:
    fig = plots.confusion_matrix(np.eye(3, dtype=int) * 5, ["a", "b", "c"])
    assert all(label.get_rotation() == 0 for label in fig.axes[0].get_xticklabels())
    fig = plots.confusion_matrix(np.eye(3, dtype=int) * 5, LONG_NAMES[:3])
    assert all(label.get_rotation() == 45 for label in fig.axes[0].get_xticklabels())


@pytest.mark.parametrize("counts, names", [
    (np.zeros((2, 3), dtype=int), None),
    ([[1, -1], [0, 2]], None),
    ([[1.5, 0], [0, 2]], None),
    (np.zeros((0, 0)), None),
    (np.eye(2, dtype=int), ["only one"]),
])
def test_confusion_matrix_rejects(counts, names) -> None:
    with pytest.raises(ValueError):
        plots.confusion_matrix(counts, names)


# -- ROC curves -------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("k", [3, 5, 10])
def test_roc_curves_one_vs_rest(tmp_path: Path, rng: np.random.Generator, k: int) -> None:
    from sklearn.metrics import roc_auc_score

    X, y = _classes(rng, 80 * k, k)
    proba = _softmax(X, k, sharpness=0.5)
    fig = plots.roc_curve(y, proba, title=f"{k} classes", class_names=_names(k))
    texts = _legend_texts(fig)
    assert texts[0] == f"macro average · AUC {macro_roc_auc(y, proba):.4f}"
    for label, name in enumerate(_names(k)):
        assert f"{plots._short(name)} · AUC {roc_auc_score(y == label, proba[:, label]):.4f}" in texts
    assert texts[-1] == "chance (AUC = 0.5)"
    ax = fig.axes[0]
    assert len(ax.get_lines()) == k + 2 and ax.get_aspect() == 1.0
    _assert_laid_out(fig)
    _saved_png(fig, tmp_path / "roc.png")


def test_roc_curves_macro_average_is_the_mean_curve(rng: np.random.Generator) -> None:
    X, y = _classes(rng, 300, 3)
    proba = _softmax(X, 3, sharpness=0.4)
    fig = plots.roc_curve(y, proba)
    macro = fig.axes[0].get_lines()[0]
    area = np.trapezoid(macro.get_ydata(), macro.get_xdata())
    assert area == pytest.approx(macro_roc_auc(y, proba), abs=1e-9)  # the AUC the legend (and metrics) report


def test_roc_curves_with_a_class_missing(rng: np.random.Generator) -> None:
    X, y = _classes(rng, 300, 4)
    keep = y != 2
    fig = plots.roc_curve(y[keep], _softmax(X[keep], 4), class_names=["a", "b", "c", "d"])
    assert "c · not in the data" in _legend_texts(fig)
    assert len(fig.axes[0].get_lines()[3].get_xdata()) == 0  # no curve for class 2
    _assert_laid_out(fig)


def test_roc_curves_need_two_classes_and_finite_scores(rng: np.random.Generator) -> None:
    proba = _softmax(rng.normal(size=(20, 2)), 3)
    with pytest.raises(ValueError, match="two classes"):
        plots.roc_curve(np.zeros(20, dtype=int), proba)
    proba[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        plots.roc_curve(np.arange(20) % 3, proba)
    with pytest.raises(ValueError, match="labels"):
        plots.roc_curve(np.arange(20) % 4, proba)


# -- decision regions -------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("k", [3, 5, 10])
def test_decision_regions(tmp_path: Path, rng: np.random.Generator, k: int) -> None:
    X, y = _classes(rng, 100 * k, k)
    grid = plots.boundary_grid(X, 60)
    cut = int(0.8 * len(X))
    fig = plots.decision_boundary(_softmax(grid[2], k), grid, X[:cut], y[:cut], X[cut:], y[cut:],
                                  f"blobs · 2-16-{k}", class_names=_names(k), feature_names=["bill length (mm)", "x"])
    ax = fig.axes[0]
    assert ax.get_title() == f"blobs · 2-16-{k}" and ax.get_aspect() == 1.0
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("bill length (mm)", "x")
    texts = [text for text in _legend_texts(fig) if text]  # blank entries keep the key on a row of its own
    assert sorted(texts) == sorted([plots._short(name) for name in _names(k)] + ["train", "test", "class boundary"])
    assert _legend_titles(fig) == [""]  # nothing left out
    assert "largest class probability" in [a.get_ylabel() for a in ax.child_axes]
    _assert_laid_out(fig)
    _saved_png(fig, tmp_path / "regions.png")


def test_decision_regions_colour_each_class_lighter_where_unsure() -> None:
    colors = plots.class_colors(3)
    proba = np.array([[[1.0, 0.0, 0.0], [0.2, 0.7, 0.1], [1 / 3, 1 / 3, 1 / 3], [np.nan, 0.5, 0.5]]])
    image = plots._region_colours(proba, colors)
    low, high = plots.REGION_STRENGTH
    np.testing.assert_allclose(image[0, 0], 1 - high * (1 - np.array(colors[0][:3])))
    surest = 1 - high * (1 - np.array(colors[1][:3]))
    assert np.all(image[0, 1] >= surest) and image[0, 1].sum() > surest.sum()  # class 1, less sure: lighter
    np.testing.assert_allclose(image[0, 2], 1 - low * (1 - np.array(colors[0][:3])))  # a guess: faintest
    np.testing.assert_allclose(image[0, 3], 1.0)  # no output: white


@pytest.mark.slow
def test_decision_regions_accept_a_diverged_output(rng: np.random.Generator) -> None:
    X, y = _classes(rng, 200, 3)
    grid = plots.boundary_grid(X, 30)
    proba = _softmax(grid[2], 3)
    proba[:450] = np.nan
    with np.errstate(invalid="ignore"):
        _assert_laid_out(plots.decision_boundary(proba, grid, X, y, X[:0], y[:0], "diverged"))


@pytest.mark.slow
def test_decision_regions_of_many_classes_and_long_names(rng: np.random.Generator) -> None:
    X, y = _classes(rng, 900, 15)
    grid = plots.boundary_grid(X, 40)
    fig = plots.decision_boundary(_softmax(grid[2], 15), grid, X, y, X[:0], y[:0], "15 classes",
                                  class_names=_names(15))
    _assert_laid_out(fig)
    assert len(set(map(tuple, plots.class_colors(15)))) == 15


def test_class_colors_are_distinct_and_stable() -> None:
    assert plots.class_colors(2) == list(plots._class_colors())  # the two-class pictures' colours
    for k in (3, 10, 20, 25):
        colors = plots.class_colors(k)
        assert len(colors) == k == len(set(map(tuple, colors)))
        assert colors == plots.class_colors(k)


# -- at most MAX_POINTS_PER_CLASS points a class ----------------------------------------------


def _drawn_points(ax) -> int:
    return sum(len(collection.get_offsets()) for collection in ax.collections
               if isinstance(collection, matplotlib.collections.PathCollection))


@pytest.mark.slow
@pytest.mark.parametrize("k", [2, 3])
def test_large_data_is_subsampled_and_the_legend_says_so(tmp_path: Path, rng: np.random.Generator, k: int) -> None:
    cap = plots.MAX_POINTS_PER_CLASS
    X, y = _classes(rng, 4 * k * cap, k)
    cut = int(0.75 * len(X))
    grid = plots.boundary_grid(X, 40)
    proba = _softmax(grid[2], k)[:, 1] if k == 2 else _softmax(grid[2], k)

    def draw():
        return plots.decision_boundary(proba, grid, X[:cut], y[:cut], X[cut:], y[cut:], "big")

    fig = draw()
    assert _drawn_points(fig.axes[0]) == k * cap
    assert _legend_titles(fig) == [f"{k * cap:,} of {len(X):,} points shown (≤ {cap:,} a class)"]
    _assert_laid_out(fig)
    assert _saved_png(fig, tmp_path / "a.png") == _saved_png(draw(), tmp_path / "b.png")  # the same points each time


def test_thin_keeps_each_class_and_split_share(rng: np.random.Generator) -> None:
    y_train = np.repeat([0, 1, 2], [9000, 500, 4000])
    y_test = np.repeat([0, 1, 2], [3000, 100, 0])
    X_train, X_test = np.arange(len(y_train))[:, None], np.arange(len(y_test))[:, None]
    X_a, y_a, X_b, y_b, hidden = plots._thin(X_train, y_train, X_test, y_test, cap=1000)
    assert np.bincount(y_a, minlength=3).tolist() == [750, 500, 1000]
    assert np.bincount(y_b, minlength=3).tolist() == [250, 100, 0]
    assert hidden == len(y_train) + len(y_test) - 2600
    assert np.array_equal(y_train[X_a[:, 0]], y_a) and np.all(np.diff(X_a[:, 0]) > 0)  # rows kept whole, in order
    same = plots._thin(X_train, y_train, X_test, y_test, cap=12_000)
    assert same[0] is X_train and same[2] is X_test and same[4] == 0


def test_neurons_draw_every_class_of_the_data(rng: np.random.Generator) -> None:
    X, y = _classes(rng, 300, 4)
    grid = plots.boundary_grid(X, 20)
    fig = plots.neurons([("output", _softmax(grid[2], 4))], grid[0], grid[1], X, y)
    for ax in fig.axes:
        assert _drawn_points(ax) == 300
        assert len(ax.collections) == 4


# -- the two-class pictures, unchanged --------------------------------------------------------


def _two_class_input() -> dict:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    X = rng.normal(size=(400, 2)) * 0.7 + np.where(y[:, None] == 1, 1.0, -1.0)
    grid = plots.boundary_grid(X, 60)
    proba = 1 / (1 + np.exp(-(grid[2][:, 0] + grid[2][:, 1]) * 2))
    return {"X": X, "y": y, "grid": grid, "proba": proba, "split": (X[:300], y[:300], X[300:], y[300:])}


def _two_class_pictures(folder: Path, **extra) -> dict[str, bytes]:
    """The two-class pictures of _two_class_input(), as PNG bytes; ``extra`` goes to decision_boundary."""
    data = _two_class_input()
    title = "blobs · 2-8-1 · test ROC AUC 0.9876"
    scores = 1 / (1 + np.exp(-(data["X"][:, 0] + data["X"][:, 1])))
    hidden = np.tanh(data["grid"][2] @ np.array([[1.0, -1, 0.5], [0.3, 1, -2]]))
    figures = {
        "boundary": plots.decision_boundary(data["proba"], data["grid"], *data["split"], title, **extra),
        "boundary_column": plots.decision_boundary(data["proba"][:, None], data["grid"], *data["split"], "", **extra),
        "roc": plots.roc_curve(data["y"], scores, "blobs · 2-8-1"),
        "roc_column": plots.roc_curve(data["y"], scores[:, None], ""),
        "neurons": plots.neurons([("layer 1", hidden), ("output", data["proba"])], data["grid"][0], data["grid"][1],
                                 data["X"], data["y"], "t"),
    }
    folder.mkdir(exist_ok=True)
    return {name: _saved_png(fig, folder / f"{name}.png") for name, fig in figures.items()}


# sha256 of the PNGs _two_class_pictures drew (at 60 dpi) before k classes came, with matplotlib 3.11.2;
# neurons' since its output map is drawn larger and its title at the other pictures' size.
RECORDED_PNG = {
    "boundary": "708b75c5c7888e1de1347b396d1bc9ef18b183ab8afa282e5c970aae31e8d7e3",
    "boundary_column": "ebd73ff894c0b9bc9cabf49a149a65a3443176f05ac18ff13132fe7efd8508a2",
    "roc": "1db5841649d04be01c360d0136bb946c136db35d94c39aa36d630c728231547f",
    "roc_column": "07279504dbc1a9e6b8d54ec05e4c9f312c4ccd8353150bdc94f9f1fa058ce3c0",
    "neurons": "0a7c7c84bcf71021311cb9d1fc6d7dc4289e2fb21906636298ddc1c2c10275b3",
}


@pytest.mark.slow
@pytest.mark.skipif(matplotlib.__version__ != "3.11.2", reason="the recorded bytes are matplotlib 3.11.2's")
def test_two_class_pictures_are_byte_for_byte_as_recorded(tmp_path: Path) -> None:
    drawn = _two_class_pictures(tmp_path)
    assert {name: hashlib.sha256(data).hexdigest() for name, data in drawn.items()} == RECORDED_PNG


@pytest.mark.slow
def test_two_class_pictures_with_numbered_names_are_the_default_ones(tmp_path: Path) -> None:
    """Names that are just the class numbers change nothing; a two-column softmax draws as one column."""
    default = _two_class_pictures(tmp_path / "default")
    assert _two_class_pictures(tmp_path / "numbered", class_names=["0", "1"]) == default
    data = _two_class_input()
    two_columns = np.column_stack([1 - data["proba"], data["proba"]])
    fig = plots.decision_boundary(two_columns, data["grid"], *data["split"], "blobs · 2-8-1 · test ROC AUC 0.9876")
    assert _saved_png(fig, tmp_path / "softmax.png") == default["boundary"]


@pytest.mark.slow
def test_two_class_boundary_with_long_names_keeps_its_legend_inside(rng: np.random.Generator) -> None:
    X, y = _classes(rng, 300, 2)
    grid = plots.boundary_grid(X, 30)
    fig = plots.decision_boundary(_softmax(grid[2], 2)[:, 1], grid, X, y, X[:0], y[:0], "named",
                                  class_names=LONG_NAMES[:2])
    assert "Chinstrap penguin (Pygo… · test" in _legend_texts(fig)
    assert "P(Chinstrap penguin (Pygo…)" in [a.get_ylabel() for a in fig.axes[0].child_axes]
    _assert_laid_out(fig)
