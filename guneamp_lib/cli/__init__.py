"""The ``guneamp`` command: synthesize data, train, render, check a capture.

Every subcommand has ``--help``. Problems with the user's input end with a one-line
``error:`` message and exit status 2; warnings are printed as ``warning:`` lines.
Each command group lives in its own module with a ``register(sub)`` function; adding a
command means adding a module and one entry to :data:`COMMAND_MODULES`.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from ..errors import GuneampError
from . import check, course, data, many, render, study, train
from .common import EXIT_USAGE, show_warning

COMMAND_MODULES = (data, train, many, render, check, course, study)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="guneamp", description="Neural amp and cabinet modeling: the guneamp course's command line.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = warnings.showwarning
    warnings.showwarning = show_warning
    try:
        return int(args.func(args) or 0)
    except GuneampError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = previous


if __name__ == "__main__":
    sys.exit(main())
