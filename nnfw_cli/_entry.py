"""The ``nnfw`` command's entry point, kept free of imports.

Importing the CLI (click, numpy) takes a noticeable moment; a Ctrl-C then would end in a
KeyboardInterrupt traceback. Until the CLI is imported, SIGINT keeps the system's default action,
so the process ends at once with the shell's usual 130 and nothing written.

A command that runs on local worker processes starts their forkserver first of all: it takes
seconds to import what the runs need, and does so while the CLI imports itself.
"""

import signal
import sys


def run() -> None:
    """``nnfw``: import the CLI with Ctrl-C ending the process quietly, then run it."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not if the caller ignores it
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        _start_workers(sys.argv[1:])
        from .cli import run as cli_run

        signal.signal(signal.SIGINT, signal.default_int_handler)
    else:
        _start_workers(sys.argv[1:])
        from .cli import run as cli_run
    cli_run()


def _start_workers(args: list[str]) -> None:
    """Start the forkserver of local workers (``pool.worker_context``) for ``nnfw sweep`` (not on a
    Dask cluster) and ``nnfw train --seeds``, before the CLI is imported. The command asks for it
    again where it needs it, so this only saves time: a command line read wrong here costs a
    forkserver started and ended for nothing, never a different result."""
    options = {arg.split("=", 1)[0] for arg in args if arg.startswith("-")}
    if options & {"-h", "--help", "--version"}:
        return
    if args[:1] == ["sweep"] and "--scheduler" not in options:
        pictures = [arg for arg in args if arg in ("--pictures", "--no-pictures")][-1:] == ["--pictures"]
    elif args[:1] == ["train"] and "--seeds" in options:
        pictures = True
    else:
        return
    from .pool import worker_context

    worker_context(pictures)
