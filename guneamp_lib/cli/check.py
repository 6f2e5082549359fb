"""``guneamp check``: is a clean/amp pair usable for training?
"""

from __future__ import annotations


from .common import EXIT_CHECK_FAILED, MAX_LAG_S, check_inputs, number


def cmd_check(args) -> int:
    check_inputs((args.clean, "clean"), (args.amp, "amp"))
    from ..capture.reamp_checks import check_capture_pair

    report, _ = check_capture_pair(args.clean, args.amp, max_lag_s=args.max_lag)
    print(report)
    return EXIT_CHECK_FAILED if report.problems else 0


def register(sub) -> None:
    c = sub.add_parser("check", help="check a clean/amp pair before training",
                       description="Report sample rates, lengths, the estimated lag, levels, clipping and silence of a pair of files. "
                                   "When the clean file is the signal of `guneamp capture-signal`, also the latency and "
                                   "clock drift from its timing marks, the noise floor, the best possible ESR from its "
                                   "repeat, and which of its notes the recording holds. Exit status 1 when a problem "
                                   "makes the pair unusable as it is.")
    c.add_argument("clean", help="clean DI file")
    c.add_argument("amp", help="amp (target) file")
    c.add_argument("--max-lag", type=number(above=0, high=MAX_LAG_S), default=0.25, help="largest lag to search, in seconds (default 0.25)")
    c.set_defaults(func=cmd_check)
