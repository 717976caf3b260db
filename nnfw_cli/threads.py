"""BLAS threads chosen for the work, with threadpoolctl.

numpy's BLAS starts as many threads as the machine has cores and uses them for every matrix
product. For the small products of a small network the threads cost more than they save: each
product waits at a barrier for every thread, and one thread delayed by another process (a CI
runner's neighbour, another run of a sweep) stalls them all. So nnfw trains and predicts with one
thread unless one product of a training step is large enough for threads to pay
(MIN_PARALLEL_WORK); ``training.threads`` or ``--threads N`` choose the count instead.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, Iterator, Sequence

# Multiply-adds of the largest matrix product of a step from which threads may help: below it, one
# thread was as fast or faster on every product measured (benchmarks/bench.py --cases threads).
MIN_PARALLEL_WORK = 5 * 10**7
SCORING_ROWS = 8192  # rows a saved model scores at a time (experiment.MAX_BATCH)


_found: tuple[int, Any] | None = None  # (len(sys.modules) then, the controller)


def _controller() -> Any:
    """threadpoolctl's handle on the BLAS libraries of this process. Finding them reads the list
    of every shared library loaded, which costs a small run as much as its training, so it is
    done again only when modules were imported since (one may bring a BLAS of its own)."""
    from threadpoolctl import ThreadpoolController

    global _found
    if _found is None or _found[0] != len(sys.modules):
        _found = (len(sys.modules), ThreadpoolController())
    return _found[1]


def default_threads() -> int:
    """The threads numpy's BLAS uses when left alone (1 if it reports none)."""
    counts = [pool["num_threads"] for pool in _controller().info() if pool.get("user_api") == "blas"]
    return max(counts, default=1)


def largest_product(widths: Sequence[int], rows: int) -> int:
    """Multiply-adds of the largest product of a step: ``rows`` samples through consecutive
    layer widths ``widths`` (inputs first)."""
    return rows * max((a * b for a, b in zip(widths, widths[1:])), default=0)


def choose(requested: int | None, widths: Sequence[int], rows: int) -> int:
    """The thread count to train with: ``requested`` when given, else 1 for work too small to
    gain from threads and the BLAS default otherwise."""
    if requested is not None:
        return int(requested)
    return default_threads() if largest_product(widths, rows) >= MIN_PARALLEL_WORK else 1


@contextlib.contextmanager
def limited(threads: int) -> Iterator[None]:
    """BLAS limited to ``threads`` threads inside the block; the setting before is restored after."""
    with _controller().limit(limits=threads, user_api="blas"):
        yield


def limit_for_scoring(widths: Sequence[int]) -> int:
    """For the rest of this process (a command that scores a saved model): the count ``choose``
    gives for batches of SCORING_ROWS rows through layers of ``widths``; returns it."""
    count = choose(None, widths, SCORING_ROWS)
    _controller().limit(limits=count, user_api="blas")
    return count
