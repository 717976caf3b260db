"""``nnfw predict``: what it reads, what it adds, and where it may write.

The user's input is never changed: every column comes back as it was, in order, with the
predictions added as new columns; the output is only ever a regular file (or the regular file a
link leads to), never the input itself.
"""

from __future__ import annotations

import os
import shutil
import stat
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from nnfw_cli.cli import main
from nnfw_cli.nn import Linear, Model, ReLU, Sigmoid

POINTS = "x,y\n0.1,0.2\n-0.5,0.7\n"


@pytest.fixture
def run(finished_outputs, tmp_path) -> Path:
    """A copy of the trained run of the test's own, ``tmp_path/outputs/r``, and ``points.csv`` beside it."""
    shutil.copytree(finished_outputs, tmp_path / "outputs", symlinks=True)
    (tmp_path / "points.csv").write_text(POINTS)
    return tmp_path / "outputs" / "r"


def _predict(*args: str):
    return CliRunner().invoke(main, ["predict", *map(str, args)])


def _refused(result, *needles: str) -> None:
    shown = f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert result.exit_code == 2, shown
    assert "Traceback" not in result.stderr and result.stderr.startswith("Error: "), shown
    assert result.stderr.count("Error: ") == 1, shown
    for needle in needles:
        assert needle in result.stderr, shown


def _model_output(run: Path, X: np.ndarray) -> np.ndarray:
    return Model.load(str(run / "model.npz")).predict(np.asarray(X, dtype=float))[:, 0]


# -- 1. where the result may be written -------------------------------------------------------


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _device(path: Path) -> Path:
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))  # what /dev/null is
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a device node here: {exc}")
    return path


def _link_to_device(path: Path) -> Path:
    path.symlink_to("/dev/null")
    return path


@pytest.mark.parametrize(("make", "needles"), [
    pytest.param(_device, ["a device, not a regular file"], id="device"),
    pytest.param(_link_to_device, ["/dev/null", "a device, not a regular file"], id="link-to-a-device"),
    pytest.param(_fifo, ["a FIFO (named pipe), not a regular file"], id="fifo"),
])
def test_a_special_file_is_never_replaced(run, tmp_path, make, needles):
    target = make(tmp_path / "out.csv")
    before = os.lstat(target)
    result = _predict(run, tmp_path / "points.csv", "-o", target, "--overwrite")
    _refused(result, str(target), *needles)
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino, after.st_rdev) == (before.st_mode, before.st_ino, before.st_rdev)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("as_link", [False, True], ids=["folder", "link-to-a-folder"])
def test_a_folder_is_refused_as_output(run, tmp_path, as_link):
    (tmp_path / "folder").mkdir()
    target = tmp_path / "folder"
    if as_link:
        target = tmp_path / "out.csv"
        target.symlink_to(tmp_path / "folder")
    result = _predict(run, tmp_path / "points.csv", "-o", target, "--overwrite")
    _refused(result, "is a directory")
    assert (tmp_path / "folder").is_dir() and list((tmp_path / "folder").iterdir()) == []
    assert target.is_symlink() == as_link


def test_a_link_to_a_regular_file_is_written_through(run, tmp_path):
    (tmp_path / "real.csv").write_text("the user's old results\n")
    link = tmp_path / "out.csv"
    link.symlink_to("real.csv")
    result = _predict(run, tmp_path / "points.csv", "-o", link)
    _refused(result, "exists; choose another name or pass --overwrite")
    assert (tmp_path / "real.csv").read_text() == "the user's old results\n"

    result = _predict(run, tmp_path / "points.csv", "-o", link, "--overwrite")
    assert result.exit_code == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == "real.csv"  # the link is kept
    assert (tmp_path / "real.csv").read_text().startswith("x,y,probability,predicted\n")
    assert str(tmp_path / "real.csv") in result.stderr


def test_a_dangling_link_is_refused(run, tmp_path):
    link = tmp_path / "out.csv"
    link.symlink_to(tmp_path / "nowhere" / "out.csv")
    result = _predict(run, tmp_path / "points.csv", "-o", link, "--overwrite")
    _refused(result, str(link), "which does not exist")
    assert link.is_symlink() and not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("how", ["same-path", "hard-link", "symbolic-link"])
def test_the_input_is_never_the_output(run, tmp_path, how):
    points = tmp_path / "points.csv"
    output = {"same-path": points, "hard-link": tmp_path / "hard.csv", "symbolic-link": tmp_path / "soft.csv"}[how]
    if how == "hard-link":
        os.link(points, output)
    elif how == "symbolic-link":
        output.symlink_to(points)
    inode = os.stat(points).st_ino
    result = _predict(run, points, "-o", output, "--overwrite")
    _refused(result, str(output), "is the input file")
    assert points.read_text() == POINTS and os.stat(points).st_ino == inode


# -- 2. the user's columns are kept; predictions are added --------------------------------------


def test_a_dash_for_output_is_stdout(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _predict(run, tmp_path / "points.csv", "-o", "-")
    assert result.exit_code == 0 and result.stdout.startswith("x,y,probability,predicted\n"), result.output
    assert not (tmp_path / "-").exists()


def test_a_headerless_file_keeps_its_first_point(run, tmp_path):
    points = tmp_path / "bare.csv"
    points.write_text("0.1,0.2\n-0.5,0.7\n")
    result = _predict(run, points)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "x,y,probability,predicted"
    assert [line.split(",")[:2] for line in lines[1:]] == [["0.1", "0.2"], ["-0.5", "0.7"]]
    scored = pd.read_csv(pd.io.common.StringIO(result.stdout))
    np.testing.assert_allclose(scored["probability"], _model_output(run, [[0.1, 0.2], [-0.5, 0.7]]), atol=1e-12)


def test_a_first_row_with_any_text_is_a_header(run, tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("1,b\n0.1,0.2\n")  # a header naming its columns "1" and "b": features by position
    result = _predict(run, points)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "1,b,probability,predicted" and lines[1].startswith("0.1,0.2,") and len(lines) == 2


def test_columns_named_like_the_predictions_are_kept(run, tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("x,y,probability,label,predicted,probability_1\n0.1,0.2,keep,me,as,is\n")
    result = _predict(run, points, "-o", tmp_path / "out.csv")
    assert result.exit_code == 0, result.stderr
    scored = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert list(scored.columns) == ["x", "y", "probability", "label", "predicted", "probability_1",
                                    "probability_2", "predicted_1"]
    assert scored.iloc[0, :6].tolist() == ["0.1", "0.2", "keep", "me", "as", "is"]
    assert float(scored["probability_2"][0]) == pytest.approx(_model_output(run, [[0.1, 0.2]])[0], abs=1e-12)
    assert "'probability' already" in result.stderr and "'probability_2'" in result.stderr
    assert "'predicted' already" in result.stderr and "'predicted_1'" in result.stderr


def test_every_input_column_is_kept_as_it_was_in_order(run, tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("id,y,note,x\n007,1.50,\"a, b\",-0\n008,2e0,,3\n")
    result = _predict(run, points, "-o", tmp_path / "out.csv")
    assert result.exit_code == 0, result.stderr
    scored = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert list(scored.columns) == ["id", "y", "note", "x", "probability", "predicted"]
    assert scored[["id", "y", "note", "x"]].values.tolist() == [["007", "1.50", "a, b", "-0"], ["008", "2e0", "", "3"]]
    expected = _model_output(run, [[0.0, 1.5], [3.0, 2.0]])  # features by name: x, then y
    np.testing.assert_allclose(scored["probability"].astype(float), expected, atol=1e-12)
    assert scored["predicted"].tolist() == [str(int(p >= 0.5)) for p in expected]


@pytest.mark.parametrize(("content", "needles"), [
    pytest.param("1,2,3\n4,5,6\n", ["no header", "3 columns", "exactly 2"], id="headerless-three-columns"),
    pytest.param("x,x,y\n1,2,3\n", ["column 'x' appears 2 times"], id="a-feature-named-twice"),
])
def test_columns_that_cannot_be_matched(run, tmp_path, content, needles):
    points = tmp_path / "p.csv"
    points.write_text(content)
    _refused(_predict(run, points), str(points), *needles)


# -- 3. a bare model file, saved from the Python API --------------------------------------------


def _bare_model(path: Path, n_features: int, units: int = 4) -> Model:
    model = Model([Linear(n_features, units, rng=0), ReLU(), Linear(units, 1, init="xavier", rng=1), Sigmoid()])
    model.save(str(path))
    return model


@pytest.mark.parametrize(("n_features", "content"), [
    pytest.param(2, "0.1,0.2\n-0.5,0.7\n", id="two-features-headerless"),
    pytest.param(3, "a,b,c\n0.1,0.2,0.3\n-0.5,0.7,1\n", id="three-features-by-position"),
    pytest.param(3, "id,x3,x1,x2\nA,0.3,0.1,0.2\nB,1,-0.5,0.7\n", id="three-features-by-name"),
])
def test_predict_with_a_bare_model_file(tmp_path, n_features, content):
    model = _bare_model(tmp_path / "m.npz", n_features)
    points = tmp_path / "p.csv"
    points.write_text(content)
    result = _predict(tmp_path / "m.npz", points, "-o", tmp_path / "out.csv")
    assert result.exit_code == 0, result.stderr
    scored = pd.read_csv(tmp_path / "out.csv")
    X = [[0.1, 0.2, 0.3], [-0.5, 0.7, 1.0]] if n_features == 3 else [[0.1, 0.2], [-0.5, 0.7]]
    np.testing.assert_allclose(scored["probability"], model.predict(np.array(X))[:, 0], atol=1e-12)
    if content[0].isdigit():
        assert list(scored.columns)[:n_features] == (["x", "y"] if n_features == 2 else ["x1", "x2", "x3"])


@pytest.mark.parametrize(("make", "needles"), [
    pytest.param(lambda p: p.write_text("not a model\n"), ["is a file", "not an .npz archive"], id="text"),
    pytest.param(lambda p: np.savez(p, weights=np.zeros(3)), ["no 'architecture' array"], id="other-arrays"),
    pytest.param(_fifo, ["a FIFO (named pipe), not a regular file"], id="fifo"),
    pytest.param(lambda p: None, ["no such run folder or model file"], id="missing"),
])
def test_a_bare_file_that_is_not_a_model(tmp_path, make, needles):
    path = tmp_path / "m.npz"
    make(path)
    (tmp_path / "p.csv").write_text(POINTS)
    _refused(_predict(path, tmp_path / "p.csv"), str(path), *needles)


@pytest.mark.slow
def test_a_wide_model_predicts_in_bounded_memory(tmp_path):
    _bare_model(tmp_path / "wide.npz", 2, units=100_000)
    points = tmp_path / "p.csv"
    rng = np.random.default_rng(0)
    pd.DataFrame(rng.normal(size=(3000, 2)), columns=["x", "y"]).to_csv(points, index=False)
    tracemalloc.start()
    try:
        result = _predict(tmp_path / "wide.npz", points, "-o", tmp_path / "out.csv")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.exit_code == 0, result.stderr
    assert peak < 400 * 2**20, f"peak {peak / 2**20:.0f} MiB"  # 3000 rows at once would be 2.4 GB an array
    assert len(pd.read_csv(tmp_path / "out.csv")) == 3000


# -- 7. what the input may be, and what a message may echo --------------------------------------


def test_a_huge_bad_cell_is_cut_in_the_message(run, tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("x,y\n0,0\n1," + "9z" * 500_000 + "\n")
    result = _predict(run, points)
    _refused(result, "row 2 (line 3), column 'y'", "1,000,000 characters", "is not a finite number")
    assert len(result.stderr) < 400


def test_a_huge_column_name_is_cut_in_the_message(run, tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("a,b," + "c" * 1_000_000 + "\n1,2,3\n")
    result = _predict(run, points)
    _refused(result, "expected 2 feature columns", "found 3")
    assert len(result.stderr) < 500


@pytest.mark.parametrize("make", [
    pytest.param(_fifo, id="fifo"),
    pytest.param(_link_to_device, id="link-to-a-device"),
])
def test_a_special_input_is_refused_before_it_is_opened(run, tmp_path, make):
    path = make(tmp_path / "in.csv")
    done = threading.Event()

    def unblock() -> None:  # if predict opened the FIFO, it would wait for a writer for ever
        if not done.wait(5) and stat.S_ISFIFO(os.lstat(path).st_mode):
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass

    helper = threading.Thread(target=unblock)
    helper.start()
    started = time.monotonic()
    try:
        result = _predict(run, path)
    finally:
        done.set()
        helper.join()
    _refused(result, str(path), "not a regular file")
    assert time.monotonic() - started < 5


# -- the CSV written: pandas' bytes ------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from nnfw_cli import saved  # noqa: E402

_TEXT = st.text(alphabet=st.sampled_from(list('ab1.-e ,"\r\n\t;é€\x00')), max_size=6)
_COLUMNS = st.sampled_from(["string", "object", "float64", "float32", "int64", "bool", "labels", "datetime"])


def _column(kind: str, draw: st.DrawFn, n: int) -> pd.Series:
    if kind in ("string", "object"):
        cells = draw(st.lists(st.one_of(_TEXT, st.none()), min_size=n, max_size=n))
        return pd.Series(cells, dtype="string" if kind == "string" else object)
    if kind.startswith("float"):
        values = draw(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32 if kind == "float32" else 64),
                               min_size=n, max_size=n))
        return pd.Series(np.array(values, dtype=kind))
    if kind == "int64":
        values = draw(st.lists(st.integers(-2**63, 2**63 - 1), min_size=n, max_size=n))
        return pd.Series(np.array(values, dtype=np.int64))
    if kind == "bool":
        return pd.Series(np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool))
    if kind == "labels":  # 'predicted' of a run with class names, or an object column of numbers
        return pd.Series(draw(st.lists(st.one_of(_TEXT, st.integers(0, 3)), min_size=n, max_size=n)), dtype=object)
    return pd.Series(pd.to_datetime(draw(st.lists(st.integers(0, 2 * 10**9), min_size=n, max_size=n)), unit="s"))


@st.composite
def _tables(draw: st.DrawFn) -> list[pd.DataFrame]:
    kinds = draw(st.lists(_COLUMNS, min_size=1, max_size=5))
    names = draw(st.lists(_TEXT, min_size=len(kinds), max_size=len(kinds)))
    parts = []
    for n in draw(st.lists(st.integers(0, 6), min_size=1, max_size=3)):
        table = pd.concat([_column(kind, draw, n) for kind in kinds], axis=1)
        table.columns = names
        parts.append(table)
    return parts


@pytest.mark.slow
@settings(deadline=None, database=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(parts=_tables())
def test_the_predictions_file_has_the_bytes_pandas_writes(tmp_path_factory, parts):
    """write_parts writes text, float, integer and boolean columns itself: byte for byte what
    ``to_csv`` writes, quotes, missing cells, float32 and special values included."""
    folder = tmp_path_factory.mktemp("csv")
    with open(folder / "ours.csv", "w", newline="", encoding="utf-8") as handle:
        rows = saved.write_parts(iter(parts), handle)
    with open(folder / "pandas.csv", "w", newline="", encoding="utf-8") as handle:
        for i, part in enumerate(parts):
            part.to_csv(handle, index=False, header=not i)
    assert rows == sum(len(part) for part in parts)
    assert (folder / "ours.csv").read_bytes() == (folder / "pandas.csv").read_bytes()


# -- a file of numbers written plainly: parsed as numbers, its lines copied ------------------------

from unittest import mock  # noqa: E402

from nnfw_cli import data as data_module  # noqa: E402
from nnfw_cli.errors import DataError  # noqa: E402


@pytest.fixture(scope="module")
def numeric_run(tmp_path_factory) -> Path:
    """A run trained on a CSV of three numeric features and a 0/1 label, named by its columns."""
    folder = tmp_path_factory.mktemp("numeric")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    table = pd.DataFrame(X, columns=["x1", "x2", "x3"]).assign(label=(X[:, 0] > X[:, 1]).astype(int))
    table.to_csv(folder / "train.csv", index=False)
    (folder / "c.yaml").write_text("data: {dataset: csv, path: train.csv, target: label}\n"
                                   "model: {layers: [{type: linear, units: 4}, relu, {type: linear, units: 1}, sigmoid]}\n"
                                   "training: {epochs: 2}\n")
    result = CliRunner().invoke(main, ["train", str(folder / "c.yaml"), "--output-dir", str(folder), "--name", "r",
                                       "--quiet"])
    assert result.exit_code == 0, result.output
    return folder / "r"


_NUMBER = st.one_of(
    st.floats(-1e6, 1e6).map(repr),
    st.tuples(st.floats(-1e3, 1e3), st.integers(0, 20)).map(lambda v: f"{v[0]:.{v[1]}f}"),
    st.tuples(st.floats(-1e300, 1e300), st.integers(0, 17), st.sampled_from("eE")).map(
        lambda v: f"{v[0]:.{v[1]}e}".replace("e", v[2])),
    st.integers(-10**25, 10**25).map(str),
    st.floats(0, 1e6).map(lambda x: f"+{x!r}"),  # a plus: read as Python reads it both ways
    st.sampled_from(["0", "-0", ".5", "5.", "-.5", "1e5", "1E-5", "2e+3", "00012", "+.5", "+37470e265"]),
)


def _plain_rows(draw: st.DrawFn, names: list[str], ragged: bool = False) -> list[str]:
    """Rows of numbers written plainly under ``names``, some blank, some with an empty cell (a
    missing feature, or a kept one); ``ragged``, some a cell short or with one too many."""
    rows = []
    for _ in range(draw(st.integers(1, 25))):
        if draw(st.integers(0, 9)) == 0:
            rows.append("")  # a blank line
            continue
        cells = [draw(_NUMBER) for _ in names]
        if draw(st.integers(0, 14)) == 0:
            cells[draw(st.integers(0, len(names) - 1))] = ""
        if ragged and draw(st.integers(0, 29)) == 0:
            cells = cells[:-1] if draw(st.booleans()) else [*cells, "1"]
        rows.append(",".join(cells))
    return rows


@st.composite
def _plain_files(draw: st.DrawFn) -> tuple[bytes, int]:
    """A CSV of numbers written plainly, with the run's columns among others in any order, blank
    lines, empty cells (a missing feature is an error), LF or CRLF; and rows a part."""
    names = draw(st.permutations(["x1", "x2", "x3", *draw(st.sampled_from([[], ["id"], ["id", "label"]]))]))
    rows = _plain_rows(draw, names)
    end = draw(st.sampled_from(["\n", "\r\n"]))
    text = end.join([",".join(names), *rows]) + (end if draw(st.booleans()) else "")
    return text.encode("ascii"), draw(st.sampled_from([1, 3, 100]))


def _predicted(run: Path, path: Path, plainly: bool) -> str | tuple[str, str]:
    """predict's bytes for ``path`` (or its error), by the lines (``plainly``) or as text cells."""
    import io

    model, transform, n_features, _ = saved.open_predictor(run)
    buffer = io.StringIO(newline="")
    with mock.patch.object(data_module, "written_plainly", data_module.written_plainly if plainly else lambda p: False):
        try:
            saved.write_parts((table for table, _ in saved.predict_file(model, transform, n_features, str(path))),
                              buffer)
        except DataError as exc:
            return "error", str(exc)
    return buffer.getvalue()


@pytest.mark.slow
@settings(deadline=None, database=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(file=_plain_files())
def test_a_file_of_plain_numbers_predicts_as_its_cells_read_as_text_do(numeric_run, tmp_path_factory, file):
    """The fast way (numbers parsed as numbers, each line copied for its cells) writes the bytes
    the cells read as text give, and the same errors: blank lines, CRLF, empty cells, columns in
    any order, parts of any size."""
    content, rows = file
    path = tmp_path_factory.mktemp("plain") / "points.csv"
    path.write_bytes(content)
    assert data_module.written_plainly(str(path))
    with mock.patch.object(saved, "PREDICT_ROWS", rows):
        assert _predicted(numeric_run, path, plainly=True) == _predicted(numeric_run, path, plainly=False)


@pytest.mark.parametrize("content, rows", [
    (b"x1,x2,x3,id,label\n\n,0.0,0.0,0.0,18446744073709551616\n,0.0,0.0,0.0,0.0", 3),  # a blank line: no row
    (b"x1,x2,x3,id\n1,2,3,18446744073709551616\n\n4,5,6,7\n", 100),  # beyond int64: a column of objects
    (b"x1,x2,x3,id\n1,2,3,4\n-13444833959106774016,,0.0,0.0\n", 1),  # of numbers only, one row a part
    (b"x1,x2,x3,id\n1,2,3,-\n4,5,6,1-2\n\n7,8,9,e\n", 2),  # cells that are not numbers, in a kept column
    (b"x1,x2,x3\n1,2,3\n4,-,6\n", 1),  # in a feature: the error names the cell
    (b"x1,x2,x3\n\n\n", 1),  # blank lines only
    (b"x1,x2,x3\n", 1),  # a header only
    (b"x1,x2,x3\n1,2,3\n1,2\n", 1),  # a row short of a cell
    (b"x1,x2,x3\n1,2,3\n1,2,3,4\n", 100),  # a row with a cell too many
    (b"x1,x3,x4\n1,2,3\n", 100),  # a feature's column missing
])
def test_a_part_that_does_not_read_as_numbers_is_read_again_as_text(numeric_run, tmp_path, content, rows):
    path = tmp_path / "points.csv"
    path.write_bytes(content)
    assert data_module.written_plainly(str(path))
    with mock.patch.object(saved, "PREDICT_ROWS", rows):
        assert _predicted(numeric_run, path, plainly=True) == _predicted(numeric_run, path, plainly=False)


@pytest.mark.parametrize("content", [
    b"x1,x2,x3\n1, 2,3\n",  # a space: text cells as the parser strips them
    b"x1,x2,x3\n1,2,3\n\"4\",5,6\n",  # a quote
    b"x1;x2;x3\n1;2;3\n",  # another delimiter
    b"x1,x2,x3\n1,2,3\r4,5,6\n",  # a line ending in CR alone
    b"x1,x2,x3\n1,2,nan\n",  # a letter
    b"\"x1\",x2,x3\n1,2,3\n",  # a quoted header
])
def test_a_file_not_written_plainly_is_read_as_text(tmp_path, content):
    path = tmp_path / "points.csv"
    path.write_bytes(content)
    assert not data_module.written_plainly(str(path))


def test_a_plain_number_reads_as_python_reads_it(numeric_run, tmp_path):
    """Parsed as numbers, '+902.4215555380657' is the float Python reads, as the training rows
    read it (pandas' conversion of text cells makes it 902.4215555380656)."""
    from nnfw_cli.features import apply

    path = tmp_path / "points.csv"
    path.write_text("x1,x2,x3\n+902.4215555380657,0.5,-1\n")
    model, transform, n_features, _ = saved.open_predictor(numeric_run)
    (table, _), = saved.predict_file(model, transform, n_features, str(path))
    X = (np.array([[902.4215555380657, 0.5, -1.0]]) - np.asarray(transform.mean)) / np.asarray(transform.scale)
    assert apply(transform, table).tolist() == X.tolist()
    assert table["prob_1"].tolist() == model.predict(X)[:, 0].tolist()
    assert table.attrs["written"][0].tolist() == ["+902.4215555380657,0.5,-1"]


# -- points to score with a run of generated data, written plainly -----------------------------


@pytest.fixture(scope="module")
def points_models(tmp_path_factory) -> dict[int, Path]:
    """Bare model files taking 2 features (x, y) and 3 (x1, x2, x3)."""
    folder = tmp_path_factory.mktemp("points")
    return {n: _bare_model(folder / f"m{n}.npz", n) and folder / f"m{n}.npz" for n in (2, 3)}


_FEATURES = {2: ["x", "y"], 3: ["x1", "x2", "x3"]}


@st.composite
def _plain_points(draw: st.DrawFn) -> tuple[bytes, int]:
    """A CSV of points written plainly, for a model of 2 or 3 features: a header naming them among
    other columns in any order, one naming none (the columns by position), or none at all; blank
    lines, empty cells, rows short of a cell, LF or CRLF."""
    n = draw(st.sampled_from([2, 3]))
    header = draw(st.sampled_from(["named", "positions", "none"]))
    if header == "named":
        names = draw(st.permutations([*_FEATURES[n], *draw(st.sampled_from([[], ["id"], ["id", "probability"]]))]))
    else:
        names = [f"c{i}" for i in range(n)]
    rows = _plain_rows(draw, names, ragged=True)
    end = draw(st.sampled_from(["\n", "\r\n"]))
    lines = rows if header == "none" else [",".join(names), *rows]
    return (end.join(lines) + (end if draw(st.booleans()) else "")).encode("ascii"), n


@pytest.mark.slow
@settings(deadline=None, database=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(file=_plain_points())
def test_points_written_plainly_predict_as_their_cells_read_as_text_do(points_models, tmp_path_factory, file):
    """Points parsed as numbers, each line copied for its cells, give the bytes the cells read as
    text give, and the same errors: with or without a header, features by name or by position."""
    content, n = file
    path = tmp_path_factory.mktemp("plain") / "points.csv"
    path.write_bytes(content)
    assert data_module.written_plainly(str(path))
    assert _predicted(points_models[n], path, plainly=True) == _predicted(points_models[n], path, plainly=False)


@pytest.mark.parametrize("content", [
    b"x,y\n0.5,-1\n+902.4215555380657,2e-3\n",  # by name
    b"id,y,x\n7,0.5,-1\n\n8,+902.4215555380657,2e-3\r\n",  # other columns, a blank line, CRLF
    b"0.5,-1\n+902.4215555380657,2e-3\n",  # no header
    b"a,b\n0.5,-1\n+902.4215555380657,2e-3",  # by position, no end to the last line
    b"x,y,probability\n0.5,-1,1\n+902.4215555380657,2e-3,\n",  # a column named as the predictions'
])
def test_points_written_plainly_are_parsed_as_numbers(points_models, tmp_path, content):
    """Such files go the fast way (not read again as text), and give what the text cells give."""
    path = tmp_path / "points.csv"
    path.write_bytes(content)
    assert data_module.read_points_plainly(str(path), 2) is not None
    with mock.patch.object(data_module, "read_points", side_effect=AssertionError("read as text")):
        fast = _predicted(points_models[2], path, plainly=True)
    assert fast == _predicted(points_models[2], path, plainly=False)
    assert fast.splitlines()[2].startswith("+902.4215555380657,") or ",+902.4215555380657," in fast


@pytest.mark.parametrize("content, fast, error", [
    (b"x,y\n0.5,\n", False, True),  # an empty feature
    (b"x,y\n0.5,1e999\n", False, True),  # not finite
    (b"x,y,id\n0.5,1,2\n0.5,1\n", False, False),  # a row short of a kept cell: read as text, the cell empty
    (b"x,y\n0.5,1\n0.5,1,2\n", False, True),  # a row with a cell too many
    (b"x,y\n0.5,1,2\n0.5,1\n", False, True),  # the first row long, the next short
    (b"x,y,id\n1,2,3,4\n1,2\n", False, True),  # as many commas in all as rows of 3 cells have
    (b"x,y,id\n0.5,1,18446744073709551616\n0.5,1,-\n", True, False),  # a kept column of cells not numbers
    (b"x,y\n0.5,-\n", False, True),  # a feature's cell not a number
    (b"1,2,3\n4,5,6\n", False, True),  # no header, and not 2 columns
    (b"a,b,c\n1,2,3\n", False, True),  # no feature named, and not 2 columns
    (b"x,y\n", False, True),  # a header only
    (b"x,y\n\n\n", False, True),  # blank lines only
    (b"\nx,y\n1,2\n", False, False),  # a blank first line
])
def test_points_the_fast_way_cannot_take_are_read_as_text(points_models, tmp_path, content, fast, error):
    path = tmp_path / "points.csv"
    path.write_bytes(content)
    assert (data_module.read_points_plainly(str(path), 2) is not None) == fast
    result = _predicted(points_models[2], path, plainly=True)
    assert result == _predicted(points_models[2], path, plainly=False)
    assert (result[0] == "error") == error, result


@pytest.mark.parametrize("content", [b"x1,x2,x3,id,id\n1,2,3,4,5\n", b"x1,x2,x3,id,id\n1,2,3,a,b\n"],
                         ids=["written-plainly", "text"])
def test_a_column_named_twice_is_refused_not_renamed(numeric_run, tmp_path, content):
    """pandas would call the second 'id.1': the output would not give the user's columns back as they were."""
    path = tmp_path / "points.csv"
    path.write_bytes(content)
    result = _predict(numeric_run, path, "-o", tmp_path / "out.csv")
    _refused(result, f"{path}: column 'id' appears 2 times in the header (columns 4 and 5); name each column once")
    assert not (tmp_path / "out.csv").exists()


def test_cells_pandas_would_call_missing_come_back_as_written(numeric_run, tmp_path):
    """'NA', 'None', 'null', 'n/a', '#N/A' in a column the model does not take are the user's
    words (a country, a comment): written back as they were, not emptied."""
    path = tmp_path / "points.csv"
    path.write_text("x1,x2,x3,country,comment\n1,2,3,NA,None\n4,5,6,NaN,null\n7,8,9,n/a,#N/A\n")
    result = _predict(numeric_run, path, "-o", tmp_path / "out.csv")
    assert result.exit_code == 0, result.stderr
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert [line.split(",")[:5] for line in lines] == [line.split(",") for line in path.read_text().splitlines()]


def test_spaces_after_a_delimiter_come_back_as_written(numeric_run, tmp_path):
    """' x1, x2' and ' 1.5': read as numbers and names, written back with their spaces."""
    path = tmp_path / "points.csv"
    path.write_text(" x1, x2 ,x3, note\n 1.5, 2 ,3,  a b\n4,  5,6,\t c\n")
    result = _predict(numeric_run, path, "-o", tmp_path / "out.csv")
    assert result.exit_code == 0, result.stderr
    written = (tmp_path / "out.csv").read_text().splitlines()
    assert [line.rsplit(",", 3)[0] for line in written] == path.read_text().splitlines()
    plain = tmp_path / "plain.csv"
    plain.write_text("x1,x2,x3\n1.5,2,3\n4,5,6\n")  # the same numbers: the same predictions
    predictions = [line.rsplit(",", 3)[1:] for line in _predict(numeric_run, plain).stdout.splitlines()[1:]]
    assert [line.rsplit(",", 3)[1:] for line in written[1:]] == predictions


@pytest.mark.parametrize("content, line, column", [
    ("x1,x2,x3\n1,2,3\n,,\n4,5,6\n", 3, "x1"),  # a row of empty cells is a row, not a blank line
    ("x1,x2,x3,id\n1,2,3,a\n4,NA,6,b\n", 3, "x2"),  # NA in a feature: missing, as in the training rows
    ("x1,x2,x3,id\n1,2,3,a\n\n4,5,null,b\n", 4, "x3"),
    ("x1, x2,x3\n1, NA,3\n", 2, "x2"),  # after a space, as the training rows were read
])
def test_a_missing_feature_is_named_by_its_line_and_the_row_is_never_dropped(numeric_run, tmp_path, content, line,
                                                                           column):
    path = tmp_path / "points.csv"
    path.write_text(content)
    _refused(_predict(numeric_run, path, "-o", tmp_path / "out.csv"), f"line {line}, column '{column}': missing value")
    assert not (tmp_path / "out.csv").exists()


def test_a_row_after_a_cell_of_several_lines_is_named_by_its_own_line(numeric_run, tmp_path):
    path = tmp_path / "points.csv"
    path.write_text('x1,x2,x3,note\n1,2,3,"one\ntwo\nthree"\n4,5,6,a\n7,x,9,b\n')
    _refused(_predict(numeric_run, path), f"{path}: line 6, column 'x2': 'x' is not a finite number")


def test_blank_lines_are_no_rows(numeric_run, tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("x1,x2,x3,id\n1,2,3,a\n\n  \n4,5,6,b\n\n")  # a line of spaces is blank too
    result = _predict(numeric_run, path, "-o", tmp_path / "out.csv")
    assert result.exit_code == 0, result.stderr
    assert [line.split(",")[3] for line in (tmp_path / "out.csv").read_text().splitlines()] == ["id", "a", "b"]


@pytest.mark.parametrize("content", [
    b",x1,x2,x3\n0,1,2,3\n1,4,5,6\n",  # a row number written by pandas' to_csv: written plainly
    b",x1,x2,x3,note,\n0,1,2,3,a,\n1,4,5,6,b,\n",  # text, and a delimiter ending each line
])
def test_a_column_without_a_name_comes_back_without_one(numeric_run, tmp_path, content):
    path = tmp_path / "points.csv"
    path.write_bytes(content)
    result = _predict(numeric_run, path, "-o", tmp_path / "out.csv")
    assert result.exit_code == 0, result.stderr
    written = (tmp_path / "out.csv").read_text().splitlines()
    given = content.decode().splitlines()
    assert [line.split(",")[: len(given[0].split(","))] for line in written] == [line.split(",") for line in given]
    assert written[0].endswith(",prob_0,prob_1,predicted")


def test_a_runs_model_file_is_not_read_bare_when_the_run_transforms_its_inputs(numeric_run, tmp_path):
    """Read bare, RUN/model.npz would score the rows unscaled, by position: other numbers than the run's."""
    path = tmp_path / "points.csv"
    path.write_text("x1,x2,x3\n1,2,3\n")
    _refused(_predict(numeric_run / "model.npz", path),
             f"{numeric_run / 'model.npz'}: the model of the run {numeric_run}, whose inputs are matched by column "
             f"name and scaled as its transform.json says; predict with the run: nnfw predict {numeric_run} INPUT.csv")
    copy = tmp_path / "m.npz"
    shutil.copy(numeric_run / "model.npz", copy)  # away from its run: a model file as any other
    assert _predict(copy, path).exit_code == 0
