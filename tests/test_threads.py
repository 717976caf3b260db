"""BLAS threads chosen for the work (nnfw_cli/threads.py)."""

from __future__ import annotations

import pytest
from threadpoolctl import threadpool_info

from nnfw_cli import threads


def _blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool.get("user_api") == "blas"]


def test_small_networks_train_with_one_thread_large_ones_with_the_default():
    assert threads.choose(None, [2, 64, 64, 64, 1], 32) == 1  # the spiral net, batch 32
    assert threads.choose(None, [64, 256, 256, 10], 256) == 1  # digits, batch 256
    assert threads.choose(None, [2, 4096, 4096, 1], 4096) == threads.default_threads()


def test_the_threshold_is_the_largest_product_of_a_step():
    widths = [10, 100, 5]  # products of 1000 and 500 multiply-adds a row
    assert threads.largest_product(widths, 7) == 7 * 10 * 100
    rows = -(-threads.MIN_PARALLEL_WORK // 1000)  # just enough rows for the threshold
    assert threads.choose(None, widths, rows - 1) == 1
    assert threads.choose(None, widths, rows) == threads.default_threads()


def test_a_requested_count_is_taken_as_it_is():
    assert threads.choose(3, [2, 8, 1], 32) == 3
    assert threads.choose(1, [2, 4096, 4096, 1], 4096) == 1


def test_limited_sets_blas_threads_inside_and_restores_them_after():
    before = _blas_threads()
    with threads.limited(1):
        assert set(_blas_threads()) == {1}
    assert _blas_threads() == before


@pytest.mark.slow
def test_a_run_trains_with_the_threads_it_chose_and_records_them(make_config):
    from nnfw_cli import experiment
    from nnfw_cli.config import load_config

    for requested, expected in ((None, 1), (2, 2)):
        seen = []
        config = load_config(make_config({"training.threads": requested}))
        run = experiment.train(config, "t", f"t{requested}", progress=lambda logs: seen.append(_blas_threads()))
        assert run.metrics["threads"] == expected
        assert seen and all(set(counts) == {expected} for counts in seen)  # during every epoch
    assert _blas_threads() != [] and experiment.config_fingerprint(config) == experiment.config_fingerprint(
        load_config(make_config({"training.threads": 1})))  # a resumed run may take another count


@pytest.mark.slow
def test_commands_that_score_a_saved_model_limit_blas_threads_for_its_width(runner, run_dir):
    from threadpoolctl import threadpool_limits

    from nnfw_cli.cli import main

    before = _blas_threads()
    try:
        with threadpool_limits(limits=2, user_api="blas"):
            result = runner.invoke(main, ["eval", str(run_dir)])
            assert result.exit_code == 0, result.output
            assert set(_blas_threads()) == {1}  # a small model: one thread
    finally:
        threadpool_limits(limits=max(before), user_api="blas")


def test_the_blas_libraries_are_found_again_only_after_an_import(monkeypatch):
    first = threads._controller()
    assert threads._controller() is first  # a run after a run: nothing new to look for
    import sys
    import types

    monkeypatch.setitem(sys.modules, "nnfw_test_brings_a_blas", types.ModuleType("nnfw_test_brings_a_blas"))
    assert threads._controller() is not first  # an import may have loaded another BLAS
