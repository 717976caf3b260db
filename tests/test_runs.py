"""nnfw_cli.runs: run folders are created without clobbering, written atomically and read back."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from nnfw_cli import runs
from nnfw_cli.errors import NnfwError, RunError
from nnfw_cli.nn import Linear, Model, Sigmoid


def _hidden_files(folder: Path) -> list[str]:
    """Names beginning with a dot: where the temporary files of atomic writes live."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# -- writing atomically -----------------------------------------------------------------------


def test_atomic_path_puts_the_file_in_place_only_at_the_end(tmp_path):
    target = tmp_path / "metrics.json"
    with runs.atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        tmp.write_text("{}")
        assert not target.exists()  # nothing at the final name while it is being written
    assert target.read_text() == "{}"
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_an_exception_while_writing_leaves_no_file(tmp_path):
    target = tmp_path / "history.csv"
    with pytest.raises(RuntimeError, match="midway"):
        with runs.atomic_path(target) as tmp:
            tmp.write_text("epoch,train_loss\n1,0.")
            raise RuntimeError("midway")
    assert os.listdir(tmp_path) == []


def test_an_exception_while_writing_keeps_the_old_file(tmp_path):
    target = tmp_path / "history.csv"
    target.write_text("the old content")
    with pytest.raises(RuntimeError):
        with runs.atomic_path(target) as tmp:
            tmp.write_text("half of the new")
            raise RuntimeError("midway")
    assert target.read_text() == "the old content"
    assert os.listdir(tmp_path) == ["history.csv"]


def test_a_model_that_fails_to_save_leaves_no_file(tmp_path):
    class Unsavable(Model):
        def save(self, handle):
            handle.write(b"PK\x03\x04 the start of an archive")
            raise OSError("no space left on device")

    with pytest.raises((OSError, NnfwError), match="no space left"):
        runs.save_model(Unsavable([Linear(2, 1, rng=0)]), tmp_path / "model.npz")
    assert os.listdir(tmp_path) == []


def test_a_file_written_atomically_gets_the_usual_mode(tmp_path):
    runs.write_text(tmp_path / "atomic.txt", "x")
    (tmp_path / "plain.txt").write_text("x")
    assert (tmp_path / "atomic.txt").stat().st_mode == (tmp_path / "plain.txt").stat().st_mode


def test_write_json_and_save_arrays_read_back(tmp_path):
    runs.write_json(tmp_path / "m.json", {"roc_auc": 0.97, "epochs": 3})
    assert json.loads((tmp_path / "m.json").read_text()) == {"roc_auc": 0.97, "epochs": 3}
    arrays = {"a": np.arange(6.0).reshape(2, 3), "b": np.array([1, 2])}
    runs.save_arrays(tmp_path / "a.npz", arrays, compressed=True)
    loaded = runs.load_arrays(tmp_path / "a.npz")
    assert loaded.keys() == arrays.keys() and all(np.array_equal(loaded[k], arrays[k]) for k in arrays)
    assert _hidden_files(tmp_path) == []


# -- creating run folders ---------------------------------------------------------------------


def test_a_named_run_folder_is_never_reused(tmp_path):
    first = runs.create_run_dir(tmp_path / "outputs", "circles", "r")
    assert first == tmp_path / "outputs" / "r" and list(first.iterdir()) == []
    (first / "model.npz").write_bytes(b"trained")
    with pytest.raises(RunError, match="a run of that name exists"):
        runs.create_run_dir(tmp_path / "outputs", "circles", "r")
    assert [p.name for p in first.iterdir()] == ["model.npz"]


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(time, "strftime", lambda fmt, *args: "20260101-120000")
    folders = [runs.create_run_dir(tmp_path, "circles") for _ in range(3)]
    assert [p.name for p in folders] == ["circles-20260101-120000", "circles-20260101-120000-2",
                                         "circles-20260101-120000-3"]
    assert all(p.is_dir() and list(p.iterdir()) == [] for p in folders)


def test_a_folder_made_by_someone_else_is_not_taken(tmp_path, monkeypatch):
    monkeypatch.setattr(time, "strftime", lambda fmt, *args: "20260101-120000")
    theirs = tmp_path / "circles-20260101-120000"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    ours = runs.create_run_dir(tmp_path, "circles")
    assert ours != theirs and list(ours.iterdir()) == []
    assert (theirs / "notes.txt").read_text() == "mine"


def test_an_output_directory_that_cannot_be_made_is_a_run_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(RunError, match="file"):
        runs.create_run_dir(tmp_path / "file" / "outputs", "circles")


# -- finding runs -----------------------------------------------------------------------------


def _run(root: Path, name: str, age: float) -> Path:
    """A run folder with a config.yaml, made ``age`` seconds ago."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / runs.CONFIG).write_text("seed: 0\n")
    stamp = time.time() - age
    for path in (folder / runs.CONFIG, folder):
        os.utime(path, (stamp, stamp))
    return folder


def test_find_run_returns_a_named_folder(tmp_path):
    folder = _run(tmp_path, "r", age=0)
    assert runs.find_run(folder) == folder


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "no such run folder"),
    (lambda p: p.write_text("x"), "not a folder"),
], ids=["missing", "a-file"])
def test_find_run_of_something_that_is_not_a_run_folder(tmp_path, make, message):
    path = tmp_path / "r"
    make(path)
    with pytest.raises(RunError, match=message):
        runs.find_run(path)


def test_latest_follows_the_run_marked_last(tmp_path):
    old, new = _run(tmp_path, "old", age=100), _run(tmp_path, "new", age=10)
    runs.mark_latest(new)
    assert runs.find_run(None, tmp_path).resolve() == new.resolve()
    runs.mark_latest(old)  # a resumed run becomes the latest again
    assert runs.find_run(None, tmp_path).resolve() == old.resolve()
    assert (tmp_path / runs.LATEST).is_symlink() and os.readlink(tmp_path / runs.LATEST) == "old"
    assert _hidden_files(tmp_path) == []


def test_without_a_latest_link_the_newest_run_is_found(tmp_path):
    _run(tmp_path, "old", age=100)
    new = _run(tmp_path, "new", age=10)
    (tmp_path / "not-a-run").mkdir()  # no config.yaml
    assert runs.find_run(None, tmp_path) == new


@pytest.mark.parametrize("make", [lambda p: None, lambda p: p.mkdir(), lambda p: (p / "empty").mkdir(parents=True)],
                         ids=["no-folder", "empty", "no-run-in-it"])
def test_no_runs_yet_is_a_run_error(tmp_path, make):
    make(tmp_path / "outputs")
    with pytest.raises(RunError, match="no runs yet"):
        runs.find_run(None, tmp_path / "outputs")


# -- reading a run back -----------------------------------------------------------------------


@pytest.mark.parametrize("read, needle", [
    (runs.read_config, "config.yaml"),
    (runs.read_model, "model.npz"),
    (runs.read_history, "history.csv"),
    (runs.read_checkpoint, "checkpoint"),
])
def test_reading_a_missing_file_is_the_librarys_error_naming_it(tmp_path, read, needle):
    with pytest.raises(NnfwError) as caught:
        read(tmp_path)
    assert needle in str(caught.value) and str(tmp_path) in str(caught.value)


def test_a_run_without_snapshots_has_none(tmp_path):
    assert runs.read_snapshots(tmp_path) == ([], None)


def test_a_run_reads_back_what_was_written(tmp_path):
    model = Model([Linear(2, 3, rng=0), Sigmoid()])
    runs.save_model(model, tmp_path / runs.MODEL)
    runs.write_text(tmp_path / runs.HISTORY, "epoch,train_loss,val_loss,val_roc_auc\n1,0.7,,\n2,0.5,0.6,0.9\n")
    loaded = runs.read_model(tmp_path)
    X = np.random.default_rng(1).normal(size=(5, 2))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    history = runs.read_history(tmp_path)
    assert list(history["epoch"]) == [1, 2] and np.isnan(history["val_loss"][0])
    grid = np.meshgrid(np.linspace(0, 1, 4), np.linspace(0, 1, 3))
    snapshots = [{"epoch": e, "train_loss": 1.0 / e, "val_roc_auc": 0.5, "proba": np.full((3, 4), e, np.uint8)}
                 for e in (1, 2)]
    runs.write_snapshots(tmp_path, snapshots, grid)
    read, (xx, yy) = runs.read_snapshots(tmp_path)
    assert [s["epoch"] for s in read] == [1, 2] and np.array_equal(read[1]["proba"], snapshots[1]["proba"])
    assert np.array_equal(xx, grid[0]) and np.array_equal(yy, grid[1])
