"""``guneamp synth``: the built-in default data.
"""

from __future__ import annotations

from pathlib import Path

from .. import paths
from .common import add_common, number


def cmd_synth(args) -> int:
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


def register(sub) -> None:
    s = sub.add_parser("synth", help="write the built-in default data (DI, amp, cabinet IR)",
                       description="Synthesize data/clean.wav, amp_direct.wav, cab_ir.wav and amp.wav deterministically from a seed.")
    s.add_argument("--data-dir", default=str(paths.data_dir()), help="folder to write to (default: the project's data/)")
    s.add_argument("--seconds", type=number(above=0, high=3600), default=40.0, help="length of the DI performance (default 40)")
    s.add_argument("--overwrite", action="store_true", help="regenerate even if the files exist")
    add_common(s)
    s.set_defaults(func=cmd_synth)
