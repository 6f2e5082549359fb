"""``guneamp synth``: the built-in default data.
"""

from __future__ import annotations

from pathlib import Path

from .. import paths
from ..errors import GuneampError
from .common import add_common, number


def cmd_synth(args) -> int:
    if args.knobs:
        return _synth_knobs(args)
    if args.out is not None:
        raise GuneampError("--out is the folder of `synth --knobs`; the default data goes to --data-dir")
    out = paths.check_output_path(Path(args.data_dir), folder=True)
    from ..capture.synth import DEFAULT_FILES, generate_default_data

    with paths.output_lock(*(out / f for f in DEFAULT_FILES)):
        if all((out / f).exists() for f in DEFAULT_FILES) and not args.overwrite:
            print(f"default data already in {out} (pass --overwrite to regenerate)")
            return 0
        files = generate_default_data(out, seed=args.seed, seconds=args.seconds, overwrite=args.overwrite,
                                      progress=not args.quiet)
    for key, path in files.items():
        print(f"wrote {path}")
    return 0


def _synth_knobs(args) -> int:
    out = paths.check_output_path(Path(args.out) if args.out else Path(args.data_dir) / "knobs", folder=True)
    from ..capture.knob_synth import MANIFEST_NAME, generate_knob_data, knob_space

    if (out / MANIFEST_NAME).exists() and not args.overwrite:
        print(f"knob captures already in {out} (pass --overwrite to regenerate)")
        return 0
    manifest = generate_knob_data(out, seed=args.seed, seconds=args.seconds, overwrite=args.overwrite,
                                  progress=not args.quiet)
    print(f"wrote the reference amp at many settings of {knob_space().describe()} into {out}, listed in {manifest}")
    return 0


def register(sub) -> None:
    s = sub.add_parser("synth", help="write the built-in default data (DI, amp, cabinet IR)",
                       description="Synthesize data/clean.wav, amp_direct.wav, cab_ir.wav and amp.wav deterministically from a seed. "
                                   "With --knobs, a knob capture instead: the reference amp recorded at the settings of "
                                   "a capture plan over drive, bass, mid and treble, held-out settings included, and its "
                                   "knob manifest knobs.csv.")
    s.add_argument("--data-dir", default=str(paths.data_dir()), help="folder to write to (default: the project's data/)")
    s.add_argument("--seconds", type=number(above=0, high=3600), default=40.0,
                   help="length of the DI performance (default 40); with --knobs, of the training DI takes together")
    s.add_argument("--knobs", action="store_true", help="write a knob capture set and its manifest instead")
    s.add_argument("--out", default=None, help="with --knobs: the folder to write (default: knobs/ in --data-dir)")
    s.add_argument("--overwrite", action="store_true", help="regenerate even if the files exist")
    add_common(s)
    s.set_defaults(func=cmd_synth)
