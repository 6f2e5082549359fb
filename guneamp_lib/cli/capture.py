"""``guneamp capture-signal``: the file to reamp through your own gear (notebook 12).
"""

from __future__ import annotations

from ..vocabulary import CAPTURE_DEFAULT_SECONDS, CAPTURE_MAX_SECONDS, CAPTURE_MIN_SECONDS, CAPTURE_RATES
from .common import add_common, check_output_file, claim, default_data, number


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
