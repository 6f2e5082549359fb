"""``guneamp render`` and ``guneamp export``: a trained model applied to audio, or written for other players.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import GuneampError
from ..runtime import DEVICE_CHOICES
from .common import add_common, refuse_existing


def cmd_render(args) -> int:
    out = Path(args.output)
    refuse_existing(out, args.overwrite)
    if args.block_size is not None:
        from ..render.files import render_streaming

        render_streaming(args.model, args.input, out, args.block_size, ir_path=args.ir, use_ir=not args.no_ir,
                         gain_db=args.gain_db, progress=not args.quiet, normalize_input=args.normalize_input,
                         normalize_output=args.normalize_output)
    else:
        from ..render.files import render_file

        render_file(args.model, args.input, out, ir_path=args.ir, use_ir=not args.no_ir,
                    gain_db=args.gain_db, device=args.device, progress=not args.quiet,
                    normalize_input=args.normalize_input, normalize_output=args.normalize_output)
    print(f"wrote {out}")
    return 0

def cmd_export(args) -> int:
    """Write a trained WaveNet as a Neural Amp Modeler (.nam) file."""
    from ..models.checkpoint import load_checkpoint
    from ..models.nam import export_nam

    out = Path(args.output)
    refuse_existing(out, args.overwrite)
    ckpt = load_checkpoint(args.model)
    if ckpt.model_name != "wavenet":
        raise GuneampError(f"only WaveNet models have a .nam layout; {args.model} holds a {ckpt.model_name}.")
    if ckpt.ir is not None:
        print("note: this model was trained with a cabinet IR in the loss; load that IR in the player too", file=sys.stderr)
    # The network runs at the file rate times the oversampling factor.
    export_nam(ckpt.model, out, ckpt.sample_rate * ckpt.oversample, metadata={"name": out.stem})
    print(f"wrote {out}")
    return 0


def register(sub) -> None:
    r = sub.add_parser("render", help="run a trained model over a DI file",
                       description="Render a DI recording through a trained model and its cabinet IR to a new WAV file. "
                                   "Levels, by default: the DI is multiplied by the gain the training DI got, so the "
                                   "same guitar at the same level drives the model as hard as in training, and the "
                                   "output comes out at the level of the training target (float WAV, not normalized). "
                                   "--normalize-input and --normalize-output peak-normalize instead, as the design does.")
    r.add_argument("--model", required=True, help="checkpoint written by `guneamp train` (best.pt)")
    r.add_argument("--input", required=True, help="clean DI file to process")
    r.add_argument("--output", required=True, help="WAV file to write (never one of the inputs)")
    r.add_argument("--ir", default=None, help="use this cabinet IR instead of the one stored with the model")
    r.add_argument("--no-ir", action="store_true", help="leave the cabinet out")
    r.add_argument("--gain-db", type=float, default=0.0,
                   help="drive: extra gain on the DI, after its level is set (default 0: as trained)")
    r.add_argument("--normalize-input", action="store_true",
                   help="peak-normalize the DI file instead of applying the training gain (the design's choice: "
                        "the drive then follows the file's loudest sample)")
    r.add_argument("--normalize-output", action="store_true",
                   help="peak-normalize the output instead of keeping the training target's level")
    r.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="auto = CUDA, then MPS, then CPU")
    r.add_argument("--block-size", type=int, default=None, metavar="N",
                   help="render N samples at a time, as a real-time plugin would (CPU; memory stays flat "
                        "for any file length; the same result to 1e-5)")
    r.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    add_common(r, seed=False)
    r.set_defaults(func=cmd_render)

    ex = sub.add_parser("export", help="write a trained WaveNet as a Neural Amp Modeler .nam file",
                        description="Export a WaveNet checkpoint to NAM's model file format (JSON).")
    ex.add_argument("--model", required=True, help="checkpoint of a wavenet model (best.pt)")
    ex.add_argument("--output", required=True, help=".nam file to write")
    ex.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    ex.set_defaults(func=cmd_export)
