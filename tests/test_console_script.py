"""The ``nnfw`` console script (``cli.run``) as a process: every byte arrives and the exit code is kept."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from nnfw_cli.cli import main

# What the installed ``nnfw`` script does, whatever ``python -m nnfw_cli`` happens to call.
CONSOLE_SCRIPT = "import sys; from nnfw_cli.cli import run; sys.argv[0] = 'nnfw'; run()"

DIVERGING = """\
seed: 0
data: {dataset: circles, n_samples: 200}
model:
  layers: [{type: linear, units: 8, init: uniform}, relu, {type: linear, units: 1, init: uniform}]
loss: mean_squared_error
training: {optimizer: sgd, learning_rate: 1.0e+6, epochs: 60, batch_size: null}
output: {dir: OUTPUT}
"""

# Buffered as the script is for its users: output piped elsewhere waits in a buffer until flushed.
BUFFERED = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}


def _nnfw(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CONSOLE_SCRIPT, *args], capture_output=True, text=True,
                          cwd=cwd, env=BUFFERED, timeout=120)


@pytest.mark.slow
def test_exit_0_delivers_all_of_a_long_stdout(runner, small_config, tmp_path):
    trained = runner.invoke(main, ["train", str(small_config), "--quiet", "--name", "r"])
    assert trained.exit_code == 0, trained.stderr
    run_dir = tmp_path / "outputs" / "r"
    rows = 20_000  # far more than a pipe's buffer, and a last block that only a flush delivers
    points = tmp_path / "points.csv"
    points.write_text("x,y\n" + "".join(f"{i / rows:.6f},{-i / rows:.6f}\n" for i in range(rows)))
    result = _nnfw("predict", str(run_dir), str(points))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    assert lines[0] == "x,y,probability,predicted" and len(lines) == rows + 2 and lines[-1] == ""
    assert lines[-2].startswith(f"{(rows - 1) / rows:.6f},")


@pytest.mark.slow
def test_exit_2_a_bad_option_with_its_message(tmp_path):
    result = _nnfw("check", "missing.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == "" and "missing.yaml: no such file" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_exit_1_a_diverged_run_with_its_progress_and_message(tmp_path):
    config = tmp_path / "diverge.yaml"
    config.write_text(DIVERGING.replace("OUTPUT", str(tmp_path / "outputs")))
    result = _nnfw("train", str(config), "--name", "d")
    assert result.returncode == 1, result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr
    progress, _, message = result.stderr.partition("Error: ")
    assert progress.startswith("epoch ") and progress.endswith("\n")
    assert message.startswith("training diverged at epoch ") and message.endswith(f"{tmp_path / 'outputs' / 'd'}\n")


@pytest.mark.parametrize(("ending", "code", "message"), [
    ("return", 0, ""),
    ("raise errors.ConfigError('bad config')", 2, "Error: bad config\n"),
    ("raise errors.TrainingDiverged('diverged', '.')", 1, "Error: diverged\n"),
    ("sys.exit(3)", 3, ""),
    ("sys.exit('a message')", 1, "a message\n"),
])
def test_output_left_in_buffers_is_flushed_and_the_exit_code_kept(ending, code, message):
    script = "\n".join([
        "import sys",
        "from nnfw_cli import cli, errors",
        "@cli.main.command(name='x')",
        "def x():",
        "    for _ in range(10_000):",
        "        print('o' * 10, end='')  # no flush: only run() delivers the last part",
        "    sys.stderr.write('half a line ')",
        f"    {ending}",
        "sys.argv[0] = 'nnfw'",
        "cli.run()",
    ])
    result = subprocess.run([sys.executable, "-c", script, "x"], capture_output=True, text=True, env=BUFFERED,
                            timeout=60)
    assert result.returncode == code, result.stderr
    assert result.stdout == "o" * 100_000
    assert result.stderr == "half a line " + message


def test_ctrl_c_while_the_cli_is_imported_ends_quietly():
    """A Ctrl-C that lands while click and numpy are still being imported: no traceback, the
    process ends by the signal (the shell reports 130), nothing is printed."""
    import signal
    import subprocess
    import sys

    script = (
        "import builtins, os, signal, sys\n"
        "real = builtins.__import__\n"
        "def spy(name, *args, **kwargs):\n"
        "    if name == 'click':\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = spy\n"
        "sys.argv = ['nnfw', '--help']\n"
        "from nnfw_cli._entry import run\n"
        "run()\n"
    )
    # A suite started in the background (`pytest &`) ignores SIGINT, and a child keeps an ignored
    # signal ignored: give the child Ctrl-C as a terminal would.
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert done.returncode == -signal.SIGINT, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr and done.stdout == ""


@pytest.mark.parametrize("args, pictures", [
    (["sweep", "s.yaml"], False), (["sweep", "s.yaml", "--pictures"], True),
    (["sweep", "s.yaml", "--pictures", "--no-pictures"], False), (["sweep", "--resume", "d", "--workers=2"], False),
    (["train", "c.yaml", "--seeds", "0-3"], True), (["train", "c.yaml", "--seeds=0-3", "--workers", "2"], True),
    (["sweep", "s.yaml", "--scheduler", "tcp://h:8786"], None), (["sweep", "s.yaml", "--scheduler=tcp://h:8786"], None),
    (["sweep", "--help"], None), (["train", "c.yaml", "--seeds", "0-3", "-h"], None), (["train", "c.yaml"], None),
    (["eval", "sweep"], None), ([], None), (["--version"], None)])
def test_the_commands_that_run_on_local_workers_start_their_forkserver_before_the_cli_is_imported(
        monkeypatch, args, pictures):
    from nnfw_cli import _entry, pool

    started = []
    monkeypatch.setattr(pool, "worker_context", started.append)
    _entry._start(_entry._workers(args))
    assert started == ([] if pictures is None else [pictures])


@pytest.mark.slow
@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM"])
def test_a_sweep_stopped_while_the_cli_is_imported_ends_its_forkserver_and_leaves_no_folder(tmp_path, short_tmp,
                                                                                          signum):
    """The forkserver starts before the CLI is imported; a signal then still leaves nothing behind."""
    import signal

    script = (
        "import builtins, os, signal, sys\n"
        "real = builtins.__import__\n"
        "def spy(name, *args, **kwargs):\n"
        "    if name == 'click':\n"
        f"        os.kill(os.getpid(), signal.{signum})\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = spy\n"
        "sys.argv = ['nnfw', 'sweep', 'sweep.yaml']\n"
        "from nnfw_cli._entry import run\n"
        "run()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env={**os.environ, "TMPDIR": str(short_tmp)},
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert done.returncode == -getattr(signal, signum), (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert list(short_tmp.iterdir()) == []
