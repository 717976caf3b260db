"""Run folders: create them without clobbering, write files atomically, read them back."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

from .errors import RunError


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
