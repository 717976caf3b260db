"""beside: work split between this process and a forked child, with the outcome of doing it here."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from nnfw_cli import beside, experiment, runs
from nnfw_cli.config import load_config

needs_two_cores = pytest.mark.skipif(not beside.usable(), reason="fork needs Linux and two cores")


def _wait_for(path: Path, seconds: float = 20.0) -> str:
    end = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > end:
            raise AssertionError(f"{path.name} never came")
        time.sleep(0.005)
    return path.read_text()


def _say(path: Path, text: str) -> None:
    """Write ``text`` whole: a reader waiting for ``path`` never reads it half-written."""
    path.with_suffix(".part").write_text(text)
    os.replace(path.with_suffix(".part"), path)


def _gone(pid: int) -> bool:
    """True once ``pid`` has ended and been reaped (a zombie still has its /proc entry)."""
    return not Path(f"/proc/{pid}").exists()


@needs_two_cores
def test_there_runs_in_a_child_at_the_same_time_as_here(tmp_path):
    parent, here_ran = os.getpid(), []

    def here():
        # waits for the child's file: run one after the other, this would wait in vain
        here_ran.append(int(_wait_for(tmp_path / "child")))

    def there():
        _say(tmp_path / "child", str(os.getpid()))

    beside.beside(here, there)
    child = here_ran[0]
    assert child != parent and _gone(child)


@needs_two_cores
@pytest.mark.parametrize("fault", ["raises", "exits", "killed", "hangs"])
def test_what_the_child_did_not_finish_is_done_here(tmp_path, monkeypatch, fault):
    """And what it was writing is removed (``clean``), before it is written again here."""
    monkeypatch.setattr(beside, "PATIENCE", 0.5)
    parent, done_here = os.getpid(), []
    output = tmp_path / "out"
    output.mkdir()

    def there():
        if os.getpid() == parent:
            done_here.append(sorted(p.name for p in output.iterdir()))
            return
        with runs.atomic_path(output / "picture.png") as tmp:
            tmp.write_text("half a picture")
            _say(tmp_path / "child", str(os.getpid()))
            if fault == "raises":
                raise ValueError("a fault in the child")
            if fault == "exits":
                os._exit(3)
            if fault == "killed":
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(60)

    start = time.monotonic()
    beside.beside(lambda: None, there, clean=lambda: runs.remove_stale_temporaries(output))
    assert done_here == [[]]  # nothing left by the child when the work is done again
    assert _gone(int(_wait_for(tmp_path / "child")))
    assert time.monotonic() - start < 30


@needs_two_cores
def test_an_exception_of_there_is_raised_here_as_without_a_child():
    def there():
        raise ValueError("cannot draw this")

    with pytest.raises(ValueError, match="cannot draw this"):
        beside.beside(lambda: None, there)


@needs_two_cores
def test_an_exception_here_ends_the_child_at_once_and_cleans_what_it_left(tmp_path):
    """A second Ctrl-C while pictures are drawn: the child is ended mid-write, and its
    temporary file is removed, as a writer of this process would have removed its own."""
    cleaned = []

    def there():
        with runs.atomic_path(tmp_path / "picture.png") as tmp:
            tmp.write_text("half a picture")
            _say(tmp_path / "child", str(os.getpid()))
            time.sleep(60)

    def here():
        _wait_for(tmp_path / "child")
        raise KeyboardInterrupt

    def clean():
        cleaned.extend(runs.remove_stale_temporaries(tmp_path))

    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        beside.beside(here, there, clean)
    assert time.monotonic() - start < 30
    assert _gone(int((tmp_path / "child").read_text()))
    assert len(cleaned) == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["child"]


@needs_two_cores
def test_ctrl_c_is_left_to_this_process(tmp_path):
    """Ctrl-C reaches the whole process group: the child goes on, and this process decides."""
    parent, done = os.getpid(), []

    def there():
        _say(tmp_path / "child", str(os.getpid()))
        _wait_for(tmp_path / "go on")
        done.append(os.getpid())  # in the child's memory: seen here only if the child failed
        (tmp_path / "finished").write_text("")

    def here():
        os.kill(int(_wait_for(tmp_path / "child")), signal.SIGINT)
        (tmp_path / "go on").write_text("")

    beside.beside(here, there)
    assert (tmp_path / "finished").exists() and parent not in done


def test_one_after_the_other_where_the_work_cannot_be_split(monkeypatch):
    order = []
    monkeypatch.setattr(beside, "ENABLED", False)
    beside.beside(lambda: order.append(("here", os.getpid())), lambda: order.append(("there", os.getpid())))
    assert order == [("here", os.getpid()), ("there", os.getpid())]


def test_one_after_the_other_where_no_child_can_be_made(monkeypatch):
    def no_fork():
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    order = []
    beside.beside(lambda: order.append("here"), lambda: order.append("there"))
    assert order == ["here", "there"]


def test_no_fork_while_another_thread_of_python_runs(monkeypatch):
    """A thread could hold a lock at the fork, for ever in the child."""
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        assert not beside.usable()
        order = []
        beside.beside(lambda: order.append(os.getpid()), lambda: order.append(os.getpid()))
        assert order == [os.getpid()] * 2
    finally:
        release.set()
        thread.join()


def _record_drawers(module, monkeypatch, drawers: Path) -> None:
    """Make ``module.draw_decision_boundary`` leave a file named after the process that calls it."""
    drawers.mkdir()
    draw = module.draw_decision_boundary

    def recorded(*args, **kwargs):
        (drawers / str(os.getpid())).write_text("")
        return draw(*args, **kwargs)

    monkeypatch.setattr(module, "draw_decision_boundary", recorded)


@pytest.mark.slow
@needs_two_cores
def test_a_run_draws_its_decision_boundary_in_a_child_and_the_same_pictures(make_config, monkeypatch, tmp_path):
    drawers = tmp_path / "drawers"
    _record_drawers(experiment, monkeypatch, drawers)
    aside = experiment.train(load_config(make_config({"output.dir": str(tmp_path / "a")})), name="r").run_dir
    assert [int(p.name) != os.getpid() for p in drawers.iterdir()] == [True]
    monkeypatch.setattr(beside, "ENABLED", False)
    here = experiment.train(load_config(make_config({"output.dir": str(tmp_path / "b")})), name="r").run_dir
    assert [int(p.name) for p in drawers.iterdir() if int(p.name) == os.getpid()] == [os.getpid()]
    for picture in ("loss_curve.png", "decision_boundary.png", "confusion_matrix.png"):
        assert (aside / picture).read_bytes() == (here / picture).read_bytes(), picture
    assert not list(aside.glob(".*.tmp"))


@pytest.mark.slow
@needs_two_cores
def test_nnfw_plot_draws_the_decision_boundary_in_a_child_and_the_same_pictures(make_config, monkeypatch, tmp_path):
    from nnfw_cli import saved

    run_dir = experiment.train(load_config(make_config({"output.dir": str(tmp_path)})), name="r",
                               pictures=False).run_dir
    drawers = tmp_path / "drawers"
    _record_drawers(saved, monkeypatch, drawers)
    written = saved.redraw(saved.SavedRun.open(run_dir))
    assert [int(p.name) != os.getpid() for p in drawers.iterdir()] == [True]
    assert [p.name for p in written] == ["loss_curve.png", "decision_boundary.png", "roc_curve.png"]
    aside = {p.name: p.read_bytes() for p in written}
    monkeypatch.setattr(beside, "ENABLED", False)
    alone = saved.redraw(saved.SavedRun.open(run_dir))
    assert [p.name for p in alone] == list(aside)
    assert {p.name: p.read_bytes() for p in alone} == aside
    assert not list(run_dir.glob(".*.tmp"))
