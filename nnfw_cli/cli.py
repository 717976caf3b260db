"""The ``nnfw`` command: parse, call the library, report; errors become exit codes here alone."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import click

from .errors import ConfigError, NnfwError, TrainingDiverged, TrainingInterrupted

EPILOG_TRAIN = """\b
Examples:
  nnfw train configs/circles.yaml
  nnfw train configs/moons.yaml --set training.epochs=200 --set model.layers[0].units=32
  nnfw train configs/circles.yaml --json | jq .metrics.roc_auc
"""


class UserError(click.ClickException):
    """A bad config, file or option: one message on stderr, exit code 2."""

    exit_code = 2


class RunFailed(click.ClickException):
    """A run that started but could not finish (exit 1, or 130/143 on a signal)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class NnfwGroup(click.Group):
    """Turns the library's exceptions into click errors, in this one place."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TrainingDiverged as exc:
            raise RunFailed(str(exc), 1) from None
        except TrainingInterrupted as exc:
            raise RunFailed(str(exc), exc.exit_code) from None
        except NnfwError as exc:
            raise UserError(str(exc)) from None


@click.group(cls=NnfwGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="nnfw", message="nnfw %(version)s")
def main() -> None:
    """Train small numpy neural networks from YAML configs, and look at what they learned.

    \b
    Quick start:
      nnfw train configs/circles.yaml     # train; writes outputs/circles-<time>/
      nnfw check configs/circles.yaml     # validate a config and show it resolved
    """


config_argument = click.argument("config_path", metavar="CONFIG", type=click.Path(path_type=Path))
set_option = click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE",
    help="Override a config value, e.g. --set training.epochs=50 (repeatable).",
)


@main.command(epilog=EPILOG_TRAIN)
@config_argument
@set_option
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path), help="Folder for run folders [default: the config's output.dir].")
@click.option("--name", help="Name of the run folder [default: <config>-<date>-<time>].")
@click.option("--seed", type=click.IntRange(min=0), help="Seed for data, initialisation and shuffling.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (run folder and metrics) on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the result.")
def train(config_path: Path, overrides: tuple[str, ...], output_dir: Path | None, name: str | None,
          seed: int | None, as_json: bool, quiet: bool) -> None:
    """Train the model CONFIG describes and write a run folder.

    The run folder holds the resolved config, the model, the history, the metrics on the
    held-out data (ROC AUC first) and the pictures.
    """
    from .experiment import train as run_training

    config = _load(config_path, overrides, output_dir=output_dir, seed=seed)
    if name is not None and (not name or "/" in name or name in {".", ".."}):
        raise UserError(f"--name {name!r}: a run name must be a plain folder name")
    reporter = None if quiet or as_json and not sys.stderr.isatty() else _Progress(config.training.epochs)
    try:
        run = run_training(config, stem=config_path.stem, name=name, progress=reporter)
    finally:
        if reporter is not None:
            reporter.close()
    _report(run.run_dir, run.metrics, as_json)


@main.command(epilog="\b\nExample:\n  nnfw check configs/circles.yaml --set training.epochs=10")
@config_argument
@set_option
def check(config_path: Path, overrides: tuple[str, ...]) -> None:
    """Validate CONFIG and print it resolved (every default filled in), without training."""
    from .config import dump_yaml

    click.echo(dump_yaml(_load(config_path, overrides)), nl=False)
    click.echo(f"{config_path}: valid", err=True)


@main.command()
def schema() -> None:
    """Print the config's JSON Schema (for editors that check and complete YAML)."""
    from .config import Config

    click.echo(json.dumps(Config.model_json_schema(), indent=2))


def _load(path: Path, overrides: tuple[str, ...], output_dir: Path | None = None, seed: int | None = None) -> Any:
    from .config import load_config

    extra = list(overrides)
    if output_dir is not None:
        extra.append(f"output.dir={json.dumps(str(output_dir))}")
    if seed is not None:
        extra.append(f"seed={seed}")
    return load_config(path, extra)


def _report(run_dir: Path, metrics: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"run_dir": str(run_dir), "metrics": metrics}))
        return
    click.echo(f"run folder: {run_dir}")
    width = max(len(key) for key in metrics)
    for key, value in metrics.items():
        shown = f"{value:.6g}" if isinstance(value, float) else value
        click.echo(f"  {key:<{width}}  {shown}")


class _Progress:
    """A bar with the loss and test AUC on a terminal; a plain line every tenth of the run elsewhere."""

    def __init__(self, epochs: int) -> None:
        self.epochs, self.auc = epochs, math.nan
        self.interactive = sys.stderr.isatty()
        self.bar = None
        if self.interactive:
            self.bar = click.progressbar(length=epochs, label="training", file=sys.stderr,
                                         item_show_func=lambda text: text, show_pos=True)
            self.bar.__enter__()

    def __call__(self, logs: dict) -> None:
        self.auc = logs.get("val_roc_auc", self.auc)
        epoch = logs["epoch"]
        text = f"loss {logs['train_loss']:.4g}  test AUC {self.auc:.4f}"
        if self.bar is not None:
            self.bar.update(1, current_item=text)
        elif epoch == self.epochs or epoch % max(1, self.epochs // 10) == 0:
            click.echo(f"epoch {epoch:>{len(str(self.epochs))}}/{self.epochs}  {text}", err=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
