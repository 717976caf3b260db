"""Where a sweep's local workers come from, in a module that imports nothing heavy, so that the
command can start them before it imports the rest of itself.

Workers fork from a forkserver: a clean process that imports nnfw and its libraries once (no
threads of the client's copied, no import per worker). It takes seconds; started first, it does
so while the client imports the sweep's code and reads and validates the sweep.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import signal
import sys
from multiprocessing.context import BaseContext

# What the forkserver imports once, so that no worker and no run pays for these imports; this
# module first (below: the forkserver removes its socket's folder when it ends by itself).
PRELOAD = ["nnfw_cli.pool", "nnfw_cli.experiment", "nnfw_cli.beside", "nnfw_cli.metrics", "nnfw_cli.features",
           "nnfw_cli.nn._step", "nnfw_cli.sweep", "pandas", "sklearn.metrics", "sklearn.datasets", "threadpoolctl"]


# The forkserver's socket is <temporary folder>/pymp-XXXXXXXX/listener-XXXXXXXX, and a socket's path
# holds at most 107 bytes on Linux, 103 on macOS.
SOCKET_PATH = 103 - len("/pymp-XXXXXXXX/listener-XXXXXXXX")  # bytes the temporary folder's path may take
FOLDER = "NNFW_FORKSERVER_FOLDER"  # the folder of the forkserver's socket, told to the forkserver only


def worker_context(pictures: bool = False) -> BaseContext:
    """The multiprocessing context of local workers: forkserver, started now (it ends by itself
    once this process has ended) and preloading matplotlib too for runs that draw ``pictures``;
    spawn where there is no forkserver (Windows, macOS before Python 3.14) or where its socket
    cannot be made (a temporary folder, TMPDIR, with a path too long for one): each worker then
    imports nnfw itself."""
    import tempfile

    if "forkserver" not in multiprocessing.get_all_start_methods() or \
            len(os.fsencode(tempfile.gettempdir())) > SOCKET_PATH:
        return multiprocessing.get_context("spawn")
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD + (["matplotlib.pyplot"] if pictures else []))
    from multiprocessing import util

    os.environ[FOLDER] = util.get_temp_dir()  # where the socket goes, told to a forkserver started now
    try:
        forkserver.ensure_running()
    finally:
        del os.environ[FOLDER]
    return context


def forkserver_folder() -> str | None:
    """The folder of the socket of the forkserver this process started, if it did."""
    module = sys.modules.get("multiprocessing.forkserver")
    address = getattr(getattr(module, "_forkserver", None), "_forkserver_address", None)
    return os.path.dirname(address) if isinstance(address, str) else None


def stop_forkserver() -> None:
    """End the forkserver this process started, if it did, and remove the folder of its socket:
    for a process about to end with ``os._exit``, which runs no clean-up of multiprocessing's.

    Else the forkserver would outlive the command by half a second tearing down its imports (or
    by seconds finishing them, after a sweep file found wrong), holding the command's stdout and
    stderr open meanwhile: a pipe reading them would wait. And every sweep would leave a
    ``pymp-*`` folder, holding the dead socket, in the temporary folder. Its workers have ended by
    now (or end by themselves when this process has, ``sweep._worker_init``).
    """
    module = sys.modules.get("multiprocessing.forkserver")
    pid = getattr(getattr(module, "_forkserver", None), "_forkserver_pid", None)
    if not pid:
        return
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    folder = forkserver_folder()  # the one multiprocessing made for the socket
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def _remove_at_exit(folder: str | None) -> None:
    """In the forkserver (which imports this module first): remove the folder of its socket when it
    ends by itself, as it does when its client is gone. A client killed with kill -9 before any
    worker started removes nothing, and its workers, which would have (``sweep._end_with``), are
    not there. Ended by its client (``stop_forkserver``), it runs no exit handler: the client
    removes the folder itself. The variable goes, so that nothing forked from here sees it."""
    if folder and os.path.basename(folder).startswith("pymp-"):  # multiprocessing's, nothing else
        import atexit

        atexit.register(shutil.rmtree, folder, ignore_errors=True)


_remove_at_exit(os.environ.pop(FOLDER, None))
