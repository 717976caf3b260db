"""``python -m nnfw_cli``: the same as the ``nnfw`` command."""

from .cli import main

main(prog_name="nnfw")
