"""``guneamp evaluate``: models compared on held-out audio.
"""

from __future__ import annotations

import math
from pathlib import Path

from .. import paths
from ..errors import GuneampError
from .common import add_common, check_output_file


def cmd_evaluate(args) -> int:
    """Train each model for the same budget on each dataset; score it on the held-out test part."""
    from ..study.evaluate import main

    if not (args.time_budget > 0 and math.isfinite(args.time_budget)):
        raise GuneampError(f"--time-budget must be a finite number of seconds above 0, got {args.time_budget}")
    out = Path(args.out)
    paths.check_output_path(out, folder=True)
    for name in ("evaluation.md", "evaluation.json"):
        check_output_file(out / name, args.overwrite)
    return main(args)


def register(sub) -> None:
    from ..study.evaluate import add_arguments as add_evaluate_arguments

    ev = sub.add_parser("evaluate", help="compare models on held-out test audio (default data and real pedals)",
                        description="Train each model for the same time budget on each dataset's training part, score it "
                                    "on the test part, and write evaluation.md and evaluation.json.")
    add_evaluate_arguments(ev)
    ev.add_argument("--overwrite", action="store_true", help="replace evaluation.md and evaluation.json if they exist")
    add_common(ev)
    ev.set_defaults(func=cmd_evaluate)
