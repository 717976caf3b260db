"""Run folders: create them without clobbering, write files atomically, read them back."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Iterator

from .errors import ModelFileError, RunError


_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed to ``path``.

    A crash or an exception while writing leaves no half-written file behind, and an existing
    ``path`` is replaced only once the new content is complete.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the user's usual mode
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    write_text(path, json.dumps(data, indent=2, allow_nan=True) + "\n")


def create_run_dir(output_dir: str | os.PathLike, stem: str, name: str | None = None) -> Path:
    """Make a new, empty run folder and return it; an existing folder is never reused.

    With ``name`` the folder is ``output_dir/name`` and must not exist yet; otherwise it is
    ``output_dir/<stem>-<YYYYmmdd-HHMMSS>``, with ``-2``, ``-3``, ... added on a collision.
    """
    import time

    root = Path(output_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"{root}: the output directory cannot be created: {exc.strerror or exc}") from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise RunError(f"{root}: the output directory is not writable")
    if name is not None:
        return _mkdir(root / name, exists=f"{root / name}: a run of that name exists; choose another --name")
    base = f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    for attempt in range(1, 1000):
        path = root / (base if attempt == 1 else f"{base}-{attempt}")
        if not path.exists():
            try:
                return _mkdir(path, exists=None)
            except FileExistsError:
                continue
    raise RunError(f"{root}: cannot find a free run folder name for {base}")


def _mkdir(path: Path, exists: str | None) -> Path:
    try:
        path.mkdir()
    except FileExistsError:
        if exists is None:
            raise
        raise RunError(exists) from None
    except OSError as exc:
        raise RunError(f"{path}: cannot create the run folder: {exc.strerror or exc}") from None
    return path


LATEST = "latest"


def mark_latest(run_dir: Path) -> None:
    """Point ``<output_dir>/latest`` at ``run_dir`` (a relative symlink, replaced atomically)."""
    link = run_dir.parent / LATEST
    tmp = run_dir.parent / f".{LATEST}.{os.getpid()}.tmp"
    try:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(run_dir.name, tmp)
        os.replace(tmp, link)
    except OSError:
        # No symlinks (some file systems): `latest` is then found as the newest folder.
        if tmp.is_symlink():
            tmp.unlink()


def save_model(model: Any, path: Path) -> None:
    """``model.save`` into ``path``, atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        model.save(handle)


# -- reading a run back -----------------------------------------------------------------------

CONFIG, MODEL, HISTORY, METRICS = "config.yaml", "model.npz", "history.csv", "metrics.json"
CHECKPOINT, SNAPSHOTS = "checkpoint.npz", "snapshots.npz"


def find_run(run: str | os.PathLike | None, output_dir: str | os.PathLike = "outputs") -> Path:
    """The run folder ``run``, or with None the newest run under ``output_dir``."""
    if run is not None:
        path = Path(run)
        if not path.is_dir():
            raise RunError(f"{path}: {'not a folder' if path.exists() else 'no such run folder'}")
        return path
    root = Path(output_dir)
    latest = root / LATEST
    if latest.is_dir():
        return latest.resolve()
    folders = [p for p in root.iterdir() if p.is_dir() and (p / CONFIG).exists()] if root.is_dir() else []
    if not folders:
        raise RunError(f"{root}: no runs yet; train one with `nnfw train CONFIG` or name a run folder")
    return max(folders, key=lambda p: p.stat().st_mtime)


def require(run_dir: Path, name: str) -> Path:
    """``run_dir/name``, which must exist."""
    path = run_dir / name
    if not path.is_file():
        raise RunError(f"{path}: missing; {run_dir} is not a complete run folder")
    return path


def read_config(run_dir: Path) -> Any:
    """The run's resolved config."""
    from .config import load_config

    return load_config(require(run_dir, CONFIG))


def read_model(run_dir: Path) -> Any:
    """The run's trained model; a missing, corrupt or misshapen file is a ModelFileError."""
    from .nn import Model

    path = require(run_dir, MODEL)
    try:
        return Model.load(path)
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise ModelFileError(f"{path}: not a usable model file: {exc}") from None


def read_history(run_dir: Path) -> Any:
    """The run's history.csv as a DataFrame of numbers; a missing column or bad cell is a RunError."""
    import numpy as np
    import pandas as pd

    path = require(run_dir, HISTORY)
    try:
        frame = pd.read_csv(path)
    except (ValueError, OSError) as exc:  # pandas' parser and empty-file errors are ValueErrors
        raise RunError(f"{path}: cannot be read: {exc}") from None
    missing = [name for name in ("epoch", "train_loss") if name not in frame.columns]
    if missing:
        raise RunError(f"{path}: no {' or '.join(missing)} column (found: {', '.join(map(str, frame.columns))})")
    for column in frame.columns:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = (values.isna() & frame[column].notna()).to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise RunError(f"{path}: row {row + 1} (line {row + 2}), column {column!r}: "
                           f"{frame[column].iloc[row]!r} is not a number")
        frame[column] = values
    return frame


def save_arrays(path: Path, arrays: dict[str, Any], compressed: bool = False) -> None:
    """``np.savez`` of ``arrays`` into ``path``, atomically."""
    import numpy as np

    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        (np.savez_compressed if compressed else np.savez)(handle, **arrays)


def load_arrays(path: Path) -> dict[str, Any]:
    """Every array of an ``.npz`` file, read without pickle; a bad file is a RunError."""
    import numpy as np

    if path.is_file() and not zipfile.is_zipfile(path):  # np.load would try other bytes as a pickle
        raise RunError(f"{path}: cannot be read: not an .npz archive")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise RunError(f"{path}: cannot be read: {exc}") from None


def read_checkpoint(run_dir: Path) -> dict[str, Any]:
    """The arrays of the run's checkpoint."""
    if not (run_dir / CHECKPOINT).is_file():
        status = read_status(run_dir)
        raise RunError(f"{run_dir}: no checkpoint to resume from (the run's status is {status})")
    return load_arrays(run_dir / CHECKPOINT)


def read_status(run_dir: Path) -> str:
    """The run's status from metrics.json (completed, interrupted, diverged), or "unknown"."""
    try:
        return json.loads((run_dir / METRICS).read_text()).get("status", "unknown")
    except (OSError, ValueError, AttributeError):
        return "unknown"


SNAPSHOT_KEYS = ("epoch", "train_loss", "val_roc_auc", "proba")  # of each snapshot


def write_snapshots(run_dir: Path, snapshots: list[dict], grid: tuple) -> None:
    """Boundary snapshots (probabilities as bytes over a grid), compressed."""
    import numpy as np

    arrays = {key: np.array([s[key] for s in snapshots]) for key in SNAPSHOT_KEYS}
    arrays["xx"], arrays["yy"] = grid[0], grid[1]
    save_arrays(run_dir / SNAPSHOTS, arrays, compressed=True)


def read_snapshots(run_dir: Path) -> tuple[list[dict], tuple[Any, Any] | None]:
    """``(snapshots, (xx, yy))`` as ``write_snapshots`` wrote them; ``([], None)`` if there are none."""
    path = run_dir / SNAPSHOTS
    if not path.is_file():
        return [], None
    arrays = load_arrays(path)
    missing = [key for key in SNAPSHOT_KEYS + ("xx", "yy") if key not in arrays]
    if missing:
        raise RunError(f"{path}: not a snapshots file: no {', '.join(missing)} array")
    count, grid = arrays["epoch"].shape[:1], arrays["xx"].shape
    if (arrays["epoch"].ndim != 1 or arrays["yy"].shape != grid or arrays["proba"].shape != count + grid
            or any(arrays[key].shape != count for key in ("train_loss", "val_roc_auc"))):
        raise RunError(f"{path}: its arrays do not fit together (one snapshot per epoch listed, each over the grid)")
    snapshots = [dict(zip(SNAPSHOT_KEYS, values)) for values in zip(*(arrays[key] for key in SNAPSHOT_KEYS))]
    return snapshots, (arrays["xx"], arrays["yy"])
