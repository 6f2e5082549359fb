"""Where the course keeps its files.

Notebooks never use relative paths such as ``'../data'``: those break when papermill
runs a notebook from another folder. They ask this module instead. The project root is
the folder that holds ``pyproject.toml`` above this package (an editable install keeps
the package inside the checkout); ``GUNEAMP_HOME`` overrides it.

``GUNEAMP_OUT``, when set, redirects everything the course *writes* (graphs, trained
models, rendered audio) to another folder, so the test suite can run the notebooks
without replacing the learner's graphs and models; inputs are still read from ``data/``.

It also guards the user's files. :func:`atomic_output` writes every output through a
temporary that replaces the destination only when complete; :func:`refuse_output_on_inputs`,
:func:`check_input_file` and :func:`check_output_path` refuse, in one line and before
any work, an output that would land on an input, an input that cannot be read (a pipe
included), and an output that cannot be written. :func:`output_lock` gives one run at a time
each output file or folder: a second run that would write it is refused in one line instead
of both reporting success while one silently replaces the other.
"""

from __future__ import annotations

import errno
import glob
import os
import socket
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import GuneampError

_PACKAGE_DIR = Path(__file__).resolve().parent


def project_root() -> Path:
    env = os.environ.get("GUNEAMP_HOME")
    if env:
        return Path(env).expanduser().resolve()
    candidate = _PACKAGE_DIR.parent
    if (candidate / "pyproject.toml").exists():
        return candidate
    # Installed as a normal (non-editable) package: fall back to the working directory.
    return Path.cwd().resolve()


def data_dir() -> Path:
    return project_root() / "data"


def _output_root() -> Path | None:
    env = os.environ.get("GUNEAMP_OUT")
    return Path(env).expanduser().resolve() if env else None


def graphs_dir() -> Path:
    """Where the course draws its graphs: ``build/graphs`` (ignored by git), unless redirected.

    Running the course never modifies a tracked file; ``make graphs`` copies these into
    :func:`committed_graphs_dir` when the committed pictures should change.
    """
    out = _output_root()
    return out / "graphs" if out else build_dir() / "graphs"


def committed_graphs_dir() -> Path:
    """The nine graphs the README shows, as ``make graphs`` last copied them."""
    return project_root() / "graphs"


def runs_dir() -> Path:
    out = _output_root()
    return out / "runs" if out else project_root() / "runs"


def rendered_dir() -> Path:
    """Where rendered audio goes: ``data/`` next to the inputs, unless redirected."""
    out = _output_root()
    return out / "data" if out else data_dir()


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def build_dir() -> Path:
    return project_root() / "build"


def shared_data_dir() -> Path | None:
    """The real recordings in ``../shared/data`` next to the checkout, if present."""
    env = os.environ.get("GUNEAMP_SHARED_DATA")
    path = Path(env) if env else project_root().parent / "shared" / "data"
    return path if path.is_dir() else None


# Temporaries carry this mark and the writer's process id, so that a later run can tell
# an abandoned one (its writer is gone: killed, or the machine went down) from one being
# written right now, and remove it.
TEMP_MARK = ".guneamp-partial-"


def _umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no way to read it but to set it; put it straight back
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process: leave its file alone
    return True


def remove_stale_temporaries(path) -> list[Path]:
    """Delete temporaries left next to ``path`` by writers that no longer run; returns them."""
    path = Path(path)
    removed = []
    try:
        candidates = list(path.parent.glob(glob.escape(path.name) + TEMP_MARK + "*"))
    except OSError:
        return removed
    for tmp in candidates:
        pid = tmp.name[len(path.name) + len(TEMP_MARK):].split("-", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:
                pass
    return removed


@contextmanager
def atomic_output(path, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary file next to ``path`` to write into; it replaces ``path`` when the
    block ends normally and is removed when it raises (SIGTERM included, see
    :mod:`guneamp_lib.cli`). A reader (or a run stopped half-way) sees the old file or the
    new one, never a torn one. A run killed outright (SIGKILL) leaves its temporary,
    named ``<name>.guneamp-partial-<pid>-...``; the next write of ``path`` removes it.
    The new file gets the mode a plain write would give (the umask), or the mode of the
    file it replaces. ``suffix``: for writers that choose the format by extension (matplotlib)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, name = tempfile.mkstemp(prefix=f"{path.name}{TEMP_MARK}{os.getpid()}-", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# A run claims an output by creating ``<name>.guneamp-lock`` next to it, exclusively
# (O_CREAT | O_EXCL: of two runs that try at once, exactly one succeeds), with its
# process id and host inside, so that a lock left by a run that was killed can be told
# from a live one on this machine and removed. Locks of another host are never removed:
# its process ids mean nothing here (a Dask worker on a shared filesystem).
LOCK_MARK = ".guneamp-lock"
_held: dict[Path, int] = {}


def lock_path(path) -> Path:
    path = Path(path)
    return path.parent / (path.name + LOCK_MARK)


def _lock_owner(lock: Path) -> tuple[int | None, str]:
    try:
        pid, _, host = lock.read_text(encoding="utf-8").strip().partition(" ")
    except (OSError, UnicodeDecodeError):
        return None, ""
    return (int(pid) if pid.isdigit() else None), host


def _acquire(path: Path) -> None:
    lock = lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname()
    for _ in range(2):  # a second try after removing a dead run's lock
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            pid, owner = _lock_owner(lock)
            if pid is not None and owner == host and not _pid_alive(pid):
                lock.unlink(missing_ok=True)
                continue
            who = f"process {pid}" if pid is not None else "another process"
            where = "" if owner in ("", host) else f" on {owner}"
            raise GuneampError(
                f"{path} is being written by another guneamp run ({who}{where}); wait for it to end or choose "
                f"another output. If no such run is going on, delete {lock}."
            ) from None
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(f"{os.getpid()} {host}\n")
        return
    raise GuneampError(f"cannot claim {path}: its lock {lock} keeps coming back; delete it and try again.")


@contextmanager
def output_lock(*outputs) -> Iterator[None]:
    """Claim each output (a file or a folder) for this run until the block ends.

    Exclusive: another run that asks for one of them while this block runs gets a
    :class:`GuneampError` saying which process holds it. Re-entrant within one process
    (a command that locks its folder and then calls a library function that locks it
    again). A lock left by a killed run of this machine is removed by the next one.
    """
    taken = []
    try:
        for out in outputs:
            if out is None:
                continue
            key = Path(out).resolve()  # two names of one file (a symlinked folder) share one lock
            if key not in _held:
                _acquire(key)
            _held[key] = _held.get(key, 0) + 1
            taken.append(key)
        yield
    finally:
        for key in reversed(taken):
            _held[key] -= 1
            if not _held[key]:
                del _held[key]
                lock_path(key).unlink(missing_ok=True)


# Below this much free space a failed write is taken for a full disk, whatever the writer said.
NEARLY_FULL_BYTES = 1 << 20


def _free_bytes(folder: Path) -> int | None:
    import shutil

    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


@contextmanager
def disk_errors(path) -> Iterator[None]:
    """Turn a write that the file system refuses (a full disk, a quota, an I/O error) into one line.

    Writers report it each their own way: Python as :class:`OSError`, soundfile as
    ``LibsndfileError: System error``, ``torch.save`` as a ``RuntimeError`` from
    ``inline_container.cc``. Wrap only the calls that write ``path`` (a RuntimeError from
    anything else is not a write failure); :func:`atomic_output` then removes the partial file.
    """
    try:
        yield
    except GuneampError:
        raise
    except (OSError, RuntimeError) as exc:
        code = exc.errno if isinstance(exc, OSError) else None
        reason = os.strerror(code) if code else (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        free = _free_bytes(Path(path).parent)
        if code in (errno.ENOSPC, errno.EDQUOT) or (free is not None and free < NEARLY_FULL_BYTES):
            why = "the disk is full; free some space or choose another output"
        else:
            why = f"{reason.rstrip('.')}; check the disk, the path and its permissions"
        raise GuneampError(f"cannot write {path}: {why}.") from None


def write_text_atomic(path, text: str) -> Path:
    """Write ``text`` to ``path`` through :func:`atomic_output`."""
    with atomic_output(path) as tmp, disk_errors(path):
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same path, a symlink to it, or a hard link."""
    a, b = Path(a), Path(b)
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def refuse_output_on_inputs(output, inputs) -> None:
    """Raise if ``output`` is any of ``inputs`` (the model, the DI, the IR...): no command may write over its input."""
    for p in inputs:
        if p is not None and same_file(Path(output), Path(p)):
            raise GuneampError(
                f"refusing to write {output}: it is one of the input files ({p}). Choose another output path."
            )


def check_input_file(path, what: str = "input") -> Path:
    """Refuse, in one line, an input that is missing, a folder, not a regular file, or unreadable.

    A named pipe or process substitution (``<(cat x.wav)``) can be read only once, and
    audio files are read more than once (their header, then their samples): rather
    than hang or misreport, say so.
    """
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise GuneampError(f"{what} file not found: {path}. Check the path.") from None
    except OSError as exc:
        raise GuneampError(f"cannot open {what} file {path}: {exc.strerror}.") from None
    if stat.S_ISDIR(st.st_mode):
        raise GuneampError(f"{what} path {path} is a folder; give a file.")
    if not stat.S_ISREG(st.st_mode):
        kind = "a named pipe" if stat.S_ISFIFO(st.st_mode) else "not a regular file"
        raise GuneampError(
            f"{what} {path} is {kind}; guneamp reads its files more than once, which a pipe "
            f"cannot do. Save it to a file first (e.g. `cat ... > take.wav`) and give that."
        )
    if not os.access(path, os.R_OK):
        raise GuneampError(f"cannot read {what} file {path}: permission denied. Check its permissions.")
    return path


def check_output_path(path, *, folder: bool = False) -> Path:
    """Refuse, before any work, an output that cannot be written: a folder where a file is
    meant (or the other way round), a parent that is a file, an unwritable folder."""
    path = Path(path)
    if path.exists() or path.is_symlink():
        if folder and not path.is_dir():
            raise GuneampError(f"{path} is a file; give a folder for the output.")
        if not folder and path.is_dir():
            raise GuneampError(f"{path} is a folder; give a file name for the output.")
        if not folder and path.exists() and not path.is_file():
            # /dev/full, a pipe, a terminal: outputs are written to a temporary file that
            # then replaces the output, which would put a file where the device was.
            raise GuneampError(f"{path} is not a regular file (a device or a pipe); give a file name for the output.")
    parent = path if folder else path.parent
    # The first ancestor that exists is where the new files or folders are created.
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise GuneampError(f"cannot write {path}: {parent} is a file, not a folder. Choose another output path.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise GuneampError(f"cannot write in {parent}: permission denied. Choose another output path.")
    return path


def _writable_dir(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


def compiled_cache_dir() -> Path | None:
    """The user's cache folder for compiled kernels (``$XDG_CACHE_HOME/guneamp/numba``)."""
    base = os.environ.get("XDG_CACHE_HOME")
    try:
        root = Path(base) if base else Path.home() / ".cache"
    except RuntimeError:  # no home folder to be found
        return None
    return root / "guneamp" / "numba"


def configure_compiled_cache() -> Path:
    """Point numba's on-disk cache at a folder this user can write, before numba loads.

    numba's default keeps compiled code next to the source, inside the installed package,
    which a user often cannot write; it then fails deep inside whatever first compiles
    (librosa's resampler, the streaming kernels), far from the cause. A user-set
    ``NUMBA_CACHE_DIR`` that works is kept; otherwise the user's cache folder, and where
    even that is read-only, a private temporary folder (kernels then compile once per run).
    """
    import sys

    chosen = None
    for candidate in (os.environ.get("NUMBA_CACHE_DIR"), compiled_cache_dir()):
        if candidate and _writable_dir(Path(candidate)):
            chosen = Path(candidate)
            break
    if chosen is None:
        chosen = Path(tempfile.mkdtemp(prefix="guneamp-numba-"))
    os.environ["NUMBA_CACHE_DIR"] = str(chosen)
    config = sys.modules.get("numba.core.config")
    if config is not None:  # numba loaded already (a notebook imported librosa first)
        config.CACHE_DIR = str(chosen)
    return chosen
