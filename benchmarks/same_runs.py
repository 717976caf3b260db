"""Train every shipped config, score and redraw it, and compare two such sets of run folders.

A change that must not alter behaviour (a refactoring, a faster step) is checked with it:

    python benchmarks/same_runs.py record /tmp/before      # at the old commit
    python benchmarks/same_runs.py record /tmp/after       # at the new one
    python benchmarks/same_runs.py compare /tmp/before /tmp/after

Every file of every run folder must be byte-identical, except the timings in metrics.json and in
the state a .npz file keeps, and the folder's own path where a file records it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TIMINGS = {"data_seconds", "train_seconds", "seconds"}


def record(out: Path) -> None:
    """Train, evaluate (held-out and fresh data), redraw and predict for each shipped config."""
    points = out / "points.csv"
    out.mkdir(parents=True, exist_ok=True)
    points.write_text("x,y\n0.1,0.2\n-0.5,0.7\n1.0,-1.0\n")
    for config in sorted((ROOT / "configs").glob("*.yaml")):
        run = out / config.stem
        steps = [
            ["train", str(config), "--output-dir", str(out), "--name", config.stem, "--quiet"],
            ["eval", str(run)],
            ["eval", str(run), "--seed", "7", "--n-samples", "500"],
            ["plot", str(run), "--neurons"],
            ["plot", str(run), "--animate"],
            ["predict", str(run), str(points), "-o", str(run / "predicted.csv")],
        ]
        outcomes = []  # a step may be refused (fresh data of a real data set): its exit code is recorded
        for args in steps:
            done = subprocess.run([sys.executable, "-m", "nnfw_cli", *args], capture_output=True, text=True)
            outcomes.append(f"{args[0]} {' '.join(args[2:]) if args[0] != 'train' else ''} -> exit {done.returncode}".replace('  ', ' '))
            if args[0] == "train" and done.returncode not in (0, 1):  # 1: a diverged run keeps its folder
                sys.exit(f"nnfw {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
        (run / "steps.txt").write_text("\n".join(outcomes).replace(str(out), "<root>") + "\n")
        print(f"recorded {config.stem}", file=sys.stderr)


def compare(before: Path, after: Path) -> int:
    """Print every file that differs; returns the number of differences."""
    names = sorted({p.relative_to(before) for p in before.rglob("*") if p.is_file()}
                   | {p.relative_to(after) for p in after.rglob("*") if p.is_file()})
    differ = 0
    for name in names:
        a, b = before / name, after / name
        if not (a.is_file() and b.is_file()):
            print(f"only in {'after' if b.is_file() else 'before'}: {name}")
            differ += 1
        elif _content(a, before) != _content(b, after):
            print(f"differs: {name}")
            differ += 1
    print(f"{len(names)} files compared, {differ} differ")
    return differ


def _content(path: Path, root: Path) -> object:
    if path.suffix == ".npz":  # a checkpoint or state file: its JSON "state" holds the seconds trained
        with np.load(path, allow_pickle=False) as arrays:
            return {key: _json(str(arrays[key]), root) if key == "state" else
                    (arrays[key].dtype.str, arrays[key].shape, arrays[key].tobytes()) for key in arrays.files}
    data = path.read_bytes().replace(str(root).encode(), b"<root>")
    if path.suffix == ".json":
        return _json(data.decode(), root)
    return data


def _json(text: str, root: Path) -> object:
    """A JSON object with the folder's path in it replaced and its timings left out."""
    return {k: v for k, v in json.loads(text.replace(str(root), "<root>")).items() if k not in TIMINGS}


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "record":
        record(Path(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(1 if compare(Path(sys.argv[2]), Path(sys.argv[3])) else 0)
    else:
        sys.exit(__doc__)
