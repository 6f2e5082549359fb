"""What every ``guneamp`` subcommand shares: exit codes, default paths, the overwrite rule,
the checks of options and paths that run before any data is loaded."""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

from .. import paths
from ..errors import GuneampError, GuneampWarning
from ..training.defaults import ModelSpec

EXIT_USAGE = 2
EXIT_CHECK_FAILED = 1


class Terminated(BaseException):
    """SIGTERM arrived. A BaseException, like KeyboardInterrupt, so no ``except Exception`` swallows it."""


def show_warning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, GuneampWarning):
        print(f"warning: {message}", file=sys.stderr)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def default_data(name: str) -> Path:
    return paths.data_dir() / name


def refuse_existing(path: Path, overwrite: bool, flag: str = "--overwrite") -> None:
    if path.exists() and not overwrite:
        raise GuneampError(f"{path} already exists; pass {flag} to replace it, or choose another path.")


def check_output_file(path, overwrite: bool, inputs=()) -> Path:
    """Every check an output file gets before any work: not an input (links count), writable,
    not a folder, and not already there unless ``--overwrite``."""
    path = Path(path)
    paths.refuse_output_on_inputs(path, inputs)
    paths.check_output_path(path)
    refuse_existing(path, overwrite)
    return path


@contextmanager
def claim(*files, overwrite: bool, folders=()):
    """Hold :func:`~guneamp_lib.paths.output_lock` on the output ``files`` and ``folders`` for
    the whole command, and check again, under the lock, that no file is there: another run
    may have written it between the first check and the claim."""
    with paths.output_lock(*files, *folders):
        for path in files:
            refuse_existing(Path(path), overwrite)
        yield


def check_inputs(*named) -> None:
    """``check_inputs((path, "clean DI"), ...)``: each must be a readable regular file (None: skipped)."""
    for path, what in named:
        if path is not None:
            paths.check_input_file(path, what)


class Parser(argparse.ArgumentParser):
    """argparse, with its complaints in the one-line ``error:`` form every other problem uses."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"error: {message} (see `{self.prog} --help`)\n")


def number(low: float | None = None, high: float | None = None, *, integer: bool = False,
           above: float | None = None):
    """An argparse ``type``: a finite number from ``low`` to ``high`` (and greater than ``above``).

    NaN and infinity are refused here, before any data is read: ``--time-budget nan``
    would otherwise train for ever, ``--gain-db inf`` pass as +1000 dB.
    """
    kind = "whole number" if integer else "number"
    show = (lambda v: str(int(v))) if integer else (lambda v: f"{v:g}")

    def parse(text: str):
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text} is not a finite {kind}")
        if above is not None and value <= above:
            raise argparse.ArgumentTypeError(f"{text} is too small: it must be more than {show(above)}")
        if (low is not None and value < low) or (high is not None and value > high):
            lo = "" if low is None else f" from {show(low)}"
            raise argparse.ArgumentTypeError(f"{text} is out of range: give a {kind}{lo} up to {show(high)}")
        return value

    parse.__name__ = kind
    return parse


def argument_type(check):
    """An argparse ``type`` from a library check that raises :class:`GuneampError`: its message
    becomes argparse's own one-line complaint, given before anything else runs."""

    def parse(text: str):
        try:
            return check(text)
        except GuneampError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = check.__name__.strip("_")
    return parse


def model_text(text: str) -> str:
    """A model written ``name[:arg][@Nx]``, checked as far as it can be without torch; kept as text."""
    ModelSpec.read(text)
    return text


# The widest ranges the options accept: well beyond any sensible use, tight enough that
# a typo fails at once instead of after the data is loaded.
MAX_SEED = 2**63 - 1  # torch.manual_seed takes 64 bits
MAX_BATCH = 1024
MAX_SECONDS = 1e7  # about 16 weeks
MAX_GAIN_DB = 60.0
MAX_LAG_S = 10.0
seconds = number(above=0, high=MAX_SECONDS)
count = number(1, 10**9, integer=True)


def add_common(sp, seed: bool = True) -> None:
    sp.add_argument("--quiet", action="store_true", help="no progress bars")
    if seed:
        sp.add_argument("--seed", type=number(0, MAX_SEED, integer=True), default=0, help="random seed (default 0)")


def add_engine_arguments(sp) -> None:
    """``--workers`` and ``--scheduler``: where a command's independent jobs run (:mod:`guneamp_lib.jobs`)."""
    sp.add_argument("--workers", type=count, default=1, metavar="N",
                    help="run the jobs on a Dask cluster of N worker processes on this machine, one PyTorch "
                         "thread each (default 1: one after another in this process)")
    sp.add_argument("--scheduler", default=None, metavar="ADDRESS",
                    help="run the jobs on an existing Dask cluster, e.g. tcp://10.0.0.5:8786 (see the README: "
                         "`dask scheduler`, `dask worker`, SLURM, Kubernetes); its workers must see the same paths")
