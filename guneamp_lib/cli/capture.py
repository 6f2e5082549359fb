"""``guneamp capture-signal``: the file to reamp through your own gear (notebook 12), and
``guneamp capture-plan``: the settings to record it at for a knob model (notebook 13).
"""

from __future__ import annotations

from .. import paths
from ..errors import GuneampError
from ..knobs import KnobSpace, parse_range
from ..vocabulary import CAPTURE_DEFAULT_SECONDS, CAPTURE_MAX_SECONDS, CAPTURE_MIN_SECONDS, CAPTURE_RATES
from .common import add_common, argument_type, check_output_file, claim, default_data, number


def cmd_capture_signal(args) -> int:
    check_output_file(args.output, args.overwrite)
    from ..capture.reamp_signal import sidecar_path, write_capture_signal

    side = check_output_file(sidecar_path(args.output), args.overwrite)
    with claim(args.output, side, overwrite=args.overwrite):
        wav, side = write_capture_signal(args.output, seconds=args.seconds, sr=args.rate, seed=args.seed,
                                         overwrite=args.overwrite)
    print(f"wrote {wav} ({args.seconds:g} s at {args.rate} Hz) and its layout {side}")
    print(f"reamp it from its first sample to its end, then: guneamp check {wav} YOUR_RECORDING.wav")
    return 0


def cmd_capture_plan(args) -> int:
    space = KnobSpace(args.knob)
    if not args.out.lower().endswith(".csv"):
        raise GuneampError(f"--out {args.out}: the plan is a CSV knob manifest; give a name ending in .csv")
    check_output_file(args.out, args.overwrite)
    from ..capture.plan import manifest_text, plan_settings

    plan = plan_settings(space, levels=args.levels, test=args.test, seed=args.seed)
    rows = [{"clean": args.clean} if args.clean else {} for _ in plan.settings]
    with claim(args.out, overwrite=args.overwrite):
        paths.write_text_atomic(args.out, manifest_text(plan, rows))
    print(f"{space.describe()}: {plan.describe(args.seconds)}")
    print(f"wrote {args.out}: record each row's setting, write the recording's file name in its target column"
          f"{'' if args.clean else ' and the DI you played in its clean column'}, then: "
          f"guneamp check --manifest {args.out}")
    return 0


def register(sub) -> None:
    c = sub.add_parser(
        "capture-signal", help="write the signal to reamp through your own amp or pedal",
        description="Write the capture signal (timing marks, sweeps and noise at three levels, every note of the neck, "
                    "chords and palm mutes at three dynamics, free playing, and a repeat at the end) as a 32-bit float "
                    "WAV, with a JSON sidecar beside it that says where each part lies. Play it through your gear, "
                    "record the result, and give both files to `guneamp check` and `guneamp train`.")
    c.add_argument("--output", default=str(default_data("capture_signal.wav")),
                   help="WAV file to write; the sidecar gets the same name with .json (default data/capture_signal.wav)")
    c.add_argument("--rate", type=int, choices=CAPTURE_RATES, default=48000,
                   help="sample rate: 44100 or 48000, the rate your interface records at (default 48000)")
    c.add_argument("--seconds", type=number(CAPTURE_MIN_SECONDS, CAPTURE_MAX_SECONDS), default=CAPTURE_DEFAULT_SECONDS,
                   help=f"length, {CAPTURE_MIN_SECONDS:.0f} to {CAPTURE_MAX_SECONDS:.0f} s (default {CAPTURE_DEFAULT_SECONDS:.0f})")
    c.add_argument("--overwrite", action="store_true", help="replace the WAV and its sidecar if they exist")
    add_common(c)
    c.set_defaults(func=cmd_capture_signal)

    p = sub.add_parser(
        "capture-plan", help="plan the settings to record for a knob model",
        description="Write the amp settings to record for a knob model, as a knob manifest to fill in with the file "
                    "names: every knob at --levels levels or more, the corners, and combinations (the full grid for "
                    "one or two knobs; from three, the corners plus a maximin Latin hypercube, deterministic from "
                    "--seed), and some settings between them held out for testing (split=test). Prints how many "
                    "takes and minutes of recording that is.")
    p.add_argument("--knob", action="append", required=True, type=argument_type(parse_range), metavar="NAME=LOW:HIGH",
                   help="a knob and its range in dial units, e.g. drive=0:10 (repeat for each knob, up to 5)")
    p.add_argument("--out", required=True, help="the knob manifest to write (.csv)")
    p.add_argument("--levels", type=number(5, 11, integer=True), default=5,
                   help="levels per knob, 5 to 11 (default 5)")
    p.add_argument("--test", type=number(0, 1000, integer=True), default=None,
                   help="settings to hold out for testing (default: one for five training settings, two at least)")
    p.add_argument("--seconds", type=number(above=0, high=CAPTURE_MAX_SECONDS), default=CAPTURE_DEFAULT_SECONDS,
                   help=f"length of one take, to count the minutes of recording (default {CAPTURE_DEFAULT_SECONDS:.0f}, "
                        "the capture signal's)")
    p.add_argument("--clean", default=None,
                   help="the DI file every take plays (e.g. the capture signal), written into each row's clean column")
    p.add_argument("--overwrite", action="store_true", help="replace the manifest if it exists")
    add_common(p)
    p.set_defaults(func=cmd_capture_plan)
