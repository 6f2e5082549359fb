"""``guneamp train``: a model from a clean/amp pair.
"""

from __future__ import annotations

from pathlib import Path

from .. import paths
from ..errors import GuneampError
from ..runtime import DEVICE_CHOICES
from .common import add_common, default_data


def _train_config(args):
    from ..training.defaults import ModelSpec
    from ..training.train import TrainConfig

    spec = ModelSpec.parse(args.model)
    if spec.oversample != 1:
        raise GuneampError("give the oversampling factor with --oversample, not in --model")
    return TrainConfig(
        model=spec.model, model_kwargs=spec.kwargs(), oversample=args.oversample, epochs=args.epochs,
        time_budget_s=args.time_budget, seed=args.seed, device=args.device,
        segment=args.segment, batch_size=args.batch_size, learning_rate=args.lr,
    )


def cmd_train(args) -> int:
    from ..capture.reamp_checks import capture_check
    from ..training.data import load_training_data
    from ..training.train import train

    out = Path(args.out)
    if (out / "best.pt").exists() and not args.overwrite:
        raise GuneampError(f"{out} already holds a trained model; pass --overwrite or choose another --out.")
    cfg = _train_config(args)
    ir = None if args.target_kind == "amp_direct" else args.ir
    capture = capture_check(args.clean, args.amp)
    if capture is not None:
        print(capture)
    data = load_training_data(args.clean, args.amp, ir, target_kind=args.target_kind, align=args.align)
    result = train(data, cfg, out_dir=out, progress=not args.quiet)
    h = result.history[-1]
    print(f"model: {cfg.model}, {result.checkpoint.meta['parameters']:,} parameters, device {result.device}")
    print(f"trained {h['step']} steps in {h['seconds']:.0f} s; held-out ESR {result.best_val_esr:.4f}")
    print(f"saved {result.best_path}")
    return 0


def register(sub) -> None:
    t = sub.add_parser("train", help="train a model on a clean/amp pair",
                       description="Train a causal model to turn the clean DI into the amp recording.")
    t.add_argument("--clean", default=str(default_data("clean.wav")), help="clean DI recording (default data/clean.wav)")
    t.add_argument("--amp", default=str(default_data("amp.wav")), help="target recording (default data/amp.wav)")
    t.add_argument("--ir", default=str(default_data("cab_ir.wav")), help="cabinet IR placed inside the loss (default data/cab_ir.wav)")
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
    add_common(t)
    t.set_defaults(func=cmd_train)
