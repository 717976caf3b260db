"""`nnfw runs` and `nnfw compare`: listing run folders and groups, and comparing runs."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from nnfw_cli import compare, sweep as sweeps
from nnfw_cli.cli import main


@pytest.fixture
def two_runs(finished_outputs, tmp_path, runner) -> Path:
    """tmp_path/outputs holding ``r`` (the session's small run) and ``fast``, the same with learning rate 0.05."""
    shutil.copytree(finished_outputs, tmp_path / "outputs", symlinks=True)
    config = tmp_path / "outputs" / "r" / "config.yaml"
    result = runner.invoke(main, ["train", str(config), "--quiet", "--name", "fast", "--set",
                                  "training.learning_rate=0.05", "--output-dir", str(tmp_path / "outputs")])
    assert result.exit_code == 0, result.stderr
    os.utime(tmp_path / "outputs" / "r" / "config.yaml", (time.time() - 60, time.time() - 60))
    return tmp_path / "outputs"


def _fake_sweep(root: Path, runs_from: Path) -> Path:
    """A sweep folder made by hand from two finished runs (no worker needed)."""
    points = [sweeps.Point(index=i, group=i, overrides={"training.learning_rate": lr}, seed=None, id=f"id{i}",
                           name=name, config={"seed": 3, "data": {"dataset": "circles"}})
              for i, (lr, name) in enumerate([(0.02, "r"), (0.05, "fast")])]
    plan = sweeps.Plan("lr", "sweep", ["training.learning_rate"], "roc_auc", "max", False, points)
    folder = root / "sweeps" / "lr-20260101-000000"
    (folder / "runs").mkdir(parents=True)
    (folder / "points.json").write_text(json.dumps(plan.to_json()))
    summary = sweeps.Summary(plan, folder)
    for point in points:
        metrics = json.loads((runs_from / point.name / "metrics.json").read_text())
        files = {p.name: p.read_bytes() for p in (runs_from / point.name).iterdir() if p.is_file()}
        summary.record(point, sweeps.Result(point.id, "completed", metrics, files, seconds=0.1))
    return folder


@pytest.mark.slow
def test_runs_lists_runs_and_groups_newest_first(runner, two_runs):
    sweep_dir = _fake_sweep(two_runs, two_runs)
    result = runner.invoke(main, ["runs", str(two_runs)])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["name", "data", "status", "roc_auc"]
    names = [line.split()[0] for line in lines[1:]]
    assert names == ["sweeps/lr-20260101-000000/", "fast", "r"]
    best = max(json.loads((two_runs / name / "metrics.json").read_text())["roc_auc"] for name in ("r", "fast"))
    assert lines[1].split()[1:4] == ["circles", "completed", f"{best:.4f}"]  # the best point's, in the run columns
    assert lines[1].endswith(f"  sweep: 2 runs: 2 completed; best of 2 points: roc_auc {best:.4f}")
    assert lines[2].split()[1:3] == ["circles", "completed"]
    date = lines[0].index("date")  # every line's date under the header's, whatever follows it
    for line in lines[1:]:
        time.strptime(line[date:date + 16], "%Y-%m-%d %H:%M")  # raises if it is not a date
    group = json.loads(runner.invoke(main, ["runs", str(two_runs), "--json"]).stdout)[0]
    assert group["kind"] == "sweep" and group["metrics"]["roc_auc"] == best and 0 < group["metrics"]["loss"] < 1
    inside = runner.invoke(main, ["runs", str(sweep_dir), "--json"])
    listed = json.loads(inside.stdout)
    assert {Path(entry["path"]).name for entry in listed} == {"r", "fast"}
    assert all(entry["status"] == "completed" and 0.5 <= entry["metrics"]["roc_auc"] <= 1 for entry in listed)


def test_an_unfinished_sweep_is_listed_with_the_best_of_the_points_that_have_results(tmp_path):
    points = [sweeps.Point(index=i, group=i // 2, overrides={"training.learning_rate": 0.01 * (1 + i // 2)}, seed=i % 2,
                           id=f"id{i}", name=f"p{i}", config={"data": {"dataset": "circles"}}) for i in range(6)]
    plan = sweeps.Plan("lr", "sweep", ["training.learning_rate"], "roc_auc", "max", False, points)
    folder = tmp_path / "sweeps" / "lr-20260101-000000"
    folder.mkdir(parents=True)
    (folder / "points.json").write_text(json.dumps(plan.to_json()))
    summary = sweeps.Summary(plan, folder)
    for point, auc in zip(points[:3], (0.9, 0.8, 0.95)):  # the third point not run yet, the second half run
        metrics = {"status": "completed", "roc_auc": auc, "accuracy": auc - 0.1}
        files = {"metrics.json": json.dumps(metrics).encode()}
        summary.record(point, sweeps.Result(point.id, "completed", metrics, files, seconds=0.1))
    (entry,) = compare.list_runs(tmp_path)
    assert entry.status == "unfinished"
    assert entry.detail == "6 runs: 3 completed, 3 pending; best of 2 of 3 points: roc_auc 0.9500"
    assert entry.metrics == {"roc_auc": 0.95, "accuracy": pytest.approx(0.85), "loss": None}
    line = compare.runs_table([entry], tmp_path)[1]
    assert line.split()[1:6] == ["circles", "unfinished", "0.9500", "0.8500", "n/a"]


def test_runs_of_a_run_folder_lists_that_run(runner, run_dir):
    result = runner.invoke(main, ["runs", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1].split()[:3] == [str(run_dir), "circles", "completed"]


def test_resume_or_from_of_a_sweep_folder_says_to_name_one_of_its_runs(runner, two_runs, tmp_path):
    sweep = _fake_sweep(tmp_path / "sweeps", two_runs)
    for option in ("--resume", "--from"):
        result = runner.invoke(main, ["train", option, str(sweep)])
        assert result.exit_code == 2 and f"{sweep}: a sweep's folder, not a run; name one of its runs" in result.stderr


def test_runs_of_an_empty_or_missing_folder(runner, tmp_path):
    (tmp_path / "empty").mkdir()
    assert "no runs yet" in runner.invoke(main, ["runs", str(tmp_path / "empty")]).stdout
    missing = runner.invoke(main, ["runs", str(tmp_path / "nope")])
    assert missing.exit_code == 2


@pytest.mark.slow
def test_compare_prints_metrics_and_config_differences_and_draws_one_figure(runner, two_runs, tmp_path):
    out = tmp_path / "cmp"
    result = runner.invoke(main, ["compare", str(two_runs / "r"), str(two_runs / "fast"), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert "metrics (held-out split):" in text and "roc_auc" in text
    assert "config differences:" in text
    diff_lines = text.split("config differences:")[1].splitlines()
    assert "training.learning_rate" in diff_lines[1] and "output.dir" not in text
    assert diff_lines[2].split() == ["r", "0.02"] and diff_lines[3].split() == ["fast", "0.05"]
    assert (out / "compare.png").read_bytes()[:4] == b"\x89PNG" and f"written: {out / 'compare.png'}" in result.stderr
    payload = json.loads(runner.invoke(main, ["compare", str(two_runs / "r"), str(two_runs / "fast"), "-o", str(out),
                                              "--json"]).stdout)
    assert payload["differences"] == ["training.learning_rate"]
    assert [run["config"]["training.learning_rate"] for run in payload["runs"]] == [0.02, 0.05]


@pytest.mark.slow
def test_compare_takes_a_sweep_folder_for_its_runs(runner, two_runs, tmp_path):
    sweep_dir = _fake_sweep(two_runs, two_runs)
    found = compare.open_runs([sweep_dir])
    assert [run.name for run in found] == ["fast", "r"]
    assert compare.differences(found) == {"training.learning_rate": [0.05, 0.02]}


def test_runs_that_read_different_contents_of_one_data_file_differ_by_its_sha256():
    config = {"data": {"dataset": "csv", "path": "/data/wine.csv"}, "training": {"learning_rate": 0.01}}
    found = [compare.Compared(name, Path(name), config, {"data_sha256": sha})
             for name, sha in (("a", "64659f23a899" * 5), ("b", "64659f23a899" * 5), ("c", "1" * 64))]
    assert compare.differences(found) == {compare.DATA_VERSION: ["64659f23a899", "64659f23a899", "1" * 12]}
    assert compare.differences(found[:2]) == {}
    lines = compare.compare_lines(found)
    assert "config differences:" in lines and lines[-1].split() == ["c", "1" * 12]


@pytest.mark.slow
def test_compare_needs_two_runs(runner, two_runs):
    result = runner.invoke(main, ["compare", str(two_runs / "r")])
    assert result.exit_code == 2 and "at least two runs" in result.stderr
    other = runner.invoke(main, ["compare", str(two_runs / "r"), str(two_runs)])
    assert other.exit_code == 2 and "not a run folder" in other.stderr


@pytest.mark.slow
def test_the_sweep_picture_draws_a_heat_map_for_two_keys(tmp_path, two_runs):
    points = [sweeps.Point(index=i, group=i // 2, overrides={"a": a, "b": b}, seed=i % 2, id=f"id{i}",
                           name=f"p{i}", config={}) for i, (a, b) in enumerate(
                               [(a, b) for a in (0.1, 1.0) for b in ("x", "y") for _ in (0, 1)])]
    plan = sweeps.Plan("two", "sweep", ["a", "b"], "roc_auc", "max", False, points)
    summary = sweeps.Summary(plan, tmp_path)
    for i, point in enumerate(points):
        summary.rows[point.id].status = "completed"
        summary.rows[point.id].metrics = {"roc_auc": 0.9 + i / 100}
    picture = compare.draw_sweep(summary)
    assert picture == tmp_path / "sweep.png" and picture.read_bytes()[:4] == b"\x89PNG"
    empty = sweeps.Summary(plan, tmp_path / "none")
    assert compare.draw_sweep(empty) is None


def _summary_of(folder: Path, values: dict[str, list], metric: str = "roc_auc", mode: str = "max",
                seeds: int = 2, scale: float = 1.0) -> "sweeps.Summary":
    """A finished sweep over every combination of ``values`` (no key: a seed group), made by hand."""
    import itertools

    keys = list(values)
    points = [sweeps.Point(index=i, group=i // seeds, overrides=dict(zip(keys, combo)), seed=i % seeds, id=f"id{i}",
                           name=f"p{i}", config={"seed": i % seeds})
              for i, combo in enumerate(c for c in itertools.product(*values.values()) for _ in range(seeds))]
    plan = sweeps.Plan("layout", "sweep" if keys else "seeds", keys, metric, mode, False, points)
    summary = sweeps.Summary(plan, folder)
    for i, point in enumerate(points):
        summary.rows[point.id].status = "completed"
        summary.rows[point.id].metrics = {"loss": 0.004 + i / 9973, metric: scale * (0.9 + i / 997)}
    return summary


@pytest.fixture
def figures(monkeypatch) -> list:
    """The figures drawn (``compare.draw_sweep``), kept instead of written."""
    from nnfw_cli import plots

    kept: list = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, path, dpi=150: kept.append(fig) or Path(path))
    return kept


LAYOUTS = {
    "one numeric key": ({"training.learning_rate": [0.001, 0.01, 0.1, 0.3]}, {}),
    "a seed group": ({}, {"seeds": 10}),
    "two keys and their heat map": ({"training.learning_rate": [0.001, 0.003, 0.01, 0.03],
                                     "model.layers[0].units": [2, 4, 8]}, {}),
    "long names and values": ({"model.layers[1].activation_function_name": ["leaky_relu_with_a_long_name", "tanh"],
                               "data.a_really_long_setting_name_indeed": ["categorical_value_one", "b", "c"]}, {}),
    "a tiny loss": ({"training.learning_rate": [0.001, 0.01], "model.layers[0].units": [2, 4, 8]},
                    {"metric": "loss", "mode": "min", "scale": 1e-5}),
    "a huge loss": ({"training.learning_rate": [0.001, 0.01], "model.layers[0].units": [2, 4, 8]},
                    {"metric": "loss", "mode": "min", "scale": 1e5}),
    "four keys on two lines": ({"a": [1, 2], "b": [3, 4], "c": ["x", "y"], "d": [0.5, 0.25]}, {"seeds": 1}),
    "fifteen values by long names": ({"training.learning_rate": [round(0.0001 * 1.6 ** i, 6) for i in range(15)],
                                      "model.layers[1].activation_function_name": ["relu", "leaky_relu_long_name"]},
                                     {"seeds": 1}),
    "values that are lists and mappings": ({"model.layers[0]": [{"type": "linear", "units": 4},
                                                                {"type": "linear", "units": 8}],
                                            "data.centers": [[[0, 0], [1, 1]], [[0, 1], [1, 0]]]}, {}),
    "networks of three depths": ({"model.layers": [
        [{"type": "linear", "units": 16, "init": "he"}, "relu", {"type": "linear", "units": 3}, "softmax"],
        [{"type": "linear", "units": 32, "init": "he"}, "relu"] * 3 + [{"type": "linear", "units": 3}, "softmax"],
        [{"type": "linear", "units": 64, "init": "he"}, "tanh"] * 4 + [{"type": "linear", "units": 3}, "softmax"]],
        "training.learning_rate": [0.001, 0.01, 0.1]}, {}),
    "widths and batch sizes in doublings": ({"model.layers[0].units": [8, 16, 32, 64],
                                             "training.batch_size": [32, 64, 128]}, {}),
    "a long name last, one seed": ({"model.layers[1].type": ["relu", "tanh", "elu", "gelu", "selu", "silu",
                                                             "leaky_relu_negative_slope"]}, {"seeds": 1}),
    "a long key over large values": ({"model.layers[1].activation_function_name": [1, 2],
                                       "model.layers[1].type": ["relu", "leaky_relu_negative_slope"]},
                                      {"scale": 1e5, "seeds": 1}),
    "a long name in the heat map's last column": ({"model.layers[1].type": ["relu", "elu", "tanh",
                                                                         "leaky_relu_negative_slope"],
                                                   "model.layers[0].units": [4, 8]}, {"seeds": 1}),
    "six lines and long legends": ({"training.learning_rate": [0.0003, 0.001, 0.003, 0.01, 0.03, 0.1],
                                    "model.layers[1].activation_function_name": ["relu", "leaky_relu_long_name",
                                                                                 "tanh", "sigmoid", "elu"]},
                                   {"seeds": 3}),
    "small learning rates written out": ({"training.learning_rate": [1e-05, 3.162e-05, 0.0001334]}, {"seeds": 1}),
}


@pytest.mark.parametrize("case", LAYOUTS)
def test_every_text_of_the_sweep_picture_stays_in_the_picture_and_off_the_other_panels(tmp_path, figures, case):
    """sweep.png is laid out by hand, its margins estimated from the labels' characters: drawn, no
    panel's ticks, labels, title or legend may leave the picture or reach into another panel."""
    values, options = LAYOUTS[case]
    summary = _summary_of(tmp_path, values, **options)
    assert compare.draw_sweep(summary) == tmp_path / "sweep.png"
    (fig,) = figures
    assert len(fig.axes) == (len(values) or 2) + (len(values) == 2) * 2  # a heat map has its colour bar
    _check_picture(fig, values)


def _check_picture(fig, values: dict[str, list]) -> None:
    """No text of sweep.png leaves the picture or reaches into another panel, or runs into another
    text of its panel; no legend hides a line or a dot; shortened values stay apart, and a heat
    map's columns and lines are named by the values swept (``values``)."""
    import numpy as np

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]
    title = fig._suptitle.get_window_extent(renderer)
    for box in [*boxes, title]:
        assert box.x0 >= -0.5 and box.y0 >= -0.5 and box.x1 <= fig.bbox.x1 + 0.5 and box.y1 <= fig.bbox.y1 + 0.5, box
    for i, box in enumerate(boxes):
        assert not box.overlaps(title)
        for other in boxes[i + 1:]:
            assert not box.overlaps(other), (box, other)
    for ax in fig.axes:  # nor do the labels of an axis' ticks, or the means in a heat map's cells, run into each other
        for axis in (ax.xaxis, ax.yaxis):
            labels = [label.get_window_extent(renderer) for label in axis.get_ticklabels() if label.get_text()]
            assert not any(a.overlaps(b) for a, b in zip(labels, labels[1:])), [t.get_text() for t in axis.get_ticklabels()]
        for texts in (ax.get_xticklabels(), ax.get_yticklabels(), ax.get_legend().get_texts() if ax.get_legend() else []):
            names = [text.get_text() for text in texts if text.get_text()]
            assert len(set(names)) == len(names), names  # shortened, distinct values stay apart
        if ax.get_images():  # a heat map: its columns and lines named by the swept values, some at least
            for axis, key in zip((ax.xaxis, ax.yaxis), values):
                names = compare._shorts([sweeps.yaml_value(value) for value in compare._ordered(values[key])])
                shown = [label.get_text() for label in axis.get_ticklabels()]
                assert len(shown) >= min(2, len(names)) and shown == [names[round(at)] for at in axis.get_majorticklocs()]
        cells = [text.get_window_extent(renderer) for text in ax.texts]
        assert not any(a.overlaps(b) for i, a in enumerate(cells) for b in cells[i + 1:])
        legend = ax.get_legend()
        if legend is not None:
            box = legend.get_window_extent(renderer)
            panel = compare.SWEEP_PANEL[0] * fig.dpi  # pixels
            column = int(ax.get_position().x0 * fig.bbox.width // panel)
            assert column * panel - 0.5 <= box.x0 and box.x1 <= (column + 1) * panel + 0.5, (box, column)  # in its panel
            if ax.yaxis.offsetText.get_text():  # a "1e-6" above the axis
                assert not box.overlaps(ax.yaxis.offsetText.get_window_extent(renderer))
            data = [ax.transData.transform(line.get_xydata()) for line in ax.get_lines() if len(line.get_xydata())]
            data += [ax.transData.transform(dots.get_offsets()) for dots in ax.collections if len(dots.get_offsets())]
            inside = [(x, y) for x, y in np.concatenate(data or [np.empty((0, 2))]) if ax.bbox.contains(x, y)]
            assert not any(box.x0 <= x <= box.x1 and box.y0 <= y <= box.y1 for x, y in inside)


def test_values_shortened_for_a_label_stay_apart():
    assert compare._shorts(["leaky_relu_with_a_long_name", "tanh"]) == ["leaky_r…g_name", "tanh"]
    assert compare._shorts(["a" * 40 + "1" + "b" * 40, "a" * 40 + "2" + "b" * 40]) == ["…1…", "…2…"]  # what differs
    alike = ["units_16_relu_dropout_0.1", "units_16_tanh_dropout_0.1", "x"]  # the same start and end
    short = compare._shorts(alike)
    assert len(set(short)) == 3 and all(len(a) <= len(b) for a, b in zip(short, alike)) and short[2] == "x"


_NAMES = ["training.learning_rate", "model.layers[0].units", "model.layers[1].activation_function_name", "a"]
_VALUES = st.one_of(
    st.lists(st.floats(-5, 0).map(lambda e: float(f"{10 ** e:.4g}")), min_size=1, max_size=15, unique=True),
    st.lists(st.integers(1, 4096), min_size=1, max_size=15, unique=True),
    st.lists(st.text("abcdefghij_-", min_size=1, max_size=30), min_size=1, max_size=8, unique=True),
)


@pytest.mark.slow
@settings(deadline=None, database=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_sweep_picture_keeps_its_texts_apart(tmp_path_factory, data):
    """Settings of numbers or names, few or many values, in a grid or drawn at random, metrics
    alike or spread: ``_check_picture`` holds."""
    import itertools
    from unittest import mock

    from nnfw_cli import plots

    keys = data.draw(st.lists(st.sampled_from(_NAMES), min_size=1, max_size=2, unique=True))
    values = {key: data.draw(_VALUES) for key in keys}
    combos = list(itertools.product(*values.values()))
    if data.draw(st.booleans()):  # drawn at random: some of the combinations
        combos = data.draw(st.lists(st.sampled_from(combos), min_size=1, max_size=len(combos), unique=True))
    seeds = data.draw(st.integers(1, 3))
    points = [sweeps.Point(index=i, group=i // seeds, overrides=dict(zip(keys, combo)), seed=i % seeds, id=f"id{i}",
                           name=f"p{i}", config={}) for i, combo in enumerate(c for c in combos for _ in range(seeds))]
    plan = sweeps.Plan("any", "sweep", keys, "roc_auc", "max", False, points)
    summary = sweeps.Summary(plan, tmp_path_factory.mktemp("sweep"))
    scale = data.draw(st.sampled_from([1.0, 1e-5, 1e5]))
    for point in points:
        summary.rows[point.id].status = "completed"
        summary.rows[point.id].metrics = {"roc_auc": scale * data.draw(st.floats(0.5, 1.0)), "loss": 0.1}
    kept: list = []
    with mock.patch.object(plots, "save_figure", lambda fig, path, dpi=150: kept.append(fig) or Path(path)):
        compare.draw_sweep(summary)
    shown = {key: list(dict.fromkeys(combo[i] for combo in combos)) for i, key in enumerate(keys)}  # as the runs have them
    _check_picture(kept[0], shown)


@pytest.mark.parametrize("case", ["two keys and their heat map", "a tiny loss", "a huge loss"])
def test_each_cell_of_the_heat_map_writes_its_mean_to_four_digits(tmp_path, figures, case):
    import numpy as np

    values, options = LAYOUTS[case]
    summary = _summary_of(tmp_path, values, **options)
    compare.draw_sweep(summary)
    heat = figures[0].axes[2]
    cells = {(round(text.get_position()[0]), round(text.get_position()[1])): float(text.get_text())
             for text in heat.texts}
    (first, first_values), (second, second_values) = values.items()
    assert len(cells) == len(first_values) * len(second_values)
    for (i, j), written in cells.items():
        means = [row.metrics[summary.plan.metric] for row in summary.rows.values()
                 if row.point.overrides == {first: first_values[i], second: second_values[j]}]
        assert written == pytest.approx(np.mean(means), rel=5e-4)


def test_no_line_or_dot_of_a_sweep_panel_is_under_its_legend(tmp_path, figures):
    """Six lines and dots all over leave no free corner inside a panel for its legend."""
    import numpy as np

    values = {"training.learning_rate": [0.0003, 0.001, 0.003, 0.01, 0.03, 0.1], "model.layers[0].units": [2, 4, 8, 16, 32]}
    summary = _summary_of(tmp_path, values, seeds=3)
    rng = np.random.default_rng(0)
    for row in summary.rows.values():
        row.metrics["roc_auc"] = float(rng.uniform(0.5, 1.0))
    compare.draw_sweep(summary)
    figures[0].canvas.draw()
    for ax, other in zip(figures[0].axes[:2], reversed(values)):
        legend = ax.get_legend()
        assert [text.get_text() for text in legend.get_texts()] == [f"{v:g}" for v in values[other]] + ["runs"]
        assert legend.get_title().get_text() == f"mean over seeds at {other} ="
        box = legend.get_window_extent()
        data = [ax.transData.transform(line.get_xydata()) for line in ax.get_lines()]
        data.append(ax.transData.transform(ax.collections[0].get_offsets()))
        assert not any(box.x0 <= x <= box.x1 and box.y0 <= y <= box.y1 for x, y in np.concatenate(data))
        # the legend's room is added to the picture, not taken from the plot
        height = ax.get_position().height * figures[0].get_figheight()
        assert height == pytest.approx(compare.SWEEP_PANEL[1] - compare.SWEEP_ROOM[1] - compare.SWEEP_ROOM[2])


@pytest.mark.parametrize("values, scale", [([8, 16, 32, 64], "log"), ([32, 64, 128], "log"), ([0.001, 0.01, 0.1], "log"),
                                           ([0.001, 0.03], "log"), ([1, 2, 3, 4], "linear"), ([2, 4], "linear"),
                                           ([2, 4, 8, 12], "linear"), ([0, 1, 2], "linear"), ([-4, -2, -1], "linear")])
def test_values_in_steps_of_one_ratio_or_far_apart_get_a_log_axis(tmp_path, figures, values, scale):
    """Widths 8, 16, 32, 64 are spaced evenly, each at its tick; 1, 2, 3, 4 too, on a plain axis."""
    compare.draw_sweep(_summary_of(tmp_path, {"model.layers[0].units": values}))
    (fig,) = figures
    ax = fig.axes[0]
    assert ax.get_xscale() == scale
    fig.canvas.draw()
    assert [float(text.get_text().replace("\N{MINUS SIGN}", "-")) for text in ax.get_xticklabels()] == values


def _shown(fig, ax, color) -> int:
    """How many pixels of the axes ``ax`` are the colour ``color``, drawn as the file is (150 dpi)."""
    import numpy as np
    from matplotlib.colors import to_rgb

    fig.set_dpi(150)
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(float) / 255
    box = ax.get_window_extent()
    inside = pixels[int(pixels.shape[0] - box.y1):int(pixels.shape[0] - box.y0), int(box.x0):int(box.x1)]
    return int((np.abs(inside - to_rgb(color)).max(axis=-1) < 0.05).sum())


@pytest.mark.parametrize("columns, names, decimals", [(6, ["2", "4"], 4), (7, ["2", "4"], 3), (8, ["2", "4"], 2),
                                                      (6, ["relu", "leaky_relu_long_name"], 2)])
def test_a_narrow_heat_map_writes_its_means_to_the_digits_that_fit(tmp_path, figures, columns, names, decimals):
    values = {"training.learning_rate": [round(0.001 * 1.5 ** i, 5) for i in range(columns)], "model.layers[1].type": names}
    compare.draw_sweep(_summary_of(tmp_path, values, seeds=1))
    (fig,) = figures
    heat = fig.axes[2]
    assert len(heat.texts) == 2 * columns
    assert {len(text.get_text().split(".")[1]) for text in heat.texts} == {decimals}
    _check_picture(fig, values)


def test_lines_that_meet_all_show(tmp_path, figures):
    """Every width reaching ROC AUC 1 at every learning rate: each width's line is still seen in
    the panel, each under the next and wider than it."""
    summary = _summary_of(tmp_path, {"training.learning_rate": [0.001, 0.01, 0.1], "model.layers[0].units": [2, 4, 8]})
    for row in summary.rows.values():
        row.metrics["roc_auc"] = 1.0
    compare.draw_sweep(summary)
    (fig,) = figures
    ax = fig.axes[0]
    for line in ax.get_lines():
        assert _shown(fig, ax, line.get_color()) > 50, line.get_label()


@pytest.mark.parametrize("count", [2, 3])
def test_compared_runs_all_at_roc_auc_1_all_show(tmp_path, figures, count):
    import pandas as pd

    history = pd.DataFrame({"epoch": range(1, 31), "train_loss": 0.5, "test_loss": 0.5, "test_roc_auc": 1.0})
    found = [compare.Compared(f"run-{i}", tmp_path / f"run-{i}", {}, {}, history.assign(train_loss=0.5 / (i + 1)))
             for i in range(count)]
    compare.draw_compare(found, tmp_path / "cmp")
    (fig,) = figures
    auc_ax = fig.axes[1]
    assert 1.0 < auc_ax.get_ylim()[1] <= 1.0 + 0.04 * (1 - auc_ax.get_ylim()[0])  # no ROC AUC above 1 on the axis
    for line in auc_ax.get_lines():
        assert _shown(fig, auc_ax, line.get_color()) > 50


def test_random_draws_of_two_settings_get_one_line_a_panel_and_no_heat_map(tmp_path, figures):
    """Drawn at random, each value of a setting has runs at one or two values of the other: a line
    for each would be a dot, and a heat map of them mostly empty cells."""
    import numpy as np

    rng = np.random.default_rng(1)
    draws = [{"training.learning_rate": float(f"{lr:.4g}"), "training.batch_size": int(batch)}
             for lr, batch in zip(10 ** rng.uniform(-4, -0.5, 6), rng.choice([32, 64, 128], 6))]
    draws[1]["training.learning_rate"] = draws[0]["training.learning_rate"] * 1.2  # two values close together
    points = [sweeps.Point(index=i, group=i // 2, overrides=draws[i // 2], seed=i % 2, id=f"id{i}", name=f"p{i}",
                           config={}) for i in range(12)]
    plan = sweeps.Plan("random", "sweep", list(draws[0]), "loss", "min", False, points)
    summary = sweeps.Summary(plan, tmp_path)
    for i, point in enumerate(points):
        summary.rows[point.id].status, summary.rows[point.id].metrics = "completed", {"loss": 0.1 + i / 97}
    compare.draw_sweep(summary)
    (fig,) = figures
    assert len(fig.axes) == 2  # no heat map
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        assert [text.get_text() for text in ax.get_legend().get_texts()] == ["mean", "runs"]
        assert len(ax.get_lines()) == 1 and len(ax.get_lines()[0].get_xdata()) == len({str(d[ax.get_xlabel()])
                                                                                         for d in draws})
        labels = [label.get_window_extent(renderer) for label in ax.get_xticklabels() if label.get_text()]
        assert len(labels) >= 2 and not any(a.overlaps(b) for a, b in zip(labels, labels[1:]))


@pytest.mark.parametrize("sweep", [False, True])
def test_a_score_axis_does_not_pass_one_where_every_run_scores_one(tmp_path, figures, sweep):
    """ROC AUC cannot pass 1: an axis up to 1.05 shows values no run can have. A loss, which can, keeps
    its room above."""
    summary = _summary_of(tmp_path, {"training.learning_rate": [0.01, 0.1]} if sweep else {}, seeds=3)
    for row in summary.rows.values():
        row.metrics.update(roc_auc=1.0, loss=1.0)
    compare.draw_sweep(summary)
    (fig,) = figures
    auc = fig.axes[0]
    low, high = auc.get_ylim()
    assert 1.0 < high <= 1.0 + 0.04 * (1 - low)
    assert max(tick for tick in auc.get_yticks() if low <= tick <= high) == pytest.approx(1.0)  # the top tick
    if not sweep:
        assert fig.axes[1].get_ylabel() == "loss" and fig.axes[1].get_ylim()[1] >= 1.04


def test_a_seed_group_picture_shows_the_metric_and_the_loss_of_each_seed(tmp_path, figures):
    """Every seed at ROC AUC 1.0 says nothing of how far each run got: the loss beside it does."""
    summary = _summary_of(tmp_path, {}, seeds=10)
    seed_circles = [0.00521, 0.004078, 0.003905, 0.003672, 0.003749, 0.004082, 0.005102, 0.003885, 0.004211, 0.004265]
    for row, loss in zip(summary.rows.values(), seed_circles):  # configs/seed_circles.yaml --seeds 0-9
        row.metrics.update(roc_auc=1.0, loss=loss)
    compare.draw_sweep(summary)
    metric, loss = figures[0].axes
    assert (metric.get_ylabel(), loss.get_ylabel()) == ("roc_auc", "loss")
    losses = [row.metrics["loss"] for row in summary.rows.values()]
    assert sorted(loss.collections[-1].get_offsets()[:, 1]) == pytest.approx(sorted(losses))
    assert f"mean {sum(losses) / len(losses):.4g}" in [text.get_text() for text in loss.get_legend().get_texts()]
    assert "mean 1.0000" in [text.get_text() for text in metric.get_legend().get_texts()]
    figures[0].canvas.draw()
    for ax in (metric, loss):  # no dot hidden under the legend
        box = ax.get_legend().get_window_extent()
        dots = ax.transData.transform(ax.collections[-1].get_offsets())
        assert not any(box.x0 - 4 <= x <= box.x1 + 4 and box.y0 - 4 <= y <= box.y1 + 4 for x, y in dots)
