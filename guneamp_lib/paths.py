"""Where the course keeps its files.

Notebooks never use relative paths such as ``'../data'``: those break when papermill
runs a notebook from another folder. They ask this module instead. The project root is
the folder that holds ``pyproject.toml`` above this package (an editable install keeps
the package inside the checkout); ``GUNEAMP_HOME`` overrides it.

``GUNEAMP_OUT``, when set, redirects everything the course *writes* (graphs, trained
models, rendered audio) to another folder, so the test suite can run the notebooks
without replacing the learner's graphs and models; inputs are still read from ``data/``.
"""

from __future__ import annotations

import os
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


@contextmanager
def atomic_output(path, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary file next to ``path`` to write into; it replaces ``path`` when the
    block ends normally and is removed when it raises. A reader (or a run stopped half-way)
    sees the old file or the new one, never a torn one. ``suffix``: for writers that
    choose the format by extension (matplotlib)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=path.name + ".", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path, text: str) -> Path:
    """Write ``text`` to ``path`` through :func:`atomic_output`."""
    with atomic_output(path) as tmp:
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
