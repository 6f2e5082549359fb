"""``guneamp train``: a model from a clean/amp pair, a knob model from a knob manifest
(``--manifest``, notebook 13), or the rest of an interrupted run (``--resume``).
"""

from __future__ import annotations

import math
from pathlib import Path

from .. import paths
from ..errors import GuneampError
from ..training.budget import fixed_steps
from ..training.defaults import KNOB_MODELS, TRAINING, ModelSpec
from ..vocabulary import DEFAULT_SAVE_EVERY_STEPS, DEVICE_CHOICES, MAX_FACTOR, TARGET_KINDS
from .common import MAX_BATCH, Terminated, add_common, argument_type, check_inputs, count, default_data, model_text, number, seconds

# `guneamp train`'s time budget when neither it nor --steps is given: a first model in two minutes.
TRAIN_TIME_BUDGET_S = 120.0


def _train_config(args, knob_recipe: bool = False):
    from ..training.train import TrainConfig

    spec = ModelSpec.parse(args.model)
    # --steps: a fixed number of steps, as train-many trains a row (the budget, if given, is
    # only a safety cap); otherwise epochs and the time budget (120 s unless given).
    if args.steps is not None:
        length = {**fixed_steps(args.steps), "time_budget_s": args.time_budget}
    else:
        length = {"epochs": args.epochs,
                  "time_budget_s": TRAIN_TIME_BUDGET_S if args.time_budget is None else args.time_budget}
    # Options left out (None) come from the model's row of training.defaults.TRAINING,
    # the same table `guneamp evaluate` and the course read.
    return TrainConfig(
        model=spec.model, model_kwargs=spec.kwargs(), oversample=args.oversample, **length,
        seed=args.seed, device=args.device,
        segment=args.segment, batch_size=args.batch_size, learning_rate=args.lr,
        mrstft_weight=args.mrstft_weight, dc_weight=args.dc_weight, polarity=args.polarity,
        gain_jitter_db=args.gain_jitter_db, ema=args.ema, knob_recipe=knob_recipe,
    )


def _report(result, cfg, data=None, source=None) -> None:
    h = result.history[-1]
    print(f"model: {cfg.model}, {result.checkpoint.meta['parameters']:,} parameters, device {result.device}")
    what = "validation-take" if data is not None and data.validation == "take" else "held-out"
    print(f"trained {h['step']} steps in {h['seconds']:.0f} s; {what} ESR {result.best_val_esr:.4f}")
    if what == "validation-take":
        _take_gap(result, cfg, data, source)
    held_out = result.checkpoint.meta.get("held_out_seconds")
    if held_out and h.get("val_seconds", held_out) < held_out - 1e-9:
        print(f"note: scored on the first {h['val_seconds']:.1f} s of the {held_out:.1f} s held out, as many as the "
              "time budget allowed; a longer --time-budget scores all of it")
    print(f"saved {result.best_path}")


def _take_gap(result, cfg, data, source) -> None:
    """The fit on the training recording next to the validation take's score, and the take's coverage."""
    import torch

    from ..capture.coverage import coverage
    from ..study.score import gap_lines
    from ..training.train import evaluate

    with torch.no_grad():
        fit = evaluate(result.model, data, cfg, start=0, end=data.n_train)["esr"]
    clean = data.clean.numpy()
    cov = coverage(clean[: data.n_train], clean[data.val_start :], data.sample_rate)
    hint = f"guneamp check {source['clean']} {source['amp']}"
    # the training part is peak-normalized to 1, and the take brought to the same level
    level_db = 20 * math.log10(max(float(data.clean[data.val_start :].abs().max()), 1e-12))
    for line in gap_lines("training recording's", fit, "the validation take's", result.best_val_esr, cov, hint,
                          level_db):
        print(line)


def _knob_rows(manifest_path, args) -> tuple[dict, list]:
    """The training rows of a knob manifest as ``(clean, target, settings)``, and the run's ``source``."""
    from ..study.manifest import knob_recording, read_knob_manifest

    manifest = read_knob_manifest(manifest_path)
    rows = manifest.train
    kind, ir = knob_recording(manifest, args.target_kind, args.ir)
    for r in rows:
        check_inputs((r.clean, f"clean DI of row {r.index}"), (r.target, f"target of row {r.index}"))
    check_inputs((ir, "cabinet IR"))
    source = {"manifest": str(Path(manifest_path).resolve()), "ir": None if ir is None else str(Path(ir).resolve()),
              "target_kind": kind, "align": bool(args.align)}
    return source, [(r.clean, r.target, r.settings) for r in rows]


def _load(source: dict, args):
    """The training data a run's ``source`` names: one pair, or a knob manifest's training rows."""
    if "manifest" in source:
        from ..training.knob_data import load_knob_training_data

        _, rows = _knob_rows(source["manifest"], args)
        return load_knob_training_data(rows, source.get("ir"), target_kind=source["target_kind"],
                                       align=source["align"])
    from ..training.data import load_training_data

    check_inputs((source["clean"], "clean DI"), (source["amp"], "amp"), (source.get("ir"), "cabinet IR"),
                 (source.get("val_clean"), "validation clean DI"), (source.get("val_amp"), "validation amp"))
    return load_training_data(source["clean"], source["amp"], source.get("ir"), target_kind=source["target_kind"],
                              align=source["align"], val_clean=source.get("val_clean"),
                              val_target=source.get("val_amp"))


def _resume(args) -> int:
    from ..training.resume import read_last
    from ..training.train import TrainConfig, train

    out = Path(args.resume)
    last = read_last(out)
    source = last.meta.get("source")
    config = last.meta.get("config")
    if not isinstance(source, dict) or not isinstance(config, dict):
        raise GuneampError(f"{out} does not record its data files and settings; it cannot be resumed.")
    try:
        cfg = TrainConfig(**{**config, "device": args.device})
    except TypeError:
        raise GuneampError(f"{out} was started by another guneamp version; its settings cannot be read back.") from None
    data = _load(source, args)
    print(f"resuming {out} at step {last.training_state['step']}")
    result = train(data, cfg, out_dir=out, progress=not args.quiet, resume=True, save_every=args.save_every,
                   source=source)
    _report(result, cfg, data, source)
    return 0


def cmd_train(args) -> int:
    if args.steps is not None and args.epochs is not None and not args.resume:
        raise GuneampError("give --steps or --epochs, not both")
    out = Path(args.resume or args.out)
    paths.check_output_path(out, folder=True)
    # One run at a time in a folder: two runs into one --out would both report success
    # while the later one's best.pt silently replaced the other's.
    with paths.output_lock(out):
        try:
            return _resume(args) if args.resume else _train(args, out)
        except (KeyboardInterrupt, Terminated) as exc:
            if not (out / "last.pt").exists():
                raise
            # The one `interrupted` line says how to go on from here.
            raise type(exc)(f"{out / 'last.pt'} keeps the run up to its last save; continue it with "
                            f"`guneamp train --resume {out}`") from None


def _train(args, out: Path) -> int:
    if not args.overwrite:
        if (out / "best.pt").exists():
            raise GuneampError(f"{out} already holds a trained model; pass --overwrite or choose another --out.")
        if (out / "last.pt").exists():
            raise GuneampError(f"{out} holds the last.pt of an interrupted run: continue it with --resume {out}, "
                               "or pass --overwrite to start again.")
    if args.manifest:
        if args.val_clean or args.val_amp:
            raise GuneampError("--val-clean/--val-amp validate a single pair; a knob manifest holds its own rows")
        return _train_knobs(args, out)
    ir = None if args.target_kind == "amp_direct" else args.ir
    if (args.val_clean is None) != (args.val_amp is None):
        raise GuneampError("a validation take needs both --val-clean and --val-amp")
    check_inputs((args.clean, "clean DI"), (args.amp, "amp"), (ir, "cabinet IR"),
                 (args.val_clean, "validation clean DI"), (args.val_amp, "validation amp"))
    for name in ("best.pt", "last.pt"):
        paths.refuse_output_on_inputs(out / name, [args.clean, args.amp, ir, args.val_clean, args.val_amp])
    # Only now, with every option and path checked, the seconds of importing torch.
    from ..capture.reamp_checks import capture_check
    from ..training.data import load_training_data
    from ..training.train import train

    cfg = _train_config(args)
    capture = capture_check(args.clean, args.amp)
    if capture is not None:
        print(capture)
    data = load_training_data(args.clean, args.amp, ir, target_kind=args.target_kind, align=args.align,
                              val_clean=args.val_clean, val_target=args.val_amp)
    source = {"clean": _resolved(args.clean), "amp": _resolved(args.amp), "ir": _resolved(ir),
              "target_kind": args.target_kind, "align": bool(args.align),
              "val_clean": _resolved(args.val_clean), "val_amp": _resolved(args.val_amp)}
    result = train(data, cfg, out_dir=out, progress=not args.quiet, save_every=args.save_every, source=source)
    _report(result, cfg, data, source)
    return 0


def _resolved(path) -> str | None:
    return None if path is None else str(Path(path).resolve())


def _train_knobs(args, out: Path) -> int:
    """One knob model on every training row of a knob manifest (notebook 13)."""
    check_inputs((args.manifest, "knob manifest"))
    if ModelSpec.parse(args.model).model not in KNOB_MODELS:
        raise GuneampError(f"--manifest trains a knob model: choose --model {', '.join(KNOB_MODELS)} "
                           f"(a {ModelSpec.parse(args.model).model} model takes no knobs)")
    source, rows = _knob_rows(args.manifest, args)
    for name in ("best.pt", "last.pt"):
        paths.refuse_output_on_inputs(out / name, [p for r in rows for p in r[:2]] + [source["ir"]])
    from ..training.train import train

    data = _load(source, args)
    print(f"knob model on {len(rows)} captures: {data.space.describe()}")
    cfg = _train_config(args, knob_recipe=True)
    result = train(data, cfg, out_dir=out, progress=not args.quiet, save_every=args.save_every, source=source)
    _report(result, cfg)
    return 0


def _model(text: str) -> str:
    """``--model``: a model name the defaults table knows, checked before torch is imported."""
    if "@" in text:
        raise GuneampError("give the oversampling factor with --oversample, not in --model")
    return model_text(text)


def _per_model(*fields: str) -> str:
    """'seed_cnn 8, wavenet 1, lstm 1' from the defaults table, for --help."""
    return ", ".join(f"{name} {' / '.join(f'{getattr(row, f):g}' for f in fields)}" for name, row in TRAINING.items())


def register(sub) -> None:
    t = sub.add_parser("train", help="train a model on a clean/amp pair",
                       description="Train a causal model to turn the clean DI into the amp recording.")
    t.add_argument("--clean", default=str(default_data("clean.wav")), help="clean DI recording (default data/clean.wav)")
    t.add_argument("--amp", default=str(default_data("amp.wav")), help="target recording (default data/amp.wav)")
    t.add_argument("--ir", default=str(default_data("cab_ir.wav")), help="cabinet IR placed inside the loss (default data/cab_ir.wav)")
    t.add_argument("--val-clean", default=None, metavar="WAV",
                   help="clean DI of a separate take through the same gear, to validate on (with --val-amp): "
                        "then all of --clean/--amp trains, and the best epoch is the one this take scores best")
    t.add_argument("--val-amp", default=None, metavar="WAV", help="that take's recording through the gear")
    t.add_argument("--target-kind", choices=TARGET_KINDS, default="amp_with_cab",
                   help="amp_with_cab: target recorded through the cabinet (IR goes in the loss); amp_direct: before it")
    t.add_argument("--model", default="seed_cnn", type=argument_type(_model),
                   help="network: seed_cnn (the design's CNN, default), wavenet[:standard|lite|feather|nano|a2-lite|a2-full] (a2: NAM 0.13's default shapes), lstm[:8..80], gru[:8..80]")
    t.add_argument("--oversample", type=number(1, MAX_FACTOR, integer=True), default=None,
                   help=f"oversampling factor the network runs at (default: the model's, {_per_model('oversample')})")
    t.add_argument("--epochs", type=count, default=None, help="stop after this many epochs")
    t.add_argument("--time-budget", type=seconds, default=None,
                   help=f"stop after this many seconds (default {TRAIN_TIME_BUDGET_S:g}; with --steps, none)")
    t.add_argument("--steps", type=count, default=None,
                   help="train exactly this many steps, validated every 100, as train-many trains a row "
                        "(instead of --epochs; the time budget is then only a cap, and off unless given)")
    t.add_argument("--segment", type=number(1, 1 << 22, integer=True), default=None,
                   help="scored samples per training segment, at the file rate (default: the model's, with a "
                        f"cabinet IR in the loss / without: {_per_model('segment_with_cabinet', 'segment_direct')})")
    t.add_argument("--batch-size", type=number(1, MAX_BATCH, integer=True), default=None,
                   help=f"segments per step (default: the model's, {_per_model('batch_size')})")
    t.add_argument("--lr", type=number(above=0, high=1.0), default=None,
                   help=f"Adam learning rate (default: the model's, {_per_model('learning_rate')})")
    recipe = t.add_argument_group("recipe options (off by default; measured in docs/evaluation.md)")
    recipe.add_argument("--mrstft-weight", type=number(0.0, 10.0), default=0.0,
                        help="weight of a multi-resolution STFT term in the loss")
    recipe.add_argument("--dc-weight", type=number(0.0, 100.0), default=0.0, help="weight of a DC term in the loss")
    recipe.add_argument("--polarity", action="store_true",
                        help="flip segments' polarity at random (only for gear that treats both half-waves alike)")
    recipe.add_argument("--gain-jitter-db", type=number(0.0, 12.0), default=0.0,
                        help="draw each segment's input gain within +/- this many dB")
    recipe.add_argument("--ema", type=number(0.0, 0.99999), default=0.0,
                        help="validate (and keep) a moving average of the weights with this decay per step")
    t.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="auto = CUDA, then MPS, then CPU")
    t.add_argument("--align", action="store_true", help="shift the target to line up with the clean file automatically")
    t.add_argument("--out", default=str(paths.runs_dir() / "default"), help="folder for best.pt and last.pt (default runs/default)")
    t.add_argument("--overwrite", action="store_true", help="replace a model (or an interrupted run) already in --out")
    t.add_argument("--manifest", metavar="M", default=None,
                   help="train one knob model (wavenet, lstm or gru) on every split=train row of this knob manifest "
                        "(a CSV with knob:<name> columns, or YAML); --clean and --amp are then not used, and the "
                        "options left out come from the knob recipe (training.defaults.KNOB_TRAINING)")
    t.add_argument("--resume", metavar="DIR", default=None,
                   help="continue the interrupted run in DIR from its last.pt, with its own data and settings "
                        "(the other options but --device and --quiet are not used)")
    t.add_argument("--save-every", type=count, default=DEFAULT_SAVE_EVERY_STEPS, metavar="STEPS",
                   help=f"save last.pt every STEPS steps (default {DEFAULT_SAVE_EVERY_STEPS}), and at least every minute")
    add_common(t)
    t.set_defaults(func=cmd_train)
