"""Where a sweep's local workers come from, in a module that imports nothing heavy, so that the
command can start them before it imports the rest of itself.

Workers fork from a forkserver: a clean process that imports nnfw and its libraries once (no
threads of the client's copied, no import per worker). It takes seconds; started first, it does
so while the client imports the sweep's code and reads and validates the sweep.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.context import BaseContext

# What the forkserver imports once, so that no worker and no run pays for these imports.
PRELOAD = ["nnfw_cli.experiment", "nnfw_cli.metrics", "nnfw_cli.features", "nnfw_cli.nn._step", "nnfw_cli.sweep",
           "pandas", "sklearn.metrics", "sklearn.datasets", "threadpoolctl"]


def worker_context(pictures: bool = False) -> BaseContext:
    """The multiprocessing context of local workers: forkserver, started now (it ends by itself
    once this process has ended) and preloading matplotlib too for runs that draw ``pictures``;
    spawn where there is no forkserver (Windows, macOS before Python 3.14)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD + (["matplotlib.pyplot"] if pictures else []))
    forkserver.ensure_running()
    return context
