"""What every ``guneamp`` subcommand shares: exit codes, default paths, the overwrite rule."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from .. import paths
from ..errors import GuneampError, GuneampWarning

EXIT_USAGE = 2
EXIT_CHECK_FAILED = 1


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


def add_common(sp, seed: bool = True) -> None:
    sp.add_argument("--quiet", action="store_true", help="no progress bars")
    if seed:
        sp.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def add_engine_arguments(sp) -> None:
    """``--workers`` and ``--scheduler``: where a command's independent jobs run (:mod:`guneamp_lib.jobs`)."""
    sp.add_argument("--workers", type=int, default=1, metavar="N",
                    help="run the jobs on a Dask cluster of N worker processes on this machine, one PyTorch "
                         "thread each (default 1: one after another in this process)")
    sp.add_argument("--scheduler", default=None, metavar="ADDRESS",
                    help="run the jobs on an existing Dask cluster, e.g. tcp://10.0.0.5:8786 (see the README: "
                         "`dask scheduler`, `dask worker`, SLURM, Kubernetes); its workers must see the same paths")
