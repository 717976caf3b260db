"""The config and the README agree with the registries of nnfw_cli.nn.

Layers, losses, optimizers and initialisers are named in one place, the registries (``LAYERS``,
``LOSSES``, ``OPTIMIZERS``, ``INITIALIZERS``; datasets in ``data.DATASETS``). The config schema is
made from them; these tests fail when the two disagree (a registered name or setting the config
cannot express, a config name or setting the registry does not have, a different default, limits
looser than the framework's own checks), and when the README's config reference says otherwise.
"""

from __future__ import annotations

import inspect
import json
import math
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from annotated_types import Ge, Gt, Le, Lt

from nnfw_cli.config import (LAYER_LIMITS, LAYER_SPECS, OPTIMIZER_LIMITS, OPTIMIZER_SPECS, Config, Section,
                             TrainingConfig, json_schema, layer_settings, optimizer_settings, validate)
from nnfw_cli.data import DATASETS, SOURCES
from nnfw_cli.errors import ConfigError
from nnfw_cli.nn import INITIALIZERS, LAYERS, LOSSES, OPTIMIZERS

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

REGISTRIES = {"layer": (LAYERS, LAYER_SPECS, LAYER_LIMITS),
              "optimizer": (OPTIMIZERS, OPTIMIZER_SPECS, OPTIMIZER_LIMITS)}


def _settings(kind: str, cls: type) -> dict[str, inspect.Parameter]:
    """What the framework says a config may give: a layer's from_config or constructor, or an optimizer's constructor."""
    return layer_settings(cls) if kind == "layer" else optimizer_settings(cls)


def _registered(kind: str) -> list[tuple[str, type, str, inspect.Parameter]]:
    registry = REGISTRIES[kind][0]
    return [(name, cls, key, p) for name, cls in registry.items() for key, p in _settings(kind, cls).items()]


def _example(spec: type, key: str) -> Any:
    """A valid value for a required setting: the smallest its limits allow."""
    field = spec.model_fields[key]
    low = next((m.ge for m in field.metadata if isinstance(m, Ge)), None)
    return low if low is not None else {int: 1, float: 0.5}[field.annotation]


def _minimal(name: str, spec: type) -> dict[str, Any]:
    """``{type: name}`` with the required settings given."""
    return {"type": name, **{key: _example(spec, key) for key, f in spec.model_fields.items()
                             if key != "type" and f.is_required()}}


# -- the config expresses exactly what the registries hold ------------------------------------


@pytest.mark.parametrize("kind", REGISTRIES)
def test_every_registered_name_is_a_config_name(kind):
    registry, specs, _ = REGISTRIES[kind]
    assert list(specs) == list(registry)


@pytest.mark.parametrize("kind", REGISTRIES)
def test_config_settings_are_the_registered_settings(kind):
    registry, specs, _ = REGISTRIES[kind]
    for name, cls in registry.items():
        fields = {key: f for key, f in specs[name].model_fields.items() if key != "type"}
        settings = _settings(kind, cls)
        assert list(fields) == list(settings), name
        for key, parameter in settings.items():
            if parameter.default is parameter.empty:
                assert fields[key].is_required(), f"{name}.{key}"
            else:
                assert not fields[key].is_required() and fields[key].default == parameter.default, f"{name}.{key}"


@pytest.mark.parametrize("kind", REGISTRIES)
def test_every_key_of_the_limits_table_is_a_registered_setting(kind):
    registry, _, limits = REGISTRIES[kind]
    for name, key in limits:
        assert name in registry, f"{kind} limits name {name!r}, which nnfw_cli.nn does not register"
        assert key in _settings(kind, registry[name]), f"{kind} {name!r} has no setting {key!r} in nnfw_cli.nn"


@pytest.mark.parametrize("name", list(LAYERS))
def test_a_layer_from_the_config_is_the_layer_the_registry_builds(name):
    spec = LAYER_SPECS[name]
    minimal = _minimal(name, spec)
    settings = spec.model_validate(minimal).model_dump(exclude={"type"})
    given = {k: v for k, v in minimal.items() if k != "type"}
    built = LAYERS[name].from_config(3, np.random.default_rng(0), **settings)
    default = LAYERS[name].from_config(3, np.random.default_rng(0), **given)
    assert built.get_config() == default.get_config()


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_an_optimizer_from_the_config_is_the_optimizer_the_registry_builds(name):
    config = validate({"training": {"optimizer": name}})
    settings = config.training.optimizer.model_dump(exclude={"type"})
    built = OPTIMIZERS[name](learning_rate=0.1, **settings)
    assert built.get_config() == OPTIMIZERS[name](learning_rate=0.1).get_config()


def _inside(limit: Any) -> list[float]:
    """The values at the edges of a pydantic limit that the limit allows."""
    if isinstance(limit, Ge):
        return [limit.ge]
    if isinstance(limit, Gt):
        return [math.nextafter(limit.gt, math.inf)]
    if isinstance(limit, Le):
        return [limit.le]
    if isinstance(limit, Lt):
        return [math.nextafter(limit.lt, -math.inf)]
    return []


@pytest.mark.parametrize("kind", REGISTRIES)
def test_the_config_accepts_only_values_the_framework_accepts(kind):
    """At each edge of a setting's limits the config allows, the framework builds without complaint."""
    registry, specs, _ = REGISTRIES[kind]
    for name, cls, key, _ in _registered(kind):
        field = specs[name].model_fields[key]
        for value in (v for limit in field.metadata for v in _inside(limit)):
            value = int(value) if field.annotation is int else value
            entry = {**_minimal(name, specs[name]), key: value}
            settings = specs[name].model_validate(entry).model_dump(exclude={"type"})
            if kind == "layer":
                cls.from_config(3, np.random.default_rng(0), **settings)
            else:
                cls(learning_rate=0.1, **settings)


def test_loss_and_initialiser_names_are_the_registered_ones():
    schema = json_schema()
    assert set(schema["properties"]["loss"]["enum"]) == set(LOSSES)
    assert schema["$defs"]["LinearSpec"]["properties"]["init"]["enum"] == sorted(INITIALIZERS)
    assert schema["$defs"]["DataConfig"]["properties"]["dataset"]["enum"] == sorted(SOURCES)
    for loss in LOSSES:
        try:
            validate({"loss": loss})
        except ConfigError as exc:  # a loss may need another network than the default one, not another name
            assert "unknown loss" not in str(exc)


def test_the_json_schema_lists_every_registered_layer_and_optimizer():
    schema = json_schema()
    layers = schema["$defs"]["ModelConfig"]["properties"]["layers"]["items"]["anyOf"]
    assert layers[0]["enum"] == sorted(LAYERS)
    assert set(layers[1]["discriminator"]["mapping"]) == set(LAYERS)
    optimizer = schema["$defs"]["TrainingConfig"]["properties"]["optimizer"]["anyOf"]
    assert optimizer[0]["enum"] == sorted(OPTIMIZERS)
    assert set(optimizer[1]["discriminator"]["mapping"]) == set(OPTIMIZERS)


@pytest.mark.parametrize(
    "raw, kind, registry",
    [
        ({"model": {"layers": ["nope"]}}, "layer", LAYERS),
        ({"training": {"optimizer": "nope"}}, "optimizer", OPTIMIZERS),
        ({"loss": "nope"}, "loss", LOSSES),
        ({"model": {"layers": [{"type": "linear", "units": 1, "init": "nope"}, "sigmoid"]}}, "initialiser",
         INITIALIZERS),
    ],
)
def test_unknown_names_list_the_registry(raw, kind, registry):
    with pytest.raises(ConfigError) as info:
        validate(raw)
    assert f"unknown {kind} 'nope' (choose from: {', '.join(sorted(registry))})" in str(info.value)


@pytest.mark.slow
def test_registering_in_nn_is_the_only_edit_a_config_needs(tmp_path):
    """A layer, an optimizer and a loss registered at run time are accepted by ``nnfw check`` and the schema."""
    config = tmp_path / "new.yaml"
    config.write_text(textwrap.dedent("""\
        model:
          layers:
            - {type: linear, units: 1}
            - {type: scale, factor: 2.5}
            - sigmoid
        loss: squared_error_too
        training:
          optimizer: {type: rmsprop, rho: 0.8}
    """))
    script = textwrap.dedent(f"""\
        import json, sys
        from nnfw_cli.nn import LAYERS, LOSSES, OPTIMIZERS, Layer, MeanSquaredError, Optimizer

        class Scale(Layer):
            name = "scale"
            def __init__(self, factor: float = 1.0):
                super().__init__()
                self.factor = factor

        class RMSProp(Optimizer):
            name = "rmsprop"
            def __init__(self, learning_rate: float = 0.01, rho: float = 0.9, weight_decay: float = 0.0):
                super().__init__(learning_rate, weight_decay)

        class SquaredErrorToo(MeanSquaredError):
            name = "squared_error_too"

        LAYERS["scale"], OPTIMIZERS["rmsprop"], LOSSES["squared_error_too"] = Scale, RMSProp, SquaredErrorToo
        from nnfw_cli.config import dump_yaml, json_schema, load_config
        print(dump_yaml(load_config({str(config)!r})))
        print(json.dumps(json_schema()))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    resolved_text, schema_text = done.stdout.split("\n{", 1)
    resolved, schema = yaml.safe_load(resolved_text), json.loads("{" + schema_text)
    assert resolved["model"]["layers"][1] == {"type": "scale", "factor": 2.5}
    assert resolved["training"]["optimizer"] == {"type": "rmsprop", "rho": 0.8, "weight_decay": 0.0}
    assert resolved["loss"] == "squared_error_too"
    assert schema["$defs"]["ScaleSpec"]["properties"]["factor"]["default"] == 1.0
    assert "rmsprop" in schema["$defs"]["TrainingConfig"]["properties"]["optimizer"]["anyOf"][0]["enum"]


# -- the README's config reference ------------------------------------------------------------


def _table(header: str) -> dict[str, tuple[int, list[str]]]:
    """The README table under ``header`` (its first line): first cell -> (line number, cells)."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = {}
    for number, line in enumerate(lines[start + 2:], start + 3):
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        rows[cells[0]] = (number, cells)
    return rows


FIELDS = "| field | default | choices and meaning |"  # README, "Config reference": one row per field
LAYER_TABLE = "| layer | settings |"  # README, "Config reference", below "Layers:"


def _backticked(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", text)


def _dotted_fields(model: type = Config, prefix: str = "") -> list[str]:
    """Every field of the config, as ``training.epochs``; layers and optimizers are documented apart."""
    names = []
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, Section):
            names += _dotted_fields(field.annotation, f"{prefix}{name}.")
        else:
            names.append(prefix + name)
    return names


def test_readme_documents_every_field_with_its_default():
    rows = _table(FIELDS)
    documented = [_backticked(key)[0] for key in rows]
    assert documented == _dotted_fields(), "README.md: the fields table, in the schema's order"
    defaults = Config().resolved()
    for key, (number, cells) in rows.items():
        shown = re.fullmatch(r"`([^`]+)`", cells[1])
        if shown:  # a plain default; the others (`data.noise`, `model.layers`, ...) are checked below
            node: Any = defaults
            for part in _backticked(key)[0].split("."):
                node = node[part]
            value = node["type"] if isinstance(node, dict) else node
            assert yaml.safe_load(shown[1]) == value, f"README.md:{number}: {key} defaults to {value!r}"


def test_readme_datasets_and_their_noise():
    rows = _table(FIELDS)
    number, cells = rows["`data.dataset`"]
    assert set(_backticked(cells[2])) == set(SOURCES), f"README.md:{number}"
    number, cells = rows["`data.noise`"]
    documented = dict(re.findall(r"(\w+) ([\d.]+)", cells[1]))
    assert {name: float(value) for name, value in documented.items()} == {
        name: dataset.default_noise for name, dataset in DATASETS.items()}, f"README.md:{number}"


def test_readme_losses():
    number, cells = _table(FIELDS)["`loss`"]
    names = _backticked(cells[2])
    assert set(LOSSES) <= set(names) <= set(LOSSES) | set(LAYERS), f"README.md:{number}: {names}"
    for name, loss in LOSSES.items():  # the output layer a loss is computed with is named in its part
        part = cells[2].split(f"`{name}`", 1)[1]
        part = re.split("|".join(f"`{other}`" for other in LOSSES), part)[0]
        if loss.activation is not None:
            assert f"`{loss.activation.name}`" in part, f"README.md:{number}: {name} needs a {loss.activation.name}"


def _optimizer_parts(text: str) -> dict[str, dict[str, str]]:
    """``{name: {setting: default}}`` from "`sgd` {`momentum`: 0, ...}, `momentum` (SGD with `momentum` 0.9)"."""
    parts: dict[str, dict[str, str]] = {}
    pieces = re.split(r"`(\w+)` (?=[{(])", text)
    for name, body in zip(pieces[1::2], pieces[2::2]):
        parts[name] = dict(re.findall(r"`(\w+)`:? ([-+\d.e]+)", body))
    return parts


def test_readme_optimizers_and_their_settings():
    number, cells = _table(FIELDS)["`training.optimizer`"]
    parts = _optimizer_parts(cells[2])
    assert set(parts) == set(OPTIMIZERS), f"README.md:{number}"
    for name, cls in OPTIMIZERS.items():
        documented = dict(parts[name])
        # "`momentum` (SGD with `momentum` 0.9)": what is not said is as for the optimizer it extends.
        for base in cls.__mro__[1:]:
            if getattr(base, "name", None) in parts:
                documented = {**parts[base.name], **documented}
        settings = optimizer_settings(cls)
        assert set(documented) == set(settings), f"README.md:{number}: {name} has {list(settings)}"
        for key, text in documented.items():
            assert float(text) == settings[key].default, f"README.md:{number}: {name}.{key} defaults to " \
                                                         f"{settings[key].default}"


def test_readme_layers_and_their_settings():
    rows = _table(LAYER_TABLE)
    names = [name for key in rows for name in _backticked(key)]
    assert sorted(names) == sorted(LAYERS), "README.md: the layers table"
    schema = json_schema()["$defs"]
    for key, (number, cells) in rows.items():
        for name in _backticked(key):
            settings, text = layer_settings(LAYERS[name]), cells[1]
            where = f"README.md:{number}: {name}"
            if text == "none":
                assert settings == {}, where
                continue
            properties = schema[LAYER_SPECS[name].__name__]["properties"]
            choices = {c for key in settings for c in properties[key].get("enum", [])}
            assert set(_backticked(text)) <= set(settings) | choices, where
            assert choices <= set(_backticked(text)), f"{where}: every choice is listed"
            for setting, parameter in settings.items():
                if parameter.default is parameter.empty:
                    assert f"`{setting}` (required" in text, f"{where}.{setting} is required"
                    continue
                shown = re.search(rf"`{setting}` \(default ([^);,]+)|`{setting}`: `([^`]+)` \(default", text)
                assert shown, f"{where}.{setting} (default {parameter.default}) is not documented"
                assert yaml.safe_load(shown[1] or shown[2]) == parameter.default, \
                    f"{where}.{setting} defaults to {parameter.default}"


def test_readme_error_examples_list_the_registered_names():
    text = README.read_text(encoding="utf-8")
    registries = {"dataset": SOURCES, "layer": LAYERS, "optimizer": OPTIMIZERS, "loss": LOSSES,
                  "initialiser": INITIALIZERS}
    for kind, names in re.findall(r"unknown (\w+) '[^']*'.*?\(choose from: ([^)]*)\)", text):
        assert names == ", ".join(sorted(registries[kind])), f"README.md: unknown {kind} ... (choose from: {names})"
    for names in re.findall(r"training\.\w+: unknown key.*?\(valid keys: ([^)]*)\)", text):
        assert names == ", ".join(TrainingConfig.model_fields)


def test_readme_interval_defaults_are_the_codes():
    from nnfw_cli.config import EVAL_POINTS, SNAPSHOT_POINTS

    rows = _table(FIELDS)
    assert f"about {EVAL_POINTS} " in rows["`training.eval_every`"][1][1]
    assert f"about {SNAPSHOT_POINTS} " in rows["`training.snapshot_every`"][1][1]
