"""Run folders: create them without clobbering, lock them, write files atomically, read them back.

Every file of a run is read as something a user may have made by hand: a reader refuses what is
not a regular file before opening it (a FIFO would block), checks an ``.npz`` file's array headers
before loading anything (a header may claim terabytes), and turns every problem into one
RunError or ModelFileError that names the file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import shutil
import socket
import stat
import tempfile
import threading
import time
import zipfile
import zlib
from pathlib import Path
from typing import IO, Any, Iterator

from .errors import ModelFileError, RunError, RunInUse, WriteError

CONFIG, MODEL, HISTORY, METRICS = "config.yaml", "model.npz", "history.csv", "metrics.json"
CHECKPOINT, SNAPSHOTS = "checkpoint.npz", "snapshots.npz"
STATE = "state.npz"  # a completed run's training state at the epoch model.npz holds, for `nnfw train --from`
LAST_MODEL = "model-last.npz"  # the last epoch's weights, when model.npz holds the best epoch's
LATEST = "latest"  # <output_dir>/latest links to the newest run
LOCK = ".lock"     # <run_dir>/.lock names the process using the run

MAX_ARRAY_BYTES = 2**30  # all the arrays of one .npz file; a run's own are a few MB at most
MAX_TEXT_BYTES = 2**26   # config.yaml, metrics.json, history.csv (a million epochs of history)
STALE_SECONDS = 3600.0   # a temporary file untouched this long has no writer left

_UMASK = os.umask(0)
os.umask(_UMASK)


# -- writing ----------------------------------------------------------------------------------


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, sync: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed to ``path``.

    A crash or an exception while writing leaves no half-written file behind, and an existing
    ``path`` is replaced only once the new content is complete and flushed to disk (with
    ``sync=False``, once it is complete: a killed process loses nothing, a crashed machine may;
    for files that can be made again, such as a sweep's run files). The
    temporary name, ``.NAME.PID.RANDOM.tmp``, carries the writer's pid, so that a file left by
    a killed writer can be told from one being written. A file-system error (a read-only
    folder, a full disk) is a WriteError naming ``path`` and the reason.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
        os.close(fd)
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        try:
            yield Path(tmp)
            if sync:
                _flush(tmp)
            with contextlib.suppress(OSError):  # some file systems have no modes; the file is still good
                os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the user's usual mode
            os.replace(tmp, path)
        except OSError as exc:
            raise _write_error(path, exc) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _flush(tmp: str) -> None:
    """Put ``tmp``'s data on disk before it is renamed: a full disk may only show here."""
    fd = os.open(tmp, os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_error(path: Path, exc: OSError) -> WriteError:
    return WriteError(f"{path}: cannot be written: {exc.strerror or exc}", str(path))


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically; NaN and infinities become null (JSON has neither)."""
    write_text(path, json.dumps(json_safe(data), indent=2, allow_nan=False) + "\n")


def json_safe(value: Any) -> Any:
    """``value`` as valid JSON can hold it: numpy numbers and arrays as Python ones, NaN and
    infinities as None; ``json.dumps(json_safe(metrics), allow_nan=False)`` always works for metrics."""
    if hasattr(value, "dtype") and hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()  # a numpy scalar
    elif hasattr(value, "tolist"):  # a numpy array
        value = value.tolist()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def save_model(model: Any, path: Path) -> None:
    """``model.save`` into ``path``, atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        model.save(handle)


def save_arrays(path: Path, arrays: dict[str, Any], compressed: bool = False) -> None:
    """``np.savez`` of ``arrays`` into ``path``, atomically."""
    import numpy as np

    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        (np.savez_compressed if compressed else np.savez)(handle, **arrays)


# -- creating a run folder --------------------------------------------------------------------


def create_run_dir(output_dir: str | os.PathLike, stem: str, name: str | None = None) -> Path:
    """Make a new, empty run folder and return it; an existing folder is never reused.

    With ``name`` the folder is ``output_dir/name`` and must not exist yet; otherwise it is
    ``output_dir/<stem>-<YYYYmmdd-HHMMSS>``, with ``-2``, ``-3``, ... added on a collision.
    ``latest`` is refused as a name: ``output_dir/latest`` is the link to the newest run.
    """
    root = Path(output_dir)
    if name is not None:
        _check_name(root, name)
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
        if not path.exists() and not path.is_symlink():
            try:
                return _mkdir(path, exists=None)
            except FileExistsError:
                continue
    raise RunError(f"{root}: cannot find a free run folder name for {base}")


def _check_name(root: Path, name: str) -> None:
    if name.casefold() == LATEST:  # casefold: on macOS and Windows `Latest` is the same folder
        raise RunError(f"{root / name}: the name {name!r} is reserved: {root / LATEST} links to the newest "
                       "run; choose another --name")
    separators = {"/", os.sep, os.altsep or "/", "\0"}
    if not name.strip() or name in {".", ".."} or any(s in name for s in separators) or name.startswith("."):
        raise RunError(f"{name!r} is not a plain folder name (no separators, not hidden); choose another --name")


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


def mark_latest(run_dir: Path) -> None:
    """Point ``<output_dir>/latest`` at ``run_dir`` (a relative symlink, replaced atomically).

    ``run_dir`` may itself be a link (``outputs/latest``): the link goes to the folder it leads
    to, never to itself. A ``latest`` that is not a link (a file or folder someone made) is left
    alone, and so is a file system without symlinks: the newest run is then found by age.
    """
    try:
        run_dir = _follow_links(Path(run_dir))
    except RunError:
        return
    link = run_dir.parent / LATEST
    if run_dir.name == LATEST or (os.path.lexists(link) and not link.is_symlink()):
        return
    tmp = run_dir.parent / f".{LATEST}.{os.getpid()}.tmp"
    try:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(run_dir.name, tmp)
        os.replace(tmp, link)
    except OSError:
        with contextlib.suppress(OSError):
            if tmp.is_symlink():
                tmp.unlink()


# -- one process at a time --------------------------------------------------------------------

_HELD: dict[str, list] = {}  # realpath of a lock file -> [token, pid, thread id, depth]: the locks held here
_HELD_GUARD = threading.Lock()
_FRESH_SECONDS = 10.0  # an empty lock file younger than this is one being written


@contextlib.contextmanager
def lock(run_dir: str | os.PathLike) -> Iterator[Path]:
    """Hold ``run_dir`` for this process while the block runs; yields ``run_dir``.

    The lock is the file ``run_dir/.lock``, created with O_CREAT|O_EXCL and holding this
    process's pid and host; the block's end removes it, however the block ends. A lock left by
    a process that is no longer running on this host (killed with kill -9, a crashed machine) is
    taken over; one held by a live process, or by a process on another host (which cannot be
    checked from here), is a RunInUse error naming the folder and the pid. The thread holding a
    lock may take it again. Once held, temporary files left in the folder by writers that died
    are removed (``remove_stale_temporaries``).
    """
    run_dir = Path(run_dir)
    path = run_dir / LOCK
    key = os.path.realpath(path)
    if _enter_again(key, run_dir):
        try:
            yield run_dir
        finally:
            _leave(key)
        return
    token = _acquire(run_dir, path)
    with _HELD_GUARD:
        _HELD[key] = [token, os.getpid(), threading.get_ident(), 1]
    try:
        remove_stale_temporaries(run_dir)
        yield run_dir
    finally:
        with _HELD_GUARD:
            _HELD.pop(key, None)
        _release(path, token)


def _enter_again(key: str, run_dir: Path) -> bool:
    """True if this thread holds the lock already (and counts one more block)."""
    with _HELD_GUARD:
        held = _HELD.get(key)
        if held is None or held[1] != os.getpid():  # a child after fork holds nothing
            return False
        if held[2] != threading.get_ident():
            raise RunInUse(f"{run_dir}: in use by another thread of this process (pid {os.getpid()})",
                           str(run_dir), os.getpid(), socket.gethostname())
        held[3] += 1
        return True


def _leave(key: str) -> None:
    with _HELD_GUARD:
        _HELD[key][3] -= 1


def _acquire(run_dir: Path, path: Path) -> str:
    """Create the lock file (taking over a stale one); returns the token that proves it is ours."""
    token = secrets.token_hex(8)
    record = {"pid": os.getpid(), "host": socket.gethostname(), "started": _started(os.getpid()),
              "since": time.strftime("%Y-%m-%d %H:%M:%S"), "token": token}
    for _ in range(20):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raw, holder = _read_lock(run_dir, path)
            if raw is not None:
                if not _is_stale(path, holder):
                    raise _in_use(run_dir, path, holder) from None
                _break(path, raw)
            continue
        except OSError as exc:
            raise WriteError(f"{run_dir}: cannot be locked: {exc.strerror or exc}", str(path)) from None
        _write_lock(fd, path, record)
        return token
    raise RunInUse(f"{run_dir}: other processes keep taking and leaving it; try again", str(run_dir))


def _write_lock(fd: int, path: Path, record: dict) -> None:
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise WriteError(f"{path.parent}: cannot be locked: {exc.strerror or exc}", str(path)) from None


def _read_lock(run_dir: Path, path: Path) -> tuple[bytes | None, dict]:
    """The lock file's bytes and record; ``(None, {})`` if it has gone meanwhile."""
    try:
        with open_regular(path, limit=4096) as handle:
            raw = handle.read()
    except RunError:
        if not os.path.lexists(path):
            return None, {}
        raise
    if not raw.strip():
        return raw, {}  # being written, or its writer died between creating and writing it
    try:
        holder = json.loads(raw)
        pid = holder.get("pid") if isinstance(holder, dict) else None
        if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0:
            return raw, holder
    except ValueError:
        pass
    raise RunError(f"{path}: not a lock file nnfw wrote; if no nnfw process is using {run_dir}, delete it")


def _is_stale(path: Path, holder: dict) -> bool:
    """Whether the lock's holder is gone; a holder on another host is never guessed to be."""
    if not holder:  # empty: stale once its writer has had ample time to write it
        try:
            return time.time() - os.stat(path).st_mtime > _FRESH_SECONDS
        except OSError:
            return True  # gone meanwhile: nothing to wait for
    if holder.get("host") != socket.gethostname():
        return False
    pid = holder["pid"]
    if pid == os.getpid():  # not held by this process (see _enter_again): an earlier one with our pid
        return True
    started = holder.get("started")
    return not _alive(pid) or (started is not None and _started(pid) not in (None, started))


def _break(path: Path, raw: bytes) -> None:
    """Remove the stale lock file holding ``raw``, and no other.

    Between reading a stale lock and removing it, another process may have taken the lock over
    already: the file is first renamed aside (one process wins the rename), then removed only
    if it is the one read; a newer lock moved aside by mistake is put back.
    """
    aside = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    try:
        with open(aside, "rb") as handle:
            if handle.read(4097) != raw:
                with contextlib.suppress(OSError):
                    os.link(aside, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(aside)


def _release(path: Path, token: str) -> None:
    """Remove the lock file if it is still ours."""
    with contextlib.suppress(OSError, ValueError, RunError):
        with open_regular(path, limit=4096) as handle:
            holder = json.loads(handle.read())
        if isinstance(holder, dict) and holder.get("token") == token:
            os.unlink(path)


def _in_use(run_dir: Path, path: Path, holder: dict) -> RunInUse:
    if not holder:
        return RunInUse(f"{run_dir}: another process is taking it right now; try again", str(run_dir))
    pid, host = holder["pid"], holder.get("host")
    since = f", since {holder['since']}" if isinstance(holder.get("since"), str) else ""
    return RunInUse(f"{run_dir}: in use by another nnfw process (pid {pid} on {host}{since}); wait for it "
                    f"to finish. If no such process is running, delete {path}", str(run_dir), pid, host)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (a zombie does not; where it cannot be told, it does)."""
    return _alive(pid)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (a zombie does not; where it cannot be told, it does)."""
    if os.name != "posix":
        return True  # os.kill(pid, 0) would end the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OverflowError, ValueError):
        return False
    except OSError:  # PermissionError: it exists, as another user's
        return True
    return _proc_stat(pid)[0] != "Z"


def _started(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), to tell a reused pid."""
    return _proc_stat(pid)[1]


def _proc_stat(pid: int) -> tuple[str | None, str | None]:
    """``(state, start time)`` of process ``pid`` from /proc/PID/stat, or Nones where there is no /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return fields[0].decode(), fields[19].decode()
    except (OSError, IndexError, UnicodeDecodeError):
        return None, None


# -- temporary files left by killed writers ---------------------------------------------------

# `.NAME.PID.RANDOM.tmp` (atomic_path), `.NAME.RANDOM.tmp` (older nnfw), and the private
# folder `.<one of those>.RANDOM` that an animation is drawn in; RANDOM is mkstemp's 8 characters.
_TEMPORARY = re.compile(r"\.(?P<name>.+?)\.(?:(?P<pid>\d+)\.)?[a-z0-9_]{8}\.tmp(?P<folder>\.[a-z0-9_]{8})?")


def remove_stale_temporaries(folder: str | os.PathLike, max_age: float = STALE_SECONDS) -> list[Path]:
    """Remove the hidden temporary files in ``folder`` whose writer is gone; returns those removed.

    A temporary file is ``atomic_path``'s ``.NAME.PID.RANDOM.tmp``. Its writer is gone when the
    process named by PID is not running on this host, or, for any temporary file, when it has
    not been modified for ``max_age`` seconds (a write takes seconds; an hour is abandoned).
    Call it with the folder's lock held (``lock`` does): then no other process, on this host or
    another, is writing there, so a pid not running here cannot be a writer elsewhere. Files of
    any other name, the user's, are never touched.
    """
    removed = []
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in list(entries):
            match = _TEMPORARY.fullmatch(entry.name)
            if match and _abandoned(entry, match, max_age) and _remove(entry, bool(match["folder"])):
                removed.append(Path(entry.path))
    return removed


def _abandoned(entry: os.DirEntry, match: re.Match, max_age: float) -> bool:
    try:
        info = entry.stat(follow_symlinks=False)
    except OSError:
        return False
    is_dir = stat.S_ISDIR(info.st_mode)
    if is_dir != bool(match["folder"]) or not (is_dir or stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)):
        return False
    pid = int(match["pid"]) if match["pid"] else None
    if pid is not None and pid != os.getpid() and not _alive(pid):
        return True
    return pid != os.getpid() and time.time() - info.st_mtime > max_age


def _remove(entry: os.DirEntry, folder: bool) -> bool:
    try:
        shutil.rmtree(entry.path) if folder else os.unlink(entry.path)
    except OSError:
        return False
    return True


# -- finding a run ----------------------------------------------------------------------------


def choose_run(run: str | os.PathLike | None, output_dir: str | os.PathLike = "outputs") -> tuple[Path, str | None]:
    """The run folder to use, and a line for people saying which one it is, or None.

    ``run`` may be a link (``outputs/latest``): the folder it leads to is returned, so nothing is
    written through the link and ``latest`` is never pointed at itself; the line then says
    ``"outputs/latest is outputs/circles-20260101-120000"``. With ``run`` None, the newest run
    under ``output_dir`` (the one ``latest`` leads to, else the one whose config.yaml is newest),
    and the line says ``"using the newest run in outputs: outputs/circles-20260101-120000"``. A
    run folder named as it is needs no line.
    """
    if run is not None:
        given = Path(run)
        path = _follow_links(given)
        if not path.is_dir():
            what = "not a folder" if path.exists() else "no such run folder"
            raise RunError(f"{given}: {what}" if path == given else f"{given}: a link to {path}: {what}")
        return path, (f"{given} is {path}" if path != given else None)
    root = Path(output_dir)
    path = _newest_run(root)
    return path, f"using the newest run in {root}: {path}"


def find_run(run: str | os.PathLike | None, output_dir: str | os.PathLike = "outputs") -> Path:
    """The run folder ``run`` (a link is followed to it), or with None the newest run under ``output_dir``."""
    return choose_run(run, output_dir)[0]


def _follow_links(path: Path) -> Path:
    """``path`` with its last part followed from link to link, keeping the path relative if it was."""
    start = path
    for _ in range(40):
        if not path.is_symlink():
            return path
        try:
            target = Path(os.readlink(path))
        except OSError as exc:
            raise RunError(f"{start}: the link cannot be read: {exc.strerror or exc}") from None
        path = target if target.is_absolute() else path.parent / target
    raise RunError(f"{start}: a link that leads round in a circle (to itself?), not a run folder")


def _newest_run(root: Path) -> Path:
    latest = root / LATEST
    if latest.is_symlink():
        with contextlib.suppress(RunError):
            path = _follow_links(latest)
            if path.is_dir():
                return path
    try:
        folders = [p for p in root.iterdir() if not p.name.startswith(".") and not p.is_symlink()
                   and p.is_dir() and (p / CONFIG).is_file()] if root.is_dir() else []
    except OSError as exc:
        raise RunError(f"{root}: cannot be read: {exc.strerror or exc}") from None
    if not folders:
        raise RunError(f"{root}: no runs yet; train one with `nnfw train CONFIG` or name a run folder")
    return max(folders, key=_created)


def _created(folder: Path) -> float:
    """When the run was made: its config.yaml is written once, first (the folder's own time
    changes with every file written into it, an eval or a picture)."""
    try:
        return (folder / CONFIG).stat().st_mtime
    except OSError:
        return 0.0


# -- reading files safely ---------------------------------------------------------------------


def _what(mode: int) -> str | None:
    """What a file that is not a regular file is, for messages; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder, not a file"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe), not a regular file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a regular file"
    return "not a regular file"


def open_regular(path: str | os.PathLike, error: type[Exception] = RunError, limit: int | None = None) -> IO[bytes]:
    """Open ``path`` for reading in binary, refusing anything but a regular file, without blocking.

    The file is checked before it is opened (opening a FIFO would wait for a writer, opening a
    device may do something) and again once open, with O_NONBLOCK, in case it was swapped.
    ``limit`` is the most bytes the file may hold. Problems are ``error``s naming the file.
    """
    _check_regular(path, os.stat, error, limit)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise error(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        _check_regular(fd, os.fstat, error, limit, name=path)
        if hasattr(os, "O_NONBLOCK"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _check_regular(target: Any, stat_of: Any, error: type[Exception], limit: int | None,
                   name: Any = None) -> os.stat_result:
    name = target if name is None else name
    try:
        info = stat_of(target)
    except FileNotFoundError:
        raise error(f"{name}: missing") from None
    except OSError as exc:
        raise error(f"{name}: cannot be read: {exc.strerror or exc}") from None
    problem = _what(info.st_mode)
    if problem is None and limit is not None and info.st_size > limit:
        problem = f"too large for a run file ({_size(info.st_size)}; at most {_size(limit)})"
    if problem:
        raise error(f"{name}: {problem}")
    return info


def _size(n_bytes: float) -> str:
    """``n_bytes`` for people: ``16 B``, ``3.5 MiB``, ``7.28 TiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n_bytes < 1024 or unit == "PiB":
            return f"{n_bytes:.3g} {unit}" if unit != "B" else f"{int(n_bytes)} B"
        n_bytes /= 1024
    raise AssertionError("unreachable")


def parse_json(text: str | bytes, where: str) -> Any:
    """``json.loads(text)`` (NaN and Infinity accepted, as older files hold them); a RunError
    beginning with ``where`` for text that is not JSON, or is nested too deeply to read."""
    try:
        return json.loads(text)
    except RecursionError:
        raise RunError(f"{where}: nested too deeply to be read (not a file nnfw wrote)") from None
    except ValueError as exc:  # also UnicodeDecodeError
        raise RunError(f"{where}: not valid JSON: {exc}") from None


def read_json(path: Path) -> Any:
    """A JSON file of the run (metrics.json, eval.json): NaN, Infinity and null all read back."""
    with open_regular(path, limit=MAX_TEXT_BYTES) as handle:
        try:
            raw = handle.read()
        except OSError as exc:
            raise RunError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    return parse_json(raw, str(path))


# -- reading a run back -----------------------------------------------------------------------


def require(run_dir: Path, name: str) -> Path:
    """``run_dir/name``, which must be a regular file; otherwise a RunError saying what it is."""
    path = run_dir / name
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if path.is_symlink():
            raise RunError(f"{path}: a link to {os.readlink(path)}, which does not exist") from None
        raise RunError(f"{path}: missing; {run_dir} is not a complete run folder") from None
    except OSError as exc:
        raise RunError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    problem = _what(info.st_mode)
    if problem is not None:
        raise RunError(f"{path}: {problem}; {run_dir} is not a complete run folder")
    return path


def read_config(run_dir: Path) -> Any:
    """The run's resolved config."""
    from .config import load_config

    path = require(run_dir, CONFIG)
    _check_regular(path, os.stat, RunError, MAX_TEXT_BYTES)
    return load_config(path)


def read_model(run_dir: Path) -> Any:
    """The run's trained model; a missing, unreadable, corrupt or misshapen file is an error naming it."""
    return read_model_file(require(run_dir, MODEL))


def read_model_file(path: Path, unusable: str | None = None) -> Any:
    """A model file saved with ``Model.save``; ``unusable`` replaces the message for a file that
    is not an archive of arrays."""
    from .nn import Model

    with open_regular(path, ModelFileError) as handle:
        _check_npz(handle, path, unusable or f"{path}: not a usable model file", ModelFileError)
        try:
            return Model.load(handle)
        except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
            raise ModelFileError(f"{path}: not a usable model file: {exc}") from None
        except RecursionError:
            raise ModelFileError(f"{path}: not a usable model file: its architecture is nested too deeply "
                                 "to be read") from None


def read_history(run_dir: Path) -> Any:
    """The run's history.csv as a DataFrame of numbers; a missing column or bad cell is a RunError."""
    import numpy as np
    import pandas as pd

    path = require(run_dir, HISTORY)
    with open_regular(path, limit=MAX_TEXT_BYTES) as handle:
        try:
            frame = pd.read_csv(handle)
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


def load_arrays(path: Path) -> dict[str, Any]:
    """Every array of an ``.npz`` file, read without pickle; a bad file is a RunError naming it.

    The arrays' headers are checked first: each must be numbers or text, hold as many bytes as
    its shape says, and all together at most MAX_ARRAY_BYTES; so a hand-made header claiming
    10^12 numbers is refused, not allocated.
    """
    import numpy as np

    with open_regular(path) as handle:
        _check_npz(handle, path, f"{path}: cannot be read", RunError)
        try:
            with np.load(handle, allow_pickle=False) as archive:
                return {name: archive[name] for name in archive.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, MemoryError) as exc:
            raise RunError(f"{path}: cannot be read: {exc}") from None


def _check_npz(handle: IO[bytes], path: Path, prefix: str, error: type[Exception]) -> None:
    """Check an ``.npz`` archive's members and array headers, then rewind ``handle``."""
    try:
        with zipfile.ZipFile(handle) as archive:
            total = sum(_member_bytes(archive, info) for info in archive.infolist())
    except zipfile.BadZipFile:
        raise error(f"{prefix}: not an .npz archive (nnfw's run files are zips of numpy arrays)") from None
    except (ValueError, EOFError, RuntimeError, zlib.error) as exc:  # RuntimeError: an encrypted member
        raise error(f"{prefix}: {exc}") from None
    except OSError as exc:
        raise error(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if total > MAX_ARRAY_BYTES:
        raise error(f"{prefix}: its arrays hold {_size(total)}, more than a run file holds "
                    f"(at most {_size(MAX_ARRAY_BYTES)})")
    handle.seek(0)


def _member_bytes(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    """The bytes of data one ``.npy`` member holds, after checking its header says the same."""
    import numpy as np
    from numpy.lib import format as npy

    if not info.filename.endswith(".npy"):
        raise ValueError(f"{info.filename!r} is not a numpy array (.npy)")
    key = info.filename[:-4]
    with archive.open(info) as member:
        try:
            version = npy.read_magic(member)
            read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, _, dtype = read_header(member)
        except (ValueError, SyntaxError, TypeError) as exc:
            raise ValueError(f"array {key!r}: not a readable .npy header ({exc})") from None
        offset = member.tell()
    if dtype.hasobject:
        raise ValueError(f"array {key!r} holds Python objects, which are not loaded (allow_pickle=False)")
    if dtype.kind not in "biufcUS":
        raise ValueError(f"array {key!r} has dtype {dtype}: not numbers or text")
    claimed = math.prod(shape) * dtype.itemsize
    held = max(info.file_size - offset, 0)
    if claimed != held:
        raise ValueError(f"array {key!r}: its header says shape {shape} of {np.dtype(dtype).name} "
                         f"({_size(claimed)}), but the file holds {_size(held)} of data")
    return claimed


def read_checkpoint(run_dir: Path) -> dict[str, Any]:
    """The arrays of the run's checkpoint; numbers where numbers belong, the state readable JSON."""
    path = run_dir / CHECKPOINT
    if not os.path.lexists(path):
        status = read_status(run_dir)
        raise RunError(f"{run_dir}: no checkpoint to resume from (the run's status is {status})")
    arrays = load_arrays(path)
    for key, value in arrays.items():
        if key.startswith(("model.", "optimizer.", "best.")) and value.dtype.kind not in "biuf":
            raise RunError(f"{path}: array {key!r} holds {_kind(value)} where numbers are expected")
    state = arrays.get("state")
    if state is not None and state.ndim == 0 and state.dtype.kind in "US":
        _check_state(path, parse_json(str(state), f"{path}: the checkpoint does not fit this run: its state"))
    return arrays


def _check_state(path: Path, state: Any) -> None:
    """Numbers (or null, NaN) in each epoch of the checkpoint's history; the rest is checked on restore."""
    history = state.get("history") if isinstance(state, dict) else None
    for number, logs in enumerate(history if isinstance(history, list) else [], start=1):
        for name, value in logs.items() if isinstance(logs, dict) else ():
            if isinstance(value, bool) or not isinstance(value, (int, float, type(None))):
                raise RunError(f"{path}: the checkpoint does not fit this run: history entry {number}: "
                               f"{name!r} is {value!r}, not a number")


def _kind(array: Any) -> str:
    return f"text ({array.dtype.str})" if array.dtype.kind in "US" else f"{array.dtype} values"


def read_status(run_dir: Path) -> str:
    """The run's status from metrics.json (completed, interrupted, diverged), or "unknown"."""
    try:
        metrics = read_json(run_dir / METRICS)
    except RunError:
        return "unknown"
    status = metrics.get("status") if isinstance(metrics, dict) else None
    return status if isinstance(status, str) else "unknown"


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
    if not os.path.lexists(path):
        return [], None
    arrays = load_arrays(path)
    missing = [key for key in SNAPSHOT_KEYS + ("xx", "yy") if key not in arrays]
    if missing:
        raise RunError(f"{path}: not a snapshots file: no {', '.join(missing)} array")
    count, grid = arrays["epoch"].shape[:1], arrays["xx"].shape
    if (arrays["epoch"].ndim != 1 or arrays["yy"].shape != grid or arrays["proba"].shape != count + grid
            or any(arrays[key].shape != count for key in ("train_loss", "val_roc_auc"))):
        raise RunError(f"{path}: its arrays do not fit together (one snapshot per epoch listed, each over the grid)")
    _check_snapshot_values(path, arrays)
    snapshots = [dict(zip(SNAPSHOT_KEYS, values)) for values in zip(*(arrays[key] for key in SNAPSHOT_KEYS))]
    return snapshots, (arrays["xx"], arrays["yy"])


def _check_snapshot_values(path: Path, arrays: dict[str, Any]) -> None:
    import numpy as np

    for key in SNAPSHOT_KEYS + ("xx", "yy"):
        if arrays[key].dtype.kind not in "iuf":
            raise RunError(f"{path}: array {key!r} holds {_kind(arrays[key])} where numbers are expected")
    if arrays["xx"].ndim != 2:
        raise RunError(f"{path}: array 'xx' has shape {arrays['xx'].shape}, which is not a 2-D grid")
    # val_roc_auc is NaN for epochs not scored, train_loss for epoch 0 (the weights before training)
    trained = np.asarray(arrays["epoch"]) != 0
    for key in ("epoch", "train_loss", "proba", "xx", "yy"):
        values = arrays[key][trained] if key == "train_loss" and arrays[key].shape == trained.shape else arrays[key]
        if not np.isfinite(values).all():
            raise RunError(f"{path}: array {key!r} holds NaN or infinite values")
    if arrays["proba"].size and (arrays["proba"].min() < 0 or arrays["proba"].max() > 255):
        raise RunError(f"{path}: array 'proba' holds values outside 0-255 (probabilities stored as bytes)")
