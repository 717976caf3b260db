"""Property tests: however a valid config is mangled, nnfw answers with a config or a ConfigError.

The configs under configs/ are parsed, then mutated (keys deleted, renamed, added; values replaced by
odd ones: negative, zero, huge, NaN, inf, text, booleans, nulls, nested lists and mappings) and fed
to ``validate`` and ``load_config`` directly (fast, many examples), then, fewer, through the
command line: ``check`` must exit 0 or 2, and ``train`` (kept small) 0, 1 or 2, never with a
traceback.
"""

from __future__ import annotations

import copy
import itertools
import math
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from nnfw_cli.cli import main
from nnfw_cli.config import _SECTIONS, Config, dump_yaml, load_config, validate
from nnfw_cli.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
BASES = {path.stem: yaml.safe_load(path.read_text()) for path in sorted(CONFIG_DIR.glob("*.yaml"))}
KEYS = sorted({name for section in _SECTIONS.values() for name in section.model_fields})
NAMES = ["adam", "sgd", "momentum", "linear", "relu", "sigmoid", "softmax", "tanh", "dropout", "leaky_relu", "he",
         "xavier", "uniform", "zeros", "circles", "moons", "xor", "spiral", "gaussian", "binary_cross_entropy",
         "mean_squared_error", "cross_entropy", "float32", "float64", "outputs"]
SETTINGS = dict(deadline=None, database=None,  # no .hypothesis/ folder left in the project
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# -- strategies -------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 2, 3, 4, 2**31, 2**32 - 1, 2**32, 10**7 + 1, 10**400, -(10**400)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 0.5, 1.0, 1.5, -0.1, 1e-320, 1e308, 1e6, 1e7, math.nan, math.inf, -math.inf]),
    st.text(max_size=10),
    st.sampled_from(NAMES + KEYS + ["", " ", "1e3", "nan", ".inf", "null", "true", "[1]", "{a: 1}"]),
)
odd_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.one_of(st.sampled_from(KEYS + ["type"]), st.text(max_size=6)), inner,
                                            max_size=3)),
    max_leaves=6,
)
new_keys = st.one_of(
    st.sampled_from(KEYS + ["type"]),
    st.text(max_size=8),
    st.sampled_from(KEYS).map(lambda key: key[:-1]),  # a misspelling: the last letter lost
    st.sampled_from(KEYS).map(lambda key: key.upper()),
    st.sampled_from([1, 0, -1, True, None, 1.5]),  # keys that are not text
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """The path to every node of a plain-data tree, the root first."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, prefix + (index,))
    return found


def _at(node: Any, path: tuple) -> Any:
    for part in path:
        node = node[part]
    return node


@st.composite
def mutated_configs(draw: Any, max_mutations: int = 4) -> dict:
    """One of the shipped configs, with up to ``max_mutations`` random changes."""
    raw = copy.deepcopy(BASES[draw(st.sampled_from(sorted(BASES)))])
    for _ in range(draw(st.integers(min_value=0, max_value=max_mutations))):
        path = draw(st.sampled_from(_paths(raw)))
        node = _at(raw, path)
        action = draw(st.sampled_from(["replace", "replace", "delete", "rename", "insert", "wrap", "empty"]))
        if not path:  # the root stays a mapping here (not-a-mapping files have their own tests)
            action = "insert" if action != "empty" else "empty"
        parent, last = (_at(raw, path[:-1]), path[-1]) if path else (None, None)
        if action == "replace":
            parent[last] = draw(odd_values)
        elif action == "delete":
            del parent[last]
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(new_keys)] = parent.pop(last)
        elif action == "insert" and isinstance(node, dict):
            node[draw(new_keys)] = draw(odd_values)
        elif action == "insert" and isinstance(node, list):
            node.insert(draw(st.integers(min_value=0, max_value=len(node))), draw(odd_values))
        elif action == "wrap" and path:
            parent[last] = draw(st.sampled_from([[node], {"type": node}, {draw(new_keys): node}]))
        elif action == "empty" and isinstance(node, (dict, list)):
            node.clear()
    return raw


def _overrides() -> Any:
    """``--set`` items: well-formed paths into the config with odd values, or any text at all."""
    path_text = st.lists(st.one_of(st.sampled_from(KEYS + ["type"]), st.integers(0, 7).map(lambda i: f"[{i}]")),
                         min_size=1, max_size=4).map(lambda parts: ".".join(parts).replace(".[", "["))
    value_text = odd_values.map(
        lambda value: yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("..."))
    item = st.one_of(st.builds(lambda p, v: f"{p}={v.strip()}", path_text, value_text), st.text(max_size=20))
    return st.one_of(st.just([]), st.lists(item, min_size=1, max_size=2))


# -- validate and load_config directly --------------------------------------------------------


def _check_outcome(make: Any, source: str) -> Config | None:
    """Call ``make()``: it returns a Config or raises ConfigError whose every line names ``source``."""
    try:
        config = make()
    except ConfigError as exc:
        assert exc.problems and all(line.startswith(("--set ", source)) for line in exc.problems), exc.problems
        assert "Traceback" not in str(exc)
        event(f"{source == '<config>' and 'validate' or 'load_config'}: ConfigError")
        return None
    assert isinstance(config, Config)
    again = validate(yaml.safe_load(dump_yaml(config)))  # what a run saves reads back as the same config
    assert again == config
    event(f"{source == '<config>' and 'validate' or 'load_config'}: valid")
    return config


@pytest.mark.slow  # 500 examples
@settings(max_examples=500, **SETTINGS)
@given(raw=mutated_configs(), overrides=_overrides())
def test_mutated_configs_validate_or_raise_config_error(tmp_path, raw, overrides):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning would reach the user's terminal: none allowed
        _check_outcome(lambda: validate(copy.deepcopy(raw)), "<config>")
        path = tmp_path / "mutated.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        _check_outcome(lambda: load_config(path, overrides), str(path))


# -- through the command line -----------------------------------------------------------------


def _no_traceback(result: Any) -> None:
    shown = f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert result.exception is None or isinstance(result.exception, SystemExit), shown + repr(result.exception)
    assert "Traceback" not in result.output and "Traceback" not in result.stderr, shown


@pytest.mark.slow
@settings(max_examples=60, **SETTINGS)
@given(raw=mutated_configs())
def test_check_exits_0_or_2(runner, tmp_path, raw):
    path = tmp_path / "mutated.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    result = runner.invoke(main, ["check", str(path)])
    _no_traceback(result)
    assert result.exit_code in (0, 2), result.stderr
    event(f"check: exit {result.exit_code}")
    if result.exit_code == 0:
        validate(yaml.safe_load(result.stdout))  # the resolved config it prints is itself valid
    else:
        assert result.stderr.startswith("Error: ") and str(path) in result.stderr, result.stderr


_example = itertools.count()


def _at_most(value: Any, limit: int) -> Any:
    """``value`` capped at ``limit`` when it is a whole number; any other value is left to fail validation."""
    return min(value, limit) if isinstance(value, int) and not isinstance(value, bool) else value


def _small(raw: dict, output_dir: Path) -> dict:
    """Keep a run short: at most 400 samples, 3 epochs, 64 units; runs land in ``output_dir``."""
    for section in ("data", "training"):  # a section the mutations removed would bring long defaults back
        raw.setdefault(section, {})
    data, training, model = (raw.get(key) for key in ("data", "training", "model"))
    if isinstance(data, dict):
        data["n_samples"] = _at_most(data.get("n_samples", 400), 400)
    if isinstance(training, dict):
        training["epochs"] = _at_most(training.get("epochs", 3), 3)
    if isinstance(model, dict) and isinstance(model.get("layers"), list):
        for layer in model["layers"]:
            units = layer.get("units") if isinstance(layer, dict) else None
            if units is not None:
                layer["units"] = _at_most(units, 64)
    if isinstance(raw.get("output", {}), dict):
        raw["output"] = {**raw.get("output", {}), "dir": str(output_dir)}
    return raw


@pytest.mark.slow  # 25 trainings
@settings(max_examples=25, **SETTINGS)
@given(raw=mutated_configs(max_mutations=2))
def test_train_exits_0_1_or_2(runner, tmp_path, monkeypatch, raw):
    work = tmp_path / f"example-{next(_example)}"
    work.mkdir()
    monkeypatch.chdir(work)  # a config that lost its output.dir writes to ./outputs, here
    raw = _small(raw, work / "outputs")
    path = work / "mutated.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    result = runner.invoke(main, ["train", str(path), "--quiet"])
    _no_traceback(result)
    assert result.exit_code in (0, 1, 2), result.stderr
    event(f"train: exit {result.exit_code}")
    if result.exit_code == 0:
        assert result.stdout.startswith("run folder: ")
    elif result.exit_code == 1:
        assert result.stderr.startswith("Error: training diverged"), result.stderr
    else:
        assert result.stderr.startswith("Error: ") and str(path) in result.stderr, result.stderr
        assert not (work / "outputs").exists()  # a bad config creates nothing
