"""The ``guneamp`` command: synthesize data, train, render, check a capture.

Every subcommand has ``--help``. Problems with the user's input end with a one-line
``error:`` message and exit status 2; warnings are printed as ``warning:`` lines.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from . import paths
from .errors import GuneampError, GuneampWarning

EXIT_USAGE = 2
EXIT_CHECK_FAILED = 1


def _show_warning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, GuneampWarning):
        print(f"warning: {message}", file=sys.stderr)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _default(name: str) -> Path:
    return paths.data_dir() / name


def _refuse_existing(path: Path, overwrite: bool, flag: str = "--overwrite") -> None:
    if path.exists() and not overwrite:
        raise GuneampError(f"{path} already exists; pass {flag} to replace it, or choose another path.")


def cmd_synth(args) -> int:
    from .synth import DEFAULT_FILES, generate_default_data

    out = Path(args.data_dir)
    if all((out / f).exists() for f in DEFAULT_FILES) and not args.overwrite:
        print(f"default data already in {out} (pass --overwrite to regenerate)")
        return 0
    files = generate_default_data(out, seed=args.seed, seconds=args.seconds, overwrite=args.overwrite,
                                  progress=not args.quiet)
    for key, path in files.items():
        print(f"wrote {path}")
    return 0


def _train_config(args):
    from .evaluate import ModelSpec
    from .train import TrainConfig

    spec = ModelSpec.parse(args.model)
    if spec.oversample != 1:
        raise GuneampError("give the oversampling factor with --oversample, not in --model")
    return TrainConfig(
        model=spec.model, model_kwargs=spec.kwargs(), oversample=args.oversample, epochs=args.epochs,
        time_budget_s=args.time_budget, seed=args.seed, device=args.device,
        segment=args.segment, batch_size=args.batch_size, learning_rate=args.lr,
    )


def cmd_train(args) -> int:
    from .data import load_training_data
    from .train import train

    out = Path(args.out)
    if (out / "best.pt").exists() and not args.overwrite:
        raise GuneampError(f"{out} already holds a trained model; pass --overwrite or choose another --out.")
    cfg = _train_config(args)
    ir = None if args.target_kind == "amp_direct" else args.ir
    data = load_training_data(args.clean, args.amp, ir, target_kind=args.target_kind, align=args.align)
    result = train(data, cfg, out_dir=out, progress=not args.quiet)
    h = result.history[-1]
    print(f"model: {cfg.model}, {result.checkpoint.meta['parameters']:,} parameters, device {result.device}")
    print(f"trained {h['step']} steps in {h['seconds']:.0f} s; held-out ESR {result.best_val_esr:.4f}")
    print(f"saved {result.best_path}")
    return 0


def cmd_render(args) -> int:
    out = Path(args.output)
    _refuse_existing(out, args.overwrite)
    if args.block_size is not None:
        from .streaming import render_streaming

        render_streaming(args.model, args.input, out, args.block_size, ir_path=args.ir, use_ir=not args.no_ir,
                         gain_db=args.gain_db, progress=not args.quiet)
    else:
        from .inference import render_file

        render_file(args.model, args.input, out, ir_path=args.ir, use_ir=not args.no_ir,
                    gain_db=args.gain_db, device=args.device, progress=not args.quiet)
    print(f"wrote {out}")
    return 0


def cmd_check(args) -> int:
    from .checks import check_pair

    report = check_pair(args.clean, args.amp, max_lag_s=args.max_lag)
    print(report)
    return EXIT_CHECK_FAILED if report.problems else 0


def cmd_course(args) -> int:
    """Run the notebook series (or some of it) headlessly with papermill."""
    import yaml

    from .course import load_parameters_file, run_series

    params = load_parameters_file(args.parameters_file) if args.parameters_file else {}
    for name, value in args.parameter or []:
        params[name] = yaml.safe_load(value)
    run_series(params, Path(args.output_dir) if args.output_dir else None, only=args.only, progress=not args.quiet)
    return 0


def cmd_pipeline(args) -> int:
    """The end-to-end job without notebooks: data, a trained model, a rendered file, its held-out ESR."""
    from .data import load_training_data
    from .inference import render_file
    from .synth import generate_default_data
    from .train import TrainConfig, train

    data_dir = paths.data_dir()
    files = generate_default_data(data_dir, seed=args.seed, progress=not args.quiet)
    cfg = TrainConfig(time_budget_s=args.time_budget, epochs=args.epochs, seed=args.seed, device=args.device)
    data = load_training_data(files["clean"], files["amp"], files["cab_ir"])
    out = paths.runs_dir() / "tutorial"
    result = train(data, cfg, out_dir=out, progress=not args.quiet)
    modeled = paths.rendered_dir() / "modeled.wav"
    render_file(result.best_path, files["clean"], modeled, device=args.device, progress=not args.quiet)
    print(f"held-out ESR of the {cfg.model} model: {result.best_val_esr:.4f}")
    print(f"wrote {modeled} and {result.best_path}")
    return 0


def cmd_export(args) -> int:
    """Write a trained WaveNet as a Neural Amp Modeler (.nam) file."""
    from .checkpoints import load_checkpoint
    from .nam_export import export_nam

    out = Path(args.output)
    _refuse_existing(out, args.overwrite)
    ckpt = load_checkpoint(args.model)
    if ckpt.model_name != "wavenet":
        raise GuneampError(f"only WaveNet models have a .nam layout; {args.model} holds a {ckpt.model_name}.")
    if ckpt.ir is not None:
        print("note: this model was trained with a cabinet IR in the loss; load that IR in the player too", file=sys.stderr)
    # The network runs at the file rate times the oversampling factor.
    export_nam(ckpt.model, out, ckpt.sample_rate * ckpt.oversample, metadata={"name": out.stem})
    print(f"wrote {out}")
    return 0


def cmd_evaluate(args) -> int:
    """Train each model for the same budget on each dataset; score it on the held-out test part."""
    from .evaluate import main

    return main(args)


def build_parser() -> argparse.ArgumentParser:
    from .runtime import DEVICE_CHOICES

    p = argparse.ArgumentParser(prog="guneamp", description="Neural amp and cabinet modeling: the guneamp course's command line.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sp, seed=True):
        sp.add_argument("--quiet", action="store_true", help="no progress bars")
        if seed:
            sp.add_argument("--seed", type=int, default=0, help="random seed (default 0)")

    s = sub.add_parser("synth", help="write the built-in default data (DI, amp, cabinet IR)",
                       description="Synthesize data/clean.wav, amp_direct.wav, cab_ir.wav and amp.wav deterministically from a seed.")
    s.add_argument("--data-dir", default=str(paths.data_dir()), help="folder to write to (default: the project's data/)")
    s.add_argument("--seconds", type=float, default=40.0, help="length of the DI performance (default 40)")
    s.add_argument("--overwrite", action="store_true", help="regenerate even if the files exist")
    common(s)
    s.set_defaults(func=cmd_synth)

    t = sub.add_parser("train", help="train a model on a clean/amp pair",
                       description="Train a causal model to turn the clean DI into the amp recording.")
    t.add_argument("--clean", default=str(_default("clean.wav")), help="clean DI recording (default data/clean.wav)")
    t.add_argument("--amp", default=str(_default("amp.wav")), help="target recording (default data/amp.wav)")
    t.add_argument("--ir", default=str(_default("cab_ir.wav")), help="cabinet IR placed inside the loss (default data/cab_ir.wav)")
    t.add_argument("--target-kind", choices=["amp_with_cab", "amp_direct"], default="amp_with_cab",
                   help="amp_with_cab: target recorded through the cabinet (IR goes in the loss); amp_direct: before it")
    t.add_argument("--model", default="seed_cnn",
                   help="network: seed_cnn (the design's CNN, default), wavenet[:standard|lite|feather|nano], lstm[:8..32]")
    t.add_argument("--oversample", type=int, default=8, help="oversampling factor the network runs at (default 8)")
    t.add_argument("--epochs", type=int, default=None, help="stop after this many epochs")
    t.add_argument("--time-budget", type=float, default=120.0, help="stop after this many seconds (default 120)")
    t.add_argument("--segment", type=int, default=None,
                   help="scored samples per training segment, at the file rate "
                        "(default: 2048 with a cabinet IR in the loss, 1024 without)")
    t.add_argument("--batch-size", type=int, default=8, help="segments per step (default 8)")
    t.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 3e-3)")
    t.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="auto = CUDA, then MPS, then CPU")
    t.add_argument("--align", action="store_true", help="shift the target to line up with the clean file automatically")
    t.add_argument("--out", default=str(paths.runs_dir() / "default"), help="folder for best.pt and last.pt (default runs/default)")
    t.add_argument("--overwrite", action="store_true", help="replace a model already in --out")
    common(t)
    t.set_defaults(func=cmd_train)

    r = sub.add_parser("render", help="run a trained model over a DI file",
                       description="Render a DI recording through a trained model and its cabinet IR to a new WAV file.")
    r.add_argument("--model", required=True, help="checkpoint written by `guneamp train` (best.pt)")
    r.add_argument("--input", required=True, help="clean DI file to process")
    r.add_argument("--output", required=True, help="WAV file to write (never one of the inputs)")
    r.add_argument("--ir", default=None, help="use this cabinet IR instead of the one stored with the model")
    r.add_argument("--no-ir", action="store_true", help="leave the cabinet out")
    r.add_argument("--gain-db", type=float, default=0.0, help="drive: gain applied to the peak-normalized DI (default 0)")
    r.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="auto = CUDA, then MPS, then CPU")
    r.add_argument("--block-size", type=int, default=None, metavar="N",
                   help="render N samples at a time, as a real-time plugin would (CPU; memory stays flat "
                        "for any file length; the same result to 1e-5)")
    r.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    common(r, seed=False)
    r.set_defaults(func=cmd_render)

    c = sub.add_parser("check", help="check a clean/amp pair before training",
                       description="Report sample rates, lengths, the estimated lag, levels, clipping and silence of a pair of files.")
    c.add_argument("clean", help="clean DI file")
    c.add_argument("amp", help="amp (target) file")
    c.add_argument("--max-lag", type=float, default=0.25, help="largest lag to search, in seconds (default 0.25)")
    c.set_defaults(func=cmd_check)

    co = sub.add_parser("course", help="run the notebook series headlessly (papermill)",
                        description="Execute the numbered notebooks in order with papermill; executed copies go to build/notebooks.")
    co.add_argument("--only", nargs="+", metavar="NOTEBOOK", help="run only these notebooks (e.g. 06 or 06_gpu_training)")
    co.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                    help="override a parameter (repeatable), e.g. -p TIME_BUDGET_S 60")
    co.add_argument("--parameters-file", help="YAML or JSON file of parameter overrides for every notebook")
    co.add_argument("--output-dir", help="where executed copies go (default build/notebooks)")
    co.add_argument("--quiet", action="store_true", help="no per-cell progress bars")
    co.set_defaults(func=cmd_course)

    tu = sub.add_parser("pipeline", help="the end-to-end job without notebooks: data, training, rendering, held-out ESR",
                        description="Create the default data if missing, train the designed model, render data/modeled.wav and print its held-out ESR.")
    tu.add_argument("--time-budget", type=float, default=180.0, help="training seconds (default 180)")
    tu.add_argument("--epochs", type=int, default=None, help="stop after this many epochs instead")
    tu.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="auto = CUDA, then MPS, then CPU")
    common(tu)
    tu.set_defaults(func=cmd_pipeline)

    ex = sub.add_parser("export", help="write a trained WaveNet as a Neural Amp Modeler .nam file",
                        description="Export a WaveNet checkpoint to NAM's model file format (JSON).")
    ex.add_argument("--model", required=True, help="checkpoint of a wavenet model (best.pt)")
    ex.add_argument("--output", required=True, help=".nam file to write")
    ex.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    ex.set_defaults(func=cmd_export)

    from .evaluate import add_arguments as add_evaluate_arguments

    ev = sub.add_parser("evaluate", help="compare models on held-out test audio (default data and real pedals)",
                        description="Train each model for the same time budget on each dataset's training part, score it "
                                    "on the test part, and write evaluation.md and evaluation.json.")
    add_evaluate_arguments(ev)
    common(ev)
    ev.set_defaults(func=cmd_evaluate)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        return int(args.func(args) or 0)
    except GuneampError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = previous


if __name__ == "__main__":
    sys.exit(main())
