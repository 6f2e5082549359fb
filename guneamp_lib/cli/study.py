"""``guneamp evaluate``: models compared on held-out audio.
"""

from __future__ import annotations


from .common import add_common, add_engine_arguments


def cmd_evaluate(args) -> int:
    """Train each model for the same budget on each dataset; score it on the held-out test part."""
    from ..study.evaluate import main

    return main(args)


def register(sub) -> None:
    from ..study.evaluate import add_arguments as add_evaluate_arguments

    ev = sub.add_parser("evaluate", help="compare models on held-out test audio (default data and real pedals)",
                        description="Train each model for the same time budget on each dataset's training part, score it "
                                    "on the test part, and write evaluation.md and evaluation.json.")
    add_evaluate_arguments(ev)
    add_engine_arguments(ev)
    add_common(ev)
    ev.set_defaults(func=cmd_evaluate)
