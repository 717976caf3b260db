"""Every bad input ends the same way: exit code 2, one message naming the file and the field
(or row and column) at fault, no traceback, and nothing the user made overwritten.

The tables below are the contract, case by case: configs, ``--set`` overrides, run folders
(for ``eval``, ``plot`` and ``predict`` alike), CSV files for ``predict``, and options.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from click.testing import CliRunner

from nnfw_cli.cli import main

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


QUIET_CATEGORIES = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


def _invoke(runner: CliRunner, args: list[str]) -> Any:
    """``runner.invoke``, keeping the warnings a user would see on stderr (pytest would swallow them)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = runner.invoke(main, args)
    result.user_warnings = [f"{w.category.__name__}: {w.message}" for w in caught
                            if not issubclass(w.category, QUIET_CATEGORIES)]
    return result


def _assert_bad_input(result: Any, *needles: str) -> None:
    """Exit 2, a single message on stderr holding every needle, and no traceback or warning."""
    shown = f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert result.exception is None or isinstance(result.exception, SystemExit), shown + repr(result.exception)
    assert result.exit_code == 2, shown
    assert "Traceback" not in result.output and "Traceback" not in result.stderr, shown
    assert result.stderr.startswith(("Error: ", "Usage: ")), shown
    assert result.stderr.count("Error: ") == 1, shown  # one message (it may list several problems)
    assert result.user_warnings == [], shown
    for needle in needles:
        assert needle in result.stderr, f"{needle!r} not in the message\n{shown}"


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every file (with its bytes) and folder under ``folder``: a failed command changes none of them."""
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


def _table(cases: list[tuple]) -> list[Any]:
    """``(id, *values)`` rows as pytest params; a last row item of marks is applied to the case."""
    params = []
    for case_id, *values in cases:
        marks = values.pop() if isinstance(values[-1], pytest.MarkDecorator) else ()
        params.append(pytest.param(*values, id=case_id, marks=marks))
    return params


# -- configs ----------------------------------------------------------------------------------

LAYERS_OK = ("model:\n  layers:\n    - {type: linear, units: 4}\n    - relu\n"
             "    - {type: linear, units: 1}\n    - sigmoid\n")


def _unreadable(path: Path) -> None:
    path.write_text("seed: 0\n")
    path.chmod(0)


# (id, content of bad.yaml (text, bytes, or a function that makes it), words the message must hold)
CONFIG_CASES = [
    ("yaml-unclosed-list", "data: [1, 2\n", ["bad.yaml:2:1", "not valid YAML"]),
    ("yaml-bad-indent", "seed: 0\n  data: 1\n", ["bad.yaml:2:7", "not valid YAML"]),
    ("yaml-tab", "\t- x\n", ["bad.yaml:1:1", "not valid YAML"]),
    ("yaml-two-documents", "seed: 0\n---\nseed: 1\n", ["bad.yaml:2:1", "not valid YAML"]),
    ("yaml-python-tag", "seed: !!python/object:os.system ls\n", ["bad.yaml:1:7", "not valid YAML"]),
    ("empty-file", "", ["bad.yaml", "the file is empty"]),
    ("comments-only", "# nothing here\n\n", ["bad.yaml", "the file is empty"]),
    ("a-list", "- 1\n- 2\n", ["bad.yaml", "must be a YAML mapping", "not a list"]),
    ("a-scalar", "42\n", ["bad.yaml", "must be a YAML mapping", "not the single value 42"]),
    ("missing-file", None, ["nope.yaml", "no such file"]),
    ("a-directory", "DIR", ["is a directory, not a config file"]),
    ("unreadable", _unreadable, ["bad.yaml", "cannot be read", "Permission denied"],
     pytest.mark.skipif(IS_ROOT, reason="root reads files whatever their mode")),
    ("not-utf8", b"seed: 0\ndata:\n  dataset: \xff\xfe\n", ["bad.yaml", "cannot be read", "utf-8"]),
    ("unknown-top-key", "trainig:\n  epochs: 3\n",
     ["bad.yaml:1:1", "trainig: unknown key", "did you mean 'training'?", "valid keys: seed, data, model"]),
    ("unknown-nested-key", "training:\n  learning_rte: 0.1\n",
     ["bad.yaml:2:3", "training.learning_rte: unknown key", "did you mean 'learning_rate'?"]),
    ("unknown-layer", "model:\n  layers:\n    - {type: linaer, units: 1}\n    - sigmoid\n",
     ["bad.yaml:3:7", "model.layers[0]: unknown layer 'linaer'", "did you mean 'linear'?",
      "choose from: dropout, leaky_relu, linear, relu, sigmoid, softmax, tanh"]),
    ("unknown-bare-layer", LAYERS_OK.replace("- relu", "- rleu"),
     ["bad.yaml:4:7", "model.layers[1]: unknown layer 'rleu'", "did you mean 'relu'?"]),
    ("unknown-loss", "loss: binary_crossentropy\n",
     ["bad.yaml:1:7", "loss: unknown loss", "did you mean 'binary_cross_entropy'?",
      "choose from: binary_cross_entropy, cross_entropy, mean_squared_error"]),
    ("unknown-optimizer", "training:\n  optimizer: adma\n",
     ["bad.yaml:2:14", "training.optimizer: unknown optimizer 'adma'", "did you mean 'adam'?",
      "choose from: adam, momentum, sgd"]),
    ("unknown-initialiser", LAYERS_OK.replace("units: 4}", "units: 4, init: hee}"),
     ["bad.yaml:3:38", "model.layers[0].init: unknown initialiser 'hee'", "did you mean 'he'?",
      "choose from: glorot, he, kaiming, uniform, xavier, zeros"]),
    ("unknown-dataset", "data:\n  dataset: moon\n",
     ["bad.yaml:2:12", "data.dataset: unknown dataset 'moon'", "did you mean 'moons'?",
      "choose from: blobs, breast_cancer, circles, csv, digits, gaussian, iris, moons, spiral, wine, xor"]),
    ("learning-rate-zero", "training:\n  learning_rate: 0\n",
     ["bad.yaml:2:18", "training.learning_rate: must be > 0 (got 0)"]),
    ("learning-rate-negative", "training:\n  learning_rate: -0.1\n",
     ["training.learning_rate: must be > 0 (got -0.1)"]),
    ("learning-rate-nan", "training:\n  learning_rate: .nan\n",
     ["bad.yaml:2:18", "training.learning_rate: must be a finite number (got nan)"]),
    ("learning-rate-inf", "training:\n  learning_rate: .inf\n",
     ["training.learning_rate: must be a finite number (got inf)"]),
    ("learning-rate-text", "training:\n  learning_rate: fast\n",
     ["training.learning_rate: must be a number (got 'fast')"]),
    ("learning-rate-bool", "training:\n  learning_rate: true\n",
     ["training.learning_rate: must be a number (got true)"]),
    ("learning-rate-huge-int", "training:\n  learning_rate: 1" + "0" * 400 + "\n",
     ["training.learning_rate: must be a finite number"]),
    ("epochs-zero", "training:\n  epochs: 0\n", ["bad.yaml:2:11", "training.epochs: must be >= 1 (got 0)"]),
    ("epochs-fraction", "training:\n  epochs: 2.5\n", ["training.epochs: must be a whole number (got 2.5)"]),
    ("units-zero", LAYERS_OK.replace("units: 4", "units: 0"),
     ["bad.yaml:3:29", "model.layers[0].units: must be >= 1 (got 0)"]),
    ("units-text", LAYERS_OK.replace("units: 4", "units: many"),
     ["model.layers[0].units: must be a whole number (got 'many')"]),
    ("batch-size-zero", "training:\n  batch_size: 0\n", ["bad.yaml:2:15", "training.batch_size: must be >= 1 (got 0)"]),
    ("batch-size-text", "training:\n  batch_size: big\n", ["training.batch_size: must be a whole number (got 'big')"]),
    ("test-fraction-zero", "data:\n  test_fraction: 0\n", ["bad.yaml:2:18", "data.test_fraction: must be > 0 (got 0)"]),
    ("test-fraction-one", "data:\n  test_fraction: 1\n", ["data.test_fraction: must be < 1 (got 1)"]),
    ("test-fraction-1.5", "data:\n  test_fraction: 1.5\n", ["data.test_fraction: must be < 1 (got 1.5)"]),
    ("noise-negative", "data:\n  noise: -1\n", ["bad.yaml:2:10", "data.noise: must be >= 0 (got -1)"]),
    ("n-samples-below-minimum", "data:\n  n_samples: 2\n", ["data.n_samples: must be >= 4 (got 2)"]),
    ("n-samples-too-small-for-split", "data:\n  n_samples: 4\n  test_fraction: 0.1\n",
     ["bad.yaml:2:14", "data.n_samples: too small to hold out test_fraction=0.1", "(got 4)"]),
    ("seed-negative", "seed: -1\n", ["bad.yaml:1:7", "seed: must be >= 0 (got -1)"]),
    ("seed-too-large", "seed: 99999999999999999999\n", ["seed: must be <= 4294967295"]),
    ("factor-not-for-moons", "data:\n  dataset: moons\n  factor: 0.5\n",
     ["bad.yaml:3:11", "data.factor: only the circles dataset takes a factor"]),
    ("beta1-one", "training:\n  optimizer: {type: adam, beta1: 1}\n",
     ["training.optimizer.beta1: must be < 1 (got 1)"]),
    ("optimizer-without-type", "training:\n  optimizer: {beta1: 0.5}\n",
     ["training.optimizer: an optimizer needs a 'type'"]),
    ("optimizer-unknown-setting", "training:\n  optimizer: {type: sgd, beta1: 0.5}\n",
     ["training.optimizer.beta1: unknown key", "valid keys: type, momentum, weight_decay"]),
    ("layer-without-type", "model:\n  layers:\n    - {units: 3}\n",
     ["bad.yaml:3:7", "model.layers[0]: a layer needs a 'type'"]),
    ("activation-with-units", LAYERS_OK.replace("- relu", "- {type: relu, units: 3}"),
     ["model.layers[1].units: unknown key (valid keys: type)"]),
    ("no-layers", "model:\n  layers: []\n", ["bad.yaml:2:11", "model.layers: must not be empty"]),
    ("no-linear-layer", "model:\n  layers: [relu, sigmoid]\n", ["model.layers: needs at least one linear layer"]),
    ("last-layer-not-sigmoid", "model:\n  layers:\n    - {type: linear, units: 1}\n",
     ["bad.yaml:3:7", "model.layers[0]: binary_cross_entropy needs a sigmoid as the last layer (got linear)"]),
    ("last-linear-two-units", "model:\n  layers:\n    - {type: linear, units: 2}\n    - sigmoid\n",
     ["bad.yaml:3:29", "model.layers[0].units: the last linear layer must have 1 unit for binary_cross_entropy"]),
    ("layers-as-mapping", "model:\n  layers: {linear: 3}\n",
     ["bad.yaml:2:11", "model.layers: must be a list (got a mapping)"]),
    ("layer-as-number", "model:\n  layers: [3]\n",
     ["bad.yaml:2:12", "model.layers[0]: must be a mapping of keys to values (got 3)"]),
    ("training-as-list", "training: [1, 2]\n",
     ["bad.yaml:1:11", "training: must be a mapping of keys to values (got a list)"]),
    ("nested-lists", "data: [[1]]\nmodel:\n  layers: [[relu]]\n",
     ["bad.yaml:1:7", "data: must be a mapping of keys to values (got a list)", "bad.yaml:3:12", "model.layers[0]"]),
    ("null-sections", "data:\ntraining:\n",
     ["bad.yaml:1:6", "data: must be a mapping of keys to values (got null)", "bad.yaml:2:10", "training:"]),
    ("null-layer", "model:\n  layers: [null]\n", ["model.layers[0]: must be a mapping of keys to values (got null)"]),
    ("number-as-key", "1: 2\n", ["bad.yaml:1:1", "config: keys must be text (got 1)"]),
    ("output-dir-list", "output:\n  dir: [a]\n", ["bad.yaml:2:8", "output.dir: must be a text value (got a list)"]),
    ("every-problem-at-once", "training:\n  epochs: 0\n  learning_rate: -1\ndata:\n  noise: -2\n",
     ["bad.yaml:2:11: training.epochs", "bad.yaml:3:18: training.learning_rate", "bad.yaml:5:10: data.noise"]),
]


def _config_file(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "bad.yaml"
    if content is None:
        return tmp_path / "nope.yaml"
    if content == "DIR":
        path.mkdir()
    elif callable(content):
        content(path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


@pytest.mark.parametrize("command", ["check", "train"])
@pytest.mark.parametrize(("content", "needles"), _table(CONFIG_CASES))
def test_bad_config(runner, tmp_path, monkeypatch, command, content, needles):
    monkeypatch.chdir(tmp_path)  # a run would land in ./outputs: there must be none
    path = _config_file(tmp_path, content)
    result = _invoke(runner, [command, str(path)])
    _assert_bad_input(result, *needles)
    assert result.stdout == ""
    assert not (tmp_path / "outputs").exists()


# -- --set ------------------------------------------------------------------------------------

GOOD_CONFIG = """\
seed: 1
data: {dataset: circles, n_samples: 200}
model:
  layers: [{type: linear, units: 4}, relu, {type: linear, units: 1}, sigmoid]
training: {epochs: 2, batch_size: 64}
output: {dir: OUTPUT}
"""

SET_CASES = [
    ("index-out-of-range", "model.layers[9].units=3",
     ["--set model.layers[9].units=3", "model.layers[9] does not exist (the list has 4 entries)"]),
    ("value-not-yaml", "training.epochs=[1, 2", ["--set training.epochs=[1, 2", "the value is not valid YAML"]),
    ("value-python-tag", "training.epochs=!!python/object:os.system ls", ["the value is not valid YAML"]),
    ("no-equals", "training.epochs", ["--set training.epochs", "expected KEY=VALUE"]),
    ("no-key", "=3", ["--set =3", "expected KEY=VALUE"]),
    ("double-dot", "training..epochs=3", ["--set training..epochs", "not a key path"]),
    ("index-not-a-number", "model.layers[x]=3", ["--set model.layers[x]", "not a key path"]),
    ("negative-index", "model.layers[-1].units=3", ["not a key path"]),
    ("trailing-dot", "training.=3", ["not a key path"]),
    ("into-a-number", "training.epochs.foo=3", ["--set training.epochs.foo=3", "training.epochs is not a mapping"]),
    ("into-a-default-number", "seed.x=3", ["--set seed.x=3", "seed is not a mapping"]),
    ("into-a-name", "loss.x=3", ["--set loss.x=3", "loss is not a mapping"]),
    ("index-into-a-mapping", "model.layers[0][1]=3", ["--set model.layers[0][1]=3", "model.layers[0] is not a list"]),
    ("index-into-a-section", "training[0]=3", ["--set training[0]=3", "training is not a list"]),
    ("invalid-value", "training.epochs=-3",
     ["small.yaml (--set training.epochs): training.epochs: must be >= 1 (got -3)"]),
    ("invalid-type", "model.layers[0].units=abc",
     ["(--set model.layers[0].units): model.layers[0].units: must be a whole number (got 'abc')"]),
    ("misspelt-section", "trainig.epochs=3", ["(--set trainig): trainig: unknown key", "did you mean 'training'?"]),
    ("misspelt-key", "training.epoch=3",
     ["(--set training.epoch): training.epoch: unknown key", "did you mean 'epochs'?"]),
    ("section-to-number", "data=5", ["(--set data): data: must be a mapping of keys to values (got 5)"]),
    ("nul-in-output-dir", 'output.dir="a\\0b"',
     ["(--set output.dir): output.dir: a folder name cannot hold a NUL character"]),
]


@pytest.fixture
def good_config(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(GOOD_CONFIG.replace("OUTPUT", str(tmp_path / "outputs")))
    return path


@pytest.mark.parametrize("command", ["check", "train"])
@pytest.mark.parametrize(("item", "needles"), _table(SET_CASES))
def test_bad_set(runner, tmp_path, good_config, command, item, needles):
    before = good_config.read_bytes()
    result = _invoke(runner, [command, str(good_config), "--set", item])
    _assert_bad_input(result, *needles)
    assert good_config.read_bytes() == before
    assert not (tmp_path / "outputs").exists()


# -- run folders: eval, plot and predict --------------------------------------------------------


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    """One small finished run, trained once for the module; cases work on copies of it."""
    root = tmp_path_factory.mktemp("trained")
    config = root / "small.yaml"
    config.write_text(GOOD_CONFIG.replace("OUTPUT", str(root / "outputs")))
    result = CliRunner().invoke(main, ["train", str(config), "--quiet", "--name", "base"])
    assert result.exit_code == 0, result.stderr
    return root / "outputs" / "base"


@pytest.fixture
def run_copy(trained_run, tmp_path) -> Path:
    """A fresh copy of the trained run, and a valid points.csv beside it."""
    run_dir = tmp_path / "outputs" / "run"
    shutil.copytree(trained_run, run_dir)
    (tmp_path / "points.csv").write_text("x,y\n0.1,0.2\n-0.5,0.7\n")
    return run_dir


def _arrays(run_dir: Path) -> dict[str, np.ndarray]:
    with np.load(run_dir / "model.npz", allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def _resave(run_dir: Path, change: Callable[[dict], dict]) -> None:
    np.savez(run_dir / "model.npz", **change(_arrays(run_dir)))


def _truncate(run_dir: Path) -> None:
    data = (run_dir / "model.npz").read_bytes()
    (run_dir / "model.npz").write_bytes(data[: len(data) // 2])


def _without(key: str) -> Callable[[dict], dict]:
    return lambda arrays: {name: value for name, value in arrays.items() if name != key}


def _config_with_units(units: int) -> Callable[[Path], None]:
    def change(run_dir: Path) -> None:
        text = (run_dir / "config.yaml").read_text()
        assert "units: 4" in text
        (run_dir / "config.yaml").write_text(text.replace("units: 4", f"units: {units}", 1))

    return change


def _replace_with_folder(name: str) -> Callable[[Path], None]:
    def change(run_dir: Path) -> None:
        (run_dir / name).unlink()
        (run_dir / name).mkdir()

    return change


# (id, how to break the run folder, words the message must hold besides the file's path)
RUN_CASES = [
    ("model-truncated", _truncate, ["model.npz", "not a usable model file"]),
    ("model-text", lambda d: (d / "model.npz").write_text("not a model\n"), ["model.npz", "not an .npz archive"]),
    ("model-empty", lambda d: (d / "model.npz").write_bytes(b""), ["model.npz", "not an .npz archive"]),
    ("model-missing-array", lambda d: _resave(d, _without("0.bias")), ["model.npz", "missing ['0.bias']"]),
    ("model-extra-array", lambda d: _resave(d, lambda a: {**a, "7.weight": np.zeros(2)}),
     ["model.npz", "unexpected ['7.weight']"]),
    ("model-wrong-shape", lambda d: _resave(d, lambda a: {**a, "0.weight": np.zeros((3, 4))}),
     ["model.npz", "'0.weight' has shape (3, 4), the architecture needs (2, 4)"]),
    ("model-garbage-architecture", lambda d: _resave(d, lambda a: {**a, "architecture": np.array("{not json")}),
     ["model.npz", "the architecture cannot be read"]),
    ("model-architecture-not-a-list", lambda d: _resave(d, lambda a: {**a, "architecture": np.array("[1, 2]")}),
     ["model.npz", "the architecture cannot be read"]),
    ("model-no-architecture", lambda d: _resave(d, _without("architecture")), ["model.npz", "no 'architecture' array"]),
    ("model-pickled-object-array",
     lambda d: _resave(d, lambda a: {**a, "0.bias": np.array([{"run": "code"}, None, 1, 2], dtype=object)}),
     ["model.npz", "not a usable model file", "allow_pickle=False"]),
    ("model-integer-array", lambda d: _resave(d, lambda a: {**a, "0.bias": a["0.bias"].astype(np.int64)}),
     ["model.npz", "'0.bias' has dtype int64, expected floating point"]),
    ("model-nan-weights", lambda d: _resave(d, lambda a: {**a, "0.weight": np.full_like(a["0.weight"], np.nan)}),
     ["model.npz", "'0.weight' holds NaN or infinite values"]),
    ("model-does-not-match-config", _config_with_units(8),
     ["model.npz: its architecture does not match", "config.yaml"]),
    ("config-invalid", lambda d: (d / "config.yaml").write_text("training: {epochs: 0}\n"),
     ["config.yaml:1:20: training.epochs: must be >= 1 (got 0)"]),
    ("config-not-yaml", lambda d: (d / "config.yaml").write_text("model: [\n"), ["config.yaml:2:1", "not valid YAML"]),
    ("config-missing", lambda d: (d / "config.yaml").unlink(), ["config.yaml: missing", "not a complete run folder"]),
    ("config-a-folder", _replace_with_folder("config.yaml"), ["config.yaml: a folder, not a file"]),
    ("model-missing", lambda d: (d / "model.npz").unlink(), ["model.npz: missing", "not a complete run folder"]),
    ("model-a-folder", _replace_with_folder("model.npz"), ["model.npz: a folder, not a file"]),
    ("history-missing", lambda d: (d / "history.csv").unlink(), ["history.csv: missing", "not a complete run folder"]),
    ("run-does-not-exist", lambda d: shutil.rmtree(d), ["no such run folder"]),
    ("run-is-a-file", lambda d: (shutil.rmtree(d), d.write_text("x")), ["is a file"]),
]


def _command(command: str, run_dir: Path) -> list[str]:
    if command == "predict":
        return ["predict", str(run_dir), str(run_dir.parent.parent / "points.csv")]
    return [command, str(run_dir)]


@pytest.mark.slow
@pytest.mark.parametrize("command", ["eval", "plot", "predict"])
@pytest.mark.parametrize(("corrupt", "needles"), _table(RUN_CASES))
def test_broken_run_folder(runner, run_copy, command, corrupt, needles):
    corrupt(run_copy)
    before = _snapshot(run_copy) if run_copy.is_dir() else None
    result = _invoke(runner, _command(command, run_copy))
    _assert_bad_input(result, str(run_copy), *needles)
    assert result.stdout == ""
    if before is not None:
        assert _snapshot(run_copy) == before  # no eval.json, no picture, nothing changed


HISTORY_CASES = [
    ("empty", "", ["history.csv: cannot be read"]),
    ("not-csv", 'epoch,"train_loss\n1', ["history.csv: cannot be read"]),
    ("no-loss-column", "a,b\n1,2\n", ["history.csv: no epoch or train_loss column (found: a, b)"]),
    ("text-in-loss", "epoch,train_loss\n1,0.5\n2,abc\n",
     ["history.csv: row 2 (line 3), column 'train_loss': 'abc' is not a number"]),
    ("text-in-epoch", "epoch,train_loss\nfirst,0.5\n", ["history.csv: row 1 (line 2), column 'epoch'"]),
    ("not-utf8", b"epoch,train_loss\n\xff\xfe,1\n", ["history.csv: cannot be read"]),
]


@pytest.mark.parametrize(("content", "needles"), _table(HISTORY_CASES))
def test_broken_history_for_plot(runner, run_copy, content, needles):
    history = run_copy / "history.csv"
    history.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = _snapshot(run_copy)
    result = _invoke(runner, ["plot", str(run_copy), "--what", "loss"])
    _assert_bad_input(result, str(history), *needles)
    assert _snapshot(run_copy) == before


def _resave_npz(name: str, change: Callable[[dict], dict]) -> Callable[[Path], None]:
    def corrupt(run_dir: Path) -> None:
        with np.load(run_dir / name, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        np.savez(run_dir / name, **change(arrays))

    return corrupt


def _state(change: Callable[[dict], Any]) -> Callable[[dict], dict]:
    """A change to the JSON ``state`` array of a checkpoint."""
    def apply(arrays: dict) -> dict:
        state = json.loads(str(arrays["state"]))
        change(state)
        return {**arrays, "state": np.array(json.dumps(state))}

    return apply


SNAPSHOT_CASES = [
    ("text", lambda d: (d / "snapshots.npz").write_text("x"), ["snapshots.npz: cannot be read: not an .npz archive"]),
    ("missing-array", _resave_npz("snapshots.npz", _without("proba")),
     ["snapshots.npz: not a snapshots file: no proba array"]),
    ("wrong-shape", _resave_npz("snapshots.npz", lambda a: {**a, "proba": a["proba"][:, :3]}),
     ["snapshots.npz: its arrays do not fit together"]),
    ("gone", lambda d: (d / "snapshots.npz").unlink(), ["no snapshots.npz, as the file is gone; the boundary is "
                                                       "recorded as it forms for 2-D data of two classes"]),
]


@pytest.mark.parametrize(("corrupt", "needles"), _table(SNAPSHOT_CASES))
def test_broken_snapshots_for_plot_animate(runner, run_copy, corrupt, needles):
    corrupt(run_copy)
    before = _snapshot(run_copy)
    result = _invoke(runner, ["plot", str(run_copy), "--animate"])
    _assert_bad_input(result, str(run_copy), *needles)
    assert _snapshot(run_copy) == before


@pytest.mark.parametrize("settings, why", [
    (["data.dataset=blobs", "data.classes=3", "loss=cross_entropy", "model.layers[2].units=3", "model.layers[3]=softmax"],
     "its data has 3 classes"),
    (["training.snapshot_every=0"], "it was trained with training.snapshot_every: 0"),
])
def test_plot_animate_says_why_a_run_has_no_snapshots(runner, small_config, tmp_path, settings, why):
    args = ["train", str(small_config), "--name", "r", "--quiet", "--output-dir", str(tmp_path)]
    assert runner.invoke(main, args + [arg for s in settings for arg in ("--set", s)]).exit_code == 0
    result = _invoke(runner, ["plot", str(tmp_path / "r"), "--animate"])
    _assert_bad_input(result, f"no snapshots.npz, as {why}; the boundary is recorded as it forms for 2-D data of two "
                              "classes, with training.snapshot_every > 0 (the default)")


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory) -> Path:
    """A run stopped after its first epoch, with a checkpoint to resume from."""
    from nnfw_cli import experiment
    from nnfw_cli.config import load_config
    from nnfw_cli.errors import TrainingInterrupted

    root = tmp_path_factory.mktemp("interrupted")
    config = root / "small.yaml"
    config.write_text(GOOD_CONFIG.replace("OUTPUT", str(root / "outputs")))
    with pytest.raises(TrainingInterrupted):
        experiment.train(load_config(config), "small", "cut", None, experiment.StopRequest(signum=2))
    return root / "outputs" / "cut"


@pytest.fixture
def interrupted_copy(interrupted_run, tmp_path) -> Path:
    run_dir = tmp_path / "outputs" / "cut"
    shutil.copytree(interrupted_run, run_dir)
    return run_dir


RESUME_CASES = [
    ("checkpoint-text", lambda d: (d / "checkpoint.npz").write_text("x"),
     ["checkpoint.npz: cannot be read: not an .npz archive"]),
    ("checkpoint-truncated", lambda d: (d / "checkpoint.npz").write_bytes((d / "checkpoint.npz").read_bytes()[:200]),
     ["checkpoint.npz: cannot be read"]),
    ("checkpoint-pickled",
     _resave_npz("checkpoint.npz", lambda a: {**a, "model.0.bias": np.array([None], dtype=object)}),
     ["checkpoint.npz: cannot be read", "allow_pickle=False"]),
    ("no-state", _resave_npz("checkpoint.npz", _without("state")),
     ["checkpoint.npz: the checkpoint does not fit this run"]),
    ("state-not-json", _resave_npz("checkpoint.npz", lambda a: {**a, "state": np.array("{oops")}),
     ["checkpoint.npz: the checkpoint does not fit this run"]),
    ("history-not-a-list", _resave_npz("checkpoint.npz", _state(lambda s: s.update(history=5))),
     ["checkpoint.npz: the checkpoint does not fit this run: its history is not a list"]),
    ("history-longer-than-the-run",
     _resave_npz("checkpoint.npz",
                 _state(lambda s: s.update(history=[{"epoch": i, "train_loss": 1.0} for i in range(9)]))),
     ["checkpoint.npz: the checkpoint does not fit this run: its history is not a list of at most training.epochs"]),
    ("generator-state-garbage", _resave_npz("checkpoint.npz", _state(lambda s: s["generators"].update(shuffle=5))),
     ["checkpoint.npz: the checkpoint does not fit this run"]),
    ("weights-wrong-shape", _resave_npz("checkpoint.npz", lambda a: {**a, "model.0.weight": np.zeros((3, 3))}),
     ["checkpoint.npz: the checkpoint does not fit this run: array '0.weight' has shape (3, 3)"]),
    ("optimizer-state-wrong-shape",
     _resave_npz("checkpoint.npz",
                 lambda a: {k: np.zeros(3) if k.startswith("optimizer.m") else v for k, v in a.items()}),
     ["checkpoint.npz: the checkpoint does not fit this run: the optimizer's 'm_sum' does not fit"]),
    ("optimizer-state-missing",
     _resave_npz("checkpoint.npz", lambda a: {k: v for k, v in a.items() if not k.startswith("optimizer.")}),
     ["checkpoint.npz: the checkpoint does not fit this run"]),
    ("snapshots-broken", _resave_npz("snapshots.npz", _without("epoch")),
     ["snapshots.npz: not a snapshots file: no epoch array"]),
    ("config-missing", lambda d: (d / "config.yaml").unlink(), ["config.yaml: missing"]),
    ("config-invalid", lambda d: (d / "config.yaml").write_text("seed: -1\n"),
     ["config.yaml:1:7: seed: must be >= 0 (got -1)"]),
]


@pytest.mark.slow
@pytest.mark.parametrize(("corrupt", "needles"), _table(RESUME_CASES))
def test_resume_from_a_broken_checkpoint(runner, interrupted_copy, corrupt, needles):
    corrupt(interrupted_copy)
    before = _snapshot(interrupted_copy)
    result = _invoke(runner, ["train", "--resume", str(interrupted_copy)])
    _assert_bad_input(result, str(interrupted_copy), *needles)
    assert _snapshot(interrupted_copy) == before  # the checkpoint and all else kept as they were


@pytest.mark.slow
def test_an_untouched_checkpoint_resumes(runner, interrupted_copy):  # the failures above come from the damage
    result = _invoke(runner, ["train", "--resume", str(interrupted_copy), "--quiet"])
    assert result.exit_code == 0, result.stderr
    assert json.loads((interrupted_copy / "metrics.json").read_text())["status"] == "completed"


# -- CSV files for predict --------------------------------------------------------------------

CSV_CASES = [
    ("empty", "", ["the file is empty"]),
    ("blank-lines", "\n\n\n", ["the file is empty"]),
    ("header-only", "x,y\n", ["the header has no rows below it"]),
    ("three-columns", "a,b,c\n1,2,3\n", ["expected 2 feature columns (x, y)", "found 3: a, b, c"]),
    ("one-column", "x\n1\n", ["expected 2 feature columns (x, y)", "found 1: x"]),
    ("other-delimiter", "x;y\n1;2\n", ["expected 2 feature columns", "found 1: x;y"]),
    ("text-cell", "x,y\n1,2\n3,abc\n", ["row 2 (line 3), column 'y': 'abc' is not a finite number"]),
    ("empty-cell", "x,y\n1,\n", ["row 1 (line 2), column 'y': '' is not a finite number"]),
    ("short-row", "x,y\n1,2\n3\n", ["row 2 (line 3), column 'y'"]),
    ("long-row", "x,y\n1,2,3\n", ["line 2 has more cells than the header has columns"]),
    ("long-later-row", "x,y\n1,2\n3,4,5\n", ["line 3"]),
    ("inf-cell", "x,y\n1,inf\n", ["row 1 (line 2), column 'y': 'inf' is not a finite number"]),
    ("nan-cell", "x,y\nnan,1\n", ["row 1 (line 2), column 'x': 'nan' is not a finite number"]),
    ("overflowing-cell", "x,y\n1e400,1\n", ["row 1 (line 2), column 'x': '1e400' is not a finite number"]),
    ("unclosed-quote", 'x,y\n"1,2\n', ["not a readable CSV file"]),
    ("not-utf8", b"x,y\n\xff\xfe,1\n", ["not a readable CSV file"]),
    ("a-directory", "DIR", ["is a directory, not a CSV file"]),
    ("missing", None, ["no such file"]),
]


@pytest.mark.parametrize(("content", "needles"), _table(CSV_CASES))
def test_bad_csv(runner, run_copy, tmp_path, content, needles):
    path = tmp_path / "input.csv"
    if content == "DIR":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    result = _invoke(runner, ["predict", str(run_copy), str(path)])
    _assert_bad_input(result, str(path), *needles)
    assert result.stdout == ""


def test_predict_never_overwrites_without_overwrite(runner, run_copy, tmp_path):
    target = tmp_path / "scored.csv"
    target.write_text("the user's own file\n")
    result = _invoke(runner, ["predict", str(run_copy), str(tmp_path / "points.csv"), "-o", str(target)])
    _assert_bad_input(result, str(target), "exists; choose another name or pass --overwrite")
    assert target.read_text() == "the user's own file\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".scored")] == []  # no temporary left
    result = _invoke(runner, ["predict", str(run_copy), str(tmp_path / "points.csv"), "-o", str(target), "--overwrite"])
    assert result.exit_code == 0, result.stderr
    assert target.read_text().startswith("x,y,probability,predicted\n")


@pytest.mark.parametrize(("output", "needles"), [
    pytest.param("missing/scored.csv", ["missing: no such folder"], id="into-a-missing-folder"),
    pytest.param("points.csv/scored.csv", ["points.csv: is a file, not a folder"], id="under-a-file"),
    pytest.param(".", ["is a directory"], id="a-directory"),
])
def test_predict_output_that_cannot_be_written(runner, run_copy, tmp_path, output, needles):
    points = tmp_path / "points.csv"
    before = points.read_bytes()
    result = _invoke(runner, ["predict", str(run_copy), str(points), "-o", str(tmp_path / output)])
    _assert_bad_input(result, *needles)
    assert points.read_bytes() == before


# -- options ----------------------------------------------------------------------------------


def test_train_name_that_exists_leaves_the_run_untouched(runner, run_copy, tmp_path, good_config):
    before = _snapshot(run_copy)
    result = _invoke(runner, ["train", str(good_config), "--name", "run"])
    _assert_bad_input(result, str(run_copy), "a run of that name exists; choose another --name")
    assert _snapshot(run_copy) == before


def test_resume_a_completed_run(runner, run_copy):
    before = _snapshot(run_copy)
    result = _invoke(runner, ["train", "--resume", str(run_copy)])
    _assert_bad_input(result, str(run_copy), "no checkpoint to resume from (the run's status is completed)")
    assert _snapshot(run_copy) == before


@pytest.mark.parametrize(("args", "needles"), [
    pytest.param(["CONFIG", "--resume", "RUN"], ["give a CONFIG to train, or --resume RUN", "not both"],
                 id="resume-and-config"),
    pytest.param([], ["give a CONFIG to train, or --resume RUN"], id="neither-config-nor-resume"),
    pytest.param(["--resume", "RUN", "--set", "training.epochs=3"], ["--resume continues a run as it was configured"],
                 id="resume-with-set"),
    pytest.param(["--resume", "MISSING"], ["no such run folder"], id="resume-missing-run"),
    pytest.param(["CONFIG", "--name", "a/b"], ["'a/b' is not a plain folder name"], id="name-with-slash"),
    pytest.param(["CONFIG", "--name", " "], ["is not a plain folder name"], id="blank-name"),
    pytest.param(["CONFIG", "--output-dir", "FILE/sub"], ["points.csv/sub: the output directory cannot be created"],
                 id="output-dir-under-a-file"),
    pytest.param(["CONFIG", "--output-dir", "FILE"], ["points.csv", "is a file"], id="output-dir-is-a-file"),
    pytest.param(["CONFIG", "--seed", "-1"], ["--seed"], id="negative-seed"),
    pytest.param(["CONFIG", "--max-seconds", "nan"], ["'--max-seconds': must be a finite number"],
                 id="max-seconds-nan"),  # nan compares as within any range: it was taken as no limit
    pytest.param(["--resume", "RUN", "--max-seconds", "nan"], ["'--max-seconds': must be a finite number"],
                 id="resume-max-seconds-nan"),
])
def test_bad_train_options(runner, run_copy, tmp_path, good_config, args, needles):
    before = _snapshot(tmp_path)
    names = {"CONFIG": str(good_config), "RUN": str(run_copy), "MISSING": str(tmp_path / "nothing"),
             "FILE": str(tmp_path / "points.csv")}
    argv = ["train"] + [names.get(arg, arg.replace("FILE", names["FILE"])) for arg in args]
    result = _invoke(runner, argv)
    _assert_bad_input(result, *needles)
    assert _snapshot(tmp_path) == before  # nothing created, nothing changed


@pytest.mark.parametrize(("args", "needles"), [
    pytest.param(["eval", "--output-dir", "EMPTY"], ["no runs yet"], id="eval-no-runs-yet"),
    pytest.param(["plot", "--output-dir", "EMPTY"], ["no runs yet"], id="plot-no-runs-yet"),
    pytest.param(["eval", "RUN", "--noise", "nan"], ["'--noise': must be a finite number"], id="eval-noise-nan"),
    pytest.param(["eval", "RUN", "--noise", "-1"], ["--noise"], id="eval-noise-negative"),
    pytest.param(["eval", "RUN", "--noise", "1e308"], ["the model's output is not a finite number", "noise 1e+308"],
                 id="eval-noise-overflows"),
    pytest.param(["eval", "RUN", "--n-samples", "1"], ["--n-samples"], id="eval-one-sample"),
    pytest.param(["plot", "RUN", "--dpi", "5"], ["--dpi"], id="plot-dpi-too-small"),
    pytest.param(["predict", "RUN"], ["INPUT.csv"], id="predict-without-csv"),
])
def test_bad_options_of_saved_run_commands(runner, run_copy, tmp_path, args, needles):
    (tmp_path / "empty").mkdir()
    before = _snapshot(run_copy)
    names = {"RUN": str(run_copy), "EMPTY": str(tmp_path / "empty")}
    result = _invoke(runner, [names.get(arg, arg) for arg in args])
    _assert_bad_input(result, *needles)
    assert _snapshot(run_copy) == before


# -- divergence: exit 1, the run folder kept --------------------------------------------------

DIVERGING = """\
seed: 0
data: {dataset: circles, n_samples: 200}
model:
  layers: [{type: linear, units: 8, init: uniform}, relu, {type: linear, units: 1, init: uniform}]
loss: mean_squared_error
training: {optimizer: sgd, learning_rate: 1.0e+6, epochs: 60, batch_size: null}
output: {dir: OUTPUT}
"""


@pytest.fixture
def diverged_run(runner, tmp_path):
    """A run whose loss overflows to inf: squared error, plain SGD, a learning rate of a million."""
    config = tmp_path / "diverge.yaml"
    config.write_text(DIVERGING.replace("OUTPUT", str(tmp_path / "outputs")))
    result = _invoke(runner, ["train", str(config), "--name", "d", "--quiet"])
    return result, tmp_path / "outputs" / "d"


def test_a_run_diverging_in_mini_batches_says_so_once_without_numpy_warnings(runner, tmp_path):
    """Overflow in the matmuls of the batches before the loss is checked: numpy's warnings, with
    lines of nnfw's code, used to come before the one message."""
    config = tmp_path / "diverge.yaml"
    config.write_text(f"seed: 1\ndata: {{dataset: circles, n_samples: 200}}\n"
                      "model: {layers: [{type: linear, units: 8}, relu, {type: linear, units: 1}]}\n"
                      "loss: mean_squared_error\n"
                      "training: {optimizer: sgd, learning_rate: 1.0e+6, epochs: 5, batch_size: 128}\n"
                      f"output: {{dir: {tmp_path / 'outputs'}}}\n")
    result = _invoke(runner, ["train", str(config), "--name", "d", "--quiet"])
    assert result.exit_code == 1 and result.stderr.startswith("Error: training diverged at epoch "), result.stderr
    assert result.user_warnings == [] and result.stderr.count("\n") == 1, result.user_warnings


@pytest.mark.slow
def test_divergence_exits_1_and_keeps_the_run(diverged_run):
    result, run_dir = diverged_run
    shown = f"exit {result.exit_code}\nstderr: {result.stderr}"
    assert result.exit_code == 1, shown
    assert result.exception is None or isinstance(result.exception, SystemExit), shown
    assert "Traceback" not in result.output and result.user_warnings == [], shown + str(result.user_warnings)
    assert result.stderr.startswith("Error: training diverged at epoch ") and result.stderr.count("Error: ") == 1, shown
    assert "Try a smaller training.learning_rate (now 1e+06)" in result.stderr, shown
    assert str(run_dir) in result.stderr and result.stdout == ""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "diverged"
    epoch = metrics["diverged_at_epoch"]
    assert 1 < epoch < 60 and metrics["epochs"] == epoch
    assert f"at epoch {epoch}:" in result.stderr
    import pandas as pd

    history = pd.read_csv(run_dir / "history.csv")
    assert list(history["epoch"]) == list(range(1, epoch + 1))
    assert np.isfinite(history["train_loss"].iloc[:-1]).all() and not np.isfinite(history["train_loss"].iloc[-1])
    assert (run_dir / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (run_dir / "config.yaml").exists() and (run_dir / "model.npz").exists()
    assert not (run_dir / "checkpoint.npz").exists()


@pytest.mark.slow
@pytest.mark.parametrize("command", ["eval", "predict"])
def test_a_diverged_model_is_not_used(runner, diverged_run, tmp_path, command):
    _, run_dir = diverged_run
    (tmp_path / "points.csv").write_text("x,y\n0.1,0.2\n")
    before = _snapshot(run_dir)
    args = [command, str(run_dir)] + ([str(tmp_path / "points.csv")] if command == "predict" else [])
    result = _invoke(runner, args)
    _assert_bad_input(result, str(run_dir), "training diverged", "smaller training.learning_rate")
    assert _snapshot(run_dir) == before


@pytest.mark.slow
def test_a_diverged_run_can_still_draw_its_loss_curve(runner, diverged_run):
    _, run_dir = diverged_run
    (run_dir / "loss_curve.png").unlink()
    result = _invoke(runner, ["plot", str(run_dir), "--what", "loss"])
    assert result.exit_code == 0, result.stderr
    assert (run_dir / "loss_curve.png").exists()


@pytest.mark.slow
def test_eval_of_a_squared_error_run_with_a_linear_output(runner, tmp_path):
    """A valid config (mean_squared_error needs no sigmoid) whose outputs leave [0, 1]: eval must not crash."""
    config = tmp_path / "mse.yaml"
    config.write_text(GOOD_CONFIG.replace("OUTPUT", str(tmp_path / "outputs")).replace(", sigmoid]", "]")
                      + "loss: mean_squared_error\n")
    trained = _invoke(runner, ["train", str(config), "--name", "m", "--quiet"])
    assert trained.exit_code == 0, trained.stderr
    result = _invoke(runner, ["eval", str(tmp_path / "outputs" / "m")])
    assert result.exit_code == 0, result.stderr
    assert "log loss" in result.stdout


@pytest.mark.parametrize("command", ["eval", "plot"])
def test_a_folder_of_runs_named_as_a_run_says_how_to_name_one(runner, finished_outputs, tmp_path, command):
    result = _invoke(runner, [command, str(finished_outputs)])
    _assert_bad_input(result, f"{finished_outputs}: a folder of runs, not a run; name one of them",
                      f"`nnfw runs {finished_outputs}` lists them")
    sweep = tmp_path / "sweep-20260101-000000"
    (sweep / "runs").mkdir(parents=True)
    (sweep / "points.json").write_text("{}")
    result = _invoke(runner, [command, str(sweep)])
    _assert_bad_input(result, f"{sweep}: a sweep's folder, not a run; name one of its runs, in {sweep / 'runs'}")
    result = _invoke(runner, [command, str(sweep / "runs")])  # nothing in it: a folder like any other
    _assert_bad_input(result, f"{sweep / 'runs'} is not a complete run folder")
    assert "folder of runs" not in result.stderr
