"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest
import yaml


@pytest.fixture(autouse=True)
def _no_step_summary(monkeypatch):
    """Run in GitHub Actions, the tests must not append their runs to the workflow's own step summary."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@pytest.fixture
def rng() -> np.random.Generator:
    """A generator with a fixed seed: every test sees the same numbers on every run."""
    return np.random.default_rng(0)


@pytest.fixture
def runner():
    """click's CliRunner; stdout and stderr are kept apart (``result.stdout``, ``result.stderr``)."""
    from click.testing import CliRunner

    return CliRunner()


SMALL_CONFIG = """\
seed: 3
data:
  dataset: circles
  n_samples: 300
  noise: 0.05
model:
  layers:
    - {type: linear, units: 8}
    - relu
    - {type: linear, units: 1, init: xavier}
    - sigmoid
training:
  optimizer: adam
  learning_rate: 0.02
  epochs: 5
  batch_size: 64
output:
  dir: OUTPUT
"""


def _write_config(path: Path, output_dir: Path, changes: dict[str, Any] | None = None) -> Path:
    """Write the small config to ``path``, its runs going to ``output_dir``.

    ``changes`` maps dotted paths to new values, as ``--set`` does: ``{"training.epochs": 12,
    "model.layers": [...]}``.
    """
    raw = yaml.safe_load(SMALL_CONFIG)
    raw["output"]["dir"] = str(output_dir)
    for dotted, value in (changes or {}).items():
        *parents, last = dotted.split(".")
        node = raw
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def config_writer() -> Callable[..., Path]:
    """``config_writer(path, output_dir, changes=None)``: the small config, for fixtures wider than a test."""
    return _write_config


@pytest.fixture
def make_config(tmp_path) -> Callable[..., Path]:
    """``make_config(changes=None, name="small")``: a small config in ``tmp_path``, runs under ``tmp_path/outputs``."""

    def make(changes: dict[str, Any] | None = None, name: str = "small") -> Path:
        return _write_config(tmp_path / f"{name}.yaml", tmp_path / "outputs", changes)

    return make


@pytest.fixture
def small_config(make_config) -> Path:
    """A config that trains in a fraction of a second, writing runs under ``tmp_path/outputs``."""
    return make_config()


@pytest.fixture(scope="session")
def finished_outputs(tmp_path_factory) -> Path:
    """An output folder holding one finished small run, ``r``, and ``latest`` pointing at it.

    Trained once for the session; tests take a copy of their own (``run_dir``).
    """
    from click.testing import CliRunner

    from nnfw_cli.cli import main

    root = tmp_path_factory.mktemp("finished")
    config = _write_config(root / "small.yaml", root / "outputs")
    result = CliRunner().invoke(main, ["train", str(config), "--quiet", "--name", "r"])
    assert result.exit_code == 0, result.stderr
    return root / "outputs"


@pytest.fixture
def run_dir(finished_outputs, tmp_path) -> Path:
    """A finished small run of the test's own, ``tmp_path/outputs/r``; ``outputs/latest`` points at it."""
    shutil.copytree(finished_outputs, tmp_path / "outputs", symlinks=True)
    return tmp_path / "outputs" / "r"


@pytest.fixture
def signal_guard():
    """Catch SIGINT and SIGTERM for the test's duration; yields the list of signals it caught.

    A test that sends itself a signal for the code under test to handle fails on its own if
    that code does not handle it, instead of stopping the whole session.
    """
    caught: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: caught.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for sig, action in previous.items():
            signal.signal(sig, action)


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A new empty folder for TMPDIR, its path short enough for a forkserver's socket (pool.SOCKET_PATH)
    whatever pytest's own folders are (deeper under pytest-xdist): sweeps then fork their workers."""
    folder = Path(tempfile.mkdtemp(prefix="nnfw-", dir="/tmp" if Path("/tmp").is_dir() else None))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
