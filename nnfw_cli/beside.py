"""Two pieces of work at once, on two cores: one here, one in a forked copy of this process.

A run's pictures take longer to draw than a small net takes to train, and drawing is a single
core's work (matplotlib holds the interpreter's lock), so ``nnfw train`` draws its decision
boundary in a child while it draws its other pictures itself. The child is a copy made by
``fork``: it has the trained model, the data and the imported libraries without any transfer,
and it writes its file as this process would have (``runs.atomic_path``).

Whatever keeps the child from finishing (an exception, a crash, no answer) makes this process
do the work again itself, so that the outcome, a file or an exception, is the one it would have
been without a child.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
import warnings
from typing import Any, Callable

ENABLED = True  # False where the other cores have work already (a sweep's worker)
PATIENCE = 60.0  # seconds to wait for the child once this process's own work is done
_DONE = b"done"


def usable() -> bool:
    """True where the work can be split: Linux, two usable cores, and no other thread of Python
    (one could hold a lock at the fork that the child would then wait for for ever)."""
    return (ENABLED and sys.platform.startswith("linux") and len(os.sched_getaffinity(0)) >= 2
            and threading.active_count() == 1)


def beside(here: Callable[[], Any], there: Callable[[], Any], clean: Callable[[], Any] = lambda: None) -> None:
    """Run ``here`` in this process and ``there`` in a forked child at the same time.

    Returns once both are done. If the child did not finish ``there`` (it raised, crashed, was
    killed, or gave no answer within PATIENCE seconds after ``here`` ended), ``clean`` removes
    what it may have left and ``there`` runs again here, raising here what it raises. If
    ``here`` raises (a signal that stops the command included), the child is ended at once,
    ``clean`` called, and the exception goes on. Where the work cannot be split (``usable``),
    ``here`` then ``there`` run in this process.
    """
    child = _fork(there) if usable() else None
    if child is None:
        here()
        there()
        return
    pid, read_end = child
    try:
        here()
        ready, _, _ = select.select([read_end], [], [], PATIENCE)
        done = bool(ready) and os.read(read_end, len(_DONE)) == _DONE
    except BaseException:
        _end(pid, read_end)
        clean()
        raise
    _end(pid, read_end)  # it has ended by itself, unless it is still at work after PATIENCE
    if not done:
        clean()  # a file it was writing when it died
        there()


def _fork(there: Callable[[], Any]) -> tuple[int, int] | None:
    """A child that runs ``there``: its pid and the end of a pipe on which it says it is done;
    None if no child can be made (no memory, no process left)."""
    read_end, write_end = os.pipe()
    try:
        with warnings.catch_warnings():  # Python 3.12+ warns of the BLAS library's threads: they hold no lock of ours
            warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
            pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:
        _child(there, read_end, write_end)
    os.close(write_end)
    return pid, read_end


def _child(there: Callable[[], Any], read_end: int, write_end: int) -> None:
    """The child's life: ``there``, then say so and end, running none of the parent's clean-up
    (``os._exit``: no atexit handler, no flush of output buffered before the fork)."""
    status = 1
    try:
        os.close(read_end)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches both: the parent answers it
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        there()
        os.write(write_end, _DONE)
        status = 0
    finally:
        os._exit(status)


def _end(pid: int, read_end: int) -> None:
    """End the child if it still runs, and reap it."""
    os.close(read_end)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
