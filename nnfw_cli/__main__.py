"""``python -m nnfw_cli``: the same as the ``nnfw`` command."""

from .cli import run

run()
