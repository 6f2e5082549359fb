"""The ``guneamp`` console command's entry point.

It imports the command line inside a guard, so that Ctrl-C pressed while the program is
still starting ends with one ``interrupted`` line and exit status 130, as it does later,
instead of a traceback from an import. (The command line itself imports no torch: a
command imports it once its options are checked, inside ``cli.main``'s own guard.)
"""

from __future__ import annotations

import sys

EXIT_INTERRUPTED = 130


def main() -> int:
    try:
        from .cli import main as cli_main
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
