"""The ``nnfw`` command's entry point, kept free of imports.

Importing the CLI (click, numpy) takes a noticeable moment; a Ctrl-C then would end in a
KeyboardInterrupt traceback. Until the CLI is imported, SIGINT keeps the system's default action,
so the process ends at once with the shell's usual 130 and nothing written.

A command that runs on local worker processes starts their forkserver first of all: it takes
seconds to import what the runs need, and does so while the CLI imports itself. Until the CLI is
imported, SIGINT and SIGTERM then end the forkserver and remove its socket's folder before they
end the process as they would have.
"""

import signal
import sys


def run() -> None:
    """``nnfw``: import the CLI with Ctrl-C ending the process quietly, then run it."""
    workers = _workers(sys.argv[1:])
    quiet = signal.getsignal(signal.SIGINT) is signal.default_int_handler  # not if the caller ignores it
    signals = () if not quiet else (signal.SIGINT, signal.SIGTERM) if workers is not None else (signal.SIGINT,)
    before = {signum: signal.signal(signum, _end_workers if workers is not None else signal.SIG_DFL)
              for signum in signals}
    _start(workers)
    from .cli import run as cli_run

    for signum, handler in before.items():
        signal.signal(signum, handler)
    cli_run()


def _workers(args: list[str]) -> bool | None:
    """For ``nnfw sweep`` (not on a Dask cluster) and ``nnfw train --seeds``, which run on local
    workers: whether their runs draw pictures (the forkserver then imports matplotlib too). None
    for any other command line. A command line read wrong here costs a forkserver started and
    ended for nothing, or started later by the command itself, never a different result."""
    options = {arg.split("=", 1)[0] for arg in args if arg.startswith("-")}
    if options & {"-h", "--help", "--version"}:
        return None
    if args[:1] == ["sweep"] and "--scheduler" not in options:
        return [arg for arg in args if arg in ("--pictures", "--no-pictures")][-1:] == ["--pictures"]
    if args[:1] == ["train"] and "--seeds" in options:
        return True
    return None


def _start(pictures: bool | None) -> None:
    """Start the workers' forkserver (``pool.worker_context``) unless ``pictures`` is None."""
    if pictures is not None:
        from .pool import worker_context

        try:
            worker_context(pictures)
        except Exception:  # noqa: BLE001 - the command asks again, and says what is wrong, without a traceback
            pass


def _end_workers(signum: int, frame: object) -> None:
    """SIGINT or SIGTERM while the CLI is imported: end the forkserver, then the process, by the signal."""
    import os

    from .pool import stop_forkserver

    stop_forkserver()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
