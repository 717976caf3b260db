"""Training that is stopped, killed, raced, starved of disk or fed odd data still ends well."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from nnfw_cli import experiment, runs
from nnfw_cli.cli import main
from nnfw_cli.config import load_config
from nnfw_cli.errors import ConfigError, RunError, TrainingDiverged, WriteError

# Mini-batches and dropout: a resumed run must restore the shuffling and dropout streams too.
RESUMABLE = {
    "training.epochs": 12,
    "training.checkpoint_every": 3,
    "model.layers": [{"type": "linear", "units": 8}, "relu", {"type": "dropout", "rate": 0.2},
                     {"type": "linear", "units": 1, "init": "xavier"}, "sigmoid"],
}


class Crash(Exception):
    """Stands for the process dying at once (kill -9, a power cut): nothing more is written."""


def _no_nan(text: str) -> object:
    """``json.loads`` that refuses NaN and infinities, as strict JSON readers (jq, browsers) do."""
    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def _skip_pictures(patch: pytest.MonkeyPatch) -> None:
    """Leave the pictures out: they take most of a small run's time and hold no training state."""
    patch.setattr(experiment, "draw_loss_curve", lambda *args, **kwargs: None)
    patch.setattr(experiment, "draw_decision_boundary", lambda *args, **kwargs: None)


@pytest.fixture
def no_pictures(monkeypatch) -> None:
    _skip_pictures(monkeypatch)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, config_writer) -> Path:
    """The RESUMABLE config trained in one go, for interrupted runs to be compared with."""
    root = tmp_path_factory.mktemp("uninterrupted")
    config = config_writer(root / "resumable.yaml", root / "outputs", RESUMABLE)
    with pytest.MonkeyPatch.context() as patch:
        _skip_pictures(patch)
        experiment.train(load_config(config), "resumable", "whole")
    return root / "outputs" / "whole"


def _crash_at(config: Path, epoch: int, name: str = "crashed") -> Path:
    """Train ``config`` and die at the end of ``epoch`` (after its checkpoint, if it has one)."""
    def crash(logs: dict) -> None:
        if logs["epoch"] == epoch:
            raise Crash

    with pytest.raises(Crash):
        experiment.train(load_config(config), "resumable", name, crash)
    return Path(load_config(config).output.dir) / name


def _resume_crashing_at(run_dir: Path, epoch: int) -> None:
    def crash(logs: dict) -> None:
        if logs["epoch"] == epoch:
            raise Crash

    with pytest.raises(Crash):
        experiment.resume(run_dir, crash)


def _assert_same_run(run_dir: Path, whole: Path) -> None:
    """Weights and snapshots array-equal, history.csv byte for byte, metrics but the timing and the
    provenance (a resumed run's records the resuming command too)."""
    for name in ("model.npz", "snapshots.npz"):
        with np.load(run_dir / name) as a, np.load(whole / name) as b:
            assert a.files == b.files
            for key in a.files:
                assert np.array_equal(a[key], b[key], equal_nan=a[key].dtype.kind == "f"), f"{name}: {key}"
    assert (run_dir / "history.csv").read_bytes() == (whole / "history.csv").read_bytes()
    metrics = [json.loads((folder / "metrics.json").read_text()) for folder in (run_dir, whole)]
    for m in metrics:
        del m["data_seconds"], m["train_seconds"], m["provenance"]
    assert metrics[0] == metrics[1]


# -- 1. a checkpoint holds the whole history up to it -----------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("crash_epoch", [3, 5, 9, 11])
def test_resuming_after_a_kill_equals_the_uninterrupted_run(make_config, uninterrupted, crash_epoch, no_pictures):
    crashed = _crash_at(make_config(RESUMABLE), crash_epoch)
    saved = json.loads(str(runs.read_checkpoint(crashed)["state"]))
    assert [logs["epoch"] for logs in saved["history"]] == list(range(1, crash_epoch // 3 * 3 + 1))
    run = experiment.resume(crashed)
    assert run.metrics["status"] == "completed" and not (crashed / runs.CHECKPOINT).exists()
    _assert_same_run(crashed, uninterrupted)


@pytest.mark.slow
def test_killed_twice_and_resumed_twice_equals_the_uninterrupted_run(make_config, uninterrupted, no_pictures):
    crashed = _crash_at(make_config(RESUMABLE), 4)
    _resume_crashing_at(crashed, 10)
    experiment.resume(crashed)
    _assert_same_run(crashed, uninterrupted)


@pytest.mark.slow
def test_a_completed_run_is_not_resumed(runner, make_config, no_pictures):
    crashed = _crash_at(make_config(RESUMABLE), 7)
    left_over = crashed.parent / "checkpoint-at-6.npz"
    shutil.copy(crashed / runs.CHECKPOINT, left_over)
    experiment.resume(crashed)
    assert not (crashed / runs.CHECKPOINT).exists()
    shutil.copy(left_over, crashed / runs.CHECKPOINT)  # as if the process died before removing it
    before = (crashed / "history.csv").read_bytes()
    result = runner.invoke(main, ["train", "--resume", str(crashed)])
    assert result.exit_code == 2, result.stderr
    assert "the run has already completed" in result.stderr and "Traceback" not in result.stderr
    assert (crashed / "history.csv").read_bytes() == before


@pytest.mark.slow
def test_a_diverged_run_keeps_no_checkpoint(runner, make_config, no_pictures):
    config = make_config({"loss": "mean_squared_error", "training.optimizer": "sgd", "training.learning_rate": 1e6,
                          "training.batch_size": None, "training.epochs": 60, "training.checkpoint_every": 1,
                          "model.layers": [{"type": "linear", "units": 8, "init": "uniform"}, "relu",
                                           {"type": "linear", "units": 1, "init": "uniform"}]})
    run_dir, seen = config.parent / "outputs" / "d", []
    with pytest.raises(TrainingDiverged):
        experiment.train(load_config(config), "d", "d",
                         lambda logs: seen.append((logs["epoch"], (run_dir / runs.CHECKPOINT).exists())))
    assert any(exists for _, exists in seen[:-1])  # checkpoints were written while the loss was finite
    assert not (run_dir / runs.CHECKPOINT).exists()
    result = runner.invoke(main, ["train", "--resume", str(run_dir)])
    assert result.exit_code == 2 and "no checkpoint to resume from (the run's status is diverged)" in result.stderr


# -- 2. one process at a time -----------------------------------------------------------------


@pytest.mark.slow
def test_a_second_resume_of_a_run_in_training_is_refused(runner, make_config, uninterrupted, no_pictures):
    crashed = _crash_at(make_config(RESUMABLE), 4)
    inside, leave = threading.Event(), threading.Event()

    def wait_inside(logs: dict) -> None:
        if logs["epoch"] == 7:
            inside.set()
            assert leave.wait(30)

    first = threading.Thread(target=experiment.resume, args=(crashed, wait_inside))
    first.start()
    try:
        assert inside.wait(30)
        result = runner.invoke(main, ["train", "--resume", str(crashed)])
    finally:
        leave.set()
        first.join(30)
    assert result.exit_code == 2, result.stderr
    assert f"{crashed}: in use by another" in result.stderr and "Traceback" not in result.stderr
    _assert_same_run(crashed, uninterrupted)  # the first resume went on undisturbed


def test_a_run_locked_by_a_live_process_is_not_resumed(runner, make_config, no_pictures):
    crashed = _crash_at(make_config(RESUMABLE), 4)
    holder = {"pid": os.getppid(), "host": socket.gethostname(), "since": "2026-01-01 12:00:00"}
    (crashed / runs.LOCK).write_text(json.dumps(holder))
    before = runs.read_checkpoint(crashed)["state"]
    result = runner.invoke(main, ["train", "--resume", str(crashed)])
    assert result.exit_code == 2
    assert f"in use by another nnfw process (pid {os.getppid()}" in result.stderr
    assert str(runs.read_checkpoint(crashed)["state"]) == str(before)


# -- 3. a checkpoint belongs to one config ----------------------------------------------------


@pytest.mark.parametrize(("change", "needle"), [
    ({"training.learning_rate": 0.05}, "training.learning_rate: 0.02 in the checkpoint, 0.05 in config.yaml"),
    ({"training.optimizer": {"type": "sgd"}},
     'training.optimizer.type: "adam" in the checkpoint, "sgd" in config.yaml'),
    ({"training.dtype": "float32"}, 'training.dtype: "float64" in the checkpoint, "float32" in config.yaml'),
])
def test_a_checkpoint_is_refused_after_config_yaml_changed(runner, make_config, change, needle, no_pictures):
    crashed = _crash_at(make_config(RESUMABLE), 4)
    resolved = yaml.safe_load((crashed / "config.yaml").read_text())
    for dotted, value in change.items():
        section, key = dotted.split(".")
        resolved[section][key] = value
    (crashed / "config.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
    result = runner.invoke(main, ["train", "--resume", str(crashed)])
    assert result.exit_code == 2, result.stderr
    assert "the checkpoint does not fit this run: it was written for another config" in result.stderr
    assert needle in result.stderr and "Traceback" not in result.stderr
    assert (crashed / runs.CHECKPOINT).exists() and not (crashed / "metrics.json").exists()


def test_a_checkpoint_copied_from_another_run_is_refused(runner, make_config, no_pictures):
    mine = _crash_at(make_config(RESUMABLE), 4, "mine")
    other = _crash_at(make_config({**RESUMABLE, "seed": 4}, name="other"), 4, "other")
    shutil.copy(other / runs.CHECKPOINT, mine / runs.CHECKPOINT)
    result = runner.invoke(main, ["train", "--resume", str(mine)])
    assert result.exit_code == 2
    assert "seed: 4 in the checkpoint, 3 in config.yaml" in result.stderr


# -- 4. --resume through a link ---------------------------------------------------------------


@pytest.mark.slow
def test_resume_through_latest_says_which_run_it_is(runner, make_config, tmp_path, no_pictures):
    crashed = _crash_at(make_config(RESUMABLE), 4)
    runs.mark_latest(crashed)
    latest = tmp_path / "outputs" / "latest"
    result = runner.invoke(main, ["train", "--resume", str(latest)])
    assert result.exit_code == 0, result.stderr
    assert f"{latest} is {crashed}" in result.stderr
    assert os.readlink(latest) == "crashed" and not (crashed / runs.CHECKPOINT).exists()


# -- 5. undefined metrics ---------------------------------------------------------------------


@pytest.fixture
def one_class(monkeypatch):
    """Data whose every label is 0: ROC AUC is undefined on it."""
    load_data = experiment.load_data

    def only_zeros(config, *args, **kwargs):
        data = load_data(config, *args, **kwargs)
        return experiment.Split(data.X_train, np.zeros_like(data.y_train), data.X_test, np.zeros_like(data.y_test))

    monkeypatch.setattr(experiment, "load_data", only_zeros)


def test_one_class_gives_json_without_nan(runner, make_config, one_class, no_pictures):
    result = runner.invoke(main, ["train", str(make_config()), "--json"])
    assert result.exit_code == 0, result.stderr
    printed = _no_nan(result.stdout)
    assert printed["metrics"]["roc_auc"] is None and printed["metrics"]["accuracy"] == 1.0
    assert _no_nan((Path(printed["run_dir"]) / "metrics.json").read_text())["roc_auc"] is None


def test_one_class_reads_n_a_for_people(runner, make_config, one_class, no_pictures):
    result = runner.invoke(main, ["train", str(make_config())])
    assert result.exit_code == 0, result.stderr
    assert "nan" not in (result.stdout + result.stderr).lower()
    assert [line.split() for line in result.stdout.splitlines() if "roc_auc" in line] == [
        ["roc_auc", "n/a"], ["roc_auc_thresholded", "n/a"]]
    assert "test AUC n/a" in result.stderr


# -- 6. file-system errors --------------------------------------------------------------------


def test_a_full_disk_is_one_message_and_exit_2(runner, make_config, monkeypatch, no_pictures):
    def no_space(model, path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(runs, "save_model", no_space)
    config = make_config()
    result = runner.invoke(main, ["train", str(config), "--name", "r"])
    assert result.exit_code == 2, result.stderr
    model_file = config.parent / "outputs" / "r" / "model.npz"
    assert result.stderr.strip().splitlines()[-1] == f"Error: {model_file}: No space left on device"
    assert "Traceback" not in result.stderr


def test_a_run_whose_pictures_cannot_be_written_does_not_say_completed(runner, make_config, monkeypatch):
    from nnfw_cli import plots

    def read_only(figure, path, dpi=150):
        raise WriteError(f"{path}: cannot be written: Read-only file system", str(path))

    monkeypatch.setattr(plots, "save_figure", read_only)
    result = runner.invoke(main, ["train", str(make_config()), "--name", "r"])
    assert result.exit_code == 2 and "loss_curve.png: cannot be written: Read-only file system" in result.stderr
    assert not (make_config().parent / "outputs" / "r" / "metrics.json").exists()


def test_an_output_dir_that_cannot_be_made_is_exit_2(runner, make_config, tmp_path):
    (tmp_path / "a-file").write_text("")
    result = runner.invoke(main, ["train", str(make_config()), "--output-dir", str(tmp_path / "a-file" / "runs")])
    assert result.exit_code == 2 and "the output directory cannot be created: Not a directory" in result.stderr


# -- 7. signals -------------------------------------------------------------------------------


def test_ctrl_c_before_training_begins_writes_nothing(runner, make_config, tmp_path, monkeypatch, signal_guard,
                                                      no_pictures):
    load_data = experiment.load_data

    def interrupted_while_loading(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        return load_data(*args, **kwargs)

    monkeypatch.setattr(experiment, "load_data", interrupted_while_loading)
    result = runner.invoke(main, ["train", str(make_config())])
    assert result.exit_code == 130, result.stderr
    assert signal_guard == []
    assert "SIGINT: stopped before training began; nothing was written" in result.stderr
    assert not (tmp_path / "outputs").exists() or list((tmp_path / "outputs").iterdir()) == []


def _signal_at(monkeypatch, where: str, epoch: int, times: int) -> None:
    """Make `nnfw train` send itself SIGINT ``times`` times: at the end of ``epoch``
    (``where="epoch"``), or once there and then while it draws its loss curve (``"pictures"``)."""
    train, draw = experiment.train, experiment.draw_loss_curve

    def draw_and_signal(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        return draw(*args, **kwargs)

    def train_and_signal(config, stem="run", name=None, progress=None, stop=None, **options):
        def progress_then_signal(logs: dict) -> None:
            for _ in range(times if logs["epoch"] == epoch else 0):
                os.kill(os.getpid(), signal.SIGINT)

        return train(config, stem, name, progress_then_signal, stop, **options)

    monkeypatch.setattr(experiment, "train", train_and_signal)
    if where == "pictures":
        monkeypatch.setattr(experiment, "draw_loss_curve", draw_and_signal)


@pytest.mark.slow
@pytest.mark.parametrize("where", ["epoch", "pictures"])
def test_a_second_ctrl_c_stops_at_once_with_exit_130(runner, make_config, tmp_path, monkeypatch, signal_guard, where):
    _signal_at(monkeypatch, where, 4, 2 if where == "epoch" else 1)
    result = runner.invoke(main, ["train", str(make_config(RESUMABLE)), "--name", "cut"])
    assert result.exit_code == 130, result.stderr
    assert signal_guard == [] and "Traceback" not in result.stderr and "Aborted!" not in result.stderr
    cut = tmp_path / "outputs" / "cut"
    assert "SIGINT again: stopped at once" in result.stderr
    assert not (cut / "metrics.json").exists()  # written last: no run says it is done without its files
    assert not list(cut.glob(".*.tmp"))
    if where == "pictures":  # the checkpoint came first
        assert f"Resume with: nnfw train --resume {cut}" in result.stderr
        assert experiment.resume(cut).metrics["epochs"] == 12


@pytest.mark.slow
def test_an_ignored_ctrl_c_stays_ignored(runner, make_config, monkeypatch, no_pictures):
    """A script's `nnfw train ... &` runs with SIGINT ignored: the script's Ctrl-C is not for it."""
    _signal_at(monkeypatch, "epoch", 2, 1)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        result = runner.invoke(main, ["train", str(make_config(RESUMABLE)), "--json"])
    finally:
        signal.signal(signal.SIGINT, previous)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["metrics"]["status"] == "completed"


@pytest.mark.slow  # a fresh interpreter imports numpy, scikit-learn and matplotlib, then trains
def test_sigterm_twice_exits_143(make_config, tmp_path, no_pictures):
    config = make_config({"training.epochs": 4000, "training.batch_size": None})
    process = subprocess.Popen([sys.executable, "-m", "nnfw_cli", "train", str(config), "--name", "cut"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cut = tmp_path / "outputs" / "cut"
    try:
        assert process.stderr.readline().startswith("epoch")  # training is under way
        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 60
        while not (cut / runs.CHECKPOINT).exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        process.send_signal(signal.SIGTERM)  # while the pictures are drawn
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 143, stderr
    assert "Traceback" not in stderr and stdout == ""
    if (cut / "metrics.json").exists():  # the second signal came after the last file
        assert json.loads((cut / "metrics.json").read_text())["status"] == "interrupted"
    assert f"Resume with: nnfw train --resume {cut}" in stderr
    assert experiment.resume(cut).metrics["epochs"] == 4000


@pytest.mark.slow  # a fresh interpreter imports numpy, scikit-learn and matplotlib, then trains
def test_a_closed_stdout_ends_quietly(make_config, tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "nnfw_cli", "train", str(make_config()), "--name", "r"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # `| head -0`: the reader is gone before anything is printed
    stderr = process.stderr.read().decode()
    assert process.wait(60) == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr and "Exception ignored" not in stderr
    assert json.loads((tmp_path / "outputs" / "r" / "metrics.json").read_text())["status"] == "completed"


# -- 8. progress lines ------------------------------------------------------------------------


@pytest.mark.slow
def test_progress_shows_the_latest_test_auc_with_its_epoch(runner, make_config, no_pictures):
    result = runner.invoke(main, ["train", str(make_config({"training.epochs": 20, "training.eval_every": 7}))])
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("epoch")]
    assert "nan" not in result.stderr
    endings = [re.search(r"test AUC \S+(?: (\(epoch \d+\)))?", line).group(1) or "" for line in lines]
    # scored at epochs 1, 7, 14 and 20; a line every 2 epochs
    assert endings == ["(epoch 1)"] * 3 + ["(epoch 7)"] * 3 + ["", "(epoch 14)", "(epoch 14)", ""]


# -- 9. memory bounded whatever the config ----------------------------------------------------


@pytest.mark.slow
def test_snapshots_are_capped_and_spread_evenly(make_config, monkeypatch, no_pictures):
    monkeypatch.setattr(experiment, "MAX_SNAPSHOTS", 12)
    config = make_config({"training.epochs": 100, "training.snapshot_every": 1})
    run = experiment.train(load_config(config), "s", "s")
    epochs = [int(s["epoch"]) for s in runs.read_snapshots(run.run_dir)[0]]
    assert len(epochs) <= 12 and epochs[:2] == [0, 1] and epochs[-1] == 100  # 0: the initial weights
    assert len(set(np.diff(epochs[2:-1]))) == 1  # evenly spread between the first and the last


@pytest.mark.slow
def test_default_snapshots_start_at_the_initial_weights_and_see_the_first_epochs(make_config, no_pictures):
    run = experiment.train(load_config(make_config({"training.epochs": 400})), "s", "s")
    snapshots = runs.read_snapshots(run.run_dir)[0]
    epochs = [int(s["epoch"]) for s in snapshots]
    assert epochs[:4] == [0, 1, 2, 3] and epochs[-1] == 400  # every early epoch, then ever wider steps
    assert experiment.SNAPSHOT_POINTS - 10 <= len(epochs) <= experiment.SNAPSHOT_POINTS + 1
    assert np.all(np.diff(epochs[1:]) >= 1) and np.diff(epochs)[-1] > 10 * np.diff(epochs)[1]
    # epoch 0 is the untrained model: its map is what the weights alone give, before any step
    session = experiment.Session(load_config(make_config({"training.epochs": 400})))
    proba = experiment.predict(session.model, session.features(session.grid[2]))
    assert np.array_equal(snapshots[0]["proba"].ravel(), np.round(np.clip(proba[:, -1], 0, 1) * 255).astype(np.uint8))
    assert not np.array_equal(snapshots[0]["proba"], snapshots[1]["proba"])


def test_scoring_in_chunks_gives_the_same_numbers(make_config, monkeypatch):
    session = experiment.Session(load_config(make_config()))
    data, model, loss = session.data, session.model, session.loss
    whole = (model.evaluate(data.X_test, data.y_test, loss), model.predict(data.X_test))
    # a row costs 2 * (2 + 8 + 8 + 1 + 1) float64s: the input and each layer's output, twice
    monkeypatch.setattr(experiment, "ACTIVATION_BYTES", 2 * 20 * 8 * 7)
    assert experiment.batch_size(model, 2) == 7
    assert experiment.evaluate(model, data.X_test, data.y_test, loss) == pytest.approx(whole[0], rel=1e-12)
    assert np.allclose(experiment.predict(model, data.X_test), whole[1], rtol=1e-12, atol=0)


@pytest.mark.parametrize("rows", [None, 7])  # one batch, and batches of 7 rows
@pytest.mark.parametrize("loss_name, head", [("binary_cross_entropy", "sigmoid"), ("mean_squared_error", "sigmoid"),
                                             ("mean_squared_error", None)])
def test_scoring_in_one_pass_gives_exactly_the_loss_and_the_output(make_config, monkeypatch, rows, loss_name, head):
    layers = [{"type": "linear", "units": 8}, "relu", {"type": "linear", "units": 1, "init": "xavier"}]
    config = load_config(make_config({"loss": loss_name, "model.layers": layers + ([head] if head else [])}))
    session = experiment.Session(config)
    data, model, loss = session.data, session.model, session.loss
    if rows:
        monkeypatch.setattr(experiment, "ACTIVATION_BYTES", 2 * 20 * 8 * rows)
    value, output = experiment.score(model, data.X_test, data.y_test, loss)
    assert value == experiment.evaluate(model, data.X_test, data.y_test, loss)
    np.testing.assert_array_equal(output, experiment.predict(model, data.X_test))


def test_restore_refuses_a_history_that_skips_epochs(make_config, no_pictures):
    crashed = _crash_at(make_config(RESUMABLE), 4)
    arrays = runs.read_checkpoint(crashed)
    state = json.loads(str(arrays["state"]))
    del state["history"][1]
    arrays["state"] = np.array(json.dumps(state))
    np.savez(crashed / runs.CHECKPOINT, **arrays)
    with pytest.raises(RunError, match="its history does not number its epochs 1, 2, 3"):
        experiment.resume(crashed)


def test_a_network_too_large_for_the_machine_is_refused_before_anything_is_allocated(tmp_path):
    """units up to 100,000 are valid one by one; ten such layers would need terabytes."""
    from click.testing import CliRunner

    from nnfw_cli.cli import main

    config = tmp_path / "huge.yaml"
    config.write_text("data: {dataset: circles, n_samples: 200}\nmodel:\n  layers:\n"
                      + "    - {type: linear, units: 100000}\n    - relu\n" * 10
                      + "    - {type: linear, units: 1}\n    - sigmoid\ntraining: {epochs: 1}\n")
    result = CliRunner().invoke(main, ["train", str(config), "--output-dir", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "model.layers: training this network would need about" in result.output
    assert "GiB" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_the_memory_estimate_lets_every_shipped_config_train():
    from pathlib import Path

    from nnfw_cli import experiment
    from nnfw_cli.config import load_config

    for path in sorted(Path(__file__).parent.parent.glob("configs/*.yaml")):
        config = load_config(path)
        experiment.check_memory(config, 64, 10_000, limit=2**30)  # well under 1 GiB each


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2])
def test_a_real_kill_9_after_a_checkpoint_then_resume_equals_the_uninterrupted_run(make_config, delay):
    """A training process killed with SIGKILL some moment after its first checkpoint appears (the
    moment varies with the machine, which is the point), then resumed, ends exactly as a run that
    was never interrupted: the same weights, the same history.csv."""
    changes = {**RESUMABLE, "training.epochs": 400, "training.checkpoint_every": 25, "data.n_samples": 200}
    config = make_config(changes, name="killed")
    outputs = config.parent / "outputs"
    whole = subprocess.run([sys.executable, "-m", "nnfw_cli", "train", str(config), "--name", "whole", "--quiet"],
                           capture_output=True, text=True, timeout=300)
    assert whole.returncode == 0, whole.stderr
    process = subprocess.Popen([sys.executable, "-m", "nnfw_cli", "train", str(config), "--name", "killed",
                                "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = outputs / "killed" / runs.CHECKPOINT
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    if process.returncode == 0:
        pytest.skip("training finished before the kill landed")
    resumed = subprocess.run([sys.executable, "-m", "nnfw_cli", "train", "--resume", str(outputs / "killed"),
                              "--quiet"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert (outputs / "killed" / "history.csv").read_bytes() == (outputs / "whole" / "history.csv").read_bytes()
    with np.load(outputs / "killed" / "model.npz") as a, np.load(outputs / "whole" / "model.npz") as b:
        assert a.files == b.files
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name])


def test_generated_data_too_large_for_the_machine_is_refused_before_it_is_made(make_config, monkeypatch, tmp_path):
    config = load_config(make_config({"data.n_samples": 100_000_000}))
    made = []
    monkeypatch.setattr(experiment, "load_split", lambda *args: made.append(args))
    with pytest.raises(ConfigError, match=r"data.n_samples: 100,000,000 samples would need about 6.0 GiB"):
        experiment.check_data_memory(config, limit=2**30)
    experiment.check_data_memory(config, limit=8 * 2**30)  # enough memory: no complaint
    monkeypatch.setattr(experiment, "GENERATED_ROW_BYTES", 10**6)  # every row a megabyte: far too much
    with pytest.raises(ConfigError, match="half of this machine's memory"):
        experiment.Session(load_config(make_config({"data.n_samples": 10**6})))
    assert not made  # refused before any data was made
