"""Many runs side by side: list run folders, compare runs (a table and one figure of their curves),
and draw a sweep's metric against its swept settings (sweep.png)."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from . import runs
from .errors import RunError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .sweep import Summary

MAIN_METRICS = ("roc_auc", "accuracy", "loss")
TABLE_METRICS = ("roc_auc", "roc_auc_thresholded", "accuracy", "f1_macro", "loss", "log_loss", "epochs",
                 "train_seconds")
HEAT_MAP_VALUES = 15  # a swept key with more distinct values than this is not drawn as a heat map axis
MAX_LEGEND = 20       # runs named in compare.png's legend; more are drawn, the legend says how many


# -- finding runs ---------------------------------------------------------------------------------


def _read_yaml(path: Path) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        with runs.open_regular(path, limit=runs.MAX_TEXT_BYTES) as handle:
            return yaml.load(handle.read(), Loader=loader)
    except (RunError, yaml.YAMLError, UnicodeDecodeError):
        return None


def _read_metrics(path: Path) -> dict[str, Any]:
    try:
        data = runs.read_json(path / runs.METRICS)
    except RunError:
        return {}
    return data if isinstance(data, dict) else {}


def is_group(path: Path) -> bool:
    """A sweep folder or a seed group (it holds points.json and runs/)."""
    from .sweep import PLAN

    return (path / PLAN).is_file()


def is_run(path: Path) -> bool:
    return (path / runs.CONFIG).is_file()


@dataclass
class Entry:
    """A line of ``nnfw runs``: a run folder, or a sweep or seed group."""

    path: Path
    kind: str                         # run, sweep or seeds
    data: str = ""
    status: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    created: float = 0.0
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return runs.json_safe({"path": str(self.path), "kind": self.kind, "data": self.data, "status": self.status,
                               "metrics": {k: self.metrics.get(k) for k in MAIN_METRICS},
                               "date": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.created)),
                               "detail": self.detail or None})


def _run_entry(path: Path) -> Entry:
    config = _read_yaml(path / runs.CONFIG)
    data = config.get("data") if isinstance(config, dict) else None
    dataset = ""
    if isinstance(data, dict):
        dataset = str(data.get("dataset", ""))
        if dataset == "csv" and isinstance(data.get("path"), str):
            dataset = Path(data["path"]).name
    metrics = _read_metrics(path)
    status = metrics.get("status") if isinstance(metrics.get("status"), str) else "unfinished"
    if status == "unfinished" and (path / runs.CHECKPOINT).is_file():
        status = "interrupted"
    return Entry(path, "run", dataset, status, metrics, _mtime(path / runs.CONFIG))


def _group_entry(path: Path) -> Entry:
    from .sweep import SUMMARY, Summary, count_line, metric_stats, read_plan

    try:
        plan = read_plan(path)
        summary = Summary.read(plan, path)
    except (RunError, ValueError, KeyError, TypeError):
        return Entry(path, "sweep", status="unreadable", created=_mtime(path))
    config = plan.points[0].config if plan.points else {}
    dataset = str((config.get("data") or {}).get("dataset", ""))
    groups = summary.groups()
    best = next((group for group in groups if group.mean is not None), None)
    detail = count_line(summary)
    if best is not None and plan.kind == "seeds":
        spread = f" ± {best.std:.4f}" if best.std is not None else ""
        collapsed = sum(row.collapsed() for row in summary.rows.values())
        detail += f"; {plan.metric} {best.mean:.4f}{spread}" + (f", {collapsed} collapsed" if collapsed else "")
    elif best is not None:
        done = sum(group.mean is not None for group in groups)
        among = f"{done} of {len(groups)} points" if done < len(groups) else f"{done} point{'s' * (done != 1)}"
        detail += f"; best of {among}: {plan.metric} {best.mean:.4f}"
    counts = summary.counts()
    status = "completed" if counts["completed"] == len(plan.points) else \
        ("unfinished" if counts["pending"] else "some failed")
    # the best point's means (a seed group's: over its seeds), in the columns of a run's metrics
    metrics = {name: stats["mean"] for name, stats in metric_stats(best.rows, [*MAIN_METRICS, plan.metric]).items()
               } if best is not None else {}
    return Entry(path, plan.kind, dataset, status, metrics, _mtime(path / SUMMARY) or _mtime(path), detail)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def list_runs(folder: Path) -> list[Entry]:
    """The runs and groups in ``folder`` (and in the plain folders within it, outputs/sweeps/ for one),
    newest first; the runs of a group when ``folder`` is one."""
    from .sweep import RUNS

    if not folder.is_dir():
        raise RunError(f"{folder}: no such folder")
    if is_run(folder):  # a run named: its own line
        return [_run_entry(folder)]
    if is_group(folder):
        return sorted((_run_entry(p) for p in _children(folder / RUNS) if is_run(p)), key=lambda e: -e.created)
    entries = []
    for path in _children(folder):
        if is_group(path):
            entries.append(_group_entry(path))
        elif is_run(path):
            entries.append(_run_entry(path))
        else:
            entries += [_group_entry(p) if is_group(p) else _run_entry(p)
                        for p in _children(path) if is_group(p) or is_run(p)]
    return sorted(entries, key=lambda e: -e.created)


def _children(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if not p.name.startswith(".") and not p.is_symlink() and p.is_dir()]
    except OSError:
        return []


def _shown(value: Any, spec: str = ".4f") -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "n/a"
    return format(value, spec) if isinstance(value, float) else str(value)


def runs_table(entries: list[Entry], root: Path) -> list[str]:
    """``nnfw runs`` for people: one line a run or group. A group's metrics are its best point's
    means, and its counts and ranking follow the date."""
    if not entries:
        return [f"{root}: no runs yet; train one with `nnfw train CONFIG`"]
    names = [_relative(entry.path, root) for entry in entries]
    width = max(len(name) for name in names + ["name"])
    data = max(len(entry.data) for entry in entries + [Entry(root, "", "data")])
    lines = [f"{'name':<{width}}  {'data':<{data}}  {'status':<11}  {'roc_auc':>7}  {'accuracy':>8}  {'loss':>9}  date"]
    for name, entry in zip(names, entries):
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.created)) if entry.created else ""
        m = entry.metrics
        line = (f"{name:<{width}}  {entry.data:<{data}}  {entry.status:<11}  {_shown(m.get('roc_auc')):>7}  "
                f"{_shown(m.get('accuracy')):>8}  {_shown(m.get('loss'), '.3g'):>9}  {when:<16}")
        if entry.kind != "run":
            line += f"  {entry.kind}: {entry.detail}" if entry.detail else f"  {entry.kind}"
        lines.append(line.rstrip())
    return lines


def _relative(path: Path, root: Path) -> str:
    if path == root:  # a run named itself
        return str(path)
    try:
        return str(path.relative_to(root)) + ("/" if is_group(path) else "")
    except ValueError:
        return str(path)


# -- comparing runs -------------------------------------------------------------------------------


@dataclass
class Compared:
    """A run being compared: its name, folder, resolved config, metrics and history."""

    name: str
    path: Path
    config: dict[str, Any]
    metrics: dict[str, Any]
    history: Any = None


def open_runs(paths: Iterable[Path]) -> list[Compared]:
    """The runs named (a group stands for all its runs, a link for its folder), each read once."""
    from .sweep import RUNS

    folders: list[Path] = []
    for given in paths:
        path, _ = runs.choose_run(given)
        if is_group(path):
            folders += sorted(p for p in _children(path / RUNS) if is_run(p))
        elif is_run(path):
            folders.append(path)
        else:
            raise RunError(f"{given}: not a run folder (it has no {runs.CONFIG}) nor a sweep folder")
    folders = list(dict.fromkeys(folders))
    if len(folders) < 2:
        raise RunError("compare needs at least two runs (or a sweep folder holding them)")
    names = _names(folders)
    return [Compared(name, folder, _read_yaml(folder / runs.CONFIG) or {}, _read_metrics(folder), _history(folder))
            for name, folder in zip(names, folders)]


def _names(folders: list[Path]) -> list[str]:
    """Each folder's name, with as much of its path as tells it from the others."""
    depth = 1
    while depth < 6:
        names = [os.path.join(*folder.resolve().parts[-depth:]) for folder in folders]
        if len(set(names)) == len(names):
            return names
        depth += 1
    return [str(folder) for folder in folders]


def _history(folder: Path) -> Any:
    try:
        return runs.read_history(folder)
    except RunError:
        return None


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """A resolved config as ``{"model.layers[0].units": 16, ...}``."""
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        flat = {}
        for i, item in enumerate(value):
            flat.update(flatten(item, f"{prefix}[{i}]"))
        return flat
    return {prefix: value}


DATA_VERSION = "data file sha256"  # a difference of its own: one data path, files of other contents


def differences(found: list[Compared]) -> dict[str, list[Any]]:
    """The config settings (output.dir aside) whose values are not the same in every run, and the
    data file's SHA-256 (first 12 digits) where the runs read files of different contents."""
    flats = [flatten(run.config) for run in found]
    keys = list(dict.fromkeys(key for flat in flats for key in flat))
    missing = object()
    out = {}
    for key in keys:
        if key == "output.dir":
            continue
        values = [flat.get(key, missing) for flat in flats]
        if any(v != values[0] or type(v) is not type(values[0]) for v in values):
            out[key] = [None if v is missing else v for v in values]
    hashes = [run.metrics.get("data_sha256") for run in found]
    if any(h != hashes[0] for h in hashes):
        out[DATA_VERSION] = [h[:12] if isinstance(h, str) else None for h in hashes]
    return out


def _metric_names(found: list[Compared]) -> list[str]:
    return [name for name in TABLE_METRICS if any(name in run.metrics for run in found)]


def compare_lines(found: list[Compared]) -> list[str]:
    """The metrics of each run, then the settings in which the runs differ."""
    from .sweep import yaml_value

    metrics = _metric_names(found)
    width = max(len(run.name) for run in found + [Compared("run", Path(), {}, {})])
    cells = {name: max(len(name), 10) for name in metrics}
    head = f"{'run':<{width}}  {'status':<10}" + "".join(f"  {name:>{cells[name]}}" for name in metrics)
    lines = ["metrics (held-out split):", "  " + head]
    for run in found:
        row = "".join(f"  {_shown(run.metrics.get(name), '.4g' if 'loss' in name or 'seconds' in name else '.4f'):>{cells[name]}}"
                      for name in metrics)
        lines.append(f"  {run.name:<{width}}  {str(run.metrics.get('status', 'unfinished')):<10}{row}")
    diff = differences(found)
    if not diff:
        lines.append("config: the same in every run")
        return lines
    lines.append("config differences:")
    keys = list(diff)
    texts = {key: ["-" if value is None else value if key == DATA_VERSION else yaml_value(value)
                   for value in diff[key]] for key in keys}
    widths = {key: max(len(key), *(len(t) for t in texts[key])) for key in keys}
    lines.append("  " + f"{'run':<{width}}" + "".join(f"  {key:>{widths[key]}}" for key in keys))
    for i, run in enumerate(found):
        lines.append("  " + f"{run.name:<{width}}" + "".join(f"  {texts[key][i]:>{widths[key]}}" for key in keys))
    return lines


def compare_json(found: list[Compared], picture: Path) -> dict[str, Any]:
    diff = differences(found)
    return runs.json_safe({
        "picture": str(picture),
        "runs": [{"name": run.name, "run_dir": str(run.path), "metrics": {k: v for k, v in run.metrics.items()
                                                                          if not isinstance(v, dict)},
                  "config": {key: values[i] for key, values in diff.items()}} for i, run in enumerate(found)],
        "differences": list(diff),
    })


def _labels(found: list[Compared]) -> list[str]:
    """Each run's name, with the settings in which the runs differ when there are at most three."""
    from .sweep import yaml_value

    diff = differences(found)
    if not diff or len(diff) > 3:
        return [run.name for run in found]
    short = {key: key.rsplit(".", 1)[-1] for key in diff}
    return [f"{run.name}: " + ", ".join(f"{short[key]} {yaml_value(values[i])}" for key, values in diff.items())
            for i, run in enumerate(found)]


def _colors(n: int) -> list[Any]:
    from matplotlib import colormaps

    if n <= 10:
        return [colormaps["tab10"](i) for i in range(n)]
    if n <= 20:
        return [colormaps["tab20"](i) for i in range(n)]
    return [colormaps["viridis"](i / max(n - 1, 1)) for i in range(n)]


def _stacked(n: int, count: int, mark: float) -> dict[str, float]:
    """The width, mark size and layer of line ``n`` of ``count``: each a little wider, with larger
    marks, than the ones drawn over it, so that lines that meet (runs all at ROC AUC 1) all show:
    up to three whole, more in part (the widths go from 2.8 points to 1.2)."""
    wide = (count - 1 - n) / max(count - 1, 1)  # 1 for the first line, 0 for the last
    return {"linewidth": 1.2 + 1.6 * wide, "markersize": mark * (1 + wide), "zorder": 4 + n / count}


def draw_compare(found: list[Compared], output: Path | None = None, dpi: int = 150) -> Path:
    """compare.png: each run's train loss (solid) and test loss (dashed), and its test ROC AUC, by epoch."""
    import numpy as np

    from . import plots

    folder = Path(output) if output is not None else runs.create_run_dir("outputs", "compare")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"{folder}: cannot be created: {exc.strerror or exc}") from None
    from matplotlib.ticker import MaxNLocator

    colors = _colors(len(found))
    labels = _labels(found)
    legend_rows = math.ceil(min(len(found), MAX_LEGEND) / 2)
    with plots._style():
        fig = plots._new_figure(11.0, 4.6 + 0.2 * legend_rows, (0.8, 0.3, 0.75 + 0.2 * legend_rows, 0.45))
        loss_ax, auc_ax = fig.subplots(1, 2, gridspec_kw={"wspace": 0.22})
        drawn_any = False
        for n, (run, color, label) in enumerate(zip(found, colors, labels)):
            frame = run.history
            if frame is None or "epoch" not in frame.columns:
                continue
            epochs = np.asarray(frame["epoch"], dtype=float)
            # the split scored as training went: the validation split if the run had one, else the
            # test split (test_*, or val_* in the history of a run from before validation splits)
            held = "val" if "val_loss" in frame.columns and "test_loss" in frame.columns else \
                ("test" if "test_loss" in frame.columns else "val")
            for name, style in (("train_loss", "-"), (f"{held}_loss", "--")):
                if name in frame.columns:
                    values = np.asarray(frame[name], dtype=float)
                    ok = np.isfinite(values) & (values > 0)
                    loss_ax.plot(epochs[ok], values[ok], style, color=color, linewidth=1.4 if style == "-" else 1.0,
                                 label=label if style == "-" else None)
                    drawn_any = drawn_any or bool(ok.any())
            if f"{held}_roc_auc" in frame.columns:
                auc = np.asarray(frame[f"{held}_roc_auc"], dtype=float)
                ok = np.isfinite(auc)
                auc_ax.plot(epochs[ok], auc[ok], color=color, marker="o" if ok.sum() <= 40 else None,
                            **_stacked(n, len(found), 2.5))
        if drawn_any:
            loss_ax.set_yscale("log")
        loss_ax.set(xlabel="epoch", ylabel="loss", title="loss: train (solid), held-out (dashed)")
        auc_ax.set(xlabel="epoch", ylabel="held-out ROC AUC", title="held-out ROC AUC (validation split if any, else test)")
        for ax in (loss_ax, auc_ax):
            ax.grid(True, which="major")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        _up_to_one(auc_ax, "roc_auc")
        handles, labels = loss_ax.get_legend_handles_labels()
        more = len(handles) - MAX_LEGEND
        if more > 0:
            handles, labels = handles[:MAX_LEGEND], labels[:MAX_LEGEND]
            labels[-1] += f"  (and {more} more runs, not named)"
        if handles:
            fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False, bbox_to_anchor=(0.5, 0.0))
        return plots.save_figure(fig, folder / "compare.png", dpi)


# -- a sweep's picture ----------------------------------------------------------------------------


def draw_sweep(summary: "Summary", dpi: int = 120) -> Path | None:
    """sweep.png: the sweep's metric against each swept setting (each run a dot, each value's mean
    a line), and a heat map of the mean when two settings are swept in a grid; for a seed group,
    the metric of each seed, and beside it their held-out loss (a ROC AUC of 1.0 on every seed
    hides how far each run got). None if no run has the metric yet."""
    from . import plots
    from .sweep import PICTURE, pictures_ready

    pictures_ready()
    plan = summary.plan
    rows = [row for row in summary.rows.values() if row.status == "completed" and row.value(plan.metric) is not None]
    if not rows:
        return None
    # a sweep's swept settings; a seed group's metrics, each against the seed
    keys = plan.keys or [plan.metric] + ["loss"] * (plan.metric != "loss" and all(row.value("loss") is not None
                                                                                for row in rows))
    heat = len(plan.keys) == 2 and _grid_like(rows, keys)
    panels = len(keys) + heat
    columns = min(panels, 3)
    lines = math.ceil(panels / columns)
    others = len(summary.rows) - len(rows)
    title = (f"{plan.name}: {plan.metric} ({'higher' if plan.mode == 'max' else 'lower'} is better), "
             f"{len(rows)} run{'s' * (len(rows) != 1)}" + (f"; {others} not completed, not shown" if others else ""))
    with plots._style():
        width, height = SWEEP_PANEL
        fig = plots._new_figure(width * columns, height * lines + SWEEP_TITLE, (0.0, 0.0, 0.0, 0.0))
        axes = [fig.add_subplot(lines, columns, n + 1) for n in range(panels)]
        legends = [0.0]  # inches above each panel for its legend
        for ax, key in zip(axes, keys):
            if plan.keys:
                other = next((k for k in keys if k != key), None) if len(keys) == 2 else None
                legends.append(_metric_by(ax, rows, key, plan.metric, other))
            else:
                legends.append(_seed_spread(ax, rows, key))
        fig.set_size_inches(width * columns, (height + max(legends)) * lines + SWEEP_TITLE)  # the legends' room
        fig.suptitle(title, fontsize=11, y=1 - 0.08 / fig.get_figheight(), va="top")
        top = SWEEP_ROOM[2] + max(legends)  # the same for every panel: their axes line up
        for n, ax in enumerate(axes):
            if n < len(keys):
                _place(fig, ax, n % columns, n // columns, _labels_width(ax.yaxis, plots.DIGIT_EM), top=top)
                _thin_ticks(fig, ax)
            else:
                panel = (n % columns, n // columns)
                _heat_map(fig, ax, rows, keys, plan.metric, plan.mode, panel, max(top, HEAT_MAP_TOP))
        return plots.save_figure(fig, summary.sweep_dir / PICTURE, dpi)


SWEEP_PANEL = (4.6, 3.6)  # inches of each panel of sweep.png, with its labels
SWEEP_TITLE = 0.3         # inches above the panels for the sweep's title
SWEEP_ROOM = (0.2, 0.62, 0.25)  # inches of a panel kept right of its axes, below (x labels), above
HEAT_MAP_TOP = 0.45             # inches above a heat map, for its title
LABEL_MOST = 24                 # characters a swept value's label may take, at most
CELL_POINTS = 8                 # font size of the means written in a heat map's cells
TEXT_GAP = 0.08                 # inches kept free beside a tick label or a cell's text
WIDE_LETTER = 0.7               # ems: wider than any lowercase letter but m and w (DejaVu Sans), for room that must not fall short
LEGEND_KEY = 24                 # characters of the other setting's name a legend's title above a panel shows, at most
SWEEP_LEGEND_MARGIN = 1.4       # inches of a panel's width beside its axes, at most: a legend above them spans the rest


def _labels_width(axis: Any, em: float) -> float:
    """Inches the tick labels of the y ``axis`` (and its offset, "1e-5", if any) take beside it, at
    ``em`` ems a character."""
    from . import plots

    return max(map(len, _tick_texts(axis))) * em * plots.STYLE["ytick.labelsize"] / 72


def _tick_texts(axis: Any) -> list[str]:
    """The labels of the ``axis``' ticks as they will be drawn, then its offset ("1e-5", or "")."""
    formatter = axis.get_major_formatter()
    return [*formatter.format_ticks(axis.get_majorticklocs()), formatter.get_offset()]


def _place(fig: Any, ax: "Axes", column: int, line: int, labels: float, right: float = SWEEP_ROOM[0],
           top: float = SWEEP_ROOM[2]) -> None:
    """Put ``ax`` in its panel of sweep.png, with room around it for its labels (``labels``
    inches for its y tick labels; ``right`` and ``top`` inches beside and above it). The room is
    estimated from the labels' characters: constrained layout would measure every text, about
    as long as drawing the picture."""
    from . import plots

    figure_width, figure_height = fig.get_figwidth(), fig.get_figheight()
    width, height = SWEEP_PANEL[0], (figure_height - SWEEP_TITLE) / ax.get_subplotspec().get_gridspec().nrows
    left, bottom = plots.LABEL_ROOM + labels, SWEEP_ROOM[1]
    x0, y0 = column * width + left, figure_height - SWEEP_TITLE - (line + 1) * height + bottom
    ax.set_position((x0 / figure_width, y0 / figure_height, (width - left - right) / figure_width,
                     (height - bottom - top) / figure_height))
    for label, inches in ((ax.xaxis.label, width - left - right), (ax.yaxis.label, height - bottom - top)):
        chars = int(inches * 72 / (plots.STYLE["axes.labelsize"] * plots.CHAR_WIDTH))
        text = label.get_text()
        if len(text) > chars:  # a setting's name longer than its axis: its end is the telling part
            label.set_text("…" + text[len(text) - chars + 1:])


def _grid_like(rows: list[Any], keys: list[str]) -> bool:
    """Whether the runs' values of the two ``keys`` fill a heat map: few enough of each, and a run
    in at least half of the pairs (random draws of two settings have a run in a handful)."""
    from .sweep import yaml_value

    pairs = {(yaml_value(_value_of(row, keys[0])), yaml_value(_value_of(row, keys[1]))) for row in rows
             if _value_of(row, keys[0]) is not _MISSING and _value_of(row, keys[1]) is not _MISSING}
    sizes = [len(_distinct(rows, key)) for key in keys]
    return max(sizes) <= HEAT_MAP_VALUES and 2 * len(pairs) >= sizes[0] * sizes[1]


def _value_of(row: Any, key: str) -> Any:
    if key == "seed":
        return row.point.seed if row.point.seed is not None else row.point.config.get("seed")
    return row.point.overrides.get(key, _MISSING)


_MISSING = object()


def _distinct(rows: list[Any], key: str) -> list[Any]:
    values: list[Any] = []
    for row in rows:
        value = _value_of(row, key)
        if value is not _MISSING and not any(value == v and type(value) is type(v) for v in values):
            values.append(value)
    return values


def _numeric(values: list[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _metric_by(ax: "Axes", rows: list[Any], key: str, metric: str, other: str | None = None) -> float:
    """Each run's metric against the key's value (a dot) and the mean at each value (a line): one
    line for each value of ``other`` (the second swept setting) when it has a few values, each
    with runs at two or more of the key's, else the mean over every run at that value. Returns the
    inches its legend takes above the axes."""
    import numpy as np

    from .sweep import yaml_value

    values = _ordered(_distinct(rows, key))
    numeric = _numeric(values)
    place = (lambda v: float(v)) if numeric else (lambda v: float(next(i for i, w in enumerate(values) if _same(v, w))))
    points = [(place(_value_of(row, key)), row.value(metric), row) for row in rows if _value_of(row, key) is not _MISSING]
    dots = ax.scatter([x for x, _, _ in points], [y for _, y, _ in points], s=18, color="0.45", alpha=0.55, zorder=3)
    # a line for each of the other setting's few values when they cross this one's (a grid), else one line
    lines = [(line, [(x, y) for x, y, row in points if _same(_value_of(row, other), line)])
             for line in (_ordered(_distinct(rows, other)) if other is not None else [])]
    if not 1 < len(lines) <= 6 or any(len({x for x, _ in chosen}) < 2 for _, chosen in lines):
        lines = [(_MISSING, [(x, y) for x, y, _ in points])]
    names = ["mean"] if lines[0][0] is _MISSING else _shorts([yaml_value(line) for line, _ in lines])
    for n, ((line, chosen), label) in enumerate(zip(lines, names)):
        xs = sorted({x for x, _ in chosen})
        if len(xs) > 40:
            continue
        means = [float(np.mean([y for x, y in chosen if x == at])) for at in xs]
        ax.plot(xs, means, "-", marker="D", color=f"C{n}", label=label, **_stacked(n, len(lines), 4.0))
    if numeric and _log_scale(values):
        ax.set_xscale("log")
    if not numeric:  # categories, half a category's room beyond the first and the last for their labels
        ax.set_xticks(range(len(values)), _shorts([yaml_value(v) for v in values]))
        ax.set_xlim(-0.5, len(values) - 0.5)
    elif len(values) <= 8:  # a tick at each value (``_thin_ticks`` goes back to the scale's own if they crowd)
        from matplotlib.ticker import StrMethodFormatter

        ax.set_xticks([float(v) for v in values])
        ax.xaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
        ax.minorticks_off()
    ax.set_xlabel(key)
    ax.set_ylabel(metric)
    ax.grid(True, which="major")
    _up_to_one(ax, metric)
    handles, labels = [*ax.get_lines(), dots], [*(line.get_label() for line in ax.get_lines()), "runs"]
    # the legend's title within the panel (a key of 28 characters over wide tick labels ran into the next)
    title = None if lines[0][0] is _MISSING else f"mean over seeds at {_short(other, LEGEND_KEY)} ="
    return _legend_above(ax, handles, labels, title)


def _log_scale(values: list[float]) -> bool:
    """Whether values (sorted) sit better on a log axis: positive, and spanning 20 times or more,
    or three or more in steps of one ratio (widths 8, 16, 32, 64), which a log axis spaces evenly."""
    if min(values) <= 0:
        return False
    ratios = [b / a for a, b in zip(values, values[1:])]
    return values[-1] / values[0] >= 20 or (len(values) >= 3 and min(ratios) >= 1.5 and max(ratios) / min(ratios) < 1.05)


def _legend_above(ax: "Axes", handles: list[Any], labels: list[str], title: str | None = None) -> float:
    """A frameless legend centred above the axes, and above the y axis' offset ("1e-6") if it has
    one: inside, wherever it went, a crowded panel has lines or dots under it. In one row if it
    fits. Returns the inches it takes above the axes."""
    from . import plots

    width = SWEEP_PANEL[0] - SWEEP_LEGEND_MARGIN
    one_row = sum(map(plots._entry_inches, labels)) <= width
    columns = len(labels) if one_row else plots._fit_columns(labels, width)
    offset = bool(_tick_texts(ax.yaxis)[-1])
    ax.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=columns, title=title,
              frameon=False, borderaxespad=0.2 + offset)
    return (math.ceil(len(labels) / columns) + (title is not None) + offset) * plots.LEGEND_ROW


def _seed_spread(ax: "Axes", rows: list[Any], metric: str) -> float:
    """The metric of each seed (a dot; red if the run collapsed), their mean and mean ± std.
    Returns the inches its legend takes above the axes."""
    import statistics

    import numpy as np

    rows = sorted(rows, key=lambda row: _value_of(row, "seed"))
    values = [row.value(metric) for row in rows]
    mean, digits = statistics.fmean(values), _cell_format(np.asarray(values))
    if len(values) > 1:
        std = statistics.stdev(values)
        ax.axhspan(mean - std, mean + std, color="C0", alpha=0.12, label=f"mean ± std ({std:{digits}})")
    ax.axhline(mean, color="C0", linewidth=1.4, label=f"mean {mean:{digits}}")
    colors = ["C3" if row.collapsed() else "0.2" for row in rows]
    ax.scatter(range(len(rows)), values, s=28, color=colors, zorder=3)
    if any(row.collapsed() for row in rows):
        ax.scatter([], [], s=28, color="C3", label="collapsed")
    ax.set_xticks(range(len(rows)), [str(_value_of(row, "seed")) for row in rows])
    ax.set_xlabel("seed")
    ax.set_ylabel(metric)
    ax.grid(True, which="major")
    _up_to_one(ax, metric)
    return _legend_above(ax, *ax.get_legend_handles_labels())  # inside, the band of mean ± std is under it


SCORES = ("roc_auc", "roc_auc_thresholded", "accuracy", "f1_macro")  # metrics that cannot pass 1


def _up_to_one(ax: "Axes", metric: str) -> None:
    """A score that cannot pass 1 (ROC AUC, accuracy) gets its y axis no higher than the room its
    marks at 1 need: every seed at ROC AUC 1 drew an axis up to 1.05."""
    low, high = ax.get_ylim()
    if metric in SCORES and high > 1:
        ax.set_ylim(low, min(high, 1 + 0.04 * (1 - low)))


def _shorts(texts: list[str], limit: int = 14) -> list[str]:
    """Each of ``texts`` as ``_short`` writes it, given more characters (up to ``LABEL_MOST``)
    while two would read the same; texts alike at both ends (networks of other widths) by the
    part that tells them apart ("…32}, relu, {…"), numbered if even that reads the same."""
    import os

    head = len(os.path.commonprefix(texts)) if len(texts) > 1 else 0
    tail = min(len(os.path.commonprefix([text[::-1] for text in texts])), min(map(len, texts), default=0) - head) \
        if len(texts) > 1 else 0
    middles = ["…" * (head > 0) + text[head:len(text) - tail] + "…" * (tail > 0) for text in texts]
    for source in (texts, middles):
        for size in range(limit, LABEL_MOST + 1):
            short = [_short(text, size) for text in source]
            if len(set(short)) == len(set(texts)):
                return short
    return [f"{n + 1}: {_short(text, LABEL_MOST - 3)}" for n, text in enumerate(middles)]


def _short(text: str, limit: int = 14) -> str:
    """``text`` in at most ``limit`` characters: its start and its end, "…" between (values that
    differ at one end only, as mappings with one more setting, stay apart)."""
    if len(text) <= limit:
        return text
    start = limit // 2
    return text[:start] + "…" + text[len(text) - (limit - 1 - start):]


def _heat_map(fig: Any, ax: "Axes", rows: list[Any], keys: list[str], metric: str, mode: str,
              panel: tuple[int, int], top: float) -> None:
    """The mean metric of each pair of the two keys' values, with its colour bar, in ``panel``
    (column, line) of sweep.png, ``top`` inches below the panel's top; runs without either key are
    left out."""
    import numpy as np

    from . import plots
    from .sweep import yaml_value

    first, second = (_ordered(_distinct(rows, key)) for key in keys)
    grid = np.full((len(second), len(first)), np.nan)
    for j, b in enumerate(second):
        for i, a in enumerate(first):
            values = [row.value(metric) for row in rows
                      if _same(_value_of(row, keys[0]), a) and _same(_value_of(row, keys[1]), b)]
            if values:
                grid[j, i] = float(np.mean(values))
    cmap = "viridis" if mode == "max" else "viridis_r"
    image = ax.imshow(grid, cmap=cmap, aspect="auto", origin="lower")
    ax.set_xticks(range(len(first)), _shorts([yaml_value(v) for v in first]))
    ax.set_yticks(range(len(second)), _shorts([yaml_value(v) for v in second]))
    ax.set_xlabel(keys[0])
    ax.set_ylabel(keys[1])
    ax.set_title(f"mean {metric}", fontsize=10)
    # placed twice: the room right of the map is its colour bar's, whose labels are known once it is drawn
    gap, thickness = plots.COLOUR_BAR
    labels = _labels_width(ax.yaxis, plots.CHAR_WIDTH)

    def beside() -> tuple[float, float, float, float]:
        box, width = ax.get_position(), fig.get_figwidth()
        return box.x1 + gap / width, box.y0, thickness / width, box.height

    _place(fig, ax, *panel, labels, top=top)
    bar = fig.colorbar(image, cax=fig.add_axes(beside()))
    bar.ax.yaxis.offsetText.set(x=0.0, horizontalalignment="left")  # a "1e-5" over the bar's labels, not the map
    room = gap + thickness + plots.LABEL_ROOM / 2 + _labels_width(bar.ax.yaxis, plots.DIGIT_EM)
    _place(fig, ax, *panel, labels, right=room, top=top)
    # the colour bar further off where half the last column's label is wider than half its cell and the gap
    last = _text_inches(ax.get_xticklabels()[-1].get_text(), plots.STYLE["xtick.labelsize"], WIDE_LETTER) + TEXT_GAP
    for _ in range(2):  # moving the bar narrows the cells a little
        more = last / 2 - ax.get_position().width * fig.get_figwidth() / len(first) / 2 - gap
        if more <= 0:
            break
        gap, room = gap + more, room + more
        _place(fig, ax, *panel, labels, right=room, top=top)
    bar.ax.set_position(beside())
    # each cell's mean written in it, to four digits or as many as fit, down to two (else the
    # colour bar alone tells it)
    finite = grid[np.isfinite(grid)]
    middle = (finite.min() + finite.max()) / 2 if finite.size else 0.0
    cell_width = ax.get_position().width * fig.get_figwidth() / len(first) - TEXT_GAP
    for digits in (4, 3, 2):
        cell = _cell_format(finite, digits)
        texts = {(i, j): format(grid[j, i], cell) for j in range(len(second)) for i in range(len(first))
                 if np.isfinite(grid[j, i])}
        if max((_text_inches(text, CELL_POINTS) for text in texts.values()), default=0.0) <= cell_width:
            for (i, j), text in texts.items():
                light = (grid[j, i] > middle) == (mode == "max")
                ax.text(i, j, text, ha="center", va="center", fontsize=CELL_POINTS, color="black" if light else "white")
            break
    _thin_ticks(fig, ax)


def _text_inches(text: str, points: float, letter: float | None = None) -> float:
    """Inches ``text`` takes at ``points``, estimated from its characters (digits are wider than
    most letters, and the "…" of a shortened value a whole em); ``letter`` ems for any other
    character instead of an average one's."""
    from . import plots

    letter = plots.CHAR_WIDTH if letter is None else letter
    return sum(plots.DIGIT_EM if char.isdigit() else 1.0 if char == "…" else letter for char in text) * points / 72



def _thin_ticks(fig: Any, ax: "Axes") -> None:
    """When, placed, neighbouring labels of the x axis' ticks set by hand would run into each other:
    label only every k-th of them if they name categories (or a heat map's columns), or go back to
    the scale's own ticks if they are numbers at their values."""
    import numpy as np
    from matplotlib.ticker import FixedLocator, StrMethodFormatter

    from . import plots

    where = np.asarray(ax.xaxis.get_majorticklocs(), dtype=float)
    if not isinstance(ax.xaxis.get_major_locator(), FixedLocator) or len(where) < 2:
        return
    names = ax.xaxis.get_major_formatter().format_ticks(where)
    step = _label_step(fig, ax, where, names)
    if step > 1 and isinstance(ax.xaxis.get_major_formatter(), StrMethodFormatter):  # ``_metric_by``'s numbers
        ax.set_xscale(ax.get_xscale())  # its default ticks and labels
        _fewer_ticks(fig, ax)
    elif step > 1:
        ax.set_xticks(where[::step], names[::step])
    if not ax.get_images() and not isinstance(ax.xaxis.get_major_formatter(), StrMethodFormatter):
        first, last = (_text_inches(name, plots.STYLE["xtick.labelsize"], WIDE_LETTER) + TEXT_GAP
                       for name in (names[0], names[::step][-1]))
        _room_at_the_ends(fig, ax, first, last)


def _label_step(fig: Any, ax: "Axes", where: Any, names: list[str]) -> int:
    """Label every k-th of the x axis' ticks at ``where``, named ``names``: the smallest k with
    which no label runs into the next one labelled."""
    import numpy as np

    from . import plots

    across = ax.transData.transform(np.column_stack([where, np.zeros_like(where)]))[:, 0] / fig.dpi
    widths = [_text_inches(name, plots.STYLE["xtick.labelsize"]) + TEXT_GAP for name in names]
    return next(k for k in range(1, len(where) + 1)
                if all((widths[i] + widths[i + k]) / 2 <= abs(across[i + k] - across[i])
                       for i in range(0, len(where) - k, k)))


def _fewer_ticks(fig: Any, ax: "Axes") -> None:
    """A linear x axis' own ticks, fewer of them while their labels would run into each other:
    small numbers written out (0.00002) are wide."""
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    if ax.get_xscale() != "linear":
        return
    for bins in range(8, 1, -1):
        low, high = sorted(ax.get_xlim())
        where = np.asarray([x for x in ax.xaxis.get_majorticklocs() if low <= x <= high], dtype=float)
        if len(where) < 2 or _label_step(fig, ax, where, ax.xaxis.get_major_formatter().format_ticks(where)) == 1:
            return
        ax.xaxis.set_major_locator(MaxNLocator(nbins=bins))


def _room_at_the_ends(fig: Any, ax: "Axes", first: float, last: float) -> None:
    """Categories on the x axis of a panel: its limits widened, if need be, so that the labels of
    its first and last ticks (``first`` and ``last`` inches wide) stay in the panel."""
    import numpy as np

    figure_width, box = fig.get_figwidth(), ax.get_position()
    x0, x1 = box.x0 * figure_width, box.x1 * figure_width
    panel = math.floor(x0 / SWEEP_PANEL[0]) * SWEEP_PANEL[0]  # the panel's left edge, in inches
    ends = np.asarray(ax.xaxis.get_majorticklocs(), dtype=float)[[0, -1]]
    for _ in range(3):  # each widening moves the ends' ticks inwards a little more
        low, high = ax.get_xlim()
        inches = (x1 - x0) / (high - low)  # a category's
        short_left = first / 2 - (x0 - panel) - (ends[0] - low) * inches
        short_right = last / 2 - (panel + SWEEP_PANEL[0] - x1) - (high - ends[1]) * inches
        if max(short_left, short_right) <= 0:
            return
        ax.set_xlim(low - max(short_left, 0) / inches, high + max(short_right, 0) / inches)


def _cell_format(values: Any, digits: int = 4) -> str:
    """How sweep.png writes ``values`` (a heat map's cells, a seed group's mean): four decimals
    (an AUC, an accuracy, most losses), or four significant digits for values too small or too
    large for those; ``digits`` instead of four if given."""
    import numpy as np

    sizes = np.abs(values[values != 0])
    return f".{digits}f" if not sizes.size or (sizes.min() >= 0.01 and sizes.max() < 1e5) else f".{digits}g"


def _ordered(values: list[Any]) -> list[Any]:
    return sorted(values) if _numeric(values) else values


def _same(a: Any, b: Any) -> bool:
    return a is not _MISSING and a == b and type(a) is type(b)
