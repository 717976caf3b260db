"""The ``nnfw`` command: parse, call the library, report; errors become exit codes here alone."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sys
from pathlib import Path
from typing import Any, Iterator

import click

from .errors import NnfwError, TrainingDiverged, TrainingInterrupted


class UserError(click.ClickException):
    """A bad config, file or option: one message on stderr, exit code 2."""

    exit_code = 2


class RunFailed(click.ClickException):
    """A run that started but could not finish (exit 1, or 128 + the signal number)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Stopped(KeyboardInterrupt):
    """A signal that stops a command at once (exit 128 + ``signum``), with a message saying what was kept."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum


class NnfwGroup(click.Group):
    """Turns the library's exceptions into click errors, in this one place.

    Beyond nnfw's own: a file-system error (a read-only folder, a full disk) is one message and
    exit 2, as a bad file is; Ctrl-C exits 130 and SIGTERM 143. A reader that goes away
    (``nnfw train ... | head -1``) is not an error: what is left to print is dropped, the command
    ends its work, and the exit code is 0, as the work did not fail.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TrainingDiverged as exc:
            raise RunFailed(str(exc), 1) from None
        except TrainingInterrupted as exc:
            raise RunFailed(str(exc), exc.exit_code) from None
        except NnfwError as exc:
            raise UserError(str(exc)) from None
        except BrokenPipeError:
            for stream in (sys.stdout, sys.stderr):
                _quiet_if_closed(stream)
            return None
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise UserError(f"{exc.filename}: {reason}" if exc.filename is not None else reason) from None
        except KeyboardInterrupt as exc:
            raise RunFailed(str(exc) or "interrupted", 128 + getattr(exc, "signum", signal.SIGINT)) from None


def _quiet_if_closed(stream: Any) -> None:
    """Point ``stream`` at os.devnull if its reader has gone (a closed pipe), so that nothing more,
    at exit neither, is written to it; a stream that still works is left alone."""
    try:
        stream.flush()
        return
    except BrokenPipeError:
        pass
    except (OSError, ValueError):
        return
    with contextlib.suppress(OSError, ValueError):  # a stream with no file descriptor (a test's) stays as it is
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


class RunFolder(click.Path):
    """A run folder argument; the shell completes it with the folders under outputs/."""

    def __init__(self) -> None:
        super().__init__(file_okay=False, path_type=Path)

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
        from click.shell_completion import CompletionItem

        root = Path(ctx.params.get("output_dir") or "outputs")
        folders = sorted(p for p in root.glob("*") if p.is_dir() and not p.name.startswith("."))
        return [CompletionItem(str(p)) for p in folders if str(p).startswith(incomplete)] or [
            CompletionItem(incomplete, type="dir")
        ]


class RunOrModelFile(RunFolder):
    """A run folder, or a file: predict takes a bare model file, eval and plot say they cannot."""

    def __init__(self) -> None:
        click.Path.__init__(self, path_type=Path)


@click.group(cls=NnfwGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="nnfw", message="nnfw %(version)s")
def main() -> None:
    """Train small numpy neural networks from YAML configs, and look at what they learned.

    \b
    Quick start:
      nnfw train configs/circles.yaml     # train; writes outputs/circles-<time>/
      nnfw eval                           # score the newest run again
      nnfw plot --animate                 # watch its decision boundary form
    """


config_argument = click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=True, path_type=Path))
run_argument = click.argument("run", metavar="[RUN]", required=False, type=RunOrModelFile())
set_option = click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                          help="Override a config value, e.g. --set training.epochs=50 (repeatable).")
output_dir_option = click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path),
                                 help="Folder of run folders [default: the config's output.dir, outputs].")
json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print one JSON object on stdout instead of the table; messages go to stderr.")


@main.command(epilog="""\b
Examples:
  nnfw train configs/circles.yaml
  nnfw train configs/moons.yaml --set training.epochs=200 --set 'model.layers[0].units=32'
  nnfw train configs/circles.yaml --json | jq .metrics.roc_auc
  nnfw train --resume outputs/circles-20260101-120000
  nnfw train --from outputs/circles-20260101-120000 --set training.epochs=120
""")
@click.argument("config_path", metavar="[CONFIG]", required=False, type=click.Path(path_type=Path))
@set_option
@output_dir_option
@click.option("--name", help="Name of the run folder [default: <config>-<date>-<time>].")
@click.option("--seed", type=click.IntRange(min=0, max=2**32 - 1), help="Seed for data, initialisation and shuffling.")
@click.option("--resume", type=RunFolder(), metavar="RUN", help="Continue an interrupted run from its checkpoint.")
@click.option("--from", "parent", type=RunFolder(), metavar="RUN",
              help="Train on from a finished run, in a new run folder: its config, weights and optimizer state; "
                   "--set training.epochs=N counts its epochs too.")
@click.option("--fresh-optimizer", is_flag=True, help="With --from: start the optimizer's state afresh.")
@json_option
@click.option("-q", "--quiet", is_flag=True, help="No progress lines: print only the run folder and its metrics.")
def train(config_path: Path | None, overrides: tuple[str, ...], output_dir: Path | None, name: str | None,
          seed: int | None, resume: Path | None, parent: Path | None, fresh_optimizer: bool, as_json: bool,
          quiet: bool) -> None:
    """Train the model CONFIG describes and write a run folder.

    The run folder holds the resolved config, the model, the history, the metrics on the
    held-out data (ROC AUC first) and the pictures. Ctrl-C stops at the end of the epoch,
    keeps a checkpoint and tells how to resume; a second Ctrl-C, or one before training has
    begun, stops at once (exit 130; 143 for SIGTERM). --from RUN starts a new run where the
    finished RUN ended (RUN is left as it is).
    """
    from . import experiment

    _check_train_options(config_path, resume, parent, overrides, output_dir, name, seed, fresh_optimizer)
    stop = experiment.StopRequest()
    with _stop_on_signals(stop):
        if resume is not None:
            resume = _resume_folder(resume, quiet)
            epochs = experiment.planned_epochs(resume)
            call = lambda progress: experiment.resume(resume, progress, stop)  # noqa: E731
        else:
            config, stem = _config_to_train(config_path, parent, overrides, output_dir, seed, fresh_optimizer, quiet)
            epochs = config.training.epochs
            call = lambda progress: experiment.train(config, stem, name, progress, stop)  # noqa: E731
        with _progress(epochs, quiet or as_json) as progress:
            run = call(progress)
    for line in run.notes:
        click.echo(line, err=True)
    _report(run.run_dir, run.metrics, as_json)
    for warning in run.metrics.get("warnings", []):  # after the result, where it is read last
        click.echo(f"warning: {warning}", err=True)


def _config_to_train(config_path: Path | None, parent: Path | None, overrides: tuple[str, ...],
                     output_dir: Path | None, seed: int | None, fresh_optimizer: bool, quiet: bool) -> tuple[Any, str]:
    """The config to train and the stem of its run folder's name: CONFIG's, or with --from the
    config of a run that trains on from RUN (``experiment.config_from``)."""
    from . import experiment

    if parent is None:
        return _load(config_path, overrides, output_dir=output_dir, seed=seed), config_path.stem
    extra = (*overrides, *_output_override(output_dir))
    return experiment.config_from(_resume_folder(parent, quiet), extra, fresh_optimizer)


def _resume_folder(run: Path, quiet: bool) -> Path:
    """The run folder ``--resume`` or ``--from`` names, a link (outputs/latest) followed; stderr says where it led."""
    from . import runs

    run_dir, note = runs.choose_run(run)
    if note and not quiet:
        click.echo(note, err=True)
    return run_dir


@main.command(name="eval", short_help="Score a saved run again: its held-out split, fresh data or a CSV.", epilog="""\b
Examples:
  nnfw eval                                  # the newest run, on its held-out split
  nnfw eval outputs/circles-20260101-120000 --seed 123 --n-samples 20000
""")
@run_argument
@click.option("--seed", type=click.IntRange(min=0, max=2**32 - 1), help="Score on fresh data drawn with this seed.")
@click.option("--n-samples", type=click.IntRange(min=2), help="Score on fresh data of this size.")
@click.option("--noise", type=click.FloatRange(min=0), help="Score on fresh data with this noise.")
@click.option("--data", "data_path", type=click.Path(path_type=Path), metavar="FILE.csv",
              help="Score on a labelled CSV with the run's columns (a run trained on a CSV).")
@output_dir_option
@json_option
def evaluate(run: Path | None, seed: int | None, n_samples: int | None, noise: float | None,
             data_path: Path | None, output_dir: Path | None, as_json: bool) -> None:
    """Score a saved run again: on its held-out split, on fresh data of the same kind (generated
    datasets), or on a labelled CSV file (--data, for a run trained on a CSV).

    Writes eval.json into the run (later evaluations get names that say which data they used)
    and roc_curve.png. RUN defaults to the newest run (under --output-dir). Fresh data is made
    and scored a million samples at a time, at most 10,000,000 samples.
    """
    from . import runs
    from . import saved as saved_runs

    saved = _open_run(run, output_dir, "eval")
    if noise is not None and not math.isfinite(noise):
        raise click.BadParameter("must be a finite number", param_hint="--noise")
    metrics, path = saved_runs.evaluate(saved, seed, n_samples, noise, data_path)
    if as_json:
        printed = {"run_dir": str(saved.run_dir), "eval_file": str(path), "metrics": metrics}
        click.echo(json.dumps(runs.json_safe(printed), allow_nan=False))
    else:
        _report_eval(saved.run_dir, metrics)
        click.echo(f"written: {path}", err=True)
    if "tp" in metrics and 0 in (metrics["tn"] + metrics["fp"], metrics["fn"] + metrics["tp"]):
        click.echo("no ROC curve: the data holds one class only, so ROC AUC is undefined", err=True)


@main.command(epilog="""\b
Examples:
  nnfw plot                          # redraw the newest run's pictures
  nnfw plot outputs/moons-20260101-120000 --what boundary --format svg
  nnfw plot --animate                # decision_boundary.gif from the training snapshots
  nnfw plot --neurons                # neurons.png: what each hidden unit learned
""")
@run_argument
@click.option("--what", type=click.Choice(["loss", "boundary", "roc", "all"]), default="all", show_default=True,
              help="Which picture to draw.")
@click.option("--format", "fmt", type=click.Choice(["png", "svg", "pdf"]), default="png", show_default=True,
              help="File format of the pictures.")
@click.option("--dpi", type=click.IntRange(min=20, max=1200), default=150, show_default=True,
              help="Resolution of PNG pictures, in dots per inch.")
@click.option("--animate", is_flag=True,
              help="Write decision_boundary.gif from the training snapshots (with --what, that picture too).")
@click.option("--neurons", is_flag=True, help="Also draw neurons.png: each hidden unit over the input plane.")
@output_dir_option
def plot(run: Path | None, what: str, fmt: str, dpi: int, animate: bool, neurons: bool, output_dir: Path | None) -> None:
    """Redraw a run's pictures from its files. RUN defaults to the newest run (under --output-dir).

    --neurons draws at most 32 units of a layer, the first ones; the layer's label says so.
    """
    from . import saved as saved_runs

    saved = _open_run(run, output_dir, "plot")
    if animate or neurons:
        written = []  # the extra pictures alone, unless --what asks for more
        if what != "all":
            written += saved_runs.redraw(saved, (what,), fmt, dpi)
    else:
        written = saved_runs.redraw(saved, saved_runs.PICTURES if what == "all" else (what,), fmt, dpi)
        if what in ("all", "boundary") and not any(p.name.startswith("decision_boundary") for p in written):
            click.echo(f"no decision boundary: the data has {saved.n_features} features", err=True)
    if animate:
        written.append(saved_runs.animate(saved))
    if neurons:
        written.append(saved_runs.draw_neurons(saved, fmt, dpi))
    for path in written:
        click.echo(str(path))


@main.command(short_help="Add predicted classes and probabilities to the rows of a CSV.", epilog="""\b
Examples:
  nnfw predict outputs/latest points.csv              # CSV with columns x,y; result on stdout
  nnfw predict outputs/latest points.csv -o scored.csv
  nnfw predict --output-dir runs points.csv           # the newest run under runs/
  nnfw predict model.npz points.csv                   # a model saved with model.save("model.npz")
""")
@click.argument("run", metavar="[RUN]", required=False, type=RunOrModelFile())
@click.argument("input_csv", metavar="INPUT.csv", required=False, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Write here instead of stdout: a new file, or with --overwrite a regular file (a link to "
                   "one is written through: the file it leads to is replaced, the link kept).")
@click.option("--overwrite", is_flag=True,
              help="Replace --output if it exists. Never INPUT.csv itself, a device, a FIFO or a folder.")
@output_dir_option
def predict(run: Path | None, input_csv: Path | None, output: Path | None, overwrite: bool,
            output_dir: Path | None) -> None:
    """Probabilities for new points: INPUT.csv, every column as it was, with two added:
    `probability` (of class 1) and `predicted` (the class).

    RUN is a run folder, or a model file saved with Model.save (it has no config: its n
    features are x1 ... xn, or the n columns by position); without RUN, the newest run (under
    --output-dir). A first row of numbers is a point, not a header: the columns are then named
    x, y (x1 ... xn). The features are the columns named x and y (x1 ... xn beyond two
    features), other columns kept and ignored, or all columns by position when there are
    exactly as many as the model takes. A column named probability or predicted already is
    kept; the new one gets a suffix (probability_1).
    """
    from . import saved as saved_runs

    if input_csv is None:
        if run is None or run.is_dir():
            raise click.UsageError("Missing argument 'INPUT.csv'.")
        run, input_csv = None, run  # `nnfw predict points.csv`: the newest run
    model, transform, n_features, note = saved_runs.open_predictor(run, output_dir or "outputs")
    if note:
        click.echo(note, err=True)
    result, notes = saved_runs.predict_file(model, transform, n_features, str(input_csv))
    for line in notes:
        click.echo(line, err=True)
    if output is None:
        click.echo(result.to_csv(index=False), nl=False)
        return
    written = saved_runs.write_table(result, output, input_csv, overwrite)
    through = f" (through the link {output})" if written != output else ""
    click.echo(f"written: {written}{through} ({len(result)} rows)", err=True)


def _open_run(run: Path | None, output_dir: Path | None, command: str) -> Any:
    """The saved run ``eval`` or ``plot`` works on; stderr says which it is when it was not named as it is."""
    from . import saved as saved_runs

    if run is not None and run.is_file():
        raise UserError(f"{run}: is a file, not a run folder; {command} needs a run folder (its config says "
                        f"which data to use). A bare model file works with `nnfw predict {run} POINTS.csv`")
    saved = saved_runs.SavedRun.open(run, output_dir or "outputs")
    if saved.note:
        click.echo(saved.note, err=True)
    return saved


@main.command(short_help="Validate a config and print it resolved, without training.", epilog="\b\nExample:\n  nnfw check configs/circles.yaml --set training.epochs=10")
@config_argument
@set_option
def check(config_path: Path, overrides: tuple[str, ...]) -> None:
    """Validate CONFIG and print it resolved (every default filled in), without training."""
    from .config import dump_yaml

    click.echo(dump_yaml(_load(config_path, overrides)), nl=False)
    click.echo(f"{config_path}: valid", err=True)


@main.command(short_help="Print the config's JSON Schema, for editors.", epilog="\b\nExample:\n  nnfw schema > nnfw.schema.json")
def schema() -> None:
    """Print the config's JSON Schema (for editors that check and complete YAML)."""
    from .config import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


def _load(path: Path, overrides: tuple[str, ...], output_dir: Path | None = None, seed: int | None = None) -> Any:
    from .config import load_config

    extra = [*overrides, *_output_override(output_dir)]
    if seed is not None:
        extra.append(f"seed={seed}")
    return load_config(path, extra)


def _check_train_options(config_path: Path | None, resume: Path | None, parent: Path | None, overrides: tuple,
                         output_dir: Path | None, name: str | None, seed: int | None, fresh_optimizer: bool) -> None:
    """``train`` takes one of CONFIG, --resume and --from; a resumed run takes no settings of its
    own, and one trained on from another keeps that run's random streams (no --seed)."""
    if [config_path, resume, parent].count(None) != 2:
        raise click.UsageError("give a CONFIG to train, or --resume RUN to finish an interrupted run, or --from RUN "
                               "to train on from a finished one (one of them; not both)")
    if resume is not None and (overrides or output_dir or name or seed is not None):
        raise click.UsageError("--resume continues a run as it was configured: drop --set, --output-dir, --name and --seed")
    if parent is not None and seed is not None:
        raise click.UsageError("--from carries on RUN's random streams, so --seed does not apply (other data: "
                               "--set data.seed=N)")
    if fresh_optimizer and parent is None:
        raise click.UsageError("--fresh-optimizer goes with --from RUN")
    if name is not None and (not name.strip() or "/" in name or name in {".", ".."}):
        raise click.BadParameter(f"{name!r} is not a plain folder name", param_hint="--name")


def _output_override(output_dir: Path | None) -> list[str]:
    return [] if output_dir is None else [f"output.dir={json.dumps(str(output_dir))}"]


def _report(run_dir: Path, metrics: dict[str, Any], as_json: bool) -> None:
    """The run folder and its metrics; an undefined metric (one class in the test split) is null, or "n/a"."""
    from . import runs

    if as_json:
        click.echo(json.dumps(runs.json_safe({"run_dir": str(run_dir), "metrics": metrics}), allow_nan=False))
        return
    click.echo(f"run folder: {run_dir}")
    shown = {key: value for key, value in metrics.items() if not isinstance(value, (dict, list))}
    if isinstance(metrics.get("parent"), dict):
        shown["parent"] = f"{metrics['parent']['run']} (from its epoch {metrics['parent']['epoch']})"
    width = max(len(key) for key in shown)
    for key, value in shown.items():
        click.echo(f"  {key:<{width}}  {_shown(value, '.6g')}")
    for name, scores in (metrics.get("per_class") or {}).items():
        click.echo(f"  {name}: precision {_shown(scores['precision'], '.4f')}  recall {_shown(scores['recall'], '.4f')}  "
                   f"f1 {_shown(scores['f1'], '.4f')}  support {scores['support']}")


def _shown(value: Any, spec: str) -> str:
    """``value`` for people: floats formatted with ``spec``, a metric that is undefined (None, NaN) as "n/a"."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return format(value, spec) if isinstance(value, float) else str(value)


def _report_eval(run_dir: Path, metrics: dict[str, Any]) -> None:
    source = metrics["data"] if metrics["data"] != "fresh" else \
        f"fresh data (seed {metrics['seed']}, noise {metrics['noise']:g})"
    click.echo(f"{run_dir}: {source}, {metrics['n_samples']} samples")
    click.echo(f"  ROC AUC    {_shown(metrics['roc_auc'], '.4f')}")
    click.echo(f"  accuracy   {_shown(metrics['accuracy'], '.4f')}")
    click.echo(f"  log loss   {_shown(metrics['log_loss'], '.4g')}")
    if "f1_macro" in metrics:
        click.echo(f"  F1 macro   {_shown(metrics['f1_macro'], '.4f')}")
    if "tp" in metrics:
        click.echo("  confusion  predicted 0  predicted 1")
        click.echo(f"  actual 0   {metrics['tn']:>11}  {metrics['fp']:>11}")
        click.echo(f"  actual 1   {metrics['fn']:>11}  {metrics['tp']:>11}")


@contextlib.contextmanager
def _stop_on_signals(stop: Any) -> Iterator[None]:
    """SIGINT and SIGTERM ask training to stop after the current epoch; a second one stops at once.

    So does the first one before the run has a folder (``stop.run_dir``): nothing is written yet.
    Stopping at once raises Stopped, which exits with 128 + the signal's number; the files of the
    run are each written whole or not at all, and metrics.json, written last, is then missing.
    """

    def handler(signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if stop.run_dir is None:
            raise Stopped(f"{name}: stopped before training began; nothing was written", signum)
        if stop.signum is None:
            stop.signum = signum
            return
        resumable = (Path(stop.run_dir) / "checkpoint.npz").is_file()
        raise Stopped(f"{name} again: stopped at once; {stop.run_dir} keeps only the files written so far"
                      + (f". Resume with: nnfw train --resume {stop.run_dir}" if resumable
                         else ", and no checkpoint to resume from"), signum)

    # A signal the parent set to be ignored (a script's `nnfw train ... &`) stays ignored.
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)
                if signal.getsignal(sig) is not signal.SIG_IGN}
    try:
        for sig in previous:
            signal.signal(sig, handler)
    except ValueError:  # not the main thread: leave signals alone
        previous = {}
    try:
        yield
    finally:
        for sig, action in previous.items():
            signal.signal(sig, action)


@contextlib.contextmanager
def _progress(epochs: int, silent: bool) -> Iterator[Any]:
    """A progress line with the loss, the latest held-out AUC, the time so far and left
    (``progress.Progress``): on a terminal rewritten in place, elsewhere a plain line every
    tenth of the run. A closed stderr (``2>&1 | head -1``) silences the lines; training goes on.
    """
    from .progress import Printer, Progress

    if silent:
        yield None
        return
    printer = Printer(Progress(epochs), sys.stderr, sys.stderr.isatty(), lambda: _quiet_if_closed(sys.stderr))
    try:
        yield printer
    finally:
        printer.close()


def run() -> None:
    """The ``nnfw`` console script and ``python -m nnfw_cli``: ``main``, then ``os._exit``.

    Why: the interpreter's normal exit tears down every module loaded, and after a command that
    trained, scored or drew, those of scikit-learn, SciPy, pandas and matplotlib take several
    times longer to tear down than ``nnfw --help`` takes to run. ``os._exit`` skips that.

    Why it is safe: every file a command writes is written, closed and renamed into place before
    ``main`` returns, and nnfw registers no ``atexit`` handler; anything that needs one (a process
    pool, a Dask client) must be closed before its command returns. What is kept: stdout and
    stderr are flushed (a closed pipe is ignored), and the exit code is the one ``main`` chose
    (0; 2 for bad input; 1 for a failed run; 128 + n after signal n); ``sys.exit("message")``
    prints the message and exits with 1, as Python does. tests/test_console_script.py checks
    both. ``main`` itself, as tests and scripts call it, exits as usual.
    """
    try:
        main(prog_name="nnfw")
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:  # sys.exit("message"): Python prints it and exits with 1
            print(exc.code, file=sys.stderr)
            code = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: there is nothing left to deliver
            stream.flush()
    os._exit(code)
