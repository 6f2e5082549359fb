"""``guneamp check``: is a clean/amp pair usable for training? With ``--manifest``, every
capture of a knob manifest, in one table.
"""

from __future__ import annotations


from ..errors import GuneampError
from .common import EXIT_CHECK_FAILED, MAX_LAG_S, check_inputs, number


def cmd_check(args) -> int:
    if args.manifest is not None:
        return _check_manifest(args)
    if args.clean is None or args.amp is None:
        raise GuneampError("give a clean and an amp file, or --manifest with a knob manifest")
    check_inputs((args.clean, "clean"), (args.amp, "amp"))
    from ..capture.reamp_checks import check_capture_pair

    report, _ = check_capture_pair(args.clean, args.amp, max_lag_s=args.max_lag)
    print(report)
    return EXIT_CHECK_FAILED if report.problems else 0


def _check_manifest(args) -> int:
    if args.clean is not None:
        raise GuneampError("give either a clean and an amp file, or --manifest, not both")
    check_inputs((args.manifest, "manifest"))
    from ..study.manifest import read_knob_manifest

    manifest = read_knob_manifest(args.manifest)
    from ..study.knob_check import check_manifest, check_table

    checks = check_manifest(manifest, args.max_lag)
    print(check_table(checks))
    return 0 if all(c.ok for c in checks) else EXIT_CHECK_FAILED


def register(sub) -> None:
    c = sub.add_parser("check", help="check a clean/amp pair before training",
                       description="Report sample rates, lengths, the estimated lag, levels, clipping and silence of a pair of files. "
                                   "When the clean file is the signal of `guneamp capture-signal`, also the latency and "
                                   "clock drift from its timing marks, the noise floor, the best possible ESR from its "
                                   "repeat, and which of its notes the recording holds. Exit status 1 when a problem "
                                   "makes the pair unusable as it is. With --manifest, every row of a knob manifest "
                                   "(and its test take), in one table; exit status 1 when a row fails.")
    c.add_argument("clean", nargs="?", help="clean DI file")
    c.add_argument("amp", nargs="?", help="amp (target) file")
    c.add_argument("--manifest", default=None, help="a knob manifest (.csv or .yaml) whose rows to check instead")
    c.add_argument("--max-lag", type=number(above=0, high=MAX_LAG_S), default=0.25, help="largest lag to search, in seconds (default 0.25)")
    c.set_defaults(func=cmd_check)
