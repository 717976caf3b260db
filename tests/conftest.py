"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import numpy as np
import pytest


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


@pytest.fixture
def small_config(tmp_path):
    """A config that trains in a fraction of a second, writing runs under ``tmp_path/outputs``."""
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_CONFIG.replace("OUTPUT", str(tmp_path / "outputs")))
    return path
