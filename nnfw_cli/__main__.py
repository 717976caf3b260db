"""``python -m nnfw_cli``: the same as the ``nnfw`` command."""

from ._entry import run

run()
