"""``python -m guneamp_lib.cli``: the same as the ``guneamp`` command."""

import sys

from ..launch import main

sys.exit(main())
