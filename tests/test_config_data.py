"""The config's data section: every source's settings, the model's head against the classes, the resolved file."""

from __future__ import annotations

from pathlib import Path

import pytest

from nnfw_cli.config import check_classes, dump_yaml, load_config, validate
from nnfw_cli.errors import ConfigError

ROOT = Path(__file__).parent.parent


def _head(units: int, last: str) -> dict:
    return {"layers": [{"type": "linear", "units": 8}, "relu", {"type": "linear", "units": units}, last]}


def _problems(raw: dict, **kwargs) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        validate(raw, **kwargs)
    return caught.value.problems


@pytest.mark.parametrize(("data", "k"), [({"dataset": "iris"}, 3), ({"dataset": "digits"}, 10),
                                         ({"dataset": "wine"}, 3), ({"dataset": "blobs", "classes": 4}, 4),
                                         ({"dataset": "spiral", "classes": 3}, 3)])
def test_a_softmax_head_of_k_units_for_k_classes(data, k):
    config = validate({"data": data, "model": _head(k, "softmax"), "loss": "cross_entropy"})
    assert config.data.n_classes() == k
    problems = _problems({"data": data, "model": _head(k + 1, "softmax"), "loss": "cross_entropy"})
    assert problems == [f"<config>: model.layers[2].units: the last linear layer must have {k} units for "
                        f"cross_entropy on {k} classes (got {k + 1})"]


def test_two_classes_take_one_sigmoid_unit_as_before():
    validate({"data": {"dataset": "breast_cancer"}, "model": _head(1, "sigmoid")})
    validate({"data": {"dataset": "spiral", "classes": 2}, "model": _head(1, "sigmoid")})


def test_binary_cross_entropy_on_more_classes_says_what_to_use():
    problems = _problems({"data": {"dataset": "iris"}, "model": _head(1, "sigmoid")})
    assert problems == ["<config>: loss: binary_cross_entropy fits two classes, and the data has 3: use "
                        "cross_entropy, with a last linear layer of 3 units and a softmax"]


@pytest.mark.parametrize(("data", "needle"), [
    ({"dataset": "iris", "nosie": 0.1}, "data.nosie: unknown key; did you mean 'noise'?"),
    ({"dataset": "csv", "path": "x.csv", "taget": "y"}, "data.taget: unknown key; did you mean 'target'?"),
    ({"dataset": "irs"}, "data.dataset: unknown dataset 'irs'; did you mean 'iris'?"),
    ({"dataset": "csv"}, "data.path: required for dataset: csv"),
    ({"dataset": "csv"}, "data.target: required for dataset: csv"),
    ({"dataset": "csv", "path": "nowhere.csv", "target": "y"}, "data.path: no such file: "),
    ({"dataset": "csv", "path": ".", "target": "y"}, "data.path: not a regular file (a directory)"),
    ({"dataset": "iris", "n_samples": 100}, "data.n_samples: only moons and circles"),
    ({"dataset": "moons", "classes": 3}, "data.classes: only spiral and blobs take classes (dataset is moons)"),
    ({"dataset": "moons", "target": "y"}, "data.target: only csv takes target (dataset is moons)"),
    ({"dataset": "iris", "features": ["x1"]}, "data.features: iris has its own features"),
    ({"dataset": "circles", "features": ["x1", "x1_sqared"]},
     "data.features[1]: unknown Playground feature 'x1_sqared'; did you mean 'x1_squared'?"),
    ({"dataset": "csv", "path": "x.csv", "target": "y", "missing": "fill"}, "data.missing: "),
    ({"dataset": "csv", "path": "x.csv", "target": "y", "delimiter": ";;"}, "data.delimiter: "),
    ({"dataset": "blobs", "classes": 1}, "data.classes: must be >= 2"),
    ({"dataset": "csv", "path": "configs/data/wine_cultivars.csv", "target": "cultivar", "features": ["a", "b", "a"]},
     "data.features[2]: 'a' is listed twice (also at data.features[0]); list each once"),
    ({"dataset": "circles", "features": ["x1_squared", "x1_squared"]}, "data.features[1]: 'x1_squared' is listed twice"),
])
def test_the_data_section_is_validated_whole(data, needle):
    problems = _problems({"data": data, "model": _head(1, "sigmoid")}, base=ROOT)
    assert any(needle in problem for problem in problems), problems


def test_every_problem_of_the_data_section_at_once():
    problems = _problems({"data": {"dataset": "csv", "classes": 3, "noise": 0.1}})
    assert {p.split(": ")[1] for p in problems} >= {"data.path", "data.target", "data.classes", "data.noise"}


def test_a_relative_path_is_relative_to_the_config_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "t.csv").write_text("a,b\n1,x\n")
    (tmp_path / "sub" / "c.yaml").write_text("data: {dataset: csv, path: t.csv, target: b}\n")
    config = load_config(tmp_path / "sub" / "c.yaml")
    assert config.data.path == str(tmp_path / "sub" / "t.csv")
    assert validate(config.resolved()).data.path == config.data.path  # the resolved config reads back alike


def test_the_class_count_of_a_csv_is_checked_once_it_is_read():
    config = validate({"data": {"dataset": "csv", "path": "configs/data/wine_cultivars.csv", "target": "cultivar"},
                       "model": _head(2, "softmax"), "loss": "cross_entropy"}, base=ROOT)
    check_classes(config, 2)
    with pytest.raises(ConfigError) as caught:
        check_classes(config, 3, source="c.yaml")
    assert caught.value.problems == [
        "c.yaml: model.layers[2].units: the last linear layer must have 3 units for cross_entropy on 3 classes "
        f"(got 2); the data ({ROOT / 'configs/data/wine_cultivars.csv'}) has 3 classes"]


def test_defaults_by_source():
    csv = validate({"data": {"dataset": "csv", "path": "configs/data/wine_cultivars.csv", "target": "cultivar"},
                    "model": _head(3, "softmax"), "loss": "cross_entropy"}, base=ROOT).data
    assert (csv.standardize, csv.missing, csv.n_samples, csv.noise, csv.seed) == (True, "error", None, None, None)
    iris = validate({"data": {"dataset": "iris"}, "model": _head(3, "softmax"), "loss": "cross_entropy"}).data
    assert iris.standardize is True
    circles = validate({"data": {"dataset": "circles"}}).data
    assert (circles.standardize, circles.features, circles.n_samples) == (None, None, 1000)


@pytest.mark.parametrize("name", ["circles", "moons", "seed_circles", "spiral", "xor", "gaussian"])
def test_the_resolved_config_of_a_shipped_2d_config_is_as_before(name):
    """The settings of the other sources are not listed where they are not set: run folders stay byte-identical."""
    dumped = dump_yaml(load_config(ROOT / "configs" / f"{name}.yaml"))
    data = dumped.split("data:\n", 1)[1].split("model:\n", 1)[0]
    assert [line.split(":")[0].strip() for line in data.splitlines()] == [
        "dataset", "n_samples", "noise", "factor", "test_fraction"]


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_checks(path):
    load_config(path)


@pytest.mark.parametrize("name", ["blobs", "breast_cancer", "digits", "iris", "spiral3", "wine", "wine_csv"])
def test_each_new_shipped_config_loads_data_its_head_fits(name):
    from nnfw_cli.data import load_split

    config = load_config(ROOT / "configs" / f"{name}.yaml")
    split = load_split(config.data, config.data_seed())
    check_classes(config, split.n_classes, source=name)
    assert split.n_classes == (config.model.layers[-2].units if config.loss == "cross_entropy" else 2)
