"""``guneamp evaluate`` and ``guneamp score``: models measured on held-out audio.
"""

from __future__ import annotations

import math
from pathlib import Path

from .. import paths
from ..errors import GuneampError
from .common import add_common, add_engine_arguments, check_output_file


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


def cmd_score(args) -> int:
    """Score one trained model on the user's held-out pair, at the level it trained at."""
    from ..study.score import score_files

    result = score_files(args.model, args.clean, args.amp, ir_path=args.ir, use_ir=not args.no_ir)
    print(result.json() if args.json else result.text())
    return 0


def register(sub) -> None:
    from ..study.evaluate import add_arguments as add_evaluate_arguments

    ev = sub.add_parser("evaluate", help="compare models on held-out test audio (default data and real pedals)",
                        description="Train each model for the same time budget on each dataset's training part, score it "
                                    "on the test part, and write evaluation.md and evaluation.json.")
    add_evaluate_arguments(ev)
    add_engine_arguments(ev)
    ev.add_argument("--overwrite", action="store_true", help="replace evaluation.md and evaluation.json if they exist")
    add_common(ev)
    ev.set_defaults(func=cmd_evaluate)

    sc = sub.add_parser("score", help="score a trained model on your own held-out recording",
                        description="Score a model on a DI take and its recording through the gear that the model "
                                    "never trained on: the pair is aligned automatically, the DI is driven at the "
                                    "level the model trained at (its stored input gain) and the output compared at "
                                    "the target's level. Prints the ESR, the pre-emphasized ESR and the quality band "
                                    "(great < 0.01, good < 0.035, usable < 0.1, else poor).")
    sc.add_argument("--model", required=True,
                    help="checkpoint written by `guneamp train` (best.pt), or a .nam file (exported by guneamp or NAM)")
    sc.add_argument("--clean", required=True, help="held-out clean DI take")
    sc.add_argument("--amp", required=True, help="the same take recorded through the gear (the target)")
    sc.add_argument("--ir", default=None,
                    help="cabinet IR to apply after the model (default: the one stored with the model, if any)")
    sc.add_argument("--no-ir", action="store_true", help="leave the cabinet out")
    sc.add_argument("--json", action="store_true", help="print one line of JSON instead of the table")
    sc.set_defaults(func=cmd_score)
