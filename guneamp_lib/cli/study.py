"""``guneamp evaluate`` and ``guneamp score``: models measured on held-out audio.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from .. import paths
from ..errors import GuneampError
from ..vocabulary import (DEFAULT_DATASETS, DEFAULT_MODELS, DEFAULT_STEPS, DEFAULT_TIME_BUDGET_S, DEVICE_CHOICES,
                          parse_dataset)
from .common import (add_common, add_engine_arguments, argument_type, check_inputs, check_output_file, claim,
                     count, model_text, refuse_existing, seconds)


def cmd_evaluate(args) -> int:
    """Train each model for the same budget on each dataset; score it on the held-out test part."""
    out = Path(args.out)
    paths.check_output_path(out, folder=True)
    reports = [check_output_file(out / name, args.overwrite) for name in ("evaluation.md", "evaluation.json")]
    from ..study.evaluate import main

    with paths.output_lock(out):  # the folder: its reports and its checkpoints
        for path in reports:  # again, under the lock: another run may have written them since
            refuse_existing(path, args.overwrite)
        return main(args)


def cmd_score(args) -> int:
    """Score one trained model on the user's held-out pair, at the level it trained at; or, with
    ``--manifest``, a knob model on every held-out row of a knob manifest, beside two baselines."""
    if args.manifest is not None:
        return _score_manifest(args)
    if args.model is None or args.clean is None or args.amp is None:
        raise GuneampError("give --model, --clean and --amp (one held-out pair), or --manifest (a knob capture)")
    check_inputs((args.model, "model"), (args.clean, "clean DI"), (args.amp, "amp"), (args.ir, "cabinet IR"))
    from ..study.score import score_files

    result = score_files(args.model, args.clean, args.amp, ir_path=args.ir, use_ir=not args.no_ir)
    print(result.json() if args.json else result.text())
    return 0


def _score_manifest(args) -> int:
    if args.clean is not None or args.amp is not None or args.ir is not None or args.no_ir:
        raise GuneampError("--manifest scores the manifest's own held-out rows: leave out --clean, --amp, --ir and --no-ir")
    if args.model is None and args.pooled is None:
        raise GuneampError("give --model (the knob model), --pooled (a pooled snapshot), or both")
    check_inputs((args.manifest, "manifest"), (args.model, "model"), (args.pooled, "pooled snapshot"))
    if args.pooled_out is not None:
        if args.pooled is not None:
            raise GuneampError("--pooled-out keeps a pooled snapshot trained here; with --pooled none is trained")
        out = paths.check_output_path(Path(args.pooled_out), folder=True)
        check_output_file(out / "best.pt", args.overwrite)
    from ..study.manifest import read_knob_manifest

    read_knob_manifest(args.manifest)  # a broken manifest is refused before torch loads
    from ..study.knob_score import score_knob_manifest

    held = (claim(Path(args.pooled_out) / "best.pt", overwrite=args.overwrite, folders=(args.pooled_out,))
            if args.pooled_out is not None else contextlib.nullcontext())
    with held:
        scores = score_knob_manifest(args.manifest, args.model, pooled_path=args.pooled,
                                     pooled_steps=args.pooled_steps, pooled_out=args.pooled_out,
                                     extrapolate=args.extrapolate, seed=args.seed, device=args.device)
    print(scores.json() if args.json else scores.table())
    return 0


def _dataset(name: str) -> str:
    parse_dataset(name)
    return name


def add_evaluate_arguments(parser) -> None:
    """The ``guneamp evaluate`` options (read by :func:`guneamp_lib.study.evaluate.main`)."""
    parser.add_argument("--datasets", nargs="+", default=None, type=argument_type(_dataset), metavar="NAME",
                        help=f"built-in datasets to evaluate on (default: {' '.join(DEFAULT_DATASETS)}, or none when "
                             "--dataset-pair is given; also default_direct; a pedal may take @N to test on clip N "
                             "and train on the other three, e.g. RAT@1; knobs: the reference amp at many settings, "
                             "each model trained as a knob model and scored on held-out settings beside a pooled "
                             "snapshot and the nearest setting)")
    parser.add_argument("--dataset-pair", action="append",
                        metavar="NAME=TRAIN_CLEAN,TRAIN_AMP,TEST_CLEAN,TEST_AMP[,IR]",
                        help="your own dataset (repeatable): a DI and its recording through the gear to train on, "
                             "another take of both to test on, and the cabinet IR the recordings went through, if "
                             "any. Each pair is aligned automatically; the test take is driven at the training "
                             "take's level. Example: --dataset-pair jvm=di.wav,amp.wav,di2.wav,amp2.wav")
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS), metavar="MODEL", type=argument_type(model_text),
                        help=f"models as name[:arg][@Nx] (default: {' '.join(DEFAULT_MODELS)})")
    parser.add_argument("--time-budget", type=seconds, default=DEFAULT_TIME_BUDGET_S,
                        help=f"training seconds per model and dataset (default {DEFAULT_TIME_BUDGET_S:.0f})")
    parser.add_argument("--steps", type=count, default=None,
                        help="train each model this many steps instead of for --time-budget seconds "
                             "(needed with --workers or --scheduler: the numbers then do not depend on the machine)")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="auto = CUDA, then MPS, then CPU")
    parser.add_argument("--out", default=str(paths.runs_dir() / "evaluation"),
                        help="folder for evaluation.md, evaluation.json and the checkpoints (default runs/evaluation)")
    parser.add_argument("--quick", action="store_true",
                        help="a few seconds of data and two steps per model: checks the plumbing in a minute or so")


def register(sub) -> None:
    ev = sub.add_parser("evaluate", help="compare models on held-out test audio (default data and real pedals)",
                        description="Train each model for the same time budget on each dataset's training part, score it "
                                    "on the test part, and write evaluation.md and evaluation.json.")
    add_evaluate_arguments(ev)
    add_engine_arguments(ev)
    ev.add_argument("--overwrite", action="store_true", help="replace evaluation.md and evaluation.json if they exist")
    add_common(ev)
    ev.set_defaults(func=cmd_evaluate)

    sc = sub.add_parser("score", help="score a trained model on your own held-out recording, or a knob model",
                        description="Score a model on a DI take and its recording through the gear that the model "
                                    "never trained on: the pair is aligned automatically, the DI is driven at the "
                                    "level the model trained at (its stored input gain) and the output compared at "
                                    "the target's level. Prints the ESR, the pre-emphasized ESR and the quality band "
                                    "(great < 0.01, good < 0.035, usable < 0.1, else poor). With --manifest, a knob "
                                    "model on every held-out row (split=test) of a knob manifest, with the median and "
                                    "worst, beside (a) a snapshot trained on all training rows pooled and (b) the "
                                    "recording (or snapshot) of the nearest training setting.")
    sc.add_argument("--model", default=None,
                    help="checkpoint written by `guneamp train` (best.pt), or a .nam file (exported by guneamp or NAM); "
                         "with --manifest, the knob model")
    sc.add_argument("--clean", default=None, help="held-out clean DI take")
    sc.add_argument("--amp", default=None, help="the same take recorded through the gear (the target)")
    cabinet = sc.add_mutually_exclusive_group()  # --ir with --no-ir would silently drop the IR given
    cabinet.add_argument("--ir", default=None,
                         help="cabinet IR to apply after the model (default: the one stored with the model, if any)")
    cabinet.add_argument("--no-ir", action="store_true", help="leave the cabinet out")
    sc.add_argument("--manifest", default=None, help="a knob manifest: score its held-out rows (split=test)")
    sc.add_argument("--pooled", default=None,
                    help="with --manifest: baseline (a), a snapshot trained on every training row pooled (default: "
                         "train one here, the knob model's architecture without knobs, for --pooled-steps steps)")
    sc.add_argument("--pooled-steps", type=count, default=None,
                    help="steps to train the pooled snapshot when --pooled is not given (default: as many as the "
                         f"knob model trained, {DEFAULT_STEPS} if its checkpoint does not say)")
    sc.add_argument("--pooled-out", default=None, help="folder to keep the pooled snapshot trained here in (best.pt)")
    sc.add_argument("--extrapolate", action="store_true",
                    help="score held-out settings outside the knob model's trained range instead of refusing them")
    sc.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="for the pooled snapshot's training")
    sc.add_argument("--overwrite", action="store_true", help="replace the pooled snapshot in --pooled-out")
    sc.add_argument("--json", action="store_true", help="print one line of JSON instead of the table")
    add_common(sc)
    sc.set_defaults(func=cmd_score)
