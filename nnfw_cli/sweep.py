"""Seeds and sweeps: expand a sweep file into runs, run them on a ``concurrent.futures`` executor
(a local process pool, or a Dask cluster's), and summarise them as their results arrive.

A run is one pure function of its resolved config (``run_task``): a worker trains it in a
folder of its own, with ``experiment.train`` as ``nnfw train`` does, and sends the run folder's
files back; the client writes them under ``<sweep>/runs/``. So a worker needs nnfw, not the
client's file system. Every run has an id, a hash of its resolved config (seed included):
``nnfw sweep --resume`` runs the points whose id has no finished row in summary.csv.

The library never prints: ``run_plan`` calls back with each result, and the command line
reports it.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import copy
import csv
import io
import itertools
import math
import os
import re
import shutil
import statistics
import tempfile
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, Callable, Iterable, Union

import yaml
from pydantic import (BaseModel, ConfigDict, Discriminator, Field, StrictBool, StrictInt, Tag, ValidationError,
                      ValidationInfo, field_validator, model_validator)

from . import runs
from .errors import ConfigError, NnfwError, RunError

PLAN, SUMMARY, PICTURE, SWEEP_COPY, RUNS = "points.json", "summary.csv", "sweep.png", "sweep.yaml", "runs"
FINISHED = ("completed", "diverged")  # a finished run is not run again on --resume; failed and pending ones are
COLLAPSED_AUC = 0.55  # a two-class run whose held-out ROC AUC is at most this learned (next to) nothing
# What a sweep may rank its points by: the metrics a run's metrics.json has (f1_macro and
# log_loss: more than two classes), and its training time.
METRICS = ("roc_auc", "roc_auc_thresholded", "accuracy", "loss", "f1_macro", "log_loss", "train_seconds")
LOWER_IS_BETTER = ("loss", "log_loss", "train_seconds")
MAX_RUNS = 100_000


# -- seeds --------------------------------------------------------------------------------------


def parse_seeds(value: Any) -> list[int]:
    """``"0-9"``, ``"0,3,7"``, ``"0-4,10"``, ``5`` or ``[0, 1, 2]`` -> a list of distinct seeds, in order."""
    if isinstance(value, bool):
        raise ValueError(f"seeds must be a list of whole numbers or text like 0-9 or 0,3,7 (got {value})")
    if isinstance(value, int):
        items: list[Any] = [value]
    elif isinstance(value, list):
        items = value
    elif isinstance(value, str):
        items = []
        for part in value.replace(" ", "").split(","):
            match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
            if not match:
                raise ValueError(f"{part!r} in {value!r} is not a seed or a range like 0-9 (write 0-9 or 0,3,7)")
            low, high = int(match[1]), int(match[2] or match[1])
            if high < low:
                raise ValueError(f"the range {part!r} runs backwards (write {high}-{low})")
            if high - low >= MAX_RUNS:
                raise ValueError(f"the range {part!r} holds more than {MAX_RUNS:,} seeds")
            items += range(low, high + 1)
    else:
        raise ValueError(f"seeds must be a list of whole numbers or text like 0-9 or 0,3,7 (got {value!r})")
    for seed in items:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= 2**32 - 1:
            raise ValueError(f"each seed is a whole number from 0 to 2**32-1 (got {seed!r})")
    if not items:
        raise ValueError("the list of seeds is empty")
    return list(dict.fromkeys(items))


# -- the sweep file -------------------------------------------------------------------------------


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _key_path(key: str) -> str:
    from .overrides import parse_path

    try:
        parse_path(key)
    except ConfigError:
        raise ValueError(f"{key!r} is not a key path like training.learning_rate or model.layers[0].units") from None
    return key


def is_seed(key: str) -> bool:
    """Whether the key path names the config's top-level seed."""
    from .overrides import parse_path

    try:
        return tuple(parse_path(key)) == ("seed",)
    except ConfigError:
        return False


class Range(_Section):
    """Numbers drawn uniformly from [low, high]; on a log scale with ``log``; whole numbers when
    both ends are written as whole numbers."""

    low: float | StrictInt
    high: float | StrictInt
    log: StrictBool = False

    @model_validator(mode="after")
    def _ordered(self) -> "Range":
        if not all(math.isfinite(v) for v in (self.low, self.high)):
            raise ValueError("low and high must be finite numbers")
        if self.high < self.low:
            raise ValueError(f"high must be >= low (got low {self.low}, high {self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range needs low > 0 (got {self.low})")
        return self

    def whole(self) -> bool:
        return isinstance(self.low, int) and isinstance(self.high, int)


def _range_or_list(value: Any) -> str:
    return "list" if isinstance(value, list) else "range"


class Random(_Section):
    n: StrictInt = Field(ge=1, le=MAX_RUNS, description="points drawn")
    seed: StrictInt = Field(0, ge=0, le=2**32 - 1, description="of the draws, so that a sweep expands the same way again")
    space: dict[str, Annotated[Union[Annotated[Range, Tag("range")], Annotated[list[Any], Tag("list")]],
                               Discriminator(_range_or_list)]] = Field(min_length=1)

    @field_validator("space")
    @classmethod
    def _keys(cls, space: dict[str, Any]) -> dict[str, Any]:
        for key, values in space.items():
            _key_path(key)
            if isinstance(values, list) and not values:
                raise ValueError(f"{key}: the list of values is empty")
        return space


class SweepFile(_Section):
    """What a sweep file holds; every field is optional but ``base``."""

    name: Any = None
    base: Any = Field(description="a config file (relative to the sweep file) or a config")
    set: dict[str, Any] = Field(default_factory=dict, description="settings changed in every run, as --set does")
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    random: Random | None = None
    seeds: Any = None
    metric: Any = "roc_auc"
    mode: Any = None
    pictures: StrictBool = False

    @field_validator("name")
    @classmethod
    def _plain_name(cls, name: Any) -> str | None:
        if name is None:
            return None
        if not isinstance(name, str) or not re.fullmatch(r"[\w.+-]{1,100}", name) or name in (".", ".."):
            raise ValueError(f"a name is up to 100 letters, digits and . _ + - (got {name!r})")
        return name

    @field_validator("base")
    @classmethod
    def _base(cls, base: Any) -> str | dict[str, Any]:
        if isinstance(base, str) and base.strip() and "\0" not in base or isinstance(base, dict):
            return base
        raise ValueError(f"base is a config file (a path relative to the sweep file) or a config, a mapping "
                         f"(got {base!r})")

    @field_validator("metric")
    @classmethod
    def _metric(cls, metric: Any) -> str:
        from .config import did_you_mean

        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}{did_you_mean(metric, METRICS)} (choose from: "
                             f"{', '.join(METRICS)})")
        return metric

    @field_validator("set")
    @classmethod
    def _set(cls, settings: dict[str, Any]) -> dict[str, Any]:
        for key in settings:
            _key_path(key)
        return settings

    @field_validator("grid")
    @classmethod
    def _grid(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in grid.items():
            _key_path(key)
            if not values:
                raise ValueError(f"{key}: the list of values is empty")
        return grid

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, seeds: Any, info: ValidationInfo) -> Any:
        if seeds is None:
            return None
        random = info.data.get("random")
        for where, keys in (("set", info.data.get("set", {})), ("grid", info.data.get("grid", {})),
                            ("random.space", random.space if isinstance(random, Random) else {})):
            if any(is_seed(key) for key in keys):
                raise ValueError(f"sets each run's seed, and {where} sets seed too; drop seed from {where}, "
                                 "or drop seeds:")
        return parse_seeds(seeds)

    @field_validator("mode")
    @classmethod
    def _mode(cls, mode: Any) -> str | None:
        if mode not in (None, "max", "min"):
            raise ValueError(f"mode is max (higher is better) or min (got {mode!r})")
        return mode


_SWEEP_SECTIONS = {(): SweepFile, ("random",): Random, ("random", "space", "*"): Range}


# -- expanding a sweep ----------------------------------------------------------------------------


@dataclass
class Point:
    """One run of a sweep: a point of the search (its ``group``) at one seed."""

    index: int                   # position in the sweep, from 0
    group: int                   # the runs of one group differ only in their seed
    overrides: dict[str, Any]    # swept key -> value
    seed: int | None             # None: the base config's own
    id: str = ""                 # hash of the resolved config, seed included
    name: str = ""               # its folder under runs/
    config: dict[str, Any] = field(default_factory=dict)  # resolved

    def settings(self) -> list[str]:
        """The point's ``--set`` items, ``seed=`` last."""
        items = [f"{key}={yaml_value(value)}" for key, value in self.overrides.items()]
        return items + ([f"seed={self.seed}"] if self.seed is not None else [])

    def label(self) -> str:
        """``training.learning_rate=0.01 model.layers[0].units=8 seed=1``, for people."""
        return " ".join(self.settings()) or "the base config"


@dataclass
class Plan:
    """A sweep expanded: every run, validated, and how to rank them."""

    name: str
    kind: str                       # "sweep" or "seeds"
    keys: list[str]                 # the swept keys, in order
    metric: str
    mode: str                       # "max" or "min"
    pictures: bool
    points: list[Point]
    base: str | None = None         # the base config file, for the command that re-runs a point by hand
    base_overrides: list[str] = field(default_factory=list)  # --set items given with --seeds
    dropped: int = 0                # runs that repeated an earlier one's resolved config

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "points": [asdict(point) for point in self.points]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Plan":
        return cls(**{**data, "points": [Point(**point) for point in data["points"]]})


class _WholeDumper(yaml.SafeDumper):
    """Writes a value met twice (an anchor and its alias in a sweep file) in full each time."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def yaml_value(value: Any) -> str:
    """``value`` as ``--set`` reads it back unchanged (``1.0e-05``, not ``1e-05``, which YAML reads
    as text), and without YAML's ``&id001``/``*id001`` for a part it meets twice."""
    text = yaml.dump(value, Dumper=_WholeDumper, default_flow_style=True, width=2**20).strip()
    return text[:-3].strip() if text.endswith("\n...") else text


def runs_yaml(plan: Plan) -> str:
    """Each run of the plan and its settings (the swept keys' values, then its seed), as YAML."""
    runs_ = {point.name: {**point.overrides, **({"seed": point.seed} if point.seed is not None else {})}
             for point in plan.points}
    return yaml.dump(runs_, Dumper=_WholeDumper, sort_keys=False, default_flow_style=None, width=2**20)


def read_sweep_file(path: str | Path) -> tuple[SweepFile, Any, Any]:
    """The validated sweep file, its base config as plain data, and the node of the base (for positions)."""
    from .config import problems_of, read_yaml

    path = Path(path)
    raw, root = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a sweep file is a YAML mapping with at least `base:` (see `nnfw sweep --help`)")
    if "base" not in raw and {"data", "model", "training"} & set(raw):
        raise ConfigError(f"{path}: a config, not a sweep file (a sweep file names its config in `base:`): train it "
                          f"with `nnfw train {path}`, or its seeds with `nnfw train {path} --seeds 0-4`")
    try:
        spec = SweepFile.model_validate(raw)
    except ValidationError as exc:
        errors = [{**error, "loc": _untagged(error["loc"])} for error in exc.errors()]
        raise ConfigError(problems_of(errors, str(path), root, _SWEEP_SECTIONS)) from None
    if isinstance(spec.base, dict):
        return spec, spec.base, _child(root, "base")
    base = path.parent / os.path.expanduser(spec.base)
    if not base.exists():
        raise ConfigError(_no_base(path, root, spec.base, base))
    base_raw, base_root = read_yaml(base)
    return spec, base_raw, base_root


def _no_base(path: Path, root: Any, written: str, base: Path) -> str:
    """The message for a base config that is not there, at its place in the sweep file; where the
    path names a file from the current folder instead, what to write to name it."""
    node = _child(root, "base")
    where = f"{path}:{node.start_mark.line + 1}:{node.start_mark.column + 1}" if node is not None else str(path)
    here = Path(os.path.expanduser(written))
    message = f"{where}: base: {base}: no such file"
    if here.is_absolute():
        return message
    message += " (a base path is relative to the sweep file's folder)"
    if here.is_file():
        with contextlib.suppress(ValueError):  # no relative path between two drives (Windows)
            message += f"; for {here}, write base: {Path(os.path.relpath(here.resolve(), path.resolve().parent)).as_posix()}"
    return message


def _untagged(loc: tuple) -> tuple:
    """A location without the tag pydantic puts after a key of random.space (``range``, ``list``)."""
    tagged = loc[:2] == ("random", "space") and len(loc) > 3 and loc[3] in ("range", "list")
    return loc[:3] + loc[4:] if tagged else loc


def _child(node: Any, key: str) -> Any:
    for key_node, value in getattr(node, "value", []):
        if getattr(key_node, "value", None) == key:
            return value
    return None


def load_sweep(path: str | Path) -> Plan:
    """Read, expand and validate the sweep file at ``path``; ConfigError if it or any point is wrong."""
    path = Path(path)
    spec, base_raw, base_root = read_sweep_file(path)
    base_file = None if isinstance(spec.base, dict) else Path(os.path.normpath(path.parent / os.path.expanduser(spec.base)))
    source = str(base_file) if base_file is not None else f"{path} (base)"
    base_dir = (base_file or path).resolve().parent
    points = expand(spec)
    mode = spec.mode or ("min" if spec.metric in LOWER_IS_BETTER else "max")
    plan = Plan(spec.name or path.stem, "sweep", swept_keys(spec), spec.metric, mode, spec.pictures, points,
                base=str(base_file) if base_file is not None else None,
                base_overrides=[f"{key}={yaml_value(value)}" for key, value in spec.set.items()])
    resolve(plan, base_raw, source, base_root, base_dir, str(path))
    return plan


def swept_keys(spec: SweepFile) -> list[str]:
    keys = list(spec.grid)
    keys += [key for key in (spec.random.space if spec.random else {}) if key not in keys]
    return keys


def expand(spec: SweepFile) -> list[Point]:
    """The grid's combinations, then the random draws, each at every seed (not yet validated)."""
    groups: list[dict[str, Any]] = []
    if spec.grid:
        groups += [dict(zip(spec.grid, values)) for values in itertools.product(*spec.grid.values())]
    if spec.random is not None:
        groups += draw(spec.random)
    groups = groups or [{}]
    seeds: list[int | None] = list(spec.seeds) if spec.seeds is not None else [None]
    if len(groups) * len(seeds) > MAX_RUNS:
        raise ConfigError(f"the sweep expands to {len(groups) * len(seeds):,} runs; at most {MAX_RUNS:,}")
    return [Point(index=g * len(seeds) + s, group=g, overrides=overrides, seed=seed)
            for g, overrides in enumerate(groups) for s, seed in enumerate(seeds)]


def draw(random: Random) -> list[dict[str, Any]]:
    """``random.n`` points from its space, the same ones for the same seed: numbers rounded to 4
    significant digits (so that a point reads well and re-runs by hand), whole numbers where both
    ends of a range are whole."""
    import numpy as np

    rng = np.random.default_rng(random.seed)
    points = []
    for _ in range(random.n):
        point: dict[str, Any] = {}
        for key, space in random.space.items():
            if isinstance(space, list):
                point[key] = space[int(rng.integers(len(space)))]
                continue
            low, high = (math.log(space.low), math.log(space.high)) if space.log else (space.low, space.high)
            if space.whole() and not space.log:
                point[key] = int(rng.integers(space.low, space.high + 1))
            elif space.whole():  # log-uniform, rounded
                point[key] = int(min(max(round(math.exp(rng.uniform(low, high))), space.low), space.high))
            else:
                value = rng.uniform(low, high)
                point[key] = float(f"{math.exp(value) if space.log else value:.4g}")
        points.append(point)
    return points


def resolve(plan: Plan, base_raw: Any, source: str, root: Any, base_dir: Path, sweep_source: str) -> None:
    """Validate every point's config (all of them, before anything runs), give each its id and folder
    name, and drop repeats of an earlier point's config; ConfigError listing the points that fail."""
    from .config import from_data
    from .experiment import config_id  # a run's id: its resolved config (seed included) but where it goes

    problems: dict[str, list[Point]] = {}
    seen: set[str] = set()
    kept = []
    for point in plan.points:
        try:
            config = from_data(copy.deepcopy(base_raw), [*plan.base_overrides, *point.settings()],
                               source=source, root=root, base=base_dir)
        except ConfigError as exc:
            problems.setdefault(str(exc), []).append(point)
            continue
        point.config = config.resolved()
        point.id = config_id(config)
        if point.id not in seen:
            seen.add(point.id)
            kept.append(point)
    if problems:
        raise ConfigError(_invalid_points(problems, len(plan.points), sweep_source))
    plan.dropped = len(plan.points) - len(kept)
    plan.points = kept
    _name_runs(plan)


def _invalid_points(problems: dict[str, list[Point]], total: int, source: str) -> list[str]:
    count = sum(len(points) for points in problems.values())
    lines = [f"{source}: {count} of {total} runs are not valid configs; nothing was run:"]
    for message, points in problems.items():
        more = f" and {len(points) - 1} more with the same problem" if len(points) > 1 else ""
        lines.append(f"  run {points[0].index + 1} ({points[0].label()}){more}:")
        lines += [f"    {line}" for line in message.splitlines()]
    return lines


def _name_runs(plan: Plan) -> None:
    groups = len({point.group for point in plan.points})
    seeded = any(point.seed is not None for point in plan.points)
    width = max(3, len(str(max((point.group for point in plan.points), default=0))))
    for point in plan.points:
        parts = [f"p{point.group:0{width}d}"] if plan.kind == "sweep" and groups > 1 else []
        parts += [f"seed{point.seed}" if parts else f"seed-{point.seed}"] if seeded else []
        point.name = "-".join(parts) or "run"


def seed_plan(config_path: str | Path, overrides: list[str], seeds: list[int], pictures: bool = True) -> Plan:
    """``nnfw train CONFIG --seeds ...``: the config once per seed, validated."""
    from .config import read_yaml

    path = Path(config_path)
    raw, root = read_yaml(path)
    points = [Point(index=i, group=0, overrides={}, seed=seed) for i, seed in enumerate(seeds)]
    plan = Plan(path.stem, "seeds", [], "roc_auc", "max", pictures, points, base=str(path),
                base_overrides=list(overrides))
    resolve(plan, raw, str(path), root, path.resolve().parent, str(path))
    return plan


# -- the sweep folder -------------------------------------------------------------------------------


def create_sweep_dir(plan: Plan, root: str | Path, sweep_file: str | Path | None = None,
                     folder_name: str | None = None) -> Path:
    """A new folder for the sweep under ``root`` (``<name>-<YYYYmmdd-HHMMSS>``, or ``folder_name``),
    holding the plan (``points.json``), a copy of the sweep file and ``runs/``; each point's
    output.dir is set to that ``runs/``."""
    folder = runs.create_run_dir(root, plan.name, folder_name)
    for point in plan.points:
        point.config["output"] = {**point.config.get("output", {}), "dir": str(folder / RUNS)}
    (folder / RUNS).mkdir()
    if sweep_file is not None:
        runs.write_text(folder / SWEEP_COPY, Path(sweep_file).read_text(encoding="utf-8"))
    runs.write_json(folder / PLAN, plan.to_json())
    return folder


def read_plan(sweep_dir: str | Path) -> Plan:
    """The plan of an earlier sweep, for --resume; RunError for a folder that holds none."""
    sweep_dir = Path(sweep_dir)
    if not (sweep_dir / PLAN).is_file():
        raise RunError(f"{sweep_dir}: not a sweep folder (it has no {PLAN}); give the folder `nnfw sweep` "
                       "printed, such as outputs/sweeps/<name>-<date>-<time>")
    data = runs.read_json(sweep_dir / PLAN)
    try:
        plan = Plan.from_json(data)
    except KeyError as exc:
        raise RunError(f"{sweep_dir / PLAN}: not a plan nnfw wrote: no {exc} in it") from None
    except (TypeError, AttributeError) as exc:
        raise RunError(f"{sweep_dir / PLAN}: not a plan nnfw wrote: {exc}") from None
    if plan.metric not in METRICS or plan.mode not in ("max", "min"):
        raise RunError(f"{sweep_dir / PLAN}: not a plan nnfw wrote: it ranks by {plan.metric!r}, {plan.mode!r} "
                       f"(a metric of {', '.join(METRICS)}; max or min)")
    return plan


# -- running ----------------------------------------------------------------------------------------


@dataclass
class Task:
    """What a worker needs to make one run, all of it plain data (it may cross machines)."""

    id: str
    name: str
    config: dict[str, Any]
    provenance: dict[str, Any]
    pictures: bool


@dataclass
class Result:
    """A run as its worker finished it: status, metrics, and the run folder's files."""

    id: str
    status: str                        # completed, diverged or failed
    metrics: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0               # wall time in the worker, all of the run


_PREPARED = False


def _prepare_worker() -> None:
    """Once per worker process: BLAS gets one thread and a run's pictures are drawn one after
    the other (a sweep runs one run per core), and scikit-learn skips checking the arguments nnfw
    passes it (its metrics check them at every call, a small run's test split at every epoch;
    the numbers are the same)."""
    global _PREPARED
    if not _PREPARED:
        import sklearn
        from threadpoolctl import threadpool_limits

        from . import beside

        threadpool_limits(limits=1)
        beside.ENABLED = False
        sklearn.set_config(skip_parameter_validation=True)
        _PREPARED = True


def _scratch() -> str | None:
    """Where a worker writes a run before sending it: memory (/dev/shm) where there is such a
    folder, as the files are read back at once and thrown away; else the usual temporary folder."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


RUN_FOLDER = "<the run's folder>"  # in a worker's message, where the client writes the run


def run_task(task: Task) -> Result:
    """Train one run, as ``nnfw train`` does, in a temporary folder; return its files.

    Runs in a worker process, local or on a Dask worker. A run that diverges comes back with its
    files and the message; one that fails otherwise (a config the data does not fit, too large a
    network) with the message; anything else is raised, and the client records it.
    """
    from .config import Config
    from .errors import TrainingDiverged
    from .experiment import train

    _prepare_worker()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nnfw-run-", dir=_scratch()) as tmp:
        folder = Path(tmp) / task.name
        folder.mkdir()
        try:
            config = Config.model_validate(task.config)
            run = train(config, provenance=task.provenance, folder=folder, pictures=task.pictures)
            status, metrics, error = "completed", run.metrics, None
        except TrainingDiverged as exc:
            metrics = runs.read_json(folder / runs.METRICS) if (folder / runs.METRICS).is_file() else {}
            status, error = "diverged", str(exc).replace(str(folder), RUN_FOLDER)  # the client knows where it goes
        except NnfwError as exc:
            return Result(task.id, "failed", error=str(exc), seconds=time.perf_counter() - started)
        files = {path.name: path.read_bytes() for path in sorted(folder.iterdir())
                 if path.is_file() and not path.name.startswith(".")}
    return Result(task.id, status, runs.json_safe(metrics), files, error, time.perf_counter() - started)


def _worker_init(client: int, folder: str | None = None) -> None:
    """A local worker: Ctrl-C is the client's to handle (it lets runs in progress finish); one BLAS
    thread; and it ends itself if the client process ``client`` is gone (killed with kill -9): a pool's
    worker otherwise waits for work forever, as it holds both ends of its own queue. ``folder``,
    the client's multiprocessing folder (the forkserver's socket), is then removed: the client
    cannot do it any more."""
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_end_with, args=(client, folder), name="nnfw-client-watch", daemon=True).start()
    _prepare_worker()


def _end_with(client: int, folder: str | None = None, every: float = 1.0) -> None:
    while runs.process_alive(client):
        time.sleep(every)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
    os._exit(1)


class LocalRunner:
    """A pool of local worker processes (``concurrent.futures.ProcessPoolExecutor``)."""

    kind = "local"

    def __init__(self, workers: int, pictures: bool = False) -> None:
        """Make the pool; its processes start with the first runs. Where they fork from a
        forkserver (``pool.worker_context``), that one is started now if it is not yet: a sweep
        found wrong then starts no worker, and waits for none."""
        from .pool import worker_context

        self.workers = workers
        self.context = worker_context(pictures)
        self.executor = self._start()

    def _start(self) -> cf.Executor:
        from .pool import forkserver_folder

        return cf.ProcessPoolExecutor(self.workers, mp_context=self.context, initializer=_worker_init,
                                      initargs=(os.getpid(), forkserver_folder()))

    def window(self, remaining: int) -> int:
        return self.workers  # no more in flight than workers: a broken pool implicates only runs in progress

    def describe(self) -> str:
        return f"{self.workers} local worker{'s' * (self.workers > 1)}"

    def renew(self) -> None:
        """A new pool after a worker process died (the old one is broken)."""
        self.close(cancel=True)
        self.executor = self._start()

    def close(self, cancel: bool = False) -> None:
        """Shut the pool down; with ``cancel``, at once: runs in progress are ended with their processes."""
        if cancel:
            # the pool's own processes (Python 3.14 has terminate_workers for this); the pool then
            # finds them gone and ends its own thread, which the shutdown below waits for, so that
            # nothing of the pool is left when the command ends
            for process in list((getattr(self.executor, "_processes", None) or {}).values()):
                with contextlib.suppress(OSError, AttributeError, ValueError):
                    process.terminate()
        self.executor.shutdown(wait=True, cancel_futures=cancel)


class DaskRunner:
    """The workers of a Dask cluster, through ``Client(address).get_executor()``."""

    kind = "dask"

    def __init__(self, address: str, timeout: float | None = None) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise RunError("--scheduler needs Dask: pip install 'nnfw[dask]' (dask and distributed), here and "
                           "on every worker") from None
        try:
            _parse_address(address)  # before a Client: one that fails half made lingers in the process
            self.client = Client(address, timeout=CONNECT_SECONDS if timeout is None else timeout)
        except (OSError, TimeoutError) as exc:
            raise RunError(f"--scheduler {address}: cannot reach the Dask scheduler: {exc}") from None
        except (ValueError, TypeError) as exc:  # an address Dask cannot use: no port, an unknown scheme, TLS unset
            raise RunError(f"--scheduler {address}: not an address Dask can connect to ({exc}); a scheduler "
                           f"prints its address as it starts, such as tcp://192.168.1.10:8786") from None
        self.address = address
        self.executor = self.client.get_executor(pure=False)
        self.threads, self.asked = 1, -math.inf  # the cluster's threads, and when the scheduler said so

    def window(self, remaining: int) -> int:
        # as many as the cluster has threads now (workers may come and go): Ctrl-C then leaves only
        # runs in progress to finish, and the next run goes out as soon as one comes back. Asked
        # again after THREADS_SECONDS: each asking is a round trip to the scheduler, and this is
        # wanted at every run sent and every result
        if time.monotonic() - self.asked >= THREADS_SECONDS:
            self.threads, self.asked = max(1, sum(self.client.nthreads().values())), time.monotonic()
        return self.threads

    def describe(self) -> str:
        threads = sum(self.client.nthreads().values())
        return f"Dask scheduler {self.address} ({threads} worker thread{'s' * (threads != 1)} now)"

    def renew(self) -> None:
        pass  # a lost worker breaks nothing else: the scheduler goes on with the others

    def close(self, cancel: bool = False) -> None:
        with contextlib.suppress(Exception):  # noqa: BLE001 - a scheduler already gone
            self.executor.shutdown(wait=not cancel)
        with contextlib.suppress(Exception):  # noqa: BLE001
            self.client.close()


CONNECT_SECONDS = 20.0  # to reach a Dask scheduler before giving up
THREADS_SECONDS = 1.0  # how long a Dask cluster's count of threads is taken as it was


def _parse_address(address: str) -> None:
    """A ValueError for an address Dask cannot use (no port, an unknown scheme), read as Dask reads it."""
    try:
        from distributed.comm.addressing import parse_address, parse_host_port
        from distributed.comm.registry import get_backend
    except ImportError:  # another version of Dask: its Client says what is wrong
        return
    scheme, location = parse_address(address)
    get_backend(scheme)
    if scheme in ("tcp", "tls", "ws", "wss"):
        parse_host_port(location)

_LOST = {"BrokenProcessPool", "BrokenExecutor", "KilledWorker", "CommClosedError"}


def _lost(exc: BaseException) -> bool:
    """Whether ``exc`` says a worker was lost (killed, out of memory, its machine gone), not the run's own failure."""
    return any(cls.__name__ in _LOST for cls in type(exc).__mro__)


@dataclass
class Stop:
    """Set ``signum`` (from a signal handler) to start no more runs; runs in progress finish."""

    signum: int | None = None


def run_plan(plan: Plan, sweep_dir: Path, runner: Any, report: Callable[["Row", int, int], None],
             stop: Stop | None = None, fail_fast: bool = False, command: str = "",
             function: Callable[[Task], Result] = run_task, begin: Callable[[int], None] | None = None) -> "Summary":
    """Run the plan's unfinished points on ``runner``; write each result as it arrives (its run
    folder, then summary.csv); ``begin(left)`` with the number of runs to make, then
    ``report(row, done, total)`` after each. Returns the summary.

    A run whose worker was lost is submitted once more, then recorded as failed. With
    ``fail_fast`` the first failure stops the sweep as ``stop`` does: no more runs start, the
    ones in progress finish. The sweep folder is locked meanwhile. The caller closes ``runner``
    (at once, ``runner.close(cancel=True)``, if this raises: runs may be in progress).
    """
    stop = stop or Stop()
    with runs.lock(sweep_dir):
        summary = Summary.read(plan, sweep_dir)
        todo = deque(point for point in plan.points if summary.rows[point.id].status not in FINISHED)
        summary.write()
        if begin is not None:
            begin(len(todo))
        loop = _Loop(runner, function, {point.id: _task(plan, point, command) for point in todo}, summary, report)
        try:
            loop.run(todo, stop, fail_fast)
        finally:
            summary.write()
    return summary


class _Loop:
    """Submit runs, at most ``runner.window`` at a time, and record each result as it comes."""

    def __init__(self, runner: Any, function: Callable[[Task], Result], tasks: dict[str, Task], summary: "Summary",
                 report: Callable[["Row", int, int], None]) -> None:
        self.runner, self.function, self.tasks, self.summary, self.report = runner, function, tasks, summary, report
        self.inflight: dict[cf.Future, Point] = {}
        self.strikes: Counter = Counter()
        self.done, self.total, self.failed = 0, len(tasks), False

    def run(self, todo: deque, stop: Stop, fail_fast: bool) -> None:
        stopping = lambda: stop.signum is not None or (fail_fast and self.failed)  # noqa: E731
        while todo or self.inflight:
            if stopping():
                todo.clear()
            broken = self._submit(todo)
            finished, _ = cf.wait(list(self.inflight), timeout=None if broken else 0.2,
                                  return_when=cf.ALL_COMPLETED if broken else cf.FIRST_COMPLETED)
            outcomes = [(point, _outcome(future, point)) for future, point in
                        ((future, self.inflight.pop(future)) for future in finished)]
            lost = [point for point, result in outcomes if result is None]
            self.failed = self.failed or any(result is not None and result.status != "completed"
                                             for _, result in outcomes)
            if not (broken or lost or stopping()):
                self._submit(todo)  # the next runs start while the client writes these ones' files
            for point, result in outcomes:
                if result is not None:
                    self._record(point, result)
            for point in lost:  # submitted once more, then failed
                self.strikes[point.id] += 1
                if self.strikes[point.id] < 2 and not stopping():
                    todo.appendleft(point)
                else:
                    self._record(point, Result(point.id, "failed", error="its worker was lost twice (killed, out of "
                                                                         "memory, or its machine gone)"))
            if (broken or lost) and self.runner.kind == "local":
                self.runner.renew()  # a local pool whose process died is broken for good


    def _submit(self, todo: deque) -> bool:
        """Submit what the window allows; True if the executor is broken (a local worker died).

        A run in progress when a local worker died is run again alone: the pool breaks for all
        the runs in progress, and only alone does a second death say which run it was.
        """
        while todo and len(self.inflight) < self.runner.window(len(todo)):
            if self.runner.kind == "local" and (self._alone() or self.strikes[todo[0].id] and self.inflight):
                break
            point = todo.popleft()
            try:
                future = self.runner.executor.submit(self.function, self.tasks[point.id])
            except cf.BrokenExecutor:
                todo.appendleft(point)
                return True
            self.inflight[future] = point
        return False

    def _alone(self) -> bool:
        return any(self.strikes[point.id] for point in self.inflight.values())

    def _record(self, point: Point, result: Result) -> None:
        self.done += 1
        row = self.summary.record(point, result)
        self.failed = self.failed or row.status != "completed"
        self.report(row, self.done, self.total)


def _task(plan: Plan, point: Point, command: str) -> Task:
    provenance = {"command": command, "overrides": [*plan.base_overrides, *point.settings()],
                  "sweep": {"name": plan.name, "kind": plan.kind, "id": point.id, "run": point.name}}
    if plan.base is not None:
        provenance["rerun"] = " ".join(["nnfw train", _quote(plan.base),
                                        *(f"--set {_quote(item)}" for item in provenance["overrides"])])
    return Task(point.id, point.name, point.config, provenance, plan.pictures)


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _outcome(future: cf.Future, point: Point) -> Result | None:
    """The future's result; a failure of the run itself as a failed Result; None for a lost worker."""
    try:
        result = future.result()
    except cf.CancelledError:
        return Result(point.id, "failed", error="cancelled")
    except BaseException as exc:  # noqa: BLE001 - whatever a run raised is recorded, and the sweep goes on
        if _lost(exc):
            return None
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return Result(point.id, "failed", error=f"{type(exc).__name__}: {exc}")
    return result


# -- the summary ------------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of summary.csv: a run, its point and seed, metrics, seconds and status."""

    point: Point
    status: str = "pending"
    metrics: dict[str, Any] = field(default_factory=dict)
    seconds: float | None = None
    error: str = ""
    run: str = ""

    def value(self, metric: str) -> float | None:
        value = self.metrics.get(metric)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
            and math.isfinite(value) else None

    def collapsed(self) -> bool:
        """A run that learned (next to) nothing: diverged, or a held-out ROC AUC near 0.5."""
        if self.status == "diverged":
            return True
        auc = self.value("roc_auc")
        return self.status == "completed" and auc is not None and auc <= COLLAPSED_AUC


class Summary:
    """Every run of a sweep as summary.csv holds it, rewritten whole (atomically) after each result."""

    def __init__(self, plan: Plan, sweep_dir: Path) -> None:
        self.plan, self.sweep_dir = plan, Path(sweep_dir)
        self.rows = {point.id: Row(point) for point in plan.points}
        self.metrics: list[str] = []
        self.data_files: dict[str, str] = {}  # a data file's path -> the SHA-256 the sweep's runs read

    @classmethod
    def read(cls, plan: Plan, sweep_dir: Path) -> "Summary":
        """The summary so far (none yet: every run pending); a finished row whose run folder is gone,
        or whose metrics.json cannot be read (a machine that crashed as it was written), is pending."""
        summary = cls(plan, sweep_dir)
        path = summary.sweep_dir / SUMMARY
        table: list[dict[str, Any]] = []
        with contextlib.suppress(RunError, OSError, UnicodeDecodeError, csv.Error):  # the run folders say it too
            if path.is_file():
                with runs.open_regular(path, limit=runs.MAX_TEXT_BYTES) as handle:
                    table = list(csv.DictReader(io.StringIO(handle.read().decode("utf-8"))))
        fixed = {"id", "seed", "seconds", "status", "error", "run", *plan.keys}
        for line in table:
            row = summary.rows.get(line.get("id", ""))
            if row is None:
                continue
            names = [name for name in line if name not in fixed]
            summary.metrics += [name for name in names if name not in summary.metrics]
            row.status, row.error, row.run = line.get("status") or "pending", line.get("error") or "", line.get("run") or ""
            row.metrics = {name: _number(line[name]) for name in names if line[name] not in ("", None)}
            row.seconds = _number(line.get("seconds") or "")
            if row.status in FINISHED:
                metrics = None
                with contextlib.suppress(RunError):
                    metrics = runs.read_json(summary.sweep_dir / RUNS / row.run / runs.METRICS) if row.run else None
                if not isinstance(metrics, dict) or metrics.get("status") not in FINISHED:
                    row.status = "pending"  # its folder gone, or its metrics.json unreadable
                else:
                    summary._same_data(row.point, metrics)
        summary._found_in_folders()
        return summary

    def _found_in_folders(self) -> None:
        """Finished runs whose rows summary.csv does not have (it is gone or unreadable, or the
        client ended between a run's folder and its row), from their folders' metrics.json, which
        names each run's point."""
        folder = self.sweep_dir / RUNS
        known = {row.run for row in self.rows.values() if row.run}
        pending = any(row.status not in FINISHED for row in self.rows.values())
        for run in sorted(folder.iterdir()) if pending and folder.is_dir() else []:
            if run.name in known:
                continue
            metrics = None
            with contextlib.suppress(RunError, OSError):
                metrics = runs.read_json(run / runs.METRICS)
            point = metrics.get("provenance", {}).get("sweep", {}) if isinstance(metrics, dict) else {}
            row = self.rows.get(point.get("id")) if isinstance(point, dict) else None
            if row is None or row.status in FINISHED or metrics.get("status") not in FINISHED:
                continue
            row.status, row.run, row.metrics = metrics["status"], run.name, _numbers_of(metrics)
            self.metrics += [name for name in row.metrics if name not in self.metrics]
            self._same_data(row.point, metrics)

    def record(self, point: Point, result: Result) -> Row:
        """Write the run's folder, then its row; returns the row."""
        row = self.rows[point.id]
        row.status, row.error, row.seconds = result.status, (result.error or "").strip(), round(result.seconds, 3)
        row.metrics = _numbers_of(result.metrics)
        self.metrics += [name for name in row.metrics if name not in self.metrics]
        other = self._same_data(point, result.metrics) if row.status in FINISHED else None
        if other is not None:
            row.status, row.error = "failed", other
        if result.files:
            folder = _free_folder(self.sweep_dir / RUNS, point.name)
            for name, data in result.files.items():
                with runs.atomic_path(folder / name, sync=False) as tmp:  # summary.csv, written next, is synced
                    tmp.write_bytes(data)
            row.run, row.error = folder.name, row.error.replace(RUN_FOLDER, str(folder))
        self.write()
        return row

    def _same_data(self, point: Point, metrics: Any) -> str | None:
        """Note the SHA-256 of the data file a finished run read; if the sweep's runs read another
        version of that file before (it differs between Dask workers, or it changed during the
        sweep), what to say instead of the run's results."""
        path = point.config.get("data", {}).get("path")
        sha = metrics.get("data_sha256") if isinstance(metrics, dict) else None
        if not isinstance(path, str) or not isinstance(sha, str):
            return None
        seen = self.data_files.setdefault(path, sha)
        if seen == sha:
            return None
        return (f"{path}: this run read a version of it (sha256 {sha[:12]}...) other than the sweep's earlier runs "
                f"({seen[:12]}...): the file differs between workers, or changed during the sweep, and the results "
                "would not compare; the run's folder is kept")

    def write(self) -> None:
        keys = self.plan.keys
        header = ["id", *keys, "seed", *self.metrics, "seconds", "status", "error", "run"]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        for row in sorted(self.rows.values(), key=lambda r: r.point.index):
            point = row.point
            writer.writerow([point.id, *(_cell(point.overrides[k]) if k in point.overrides else "" for k in keys),
                             point.seed if point.seed is not None else point.config.get("seed", ""),
                             *(_cell(row.metrics.get(name)) for name in self.metrics),
                             "" if row.seconds is None else row.seconds, row.status, row.error.splitlines()[0]
                             if row.error else "", row.run])
        runs.write_text(self.sweep_dir / SUMMARY, buffer.getvalue())

    def counts(self) -> Counter:
        return Counter(row.status for row in self.rows.values())

    def groups(self) -> list["Group"]:
        """The points of the sweep with their runs' metric over seeds, best first."""
        by_group: dict[int, list[Row]] = {}
        for row in sorted(self.rows.values(), key=lambda r: r.point.index):
            by_group.setdefault(row.point.group, []).append(row)
        groups = [Group(rows, self.plan.metric) for rows in by_group.values()]
        sign = -1 if self.plan.mode == "max" else 1
        return sorted(groups, key=lambda g: (g.mean is None, sign * (g.mean or 0.0),
                                             math.inf if g.loss is None else g.loss, g.rows[0].point.index))


def _numbers_of(metrics: dict[str, Any]) -> dict[str, Any]:
    """The figures of a run's metrics (numbers, and None for one it has no value of) for its row."""
    return {key: value for key, value in metrics.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool) or value is None}


def _free_folder(root: Path, name: str) -> Path:
    """``root/name``, made new: ``name-2``, ``name-3``, ... if taken (a run done again on --resume)."""
    for attempt in range(1, 1000):
        path = root / (name if attempt == 1 else f"{name}-{attempt}")
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
    raise RunError(f"{root}: no free folder name for {name}")


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, (dict, list, bool)) or value is None:
        return yaml_value(value)
    return value


def _number(text: str) -> float | int | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None


TIE_BREAK = "loss"  # points with the same mean of the sweep's metric rank by their mean loss, lowest first


@dataclass
class Group:
    """A point of the sweep and its runs (one per seed): the metric's mean, standard deviation, min
    and max, and the mean loss (``TIE_BREAK``) that ranks points with the same mean."""

    rows: list[Row]
    metric: str

    def __post_init__(self) -> None:
        values = [row.value(self.metric) for row in self.rows if row.status == "completed"]
        self.values = [v for v in values if v is not None]
        self.mean = statistics.fmean(self.values) if self.values else None
        self.std = statistics.stdev(self.values) if len(self.values) > 1 else None
        self.low = min(self.values) if self.values else None
        self.high = max(self.values) if self.values else None
        losses = [row.value(TIE_BREAK) for row in self.rows if row.status == "completed"]
        losses = [v for v in losses if v is not None]
        self.loss = statistics.fmean(losses) if losses and self.metric != TIE_BREAK else None

    @property
    def overrides(self) -> dict[str, Any]:
        return self.rows[0].point.overrides


def metric_stats(rows: Iterable[Row], metrics: list[str]) -> dict[str, dict[str, float | None]]:
    """Mean, standard deviation (n - 1), min and max of each metric over the completed runs."""
    done = [row for row in rows if row.status == "completed"]
    stats = {}
    for name in metrics:
        values = [v for v in (row.value(name) for row in done) if v is not None]
        stats[name] = {"mean": statistics.fmean(values) if values else None,
                       "std": statistics.stdev(values) if len(values) > 1 else None,
                       "min": min(values) if values else None, "max": max(values) if values else None,
                       "n": len(values)}
    return stats


_PREPARING: list[Any] = []  # the thread of prepare_pictures, if one was started


def prepare_pictures() -> None:
    """Import matplotlib and draw a first, thrown-away picture (``plots.warm_up``) in a thread
    while the client waits for results: it takes a second or so, and the client is idle meanwhile.
    ``pictures_ready`` waits for it (matplotlib is not for two threads at once)."""
    import threading

    def prepare() -> None:
        with contextlib.suppress(Exception):  # only a head start: sweep.png says what is wrong, if anything
            from . import plots

            plots.warm_up()

    thread = threading.Thread(target=prepare, name="nnfw-pictures", daemon=True)
    thread.start()
    _PREPARING.append(thread)


def pictures_ready() -> None:
    """Wait for ``prepare_pictures``'s thread, if it runs."""
    while _PREPARING:
        _PREPARING.pop().join()


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1



# -- reporting (text for the command line to print) -------------------------------------------------

SHOWN = ("roc_auc", "roc_auc_thresholded", "accuracy", "f1_macro", "loss", "log_loss", "train_seconds")


def progress_line(row: Row, done: int, total: int, metric: str, elapsed: float | None = None,
                  left: float | None = None) -> str:
    """``[ 3/24] p001-seed0  roc_auc 0.9987  1.2 s  0:04 elapsed  ETA 0:29  training.learning_rate=0.01
    seed=0``: the times if given the seconds ``elapsed`` since the sweep started and those ``left``
    (``time_left``)."""
    from .progress import clock

    width = len(str(total))
    head = f"[{done:>{width}}/{total}] {row.point.name}"
    times = ""
    if elapsed is not None:
        times = f"  {clock(elapsed)} elapsed" + (f"  ETA {clock(left)}" if left is not None and done < total else "")
    if row.status == "failed":
        return f"{head}  failed: {(row.error or 'unknown error').splitlines()[0]}{times}  ({row.point.label()})"
    value = row.value(metric)
    shown = f"{metric} {value:.4f}" if value is not None else f"{metric} n/a"
    flag = "  diverged" if row.status == "diverged" else ("  collapsed" if row.collapsed() else "")
    return f"{head}  {shown}  {row.seconds or 0:.1f} s{flag}{times}  {row.point.label()}"


def time_left(done: int, total: int, parallel: int, run_seconds: float) -> float:
    """The seconds a sweep has left after ``done`` of its ``total`` results: the runs left at the
    mean of the runs' own seconds (``run_seconds``, those done summed), ``parallel`` at a time.
    Not the pace of the results since the sweep started, which counts the workers' start (0:12
    left, at 2 of 24 small runs, for 2 s)."""
    return (total - done) * run_seconds / done / parallel


def _number_text(value: float | None, spec: str = ".4f") -> str:
    return "n/a" if value is None else format(value, spec)


def count_line(summary: Summary) -> str:
    counts = summary.counts()
    parts = [f"{counts[status]} {status}" for status in ("completed", "diverged", "failed", "pending") if counts[status]]
    total = sum(counts.values())
    return f"{total} run{'s' * (total != 1)}: {', '.join(parts)}"


def best_lines(summary: Summary, picture: Path | None, top: int = 5) -> list[str]:
    """The sweep folder, the counts, and the best points by the sweep's metric (mean ± std over
    seeds, and the worst seed's value: the min of a score, the max of a loss)."""
    plan = summary.plan
    lines = [f"sweep folder: {summary.sweep_dir}", f"  {count_line(summary)}; summary.csv"
             + (f", {picture.name}" if picture is not None else "")]
    groups = [group for group in summary.groups() if group.mean is not None]
    seeds = max((len(group.rows) for group in groups), default=1)
    spread = f" (mean ± std over {seeds} seeds)" if seeds > 1 else ""
    word = "highest" if plan.mode == "max" else "lowest"
    shown = groups[:top]
    same = Counter(group.mean for group in groups)
    tied = any(same[group.mean] > 1 and group.loss is not None for group in shown)
    ties = f"; equal ones by their mean {TIE_BREAK}, lowest first" if tied else ""
    lines.append(f"best points by {plan.metric}, {word} first{spread}{ties}:" if groups else "no point completed")
    for rank, group in enumerate(shown, start=1):
        value = _number_text(group.mean)
        if seeds > 1:
            count = f"{len(group.values)} run{'s' * (len(group.values) != 1)}"
            worst = ("min", group.low) if plan.mode == "max" else ("max", group.high)  # the unluckiest seed
            value += f" ± {_number_text(group.std)}  ({worst[0]} {_number_text(worst[1])}, {count})"
        if tied:
            value += f"  {TIE_BREAK} {_number_text(group.loss, '.4g'):<9}"
        lines.append(f"  {rank}. {value}  {' '.join(group.rows[0].point.settings()[:len(group.overrides)]) or 'base'}")
    return lines


def seed_lines(summary: Summary, picture: Path | None) -> list[str]:
    """One line per seed, then mean ± std and min of each metric, then the runs that collapsed."""
    rows = sorted(summary.rows.values(), key=lambda r: r.point.index)
    names = [name for name in SHOWN if name in summary.metrics]
    width = max(len(row.run or row.point.name) for row in rows)
    lines = [f"group folder: {summary.sweep_dir}"]
    lines.append("  " + "  ".join([f"{'run':<{width}}", f"{'status':<9}", *(f"{n:>10}" for n in names)]))
    for row in rows:
        cells = [f"{row.run or row.point.name:<{width}}", f"{row.status:<9}",
                 *(f"{_number_text(row.value(n), '.4g' if n in ('loss', 'log_loss') else '.4f'):>{max(10, len(n))}}"
                   for n in names)]
        lines.append("  " + "  ".join(cells) + ("  <- collapsed" if row.collapsed() else ""))
    stats = metric_stats(rows, names)
    done = stats[names[0]]["n"] if names else 0
    lines.append(f"over {done} completed run{'s' * (done != 1)}: mean ± std (min .. max)")
    for name in names:
        entry = stats[name]
        spec = ".4g" if name in ("loss", "log_loss") else ".4f"
        lines.append(f"  {name:<20} {_number_text(entry['mean'], spec)} ± {_number_text(entry['std'], spec)}  "
                     f"({_number_text(entry['min'], spec)} .. {_number_text(entry['max'], spec)})")
    collapsed = [row for row in rows if row.collapsed()]
    if collapsed:
        which = ", ".join(f"seed {row.point.seed} ({'diverged' if row.status == 'diverged' else 'ROC AUC ' + _number_text(row.value('roc_auc'))})"
                          for row in collapsed)
        lines.append(f"collapsed: {len(collapsed)} of {len(rows)} runs learned (next to) nothing: {which}")
    if picture is not None:
        lines.append(f"picture: {picture}")
    return lines


def json_report(summary: Summary, picture: Path | None) -> dict[str, Any]:
    """What --json prints: the folder, counts, every run and the points best first."""
    plan = summary.plan
    rows = sorted(summary.rows.values(), key=lambda r: r.point.index)
    names = [name for name in summary.metrics]
    return runs.json_safe({
        "sweep_dir": str(summary.sweep_dir), "summary": str(summary.sweep_dir / SUMMARY),
        "picture": str(picture) if picture is not None else None, "metric": plan.metric, "mode": plan.mode,
        "counts": dict(summary.counts()),
        "runs": [{"id": row.point.id, "run_dir": str(summary.sweep_dir / RUNS / row.run) if row.run else None,
                  "overrides": row.point.overrides, "seed": row.point.seed, "status": row.status,
                  "collapsed": row.collapsed(), "metrics": row.metrics, "error": row.error or None} for row in rows],
        "stats": metric_stats(rows, [name for name in SHOWN if name in names]),
        "best": [{"overrides": group.overrides, "mean": group.mean, "std": group.std, "min": group.low,
                  "max": group.high, "n": len(group.values), TIE_BREAK: group.loss}
                 for group in summary.groups() if group.mean is not None],
    })
