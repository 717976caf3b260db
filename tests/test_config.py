"""The config schema: defaults, validation messages with lines and paths, overrides applied before validation."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from nnfw_cli.config import Config, dump_yaml, load_config, validate
from nnfw_cli.errors import ConfigError

CONFIGS = sorted((Path(__file__).parent.parent / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_validates(path):
    config = load_config(path)
    assert config.training.epochs >= 1


def test_shipped_configs_exist():
    names = {p.stem for p in CONFIGS}
    assert {"circles", "moons", "seed_circles", "xor", "spiral", "gaussian"} <= names


def test_empty_mapping_gets_documented_defaults():
    config = validate({})
    assert config.data.dataset == "circles"
    assert config.data.noise == 0.04 and config.data.factor == 0.5  # the dataset's own defaults
    assert config.training.batch_size == 32 and config.loss == "binary_cross_entropy"
    assert [layer.type for layer in config.model.layers][-1] == "sigmoid"


def test_layer_shorthand_and_optimizer_shorthand():
    config = validate({"model": {"layers": [{"type": "linear", "units": 1}, "sigmoid"]}, "training": {"optimizer": "momentum"}})
    assert config.model.layers[1].type == "sigmoid"
    assert config.training.optimizer.type == "momentum" and config.training.optimizer.momentum == 0.9


def test_resolved_config_round_trips():
    config = load_config(CONFIGS[0])
    again = validate(yaml.safe_load(dump_yaml(config)))
    assert again == config


def test_a_long_quoted_string_in_the_resolved_config_reads_back_as_it_was():
    """YAML breaks a long double-quoted string over lines; escapes and spaces survive the breaks."""
    folder = "sortie/" + "é\t\u2028 \\ \"quoted\" #x:  " * 8 + "end "
    config = validate({"output": {"dir": folder}})
    dumped = dump_yaml(config)
    assert len(dumped.split("dir:", 1)[1].splitlines()) > 1  # broken over lines
    assert validate(yaml.safe_load(dumped)) == config and config.output.dir == folder


def _problems(tmp_path, text, overrides=()):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    return info.value.problems


def test_every_problem_reported_with_line_and_path(tmp_path):
    text = "data:\n  dataset: cirles\n  n_samples: 100\ntraining:\n  lerning_rate: 0.1\n  epochs: 0\n"
    problems = _problems(tmp_path, text)
    assert len(problems) == 3
    assert problems[0].endswith("data.dataset: unknown dataset 'cirles'; did you mean 'circles'? "
                                "(choose from: blobs, breast_cancer, circles, csv, digits, gaussian, iris, moons, spiral, wine, xor)")
    assert f"{tmp_path / 'c.yaml'}:2:12:" in problems[0]
    assert ":5:3: training.lerning_rate: unknown key; did you mean 'learning_rate'?" in problems[1]
    assert ":6:11: training.epochs: must be >= 1 (got 0)" in problems[2]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("model:\n  layers:\n    - {type: linear, units: -4}\n    - sigmoid\n", "model.layers[0].units: must be >= 1 (got -4)"),
        ("model:\n  layers:\n    - {type: linear, units: 1}\n    - rleu\n", "model.layers[1]: unknown layer 'rleu'; did you mean 'relu'?"),
        ("training:\n  learning_rate: .nan\n", "training.learning_rate: must be a finite number"),
        ("training:\n  learning_rate: 0\n", "training.learning_rate: must be > 0 (got 0)"),
        ("training:\n  batch_size: 0\n", "training.batch_size: must be >= 1 (got 0)"),
        ("data:\n  test_fraction: 1\n", "data.test_fraction: must be < 1"),
        ("data:\n  noise: -0.1\n", "data.noise: must be >= 0 (got -0.1)"),
        ("data:\n  n_samples: 6\n  test_fraction: 0.1\n", "data.n_samples: too small to hold out"),
        ("data:\n  dataset: moons\n  factor: 0.3\n", "data.factor: only the circles dataset takes a factor"),
        ("model:\n  layers: []\n", "model.layers: must not be empty"),
        ("model:\n  layers:\n    - {type: linear, units: 2}\n    - sigmoid\n", "model.layers[0].units: the last linear layer must have 1 unit"),
        ("model:\n  layers:\n    - {type: linear, units: 1}\n    - relu\n", "model.layers[1]: binary_cross_entropy needs a sigmoid as the last layer"),
        ("training:\n  optimizer: {type: adam, beta: 0.9}\n", "training.optimizer.beta: unknown key; did you mean 'beta"),
        ("training:\n  optimizer: adamw\n", "training.optimizer: unknown optimizer 'adamw'; did you mean 'adam'?"),
        ("training:\n  optimizer: {type: sgd, momentum: -1}\n", "training.optimizer.momentum: must be >= 0 (got -1)"),
        ("training:\n  epochs: 1.5\n", "training.epochs: must be a whole number (got 1.5)"),
        ("seed: -1\n", "seed: must be >= 0 (got -1)"),
        ("loss: hinge\n", "loss: unknown loss 'hinge'"),
        ("training: 5\n", "training: must be a mapping"),
    ],
)
def test_bad_values_name_the_field(tmp_path, text, expected):
    problems = _problems(tmp_path, text)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    "text, expected",
    [("", "the file is empty"), ("- a\n- b\n", "must be a YAML mapping"), ("a: [1,\n", "not valid YAML")],
)
def test_unreadable_files(tmp_path, text, expected):
    assert expected in _problems(tmp_path, text)[0]


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


def test_overrides_apply_before_validation(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("training:\n  epochs: 5\n")
    config = load_config(path, ["training.epochs=50", "model.layers[0].units=32", "training.optimizer.beta1=0.8",
                                "training.batch_size=null", "data.dataset=moons"])
    assert config.training.epochs == 50 and config.model.layers[0].units == 32
    assert config.training.optimizer.beta1 == 0.8 and config.training.batch_size is None
    assert config.data.dataset == "moons"


@pytest.mark.parametrize(
    "override, expected",
    [
        ("training.epochs", "expected KEY=VALUE"),
        ("model.layers[9].units=3", "model.layers[9] does not exist (the list has 6 entries)"),
        ("training..epochs=3", "not a key path"),
        ("training.epochs=[1,", "not valid YAML"),
        ("training.epochs=abc", "(--set training.epochs): training.epochs: must be a whole number (got 'abc')"),
        ("training.epoch=3", "training.epoch: unknown key; did you mean 'epochs'?"),
        ("seed.x=1", "seed is not a mapping"),
    ],
)
def test_bad_overrides(tmp_path, override, expected):
    problems = _problems(tmp_path, "seed: 1\n", [override])
    assert any(expected in p for p in problems), problems


def test_every_bad_override_is_reported_with_what_the_others_leave_wrong(tmp_path):
    problems = _problems(tmp_path, "seed: 1\n", ["model.layers[9].units=3", "foo.bar[0]=1", "training.epoch=3",
                                                  "training.learning_rate=-1", "training.epochs=7"])
    assert len(problems) == 4, problems
    assert problems[0] == "--set model.layers[9].units=3: model.layers[9] does not exist (the list has 6 entries)"
    assert problems[1] == "--set foo.bar[0]=1: foo.bar is not a list"  # and no `foo` left behind, half made
    assert any("training.epoch: unknown key; did you mean 'epochs'?" in p for p in problems[2:]), problems
    assert any("training.learning_rate" in p and "-1" in p for p in problems[2:]), problems


def test_schema_comes_from_the_validating_models():
    schema = Config.model_json_schema()
    assert set(schema["properties"]) == {"seed", "data", "model", "loss", "training", "output", "expect", "parent"}


@pytest.mark.slow
def test_shipped_configs_follow_the_published_json_schema():
    jsonschema = pytest.importorskip("jsonschema")
    from nnfw_cli.config import json_schema

    schema = json_schema()
    for path in CONFIGS:
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"model": {"layers": ["rleu"]}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"data": {"dataset": "cirles"}}, schema)
    for wrong in ({"data": {"noise": -1}}, {"data": {"factor": 1}},
                  {"model": {"layers": [{"type": "dropout", "rate": 1}]}},
                  {"training": {"optimizer": {"type": "adam", "epsilon": 0}}}):
        with pytest.raises(jsonschema.ValidationError):  # limits are JSON Schema keywords an editor knows
            jsonschema.validate(wrong, schema)


def test_schema_says_how_often_a_run_is_scored_by_default():
    from nnfw_cli.config import EVAL_POINTS, json_schema

    training = json_schema()["$defs"]["TrainingConfig"]["properties"]
    assert f"about {EVAL_POINTS} times" in training["eval_every"]["description"]
    config = validate({"training": {"epochs": 4 * EVAL_POINTS}})
    assert config.training.eval_interval() == 4


# -- loading hostile or broken files ----------------------------------------------------------


def _check(runner, path, *args):
    """``nnfw check PATH``, as a user runs it: exit 2, one message, no traceback; returns stderr."""
    from nnfw_cli.cli import main

    result = runner.invoke(main, ["check", str(path), *args])
    assert result.exit_code == 2, (result.exit_code, result.stderr, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.stderr.startswith("Error: ") and result.stderr.count("Error: ") == 1, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    return result.stderr


@pytest.mark.parametrize(
    "text, where, key, first",
    [
        ("training:\n  epochs: 3\nseed: 1\ntraining:\n  epochs: 5\n", ":4:1:", "training", "line 1, column 1"),
        ("training:\n  epochs: 3\n  learning_rate: 0.1\n  epochs: 5\n", ":4:3:", "epochs", "line 2, column 3"),
        ("model:\n  layers:\n    - {type: linear, units: 1, units: 2}\n    - sigmoid\n", ":3:32:", "units",
         "line 3, column 22"),
        ("seed: 1\n'seed': 2\n", ":2:1:", "seed", "line 1, column 1"),
    ],
)
def test_a_key_given_twice_is_refused_naming_both_lines(tmp_path, runner, text, where, key, first):
    problems = _problems(tmp_path, text)
    assert len(problems) == 1 and where in problems[0], problems
    assert problems[0].endswith(f": not valid YAML: duplicate key {key!r} (first at {first})")
    assert where in _check(runner, tmp_path / "c.yaml")


def test_merged_keys_may_be_overridden(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("training:\n  <<: {epochs: 3, learning_rate: 0.1}\n  epochs: 5\n")
    assert load_config(path).training.epochs == 5  # YAML's merge key: the mapping's own keys win


def test_a_key_given_twice_in_a_set_value_is_refused(tmp_path):
    problems = _problems(tmp_path, "seed: 1\n", ["training={epochs: 1, epochs: 2}"])
    assert problems == ["--set training={epochs: 1, epochs: 2}: the value is not valid YAML: "
                        "duplicate key 'epochs' (first at line 1, column 2)"]


def _float_settings() -> list:
    """Every setting a config reads as a float: a param of (config with VALUE there, its path)."""
    from typing import Annotated, get_args, get_origin

    from nnfw_cli.config import LAYER_SPECS, OPTIMIZER_SPECS, DataConfig, TrainingConfig

    def floats(model):
        def kinds(annotation):
            if get_origin(annotation) is Annotated:
                return kinds(get_args(annotation)[0])
            return [annotation, *(k for arg in get_args(annotation) for k in kinds(arg))]

        return [name for name, field in model.model_fields.items() if float in kinds(field.annotation)]

    found = [({"data": {name: "VALUE"}}, f"data.{name}", "data") for name in floats(DataConfig)]
    found += [({"training": {name: "VALUE"}}, f"training.{name}", "training") for name in floats(TrainingConfig)]
    for tag, spec in LAYER_SPECS.items():
        layer = {"type": tag, **({"units": 1} if tag == "linear" else {})}
        found += [({"model": {"layers": [{**layer, name: "VALUE"}]}}, f"model.layers[0].{name}", tag)
                  for name in floats(spec)]
    for tag, spec in OPTIMIZER_SPECS.items():
        found += [({"training": {"optimizer": {"type": tag, name: "VALUE"}}}, f"training.optimizer.{name}", tag)
                  for name in floats(spec)]
    return [pytest.param(raw, path, id=f"{tag}:{path}") for raw, path, tag in found]


FLOAT_SETTINGS = _float_settings()


def test_every_float_setting_is_checked_below():
    paths = [param.values[1] for param in FLOAT_SETTINGS]
    assert {"data.noise", "data.factor", "data.test_fraction", "training.learning_rate", "model.layers[0].rate",
            "model.layers[0].negative_slope", "training.optimizer.epsilon", "training.optimizer.beta2"} <= set(paths)


@pytest.mark.parametrize("value", ["1e400", "-1e400", ".nan", "'nan'", "'NaN'", ".inf", "-.inf", "'inf'", "'-infinity'",
                                   "1.0e+400", "1" + "0" * 400])
@pytest.mark.parametrize("raw, field", FLOAT_SETTINGS)
def test_numbers_that_are_not_finite_are_refused(tmp_path, raw, field, value):
    text = yaml.safe_dump(raw, sort_keys=False).replace("VALUE", value)
    problems = _problems(tmp_path, text)
    assert any(f"{field}: must be a finite number" in p for p in problems), problems


@pytest.mark.parametrize(
    "text",
    [
        "data: " + "[" * 500 + "]" * 500 + "\n",
        "data: " + "{a: " * 500 + "1" + "}" * 500 + "\n",
        "".join(" " * i + "a:\n" for i in range(500)) + " " * 500 + "1\n",
        "seed: " + "[" * 200_000 + "\n",
    ],
    ids=["lists", "mappings", "block", "unclosed"],
)
def test_deep_nesting_is_one_clear_error(tmp_path, runner, text):
    problems = _problems(tmp_path, text)
    assert len(problems) == 1 and "nested more than 100 levels deep" in problems[0], problems
    assert "nested more than 100 levels deep" in _check(runner, tmp_path / "c.yaml")


LAUGHS = "x: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 10)}]\n" for a, b in zip("abcdef", "bcdefg"))


@pytest.mark.parametrize("text, needle", [
    (LAUGHS, "more than 100,000 values once its aliases (*name) are expanded"),  # 10^7 values from 7 lines
    ("x: &a [1, *a]\n", "an alias inside itself"),
    ("".join(f"a{i}: &a{i} [*a{i - 1}]\n" if i else "a0: &a0 [1]\n" for i in range(150)),
     "nested more than 100 levels deep once its aliases (*name) are expanded"),
], ids=["billion-laughs", "recursive", "deep-chain"])
def test_aliases_that_expand_beyond_the_limits_are_one_clear_error(tmp_path, runner, text, needle):
    problems = _problems(tmp_path, text)
    assert len(problems) == 1 and needle in problems[0], problems
    assert needle in _check(runner, tmp_path / "c.yaml")


def test_a_sweep_file_has_the_same_limits(tmp_path, runner):
    from nnfw_cli.cli import main

    (tmp_path / "s.yaml").write_text("base: {seed: 1}\ngrid:\n  training.learning_rate:\n" +
                                     "".join("    - " + line.split(": ", 1)[1] + "\n" for line in LAUGHS.splitlines()))
    result = runner.invoke(main, ["check", str(tmp_path / "s.yaml")])
    assert result.exit_code == 2 and "more than 100,000 values once its aliases" in result.stderr, result.stderr


@pytest.mark.parametrize("text, where", [
    ("seed: " + "1" * 4301 + "\n", ":1:7:"),
    ("training:\n  learning_rate: -" + "7" * 5000 + "\n", ":2:18:"),
])
def test_whole_numbers_too_long_to_read_are_one_clear_error(tmp_path, runner, text, where):
    problems = _problems(tmp_path, text)
    assert len(problems) == 1 and where in problems[0] and "digits" in problems[0], problems
    assert "digits" in _check(runner, tmp_path / "c.yaml")


def test_set_values_have_the_same_limits(tmp_path):
    assert "nested more than 100 levels deep" in _problems(tmp_path, "seed: 1\n", ["seed=" + "[" * 600])[0]
    assert "digits" in _problems(tmp_path, "seed: 1\n", ["seed=" + "9" * 5000])[0]


def test_a_long_whole_number_within_the_limit_is_checked_as_usual(tmp_path):
    assert "seed: must be <= 4294967295" in _problems(tmp_path, "seed: " + "1" * 4300 + "\n")[0]


def _nnfw_check(path: str) -> subprocess.CompletedProcess:
    """``python -m nnfw_cli check PATH`` in its own process, which must end within a minute."""
    return subprocess.run([sys.executable, "-m", "nnfw_cli", "check", path], capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).parent.parent)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_a_device_is_not_read(tmp_path):
    done = _nnfw_check("/dev/zero")
    assert done.returncode == 2 and "/dev/zero: not a regular file" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_not_waited_on(tmp_path):
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    done = _nnfw_check(str(fifo))
    assert done.returncode == 2 and "not a regular file (a named pipe)" in done.stderr, done.stderr


def test_a_file_over_a_megabyte_is_not_read(tmp_path, runner):
    path = tmp_path / "c.yaml"
    path.write_text("seed: 1\n" + "#" * 1_000_000 + "\n")
    problems = _problems(tmp_path, path.read_text())
    assert problems == [f"{path}: too large for a config (1,000,009 bytes; at most 1,000,000)"]
    _check(runner, path)


@pytest.mark.slow
def test_many_unknown_keys_are_reported_in_linear_time(tmp_path):
    count = 40_000
    path = tmp_path / "c.yaml"
    path.write_text("".join(f"key{i}: 1\n" for i in range(count)))
    start = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        load_config(path)
    seconds = time.perf_counter() - start
    assert len(info.value.problems) == count
    assert info.value.problems[-1].startswith(f"{path}:{count}:1: key{count - 1}: unknown key")
    assert seconds < 15, f"{seconds:.1f} s for {count} unknown keys"  # 243 s when each key was looked up by a scan
