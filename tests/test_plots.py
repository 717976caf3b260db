"""The pictures: valid files of the right size, robust to odd histories, written atomically."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nnfw_cli import plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parents[1]


def _saved_png(fig, path: Path, dpi: int) -> np.ndarray:
    """Save ``fig`` as PNG, check it is a PNG of the figure's size at ``dpi``, return its pixels."""
    from matplotlib.image import imread

    width, height = fig.get_size_inches()
    plots.save_figure(fig, path, dpi=dpi)
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    pixels = imread(path)
    assert pixels.shape[:2] == (round(height * dpi), round(width * dpi))
    assert pixels[..., :3].std() > 0.01  # something was drawn, not a blank canvas
    return pixels


def _history(epochs: int = 30) -> pd.DataFrame:
    """A plausible run: falling losses, the test AUC evaluated every 5th epoch."""
    epoch = np.arange(1, epochs + 1)
    auc = np.where(epoch % 5 == 0, 1.0 - 0.3 / epoch, np.nan)
    return pd.DataFrame({"epoch": epoch, "train_loss": 0.7 / epoch, "test_loss": 0.75 / epoch, "test_roc_auc": auc})


@pytest.fixture
def blobs(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian blobs, 200 points."""
    y = rng.integers(0, 2, 200)
    X = rng.normal(size=(200, 2)) * 0.6 + np.where(y[:, None] == 1, 1.0, -1.0)
    return X, y


def _legend_texts(fig) -> list[str]:
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    return [text.get_text() for legend in legends for text in legend.get_texts()]


# -- loss curve -------------------------------------------------------------------------------


def test_loss_curve_png_has_the_figure_size(tmp_path: Path) -> None:
    fig = plots.loss_curve(_history(), title="circles · 2-16-1")
    assert tuple(fig.get_size_inches()) == pytest.approx((6.4, 4.8))
    _saved_png(fig, tmp_path / "loss.png", dpi=50)


@pytest.mark.slow
def test_loss_curve_default_dpi(tmp_path: Path) -> None:
    _saved_png(plots.loss_curve(_history()), tmp_path / "loss.png", dpi=150)
    from matplotlib.image import imread

    assert imread(tmp_path / "loss.png").shape[:2] == (720, 960)


def test_loss_curve_auc_on_second_axis_with_nan_gaps() -> None:
    fig = plots.loss_curve(_history())
    assert len(fig.axes) == 2
    twin = fig.axes[1]
    assert twin.get_ylabel() == "test ROC AUC"
    (line,) = twin.get_lines()
    assert len(line.get_xdata()) == 6 and np.isfinite(line.get_ydata()).all()
    low, high = twin.get_ylim()
    assert low <= 0.94 and 1.0 <= high < 1.01
    assert set(_legend_texts(fig)) == {"train loss", "test loss", "test ROC AUC"}


def test_loss_curve_without_validation_columns() -> None:
    frame = pd.DataFrame([{"epoch": 1, "train_loss": 0.6}, {"epoch": 2, "train_loss": 0.5}],
                         columns=["epoch", "train_loss", "val_loss", "val_roc_auc"])
    fig = plots.loss_curve(frame)
    assert len(fig.axes) == 1
    assert _legend_texts(fig) == ["train loss"]


def test_loss_curve_log_scale_unless_the_loss_reaches_zero() -> None:
    assert plots.loss_curve(_history(epochs=10)).axes[0].get_yscale() == "log"  # one decade
    steep = _history().assign(train_loss=lambda f: 10.0 ** -f["epoch"] * 0.7)
    assert plots.loss_curve(steep).axes[0].get_yscale() == "log"
    negative = _history().assign(train_loss=lambda f: 1.0 - f["epoch"].astype(float))
    assert plots.loss_curve(negative).axes[0].get_yscale() == "linear"


def test_loss_curve_log_axis_ticks_only_those_in_view() -> None:
    fig = plots.loss_curve(pd.DataFrame({"epoch": [1, 2], "train_loss": [1e-2, 1e-6]}))
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    major, minor = ax.yaxis.get_majorticklocs(), ax.yaxis.get_minorticklocs()
    assert all(low <= loc <= high for loc in [*major, *minor])
    assert len(major) >= 4 and len(minor) >= 8 * 4  # every power of ten in view, and 2 to 9 times each


def test_loss_curve_single_epoch(tmp_path: Path) -> None:
    frame = pd.DataFrame([{"epoch": 1, "train_loss": 0.69, "val_loss": 0.7, "val_roc_auc": 0.81}])
    fig = plots.loss_curve(frame, title="one epoch")
    low, high = fig.axes[0].get_xlim()
    assert low < 1 < high
    _saved_png(fig, tmp_path / "single.png", dpi=40)


def test_loss_curve_diverged_history(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "epoch": [1, 2, 3, 4, 5],
        "train_loss": [0.7, 50.0, 1e12, np.inf, np.nan],
        "val_loss": [0.8, 60.0, np.inf, np.nan, np.nan],
        "val_roc_auc": [0.7, 0.6, np.nan, np.nan, np.nan],
    })
    fig = plots.loss_curve(frame, title="diverged")
    train = fig.axes[0].get_lines()[0]
    assert list(train.get_xdata()) == [1, 2, 3]
    assert fig.axes[0].get_yscale() == "log"
    assert "diverged (epoch 3)" in _legend_texts(fig)
    _saved_png(fig, tmp_path / "diverged.png", dpi=40)


def test_loss_curve_with_no_finite_loss_at_all(tmp_path: Path) -> None:
    frame = pd.DataFrame({"epoch": [1], "train_loss": [np.nan], "val_loss": [np.nan], "val_roc_auc": [np.nan]})
    _saved_png(plots.loss_curve(frame), tmp_path / "nothing.png", dpi=40)


def test_loss_curve_accepts_the_fit_history_list() -> None:
    history = [{"epoch": 1, "train_loss": 0.6, "val_loss": 0.7}, {"epoch": 2, "train_loss": 0.5, "val_loss": 0.6}]
    assert _legend_texts(plots.loss_curve(history)) == ["train loss", "validation loss"]


# -- decision boundary ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("picture", ["loss curve", "decision boundary", "confusion matrix"])
def test_a_picture_every_run_draws_is_drawn_once_as_it_is_saved(picture, blobs, tmp_path, monkeypatch) -> None:
    """Their axes are placed by hand: a figure with a layout engine (even "none" set after
    another) is drawn twice by savefig, once to lay it out."""
    from matplotlib.figure import Figure

    X, y = blobs
    grid = plots.boundary_grid(X, 30)
    figure = {"loss curve": lambda: plots.loss_curve(pd.DataFrame({"epoch": [1, 2], "train_loss": [0.5, 0.3]}), "t"),
              "decision boundary": lambda: plots.decision_boundary(np.full(900, 0.3), grid, X, y, X[:0], y[:0], "t"),
              "confusion matrix": lambda: plots.confusion_matrix(np.array([[5, 1], [2, 7]]), ["0", "1"], "t")}[picture]()
    draws = []
    monkeypatch.setattr(Figure, "draw", lambda self, renderer, _draw=Figure.draw: draws.append(self) or _draw(self, renderer))
    plots.save_figure(figure, tmp_path / "picture.png", dpi=40)
    assert draws == [figure]


@pytest.mark.parametrize("shift", [0.0, 1e6], ids=["plain", "offset"])
def test_a_title_sits_above_the_axes_clear_of_a_y_axis_offset(rng: np.random.Generator, shift: float) -> None:
    """A title stays just above its axes, unless the y axis shows an offset ("+1e6") it must clear."""
    X = rng.normal(size=(200, 2)) + [0.0, shift]
    y = (X[:, 0] > 0).astype(int)
    fig = plots.decision_boundary(np.full(900, 0.3), plots.boundary_grid(X, 30), X, y, X[:0], y[:0],
                                  "a long title of many words " * 4)
    fig.canvas.draw()
    renderer, ax = fig.canvas.get_renderer(), fig.axes[0]
    title = ax.title.get_window_extent(renderer)
    assert title.y0 >= ax.get_window_extent(renderer).y1 and title.y1 <= fig.bbox.y1
    assert bool(ax.yaxis.offsetText.get_text()) == (shift > 0)
    if shift:
        assert not title.overlaps(ax.yaxis.offsetText.get_window_extent(renderer))
    else:
        assert ax.title.get_position()[1] == 1.0


def test_boundary_grid_covers_the_data_with_margins(blobs) -> None:
    X, _ = blobs
    xx, yy, points = plots.boundary_grid(X, resolution=50)
    assert xx.shape == yy.shape == (50, 50)
    assert points.shape == (2500, 2)
    span = X.max(axis=0) - X.min(axis=0)
    np.testing.assert_allclose(points.min(axis=0), X.min(axis=0) - 0.1 * span)
    np.testing.assert_allclose(points.max(axis=0), X.max(axis=0) + 0.1 * span)
    np.testing.assert_array_equal(points[:, 0], xx.ravel())
    np.testing.assert_array_equal(points[:, 1], yy.ravel())


def test_boundary_grid_is_a_pure_function(blobs) -> None:
    X, _ = blobs
    before = X.copy()
    first, second = plots.boundary_grid(X, 30), plots.boundary_grid(X, 30)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(X, before)


def test_boundary_grid_with_a_degenerate_axis() -> None:
    xx, yy, points = plots.boundary_grid(np.array([[1.0, 2.0], [3.0, 2.0]]), resolution=5)
    assert np.ptp(yy) > 0 and np.isfinite(points).all()


@pytest.mark.parametrize("X, resolution", [(np.zeros((4, 3)), 10), (np.zeros((0, 2)), 10), (np.zeros((4, 2)), 1)])
def test_boundary_grid_rejects_bad_input(X: np.ndarray, resolution: int) -> None:
    with pytest.raises(ValueError):
        plots.boundary_grid(X, resolution)


def _stacked_grid(X: np.ndarray, resolution: int) -> tuple[np.ndarray, ...]:
    """The grid as boundary_grid drew it from one stacked array, reduced along its rows."""
    low, high = X.min(axis=0), X.max(axis=0)
    margin = np.where(high > low, 0.1 * (high - low), 0.5)
    xx, yy = np.meshgrid(*[np.linspace(lo, hi, resolution) for lo, hi in zip(low - margin, high + margin)])
    return xx, yy, np.column_stack([xx.ravel(), yy.ravel()])


@pytest.mark.parametrize("case", ["normal", "an empty part", "a flat axis", "signed zeros", "one point", "tall"])
def test_the_grid_over_the_box_of_parts_is_the_grid_over_their_stack(case, rng) -> None:
    parts = [rng.normal(size=(40, 2)) * [3.0, 0.01] + 5.0, rng.normal(size=(9, 2))]
    if case == "an empty part":
        parts.insert(1, np.zeros((0, 2)))
    elif case == "a flat axis":
        parts = [np.column_stack([part[:, 0], np.full(len(part), 2.5)]) for part in parts]
    elif case == "signed zeros":
        parts = [np.array([[0.0, -0.0], [-0.0, 0.0]]), np.array([[-0.0, -0.0], [1.0, 0.0]])]
    elif case == "one point":
        parts = [np.array([[1.5, -2.0]])]
    elif case == "tall":
        parts = [rng.normal(size=(50_001, 2)), rng.normal(size=(7, 2)) * 9]
    for resolution in (2, 30, 200):
        ours = plots.grid_over(plots.plane_box(*parts, None), resolution)
        for a, b in zip(ours, _stacked_grid(np.vstack(parts), resolution)):
            assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_plane_box_refuses_a_part_that_is_not_finite(bad) -> None:
    for where in (0, 1):
        parts = [np.ones((5, 2)), np.zeros((3, 2))]
        parts[where][1, 1] = bad
        with pytest.raises(ValueError, match="finite"):
            plots.plane_box(*parts)


def _boundary(X: np.ndarray, y: np.ndarray, column: bool = False, resolution: int = 60):
    """A decision-boundary figure for a linear 'model' on ``X``; train/test split 80/20."""
    grid = plots.boundary_grid(X, resolution)
    proba = 1.0 / (1.0 + np.exp(-3.0 * grid[2].sum(axis=1)))
    proba = proba[:, None] if column else proba
    cut = int(0.8 * len(X))
    return plots.decision_boundary(proba, grid, X[:cut], y[:cut], X[cut:], y[cut:], "blobs · 2-1 · test ROC AUC 0.9")


@pytest.mark.parametrize("n", [100, 5000])
@pytest.mark.parametrize("column", [False, True])
def test_decision_boundary_png(tmp_path: Path, rng: np.random.Generator, n: int, column: bool) -> None:
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 2)) + np.where(y[:, None] == 1, 1.0, -1.0)
    fig = _boundary(X, y, column=column)
    ax = fig.axes[0]
    assert ax.get_title().startswith("blobs")
    assert ax.get_aspect() == 1.0
    assert "P(class 1)" in [a.get_ylabel() for a in fig.axes + ax.child_axes]  # the colour bar
    assert {"class 0 · train", "class 1 · test", "P = 0.5 boundary"} <= set(_legend_texts(fig))
    _saved_png(fig, tmp_path / "boundary.png", dpi=50)


def test_decision_boundary_rejects_a_wrong_sized_grid(blobs) -> None:
    X, y = blobs
    grid = plots.boundary_grid(X, 20)
    with pytest.raises(ValueError, match="400"):
        plots.decision_boundary(np.zeros(399), grid, X, y, X, y, "t")


def test_decision_boundary_without_a_boundary(tmp_path: Path, blobs) -> None:
    X, y = blobs
    grid = plots.boundary_grid(X, 20)
    _saved_png(plots.decision_boundary(np.full(400, 0.9), grid, X, y, X[:0], y[:0], "constant"),
               tmp_path / "constant.png", dpi=40)


# -- ROC curve --------------------------------------------------------------------------------


def test_roc_curve_png_and_auc_in_legend(tmp_path: Path, rng: np.random.Generator) -> None:
    from sklearn.metrics import roc_auc_score

    y = rng.integers(0, 2, 300)
    proba = np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(scale=0.2, size=300), 0, 1)
    fig = plots.roc_curve(y, proba[:, None], title="test set")
    ax = fig.axes[0]
    assert f"ROC AUC = {roc_auc_score(y, proba):.4f}" in _legend_texts(fig)
    assert ax.get_xlim() == (0.0, 1.0) and ax.get_ylim() == (0.0, 1.0)
    assert ax.get_aspect() == 1.0
    _saved_png(fig, tmp_path / "roc.png", dpi=50)


def test_roc_curve_needs_two_classes() -> None:
    with pytest.raises(ValueError, match="two classes"):
        plots.roc_curve(np.ones(5), np.linspace(0, 1, 5))


# -- saving -----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", ["loss.svg", "loss.pdf", "LOSS.PNG"])
def test_save_figure_formats(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    plots.save_figure(plots.loss_curve(_history()), path)
    head = path.read_bytes()[:200]
    expected = {".svg": b"<svg", ".pdf": b"%PDF-", ".png": PNG_SIGNATURE}[path.suffix.lower()]
    assert expected in head
    assert os.listdir(tmp_path) == [name]


def test_save_figure_rejects_unknown_formats(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unsupported"):
        plots.save_figure(plots.loss_curve(_history()), tmp_path / "loss.jpeg")
    assert os.listdir(tmp_path) == []


def test_save_figure_replaces_atomically_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "loss.png"
    path.write_bytes(b"old")
    plots.save_figure(plots.loss_curve(_history()), path)
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert os.listdir(tmp_path) == ["loss.png"]


def test_save_figure_failure_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "loss.png"
    path.write_bytes(b"old")
    fig = plots.loss_curve(_history())

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(fig, "savefig", broken)
    with pytest.raises(OSError, match="disk full"):
        plots.save_figure(fig, path)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["loss.png"]


def test_import_does_not_load_matplotlib() -> None:
    code = "import sys, nnfw_cli.plots; print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]"


# -- training animation -----------------------------------------------------------------------

GIF_SIGNATURE = b"GIF89a"


def _snapshots(grid, epochs: int, auc: float | None = 0.9) -> list[dict]:
    """A boundary sharpening and turning over ``epochs``; the AUC NaN except every 3rd epoch (or always)."""
    xx, _, points = grid
    snapshots = []
    for epoch in range(1, epochs + 1):
        angle = 0.2 * epoch
        logit = (0.5 + epoch) * (np.cos(angle) * points[:, 0] + np.sin(angle) * points[:, 1])
        proba = np.round(255 / (1 + np.exp(-logit))).astype(np.uint8).reshape(xx.shape)
        score = auc if auc is not None and epoch % 3 == 0 else float("nan")
        snapshots.append({"epoch": epoch, "train_loss": 0.7 / epoch, "val_roc_auc": score, "proba": proba})
    return snapshots


def _animate(tmp_path: Path, X: np.ndarray, y: np.ndarray, snapshots: list[dict], grid, **kwargs) -> Path:
    cut = int(0.8 * len(X))
    return plots.boundary_animation(snapshots, grid[0], grid[1], X[:cut], y[:cut], X[cut:], y[cut:],
                                    tmp_path / "training.gif", **kwargs)


def _gif_frames(path: Path) -> list[np.ndarray]:
    """Every frame of a GIF as an RGB array, after checking the signature."""
    from PIL import Image

    assert path.read_bytes()[:6] == GIF_SIGNATURE
    with Image.open(path) as gif:
        frames = []
        for index in range(gif.n_frames):
            gif.seek(index)
            frames.append(np.asarray(gif.convert("RGB")))
    return frames


@pytest.mark.slow
def test_boundary_animation_has_one_frame_per_snapshot(tmp_path: Path, blobs) -> None:
    X, y = blobs
    grid = plots.boundary_grid(X, 40)
    path = _animate(tmp_path, X, y, _snapshots(grid, 7), grid, title="blobs · 2-8-1", dpi=50)
    assert path == tmp_path / "training.gif"
    frames = _gif_frames(path)
    assert len(frames) == 7
    two_line_title = plots._boundary_height(np.ptp(grid[1]) / np.ptp(grid[0])) + plots.TITLE_LINE
    assert frames[0].shape == (round(two_line_title * 50), round(6.0 * 50), 3)
    for frame in frames:  # the title is not cut off at the top: the first rows are blank
        assert (frame[:2] >= 250).all()
    assert not np.array_equal(frames[0], frames[-1])  # the map moves
    assert os.listdir(tmp_path) == ["training.gif"]  # no temporary file or folder left behind


@pytest.mark.slow
@pytest.mark.parametrize("auc", [None, float("nan")])
def test_boundary_animation_without_any_auc(tmp_path: Path, blobs, auc: float | None) -> None:
    X, y = blobs
    grid = plots.boundary_grid(X, 30)
    snapshots = _snapshots(grid, 4, auc=auc)
    if auc is None:
        for snapshot in snapshots:
            del snapshot["val_roc_auc"]
    assert len(_gif_frames(_animate(tmp_path, X, y, snapshots, grid, dpi=40))) == 4


def test_frame_title() -> None:
    snapshot = {"epoch": 12, "train_loss": 0.0123456, "val_roc_auc": float("nan"), "proba": None}
    assert plots._frame_title("", snapshot) == "epoch 12 · loss 0.01235 · test AUC —"
    assert plots._frame_title("circles", {**snapshot, "val_roc_auc": 0.97}) == \
        "circles\nepoch 12 · loss 0.01235 · test AUC 0.9700"


@pytest.mark.slow
def test_boundary_animation_with_and_without_a_boundary(tmp_path: Path, blobs) -> None:
    """Frames whose probability never crosses 0.5 have no contour; the others each have exactly one."""
    X, y = blobs
    grid = plots.boundary_grid(X, 30)
    snapshots = _snapshots(grid, 4)
    snapshots[1]["proba"] = np.full(grid[0].shape, 230, dtype=np.uint8)
    snapshots[3]["proba"] = snapshots[3]["proba"].ravel()  # a flat map is reshaped to the grid
    frames = _gif_frames(_animate(tmp_path, X, y, snapshots, grid, dpi=40))
    assert len(frames) == 4


@pytest.mark.slow
def test_boundary_animation_of_a_large_run_is_small(tmp_path: Path, rng: np.random.Generator) -> None:
    """5000 points over the full snapshot grid: under 100 kB a frame (a run keeps about 50 snapshots)."""
    y = rng.integers(0, 2, 5000)
    X = rng.normal(size=(5000, 2)) + np.where(y[:, None] == 1, 1.0, -1.0)
    grid = plots.boundary_grid(X, 100)
    path = _animate(tmp_path, X, y, _snapshots(grid, 8), grid, title="blobs · 5000 points")
    assert len(_gif_frames(path)) == 8
    assert path.stat().st_size < 8 * 100_000


@pytest.mark.slow
def test_boundary_animation_replaces_atomically(tmp_path: Path, blobs) -> None:
    X, y = blobs
    grid = plots.boundary_grid(X, 20)
    (tmp_path / "training.gif").write_bytes(b"old")
    _animate(tmp_path, X, y, _snapshots(grid, 2), grid, dpi=30)
    assert (tmp_path / "training.gif").read_bytes()[:6] == GIF_SIGNATURE
    assert os.listdir(tmp_path) == ["training.gif"]


def _cut_proba(snapshots: list[dict]) -> None:  # found out before any frame is drawn
    snapshots[2]["proba"] = snapshots[2]["proba"][:5]


def _drop_train_loss(snapshots: list[dict]) -> None:  # found out only when its frame is drawn
    del snapshots[1]["train_loss"]


@pytest.mark.parametrize(("damage", "error", "message"), [
    (_cut_proba, ValueError, "epoch 3"),
    (_drop_train_loss, KeyError, "train_loss"),
], ids=["before-drawing", "midway"])
def test_boundary_animation_failure_keeps_the_old_file(tmp_path: Path, blobs, damage, error, message) -> None:
    X, y = blobs
    grid = plots.boundary_grid(X, 20)
    (tmp_path / "training.gif").write_bytes(b"old")
    snapshots = _snapshots(grid, 3)
    damage(snapshots)
    with pytest.raises(error, match=message):
        _animate(tmp_path, X, y, snapshots, grid, dpi=30)
    assert (tmp_path / "training.gif").read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["training.gif"]  # nothing half-written left behind


@pytest.mark.parametrize("name, snapshots, message", [("training.png", 1, "GIF"), ("training.gif", 0, "snapshot")])
def test_boundary_animation_rejects(tmp_path: Path, blobs, name: str, snapshots: int, message: str) -> None:
    X, y = blobs
    grid = plots.boundary_grid(X, 20)
    with pytest.raises(ValueError, match=message):
        plots.boundary_animation(_snapshots(grid, snapshots), grid[0], grid[1], X, y, X, y, tmp_path / name)
    assert os.listdir(tmp_path) == []


# -- what each unit learned -------------------------------------------------------------------


def _layers(points: np.ndarray, rng: np.random.Generator, widths: list[int],
            activation: str) -> list[tuple[str, np.ndarray]]:
    """Panels of a random network on ``points``: hidden layers of ``widths``, then a sigmoid output."""
    panels, h = [], points
    for index, width in enumerate(widths):
        h = h @ rng.normal(size=(h.shape[1], width)) + rng.normal(size=width)
        h = np.maximum(h, 0.0) if activation == "relu" else np.tanh(h)
        panels.append((f"layer {index + 1} ({activation})", h))
    logit = h @ rng.normal(size=(h.shape[1], 1))
    return panels + [("output", 1.0 / (1.0 + np.exp(-(logit - logit.mean()))))]


def _maps(fig) -> list:
    """The axes that show a heat map."""
    return [ax for ax in fig.axes if ax.images]


@pytest.mark.slow
@pytest.mark.parametrize("widths, activation", [([8, 8], "relu"), ([32], "tanh"), ([3], "relu")])
def test_neurons_one_map_per_unit(tmp_path: Path, blobs, rng: np.random.Generator, widths: list[int],
                                  activation: str) -> None:
    X, y = blobs
    xx, yy, points = plots.boundary_grid(X, 40)
    fig = plots.neurons(_layers(points, rng, widths, activation), xx, yy, X, y, title="blobs")
    maps = _maps(fig)
    assert len(maps) == sum(widths) + 1
    assert fig.get_size_inches()[0] <= 14
    texts = {text.get_text() for text in fig.findobj(lambda artist: hasattr(artist, "get_text"))}
    assert {f"layer {i + 1} ({activation})" for i in range(len(widths))} | {"output", "blobs"} <= texts
    for ax in maps:
        assert ax.get_aspect() == 1.0 and not ax.get_xticks().size and not ax.get_yticks().size
    _saved_png(fig, tmp_path / "neurons.png", dpi=60)


@pytest.mark.slow
@pytest.mark.parametrize("stretch", [1.0, 1.6])
def test_neurons_wraps_wide_layers_into_equal_panels(blobs, rng: np.random.Generator, stretch: float) -> None:
    X, y = blobs
    xx, yy, points = plots.boundary_grid(X * [stretch, 1.0], 30)
    fig = plots.neurons(_layers(points, rng, [32], "tanh"), xx, yy)
    fig.canvas.draw()
    boxes = [ax.get_window_extent() for ax in _maps(fig)]
    assert len({round(box.y0) for box in boxes[:32]}) == 4  # 32 units: 4 rows of 8
    for box in boxes:  # true proportions: square for square data
        assert box.width / box.height == pytest.approx(np.ptp(xx) / np.ptp(yy), rel=0.03)
    assert len({round(box.width) for box in boxes[:32]}) == 1  # every unit's map the same size
    assert boxes[-1].width > 2.5 * boxes[0].width  # the output, what the network computes, drawn larger


def test_neurons_colour_scales(blobs, rng: np.random.Generator) -> None:
    X, y = blobs
    xx, yy, points = plots.boundary_grid(X, 30)
    relu = _layers(points, rng, [4], "relu")
    relu[0][1][:, 2] = 0.0  # a dead unit
    tanh = _layers(points, rng, [4], "tanh")
    fig = plots.neurons([relu[0], tanh[0], relu[-1]], xx, yy, X, y)
    images = [ax.images[0] for ax in _maps(fig)]
    for unit, image in enumerate(images[:4]):
        assert image.get_cmap().name == "Purples"
        assert image.get_clim() == pytest.approx((0.0, relu[0][1][:, unit].max() or 1.0))
    for unit, image in enumerate(images[4:8]):
        top = np.abs(tanh[0][1][:, unit]).max()
        assert image.get_cmap().name == "PuOr" and image.get_clim() == pytest.approx((-top, top))
    assert images[-1].get_clim() == (0.0, 1.0)
    assert _maps(fig)[2].get_title() == "3 · dead"
    assert [bool(ax.collections) for ax in _maps(fig)] == [False] * 8 + [True]  # points on the output only


@pytest.mark.slow
def test_neurons_of_a_deep_wide_network_stay_bounded(blobs, rng: np.random.Generator) -> None:
    X, y = blobs
    xx, yy, points = plots.boundary_grid(X, 20)
    fig = plots.neurons(_layers(points, rng, [32, 32, 32, 32, 1], "relu"), xx, yy, X, y, title="deep")
    width, height = fig.get_size_inches()
    assert len(_maps(fig)) == 130
    assert width <= 14 and height <= 21


@pytest.mark.parametrize("panels", [[], [("layer 1", np.zeros((10, 3)))], [("layer 1", np.zeros((400, 0)))]])
def test_neurons_rejects_bad_activations(blobs, panels) -> None:
    X, _ = blobs
    xx, yy, _ = plots.boundary_grid(X, 20)
    with pytest.raises(ValueError):
        plots.neurons(panels, xx, yy)


# -- layout -----------------------------------------------------------------------------------


def _assert_laid_out(fig) -> None:
    """Every axes with its tick labels, axis labels and title lies inside the figure, and the
    legends lie inside it too, clear of every axes."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    page = fig.bbox.padded(1.0)  # a pixel of antialiasing
    boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]
    for box in boxes:
        assert page.containsx(box.x0) and page.containsx(box.x1), (box, page)
        assert page.containsy(box.y0) and page.containsy(box.y1), (box, page)
    for legend in fig.legends:
        frame = legend.get_window_extent(renderer)
        assert page.containsx(frame.x0) and page.containsx(frame.x1) and page.containsy(frame.y0)
        assert not any(frame.overlaps(box) for box in boxes), "the legend covers part of a plot"


def _losses(values: np.ndarray, auc: bool = True) -> pd.DataFrame:
    epoch = np.arange(1, len(values) + 1)
    frame = pd.DataFrame({"epoch": epoch, "train_loss": values, "val_loss": values * 1.1})
    if auc:
        frame["val_roc_auc"] = np.linspace(0.31, 0.998, len(values))
    return frame


@pytest.mark.slow
@pytest.mark.parametrize("values", [
    0.7 / np.arange(1, 61),  # the usual: a log axis
    np.linspace(250_000, 200_000, 40),  # long numbers on a linear axis
    np.linspace(1.234e-4, 1.734e-4, 40),  # long decimals on a linear axis
    np.geomspace(3e7, 2e-9, 5000),  # many decades over many epochs
    np.array([0.69]),  # a single epoch
    np.array([0.7, 0.5, 9e301, np.inf]),  # a diverged run
], ids=["log", "big", "small", "long", "one", "diverged"])
@pytest.mark.parametrize("auc", [True, False], ids=["auc", "no-auc"])
@pytest.mark.parametrize("title", ["", "moons · 2-64-64-64-64-1 relu/relu/relu/relu/sigmoid"], ids=["untitled", "titled"])
def test_loss_curve_labels_are_all_inside_the_picture(values: np.ndarray, auc: bool, title: str) -> None:
    with np.errstate(over="ignore"):
        fig = plots.loss_curve(_losses(values, auc), title=title)
        _assert_laid_out(fig)


@pytest.mark.slow
@pytest.mark.parametrize("scale", [(1.0, 1.0), (6.0, 1.0), (1.0, 6.0), (2e5, 3e5), (1e-4, 2e-4), (1.0, 1e-3)],
                         ids=["square", "wide", "tall", "big", "tiny", "flat"])
def test_decision_boundary_labels_are_all_inside_the_picture(rng: np.random.Generator, scale: tuple) -> None:
    y = rng.integers(0, 2, 300)
    X = (rng.normal(size=(300, 2)) + np.where(y[:, None] == 1, 1.0, -1.0)) * np.array(scale) - 0.5 * np.array(scale)
    with np.errstate(over="ignore"):  # the stand-in model's exp, far from the origin
        fig = _boundary(X, y)
    _assert_laid_out(fig)
    ax = fig.axes[0]
    bar, plot = ax.child_axes[0].get_window_extent(), ax.get_window_extent()
    assert bar.width / fig.dpi == pytest.approx(plots.COLOUR_BAR[1], abs=0.01)  # as wide for any data shape
    assert (bar.y0, bar.y1) == pytest.approx((plot.y0, plot.y1), abs=1.0)  # and as tall as the map


@pytest.mark.slow
def test_a_roc_curve_of_a_million_scores_is_drawn_through_a_few_thousand_points(rng: np.random.Generator) -> None:
    from sklearn import metrics

    y = rng.integers(0, 2, 10**6)
    scores = np.clip(0.3 * y + 0.7 * rng.random(10**6), 0, 1)
    fpr, tpr, _ = metrics.roc_curve(y, scores)
    fig = plots.roc_curve(y, scores, "t")
    line = next(line for line in fig.axes[0].lines if line.get_label().startswith("ROC AUC"))
    x, y_drawn = line.get_data()
    assert len(x) <= 2 * plots.ROC_DRAWN + 2 < len(fpr)
    assert line.get_label() == f"ROC AUC = {metrics.roc_auc_score(y, scores):.4f}"
    assert (x[0], y_drawn[0], x[-1], y_drawn[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.trapezoid(y_drawn, x) == pytest.approx(metrics.auc(fpr, tpr), abs=1e-3)
    # every point of the whole curve is within a cell of the drawn one
    gap = np.abs(np.interp(fpr, x, y_drawn) - tpr)
    step = np.abs(np.interp(tpr, y_drawn, x) - fpr)
    assert np.minimum(gap, step).max() <= 2 / plots.ROC_DRAWN


def test_a_roc_curve_of_a_few_scores_is_drawn_through_every_point(rng: np.random.Generator) -> None:
    from sklearn import metrics

    y = rng.integers(0, 2, 500)
    scores = 0.3 * y + 0.7 * rng.random(500)
    fpr, tpr, _ = metrics.roc_curve(y, scores)
    line = next(line for line in plots.roc_curve(y, scores).axes[0].lines if line.get_label().startswith("ROC"))
    np.testing.assert_array_equal(line.get_data()[0], fpr)
    np.testing.assert_array_equal(line.get_data()[1], tpr)
