"""The ``nnfw`` command: parse, call the library, report; errors become exit codes here alone."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sys
import tempfile
import time
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


class ExpectationsUnmet(click.ClickException):
    """A run that finished but did not reach what its expectations ask (exit 3)."""

    exit_code = 3


class Stopped(KeyboardInterrupt):
    """A signal that stops a command at once (exit 128 + ``signum``), with a message saying what was kept."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum


_ARGS: list[str] = []


def command_line() -> str:
    """The command being run, as a shell would take it again: ``nnfw train configs/circles.yaml ...``."""
    import shlex

    return shlex.join(["nnfw", *_ARGS])


class NnfwGroup(click.Group):
    """Turns the library's exceptions into click errors, in this one place.

    Beyond nnfw's own: a file-system error (a read-only folder, a full disk) is one message and
    exit 2, as a bad file is; Ctrl-C exits 130 and SIGTERM 143. A reader that goes away
    (``nnfw train ... | head -1``) is not an error: what is left to print is dropped, the command
    ends its work, and the exit code is 0, as the work did not fail.
    """

    def main(self, args: Any = None, *rest: Any, **options: Any) -> Any:
        global _ARGS
        _ARGS = list(sys.argv[1:] if args is None else args)  # the command line, for a run's metrics.json
        return super().main(args, *rest, **options)

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
configs_argument = click.argument("config_paths", metavar="CONFIG...", nargs=-1, required=True,
                                  type=click.Path(dir_okay=True, path_type=Path))
run_argument = click.argument("run", metavar="[RUN]", required=False, type=RunOrModelFile())
set_option = click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                          help="Override a config value, e.g. --set training.epochs=50 (repeatable).")
output_dir_option = click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path),
                                 help="Folder of run folders [default: the config's output.dir, outputs].")
class FiniteRange(click.FloatRange):
    """click's FloatRange, refusing nan too (it compares as within any range)."""

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail("must be a finite number", param, ctx)
        return number


json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print one JSON object on stdout instead of the table; messages go to stderr.")
expect_option = click.option("--expect", "expect", multiple=True, metavar="CHECK",
                             help="A metric the run must reach, e.g. --expect 'roc_auc>=0.99' (any number of "
                                  "metrics.json; >=, >, <= or <; repeatable). Unmet: exit 3.")
junit_option = click.option("--junit-xml", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
                            help="Also write the result as JUnit XML, the test report GitLab, Jenkins and GitHub "
                                 "show (a case for the run and one per expectation).")


@main.command(epilog="""\b
Examples:
  nnfw train configs/circles.yaml
  nnfw train configs/moons.yaml --set training.epochs=200 --set 'model.layers[0].units=32'
  nnfw train configs/circles.yaml --json | jq .metrics.roc_auc
  nnfw train --resume outputs/circles-20260101-120000
  nnfw train configs/circles.yaml --expect 'roc_auc>=0.99' --max-seconds 60 --junit-xml report.xml
  nnfw train --from outputs/circles-20260101-120000 --set training.epochs=120
""")
@click.argument("config_path", metavar="[CONFIG]", required=False, type=click.Path(path_type=Path))
@set_option
@output_dir_option
@click.option("--name", help="Name of the run folder [default: <config>-<date>-<time>].")
@click.option("--seed", type=click.IntRange(min=0, max=2**32 - 1), help="Seed for data, initialisation and shuffling.")
@click.option("--seeds", metavar="SEEDS", help="Train once per seed (0-9, or 0,3,7), each run in a group folder; "
              "prints the mean ± std and min of each metric and flags runs that collapsed.")
@click.option("--workers", type=click.IntRange(min=1), help="With --seeds: runs at once [default: the cores].")
@click.option("--resume", type=RunFolder(), metavar="RUN", help="Continue an interrupted run from its checkpoint.")
@click.option("--from", "parent", type=RunFolder(), metavar="RUN",
              help="Train on from a finished run, in a new run folder: its config, weights and optimizer state; "
                   "--set training.epochs=N counts its epochs too.")
@click.option("--fresh-optimizer", is_flag=True, help="With --from: start the optimizer's state afresh.")
@expect_option
@click.option("--max-seconds", type=FiniteRange(min=0, min_open=True, max=1e9), metavar="S",
              help="Stop at the end of the epoch in which S seconds of training have passed; the run is kept "
                   "and scored (status time_limit) and can be resumed.")
@click.option("--threads", type=click.IntRange(min=1, max=1024), metavar="N",
              help="BLAS threads for training and scoring (training.threads) [default: chosen for the work: "
                   "1 unless the network's products are large].")
@junit_option
@json_option
@click.option("-q", "--quiet", is_flag=True, help="No progress lines: print only the run folder and its metrics.")
def train(config_path: Path | None, overrides: tuple[str, ...], output_dir: Path | None, name: str | None,
          seed: int | None, seeds: str | None, workers: int | None, resume: Path | None, parent: Path | None,
          fresh_optimizer: bool, expect: tuple[str, ...], max_seconds: float | None, threads: int | None,
          junit_xml: Path | None, as_json: bool, quiet: bool) -> None:
    """Train the model CONFIG describes and write a run folder.

    The run folder holds the resolved config, the model, the history, the metrics on the
    held-out data (ROC AUC first) and the pictures. Ctrl-C stops at the end of the epoch,
    keeps a checkpoint and tells how to resume; a second Ctrl-C, or one before training has
    begun, stops at once (exit 130; 143 for SIGTERM). --from RUN starts a new run where the
    finished RUN ended (RUN is left as it is). An expectation not met (--expect, or the
    config's expect list) exits with 3, after the run is written.
    """
    from . import experiment

    _check_train_options(config_path, resume, parent, overrides, output_dir, name, seed, fresh_optimizer,
                         seeds, threads)
    overrides = (*overrides, *([f"training.threads={threads}"] if threads is not None else []))
    if seeds is not None or workers is not None:
        return _train_seeds(config_path, overrides, output_dir, name, seed, seeds, workers, as_json, quiet)
    label = str(config_path or resume or parent)
    provenance = {"command": command_line(), "overrides": list(overrides)}
    with _ci_reports("train", label, junit_xml) as record:
        stop = experiment.StopRequest()
        with _stop_on_signals(stop):
            if resume is not None:
                resume = _resume_folder(resume, quiet)
                epochs = experiment.planned_epochs(resume)
                call = lambda progress: experiment.resume(resume, progress, stop, provenance,  # noqa: E731
                                                          expect, max_seconds)
            else:
                config, stem = _config_to_train(config_path, parent, overrides, output_dir, seed, fresh_optimizer,
                                                quiet)
                config = experiment.with_gates(config, expect, max_seconds)
                epochs = config.training.epochs
                call = lambda progress: experiment.train(config, stem, name, progress, stop,  # noqa: E731
                                                         provenance=provenance)
            with _progress(epochs, quiet or as_json) as progress:
                run = call(progress)
        record(run.run_dir, run.metrics)
    for line in run.notes:
        click.echo(line, err=True)
    _report(run.run_dir, run.metrics, as_json)
    for warning in run.metrics.get("warnings", []):  # after the result, where it is read last
        click.echo(f"warning: {warning}", err=True)
    _gate(run.metrics)


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
    from .saved import refuse_a_folder_of_runs

    run_dir, note = runs.choose_run(run)
    refuse_a_folder_of_runs(run_dir)
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
@click.option("--noise", type=FiniteRange(min=0), help="Score on fresh data with this noise.")
@click.option("--data", "data_path", type=click.Path(path_type=Path), metavar="FILE.csv",
              help="Score on a labelled CSV with the run's columns (a run trained on a CSV).")
@output_dir_option
@expect_option
@junit_option
@json_option
def evaluate(run: Path | None, seed: int | None, n_samples: int | None, noise: float | None,
             data_path: Path | None, output_dir: Path | None, expect: tuple[str, ...], junit_xml: Path | None,
             as_json: bool) -> None:
    """Score a saved run again: on its held-out split, on fresh data of the same kind (generated
    datasets), or on a labelled CSV file (--data, for a run trained on a CSV).

    Writes eval.json into the run (later evaluations get names that say which data they used)
    and roc_curve.png. RUN defaults to the newest run (under --output-dir). Fresh data is made
    and scored a million samples at a time, at most 10,000,000 samples. --expect gates the
    scores of this evaluation (its eval.json's numbers): one not met exits with 3. A run's CSV
    file changed since it was trained is refused for its held-out split (other rows would be
    scored); --data scores the file as it is now.
    """
    from . import runs
    from . import saved as saved_runs

    with _ci_reports("eval", str(run or "latest"), junit_xml) as record:
        saved = _open_run(run, output_dir, "eval")
        metrics, path = saved_runs.evaluate(saved, seed, n_samples, noise, data_path, expect)
        record(saved.run_dir, metrics)
    if as_json:
        printed = {"run_dir": str(saved.run_dir), "eval_file": str(path), "metrics": metrics}
        if "expectations" in metrics:
            printed["expectations"] = metrics["expectations"]
        click.echo(json.dumps(runs.json_safe(printed), allow_nan=False))
    else:
        _report_eval(saved.run_dir, metrics)
        click.echo(f"written: {path}", err=True)
    if "tp" in metrics and 0 in (metrics["tn"] + metrics["fp"], metrics["fn"] + metrics["tp"]):
        click.echo("no ROC curve: the data holds one class only, so ROC AUC is undefined", err=True)
    _gate(metrics)


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
            from .experiment import no_boundary

            click.echo(no_boundary(saved.n_features), err=True)
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
              help="Write here instead of stdout ('-' is stdout): a new file, or with --overwrite a regular file "
                   "(a link to one is written through: the file it leads to is replaced, the link kept).")
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
    _scoring_threads(model, n_features)
    tables = _told(saved_runs.predict_file(model, transform, n_features, str(input_csv)))
    if output == Path("-"):  # as most tools read it: stdout
        output = None
    if output is None:  # through a temporary file: a part of the rows at a time, and nothing printed for a bad file
        with tempfile.TemporaryFile("w+", newline="", encoding="utf-8") as spool:
            saved_runs.write_parts(tables, spool)
            spool.seek(0)
            for block in iter(lambda: spool.read(2**20), ""):
                click.echo(block, nl=False)
        return
    written, rows = saved_runs.write_table(tables, output, input_csv, overwrite)
    through = f" (through the link {output})" if written != output else ""
    click.echo(f"written: {written}{through} ({rows} rows)", err=True)


def _told(parts: Iterator[tuple[Any, list[str]]]) -> Iterator[Any]:
    """The tables of ``predict_file``'s parts; the notes (the same for every part) on stderr, once."""
    for part, (table, notes) in enumerate(parts):
        for line in notes if not part else []:
            click.echo(line, err=True)
        yield table


def _open_run(run: Path | None, output_dir: Path | None, command: str) -> Any:
    """The saved run ``eval`` or ``plot`` works on; stderr says which it is when it was not named as it is."""
    from . import saved as saved_runs

    if run is not None and run.is_file():
        raise UserError(f"{run}: is a file, not a run folder; {command} needs a run folder (its config says "
                        f"which data to use). A bare model file works with `nnfw predict {run} POINTS.csv`")
    saved = saved_runs.SavedRun.open(run, output_dir or "outputs")
    if saved.note:
        click.echo(saved.note, err=True)
    _scoring_threads(saved.model, saved.n_features)
    return saved


def _scoring_threads(model: Any, n_features: int) -> None:
    """BLAS threads for a command that scores a saved model, chosen for its width (nnfw_cli.threads)."""
    from .experiment import layer_widths
    from .threads import limit_for_scoring

    limit_for_scoring(layer_widths(model, n_features))


@main.command(short_help="Validate configs and print them resolved, without training.",
              epilog="\b\nExamples:\n  nnfw check configs/circles.yaml --set training.epochs=10"
                     "\n  nnfw check configs/*.yaml"
                     "\n  nnfw check sweeps/circles_lr_width.yaml   # each run of a sweep, none of them run")
@configs_argument
@set_option
def check(config_paths: tuple[Path, ...], overrides: tuple[str, ...]) -> None:
    """Validate each CONFIG and print it resolved (every default filled in), without training.

    Every file is checked and reported, each resolved config a YAML document of its own; the
    exit code is 2 if any is not valid. A sweep file has each of its runs checked, as `nnfw
    sweep` does before it starts any: its document names each run and its settings.
    """
    from .errors import ConfigError

    if len(config_paths) == 1:
        resolved, said, _ = _checked(config_paths[0], overrides)
        click.echo(resolved, nl=False)
        click.echo(said, err=True)
        return
    invalid, sweeps = 0, 0
    for path in config_paths:
        try:
            resolved, said, sweep = _checked(path, overrides)
        except ConfigError as exc:
            invalid += 1
            click.echo(f"Error: {exc}", err=True)
            continue
        sweeps += sweep
        click.echo(f"--- # {path}\n{resolved}", nl=False)
        click.echo(said, err=True)
    files = "files" if sweeps else "configs"  # a sweep file is no config
    if invalid:
        raise UserError(f"{invalid} of {len(config_paths)} {files} are not valid")
    click.echo(f"all {len(config_paths)} {files} are valid", err=True)


def _checked(path: Path, overrides: tuple[str, ...]) -> tuple[str, str, bool]:
    """``check`` of one file: its resolved config (or a sweep file's runs) as YAML, what to say of
    it, and whether it is a sweep file."""
    from .config import dump_yaml, is_sweep, read_yaml

    if not is_sweep(read_yaml(path)[0]):
        return dump_yaml(_load(path, overrides)), f"{path}: valid", False
    from . import sweep as sweeps
    from .errors import ConfigError

    if overrides:
        raise ConfigError(f"{path}: a sweep file takes no --set; give the settings all its runs share in its `set:`")
    plan = sweeps.load_sweep(path)
    count, groups = len(plan.points), len({point.group for point in plan.points})
    return sweeps.runs_yaml(plan), (f"{path}: valid: a sweep of {count} run{'s' * (count != 1)} "
                                    f"({groups} point{'s' * (groups != 1)}), each a valid config"), True


@main.command(short_help="Smoke-test configs: a short run of each through every code path.",
              epilog="""\b
Examples:
  nnfw smoke configs/*.yaml
  nnfw smoke configs/*.yaml --junit-xml smoke.xml     # a test case per config, for CI
  nnfw smoke configs/moons.yaml --keep                # keep the run folder to look at
""")
@configs_argument
@click.option("--junit-xml", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Also write the results as JUnit XML, the test report GitLab, Jenkins and GitHub show (a "
                   "test case per config).")
@json_option
@click.option("--keep", is_flag=True, help="Keep the smoke runs' folders; stderr says where they are.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), metavar="N",
              help="Configs run at once, each in a process of its own [default: one per CPU].")
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the smoke runs' folder is made [default: the system's temporary folder].")
def smoke(config_paths: tuple[Path, ...], junit_xml: Path | None, as_json: bool, keep: bool, jobs: int | None,
          output_dir: Path | None) -> None:
    """Check that each CONFIG still trains, saves, reloads, scores, draws and predicts.

    Each config is shrunk to a few hundred rows of its data (a stratified sample of a CSV or
    a real data set) and a few epochs, with the same layers, loss and optimizer, and goes
    through everything nnfw train, eval, plot and predict do. Checked: the loss stays finite
    and training lowers it, the reloaded model predicts exactly as the trained one, eval finds
    the metrics training reported, every file of the run folder is whole. One line per config, then a
    summary; exit 1 if any failed, 2 if any config is not valid. The config's expect list
    and time limit are not applied: they are for full runs. The runs are deleted afterwards
    unless --keep.
    """
    import shutil
    import tempfile

    from . import reports
    from . import smoke as smoke_runs

    reports.check_writable(junit_xml)
    if output_dir is not None:
        output_dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="nnfw-smoke-", dir=output_dir))
    width = max(len(str(path)) for path in config_paths)
    started = time.perf_counter()
    try:
        with _stop_at_once_on_signals("smoke runs"):
            results = smoke_runs.smoke_all(list(config_paths), root, jobs or smoke_runs.default_jobs(),
                                           None if as_json else lambda result: _smoke_line(result, width))
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    _smoke_report(results, time.perf_counter() - started, root if keep else None, junit_xml, as_json)


@main.command(short_help="Print the config's JSON Schema, for editors.", epilog="\b\nExample:\n  nnfw schema > nnfw.schema.json")
def schema() -> None:
    """Print the config's JSON Schema (for editors that check and complete YAML)."""
    from .config import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


def _smoke_line(result: Any, width: int) -> None:
    """One config's smoke result: PASS or FAIL, its time, and what it did or where it failed."""
    if result.passed:
        loss = " → ".join(f"{value:.4g}" for value in result.loss)
        epochs = f"{result.epochs} epoch{'s' * (result.epochs != 1)}"
        said = f"{result.rows} rows, {epochs}, loss {loss}, {len(result.files)} files"
    else:
        said = result.reason
    click.echo(f"{'PASS' if result.passed else 'FAIL'}  {result.config:<{width}}  {result.seconds:5.2f} s  {said}")
    if result.details:
        click.echo(result.details.rstrip(), err=True)


def _smoke_report(results: list, seconds: float, kept: Path | None, junit_xml: Path | None, as_json: bool) -> None:
    """The summary of ``nnfw smoke``: a line (or the JSON object), the CI reports, the exit code."""
    from . import runs

    failed = [result for result in results if not result.passed]
    summary = f"smoke: {len(results) - len(failed)} passed, {len(failed)} failed in {seconds:.1f} s"
    _reporter("smoke", " ".join(result.config for result in results), junit_xml).smoke(results, summary)
    if as_json:
        listed = [{**result.to_dict(), "reason": result.reason, "run_dir": result.run_dir if kept else None}
                  for result in results]
        printed = {"passed": len(results) - len(failed), "failed": len(failed), "seconds": round(seconds, 3),
                   "kept": str(kept) if kept else None, "configs": listed}
        click.echo(json.dumps(runs.json_safe(printed), allow_nan=False))
    else:
        click.echo(summary)
    if kept is not None:
        click.echo(f"smoke runs kept in {kept}", err=True)
    invalid = sum(result.bad_input for result in failed)
    said = "; ".join(([f"{len(failed) - invalid} of {len(results)} configs failed the smoke run"]
                      if len(failed) > invalid else [])
                     + ([f"{invalid} of {len(results)} configs are not valid"] if invalid else []))
    if invalid:
        raise UserError(said)
    if failed:
        raise RunFailed(said, 1)


def _reporter(command: str, label: str, junit_xml: Path | None) -> Any:
    """The CI reports of a command; a step summary that cannot be written is a warning on stderr."""
    from . import reports

    return reports.Reporter(command, label, junit_xml, warn=lambda message: click.echo(f"warning: {message}", err=True))


@contextlib.contextmanager
def _ci_reports(command: str, label: str, junit_xml: Path | None) -> Iterator[Any]:
    """Write the CI reports of a train or eval command, whatever its outcome: ``--junit-xml`` and
    GitHub's step summary. Yields ``record(run_dir, metrics)``, to call once the run is done.

    A diverged run is a failed case (its expectations too); bad input (a config, a file) an
    errored one. An interruption (Ctrl-C) writes no report.
    """
    from . import reports
    from .errors import TrainingInterrupted

    reports.check_writable(junit_xml)
    reporter, started, done = _reporter(command, label, junit_xml), time.perf_counter(), {}
    try:
        yield lambda run_dir, metrics: done.update(run_dir=run_dir, metrics=metrics)
    except TrainingDiverged as exc:
        reporter.run(exc.run_dir, None, time.perf_counter() - started, failure=str(exc))
        raise
    except TrainingInterrupted:
        raise
    except NnfwError as exc:
        reporter.error(str(exc), type(exc).__name__, time.perf_counter() - started)
        raise
    if done:
        reporter.run(done["run_dir"], done["metrics"], time.perf_counter() - started)


def _gate(metrics: dict[str, Any]) -> None:
    """Exit 3, naming each with its value, if an expectation of the run was not met."""
    from . import gates

    results = metrics.get("expectations") or []
    unmet = gates.unmet(results)
    if unmet:
        lines = "\n".join(f"  {gates.describe(result)}" for result in unmet)
        counted = f"{len(unmet)} of {len(results)} expectation{'s' * (len(results) != 1)}"
        raise ExpectationsUnmet(f"{counted} not met:\n{lines}")


def _load(path: Path, overrides: tuple[str, ...], output_dir: Path | None = None, seed: int | None = None) -> Any:
    from .config import load_config

    extra = [*overrides, *_output_override(output_dir)]
    if seed is not None:
        extra.append(f"seed={seed}")
    return load_config(path, extra)


def _check_train_options(config_path: Path | None, resume: Path | None, parent: Path | None, overrides: tuple,
                         output_dir: Path | None, name: str | None, seed: int | None, fresh_optimizer: bool,
                         seeds: str | None = None, threads: int | None = None) -> None:
    """``train`` takes one of CONFIG, --resume and --from; a resumed run takes no settings of its
    own, and one trained on from another keeps that run's random streams (no --seed)."""
    if [config_path, resume, parent].count(None) != 2:
        raise click.UsageError("give a CONFIG to train, or --resume RUN to finish an interrupted run, or --from RUN "
                               "to train on from a finished one (one of them; not both)")
    if resume is not None and (overrides or output_dir or name or seed is not None or seeds or threads is not None):
        raise click.UsageError("--resume continues a run as it was configured: drop --set, --output-dir, --name, "
                               "--seed, --seeds and --threads")
    if parent is not None and (seed is not None or seeds):
        raise click.UsageError("--from carries on RUN's random streams, so --seed does not apply (other data: "
                               "--set data.seed=N), nor --seeds")
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
        printed = {"run_dir": str(run_dir), "metrics": metrics}
        if "expectations" in metrics:
            printed["expectations"] = metrics["expectations"]
        click.echo(json.dumps(runs.json_safe(printed), allow_nan=False))
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
    _report_expectations(metrics)


def _report_expectations(metrics: dict[str, Any]) -> None:
    """The run's expectations for people, each met or NOT MET, with its value."""
    results = metrics.get("expectations") or []
    if results:
        click.echo("  expectations:")
    width = max((len(result["check"]) for result in results), default=0)
    for result in results:
        click.echo(f"    {'met    ' if result['passed'] else 'NOT MET'}  {result['check']:<{width}}  "
                   f"{_shown(result['value'], '.6g')}")


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
    _report_expectations(metrics)


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

    with _handling_signals(handler):
        yield


@contextlib.contextmanager
def _handling_signals(handler: Any) -> Iterator[None]:
    """SIGINT and SIGTERM go to ``handler`` while the block runs."""
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
def _stop_at_once_on_signals(what: str) -> Iterator[None]:
    """SIGINT and SIGTERM stop at once (exit 128 + the signal's number), through ``finally``
    blocks: SIGTERM too, which would otherwise end the process before they run."""

    def handler(signum: int, frame: Any) -> None:
        raise Stopped(f"{signal.Signals(signum).name}: {what} stopped", signum)

    with _handling_signals(handler):
        yield


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


# -- many runs: seeds, sweeps, listing and comparing runs ---------------------------------------


@main.command(short_help="Many runs: a grid or random search over a config, locally or on a Dask cluster.", epilog="""\b
Examples:
  nnfw sweep sweeps/circles_lr_width.yaml                 # on this machine's cores
  nnfw sweep sweeps/circles_lr_width.yaml --workers 2
  nnfw sweep sweeps/circles_lr_width.yaml --scheduler tcp://10.0.0.5:8786
  nnfw sweep --resume outputs/sweeps/lr-width-20260101-120000

\b
A sweep file (keys in the --set path language):
  base: ../configs/circles.yaml       # relative to the sweep file, or a config
  grid:                               # every combination
    training.learning_rate: [0.001, 0.01, 0.1]
    model.layers[0].units: [4, 8, 16]
  random: {n: 20, space: {training.batch_size: [32, 64]}}
  seeds: [0, 1, 2]
  metric: roc_auc                     # mode: min for a loss
""")
@click.argument("sweep_file", metavar="[SWEEP.yaml]", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--resume", type=click.Path(file_okay=False, path_type=Path), metavar="SWEEP_DIR",
              help="Run the points of an earlier sweep that did not finish (failed, or never ran).")
@click.option("--workers", type=click.IntRange(min=1), help="Local worker processes [default: the cores].")
@click.option("--scheduler", metavar="ADDRESS", help="Run on a Dask cluster, e.g. tcp://host:8786 (pip install 'nnfw[dask]').")
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the sweep folder goes [default: <the base config's output.dir>/sweeps].")
@click.option("--fail-fast", is_flag=True, help="Start no more runs after the first that fails or diverges.")
@click.option("--pictures/--no-pictures", default=None,
              help="Draw each run's pictures [default: the sweep file's `pictures`, false; `nnfw plot RUN` draws them later].")
@json_option
def sweep(sweep_file: Path | None, resume: Path | None, workers: int | None, scheduler: str | None,
          output_dir: Path | None, fail_fast: bool, pictures: bool | None, as_json: bool) -> None:
    """Run every point of a sweep file: a grid, random draws, each at every seed. Each run is an
    ordinary run folder under <sweep folder>/runs/; summary.csv gains a row as each run finishes,
    and the end prints the best points (mean ± std over seeds) and draws sweep.png.

    Every point is validated before anything runs. A run that fails or diverges is recorded and the
    sweep goes on (exit 1 at the end). Ctrl-C starts no more runs and lets those in progress finish;
    a second Ctrl-C stops at once. --resume runs what is left. The sweep file is described in the README.
    """
    if scheduler is None:  # local workers: their forkserver imports nnfw while this process imports the rest
        from .pool import worker_context  # (the ``nnfw`` command has started it already: _entry)

        worker_context(bool(pictures))
    from . import sweep as sweeps

    if (sweep_file is None) == (resume is None):
        raise click.UsageError("give a SWEEP.yaml to run, or --resume SWEEP_DIR to finish a sweep (not both)")
    if workers is not None and scheduler is not None:
        raise click.UsageError("--workers is for local runs; a Dask cluster has the workers started for it")
    if resume is not None and output_dir is not None:
        raise click.UsageError("--resume finishes a sweep in its own folder: drop --output-dir")
    with _runner(workers, scheduler, bool(pictures)) as runner:  # workers start while the sweep is read
        if resume is not None:
            folder, plan = resume, sweeps.read_plan(resume)
        else:
            plan = sweeps.load_sweep(sweep_file)
            root = output_dir or Path(plan.points[0].config["output"]["dir"]) / "sweeps"
            folder = sweeps.create_sweep_dir(plan, root, sweep_file)
        if pictures is not None:
            plan.pictures = pictures
        summary = _run_many(plan, folder, runner, fail_fast, quiet=False)  # progress on stderr, even with --json
    _report_many(summary, as_json, sweeps.best_lines)


def _train_seeds(config_path: Path, overrides: tuple[str, ...], output_dir: Path | None, name: str | None,
                 seed: int | None, seeds: str | None, workers: int | None, as_json: bool, quiet: bool) -> None:
    """``nnfw train CONFIG --seeds 0-9``: one run per seed in a group folder, and their spread."""
    from . import sweep as sweeps

    if seeds is None:
        raise click.UsageError("--workers goes with --seeds (one run at a time otherwise)")
    if seed is not None:
        raise click.UsageError("give --seed for one run or --seeds for several, not both")
    if any(sweeps.is_seed(item.split("=", 1)[0].strip()) for item in overrides):
        raise click.UsageError("--seeds sets each run's seed, and --set seed=... sets it too; give one of them")
    try:
        chosen = sweeps.parse_seeds(seeds)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--seeds") from None
    extra = list(overrides) + ([f"output.dir={json.dumps(str(output_dir))}"] if output_dir is not None else [])
    with _runner(min(workers or sweeps.default_workers(), len(chosen)), None, True) as runner:
        plan = sweeps.seed_plan(config_path, extra, chosen)
        plan.name = f"{plan.name}-seeds"
        folder = sweeps.create_sweep_dir(plan, plan.points[0].config["output"]["dir"], folder_name=name)
        summary = _run_many(plan, folder, runner, False, as_json or quiet)
    _report_many(summary, as_json, sweeps.seed_lines)


@contextlib.contextmanager
def _runner(workers: int | None, scheduler: str | None, pictures: bool) -> Iterator[Any]:
    """The workers of a sweep: a local pool (``workers``, default the cores) or a Dask cluster's.

    Whatever ends the block (a sweep file found wrong, Ctrl-C), no worker is left behind.
    """
    from . import sweep as sweeps

    runner = sweeps.DaskRunner(scheduler) if scheduler is not None else \
        sweeps.LocalRunner(workers or sweeps.default_workers(), pictures)
    try:
        yield runner
    except BaseException:
        runner.close(cancel=True)
        raise
    runner.close()


def _run_many(plan: Any, folder: Path, runner: Any, fail_fast: bool, quiet: bool) -> Any:
    """Run a plan's unfinished points with a progress line each on stderr; Ctrl-C as ``sweep`` says."""
    from . import sweep as sweeps

    stop = sweeps.Stop()
    sweeps.prepare_pictures()  # for sweep.png, while the runs go on
    started, run_seconds = time.monotonic(), 0.0

    def begin(left: int) -> None:
        if quiet:
            return
        total = len(plan.points)
        count = f"{total} run{'s' * (total != 1)}"
        how = f"{count}, all finished: nothing to run" if left == 0 else \
            f"{count}{f', {left} left to run' if left < total else ''}; {runner.describe()}"
        kind = "group" if plan.kind == "seeds" else "sweep"
        click.echo(f"{kind} folder: {folder}  ({how})", err=True)

    def report(row: Any, done: int, total: int) -> None:
        nonlocal run_seconds
        run_seconds += row.seconds or 0.0
        if not quiet:
            left = sweeps.time_left(done, total, runner.window(total - done), run_seconds)
            _echo_err(sweeps.progress_line(row, done, total, plan.metric, time.monotonic() - started, left))

    with _stop_sweep_on_signals(stop, folder):
        summary = sweeps.run_plan(plan, folder, runner, report, stop, fail_fast, command_line(), begin=begin)
    if stop.signum is not None:
        done = sum(summary.counts()[status] for status in sweeps.FINISHED)
        _draw_sweep(summary)
        raise RunFailed(f"{signal.Signals(stop.signum).name}: stopped; {done} of {len(plan.points)} runs are "
                        f"finished in {folder}. Resume with: nnfw sweep --resume {folder}", 128 + stop.signum)
    return summary


def _echo_err(line: str) -> None:
    try:
        click.echo(line, err=True)
    except BrokenPipeError:
        _quiet_if_closed(sys.stderr)


def _draw_sweep(summary: Any) -> Path | None:
    from .compare import draw_sweep

    return draw_sweep(summary)


def _report_many(summary: Any, as_json: bool, lines: Any) -> None:
    """Draw sweep.png, print the summary (``lines(summary, picture)``, or the JSON report), and exit
    1 if a run failed or diverged."""
    from . import sweep as sweeps

    picture = _draw_sweep(summary)
    if as_json:
        click.echo(json.dumps(sweeps.json_report(summary, picture), allow_nan=False))
    else:
        for line in lines(summary, picture):
            click.echo(line)
    counts = summary.counts()
    bad = counts["failed"] + counts["diverged"]
    if bad:
        raise RunFailed(f"{bad} of {sum(counts.values())} runs did not complete ({counts['failed']} failed, "
                        f"{counts['diverged']} diverged); summary.csv says why: {summary.sweep_dir / 'summary.csv'}")


@contextlib.contextmanager
def _stop_sweep_on_signals(stop: Any, folder: Path) -> Iterator[None]:
    """The first SIGINT or SIGTERM starts no more runs (those in progress finish); a second stops at once."""

    def handler(signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if stop.signum is None:
            stop.signum = signum
            _echo_err(f"{name}: no more runs start; the runs in progress finish ({name} again to stop at once)")
            return
        raise Stopped(f"{name} again: stopped at once; the finished runs are kept in {folder}. "
                      f"Resume with: nnfw sweep --resume {folder}", signum)

    with _handling_signals(handler):
        yield


@main.command(name="runs", short_help="List run folders, newest first: data, status, main metrics, date.", epilog="""\b
Examples:
  nnfw runs                                     # outputs/, and the sweeps and seed groups in it
  nnfw runs outputs/sweeps/lr-width-20260101-120000
""")
@click.argument("folder", metavar="[DIR]", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("-n", "--limit", type=click.IntRange(min=1), help="Show at most this many.")
@json_option
def list_runs(folder: Path | None, limit: int | None, as_json: bool) -> None:
    """List the run folders in DIR (default outputs/), newest first: name, data, status, ROC AUC,
    accuracy, loss and date. A sweep or seed group shows as one line (its best point's means, then
    its counts); name it to list its runs."""
    from . import compare

    entries = compare.list_runs(folder or Path("outputs"))[:limit]
    if as_json:
        click.echo(json.dumps([entry.to_json() for entry in entries], allow_nan=False))
        return
    for line in compare.runs_table(entries, folder or Path("outputs")):
        click.echo(line)


@main.command(short_help="Compare runs: a table of metrics and config differences, and their curves on one figure.",
              epilog="""\b
Examples:
  nnfw compare outputs/circles-20260101-120000 outputs/circles-20260101-120500
  nnfw compare outputs/sweeps/lr-width-20260101-120000/runs/* -o outputs/compare-lr
""")
@click.argument("run_dirs", metavar="RUN RUN...", nargs=-1, required=True, type=RunFolder())
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for compare.png [default: outputs/compare-<date>-<time>].")
@json_option
def compare(run_dirs: tuple[Path, ...], output: Path | None, as_json: bool) -> None:
    """Compare runs (a sweep or seed group stands for its runs): their metrics side by side, the
    config settings in which they differ, and compare.png: every run's train and test loss and
    test ROC AUC by epoch on one figure."""
    from . import compare as comparing

    found = comparing.open_runs(run_dirs)
    picture = comparing.draw_compare(found, output)
    if as_json:
        click.echo(json.dumps(comparing.compare_json(found, picture), allow_nan=False))
        return
    for line in comparing.compare_lines(found):
        click.echo(line)
    click.echo(f"written: {picture}", err=True)


def run() -> None:
    """The ``nnfw`` console script and ``python -m nnfw_cli``: ``main``, then ``os._exit``.

    Why: the interpreter's normal exit tears down every module loaded, and after a command that
    trained, scored or drew, those of scikit-learn, SciPy, pandas and matplotlib take several
    times longer to tear down than ``nnfw --help`` takes to run. ``os._exit`` skips that.

    Why it is safe: every file a command writes is written, closed and renamed into place before
    ``main`` returns, and nnfw registers no ``atexit`` handler; anything that needs one (a process
    pool, a Dask client) must be closed before its command returns. The one thing multiprocessing
    would still end at exit, the forkserver of a sweep's workers, is ended here
    (``pool.stop_forkserver``). What is kept: stdout and
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
    from .pool import stop_forkserver

    stop_forkserver()  # what a normal exit would have ended and removed
    os._exit(code)
