"""``guneamp course`` and ``guneamp pipeline``: the notebook series headlessly, and the same job without notebooks.
"""

from __future__ import annotations

from pathlib import Path

from .. import paths
from ..errors import GuneampError
from ..vocabulary import DEVICE_CHOICES
from .common import add_common, check_output_file, claim, count, refuse_existing, seconds


def cmd_course(args) -> int:
    """Run the notebook series (or some of it) headlessly with papermill."""
    import yaml

    from ..course.runner import load_parameters_file, run_series

    params = load_parameters_file(args.parameters_file) if args.parameters_file else {}
    for name, value in args.parameter or []:
        try:
            params[name] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise GuneampError(f"the value {value!r} of -p {name} is not valid YAML; quote it as a string "
                               "or write a number, list or mapping.") from None
    output_dir = Path(args.output_dir) if args.output_dir else None
    # Two runs would write the same executed notebooks (and graphs, models) at once.
    with paths.output_lock(output_dir or paths.build_dir() / "notebooks"):
        run_series(params, output_dir, only=args.only, progress=not args.quiet, cell_timeout_s=args.cell_timeout)
    return 0


def cmd_pipeline(args) -> int:
    """The end-to-end job without notebooks: data, a trained model, a rendered file, its held-out ESR."""
    out = paths.runs_dir() / "tutorial"
    modeled = paths.rendered_dir() / "modeled.wav"
    # Refuse before the data and the training, not after: both outputs are the user's work.
    check_output_file(modeled, args.overwrite)
    paths.check_output_path(out, folder=True)
    for name in ("best.pt", "last.pt"):
        check_output_file(out / name, args.overwrite)
    from ..capture.synth import generate_default_data
    from ..render.files import render_file
    from ..training.data import load_training_data
    from ..training.train import TrainConfig, train

    data_dir = paths.data_dir()
    with claim(modeled, overwrite=args.overwrite, folders=[out]):
        for name in ("best.pt", "last.pt"):
            refuse_existing(out / name, args.overwrite)
        files = generate_default_data(data_dir, seed=args.seed, progress=not args.quiet)
        cfg = TrainConfig(time_budget_s=args.time_budget, epochs=args.epochs, seed=args.seed, device=args.device)
        data = load_training_data(files["clean"], files["amp"], files["cab_ir"])
        result = train(data, cfg, out_dir=out, progress=not args.quiet)
        render_file(result.best_path, files["clean"], modeled, device=args.device, progress=not args.quiet)
    print(f"held-out ESR of the {cfg.model} model: {result.best_val_esr:.4f}")
    print(f"wrote {modeled} and {result.best_path}")
    return 0


def register(sub) -> None:
    co = sub.add_parser("course", help="run the notebook series headlessly (papermill)",
                        description="Execute the numbered notebooks in order with papermill; executed copies go to build/notebooks.")
    co.add_argument("--only", nargs="+", metavar="NOTEBOOK", help="run only these notebooks (e.g. 06 or 06_gpu_training)")
    co.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                    help="override a parameter (repeatable), e.g. -p TIME_BUDGET_S 60")
    co.add_argument("--parameters-file", help="YAML or JSON file of parameter overrides for every notebook")
    co.add_argument("--output-dir", help="where executed copies go (default build/notebooks)")
    co.add_argument("--quiet", action="store_true", help="no per-cell progress bars")
    co.add_argument("--cell-timeout", type=seconds, default=None, metavar="SECONDS",
                    help="stop a cell that runs longer than this (default: no limit; the course trains fixed "
                         "step counts, which take longer on a slower machine)")
    co.set_defaults(func=cmd_course)

    tu = sub.add_parser("pipeline", help="the end-to-end job without notebooks: data, training, rendering, held-out ESR",
                        description="Create the default data if missing, train the designed model, render data/modeled.wav and print its held-out ESR.")
    tu.add_argument("--time-budget", type=seconds, default=180.0, help="training seconds (default 180)")
    tu.add_argument("--epochs", type=count, default=None, help="stop after this many epochs instead")
    tu.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="auto = CUDA, then MPS, then CPU")
    tu.add_argument("--overwrite", action="store_true",
                    help="replace data/modeled.wav and runs/tutorial/best.pt if they exist")
    add_common(tu)
    tu.set_defaults(func=cmd_pipeline)
