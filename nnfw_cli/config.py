"""The config: YAML -> validated, typed ``Config``, with ``--set`` overrides.

The names a config may use (layers, losses, optimizers, initialisers, datasets) and the settings
of each layer and optimizer come from the registries of ``nnfw_cli.nn`` and ``data.DATASETS``:
registering a layer there is all a config needs to accept it.

Every problem is found before anything runs and reported at once, each as
``FILE:LINE:COLUMN: field.path: what is wrong (got VALUE)``.
"""

from __future__ import annotations

import copy
import difflib
import inspect
import math
import os
import stat
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict, StrictBool, StrictInt,
                      ValidationError, ValidationInfo, create_model, model_serializer, model_validator)

from .data import DATASETS, REAL_DATASETS, SOURCES
from .errors import ConfigError
from .features import MISSING, PLAYGROUND
from .overrides import YAMLLimitError, apply_override, format_path, load_yaml
from .nn import INITIALIZERS, LAYERS, LOSSES, OPTIMIZERS, Layer, Optimizer
from .schedules import MONITORS, SCHEDULES


def did_you_mean(word: str, choices: Any) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or an empty string."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _check_choice(kind: str, choices: Any, value: Any) -> Any:
    """``value`` if it is one of the names ``choices``; else a ValueError with a did-you-mean message."""
    if not isinstance(value, str) or value not in choices:
        names = ", ".join(sorted(choices))
        raise ValueError(f"unknown {kind} {value!r}{did_you_mean(value, choices)} (choose from: {names})")
    return value


def _names(kind: str, choices: Any) -> tuple:
    """Checks (a did-you-mean message) and schema (an enum) for text that names one of ``choices``."""
    return (BeforeValidator(lambda value: _check_choice(kind, choices, value)),
            Field(json_schema_extra={"enum": sorted(choices)}))


def _choice(kind: str, choices: Any) -> Any:
    """Text that must be one of the names ``choices`` (a registry)."""
    return Annotated[(str, *_names(kind, choices))]


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"must be a number (got {str(value).lower()})")
    if isinstance(value, int):
        try:
            float(value)
        except OverflowError:
            raise ValueError(f"must be a finite number (got a whole number of {len(str(abs(value)))} digits)") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"must be a finite number (got {value})")
    return value


def _float(*limits: Any) -> Any:
    """A finite number within ``limits`` (pydantic ``Field`` constraints); a whole number will do.

    ``allow_inf_nan=False`` refuses text that reads as no finite number ('nan', '1e400') before
    the limits are compared, so the message says so instead of "must be <= ...".
    """
    return Annotated[(float, Field(allow_inf_nan=False), *limits, BeforeValidator(_number))]


def _int(*limits: Any) -> Any:
    """A whole number (not a float, text or boolean) within ``limits``."""
    return Annotated[(int, Strict(), *limits)]


Number = _float()


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, types are checked."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


# -- data -------------------------------------------------------------------------------------


def _data_path(value: str, info: ValidationInfo) -> str:
    """``value`` made absolute: relative to the config file's folder when the loader knows it."""
    if "\0" in value:
        raise ValueError(f"a path cannot hold a NUL character (got {value!r})")
    base = (info.context or {}).get("base")
    return os.path.abspath(os.path.join(base, os.path.expanduser(value)) if base else os.path.expanduser(value))



# Settings that apply to some sources only; a resolved config lists them only when set, so the
# resolved config of a generated 2-D set reads as it did before the other sources existed. So
# is validation_fraction, listed only when it is not 0.
_LISTED_WHEN_SET = ("n_samples", "noise", "classes", "path", "target", "features", "delimiter", "missing",
                    "standardize", "seed", "max_rows")


def _generated(name: str) -> bool:
    return name in DATASETS


class DataConfig(Section):
    dataset: _choice("dataset", SOURCES) = "circles"
    path: Annotated[str, Strict(), AfterValidator(_data_path)] | None = Field(
        None, description="csv only: the file; a relative path is relative to the config file")
    target: Annotated[str, Strict()] | None = Field(None, description="csv only: the column of the classes")
    features: list[Annotated[str, Strict()]] | None = Field(
        None, min_length=1, description="csv: the feature columns (default: every other column); generated 2-D "
        f"sets: Playground features of x1, x2 ({', '.join(PLAYGROUND)}; default: the inputs as they are)")
    delimiter: Annotated[str, Strict()] | None = Field(None, min_length=1, max_length=1,
                                                       description="csv only: default: detected")
    missing: Literal[MISSING] | None = Field(None, description="csv only: error | drop | mean, default error")
    n_samples: StrictInt | None = Field(None, ge=4, le=100_000_000, description="generated sets: default 1000")
    noise: _float(Field(ge=0)) | None = Field(None, description="default: the dataset's own")
    factor: _float(Field(gt=0, lt=1)) | None = Field(None, description="circles only: inner/outer radius, default 0.5")
    classes: StrictInt | None = Field(None, ge=2, le=1000, description="blobs and spiral: the number of classes, "
                                      "default 2")
    test_fraction: Number = Field(0.2, gt=0, lt=1)
    validation_fraction: _float(Field(ge=0, lt=1)) = Field(
        0.0, description="the share of the training part held out to choose on (early stopping, best epoch, "
        "plateau schedules); 0: none")
    standardize: StrictBool | None = Field(None, description="default: true for csv and the real sets, false "
                                           "for the generated ones; mean and std from the training rows")
    seed: StrictInt | None = Field(None, ge=0, le=2**32 - 1, description="default: the top-level seed")
    max_rows: StrictInt | None = Field(None, ge=4, le=10_000_000, description="use a stratified sample of at "
                                       "most this many rows (every class keeps 2 or more), drawn before the "
                                       "split; default: every row")

    @model_validator(mode="after")
    def _dataset_defaults(self) -> "DataConfig":
        if _generated(self.dataset):
            if self.noise is None:
                self.noise = DATASETS[self.dataset].default_noise
            if self.factor is None and "factor" in DATASETS[self.dataset].options:
                self.factor = 0.5
            if self.n_samples is None:
                self.n_samples = 1000
        elif self.dataset in SOURCES:
            if self.standardize is None:
                self.standardize = True
            if self.dataset == "csv" and self.missing is None:
                self.missing = "error"
        return self

    @model_serializer(mode="wrap")
    def _listed(self, handler: Any) -> dict[str, Any]:
        listed = _LISTED_WHEN_SET if _generated(self.dataset) else (*_LISTED_WHEN_SET, "factor")
        return {key: value for key, value in handler(self).items()
                if (value is not None or key not in listed) and (key != "validation_fraction" or value)}

    def options(self) -> dict[str, Any]:
        """The dataset-specific settings that are set (``factor`` for circles, ``classes``)."""
        names = DATASETS[self.dataset].options if _generated(self.dataset) else ()
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}

    def n_classes(self) -> int | None:
        """The number of classes, or None where only reading the file tells (csv)."""
        if _generated(self.dataset):
            return self.classes if self.classes is not None else DATASETS[self.dataset].n_classes
        return REAL_DATASETS[self.dataset][2] if self.dataset in REAL_DATASETS else None


# -- layers and optimizers, from the registries of nnfw_cli.nn --------------------------------
#
# A layer's settings are the keyword arguments of its ``from_config`` (or constructor), an
# optimizer's those of its constructor after ``learning_rate``; names, types and defaults come
# from there. What a signature cannot say is below: every key names a registered setting, which
# tests/test_registries.py checks.

LAYER_LIMITS: dict[tuple[str, str], Any] = {
    ("linear", "units"): Field(ge=1, le=100_000),
    ("linear", "init"): _names("initialiser", INITIALIZERS),
    ("leaky_relu", "negative_slope"): Field(ge=0, lt=1),
    ("dropout", "rate"): Field(ge=0, lt=1),
}

OPTIMIZER_LIMITS: dict[tuple[str, str], Any] = {
    **{(name, "momentum"): Field(ge=0, lt=1) for name in ("sgd", "momentum")},
    ("adam", "beta1"): Field(ge=0, lt=1),
    ("adam", "beta2"): Field(ge=0, lt=1),
    ("adam", "epsilon"): Field(gt=0),
    **{(name, "weight_decay"): Field(ge=0) for name in ("sgd", "momentum", "adam")},
}

# The config type of a setting, by the annotation written in nn (text there, as nn modules use
# ``from __future__ import annotations``), made with the setting's limits.
_SETTING_TYPES: dict[Any, Any] = {
    "float": _float, "int": _int, "str": lambda *limits: Annotated[(str, Strict(), *limits)],
    "bool": lambda *limits: Annotated[(bool, Strict(), *limits)],
}


def layer_settings(cls: type) -> dict[str, inspect.Parameter]:
    """The settings a config may give a layer: the keyword arguments of its own ``from_config``,
    or else of its constructor (``in_features`` and ``rng`` come from the model being built)."""
    own = cls.from_config.__func__ is not Layer.from_config.__func__
    signature = inspect.signature(cls.from_config if own else cls.__init__)
    return {name: p for name, p in signature.parameters.items()
            if name not in {"self", "in_features", "rng"} and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def optimizer_settings(cls: type[Optimizer]) -> dict[str, inspect.Parameter]:
    """The settings a config may give an optimizer: its constructor's arguments after ``learning_rate``."""
    parameters = list(inspect.signature(cls.__init__).parameters.values())
    names = [p.name for p in parameters]
    after = names.index("learning_rate") + 1 if "learning_rate" in names else 1
    return {p.name: p for p in parameters[after:] if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _setting_type(owner: str, parameter: inspect.Parameter, limits: tuple) -> Any:
    """The config type of a setting, from its annotation (or its default's type)."""
    annotation = parameter.annotation
    if annotation is parameter.empty and parameter.default is not parameter.empty:
        annotation = type(parameter.default)
    name = getattr(annotation, "__name__", annotation)
    if name not in _SETTING_TYPES:
        raise TypeError(f"{owner}: the setting {parameter.name!r} is annotated {annotation!r}, which a config "
                        f"cannot give (it can give {', '.join(_SETTING_TYPES)})")
    return _SETTING_TYPES[name](*limits)


def _spec(name: str, cls: type, settings: dict[str, inspect.Parameter], limits: dict) -> type[Section]:
    """The config section of one registered layer or optimizer: ``type: name`` and its settings."""
    fields: dict[str, Any] = {"type": (Literal[name], ...)}
    for key, parameter in settings.items():
        limit = limits.get((name, key), ())
        limit = limit if isinstance(limit, tuple) else (limit,)
        kind = _setting_type(f"{cls.__module__}.{cls.__qualname__}", parameter, limit)
        fields[key] = (kind, ... if parameter.default is parameter.empty else parameter.default)
    return create_model(f"{cls.__name__}Spec", __base__=Section, __module__=__name__, **fields)


LAYER_SPECS: dict[str, type[Section]] = {
    name: _spec(name, cls, layer_settings(cls), LAYER_LIMITS) for name, cls in LAYERS.items()
}
OPTIMIZER_SPECS: dict[str, type[Section]] = {
    name: _spec(name, cls, optimizer_settings(cls), OPTIMIZER_LIMITS) for name, cls in OPTIMIZERS.items()
}
LOSS_NAMES = tuple(LOSSES)

# Learning-rate schedules, from ``schedules.SCHEDULES``: a schedule's settings are its
# constructor's arguments after ``epochs``.
SCHEDULE_LIMITS: dict[tuple[str, str], Any] = {
    ("step", "step_size"): Field(ge=1),
    ("step", "gamma"): Field(gt=0, le=1),
    ("exponential", "gamma"): Field(gt=0, le=1),
    ("cosine", "min_lr"): Field(ge=0),
    ("cosine", "warmup_epochs"): Field(ge=0),
    ("plateau", "factor"): Field(gt=0, lt=1),
    ("plateau", "patience"): Field(ge=1),
    ("plateau", "monitor"): _names("monitor", MONITORS),
    ("plateau", "min_delta"): Field(ge=0),
    ("plateau", "min_lr"): Field(ge=0),
}


def schedule_settings(cls: type) -> dict[str, inspect.Parameter]:
    """The settings a config may give a schedule: its constructor's arguments after ``epochs``."""
    parameters = list(inspect.signature(cls.__init__).parameters.values())
    after = [p.name for p in parameters].index("epochs") + 1
    return {p.name: p for p in parameters[after:] if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


SCHEDULE_SPECS: dict[str, type[Section]] = {
    name: _spec(name, cls, schedule_settings(cls), SCHEDULE_LIMITS) for name, cls in SCHEDULES.items()
}


def _tagged(kind: str, specs: dict[str, Any]) -> Any:
    """Expand a bare name to ``{type: name}`` and check the name, before the union picks a class."""

    def expand(value: Any) -> Any:
        if isinstance(value, str):
            value = {"type": value}
        if isinstance(value, dict):
            name = value.get("type")
            if name is None:
                article = "an" if kind[0] in "aeiou" else "a"
                raise ValueError(f"{article} {kind} needs a 'type' (choose from: {', '.join(specs)})")
            _check_choice(kind, specs, name)
        return value

    return BeforeValidator(expand)


def _one_of(kind: str, specs: dict[str, type[Section]]) -> Any:
    """A ``{type: name, ...}`` entry (or a bare name) read as the section registered under that name."""
    return Annotated[Union[tuple(specs.values())], Field(discriminator="type"), _tagged(kind, specs)]


# -- model ------------------------------------------------------------------------------------

LayerSpec = _one_of("layer", LAYER_SPECS)

DEFAULT_LAYERS = [
    {"type": "linear", "units": 16}, "relu", {"type": "linear", "units": 16}, "relu",
    {"type": "linear", "units": 1, "init": "xavier"}, "sigmoid",
]


class ModelConfig(Section):
    layers: list[LayerSpec] = Field(default_factory=lambda: list(DEFAULT_LAYERS), min_length=1)


# -- training ---------------------------------------------------------------------------------

OptimizerSpec = _one_of("optimizer", OPTIMIZER_SPECS)
ScheduleSpec = _one_of("schedule", SCHEDULE_SPECS)


class EarlyStoppingConfig(Section):
    """Stop once ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs."""

    monitor: _choice("monitor", MONITORS) = Field("val_loss", description="val_* need data.validation_fraction > 0")
    patience: StrictInt = Field(10, ge=1, description="epochs without improvement before stopping")
    min_delta: _float(Field(ge=0)) = Field(0.0, description="the least change that counts as an improvement")
    restore_best: StrictBool = Field(True, description="model.npz holds the best epoch's weights "
                                     "(model-last.npz the last ones)")

# Without eval_every or snapshot_every, a run scores the test split about EVAL_POINTS times and
# keeps about SNAPSHOT_POINTS boundary snapshots.
EVAL_POINTS = 40
SNAPSHOT_POINTS = 50


class TrainingConfig(Section):
    optimizer: OptimizerSpec = "adam"  # type: ignore[assignment]
    learning_rate: Number = Field(0.01, gt=0, le=1e6)
    epochs: StrictInt = Field(100, ge=1, le=10_000_000)
    batch_size: StrictInt | None = Field(32, ge=1, description="null: full batch")
    dtype: Literal["float64", "float32"] = "float64"
    eval_every: StrictInt | None = Field(None, ge=1, description="score the test split every N epochs; "
                                         f"default: about {EVAL_POINTS} times over the run")
    snapshot_every: StrictInt | None = Field(None, ge=0, description="boundary snapshot every N epochs, and at "
                                             f"epochs 0 and 1; default: about {SNAPSHOT_POINTS} from epoch 0, "
                                             "spaced on a log scale; 0: off")
    checkpoint_every: StrictInt = Field(0, ge=0, description="write a checkpoint every N epochs; 0: only on interruption")
    threads: StrictInt | None = Field(None, ge=1, le=1024, description="BLAS threads for training and scoring; "
                                      "null: chosen for the work (1 unless a step's products are large)")
    max_seconds: _float(Field(gt=0)) | None = Field(
        None, description="stop at the end of the epoch in which this many seconds of training have passed: "
        "status time_limit, scored and drawn, resumable like an interruption; default: no limit")
    early_stopping: EarlyStoppingConfig | None = Field(None, description="null: train every epoch")
    lr_schedule: ScheduleSpec | None = Field(  # type: ignore[valid-type]
        None, description="null: the learning rate stays as it is")

    @model_serializer(mode="wrap")
    def _listed(self, handler: Any) -> dict[str, Any]:
        return _unless_unset(handler(self), ("threads", "max_seconds", "early_stopping", "lr_schedule"))

    def watches_validation(self) -> bool:
        """Whether early stopping or a plateau schedule chooses by the validation split."""
        monitors = [self.early_stopping.monitor if self.early_stopping else None,
                    getattr(self.lr_schedule, "monitor", None)]
        return any(monitor and monitor.startswith("val_") for monitor in monitors)


    def every(self, value: int | None, points: int) -> int:
        """``value``, or the interval that gives about ``points`` points over the run."""
        return value if value is not None else max(1, math.ceil(self.epochs / points))

    def eval_interval(self) -> int:
        """Epochs between two scorings of the held-out split watched during training: every
        epoch, unless told otherwise, when early stopping or a plateau schedule watches it."""
        if self.eval_every is None and self.watches_validation():
            return 1
        return self.every(self.eval_every, EVAL_POINTS)


def _folder(value: Any) -> Any:
    if isinstance(value, str) and "\0" in value:
        raise ValueError(f"a folder name cannot hold a NUL character (got {value!r})")
    return value


def _expectation(value: str) -> str:
    """An expectation (``gates.parse``), written the one way: ``roc_auc >= 0.99``."""
    from .gates import parse

    return parse(value).check


class OutputConfig(Section):
    dir: Annotated[str, AfterValidator(_folder)] = "outputs"


def _unless_unset(fields: dict[str, Any], optional: tuple[str, ...]) -> dict[str, Any]:
    """``fields`` without the ``optional`` ones that are unset (None): a resolved config lists
    settings that came after run folders were first written only when they are used, so the
    config.yaml of a run that uses none of them is as it always was (and its checkpoints resume)."""
    return {key: value for key, value in fields.items() if value is not None or key not in optional}


class ParentConfig(Section):
    """The run whose weights training starts from (``nnfw train --from RUN`` writes this)."""

    run: Annotated[str, Strict(), AfterValidator(_data_path)] = Field(
        ..., description="a finished run folder; a relative path is relative to the config file")
    fresh_optimizer: StrictBool = Field(False, description="false: the optimizer's state carries on from the run")


class Config(Section):
    """A whole experiment: data, model, loss, training and where to write the run."""

    seed: StrictInt = Field(0, ge=0, le=2**32 - 1)
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    loss: _choice("loss", LOSSES) = "binary_cross_entropy"
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    expect: list[Annotated[str, Strict(), AfterValidator(_expectation)]] = Field(
        default_factory=list, description="what the finished run must reach, such as 'roc_auc >= 0.99': any "
        "number of metrics.json, with >=, >, <= or <; an unmet one exits with 3")
    parent: ParentConfig | None = Field(None, description="null: training starts from the initialisation")

    @model_serializer(mode="wrap")
    def _listed(self, handler: Any) -> dict[str, Any]:
        resolved = _unless_unset(handler(self), ("parent",))
        if not resolved.get("expect"):  # a config without expectations resolves as it did before they existed
            resolved.pop("expect", None)
        return resolved

    def data_seed(self) -> int:
        """The seed the data is drawn and split from: ``data.seed``, else the top-level seed."""
        return self.data.seed if self.data.seed is not None else self.seed

    def resolved(self) -> dict[str, Any]:
        """The config as plain data, with every default filled in (what a run saves)."""
        return self.model_dump(mode="json")


# Where each section's fields live, for "did you mean" on unknown keys (index numbers dropped).
_SECTIONS: dict[tuple, type[BaseModel]] = {
    (): Config, ("data",): DataConfig, ("model",): ModelConfig, ("training",): TrainingConfig,
    ("output",): OutputConfig, ("parent",): ParentConfig, ("training", "early_stopping"): EarlyStoppingConfig,
    **{("model", "layers", tag): spec for tag, spec in LAYER_SPECS.items()},
    **{("training", "optimizer", tag): spec for tag, spec in OPTIMIZER_SPECS.items()},
    **{("training", "lr_schedule", tag): spec for tag, spec in SCHEDULE_SPECS.items()},
}


# -- loading ----------------------------------------------------------------------------------


MAX_CONFIG_BYTES = 1_000_000  # a config is a few hundred bytes; this is far beyond any real one


def load_config(path: str | Path, overrides: tuple[str, ...] | list[str] = ()) -> Config:
    """Read, override and validate the config at ``path``; raises ConfigError listing every problem."""
    path = Path(path)
    raw, root = read_yaml(path)
    if is_sweep(raw):
        raise ConfigError(f"{path}: a sweep file (it has `base:`), not a config: run it with `nnfw sweep {path}`; "
                          f"`nnfw check {path}` checks each of its runs")
    return from_data(raw, overrides, source=str(path), root=root, base=path.resolve().parent)


def is_sweep(raw: Any) -> bool:
    """Whether a YAML file's data is a sweep file's: a mapping with ``base``, which no config has."""
    return isinstance(raw, dict) and "base" in raw


def read_yaml(path: str | Path) -> tuple[Any, yaml.Node | None]:
    """A YAML file's data and node tree (for positions); ConfigError for one that cannot be read."""
    path = Path(path)
    return _parse(path, _read(path))


def from_data(raw: Any, overrides: tuple[str, ...] | list[str] = (), source: str = "<config>",
              root: yaml.Node | None = None, base: str | Path | None = None) -> Config:
    """``load_config`` for a config already read (a sweep's inline base): ``raw`` is changed in place."""
    if raw is None:
        raise ConfigError(f"{source}: the file is empty; a config is a YAML mapping (see `nnfw check --help`)")
    if not isinstance(raw, dict):
        found = "a list" if isinstance(raw, list) else f"the single value {_show(raw)}"
        raise ConfigError(f"{source}: a config must be a YAML mapping of keys to values, not {found}")
    defaults = Config().resolved() if overrides else {}
    set_paths, problems = [], []
    for item in overrides:  # every override that cannot be applied is reported, with what the others leave wrong
        before = copy.deepcopy(raw)
        try:
            set_paths.append(apply_override(raw, item, defaults))
        except ConfigError as exc:
            raw.clear()
            raw.update(before)  # as it was: a path followed part of the way adds nothing
            problems += exc.problems
    if not problems:
        return validate(raw, source=source, root=root, overridden=set_paths, base=base)
    try:
        validate(raw, source=source, root=root, overridden=set_paths, base=base)
    except ConfigError as exc:
        problems += exc.problems
    raise ConfigError(problems)


def _parse(path: Path, text: str) -> tuple[Any, yaml.Node | None]:
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        what = "" if isinstance(exc, YAMLLimitError) else "not valid YAML: "
        if problem == "expected ',' or '}', but got '['":  # {model.layers[0].units: [2, 4]}
            problem += ("; inside { }, a key holding [ ] is quoted, as in {\"model.layers[0].units\": [2, 4]}, "
                        "or written on a line of its own")
        raise ConfigError(f"{where}: {what}{problem}") from None


_FILE_KINDS = {stat.S_ISFIFO: "a named pipe", stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device",
               stat.S_ISSOCK: "a socket"}


def _read(path: Path) -> str:
    """The text of a regular file of at most MAX_CONFIG_BYTES; never waits on a pipe or reads a device."""
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise ConfigError(f"{path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from None
    _check_file(path, info)
    try:
        # O_NONBLOCK: should the path become a pipe after the check, opening it does not wait for a writer.
        with open(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as file:
            _check_file(path, os.fstat(file.fileno()))
            data = file.read(MAX_CONFIG_BYTES + 1)
        _check_file(path, info, size=len(data))
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from None


def _check_file(path: Path, info: os.stat_result, size: int | None = None) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"{path}: is a directory, not a config file")
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _FILE_KINDS.items() if test(info.st_mode)), "not a file")
        raise ConfigError(f"{path}: not a regular file ({kind}); a config is a YAML file")
    size = info.st_size if size is None else size
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: too large for a config ({size:,} bytes; at most {MAX_CONFIG_BYTES:,})")


def validate(
    raw: dict[str, Any], source: str = "<config>", root: yaml.Node | None = None, overridden: list[tuple] = (),
    base: str | Path | None = None,
) -> Config:
    """Validate plain data as a ``Config``; every problem is reported at once.

    ``base`` is the folder a relative ``data.path`` is read from (the config file's); without
    it, the working directory.
    """
    try:
        config = Config.model_validate(raw, context={"base": str(base) if base is not None else None})
    except ValidationError as exc:
        problems = [_describe(error) for error in exc.errors()]
        raise ConfigError(_located(problems, source, root, overridden)) from None
    problems = check_model(config)
    if problems:
        raise ConfigError(_located(problems, source, root, overridden))
    return config


def _located(problems: list[tuple[tuple, str]], source: str, root: Any, overridden: list[tuple]) -> list[str]:
    lines, keys = [], {}
    for loc, message in problems:
        mark = None
        # An override is to blame for a problem at its path, below it, or on the way to it.
        if any(loc[: len(p)] == p or (loc and p[: len(loc)] == loc) for p in overridden):
            where = f"{source} (--set {format_path(loc)})"
        else:
            mark = _mark(root, loc, at_key=message.startswith("unknown key"), keys=keys)
            where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        position = (mark.line, mark.column) if mark else (-1, -1)
        lines.append((position, f"{where}: {format_path(loc) or 'config'}: {message}"))
    return [text for _, text in sorted(lines, key=lambda item: item[0])]


def problems_of(errors: list[dict[str, Any]], source: str, root: Any, sections: dict[tuple, type[BaseModel]]) -> list[str]:
    """Every problem of another file validated with pydantic (a sweep file), written as a config's
    are: ``FILE:LINE:COLUMN: field.path: what is wrong (got VALUE)``. ``sections`` maps the path of
    each section (``()`` for the top; ``"*"`` for any key) to its model, for "did you mean"."""
    return _located([_describe(error, sections) for error in errors], source, root, [])


def _section(sections: dict[tuple, type[BaseModel]], path: tuple) -> type[BaseModel]:
    for key, model in sections.items():
        if len(key) == len(path) and all(k in ("*", p) for k, p in zip(key, path)):
            return model
    return sections[()]


def _describe(error: dict[str, Any], sections: dict[tuple, type[BaseModel]] | None = None) -> tuple[tuple, str]:
    """The location (tags of unions dropped) and a plain-words message of a pydantic error."""
    loc = _schema_loc(error["loc"])
    kind, ctx, value = error["type"], error.get("ctx", {}), error.get("input")
    if kind == "extra_forbidden":
        sections = sections or _SECTIONS
        section = tuple(p for p in error["loc"][:-1] if not isinstance(p, int))
        fields = _section(sections, section).model_fields
        return loc, f"unknown key{did_you_mean(loc[-1], fields)} (valid keys: {', '.join(fields)})"
    if kind == "value_error":
        return loc, str(ctx.get("error", error["msg"]))
    if kind == "invalid_key":  # the location ends with the key itself
        return loc[:-1], f"keys must be text (got {_show(value)})"
    shown = {k: f"{v:g}" if isinstance(v, float) else v for k, v in ctx.items()}
    message = _MESSAGES.get(kind, "{msg}").format(msg=error["msg"], **shown)
    if kind in ("missing", "too_short"):
        return loc, message
    if isinstance(value, (dict, list)):
        message += f" (got a {'mapping' if isinstance(value, dict) else 'list'})"
    else:
        message += f" (got {_show(value)})"
    return loc, message


_MESSAGES = {
    "missing": "required, but missing",
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "string_type": "must be a text value",
    "model_type": "must be a mapping of keys to values",
    "model_attributes_type": "must be a mapping of keys to values",
    "dict_type": "must be a mapping of keys to values",
    "list_type": "must be a list",
    "too_short": "must not be empty",
    "union_tag_not_found": "needs a 'type'",
}


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, str) else str(value)


def _schema_loc(loc: tuple) -> tuple:
    """Drop the union-member tags pydantic inserts (``model.layers.2.linear.units``).

    A tag is the part right after a layer's index or after ``optimizer``; a setting with the
    name of a tag stays (``training.optimizer.sgd.momentum`` -> ``training.optimizer.momentum``).
    """
    out: list = []
    for i, part in enumerate(loc):
        before = tuple(p for p in loc[:i] if not isinstance(p, int))
        layer_tag = before == ("model", "layers") and isinstance(loc[i - 1], int) and part in LAYER_SPECS
        optimizer_tag = before == ("training", "optimizer") and loc[i - 1] == "optimizer" and part in OPTIMIZER_SPECS
        schedule_tag = before == ("training", "lr_schedule") and loc[i - 1] == "lr_schedule" and part in SCHEDULE_SPECS
        if not (layer_tag or optimizer_tag or schedule_tag):
            out.append(part)
    return tuple(out)


def _mark(node: Any, loc: tuple, at_key: bool = False, keys: dict | None = None) -> Any:
    """The YAML position of the value at ``loc``, or of its key with ``at_key``.

    ``keys`` keeps each mapping's keys by text, found once per mapping for all the problems
    of a config (a scan per problem took minutes for a file of many unknown keys).
    """
    keys = {} if keys is None else keys
    mark = node.start_mark if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            if id(node) not in keys:  # the last of equal keys, as in the data (merged keys come first)
                keys[id(node)] = {k.value: (k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)}
            match = keys[id(node)].get(str(part))
            if match is None:
                return mark
            mark, node = match[0].start_mark, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            mark = node.start_mark
        else:
            return mark
    return mark if at_key or node is None else node.start_mark


# -- checks across fields ---------------------------------------------------------------------

# The output activation each loss is computed with (from the logits), by name.
_OUTPUT_ACTIVATION = {name: loss.activation.name for name, loss in LOSSES.items() if loss.activation is not None}


def check_model(config: Config) -> list[tuple[tuple, str]]:
    """Problems a field alone cannot show: a network that cannot fit its loss or its data."""
    problems: list[tuple[tuple, str]] = []
    layers = config.model.layers
    if not any(spec.type == "linear" for spec in layers):
        problems.append((("model", "layers"), "needs at least one linear layer"))
    elif config.data.n_classes() is not None:
        problems += _check_head(config, config.data.n_classes())
    wanted = _OUTPUT_ACTIVATION.get(config.loss)
    if wanted and layers[-1].type != wanted:
        problems.append(
            (("model", "layers", len(layers) - 1),
             f"{config.loss} needs a {wanted} as the last layer (got {layers[-1].type}); add `- {wanted}`")
        )
    problems += _check_data(config.data)
    problems += _check_training(config)
    return problems


def _check_training(config: Config) -> list[tuple[tuple, str]]:
    """What early stopping and a schedule watch exists, and a cosine that ends below where it starts."""
    problems = []
    training, schedule = config.training, config.training.lr_schedule
    watchers = [(("training", "early_stopping", "monitor"), training.early_stopping),
                (("training", "lr_schedule", "monitor"), schedule)]
    for loc, section in watchers:
        monitor = getattr(section, "monitor", None)
        if monitor and monitor.startswith("val_") and config.data.validation_fraction == 0:
            problems.append((loc, f"{monitor} is scored on the validation split, and there is none: set "
                                  "data.validation_fraction (for example 0.2), or monitor train_loss"))
    if schedule is not None and schedule.type == "cosine" and schedule.min_lr > training.learning_rate:
        problems.append((("training", "lr_schedule", "min_lr"),
                         f"must be at most training.learning_rate ({training.learning_rate:g}) (got {schedule.min_lr:g})"))
    if schedule is not None and schedule.type == "cosine" and schedule.warmup_epochs >= training.epochs:
        problems.append((("training", "lr_schedule", "warmup_epochs"),
                         f"must be fewer than training.epochs ({training.epochs}): the rate would never reach "
                         f"training.learning_rate (got {schedule.warmup_epochs})"))
    return problems


def _check_head(config: Config, n_classes: int) -> list[tuple[tuple, str]]:
    """The loss and the width of the last linear layer against the number of classes."""
    layers = config.model.layers
    last = [i for i, spec in enumerate(layers) if spec.type == "linear"][-1]
    if n_classes > 2 and config.loss != "cross_entropy":
        return [(("loss",), f"{config.loss} fits two classes, and the data has {n_classes}: use cross_entropy, "
                            f"with a last linear layer of {n_classes} units and a softmax")]
    width = n_classes if config.loss == "cross_entropy" else 1
    if layers[last].units == width:
        return []
    return [(("model", "layers", last, "units"),
             f"the last linear layer must have {width} unit{'s' * (width > 1)} for {config.loss} "
             f"on {n_classes} classes (got {layers[last].units})")]


def check_classes(config: Config, n_classes: int, source: str = "<config>") -> None:
    """Raise a ConfigError if the model's head does not fit ``n_classes``, known once a CSV is read."""
    problems = _check_head(config, n_classes) if any(s.type == "linear" for s in config.model.layers) else []
    if problems:
        where = f" ({config.data.path})" if config.data.path else ""
        raise ConfigError([f"{line}; the data{where} has {n_classes} classes"
                           for line in _located(problems, source, None, [])])


# Which data settings apply to which sources, for the messages of _check_data.
_ONLY_FOR = {
    "path": ("csv",), "target": ("csv",), "delimiter": ("csv",), "missing": ("csv",),
    "classes": tuple(name for name, d in DATASETS.items() if "classes" in d.options),
    "n_samples": tuple(DATASETS), "noise": tuple(DATASETS),
}


def _check_data(data: DataConfig) -> list[tuple[tuple, str]]:
    """Settings that do not apply to the dataset, missing ones, and the file named."""
    problems = []
    for key, sources in _ONLY_FOR.items():
        if getattr(data, key) is not None and data.dataset not in sources:
            problems.append((("data", key), f"only {' and '.join(sources)} take{'s' * (len(sources) == 1)} "
                                            f"{key} (dataset is {data.dataset})"))
    if data.dataset == "csv":
        problems += [(("data", key), "required for dataset: csv") for key in ("path", "target")
                     if getattr(data, key) is None]
        if data.path is not None:
            problems += _check_data_file(data.path)
    elif data.features is not None and data.dataset in REAL_DATASETS:
        problems.append((("data", "features"), f"{data.dataset} has its own features; features apply to csv "
                                               "and the generated 2-D sets"))
    elif data.features is not None:
        for i, name in enumerate(data.features):
            if name not in PLAYGROUND:
                problems.append((("data", "features", i), f"unknown Playground feature {name!r}"
                                 f"{did_you_mean(name, PLAYGROUND)} (choose from: {', '.join(PLAYGROUND)})"))
    for i, name in enumerate(data.features or []):
        if name in data.features[:i]:  # a column (or a Playground feature) taken twice
            problems.append((("data", "features", i), f"{name!r} is listed twice (also at "
                                                      f"data.features[{data.features.index(name)}]); list each once"))
    if data.dataset in DATASETS:
        problems += _check_split(data, data.n_classes())
    if data.max_rows is not None and data.n_classes() is not None:  # a CSV's classes are counted when it is read
        problems += _too_few(data, "max_rows", data.max_rows, data.n_classes())
    return problems


def _too_few(data: DataConfig, key: str, rows: int, n_classes: int) -> list[tuple[tuple, str]]:
    """A problem at ``data.<key>`` if ``rows`` rows cannot hold out test_fraction with every class on both sides."""
    n_test = math.ceil(rows * data.test_fraction)
    if n_test >= n_classes and rows - n_test >= n_classes:
        return []
    return [(("data", key), f"too small to hold out test_fraction={data.test_fraction} with every class on "
                            f"both sides (got {rows})")]


def _check_data_file(path: str) -> list[tuple[tuple, str]]:
    """The CSV a config names exists and is a regular file (it is read, and checked, at load time)."""
    try:
        info = os.stat(path)
    except OSError:
        return [(("data", "path"), f"no such file: {path}")]
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else \
            next((name for test, name in _FILE_KINDS.items() if test(info.st_mode)), "not a file")
        return [(("data", "path"), f"not a regular file ({kind}): {path}")]
    return []


def _check_split(data: DataConfig, n_classes: int) -> list[tuple[tuple, str]]:
    problems = _too_few(data, "n_samples", data.n_samples, n_classes)
    n_test = math.ceil(data.n_samples * data.test_fraction)
    n_validation = math.ceil((data.n_samples - n_test) * data.validation_fraction)
    if not problems and data.validation_fraction and (n_validation < n_classes
                                                      or data.n_samples - n_test - n_validation < n_classes):
        problems.append((("data", "validation_fraction"),
                         f"leaves a validation split or a training part without every class: {data.n_samples} "
                         f"samples, {data.n_samples - n_test} for training (got {data.validation_fraction})"))
    if data.factor is not None and "factor" not in DATASETS[data.dataset].options:
        problems.append((("data", "factor"), f"only the circles dataset takes a factor (dataset is {data.dataset})"))
    return problems


def dump_yaml(config: Config) -> str:
    """The resolved config as YAML, in the order of the schema.

    libyaml's dumper where PyYAML has it: a run writes its config in a fifth of the time. It
    breaks long quoted strings at other places than PyYAML's own; both read back the same.
    """
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(config.resolved(), Dumper=dumper, sort_keys=False, default_flow_style=False)


def json_schema() -> dict[str, Any]:
    """The config's JSON Schema, with the names each field accepts, for editors to complete."""
    schema = Config.model_json_schema()
    properties = {name: defs["properties"] for name, defs in schema["$defs"].items()}
    layers = properties["ModelConfig"]["layers"]
    layers["items"] = {"anyOf": [{"enum": sorted(LAYER_SPECS)}, layers["items"]]}
    optimizer = properties["TrainingConfig"]["optimizer"]
    properties["TrainingConfig"]["optimizer"] = {"anyOf": [{"enum": sorted(OPTIMIZER_SPECS)}, optimizer],
                                                 "default": optimizer.get("default", "adam")}
    schedule = properties["TrainingConfig"]["lr_schedule"]
    schedule["anyOf"].insert(0, {"enum": sorted(name for name, spec in SCHEDULE_SPECS.items()
                                                if not any(f.is_required() for f in spec.model_fields.values()
                                                           if f is not spec.model_fields["type"]))})
    return schema
