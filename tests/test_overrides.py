"""The ``--set`` path language, on plain data: paths, values read as YAML, and paths that cannot be followed."""

from __future__ import annotations

import copy

import pytest
import yaml

from nnfw_cli.config import Config
from nnfw_cli.errors import ConfigError
from nnfw_cli.overrides import apply_override, format_path, parse_path

DEFAULTS = Config().resolved()


@pytest.mark.parametrize(
    "text, path",
    [
        ("seed", ("seed",)),
        ("training.epochs", ("training", "epochs")),
        ("model.layers[0].units", ("model", "layers", 0, "units")),
        ("model.layers[12]", ("model", "layers", 12)),
        ("a[1][2].b_2", ("a", 1, 2, "b_2")),
    ],
)
def test_paths_parse_and_format_back(text, path):
    assert parse_path(text) == path
    assert format_path(path) == text


@pytest.mark.parametrize("text", ["", ".", "training.", ".epochs", "training..epochs", "model.layers[x]",
                                  "model.layers[-1]", "model.layers[]", "[0]", "1abc", "training epochs",
                                  "model.layers[0]units", "training-epochs", "a.b=c"])
def test_bad_paths(text):
    with pytest.raises(ConfigError, match="not a key path like training.epochs or model.layers"):
        parse_path(text)


@pytest.mark.parametrize(
    "item, value",
    [
        ("training.epochs=50", 50),
        ("training.learning_rate=1e-3", "1e-3"),  # YAML 1.1: a float needs a dot; validation reads the text
        ("training.learning_rate=0.001", 0.001),
        ("training.batch_size=null", None),
        ("training.batch_size=", None),
        ("training.batch_size=~", None),
        ("data.dataset=moons", "moons"),
        ("data.dataset='123'", "123"),
        ("output.dir=a=b", "a=b"),  # only the first = separates
        ("model.layers=[relu, {type: linear, units: 1}]", ["relu", {"type": "linear", "units": 1}]),
        ("training.optimizer={type: sgd, momentum: 0.5}", {"type": "sgd", "momentum": 0.5}),
        ("seed=true", True),
    ],
)
def test_values_are_read_as_yaml(item, value):
    raw: dict = {}
    path = apply_override(raw, item, DEFAULTS)
    node = raw
    for part in path:
        node = node[part]
    assert node == value


def test_sections_start_empty_and_lists_start_from_the_defaults():
    raw: dict = {}
    assert apply_override(raw, "data.noise=0.1", DEFAULTS) == ("data", "noise")
    assert raw == {"data": {"noise": 0.1}}  # the dataset's other defaults are left to the dataset
    apply_override(raw, "model.layers[0].units=32", DEFAULTS)
    assert raw["model"]["layers"][0] == {**DEFAULTS["model"]["layers"][0], "units": 32}
    assert raw["model"]["layers"][1:] == DEFAULTS["model"]["layers"][1:]


def test_the_defaults_are_not_changed():
    defaults = copy.deepcopy(DEFAULTS)
    raw: dict = {}
    apply_override(raw, "model.layers[0].units=32", defaults)
    apply_override(raw, "training.optimizer.beta1=0.5", defaults)
    assert defaults == DEFAULTS


def test_shorthand_names_take_settings():
    raw = {"model": {"layers": [{"type": "linear", "units": 1}, "sigmoid"]}, "training": {"optimizer": "sgd"}}
    apply_override(raw, "training.optimizer.momentum=0.5", DEFAULTS)
    assert raw["training"]["optimizer"] == {"type": "sgd", "momentum": 0.5}
    apply_override(raw, "model.layers[1].type=softmax", DEFAULTS)
    assert raw["model"]["layers"][1] == {"type": "softmax"}


def test_an_optimizer_not_in_the_file_starts_from_the_default_one():
    raw: dict = {"training": {"epochs": 3}}
    apply_override(raw, "training.optimizer.beta1=0.8", DEFAULTS)
    assert raw["training"] == {"epochs": 3, "optimizer": {**DEFAULTS["training"]["optimizer"], "beta1": 0.8}}
    raw = {}
    apply_override(raw, "training.optimizer.type=sgd", DEFAULTS)
    assert raw["training"]["optimizer"]["type"] == "sgd"  # validation then reports adam's settings sgd lacks


def test_without_defaults_only_sections_are_made():
    raw: dict = {}
    apply_override(raw, "training.optimizer.beta1=0.8")
    assert raw == {"training": {"optimizer": {"beta1": 0.8}}}
    with pytest.raises(ConfigError, match="model.layers is not a list"):
        apply_override({}, "model.layers[0].units=3")


def test_unknown_keys_are_set_for_validation_to_report():
    raw: dict = {}
    assert apply_override(raw, "trainig.epochs=3", DEFAULTS) == ("trainig", "epochs")
    assert raw == {"trainig": {"epochs": 3}}


@pytest.mark.parametrize(
    "raw, item, message",
    [
        ({}, "training.epochs", "--set training.epochs: expected KEY=VALUE, for example --set training.epochs=50"),
        ({}, "=3", "expected KEY=VALUE"),
        ({}, " =3", "expected KEY=VALUE"),
        ({}, "training..epochs=3", "--set training..epochs: not a key path"),
        ({}, "training.epochs=[1, 2", "--set training.epochs=[1, 2: the value is not valid YAML"),
        ({}, "seed=!!python/object:os.system ls", "the value is not valid YAML"),
        ({}, "model.layers[9].units=3", "--set model.layers[9].units=3: model.layers[9] does not exist "
                                        "(the list has 6 entries)"),
        ({}, "model.layers[6]=relu", "model.layers[6] does not exist (the list has 6 entries)"),
        ({"training": {"epochs": 3}}, "training.epochs.foo=3", "training.epochs is not a mapping"),
        ({}, "seed.x=3", "--set seed.x=3: seed is not a mapping"),
        ({}, "loss.x=3", "loss is not a mapping"),
        ({}, "data.dataset.x=3", "data.dataset is not a mapping"),
        ({}, "model.layers[0][1]=3", "model.layers[0] is not a list"),
        ({}, "training[0]=3", "--set training[0]=3: training is not a list"),
        ({"training": [1]}, "training.epochs=3", "training is not a mapping"),
        ({"model": {"layers": "relu"}}, "model.layers[0]=3", "model.layers is not a list"),
        ({"model": {"layers": [3]}}, "model.layers[0].units=3", "model.layers[0] is not a mapping"),
        ({}, "seed[0]=1", "seed is not a list"),
    ],
)
def test_paths_that_cannot_be_followed(raw, item, message):
    before = copy.deepcopy(raw)
    with pytest.raises(ConfigError) as info:
        apply_override(raw, item, DEFAULTS)
    assert message in str(info.value) and str(info.value).startswith("--set ")
    if "not valid YAML" in message or "KEY=VALUE" in message or "key path" in message:
        assert raw == before  # nothing is changed before the item is known to be well formed


# -- the YAML reader shared with config files -------------------------------------------------


@pytest.fixture(params=["libyaml", "python"])
def parser(request, monkeypatch):
    """``load_yaml`` with libyaml's parser (when PyYAML has it) and with PyYAML's own."""
    from nnfw_cli import overrides

    if request.param == "python":
        monkeypatch.setattr(overrides, "_FastParser", None)
    elif overrides._FastParser is None:
        pytest.skip("PyYAML was built without libyaml")
    return overrides.load_yaml


def test_both_parsers_read_the_same_data(parser):
    text = "a: 1\nb: [x, {c: 0x10, d: 1:30}]\nbase: &b {e: 1.5}\nf: {<<: *b, e: 2}\ng: null\nh: 2001-12-14\n"
    data, root = parser(text)
    assert data == yaml.safe_load(text) and root.start_mark.line == 0
    assert parser("") == (None, None)


@pytest.mark.slow
@pytest.mark.parametrize(
    "text, problem, line",
    [
        ("a: 1\nb: 2\na: 3\n", "duplicate key 'a' (first at line 1, column 1)", 3),
        ("a:\n  b: 1\n  b: 1\n", "duplicate key 'b' (first at line 2, column 3)", 3),
        ("- {1: a, 1: b}\n", "duplicate key 1 (first at line 1, column 4)", 1),
        ("[a, " * 101 + "]" * 101, "nested more than 100 levels deep", 1),
        ("- " * 101 + "x\n", "nested more than 100 levels deep", 1),
        ("a: " + "9" * 4301, "a whole number of 4301 digits; at most 4300 digits can be read", 1),
        ("a: 0x" + "f" * 3600, "a whole number of more than 4300 digits; at most 4300 digits can be read", 1),
        ("a: [1,\n", None, 2),
    ],
)
def test_what_the_reader_refuses(parser, text, problem, line):
    with pytest.raises(yaml.YAMLError) as info:
        parser(text)
    assert info.value.problem_mark.line + 1 == line
    if problem:
        assert info.value.problem == problem


def test_nesting_up_to_the_limit_is_read(parser):
    """A hundred nodes, one inside the other (the mapping, 98 lists and the number), is the most read."""
    data = parser("a: " + "[" * 98 + "1" + "]" * 98)[0]
    for _ in range(99):
        data = data["a"] if isinstance(data, dict) else data[0]
    assert data == 1
    with pytest.raises(yaml.YAMLError, match="nested more than 100 levels deep"):
        parser("a: " + "[" * 99 + "1" + "]" * 99)


def test_merged_keys_may_be_given_again(parser):
    assert parser("base: &b {x: 1, y: 2}\nuse: {<<: *b, x: 3}\n")[0]["use"] == {"x": 3, "y": 2}


def test_a_set_value_with_a_key_given_twice_is_refused():
    with pytest.raises(ConfigError, match=r"^--set training=\{epochs: 1, epochs: 2\}: the value is not valid YAML: "
                                          r"duplicate key 'epochs' \(first at line 1, column 2\)$"):
        apply_override({}, "training={epochs: 1, epochs: 2}", DEFAULTS)


def test_set_values_beyond_the_limits_are_refused():
    with pytest.raises(ConfigError, match=r"^--set seed=\[\[.*: nested more than 100 levels deep$"):
        apply_override({}, "seed=" + "[" * 200, DEFAULTS)
    with pytest.raises(ConfigError, match=r"^--set seed=9+: a whole number of 5000 digits"):
        apply_override({}, "seed=" + "9" * 5000, DEFAULTS)
