"""Run folders under hostile conditions: two processes on one run, links, hand-made or corrupt
files, FIFOs, files left by killed processes, full or read-only disks, NaN in JSON.

Each case ends in the library's own error naming the file (or in the right file on disk), never
in a traceback, a MemoryError or a process that blocks; and nothing a user made is changed.
"""

from __future__ import annotations

import errno
import io
import json
import math
import os
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from nnfw_cli import runs
from nnfw_cli.errors import ModelFileError, RunError, RunInUse, WriteError
from nnfw_cli.nn import Linear, Model, Sigmoid

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
POSIX = os.name == "posix"
ROOT = Path(__file__).resolve().parent.parent


# -- helpers -----------------------------------------------------------------------------------


def _run_folder(tmp_path: Path, name: str = "run") -> Path:
    """A run folder with a config.yaml, under ``tmp_path/outputs``."""
    run_dir = tmp_path / "outputs" / name
    run_dir.mkdir(parents=True)
    (run_dir / runs.CONFIG).write_text("seed: 0\n")
    return run_dir


def _save_model(path: Path) -> None:
    model = Model([Linear(2, 3, rng=np.random.default_rng(0)), Sigmoid()])
    model.save(str(path))


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asanyarray(array), allow_pickle=True)
    return buffer.getvalue()


def _npy_claiming(shape: tuple[int, ...], descr: str = "<f8", data: bytes = b"\0" * 16) -> bytes:
    """An .npy member whose header claims ``shape`` but which holds only ``data``."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue() + data


def _write_npz(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(f"{name}.npy", data)


def _call_soon(function: Callable[[], Any], fifo: Path | None = None, timeout: float = 10.0) -> Any:
    """``function()``, failing the test (instead of hanging it) if it blocks on ``fifo``."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = function()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test below
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        if fifo is not None:  # let the blocked reader go: a writer that closes at once means end of file
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            thread.join(timeout)
        pytest.fail(f"blocked for more than {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def _files(folder: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() and not p.is_fifo() else None
            for p in sorted(folder.rglob("*"))}


def _dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _python(code: str, *args: str, **kwargs: Any) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, text=True, **kwargs)


HOLD = """\
import sys
from nnfw_cli import runs
with runs.lock(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.readline()
"""


@pytest.fixture
def holder(tmp_path):
    """A separate process holding the lock of a run folder until its stdin is closed."""
    run_dir = _run_folder(tmp_path)
    child = _python(HOLD, str(run_dir), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert child.stdout.readline().strip() == "locked"
    yield run_dir, child
    if child.poll() is None:
        child.stdin.close()
        child.wait(10)


# -- one process at a time in a run folder -----------------------------------------------------


def test_lock_holds_pid_and_host_and_is_removed_after(tmp_path):
    run_dir = _run_folder(tmp_path)
    with runs.lock(run_dir):
        record = json.loads((run_dir / runs.LOCK).read_text())
        assert record["pid"] == os.getpid()
        assert record["host"]
    assert not (run_dir / runs.LOCK).exists()
    assert sorted(p.name for p in run_dir.iterdir()) == [runs.CONFIG]


def test_lock_is_released_when_the_block_raises(tmp_path):
    run_dir = _run_folder(tmp_path)
    with pytest.raises(KeyError), runs.lock(run_dir):
        raise KeyError("x")
    assert not (run_dir / runs.LOCK).exists()


def test_a_live_holder_is_refused_by_name_and_pid(holder):
    run_dir, child = holder
    with pytest.raises(RunInUse) as caught, runs.lock(run_dir):
        pass
    message = str(caught.value)
    assert str(run_dir) in message and f"pid {child.pid}" in message
    assert caught.value.pid == child.pid
    assert json.loads((run_dir / runs.LOCK).read_text())["pid"] == child.pid  # the holder keeps its lock
    child.stdin.close()
    child.wait(10)
    assert not (run_dir / runs.LOCK).exists()
    with runs.lock(run_dir):
        pass


@pytest.mark.skipif(not POSIX, reason="kill -9")
def test_the_lock_of_a_killed_process_is_taken_over(holder):
    run_dir, child = holder
    child.kill()
    child.wait(10)
    assert json.loads((run_dir / runs.LOCK).read_text())["pid"] == child.pid  # left behind
    with runs.lock(run_dir):
        assert json.loads((run_dir / runs.LOCK).read_text())["pid"] == os.getpid()
    assert not (run_dir / runs.LOCK).exists()


@pytest.mark.parametrize("record", [
    {"pid": "DEAD", "host": "HERE"},
    {"pid": "MINE", "host": "HERE"},  # an earlier process that had this pid (a container restarted)
], ids=["dead-pid", "own-pid-not-held"])
def test_stale_lock_records_are_taken_over(tmp_path, record):
    import socket

    run_dir = _run_folder(tmp_path)
    pid = _dead_pid() if record["pid"] == "DEAD" else os.getpid()
    (run_dir / runs.LOCK).write_text(json.dumps({"pid": pid, "host": socket.gethostname()}))
    with runs.lock(run_dir):
        assert json.loads((run_dir / runs.LOCK).read_text())["pid"] == os.getpid()


def test_a_lock_from_another_host_is_not_guessed_at(tmp_path):
    run_dir = _run_folder(tmp_path)
    (run_dir / runs.LOCK).write_text(json.dumps({"pid": 1234, "host": "elsewhere.example"}))
    with pytest.raises(RunInUse, match=r"pid 1234 on elsewhere\.example"), runs.lock(run_dir):
        pass
    assert json.loads((run_dir / runs.LOCK).read_text())["pid"] == 1234


def test_a_lock_file_nnfw_did_not_write_is_kept_and_named(tmp_path):
    run_dir = _run_folder(tmp_path)
    (run_dir / runs.LOCK).write_text("my notes\n")
    with pytest.raises(RunError, match=r"\.lock: not a lock file nnfw wrote") as caught, runs.lock(run_dir):
        pass
    assert "delete it" in str(caught.value)
    assert (run_dir / runs.LOCK).read_text() == "my notes\n"


def test_the_same_thread_may_lock_again_another_thread_may_not(tmp_path):
    run_dir = _run_folder(tmp_path)
    with runs.lock(run_dir):
        with runs.lock(run_dir):
            pass
        assert (run_dir / runs.LOCK).exists()  # still held by the outer block
        with pytest.raises(RunInUse, match="another thread"):
            _call_soon(lambda: runs.lock(run_dir).__enter__())
    assert not (run_dir / runs.LOCK).exists()


def test_a_read_only_run_folder_cannot_be_locked(tmp_path, monkeypatch):
    run_dir = _run_folder(tmp_path)
    real_open = os.open

    def read_only(path, flags, *args):
        if str(path).endswith(runs.LOCK) and flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(WriteError, match="cannot be locked: Read-only file system"), runs.lock(run_dir):
        pass


RACE = """\
import os, sys, time
from nnfw_cli import runs
from nnfw_cli.errors import RunInUse
run_dir, go = sys.argv[1], sys.argv[2]
while not os.path.exists(go):
    time.sleep(0.001)
try:
    with runs.lock(run_dir):
        try:
            os.close(os.open(os.path.join(run_dir, "inside"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            print("overlap", flush=True)
            raise SystemExit(1)
        time.sleep(0.3)
        os.unlink(os.path.join(run_dir, "inside"))
        print("in", flush=True)
except RunInUse:
    print("busy", flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("stale", [False, True], ids=["free", "stale-lock"])
def test_racing_processes_never_hold_a_run_at_once(tmp_path, stale):
    """Two `nnfw train --resume` of one run: one runs, the others are told the run is in use."""
    import socket

    run_dir = _run_folder(tmp_path)
    if stale:
        (run_dir / runs.LOCK).write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname()}))
    go = tmp_path / "go"
    children = [_python(RACE, str(run_dir), str(go), stdout=subprocess.PIPE) for _ in range(6)]
    time.sleep(1.0)  # let them all import and wait at the line
    go.touch()
    said = sorted(child.communicate(timeout=60)[0].strip() for child in children)
    assert "overlap" not in said
    assert said.count("in") >= 1 and set(said) <= {"in", "busy"}
    assert not (run_dir / runs.LOCK).exists()


# -- outputs/latest ----------------------------------------------------------------------------


@pytest.fixture
def two_runs(tmp_path) -> tuple[Path, Path, Path]:
    """``outputs`` with runs ``a`` (older) and ``b`` (newer), and ``latest`` linking to ``a``."""
    a, b = _run_folder(tmp_path, "a"), _run_folder(tmp_path, "b")
    os.utime(a / runs.CONFIG, (time.time() - 100, time.time() - 100))
    os.symlink("a", tmp_path / "outputs" / runs.LATEST)
    return tmp_path / "outputs", a, b


def test_a_run_named_through_latest_is_its_real_folder(two_runs):
    outputs, a, _ = two_runs
    assert runs.find_run(outputs / "latest") == a
    assert runs.choose_run(outputs / "latest") == (a, f"{outputs / 'latest'} is {a}")
    runs.mark_latest(runs.find_run(outputs / "latest"))
    assert os.readlink(outputs / "latest") == "a"


def test_latest_is_never_pointed_at_itself(two_runs):
    outputs, a, _ = two_runs
    runs.mark_latest(outputs / "latest")
    assert os.readlink(outputs / "latest") == "a"
    assert (outputs / "latest").resolve() == a.resolve()


def test_the_newest_run_is_reported_with_where_it_was_found(two_runs):
    outputs, a, b = two_runs
    assert runs.choose_run(None, outputs) == (a, f"using the newest run in {outputs}: {a}")
    (outputs / "latest").unlink()
    assert runs.choose_run(None, outputs) == (b, f"using the newest run in {outputs}: {b}")
    assert runs.choose_run(a, outputs) == (a, None)  # named exactly: nothing to say


def test_a_latest_link_to_itself_is_an_error_not_a_loop(two_runs):
    outputs, _, b = two_runs
    (outputs / "latest").unlink()
    os.symlink("latest", outputs / "latest")
    with pytest.raises(RunError, match="latest"):
        runs.find_run(outputs / "latest")
    assert runs.find_run(None, outputs) == b  # the newest is then found without the link


def test_a_hand_made_latest_is_never_replaced(two_runs):
    outputs, a, b = two_runs
    (outputs / "latest").unlink()
    (outputs / "latest").write_text("mine\n")
    runs.mark_latest(b)
    assert (outputs / "latest").read_text() == "mine\n"


@pytest.mark.parametrize("name", ["latest", "LATEST", ".hidden", "a/b", "..", " "])
def test_run_names_that_would_clash_are_refused(tmp_path, name):
    with pytest.raises(RunError) as caught:
        runs.create_run_dir(tmp_path / "outputs", "x", name)
    message = str(caught.value)
    assert repr(name) in message and "choose another --name" in message
    if name.casefold() == "latest":
        assert "reserved" in message and "links to the newest run" in message
    assert not (tmp_path / "outputs").exists() or list((tmp_path / "outputs").iterdir()) == []


@pytest.mark.slow
def test_resume_through_latest_trains_the_real_folder(runner, small_config, tmp_path):
    """`nnfw train --resume outputs/latest` must not leave `latest` pointing at itself."""
    from nnfw_cli import experiment
    from nnfw_cli.cli import main
    from nnfw_cli.config import load_config
    from nnfw_cli.errors import TrainingInterrupted

    with pytest.raises(TrainingInterrupted):
        experiment.train(load_config(small_config), "small", "cut", None, experiment.StopRequest(signum=2))
    outputs = tmp_path / "outputs"
    result = runner.invoke(main, ["train", "--resume", str(outputs / "latest"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert os.readlink(outputs / "latest") == "cut"
    assert (outputs / "cut" / "model.npz").is_file() and not (outputs / "cut" / "checkpoint.npz").exists()


# -- hand-made or corrupt files ----------------------------------------------------------------


HUGE = (1_000_000, 1_000_000)  # 10^12 numbers: "Unable to allocate 7.28 TiB"


def test_a_model_whose_header_claims_terabytes_is_refused_before_loading(tmp_path):
    run_dir = _run_folder(tmp_path)
    _write_npz(run_dir / runs.MODEL, {"architecture": _npy(np.array("[]")), "0.weight": _npy_claiming(HUGE)})
    with pytest.raises(ModelFileError) as caught:
        runs.read_model(run_dir)
    message = str(caught.value)
    assert message.startswith(f"{run_dir / runs.MODEL}: ")
    assert "'0.weight'" in message and "(1000000, 1000000)" in message and "7.28 TiB" in message


@pytest.mark.parametrize("name", [runs.CHECKPOINT, runs.SNAPSHOTS])
def test_run_arrays_whose_header_claims_terabytes_are_refused(tmp_path, name):
    run_dir = _run_folder(tmp_path)
    _write_npz(run_dir / name, {"epoch": _npy_claiming(HUGE, "<i8")})
    read = runs.read_checkpoint if name == runs.CHECKPOINT else runs.read_snapshots
    with pytest.raises(RunError, match=rf"{name}: cannot be read: array 'epoch'.*7\.28 TiB"):
        read(run_dir)


def test_arrays_over_the_size_limit_are_refused(tmp_path, monkeypatch):
    path = tmp_path / "big.npz"
    np.savez(path, a=np.zeros(1000))
    monkeypatch.setattr(runs, "MAX_ARRAY_BYTES", 4000)
    with pytest.raises(RunError, match=r"big\.npz: cannot be read: .*more than"):
        runs.load_arrays(path)


@pytest.mark.parametrize(("member", "needle"), [
    (_npy(np.array([{"code": 1}], dtype=object)), "allow_pickle=False"),
    (_npy(np.zeros(2, dtype="datetime64[s]")), "not numbers or text"),
    (b"\x93NUMPY\x01\x00\xff\xff{'descr': ", "array 'a'"),
    (b"plain bytes", "array 'a'"),
], ids=["object-array", "datetimes", "huge-header-length", "no-npy-magic"])
def test_members_that_are_not_plain_arrays_are_refused(tmp_path, member, needle):
    path = tmp_path / "x.npz"
    _write_npz(path, {"a": member})
    with pytest.raises(RunError, match=r"x\.npz: cannot be read: ") as caught:
        runs.load_arrays(path)
    assert needle in str(caught.value)


def test_a_member_that_is_not_an_npy_file_is_refused(tmp_path):
    path = tmp_path / "x.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "x" * 100)
    with pytest.raises(RunError, match=r"'notes\.txt' is not a numpy array"):
        runs.load_arrays(path)


DEEP = "[" * 100_000 + "]" * 100_000


def test_a_model_architecture_nested_100000_deep(tmp_path):
    run_dir = _run_folder(tmp_path)
    _write_npz(run_dir / runs.MODEL, {"architecture": _npy(np.array(DEEP))})
    with pytest.raises(ModelFileError, match=r"model\.npz: not a usable model file: .*nested too deeply"):
        runs.read_model(run_dir)


def _checkpoint(run_dir: Path, state: Any = None, **arrays: Any) -> None:
    state = {"history": [{"epoch": 1, "train_loss": 0.5}], "generators": {}, "seconds": 0.1} if state is None else state
    text = state if isinstance(state, str) else json.dumps(state)
    np.savez(run_dir / runs.CHECKPOINT, state=np.array(text), **{"model.0.weight": np.zeros((2, 3))}, **arrays)


def test_a_checkpoint_state_nested_100000_deep(tmp_path):
    run_dir = _run_folder(tmp_path)
    _checkpoint(run_dir, state=DEEP)
    with pytest.raises(RunError, match=r"checkpoint\.npz: .*nested too deeply"):
        runs.read_checkpoint(run_dir)


@pytest.mark.parametrize(("change", "needle"), [
    ({"state": {"history": [{"epoch": 1, "train_loss": "abc"}], "generators": {}, "seconds": 0}},
     "history entry 1: 'train_loss' is 'abc', not a number"),
    ({"state": {"history": [{"epoch": True, "train_loss": 1.0}], "generators": {}, "seconds": 0}},
     "history entry 1: 'epoch' is True, not a number"),
    ({"model.1.bias": np.array(["a", "b"])}, "array 'model.1.bias' holds text (<U1) where numbers are expected"),
    ({"optimizer.m": np.array([b"x"])}, "array 'optimizer.m' holds text (|S1) where numbers are expected"),
])
def test_text_where_a_checkpoint_holds_numbers(tmp_path, change, needle):
    run_dir = _run_folder(tmp_path)
    _checkpoint(run_dir, **change)
    with pytest.raises(RunError) as caught:
        runs.read_checkpoint(run_dir)
    assert str(caught.value).startswith(f"{run_dir / runs.CHECKPOINT}: ")
    assert needle in str(caught.value)


def test_a_good_checkpoint_with_nan_and_null_reads_back(tmp_path):
    run_dir = _run_folder(tmp_path)
    history = [{"epoch": 1, "train_loss": 0.5, "val_roc_auc": math.nan},
               {"epoch": 2, "train_loss": 0.4, "val_loss": None}]
    _checkpoint(run_dir, state={"history": history, "generators": {}, "seconds": 1})
    assert set(runs.read_checkpoint(run_dir)) == {"state", "model.0.weight"}


def _snapshots(run_dir: Path, **change: Any) -> None:
    xx, yy = np.meshgrid(np.linspace(-1, 1, 3), np.linspace(-1, 1, 3))
    snapshot = {"epoch": 1, "train_loss": 0.5, "val_roc_auc": math.nan, "proba": np.zeros((3, 3), np.uint8)}
    runs.write_snapshots(run_dir, [snapshot, {**snapshot, "epoch": 2}], (xx, yy))
    if change:
        with np.load(run_dir / runs.SNAPSHOTS) as archive:
            arrays = {key: archive[key] for key in archive.files}
        np.savez(run_dir / runs.SNAPSHOTS, **{**arrays, **change})


def test_good_snapshots_read_back(tmp_path):
    run_dir = _run_folder(tmp_path)
    _snapshots(run_dir)
    snapshots, (xx, yy) = runs.read_snapshots(run_dir)
    assert [s["epoch"] for s in snapshots] == [1, 2] and xx.shape == (3, 3)
    assert math.isnan(snapshots[0]["val_roc_auc"])  # an epoch not scored keeps NaN


@pytest.mark.parametrize(("change", "needle"), [
    ({"xx": np.full((3, 3), np.nan)}, "array 'xx' holds NaN or infinite values"),
    ({"yy": np.array([[0, 1, np.inf]] * 3)}, "array 'yy' holds NaN or infinite values"),
    ({"proba": np.full((2, 3, 3), np.nan)}, "array 'proba' holds NaN or infinite values"),
    ({"proba": np.full((2, 3, 3), 300)}, "array 'proba' holds values outside 0-255"),
    ({"epoch": np.array(["one", "two"])}, "array 'epoch' holds text (<U3) where numbers are expected"),
    ({"train_loss": np.array(["a", "b"])}, "array 'train_loss' holds text (<U1) where numbers are expected"),
    ({"xx": np.zeros(9), "yy": np.zeros(9), "proba": np.zeros((2, 9))}, "is not a 2-D grid"),
])
def test_hand_made_snapshots_are_refused(tmp_path, change, needle):
    run_dir = _run_folder(tmp_path)
    _snapshots(run_dir, **change)
    with pytest.raises(RunError) as caught:
        runs.read_snapshots(run_dir)
    assert str(caught.value).startswith(f"{run_dir / runs.SNAPSHOTS}: ")
    assert needle in str(caught.value)


def test_deep_or_broken_metrics_json(tmp_path):
    run_dir = _run_folder(tmp_path)
    (run_dir / runs.METRICS).write_text(DEEP)
    assert runs.read_status(run_dir) == "unknown"
    with pytest.raises(RunError, match=r"metrics\.json: .*nested too deeply"):
        runs.read_json(run_dir / runs.METRICS)
    (run_dir / runs.METRICS).write_text('{"status": ["completed"]}')
    assert runs.read_status(run_dir) == "unknown"


def _deny_reading(monkeypatch, target: Path) -> None:
    """Reading ``target`` fails as it does for a file of another user (root reads every file)."""
    real_open = os.open

    def denied(path, flags, *args, **kwargs):
        if os.path.abspath(path) == str(target):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)


def test_an_unreadable_model_is_described_as_unreadable(tmp_path, monkeypatch):
    run_dir = _run_folder(tmp_path)
    _save_model(run_dir / runs.MODEL)
    if IS_ROOT:
        _deny_reading(monkeypatch, run_dir / runs.MODEL)
    else:
        (run_dir / runs.MODEL).chmod(0)
    with pytest.raises(ModelFileError, match=r"model\.npz: cannot be read: Permission denied"):
        runs.read_model(run_dir)


@pytest.mark.parametrize(("make", "needle"), [
    (lambda p: p.mkdir(), "a folder, not a file"),
    (lambda p: p.write_bytes(b"\x00garbage\xff" * 10), "not an .npz archive"),
    (lambda p: os.symlink("nowhere.npz", p), "a link to nowhere.npz, which does not exist"),
])
def test_a_model_that_is_not_a_model_file_says_what_it_is(tmp_path, make, needle):
    run_dir = _run_folder(tmp_path)
    make(run_dir / runs.MODEL)
    with pytest.raises((RunError, ModelFileError)) as caught:
        runs.read_model(run_dir)
    assert str(caught.value).startswith(f"{run_dir / runs.MODEL}: ")
    assert needle in str(caught.value)


def test_a_good_model_still_loads(tmp_path):
    run_dir = _run_folder(tmp_path)
    _save_model(run_dir / runs.MODEL)
    assert runs.read_model(run_dir).get_config() == Model.load(str(run_dir / runs.MODEL)).get_config()


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


NO_FIFO = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
CLI_CASES = [
    pytest.param(lambda p: _write_npz(p, {"architecture": _npy(np.array("[]")), "0.weight": _npy_claiming(HUGE)}),
                 ["model.npz: not a usable model file: array '0.weight'", "7.28 TiB"], id="claims-terabytes"),
    pytest.param(lambda p: _write_npz(p, {"architecture": _npy(np.array(DEEP))}),
                 ["model.npz: not a usable model file", "nested too deeply"], id="architecture-100000-deep"),
    pytest.param(_fifo, ["model.npz: a FIFO (named pipe), not a regular file"], id="fifo", marks=NO_FIFO),
]


@pytest.mark.slow
@pytest.mark.parametrize(("corrupt", "needles"), CLI_CASES)
def test_nnfw_eval_of_a_hostile_model_file(runner, small_config, tmp_path, corrupt, needles):
    from nnfw_cli.cli import main

    trained = runner.invoke(main, ["train", str(small_config), "--quiet", "--name", "base"])
    assert trained.exit_code == 0, trained.output
    run_dir = tmp_path / "outputs" / "base"
    corrupt(run_dir / runs.MODEL)
    before = _files(run_dir)
    result = _call_soon(lambda: runner.invoke(main, ["eval", str(run_dir)]), run_dir / runs.MODEL)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    assert result.stderr.startswith("Error: ") and all(needle in result.stderr for needle in needles), result.stderr
    assert _files(run_dir) == before


# -- FIFOs and other special files -------------------------------------------------------------


READERS = {
    runs.MODEL: runs.read_model,
    runs.CONFIG: runs.read_config,
    runs.HISTORY: runs.read_history,
    runs.CHECKPOINT: runs.read_checkpoint,
    runs.SNAPSHOTS: runs.read_snapshots,
    runs.METRICS: lambda run_dir: runs.read_json(run_dir / runs.METRICS),
}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("name", sorted(READERS))
def test_a_fifo_in_a_run_file_s_place_is_refused_at_once(tmp_path, name):
    run_dir = _run_folder(tmp_path)
    fifo = run_dir / name
    fifo.unlink(missing_ok=True)
    os.mkfifo(fifo)
    with pytest.raises(RunError, match="a FIFO") as caught:
        _call_soon(lambda: READERS[name](run_dir), fifo)
    assert str(fifo) in str(caught.value)
    assert fifo.is_fifo()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_for_metrics_does_not_block_the_status(tmp_path):
    run_dir = _run_folder(tmp_path)
    os.mkfifo(run_dir / runs.METRICS)
    assert _call_soon(lambda: runs.read_status(run_dir), run_dir / runs.METRICS) == "unknown"


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_a_device_in_a_run_file_s_place_is_refused(tmp_path):
    run_dir = _run_folder(tmp_path)
    os.symlink("/dev/zero", run_dir / runs.HISTORY)
    with pytest.raises(RunError, match=r"history\.csv: a device, not a regular file"):
        _call_soon(lambda: runs.read_history(run_dir))


# -- temporary files left by killed writers ----------------------------------------------------


def _age(path: Path, seconds: float) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def test_temporary_files_of_gone_writers_are_removed_when_the_run_is_next_written(tmp_path):
    run_dir = _run_folder(tmp_path)
    dead, mine, hours = _dead_pid(), os.getpid(), 2 * 3600
    gone = {f".model.npz.{dead}.abcd1234.tmp": 0,          # its writer has ended
            ".history.csv.k3j_9x2q.tmp": hours}             # an older nnfw's name, untouched for hours
    kept = {f".metrics.json.{mine}.ffff0000.tmp": hours,    # a live writer's (this process)
            ".loss_curve.png.k3j_9x2q.tmp": 0,              # recent, writer unknown
            "notes.tmp": hours, ".notes": hours, ".backup.2024.tmp": hours,  # the user's
            f".x.{dead}.abcdefgh.tmp.keep": hours}
    for name, age in {**gone, **kept}.items():
        (run_dir / name).write_text("x")
        _age(run_dir / name, age)
    folder = run_dir / f"..decision_boundary.gif.{dead}.zz_z9y8x.tmp.q1w2e3r4"  # an animation's private folder
    folder.mkdir()
    (folder / "animation.gif").write_text("x")
    with runs.lock(run_dir):
        assert sorted(p.name for p in run_dir.iterdir()) == sorted([runs.CONFIG, runs.LOCK, *kept])
    assert runs.remove_stale_temporaries(run_dir) == []


def test_temporary_names_carry_the_writer_s_pid(tmp_path):
    with runs.atomic_path(tmp_path / "a.json") as tmp:
        assert tmp.name.startswith(f".a.json.{os.getpid()}.") and tmp.name.endswith(".tmp")
        tmp.write_text("{}")
    assert (tmp_path / "a.json").read_text() == "{}"


# -- a full disk, a read-only folder -----------------------------------------------------------


WRITERS = {
    "write_text": lambda path: runs.write_text(path, "new\n"),
    "write_json": lambda path: runs.write_json(path, {"new": 1}),
    "save_arrays": lambda path: runs.save_arrays(path, {"a": np.zeros(3)}),
    "save_model": lambda path: runs.save_model(Model([Linear(2, 1, rng=np.random.default_rng(0))]), path),
}


def _raise(exc: OSError) -> Callable[..., Any]:
    def fail(*args: Any, **kwargs: Any) -> None:
        for file in args[1:2]:  # a writer fails part-way: some bytes went out before the disk filled
            if hasattr(file, "write"):
                file.write(b"half")
        raise exc

    return fail


@pytest.mark.parametrize("writer", sorted(WRITERS))
@pytest.mark.parametrize("where", ["mkstemp", "write", "fsync", "replace"])
def test_a_failed_write_is_one_error_and_keeps_the_old_file(tmp_path, monkeypatch, writer, where):
    import tempfile

    path = tmp_path / "file"
    path.write_text("old\n")
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    if where == "mkstemp":  # a read-only folder
        monkeypatch.setattr(tempfile, "mkstemp", _raise(PermissionError(errno.EACCES, os.strerror(errno.EACCES))))
    elif where == "write":
        monkeypatch.setattr(np, "savez", lambda file, **arrays: _raise(full)(None, file))
        monkeypatch.setattr(Model, "save", _raise(full))
        monkeypatch.setattr(Path, "write_text", _raise(full))
    else:  # a full disk seen when the data is flushed, or when the file is renamed into place
        monkeypatch.setattr(os, where, _raise(full))
    with pytest.raises(WriteError) as caught:
        WRITERS[writer](path)
    reason = "Permission denied" if where == "mkstemp" else "No space left on device"
    assert str(caught.value) == f"{path}: cannot be written: {reason}"
    assert caught.value.path == str(path)
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_write_and_lock_errors_survive_a_process_pool():
    """Sweeps run on process pools, which send exceptions back pickled."""
    import pickle

    for error in (WriteError("f: cannot be written: No space left on device", "f"),
                  RunInUse("d: in use by another nnfw process (pid 7 on h)", "d", 7, "h")):
        copy = pickle.loads(pickle.dumps(error))
        assert (type(copy), str(copy), vars(copy)) == (type(error), str(error), vars(error))
    assert isinstance(WriteError("x"), OSError)  # code that catches a failed write as an OSError still does


def test_a_read_only_folder_is_named_in_the_error(tmp_path):
    if IS_ROOT:
        pytest.skip("root writes into read-only folders")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(WriteError, match=r"ro/metrics\.json: cannot be written: Permission denied"):
            runs.write_json(folder / "metrics.json", {})
    finally:
        folder.chmod(0o755)


# -- JSON that is JSON -------------------------------------------------------------------------


def _strict(text: str) -> Any:
    def refuse(token: str) -> None:
        raise ValueError(f"{token} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_json_written_has_null_for_nan_and_infinity(tmp_path):
    path = tmp_path / "metrics.json"
    runs.write_json(path, {"roc_auc": math.nan, "loss": math.inf, "low": -math.inf, "f32": np.float32("nan"),
                           "list": [1.5, np.float64(math.nan)], "n": np.int64(3), "ok": np.float32(0.5),
                           "nested": {"x": (math.nan, 2)}})
    assert _strict(path.read_text()) == {"roc_auc": None, "loss": None, "low": None, "f32": None,
                                         "list": [1.5, None], "n": 3, "ok": 0.5, "nested": {"x": [None, 2]}}


def test_old_json_with_nan_still_reads_back(tmp_path):
    run_dir = _run_folder(tmp_path)
    (run_dir / runs.METRICS).write_text('{"status": "completed", "roc_auc": NaN, "loss": Infinity}\n')
    metrics = runs.read_json(run_dir / runs.METRICS)
    assert math.isnan(metrics["roc_auc"]) and metrics["loss"] == math.inf
    assert runs.read_status(run_dir) == "completed"
