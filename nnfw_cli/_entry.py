"""The ``nnfw`` command's entry point, kept free of imports.

Importing the CLI (click, numpy) takes a noticeable moment; a Ctrl-C then would end in a
KeyboardInterrupt traceback. Until the CLI is imported, SIGINT keeps the system's default action,
so the process ends at once with the shell's usual 130 and nothing written.
"""

import signal


def run() -> None:
    """``nnfw``: import the CLI with Ctrl-C ending the process quietly, then run it."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not if the caller ignores it
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        from .cli import run as cli_run

        signal.signal(signal.SIGINT, signal.default_int_handler)
    else:
        from .cli import run as cli_run
    cli_run()
