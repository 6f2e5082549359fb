"""``guneamp render`` and ``guneamp export``: a trained model applied to audio, or written for other players.
"""

from __future__ import annotations

import sys

from ..errors import GuneampError
from ..knobs import KnobAutomation, parse_setting
from ..vocabulary import DEVICE_CHOICES, check_wav_name, GEAR_TYPES, LEVEL_DBU_RANGE, NAM_FORMAT_VERSION, TONE_TYPES
from .common import MAX_GAIN_DB, add_common, argument_type, check_inputs, check_output_file, claim, number

# Samples per block when a knob automation is rendered without --block-size: a plugin's block.
AUTOMATION_BLOCK = 64


def _knobs(args) -> dict | None:
    settings = dict(args.knob or [])
    if len(settings) != len(args.knob or []):
        raise GuneampError("a knob is given twice with --knob; give each knob once")
    return settings or None


def cmd_render(args) -> int:
    out = check_output_file(args.output, args.overwrite, [args.model, args.input, args.ir, args.knob_automation])
    check_wav_name(out)
    check_inputs((args.model, "model"), (args.input, "input"), (args.ir, "cabinet IR"),
                 (args.knob_automation, "knob automation"))
    if args.slim is not None and not str(args.model).lower().endswith(".nam"):
        raise GuneampError("--slim picks a size inside a NAM .nam file that holds several; "
                           f"{args.model} is a guneamp checkpoint")
    knobs = _knobs(args)
    automation = None if args.knob_automation is None else KnobAutomation.read(args.knob_automation)
    with claim(out, overwrite=args.overwrite):
        model = args.model
        if args.slim is not None:
            from ..models.nam import load_model_file

            model = load_model_file(args.model, slim=args.slim)
        if args.block_size is not None or automation is not None:
            from ..render.files import render_streaming

            render_streaming(model, args.input, out, args.block_size or AUTOMATION_BLOCK, ir_path=args.ir,
                             use_ir=not args.no_ir, gain_db=args.gain_db, progress=not args.quiet,
                             normalize_input=args.normalize_input, normalize_output=args.normalize_output,
                             knobs=knobs, automation=automation, extrapolate=args.extrapolate)
        else:
            from ..render.files import render_file

            render_file(model, args.input, out, ir_path=args.ir, use_ir=not args.no_ir,
                        gain_db=args.gain_db, device=args.device, progress=not args.quiet,
                        normalize_input=args.normalize_input, normalize_output=args.normalize_output, knobs=knobs,
                        extrapolate=args.extrapolate)
    print(f"wrote {out}")
    return 0


def _export_aidax(args, out) -> int:
    """A knob (or snapshot) LSTM or GRU as an AIDA-X model file (notebook 13)."""
    if out.suffix.lower() != ".json":
        raise GuneampError(f"{out}: name the output *.json; AIDA-X loads its models from .json files.")
    if args.knob:
        raise GuneampError("--knob bakes one setting into a .nam; an AIDA-X model keeps its knobs (drop --knob)")
    check_inputs((args.model, "model"))
    from ..models.aidax import export_aidax
    from ..models.checkpoint import load_checkpoint

    with claim(out, overwrite=args.overwrite):
        ckpt = load_checkpoint(args.model)
        export_aidax(ckpt, out, args.name or out.stem)
    if ckpt.ir is not None:
        print("note: this model was trained with a cabinet IR in the loss; load that IR in AIDA-X's cabinet slot",
              file=sys.stderr)
    print(f"wrote {out}" + (f" (knobs: {ckpt.knobs.describe()})" if ckpt.knobs is not None else ""))
    return 0


def cmd_export(args) -> int:
    """Write a trained WaveNet or LSTM as a Neural Amp Modeler (.nam) file, its levels folded in;
    a knob model at the settings given (``--knob``); or an LSTM/GRU as an AIDA-X model."""
    out = check_output_file(args.output, args.overwrite, [args.model])
    if args.format == "aidax":
        return _export_aidax(args, out)
    if out.suffix.lower() != ".nam":
        raise GuneampError(f"{out}: name the output *.nam; NAM's plugin lists only .nam files.")
    check_inputs((args.model, "model"))
    knobs = _knobs(args)
    from ..models.bake import bake_knobs
    from ..models.checkpoint import load_checkpoint
    from ..models.nam import check_user_metadata, export_nam

    # Every option is checked before the checkpoint is read.
    meta = check_user_metadata({"name": args.name or out.stem, "modeled_by": args.modeled_by,
                                "gear_type": args.gear_type, "gear_make": args.gear_make,
                                "gear_model": args.gear_model, "tone_type": args.tone_type,
                                "input_level_dbu": args.input_level_dbu, "output_level_dbu": args.output_level_dbu})
    with claim(out, overwrite=args.overwrite):
        ckpt = load_checkpoint(args.model)
        if knobs or ckpt.knobs is not None:
            if not knobs:
                raise GuneampError(f"a .nam plays one setting: give every knob with --knob ({ckpt.knobs.describe()}), "
                                   "or export the knob model with --format aidax")
            ckpt = bake_knobs(ckpt, knobs, extrapolate=args.extrapolate)
        if ckpt.ir is not None:
            print("note: this model was trained with a cabinet IR in the loss; load that IR in the player too",
                  file=sys.stderr)
        export_nam(ckpt, out, meta)
    print(f"wrote {out}")
    return 0


def register(sub) -> None:
    r = sub.add_parser("render", help="run a trained model over a DI file",
                       description="Render a DI recording through a trained model and its cabinet IR to a new WAV file. "
                                   "Levels, by default: the DI is multiplied by the gain the training DI got, so the "
                                   "same guitar at the same level drives the model as hard as in training, and the "
                                   "output comes out at the level of the training target (float WAV, not normalized). "
                                   "--normalize-input and --normalize-output peak-normalize instead, as the design does.")
    r.add_argument("--model", required=True,
                   help="checkpoint written by `guneamp train` (best.pt), or a .nam file (exported by guneamp or NAM)")
    r.add_argument("--input", required=True, help="clean DI file to process")
    r.add_argument("--output", required=True, help="WAV file to write (never one of the inputs)")
    cabinet = r.add_mutually_exclusive_group()  # --ir with --no-ir would silently drop the IR given
    cabinet.add_argument("--ir", default=None, help="use this cabinet IR instead of the one stored with the model")
    cabinet.add_argument("--no-ir", action="store_true", help="leave the cabinet out")
    r.add_argument("--gain-db", type=number(-MAX_GAIN_DB, MAX_GAIN_DB), default=0.0,
                   help="drive: extra gain on the DI, after its level is set (default 0: as trained)")
    r.add_argument("--normalize-input", action="store_true",
                   help="peak-normalize the DI file instead of applying the training gain (the design's choice: "
                        "the drive then follows the file's loudest sample)")
    r.add_argument("--normalize-output", action="store_true",
                   help="peak-normalize the output instead of keeping the training target's level")
    r.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="auto = CUDA, then MPS, then CPU")
    r.add_argument("--block-size", type=number(1, 1 << 20, integer=True), default=None, metavar="N",
                   help="render N samples at a time, as a real-time plugin would (CPU; memory stays flat "
                        "for any file length; the same result to 1e-5)")
    r.add_argument("--knob", action="append", type=argument_type(parse_setting), metavar="NAME=VALUE",
                   help="a knob model's setting in dial units, e.g. --knob treble=7.5 (repeat for each knob; "
                        "default: the middle of each range)")
    r.add_argument("--knob-automation", default=None, metavar="CSV",
                   help="turn a knob model's knobs over time: a CSV of time (s) then one column per knob, linear "
                        "between rows; rendered block by block (--block-size, default 64), knobs glided per block")
    r.add_argument("--extrapolate", action="store_true",
                   help="allow knob values outside the range the model was trained on")
    r.add_argument("--slim", type=number(0.0, 1.0), default=None, metavar="S",
                   help="for a NAM file that holds the amp at several sizes (NAM 0.13's A2, a slimmable WaveNet): "
                        "the plugin's CPU slider, 0 (smallest) to 1; by default the full model, as the plugin")
    r.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    add_common(r, seed=False)
    r.set_defaults(func=cmd_render)

    ex = sub.add_parser(
        "export", help="write a trained WaveNet or LSTM as a Neural Amp Modeler .nam file",
        description="Export a WaveNet or LSTM checkpoint in the .nam format of neural-amp-modeler 0.13 (format "
                    f"{NAM_FORMAT_VERSION}). The training levels are folded into the weights, so NAM's plugin at unity "
                    "gain plays your DI as `guneamp render` does; the file's metadata carries NAM's loudness and gain.")
    ex.add_argument("--model", required=True, help="checkpoint of a wavenet or lstm model (best.pt)")
    ex.add_argument("--output", required=True, help=".nam file to write (.json with --format aidax)")
    ex.add_argument("--format", choices=("nam", "aidax"), default="nam",
                    help="nam (default): NAM's .nam, one setting of a knob model (--knob); aidax: AIDA-X's RTNeural "
                         "JSON of an LSTM or GRU with 0, 1 or 2 knobs and 8, 12, 16, 20, 24, 32, 40, 64 or 80 units")
    ex.add_argument("--knob", action="append", type=argument_type(parse_setting), metavar="NAME=VALUE",
                    help="bake a knob model at this setting (dial units; repeat for every knob) into a plain .nam")
    ex.add_argument("--extrapolate", action="store_true", help="allow --knob values outside the trained range")
    ex.add_argument("--name", default=None, help="the model's name in the player (default: the output's file name)")
    ex.add_argument("--modeled-by", default=None, help="who made the model")
    ex.add_argument("--gear-type", choices=GEAR_TYPES, default=None, help="what was modeled")
    ex.add_argument("--gear-make", default=None, help="the gear's maker, e.g. Marshall")
    ex.add_argument("--gear-model", default=None, help="the gear's model, e.g. JVM410H")
    ex.add_argument("--tone-type", choices=TONE_TYPES, default=None, help="the kind of tone")
    lo, hi = LEVEL_DBU_RANGE
    ex.add_argument("--input-level-dbu", type=number(lo, hi), default=None, metavar="DBU",
                    help=f"analog level (dBu, {lo:g} to {hi:g}) of a 0 dBFS input at your interface when you reamped; "
                         "lets the plugin calibrate its input")
    ex.add_argument("--output-level-dbu", type=number(lo, hi), default=None, metavar="DBU",
                    help="analog level (dBu) that a 0 dBFS recording of the gear's output corresponds to")
    ex.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    ex.set_defaults(func=cmd_export)
