"""Report-ready pictures of a run: loss curve, decision boundary, ROC curve, confusion matrix (matplotlib, Agg)."""

from __future__ import annotations

import math
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

from . import runs

if TYPE_CHECKING:  # matplotlib and pandas are imported lazily: `import nnfw_cli.plots` stays fast.
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Grid = tuple[np.ndarray, np.ndarray, np.ndarray]
Box = tuple[np.ndarray, np.ndarray]  # the least and the greatest point of the plane's two columns

CMAP = "RdBu_r"
CLASS_SHADES = (0.04, 0.96)  # where the two class colours sit on CMAP: its blue and red ends
BACKGROUND = (0.1, 0.9, 0.55)  # the probability map: CMAP between these points, this opaque over white
GIF_MAP_COLORS = 128  # of an animation's 256 palette entries, this many are shades of the probability map
FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
AUC_RANGE = (0.5, 1.0)  # the loss curve's AUC axis, the same in every run; chance and worse sit on its floor
LABEL_ROOM = 0.42  # inches beside a y-axis's tick labels: the ticks, the axis label and paddings
DIGIT_EM = 0.64  # a digit's width in DejaVu Sans, in ems: tick labels are mostly digits, none much wider
BOUNDARY_MARGINS = (0.7, 1.0, 0.95, 0.4)  # inches left, right (the colour bar), bottom (the legend), top
COLOUR_BAR = (0.13, 0.15)  # inches: the gap between the map and its colour bar, and the bar's width
TITLE_LINE = 0.25  # inches for each line of a title after the first (a quarter: whole pixels at any dpi)
# A picture draws at most this many points of a class (train and test together; a seeded random subset
# beyond), so a million rows draw as fast as a thousand. The shipped configs have at most 2,500 a class.
MAX_POINTS_PER_CLASS = 3000
SUBSAMPLE_SEED = 0
NAME_CHARS = 24  # a longer class name is cut to this many characters ("…" last) in legends and on axes
TITLE_CHAR = 0.52  # a title character's width, in ems: a little above DejaVu Sans's average, to wrap in time
CHAR_WIDTH = 0.55  # an average character's width in DejaVu Sans, in ems: to estimate the room a name needs
REGION_STRENGTH = (0.08, 0.48)  # k-class map: a class colour this opaque over white at the lowest and full confidence
LEGEND_ROW = 0.2  # inches a row of a legend takes, at legend.fontsize
ROC_MARGINS = (0.75, 0.25, 0.6, 0.4)  # k-class ROC, inches: left, right (before the legend), bottom, top
LEGEND_WIDTH = 5.7  # inches of a 6-inch decision-boundary figure a legend below it may span
ROC_DRAWN = 4000  # a ROC curve of more points is drawn through at most about twice this many (plots._drawn)
CONFUSION_CELL = (0.36, 0.9)  # inches: the side of a confusion matrix's cell, smallest and largest
CONFUSION_SIDE = 4.2  # inches a confusion matrix's panel aims at, before CONFUSION_CELL's limits
STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "figure.titlesize": 11,  # confusion matrix and neurons: their suptitle as large as other pictures' titles
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.titlepad": 8,
    "grid.alpha": 0.35,
    "grid.linewidth": 0.6,
    "legend.framealpha": 0.9,
    "pdf.fonttype": 42,
}


# -- shared helpers ---------------------------------------------------------------------------


@contextmanager
def _style() -> Iterator[None]:
    """Apply the report style while a figure is built, leaving the global rcParams alone."""
    import matplotlib

    with matplotlib.rc_context(STYLE):
        yield


def import_drawing() -> None:
    """Import what drawing a picture and writing it as PNG need, which this module imports only
    when first drawing: once, before a fork, rather than in each process that draws."""
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401
    from PIL import Image

    Image.preinit()  # the image formats Pillow loads as it saves its first image


def _new_figure(width: float, height: float, margins: tuple[float, float, float, float] | None = None) -> Figure:
    """A pyplot-free figure with an Agg canvas and constrained (tight) layout, or, given ``margins``
    (left, right, bottom, top, in inches), a subplot placed by hand within them.

    Margins by hand suit the pictures every run draws: constrained layout measures every text
    before each save, which costs about as much as drawing the figure.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if margins is None:
        fig = Figure(figsize=(width, height), layout="constrained")
    else:
        left, right, bottom, top = margins
        fig = Figure(figsize=(width, height), layout="none")
        fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height)
    FigureCanvasAgg(fig)
    return fig


def wrap_title(title: str, width: float, points: float = 11.0) -> str:
    """``title`` broken into lines that fit ``width`` inches at ``points``, estimated from the
    characters (TITLE_CHAR ems each): at its " · " separators, which stay at the end of their
    line, and at other spaces only inside a part too long for a line of its own."""
    chars = max(20, int(width * 72 / (points * TITLE_CHAR)))
    lines: list[str] = []
    for line in title.split("\n"):
        current = ""
        for part in line.split(" · "):
            if current and len(current) + 3 + len(part) <= chars:
                current += " · " + part
                continue
            if len(part) <= chars or not current:
                if current:
                    lines.append(current + " ·")
                current = ""
                gap = " "
            else:  # a part too long for a line of its own starts on this one if its first word fits
                gap = " · "
            for word in part.split(" "):  # at its spaces when it is too long for a line
                if current and len(current) + len(gap) + len(word) > chars:
                    lines.append(current + gap.rstrip() if gap != " " else current)
                    current = word
                else:
                    current = f"{current}{gap}{word}" if current else word
                gap = " "
        lines.append(current)
    return "\n".join(lines)


def _title_lines(title: str) -> int:
    return title.count("\n") + 1 if title else 1


def _fit_tick_labels(fig: Figure, axis: Any, side: str) -> None:
    """Widen the figure's ``side`` ("left" or "right") margin, when needed, to the longest tick
    label of the y ``axis`` there, plus its axis label: estimated from the characters, not drawn."""
    import matplotlib
    from matplotlib.font_manager import FontProperties

    labels = axis.get_major_formatter().format_ticks(axis.get_majorticklocs())
    points = FontProperties(size=matplotlib.rcParams["ytick.labelsize"]).get_size_in_points()
    need = (LABEL_ROOM + max(map(len, labels), default=0) * DIGIT_EM * points / 72) / fig.get_figwidth()
    params = fig.subplotpars
    if side == "left" and params.left < need:
        fig.subplots_adjust(left=need)
    elif side == "right" and 1 - params.right < need:
        fig.subplots_adjust(right=1 - need)


def _title(ax: Axes, title: str, twins: Sequence[Axes] = (), **kwargs: Any) -> None:
    """``ax.set_title``, the title kept where matplotlib places it by default, just above the axes.

    Placed automatically, a title is moved at every draw clear of ticks on top (no picture has
    them) and of a y axis's offset ("1e6"): it measures every tick label of the y axes of ``ax``,
    its ``twins`` and its insets first, about as long as drawing them. Only a y axis that shows an
    offset keeps the automatic placement.
    """
    offset = False
    for axes in (ax, *twins, *ax.child_axes):
        formatter = axes.yaxis.get_major_formatter()
        formatter.format_ticks(axes.yaxis.get_majorticklocs())
        offset = offset or bool(formatter.get_offset())
    ax.set_title(title, y=None if offset else 1.0, **kwargs)


def _ticks_in_view(axis: Any) -> None:
    """Fix the ticks of ``axis``, whose view is final, to those it shows.

    A log axis's locators give a decade or more beyond each end of the view (eight minor ticks a
    decade), and matplotlib makes a tick of five artists for every location, shown or not.
    """
    from matplotlib.ticker import FixedLocator, NullLocator

    low, high = axis.get_transform().transform(sorted(axis.get_view_interval()))
    slack = 1e-9 * (high - low)
    for locator, fix in ((axis.get_major_locator(), axis.set_major_locator),
                         (axis.get_minor_locator(), axis.set_minor_locator)):
        if isinstance(locator, NullLocator):
            continue
        locs = np.asarray(locator(), dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = axis.get_transform().transform(locs)
        fix(FixedLocator(locs[(at >= low - slack) & (at <= high + slack)]))


def _bottom_legend(fig: Figure, handles: list[Any], labels: list[str], ncol: int, title: str | None = None) -> None:
    """A frameless legend centred along the bottom edge of the figure, below the axes' labels."""
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=ncol, frameon=False, title=title)


def _class_colors() -> tuple[Any, Any]:
    """The colours of class 0 and class 1, taken from the ends of the probability colour map."""
    import matplotlib

    cmap = matplotlib.colormaps[CMAP]
    return cmap(CLASS_SHADES[0]), cmap(CLASS_SHADES[1])


def class_colors(n_classes: int) -> list[Any]:
    """One RGBA colour per class, the same in every picture: for two classes the ends of the
    probability map; up to 10, matplotlib's tab10; up to 20, tab20's dark shades, then its light
    ones; beyond, evenly spaced hues."""
    import matplotlib

    if n_classes <= 2:
        return list(_class_colors())
    if n_classes <= 10:
        return [matplotlib.colormaps["tab10"](i) for i in range(n_classes)]
    if n_classes <= 20:
        return [matplotlib.colormaps["tab20"](i) for i in [*range(0, 20, 2), *range(1, 20, 2)][:n_classes]]
    return [matplotlib.colormaps["hsv"](i / n_classes) for i in range(n_classes)]


def _short(name: str, limit: int = NAME_CHARS) -> str:
    """``name``, cut to ``limit`` characters with "…" when longer."""
    return name if len(name) <= limit else name[:limit - 1].rstrip() + "…"


def _class_labels(n_classes: int, class_names: Sequence[str] | None) -> list[str]:
    """Legend names: "class i" when no name is given or the name is just the number i; long ones cut."""
    if class_names is not None and len(class_names) != n_classes:
        raise ValueError(f"class_names has {len(class_names)} names for {n_classes} classes. "
                         f"Received {list(class_names)}")
    names = [str(label) for label in range(n_classes)] if class_names is None else [str(n) for n in class_names]
    return [f"class {label}" if name == str(label) else _short(name) for label, name in enumerate(names)]


def _n_classes(*labels: np.ndarray) -> int:
    """The number of classes the integer labels imply: the largest label plus one, at least 2."""
    largest = [int(np.max(y)) for y in labels if np.size(y)]
    return max([2] + [top + 1 for top in largest])


def _thin(X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray,
          cap: int = MAX_POINTS_PER_CLASS) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """At most ``cap`` points of each class, train and test together, each split keeping its share;
    also the number of points left out. A seeded random subset, so a redraw shows the same points;
    the arrays come back as they are when no class has more than ``cap``."""
    y_train, y_test = np.asarray(y_train).ravel(), np.asarray(y_test).ravel()
    labels, counts = np.unique(np.concatenate([y_train, y_test]), return_counts=True)
    if counts.max(initial=0) <= cap:
        return X_train, y_train, X_test, y_test, 0
    rng = np.random.default_rng(SUBSAMPLE_SEED)
    keep: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
    for label, count in zip(labels, counts):
        train, test = np.flatnonzero(y_train == label), np.flatnonzero(y_test == label)
        if count > cap:
            n_train = min(len(train), round(cap * len(train) / count))
            n_test = min(len(test), cap - n_train)
            train, test = rng.choice(train, n_train, replace=False), rng.choice(test, n_test, replace=False)
        keep[0].append(train)
        keep[1].append(test)
    train, test = np.sort(np.concatenate(keep[0])), np.sort(np.concatenate(keep[1]))
    hidden = len(y_train) + len(y_test) - len(train) - len(test)
    return np.asarray(X_train)[train], y_train[train], np.asarray(X_test)[test], y_test[test], hidden


def _thinned_note(shown: int, hidden: int) -> str:
    """The legend's word on a subsample: how many points it shows, of how many."""
    return f"{shown:,} of {shown + hidden:,} points shown (≤ {MAX_POINTS_PER_CLASS:,} a class)"


def _column(history: pd.DataFrame, name: str) -> np.ndarray | None:
    """A history column as floats, or None when it is missing or holds no finite value."""
    if name not in history.columns:
        return None
    values = np.asarray(history[name].astype(float), dtype=float)
    return values if np.isfinite(values).any() else None


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 150) -> Path:
    """Write ``fig`` atomically to ``path`` (png, svg or pdf, from the suffix), then free it."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unsupported picture format; use one of {', '.join(FORMATS)}")
    try:
        with runs.atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi)
    finally:
        _free(fig)
    return path


def warm_up(dpi: int = 100) -> None:
    """Draw a small picture into memory and throw it away: the first picture of a process loads
    the fonts and the PNG writer (a second or so), which a process can do while it would wait.
    Its second panel has a log axis: matplotlib builds its math-text parser for the labels."""
    import io

    figure = confusion_matrix(np.eye(2, dtype=int), ["a", "b"], "warm-up")
    figure.axes[-1].set_xscale("log")
    figure.savefig(io.BytesIO(), format="png", dpi=dpi)
    _free(figure)


def _free(fig: Figure) -> None:
    """Release a figure: close it in pyplot if pyplot knows it, and drop its axes and artists.

    Not ``fig.clear()``: it resets every axes to a new blank one (ticks, spines, labels) before
    dropping it, about as much work as making the axes in the first place.
    """
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)
    for ax in tuple(fig.axes):
        fig.delaxes(ax)
    fig.artists, fig.lines, fig.patches, fig.texts, fig.images, fig.legends = [], [], [], [], [], []


# -- loss curve -------------------------------------------------------------------------------


def loss_curve(history: pd.DataFrame, title: str = "", best_epoch: int | None = None,
               learning_rate: bool = False) -> Figure:
    """Train, validation and test loss per epoch, with the ROC AUC on a second axis when logged.

    ``val_*`` columns are the validation split's, ``test_*`` the test split's: a split scored at
    one epoch only (the test split, when a validation split chose) is one marked point.
    ``best_epoch`` draws a vertical line there; ``learning_rate`` adds a thin panel below with
    the ``lr`` column, each epoch's learning rate.
    """
    import pandas as pd

    frame = history if isinstance(history, pd.DataFrame) else pd.DataFrame(history)
    epochs = np.asarray(frame["epoch"].astype(float)) if "epoch" in frame.columns else np.arange(1.0, len(frame) + 1)
    aucs = {split: _column(frame, f"{split}_roc_auc") for split in ("val", "test")}
    has_auc = any(auc is not None for auc in aucs.values())
    rates = _column(frame, "lr") if learning_rate else None
    title = wrap_title(title, 6.0)
    extra = TITLE_LINE * (_title_lines(title) - 1) + (LR_PANEL if rates is not None else 0.0)
    with _style():
        fig = _new_figure(6.4, 4.8 + extra, (0.8, 0.8 if has_auc else 0.25, 0.85, (0.4 if title else 0.2)
                                             + TITLE_LINE * (_title_lines(title) - 1)))
        ax, lr_ax = _loss_panels(fig, rates is not None)
        losses = _plot_losses(ax, epochs, frame)
        auc_ax = _plot_auc(ax, epochs, aucs)
        _mark_divergence(ax, epochs, frame)
        if best_epoch is not None:
            ax.axvline(best_epoch, color="0.35", linestyle="-.", linewidth=1.2, label=f"best epoch ({best_epoch})")
        _loss_axes(ax, epochs, losses)
        if ax.get_yscale() == "log":  # every line is drawn: the loss axis's view is final
            _ticks_in_view(ax.yaxis)
        if title:
            _title(ax, title, [auc_ax] if auc_ax is not None else [])
        if lr_ax is not None:
            _plot_rates(lr_ax, ax, epochs, rates)
            _fit_tick_labels(fig, lr_ax.yaxis, "left")
        _combined_legend(fig, [ax] if auc_ax is None else [ax, auc_ax])
        _fit_tick_labels(fig, ax.yaxis, "left")
        if auc_ax is not None:
            _fit_tick_labels(fig, auc_ax.yaxis, "right")
    return fig


LR_PANEL = 1.1  # inches added below a loss curve for its learning-rate panel


def _loss_panels(fig: Figure, with_rates: bool) -> tuple[Axes, Axes | None]:
    """The loss axes, and below it, sharing its epochs, the thin learning-rate axes (or None)."""
    if not with_rates:
        return fig.add_subplot(), None
    grid = fig.add_gridspec(2, 1, height_ratios=[4.0, 1.0], hspace=0.12)
    ax = fig.add_subplot(grid[0])
    return ax, fig.add_subplot(grid[1], sharex=ax)


def _plot_rates(ax: Axes, loss_ax: Axes, epochs: np.ndarray, rates: np.ndarray) -> None:
    """Each epoch's learning rate as steps, on a log scale when it spans more than a factor of
    ten, below ``loss_ax``, which then leaves the epoch axis's labels to it."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ok = np.isfinite(rates)
    ax.step(epochs[ok], rates[ok], where="mid", color="C4", linewidth=1.4)
    finite = rates[ok]
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 10:
        ax.set_yscale("log")
        _ticks_in_view(ax.yaxis)
    else:
        ax.yaxis.set_major_locator(MaxNLocator(nbins=3))
        ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, position: f"{value:.2g}"))
    ax.set_ylabel("learning rate", color="C4", fontsize="small")
    ax.tick_params(axis="y", colors="C4")
    ax.set_xlabel("epoch")
    ax.grid(True, which="major")
    loss_ax.xaxis.label.set_visible(False)
    loss_ax.tick_params(axis="x", labelbottom=False)


_SPLIT_NAMES = {"val": "validation", "test": "test"}


def _plot_losses(ax: Axes, epochs: np.ndarray, frame: pd.DataFrame) -> list[np.ndarray]:
    """Draw the finite points of train_loss, val_loss and test_loss; return the finite values drawn.

    The split scored during training is C1 (the test split, without a validation split, as
    always); a split scored once is a single marked point."""
    drawn = []
    marker = "o" if len(epochs) <= 20 else None
    lines = [("train_loss", "train loss", "C0"), ("val_loss", "validation loss", "C1"),
             ("test_loss", "test loss", "C3" if "val_loss" in frame.columns else "C1")]
    for name, label, color in lines:
        values = _column(frame, name)
        if values is None:
            continue
        ok = np.isfinite(values)
        if ok.sum() == 1 and name != "train_loss":
            ax.plot(epochs[ok], values[ok], color=color, marker="*", markersize=11, linestyle="none",
                    label=f"{label} (epoch {epochs[ok][0]:g})")
        else:
            ax.plot(epochs[ok], values[ok], color=color, marker=marker, markersize=4, linewidth=1.6, label=label)
        drawn.append(values[ok])
    return drawn


def _plot_auc(ax: Axes, epochs: np.ndarray, aucs: dict[str, np.ndarray | None]) -> Axes | None:
    """Draw the evaluated ROC AUC points on a twin y-axis ranged AUC_RANGE in every run, so
    that two runs' pictures compare; an AUC below its floor (worse than chance) is drawn on it.
    ``aucs`` holds the ``val`` and ``test`` columns (None where absent); one scored once is a point."""
    if all(auc is None for auc in aucs.values()):
        return None
    twin = ax.twinx()
    for split, auc in aucs.items():
        if auc is None:
            continue
        ok = np.isfinite(auc)
        floor = float(auc[ok].min()) < AUC_RANGE[0]
        label = f"{_SPLIT_NAMES[split]} ROC AUC{f' (<{AUC_RANGE[0]:g} at {AUC_RANGE[0]:g})' if floor else ''}"
        if ok.sum() == 1 and aucs.get("val") is not None:
            label += f" (epoch {epochs[ok][0]:g})"
            twin.plot(epochs[ok], np.maximum(auc[ok], AUC_RANGE[0]), color="C2", marker="*", markersize=11,
                      linestyle="none", clip_on=False, markeredgecolor="0.2", label=label)
            continue
        marker = "o" if ok.sum() <= 60 else None
        twin.plot(epochs[ok], np.maximum(auc[ok], AUC_RANGE[0]), color="C2", linestyle="--", marker=marker,
                  markersize=3.5, linewidth=1.4, clip_on=False, label=label)
    twin.set_ylim(*AUC_RANGE)
    twin.set_ylabel("validation ROC AUC" if aucs.get("val") is not None else "test ROC AUC", color="C2")
    twin.tick_params(axis="y", colors="C2")
    return twin


def _mark_divergence(ax: Axes, epochs: np.ndarray, frame: pd.DataFrame) -> None:
    """A dotted vertical line at the first epoch whose loss is NaN or infinite."""
    bad = np.zeros(len(epochs), dtype=bool)
    if "train_loss" in frame.columns:  # logged every epoch: NaN there means the run broke down
        bad |= ~np.isfinite(np.asarray(frame["train_loss"].astype(float)))
    for name in ("val_loss", "test_loss"):  # may be NaN when not evaluated, so only inf counts
        if name in frame.columns:
            bad |= np.isinf(np.asarray(frame[name].astype(float)))
    if bad.any():
        epoch = epochs[np.argmax(bad)]
        ax.axvline(epoch, color="0.3", linestyle=":", linewidth=1.4, label=f"diverged (epoch {epoch:g})")


_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power_of_ten(value: float, position: int) -> str:
    """``10⁻³`` in plain text: reads like mathtext without its slow first parse."""
    exponent = round(math.log10(value)) if value > 0 else 0
    if not math.isclose(value, 10.0**exponent, rel_tol=1e-6):
        return ""
    return "10" + str(exponent).translate(_SUPERSCRIPTS)


def _two_or_five(value: float, position: int) -> str:
    """A log axis's minor tick at 2 or 5 times a power of ten, in plain numbers; the others bare."""
    mantissa = value / 10.0 ** math.floor(math.log10(value)) if value > 0 else 0.0
    return f"{value:g}" if any(math.isclose(mantissa, m, rel_tol=1e-6) for m in (2.0, 5.0)) else ""


def _loss_axes(ax: Axes, epochs: np.ndarray, losses: list[np.ndarray]) -> None:
    """Labels, grid, integer epoch ticks and a log scale for the loss in every run, so that two
    runs' pictures compare (a linear one only for a loss with values at or below zero, which a log
    scale cannot show). A loss within a decade gets plain ticks, which powers of ten would leave bare."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator

    finite = np.concatenate(losses) if losses else np.array([])
    if finite.size and finite.min() > 0:
        ax.set_yscale("log")
        decades = math.log10(finite.max() / finite.min())
        if decades < 1.0:
            ax.yaxis.set_major_locator(MaxNLocator(nbins=6))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda value, position: f"{value:.3g}"))
            ax.yaxis.set_minor_locator(NullLocator())
        elif decades < 2.0:  # plain numbers at 1, 2 and 5 of each decade
            ax.yaxis.set_major_formatter(FuncFormatter(lambda value, position: f"{value:g}"))
            ax.yaxis.set_minor_formatter(FuncFormatter(_two_or_five))
        else:
            ax.yaxis.set_major_formatter(FuncFormatter(_power_of_ten))
            ax.yaxis.set_minor_formatter(FuncFormatter(lambda value, position: ""))
    if not finite.size:
        ax.text(0.5, 0.5, "no finite loss recorded", transform=ax.transAxes, ha="center", va="center", color="0.4")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    known = epochs[np.isfinite(epochs)]
    if known.size:  # every epoch in view, a divergence marker on the last one included
        pad = max(0.03 * (known.max() - known.min()), 1.0)
        ax.set_xlim(known.min() - pad, known.max() + pad)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.grid(True, which="major")


def _combined_legend(fig: Figure, axes: list[Axes]) -> None:
    """One legend for the lines of every axis, below the plot where it cannot hide data."""
    handles, labels = [], []
    for axis in axes:
        more_handles, more_labels = axis.get_legend_handles_labels()
        handles += more_handles
        labels += more_labels
    if handles:
        ncol = min(len(handles), 4, _fit_columns(labels, fig.get_figwidth() - 0.2))
        _grow_bottom(fig, LEGEND_ROW * (math.ceil(len(handles) / ncol) - 1))
        _bottom_legend(fig, handles, labels, ncol=ncol)


def _grow_bottom(fig: Figure, inches: float) -> None:
    """Make the figure ``inches`` taller at the bottom, every other margin kept (room for a legend's rows)."""
    if inches <= 0:
        return
    height, params = fig.get_figheight(), fig.subplotpars
    bottom, top = params.bottom * height, (1 - params.top) * height
    fig.set_figheight(height + inches)
    fig.subplots_adjust(bottom=(bottom + inches) / (height + inches), top=1 - top / (height + inches))


# -- decision boundary ------------------------------------------------------------------------


def boundary_grid(X: np.ndarray, resolution: int = 200) -> Grid:
    """``(xx, yy, points)``: a resolution x resolution grid over X's bounding box plus 10% margins."""
    return grid_over(plane_box(X), resolution)


def plane_box(*parts: np.ndarray | None) -> Box:
    """``(low, high)``: the least and greatest of each of the two columns over the points of every
    part (None parts left out), as ``np.vstack(parts)`` would give them, without the copy.

    Column by column: numpy reduces a tall array of two columns along its rows several times
    more slowly. A minimum or maximum is exact, so the box is the same, bit for bit.
    """
    arrays = [np.asarray(X, dtype=float) for X in parts if X is not None]
    shapes = ", ".join(str(X.shape) for X in arrays)
    if not arrays or any(X.ndim != 2 or X.shape[1] != 2 for X in arrays) or not sum(map(len, arrays)):
        raise ValueError(f"X must be a non-empty, finite (n_samples, 2) array. Received shape {shapes}")
    filled = [X for X in arrays if len(X)]
    low = np.array([np.min([X[:, j].min() for X in filled]) for j in range(2)])
    high = np.array([np.max([X[:, j].max() for X in filled]) for j in range(2)])
    if not (np.isfinite(low).all() and np.isfinite(high).all()):  # a NaN reaches both, an infinity one
        raise ValueError(f"X must be a non-empty, finite (n_samples, 2) array. Received shape {shapes}")
    return low, high


def grid_over(box: Box, resolution: int = 200) -> Grid:
    """``(xx, yy, points)``: a resolution x resolution grid over ``box`` (``plane_box``) plus 10% margins."""
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2. Received {resolution}")
    low, high = box
    margin = np.where(high > low, 0.1 * (high - low), 0.5)
    axes = [np.linspace(lo, hi, resolution) for lo, hi in zip(low - margin, high + margin)]
    xx, yy = np.meshgrid(*axes)
    return xx, yy, np.column_stack([xx.ravel(), yy.ravel()])


def decision_boundary(
    proba_grid: np.ndarray,
    grid: Grid,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    title: str,
    class_names: Sequence[str] | None = None,
    feature_names: Sequence[str] | None = None,
) -> Figure:
    """The model's classes over the plane, with the train (filled) and test (hollow) points.

    ``proba_grid`` holds the output on ``grid``'s points: P(class 1), flat or ``(n_points, 1)``
    (or two softmax columns), draws P(class 1) as a map with its 0.5 contour; ``(n_points, k)``
    with k > 2 draws each class's region in its colour, lighter where the model is less sure (the
    largest probability), with the boundaries between regions. ``class_names`` and
    ``feature_names`` (the two axes) replace "class i", x₁ and x₂. At most MAX_POINTS_PER_CLASS
    points of a class are drawn, and the legend says when points were left out.
    """
    xx, yy = grid[0], grid[1]
    proba = np.asarray(proba_grid, dtype=float)
    if proba.ndim == 2 and proba.shape[0] == xx.size and proba.shape[1] == 2:
        proba = proba[:, 1]  # P(class 1) of a two-column softmax
    title = wrap_title(title, 5.3)  # centred over the axes, which sit left of the colour bar
    with _style():
        if proba.ndim == 2 and proba.shape[0] == xx.size and proba.shape[1] > 2:
            fig, ax = _regions_figure(xx, yy, proba.reshape(*xx.shape, -1), (X_train, y_train, X_test, y_test),
                                      class_names, feature_names, _title_lines(title))
        elif proba.size != xx.size:
            raise ValueError(f"proba_grid has {proba.size} values but the grid has {xx.size} points")
        else:
            fig, ax, _, _ = _boundary_figure(xx, yy, proba.reshape(xx.shape), X_train, y_train, X_test, y_test,
                                             title_lines=_title_lines(title), class_names=class_names,
                                             feature_names=feature_names)
        _title(ax, title)
    return fig


def _boundary_figure(xx: np.ndarray, yy: np.ndarray, proba: np.ndarray, X_train: np.ndarray, y_train: np.ndarray,
                     X_test: np.ndarray, y_test: np.ndarray, title_lines: int = 1,
                     class_names: Sequence[str] | None = None,
                     feature_names: Sequence[str] | None = None) -> tuple[Figure, Axes, Any, Any]:
    """The untitled two-class decision-boundary figure, with room for a title of ``title_lines``
    lines; ``(fig, ax, image, colour bar)``."""
    names = _class_labels(2, class_names)
    X_train, y_train, X_test, y_test, hidden = _thin(X_train, y_train, X_test, y_test)
    handles, labels = _boundary_legend(names)
    ncol = min(3, _fit_columns(labels, LEGEND_WIDTH))
    if ncol < 3:  # long class names: a row for each class, the boundary last
        handles, labels = _rows_first([(handles[:2], labels[:2]), (handles[2:4], labels[2:4]),
                                       (handles[4:], labels[4:])], ncol)
    note = _thinned_note(len(y_train) + len(y_test), hidden) if hidden else None
    legend_room = LEGEND_ROW * (math.ceil(len(labels) / ncol) - 2 + (1 if note else 0))
    left, right, bottom, top = BOUNDARY_MARGINS
    height = _boundary_height(np.ptp(yy) / np.ptp(xx)) + TITLE_LINE * (title_lines - 1) + legend_room
    fig = _new_figure(6.0, height, (left, right, bottom + legend_room, top + TITLE_LINE * (title_lines - 1)))
    ax = fig.add_subplot()
    image = _heat_map(ax, proba, xx, yy, _background_cmap(), 0.0, 1.0)
    _scatter_classes(ax, X_train, y_train, X_test, y_test)
    _plane_axes(fig, ax, xx, yy, feature_names)
    bar = _colour_bar(fig, ax, image, f"P({names[1]})")
    _half_contour(ax, bar, xx, yy, proba)
    _bottom_legend(fig, handles, labels, ncol=ncol, title=note)
    return fig, ax, image, bar


def _plane_axes(fig: Figure, ax: Axes, xx: np.ndarray, yy: np.ndarray, feature_names: Sequence[str] | None) -> None:
    """The grid's extent, the axis labels (x₁, x₂ unless named), room for the y tick labels."""
    ax.set_xlim(xx[0, 0], xx[0, -1])
    ax.set_ylim(yy[0, 0], yy[-1, 0])
    x_label, y_label = ("x₁", "x₂") if feature_names is None else (_short(str(n), 40) for n in feature_names)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    _fit_tick_labels(fig, ax.yaxis, "left")


# -- decision regions of k > 2 classes -----------------------------------------------------------


def _regions_figure(xx: np.ndarray, yy: np.ndarray, proba: np.ndarray, points: tuple[np.ndarray, ...],
                    class_names: Sequence[str] | None, feature_names: Sequence[str] | None,
                    title_lines: int = 1) -> tuple[Figure, Axes]:
    """The untitled k-class figure: ``proba`` is ``(rows, columns, k)`` over the grid, ``points``
    ``(X_train, y_train, X_test, y_test)``; ``(fig, ax)``."""
    k = proba.shape[-1]
    colors, names = class_colors(k), _class_labels(k, class_names)
    X_train, y_train, X_test, y_test, hidden = _thin(*points)
    handles, labels = _regions_legend(names, colors)
    fit = _fit_columns(labels, LEGEND_WIDTH)
    ncol = max(math.ceil(k / math.ceil(k / fit)), min(3, fit))  # even columns of classes, the key in one row
    handles, labels = _rows_first([(handles[:k], labels[:k]), (handles[k:], labels[k:])], ncol)
    rows = len(labels) // ncol + (1 if hidden else 0)
    left, right, bottom, top = BOUNDARY_MARGINS
    legend_room = 0.55 + LEGEND_ROW * rows - bottom  # beyond the two-class figure's two legend rows
    extra = TITLE_LINE * (title_lines - 1)
    height = _quarter_inches(_boundary_height(np.ptp(yy) / np.ptp(xx)) + legend_room) + extra
    fig = _new_figure(6.0, height, (left, right, bottom + legend_room, top + extra))
    ax = fig.add_subplot()
    dx, dy = (xx[0, 1] - xx[0, 0]) / 2, (yy[1, 0] - yy[0, 0]) / 2
    ax.imshow(_region_colours(proba, colors), extent=(xx[0, 0] - dx, xx[0, -1] + dx, yy[0, 0] - dy, yy[-1, 0] + dy),
              origin="lower", interpolation="bilinear", aspect="equal")
    _scatter_classes(ax, X_train, y_train, X_test, y_test, colors)
    _plane_axes(fig, ax, xx, yy, feature_names)
    _confidence_bar(fig, ax, k)
    _region_edges(ax, xx, yy, proba)
    note = _thinned_note(len(y_train) + len(y_test), hidden) if hidden else None
    _bottom_legend(fig, handles, labels, ncol=ncol, title=note)
    return fig, ax


def _region_colours(proba: np.ndarray, colors: Sequence[Any]) -> np.ndarray:
    """An RGB image: each point in its most probable class's colour, the fainter the nearer the
    largest probability is to 1/k (a guess); white where the output is not finite."""
    k = proba.shape[-1]
    finite = np.isfinite(proba).all(axis=-1)
    safe = np.where(finite[..., None], proba, 0.0)
    sure = np.clip((safe.max(axis=-1) - 1 / k) / (1 - 1 / k), 0.0, 1.0)
    low, high = REGION_STRENGTH
    strength = (low + (high - low) * sure)[..., None]
    image = 1.0 - strength * (1.0 - np.asarray(colors)[:, :3][safe.argmax(axis=-1)])
    image[~finite] = 1.0
    return image


def _confidence_bar(fig: Figure, ax: Axes, k: int) -> Any:
    """The colour bar of the k-class map: the largest probability, from 1/k to 1, as grey shades
    as light as the regions' colours at that confidence."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap, Normalize

    low, high = REGION_STRENGTH
    shades = 1.0 - np.linspace(low, high, 256)[:, None] * (1.0 - np.array([[0.3, 0.3, 0.3]]))
    scale = ScalarMappable(Normalize(1 / k, 1.0), ListedColormap(np.column_stack([shades, np.ones(256)])))
    ticks = [1 / k] + [t for t in (0.25, 0.5, 0.75, 1.0) if t > 1 / k + 0.08]
    bar = _colour_bar(fig, ax, scale, "largest class probability", ticks)
    bar.set_ticks(ticks, labels=[f"{t:.2g}" if i == 0 else f"{t:g}" for i, t in enumerate(ticks)])
    return bar


def _region_edges(ax: Axes, xx: np.ndarray, yy: np.ndarray, proba: np.ndarray) -> None:
    """The boundaries between the classes' regions: where a class's probability equals the
    largest of the others (drawn from both sides, the two lines coincide)."""
    finite = np.isfinite(proba).all(axis=-1)
    if not finite.any():
        return
    ordered = np.sort(np.where(finite[..., None], proba, 0.0), axis=-1)
    first, second = ordered[..., -1], ordered[..., -2]
    for label in range(proba.shape[-1]):
        p = proba[..., label]
        margin = np.ma.masked_array(p - np.where(p >= first, second, first), ~finite)
        if margin.min() < 0 < margin.max():
            ax.contour(xx, yy, margin, levels=[0.0], colors="0.15", linewidths=0.9)


def _regions_legend(names: Sequence[str], colors: Sequence[Any]) -> tuple[list[Any], list[str]]:
    """Proxy legend entries: each class's colour and name, then train and test markers, the boundary."""
    from matplotlib.lines import Line2D

    def marker(face: Any, edge: Any) -> Line2D:
        return Line2D([], [], linestyle="none", marker="o", markersize=7, markerfacecolor=face,
                      markeredgecolor=edge, markeredgewidth=1.3)

    handles = [marker(color, color) for color in colors]
    handles += [marker("0.15", "0.15"), marker("none", "0.15"), Line2D([], [], color="0.15", linewidth=0.9)]
    return handles, [*names, "train", "test", "class boundary"]


def _fit_columns(labels: Sequence[str], width: float) -> int:
    """How many legend columns, each as wide as the longest label's entry, fit across ``width`` inches."""
    entry = max(map(_entry_inches, labels))
    return max(1, min(len(labels), int(width // entry)))


def _entry_inches(label: str) -> float:
    """Inches a legend entry takes across at legend.fontsize: the marker, gaps and the label."""
    import matplotlib
    from matplotlib.font_manager import FontProperties

    em = FontProperties(size=matplotlib.rcParams["legend.fontsize"]).get_size_in_points() / 72
    return 0.6 + len(label) * CHAR_WIDTH * em


def _rows_first(groups: list[tuple[list[Any], list[str]]], ncol: int) -> tuple[list[Any], list[str]]:
    """Legend entries in ``ncol`` columns, reordered so that they read row by row, each group from
    a new row (matplotlib fills a legend column by column); blank entries fill the gaps."""
    from matplotlib.lines import Line2D

    cells: list[tuple[Any, str]] = []
    for handles, labels in groups:
        cells += list(zip(handles, labels))
        cells += [(Line2D([], [], linestyle="none"), "")] * (-len(cells) % ncol)
    rows = len(cells) // ncol
    ordered = [cells[row * ncol + col] for col in range(ncol) for row in range(rows)]
    return [handle for handle, _ in ordered], [label for _, label in ordered]


def _boundary_height(aspect: float) -> float:
    """Figure height (inches) for data of this height/width: little blank space around the plot.

    A multiple of 1/4 inch, so that the picture is a whole number of pixels at any integer dpi.
    """
    return float(np.clip(round(4 * (4.2 * aspect + 1.5)) / 4, 3.5, 6.5))


def _colour_bar(fig: Figure, ax: Axes, image: Any, label: str = "P(class 1)",
                ticks: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0)) -> Any:
    """A colour bar as tall as the (equal-aspect) axes and COLOUR_BAR inches wide, beside it."""
    ax.apply_aspect()  # the margins are fixed: the axes' final box is known now
    width = ax.get_position().width * fig.get_figwidth()
    gap, thickness = COLOUR_BAR
    bar = fig.colorbar(image, cax=ax.inset_axes((1.0 + gap / width, 0.0, thickness / width, 1.0)))
    bar.set_label(label)
    bar.set_ticks(list(ticks))
    return bar


def _heat_map(ax: Axes, values: np.ndarray, xx: np.ndarray, yy: np.ndarray, cmap: Any, vmin: float,
              vmax: float) -> Any:
    """``values`` over the grid ``(xx, yy)`` as a smoothed image, its cells centred on the grid
    points, NaN left blank; the image."""
    dx, dy = (xx[0, 1] - xx[0, 0]) / 2, (yy[1, 0] - yy[0, 0]) / 2
    extent = (xx[0, 0] - dx, xx[0, -1] + dx, yy[0, 0] - dy, yy[-1, 0] + dy)
    return ax.imshow(np.ma.masked_invalid(values), extent=extent, origin="lower", cmap=cmap, vmin=vmin, vmax=vmax,
                     interpolation="bilinear", aspect="equal")


def _half_contour(ax: Axes, bar: Any, xx: np.ndarray, yy: np.ndarray, proba: np.ndarray) -> list[Any]:
    """The P = 0.5 contour and its mark on the colour bar, when the probability crosses 0.5; the artists."""
    finite = proba[np.isfinite(proba)]
    if not (finite.size and finite.min() < 0.5 < finite.max()):
        return []
    contour = ax.contour(xx, yy, np.ma.masked_invalid(proba), levels=[0.5], colors="0.1", linewidths=1.6)
    return [contour, bar.ax.axhline(0.5, color="0.1", linewidth=1.6)]


def _background_cmap() -> Any:
    """CMAP without its darkest ends and lightened, so that the class-coloured points stand out."""
    import matplotlib
    from matplotlib.colors import ListedColormap

    low, high, opacity = BACKGROUND
    colors = matplotlib.colormaps[CMAP](np.linspace(low, high, 256))
    colors[:, :3] = 1.0 - opacity * (1.0 - colors[:, :3])
    return ListedColormap(colors, name=f"{CMAP}_light")


def _marker_style(n_points: int) -> dict[str, float]:
    """Marker area and opacity that suit both 100 and 5000 points."""
    return {"s": float(np.clip(360.0 / math.sqrt(max(n_points, 1)), 6.0, 36.0)),
            "alpha": float(np.clip(1.1 - 0.06 * math.log(max(n_points, 1)), 0.55, 0.95))}


def _scatter_classes(ax: Axes, X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray,
                     colors: Sequence[Any] | None = None) -> None:
    """Training points filled, test points hollow, coloured by their true class (``colors``, one a
    class; the two-class colours by default)."""
    style = _marker_style(len(X_train) + len(X_test))
    edge = 0.8 if style["s"] < 15 else 1.0
    X_train, X_test = np.asarray(X_train), np.asarray(X_test)
    y_train, y_test = np.asarray(y_train).ravel(), np.asarray(y_test).ravel()
    for label, color in enumerate(_class_colors() if colors is None else colors):
        train = X_train[y_train == label]
        test = X_test[y_test == label]
        ax.scatter(train[:, 0], train[:, 1], facecolors=[color], edgecolors="white", linewidths=0.3 * edge, **style)
        ax.scatter(test[:, 0], test[:, 1], facecolors="none", edgecolors=[color], linewidths=edge, **style)


def _boundary_legend(names: Sequence[str] = ("class 0", "class 1")) -> tuple[list[Any], list[str]]:
    """Proxy legend entries: class 0/1 x train/test, and the 0.5 contour."""
    from matplotlib.lines import Line2D

    handles, labels = [], []
    for name, color in zip(names, _class_colors()):
        for split, face in (("train", color), ("test", "none")):
            handles.append(Line2D([], [], linestyle="none", marker="o", markersize=7, markerfacecolor=face,
                                  markeredgecolor=color, markeredgewidth=1.3))
            labels.append(f"{name} · {split}")
    handles.append(Line2D([], [], color="0.1", linewidth=1.6))
    labels.append("P = 0.5 boundary")
    return handles, labels


# -- ROC curve --------------------------------------------------------------------------------


def roc_curve(y_true: np.ndarray, proba: np.ndarray, title: str = "",
              class_names: Sequence[str] | None = None) -> Figure:
    """The ROC curve of ``proba`` against ``y_true`` (integer labels), with its AUC.

    ``proba`` is P(class 1), flat or as one or two output columns: one curve. An ``(n, k)`` output
    with k > 2 draws one curve per class, one-vs-rest, each with its AUC and name (``class_names``)
    in the legend, and their macro average, whose AUC is the mean of theirs (``metrics.macro_roc_auc``).
    A class absent from ``y_true`` has no curve; the legend says so.
    """
    from sklearn import metrics

    y_true = np.asarray(y_true).ravel()
    scores = np.asarray(proba, dtype=float)
    if scores.ndim == 2 and scores.shape[1] > 2:
        return _roc_curves(y_true, scores, title, class_names)
    scores = scores[:, -1] if scores.ndim == 2 else scores
    if len(np.unique(y_true)) != 2:
        raise ValueError("a ROC curve needs y_true with exactly two classes")
    fpr, tpr, _ = metrics.roc_curve(y_true, scores)
    auc = metrics.auc(fpr, tpr)  # as roc_auc_score computes it, without sorting the scores again
    fpr, tpr = _drawn(fpr, tpr)
    title = wrap_title(title, 6.0)
    with _style():
        fig = _new_figure(6.4, 4.8)
        ax = fig.add_subplot()
        ax.fill_between(fpr, tpr, color="C0", alpha=0.12, linewidth=0)
        # clip_on=False: a perfect curve runs along the frame and must still show over it
        ax.plot(fpr, tpr, color="C0", linewidth=2.0, label=f"ROC AUC = {auc:.4f}", clip_on=False, zorder=3)
        ax.plot([0, 1], [0, 1], color="0.5", linestyle="--", linewidth=1.0, label="chance (AUC = 0.5)")
        _roc_axes(ax, title)
    return fig


def _drawn(fpr: np.ndarray, tpr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A ROC curve of more than ROC_DRAWN points through fewer: on a grid of ROC_DRAWN / 2 cells a
    side, far finer than pixels, the first and last point in each cell the curve passes through.
    A curve of a million scores draws in milliseconds instead of seconds, and looks the same."""
    if len(fpr) <= ROC_DRAWN:
        return fpr, tpr
    side = ROC_DRAWN // 2
    cell = np.round(fpr * side) * (side + 1) + np.round(tpr * side)
    change = cell[1:] != cell[:-1]
    keep = np.r_[True, change] | np.r_[change, True]
    return fpr[keep], tpr[keep]


def _roc_axes(ax: Axes, title: str, legend: bool = True) -> None:
    """Square unit axes with labels, grid and (inside, lower right) legend."""
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.0)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.grid(True)
    if legend:
        ax.legend(loc="lower right")
    if title:
        _title(ax, title)


def _roc_curves(y_true: np.ndarray, scores: np.ndarray, title: str, class_names: Sequence[str] | None) -> Figure:
    """One-vs-rest ROC curves of the k columns of ``scores``, their macro average, the legend beside."""
    from sklearn import metrics

    k = scores.shape[1]
    y = _integer_labels(y_true, k)
    if len(np.unique(y)) < 2:
        raise ValueError("a ROC curve needs y_true with at least two classes")
    if not np.isfinite(scores).all():
        raise ValueError("a ROC curve needs finite scores")
    curves = {label: metrics.roc_curve(y == label, scores[:, label])[:2] for label in np.unique(y)}
    aucs = {label: metrics.auc(*curve) for label, curve in curves.items()}
    curves = {label: _drawn(*curve) for label, curve in curves.items()}
    labels = [f"macro average · AUC {np.mean(list(aucs.values())):.4f}"]
    labels += [f"{name} · AUC {aucs[c]:.4f}" if c in aucs else f"{name} · not in the data"
               for c, name in enumerate(_class_labels(k, class_names))]
    labels.append("chance (AUC = 0.5)")
    legend_width = _legend_width(labels)
    left, _, bottom, top = ROC_MARGINS  # the title is centred over the square axes, the legend at their right
    title = wrap_title(title, 2 * left + 4.8 - bottom - top - 0.2)
    with _style():
        fig, ax, corner = _roc_figure(legend_width, _title_lines(title))
        handles = [_macro_curve(ax, list(curves.values()))]
        for label, color in enumerate(class_colors(k)):
            # clip_on=False: a perfect curve runs along the frame and must still show over it
            handles += ax.plot(*curves.get(label, ([], [])), color=color, linewidth=1.3, clip_on=False, zorder=3)
        handles += ax.plot([0, 1], [0, 1], color="0.5", linestyle="--", linewidth=1.0)
        _roc_axes(ax, title, legend=False)
        fig.legend(handles, labels, loc="upper left", borderaxespad=0.0, bbox_to_anchor=corner)
    return fig


def _roc_figure(legend_width: float, title_lines: int = 1) -> tuple[Figure, Axes, tuple[float, float]]:
    """A figure with square ROC axes and room for a legend ``legend_width`` inches wide at their
    right; the figure, the axes and the legend's top-left corner (figure fraction)."""
    left, right, bottom, top = ROC_MARGINS
    side = 4.8 - bottom - top
    top += TITLE_LINE * (title_lines - 1)
    height = 4.8 + TITLE_LINE * (title_lines - 1)
    fig = _new_figure(_quarter_inches(left + side + right + legend_width), height, (left, 0.0, bottom, top))
    width = fig.get_figwidth()
    fig.subplots_adjust(right=(left + side) / width)
    return fig, fig.add_subplot(), ((left + side + right) / width, 1 - top / height)


def _macro_curve(ax: Axes, curves: list[tuple[np.ndarray, np.ndarray]]) -> Any:
    """The mean true positive rate of the curves at every false positive rate any of them has, on
    both sides of each vertical step, so that the area under it is the mean of their areas; the line drawn."""
    fpr = np.unique(np.concatenate([curve[0] for curve in curves]))
    below, above = np.mean([_steps(fpr, *curve) for curve in curves], axis=0)
    (line,) = ax.plot(np.repeat(fpr, 2), np.column_stack([below, above]).ravel(), color="0.1", linewidth=2.2,
                      clip_on=False, zorder=4)
    return line


def _steps(at: np.ndarray, fpr: np.ndarray, tpr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A ROC curve's true positive rate at the false positive rates ``at``, reached from the left
    and from the right: the lowest and highest of a vertical step there, else the same value."""
    first = np.minimum(np.searchsorted(fpr, at, side="left"), len(fpr) - 1)
    last = np.searchsorted(fpr, at, side="right") - 1
    between = np.interp(at, fpr, tpr)  # off the curve's own points, the segment's value
    return (np.where(fpr[first] == at, tpr[first], between),
            np.where(fpr[np.maximum(last, 0)] == at, tpr[np.maximum(last, 0)], between))


def _legend_width(labels: Sequence[str]) -> float:
    """Inches a one-column legend of ``labels`` takes, its frame and the gap before it included."""
    import matplotlib
    from matplotlib.font_manager import FontProperties

    em = FontProperties(size=matplotlib.rcParams["legend.fontsize"]).get_size_in_points() / 72
    return 0.65 + max(map(len, labels)) * CHAR_WIDTH * em


def _integer_labels(y_true: np.ndarray, n_classes: int) -> np.ndarray:
    """``y_true`` as integer labels, checked to lie in 0..n_classes-1."""
    y = np.asarray(y_true).ravel()
    if y.size and (not np.issubdtype(y.dtype, np.number) or np.any(y != np.round(y))
                   or y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"y_true must hold integer labels 0..{n_classes - 1}. Received {np.unique(y)[:10].tolist()}")
    return y.astype(np.int64)


# -- confusion matrix -------------------------------------------------------------------------


def confusion_matrix(counts: np.ndarray, class_names: Sequence[str] | None = None, title: str = "") -> Figure:
    """The confusion matrix twice, side by side: the counts, and each true class's row as shares of it.

    ``counts`` is ``(k, k)``: row i the samples of true class i, column j those predicted as class
    j (``metrics.confusion_counts(...)["counts"]``). A class with no samples has a blank row of
    shares. Names longer than NAME_CHARS are cut; the predicted classes' names turn 45° when they
    would not fit across a cell.
    """
    counts = np.asarray(counts)
    if (counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.size == 0
            or not np.issubdtype(counts.dtype, np.number) or (counts < 0).any() or (counts != np.round(counts)).any()):
        raise ValueError(f"counts must be a square (k, k) array of counts. Received shape {counts.shape}")
    k = len(counts)
    if class_names is not None and len(class_names) != k:
        raise ValueError(f"class_names has {len(class_names)} names for {k} classes. Received {list(class_names)}")
    names = [_short(str(name)) for name in (range(k) if class_names is None else class_names)]
    counts = counts.astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = counts / counts.sum(axis=1, keepdims=True)
    with _style():
        cell, turn, axes, title = _confusion_figure(names, title)
        fig = axes[0].figure
        _confusion_panel(axes[0], counts / max(counts.max(), 1), [_count_text(n) for n in counts.ravel()], cell)
        _confusion_panel(axes[1], shares, [_share_text(s, k) for s in shares.ravel()], cell)
        for ax, panel_title in zip(axes, ("counts", "share of each true class")):
            _title(ax, panel_title)
            ax.set_xticks(range(k), names, rotation=45 if turn else 0, ha="right" if turn else "center",
                          rotation_mode="anchor")
            ax.set_xlabel("predicted class")
        axes[0].set_yticks(range(k), names)
        axes[0].set_ylabel("true class")
        axes[1].set_yticks([])  # the rows are named once, on the left panel
        if title:
            fig.suptitle(title, y=1 - 0.1 / fig.get_figheight(), va="top")
    return fig


def _confusion_figure(names: Sequence[str], title: str) -> tuple[float, bool, list[Axes], str]:
    """The figure's two panels placed by hand, sized for ``names``: a cell's side (inches), whether
    the column names turn 45°, the two axes, and ``title`` wrapped to the figure's width."""
    import matplotlib

    k = len(names)
    cell = float(np.clip(CONFUSION_SIDE / k, *CONFUSION_CELL))
    points = matplotlib.rcParams["xtick.labelsize"]
    longest = _text_width(names, points)
    turn = longest > 0.9 * cell
    drop = 0.7071 * (longest + points / 72) if turn else points / 72  # the column names' depth below the panel
    left = 0.5 + longest  # the axis label, the row names
    gap = max(0.35, drop) if turn else 0.35  # the right panel's turned names reach back into it
    side = cell * k
    width = left + 2 * side + gap + 0.25
    title = wrap_title(title, max(width, 5.0) - 0.5) if title else ""
    bottom, top = drop + 0.55, 0.4 + (0.08 + 0.2 * (title.count("\n") + 1) if title else 0.0)
    height = top + side + bottom
    # no layout engine: the panels are placed by hand below, and with one (even "none" after
    # "constrained") savefig lays the figure out in a whole draw before the one it renders
    fig = _new_figure(_quarter_inches(max(width, 5.0)), _quarter_inches(height), (0.0, 0.0, 0.0, 0.0))
    W, H = fig.get_size_inches()
    left += (W - width) / 2  # centred in what rounding and the least width added
    box = (side / W, side / H)
    first = fig.add_axes((left / W, bottom / H, *box))
    second = fig.add_axes(((left + side + gap) / W, bottom / H, *box))
    return cell, turn, [first, second], title


def _text_width(texts: Sequence[str], points: float) -> float:
    """Inches the widest of ``texts`` takes at ``points`` in the default font, measured without drawing."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    prop, measure = FontProperties(size=points), TextToPath()
    return max(measure.get_text_width_height_descent(text, prop, ismath=False)[0] for text in texts) / 72


def _confusion_panel(ax: Axes, shade: np.ndarray, texts: list[str], cell: float) -> None:
    """One panel: cells shaded by ``shade`` (0-1, NaN blank), each with its text."""
    import matplotlib
    from matplotlib.collections import LineCollection

    k = len(shade)
    cmap = matplotlib.colormaps["Blues"].with_extremes(bad="0.94")
    ax.imshow(np.ma.masked_invalid(shade), cmap=cmap, vmin=0.0, vmax=1.0, aspect="equal")
    size = float(np.clip(cell * 72 * 0.3, 6.5, 10.0))
    for (row, col), value, text in zip(np.ndindex(k, k), shade.ravel(), texts):
        color = "white" if value > 0.55 else ("0.6" if text in ("0", "") else "0.1")
        ax.text(col, row, text, ha="center", va="center", fontsize=size, color=color)
    # White lines between the cells, as a grid would draw them, in one artist: a grid on minor
    # ticks at the cells' edges makes a tick of five artists for each line
    edges = np.arange(k + 1) - 0.5
    low, high = edges[0], edges[-1]
    lines = [[(low, e), (high, e)] for e in edges] + [[(e, low), (e, high)] for e in edges]
    ax.add_collection(LineCollection(lines, colors="white", linewidths=1.0, alpha=matplotlib.rcParams["grid.alpha"],
                                     zorder=1.5), autolim=False)
    ax.tick_params(which="major", length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)


def _count_text(count: int) -> str:
    """A count short enough for a cell: 1234, 12.3k, 123k, 1.2M."""
    if count < 10_000:
        return str(count)
    value = float(count)
    for suffix in "kMG":
        value /= 1000
        if round(value, 1) < 100:
            return f"{value:.1f}{suffix}"
        if round(value) < 1000:
            return f"{value:.0f}{suffix}"
    return f"{value:.0f}T"


def _share_text(share: float, k: int) -> str:
    """A share as a percentage, to a tenth for a few classes; "" for a row with no samples."""
    if not math.isfinite(share):
        return ""
    if share == 0:
        return "0"
    digits = 1 if k <= 5 else 0
    text = f"{100 * share:.{digits}f}%"
    return text if float(text[:-1]) > 0 else f"<{10.0 ** -digits:g}%"


# -- training animation -----------------------------------------------------------------------


def boundary_animation(
    snapshots: list[dict],
    xx: np.ndarray,
    yy: np.ndarray,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    path: str | os.PathLike,
    title: str = "",
    fps: int = 8,
    dpi: int = 100,
    auc_label: str = "test AUC",
) -> Path:
    """An animated GIF of the decision boundary during training, one frame per snapshot, written
    atomically; each frame's title gives the epoch, the loss and the held-out ROC AUC as ``auc_label``."""
    path = Path(path)
    if path.suffix.lower() != ".gif":
        raise ValueError(f"{path}: an animation is written as a GIF; use the .gif suffix")
    if not snapshots:
        raise ValueError("boundary_animation needs at least one snapshot")
    frames = [_snapshot_proba(snapshot, xx.shape) for snapshot in snapshots]
    title = wrap_title(title, 5.3)  # as the decision boundary's: centred over the axes
    with _style():
        blank = np.full(xx.shape, np.nan)  # no contour yet: each frame draws (and removes) its own
        fig, ax, image, bar = _boundary_figure(xx, yy, blank, X_train, y_train, X_test, y_test,
                                               title_lines=_frame_title(title, snapshots[0], auc_label).count("\n") + 1)
        try:
            writer, contour = _gif_writer(fps), []
            with runs.atomic_path(path) as tmp, _gif_file(tmp) as gif, writer.saving(fig, gif, dpi):
                for snapshot, proba in zip(snapshots, frames):
                    for artist in contour:
                        artist.remove()
                    image.set_data(proba)
                    contour = _half_contour(ax, bar, xx, yy, proba)
                    _title(ax, _frame_title(title, snapshot, auc_label))
                    writer.grab_frame()
        finally:
            _free(fig)
    return path


def _snapshot_proba(snapshot: dict, shape: tuple[int, ...]) -> np.ndarray:
    """A snapshot's probability map (stored as uint8, probability x 255) as floats in [0, 1]."""
    proba = np.asarray(snapshot["proba"])
    if proba.size != math.prod(shape):
        raise ValueError(f"snapshot of epoch {snapshot.get('epoch')}: proba has {proba.size} values, "
                         f"the grid has {math.prod(shape)} points")
    return proba.reshape(shape).astype(float) / 255.0


@contextmanager
def _gif_file(tmp: Path) -> Iterator[Path]:
    """A .gif name in a private folder beside ``tmp``, moved onto ``tmp`` on success.

    Pillow picks the format from the file name, and ``runs.atomic_path`` names its file *.tmp.
    """
    import tempfile

    with tempfile.TemporaryDirectory(dir=tmp.parent, prefix=f".{tmp.name}.") as folder:
        gif = Path(folder) / "animation.gif"
        yield gif
        os.replace(gif, tmp)


def _gif_writer(fps: int) -> Any:
    """matplotlib's PillowWriter, mapping every frame onto one shared palette as it is grabbed.

    Left to itself Pillow picks a palette per frame: the map then flickers and bands, the file is
    about three times larger, and choosing the palettes takes a third of the time.
    """
    from matplotlib.animation import PillowWriter
    from PIL import Image

    class SharedPaletteWriter(PillowWriter):
        palette: Image.Image | None = None

        def grab_frame(self, **savefig_kwargs: Any) -> None:
            super().grab_frame(**savefig_kwargs)
            frame = self._frames[-1].convert("RGB")
            if self.palette is None:
                self.palette = _gif_palette(frame)
            self._frames[-1] = frame.quantize(palette=self.palette, dither=Image.Dither.NONE)

    return SharedPaletteWriter(fps=fps)


def _gif_palette(frame: Any) -> Any:
    """A 256-colour palette: white, black, GIF_MAP_COLORS steps of the probability map, the rest from ``frame``."""
    from PIL import Image

    ramp = np.round(255 * _background_cmap()(np.linspace(0.0, 1.0, GIF_MAP_COLORS))[:, :3]).astype(np.uint8)
    others = 254 - GIF_MAP_COLORS
    rest = frame.quantize(others, method=Image.Quantize.FASTOCTREE).getpalette()[:3 * others]
    palette = Image.new("P", (1, 1))
    palette.putpalette([255, 255, 255, 0, 0, 0] + ramp.ravel().tolist() + rest)
    return palette


def _frame_title(title: str, snapshot: dict, auc_label: str = "test AUC") -> str:
    """The title line (if any) over "epoch E · loss L · test AUC A"; the AUC is "—" when not evaluated."""
    auc, loss = float(snapshot.get("val_roc_auc", math.nan)), float(snapshot["train_loss"])
    if int(snapshot["epoch"]) == 0:
        status = "epoch 0 · initial weights, before training"
    else:
        status = (f"epoch {int(snapshot['epoch'])} · loss {f'{loss:.4g}' if math.isfinite(loss) else '—'}"
                  f" · {auc_label} {f'{auc:.4f}' if math.isfinite(auc) else '—'}")
    return f"{title}\n{status}" if title else status


# -- what each unit learned -------------------------------------------------------------------

NEURON_COLUMNS = 8  # at most this many heat maps side by side: wider layers wrap onto more rows
NEURON_PANEL = (0.4, 1.3)  # inches per heat map: at most the larger, less if the figure would grow too tall
OUTPUT_SPAN = 3  # an output map is as wide as this many hidden maps (with the gaps between them), room allowing
NEURON_MAX_HEIGHT = 20.0  # inches, unless even maps of the smaller NEURON_PANEL size would not fit
NEURON_SPACE = {"label": 0.45, "gap": 0.12, "title": 0.2, "band": 0.12}  # inches: row labels, between maps, ...
UNIT_CMAPS = {"signed": "PuOr", "positive": "Purples"}  # hidden units: tanh-like (centred at 0), relu-like
UNIT_SCALES = {  # the figure's caption, one line for each kind of layer it shows
    "positive": "non-negative units: white = 0 → purple = the unit's maximum",
    "signed": "signed units: orange < 0 (white) < purple, symmetric about 0",
    "output": "output: probability of the class, as in the decision boundary",
}


def neurons(
    panels: list[tuple[str, np.ndarray]],
    xx: np.ndarray,
    yy: np.ndarray,
    X: np.ndarray | None = None,
    y: np.ndarray | None = None,
    title: str = "",
) -> Figure:
    """Each unit's activation over the plane: one row of heat maps per layer, the network output last."""
    layers = [(label, _unit_activations(label, values, xx.size)) for label, values in panels]
    if not layers:
        raise ValueError("neurons needs at least one (label, activations) panel")
    kinds = [_layer_kind(values) for _, values in layers[:-1]] + ["output"]
    columns = min(NEURON_COLUMNS, max(values.shape[1] for _, values in layers))
    rows = [math.ceil(values.shape[1] / columns) for _, values in layers]
    caption = ["each map is coloured on its own scale"] + [UNIT_SCALES[kind] for kind in UNIT_SCALES if kind in kinds]
    bottom = 0.1 + 0.16 * len(caption)
    # The output, what the network computes, is drawn larger: up to OUTPUT_SPAN maps' width a map,
    # on one row, as the block of hidden maps leaves room for.
    n_out, gap = layers[-1][1].shape[1], NEURON_SPACE["gap"]
    span = max(1, min(OUTPUT_SPAN, columns // n_out))
    rows[-1] = span if span > 1 else rows[-1]
    size = _neuron_size(rows, (0.4 if title else 0.1) + bottom)  # a title of one line: the usual case
    sizes = [size] * (len(layers) - 1) + [span * size + (span - 1) * gap]
    rows[-1] = 1 if span > 1 else rows[-1]
    bands = [n * (s + NEURON_SPACE["title"]) + NEURON_SPACE["band"] for n, s in zip(rows, sizes)]
    block = columns * (size + gap) - gap  # the widest row of maps
    width = _quarter_inches(max(5.0, NEURON_SPACE["label"] + block + 0.2))
    left = NEURON_SPACE["label"] + (width - NEURON_SPACE["label"] - block) / 2  # its left edge
    title = wrap_title(title, width - 0.5) if title else ""
    top = 0.1 + 0.22 * (title.count("\n") + 1) + 0.08 if title else 0.1
    with _style():
        fig = _new_figure(width, _quarter_inches(top + sum(bands) + bottom))
        fig.set_layout_engine("none")  # placed by hand, in inches: every map exactly the same size
        band_top = fig.get_figheight() - top
        for index, ((label, values), kind, band, side) in enumerate(zip(layers, kinds, bands, sizes)):
            _layer_band(fig, label, band_top - band, band, left, shaded=index % 2 == 1)
            across = columns if side == size else values.shape[1]  # large output maps: one row, centred
            start = left + (block - across * (side + gap) + gap) / 2
            axes = _unit_maps(fig, values, xx, yy, kind, (start, band_top - NEURON_SPACE["band"] / 2), across, side)
            if kind == "output" and X is not None and y is not None:
                for ax in axes:
                    _scatter_tiny(ax, X, y)
            band_top -= band
        if title:
            fig.suptitle(title, y=1.0 - 0.08 / fig.get_figheight(), va="top")
        fig.text(0.5, (band_top - 0.08) / fig.get_figheight(), "\n".join(caption), ha="center", va="top",
                 fontsize=8, color="0.35", linespacing=1.3)
    return fig


def _quarter_inches(length: float) -> float:
    """``length`` rounded up to a multiple of 1/4 inch: a whole number of pixels at any integer dpi."""
    return math.ceil(round(4 * length, 6)) / 4


def _neuron_size(rows: list[int], margins: float) -> float:
    """The side of a heat map (inches): NEURON_PANEL's larger size unless the figure would be too tall."""
    spare = NEURON_MAX_HEIGHT - margins - NEURON_SPACE["band"] * len(rows)
    return float(np.clip(spare / sum(rows) - NEURON_SPACE["title"], *NEURON_PANEL))


def _layer_band(fig: Figure, label: str, bottom: float, height: float, left: float, shaded: bool) -> None:
    """A layer's strip across the figure (inches), shaded or not, labelled just left of ``left``."""
    from matplotlib.patches import Rectangle

    width, total = fig.get_size_inches()
    if shaded:  # alternate strips tell the layers apart
        fig.add_artist(Rectangle((0.0, bottom / total), 1.0, height / total, transform=fig.transFigure,
                                 facecolor="0.955", edgecolor="none", zorder=-10))
    size = float(np.clip(height * 72 / (0.62 * max(len(label), 1)), 6.0, 9.0))  # a long label in a low strip shrinks
    fig.text((left - NEURON_SPACE["label"] / 2) / width, (bottom + height / 2) / total, label, rotation=90,
             ha="center", va="center", fontsize=size)


def _unit_activations(label: str, values: np.ndarray, n_points: int) -> np.ndarray:
    """A layer's activations as an (n_points, n_units) float array."""
    values = np.asarray(values, dtype=float)
    values = values[:, None] if values.ndim == 1 else values
    if values.ndim != 2 or values.shape[0] != n_points or values.shape[1] == 0:
        raise ValueError(f"{label}: activations must have shape ({n_points}, n_units). Received {values.shape}")
    return values


def _layer_kind(values: np.ndarray) -> str:
    """A hidden layer's colouring: "signed" if any activation is negative (tanh-like), else "positive"."""
    finite = values[np.isfinite(values)]
    return "signed" if finite.size and finite.min() < 0 else "positive"


def _unit_maps(fig: Figure, values: np.ndarray, xx: np.ndarray, yy: np.ndarray, kind: str,
               corner: tuple[float, float], columns: int, size: float) -> list[Axes]:
    """One heat map per unit in rows of ``columns`` from the top-left ``corner`` (inches), short rows centred."""
    width, height = fig.get_size_inches()
    (left, top), step, n_units = corner, size + NEURON_SPACE["gap"], values.shape[1]
    axes = []
    for unit in range(n_units):
        row, col = divmod(unit, columns)
        x = left + (columns - min(columns, n_units - row * columns)) * step / 2 + col * step
        y = top - (row + 1) * (size + NEURON_SPACE["title"])
        ax = fig.add_axes((x / width, y / height, size / width, size / height))
        dead = _unit_map(ax, values[:, unit].reshape(xx.shape), xx, yy, kind)
        name = f"{unit + 1}" if kind != "output" else f"P(class {unit if n_units > 1 else 1})"
        _title(ax, f"{name} · dead" if dead else name, fontsize=7, pad=2, color="0.5" if dead else "black")
        axes.append(ax)
    return axes


def _unit_map(ax: Axes, values: np.ndarray, xx: np.ndarray, yy: np.ndarray, kind: str) -> bool:
    """One unit's activation as a heat map on its own colour scale, without ticks; True if it is constant 0."""
    finite = values[np.isfinite(values)]
    top = float(np.abs(finite).max()) if finite.size else 0.0
    if kind == "output":
        cmap, low, high = _background_cmap(), 0.0, 1.0
    else:
        cmap, high = UNIT_CMAPS[kind], top if top > 0 else 1.0  # a dead unit shows blank, not as an error
        low = -high if kind == "signed" else 0.0
    _heat_map(ax, values, xx, yy, cmap, low, high)
    ax.set_xticks([])
    ax.set_yticks([])
    return kind != "output" and finite.size > 0 and top == 0


def _scatter_tiny(ax: Axes, X: np.ndarray, y: np.ndarray) -> None:
    """The data points (at most MAX_POINTS_PER_CLASS a class) as tiny dots in their class colours,
    over a small heat map."""
    X, y = np.asarray(X), np.asarray(y).ravel()
    X, y, _, _, _ = _thin(X, y, X[:0], y[:0])
    limits = ax.get_xlim(), ax.get_ylim()
    for label, color in enumerate(class_colors(_n_classes(y))):
        points = X[y == label]
        ax.scatter(points[:, 0], points[:, 1], s=0.6, color=[color], linewidths=0, alpha=0.8)
    ax.set_xlim(*limits[0])  # the map, not the points, sets the view
    ax.set_ylim(*limits[1])
