"""The ``guneamp`` command: synthesize data, train, render, check a capture.

Every subcommand has ``--help``. Problems with the user's input end with a one-line
``error:`` message and exit status 2; warnings are printed as ``warning:`` lines.
Each command group lives in its own module with a ``register(sub)`` function; adding a
command means adding a module and one entry to :data:`COMMAND_MODULES`.

SIGTERM (``kill``, a closing terminal, a job scheduler's time limit) is turned into an
exception, like Ctrl-C, so that every temporary file of an interrupted write is removed
(:func:`guneamp_lib.paths.atomic_output`) before the command exits with status 143.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import warnings

from ..errors import GuneampError
from . import capture, check, course, data, many, play, render, study, train
from .common import EXIT_USAGE, Parser, Terminated, show_warning

COMMAND_MODULES = (data, capture, train, many, render, play, check, course, study)


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="guneamp", description="Neural amp and cabinet modeling: the guneamp course's command line.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return p


EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 128 + signal.SIGTERM


def _raise_terminated(signum, frame):
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    previous = warnings.showwarning
    warnings.showwarning = show_warning
    # Signal handlers can only be set from the main thread (a test runner may use another).
    on_main = threading.current_thread() is threading.main_thread()
    previous_term = signal.signal(signal.SIGTERM, _raise_terminated) if on_main else None
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except GuneampError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # a file system refusal the checks could not foresee (a full disk, a race)
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}. Check the path, its permissions and the free space.",
              file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:  # a command may say how to go on (train: --resume)
        print(f"interrupted: {exc}" if str(exc) else "interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated as exc:
        print(f"terminated: {exc}" if str(exc) else "terminated", file=sys.stderr)
        return EXIT_TERMINATED
    finally:
        warnings.showwarning = previous
        if on_main:
            signal.signal(signal.SIGTERM, previous_term)


if __name__ == "__main__":
    sys.exit(main())
