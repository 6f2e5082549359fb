"""``guneamp train-many``: one model per capture listed in a manifest, here or on a Dask cluster.
"""

from __future__ import annotations

from ..vocabulary import DEFAULT_STEPS, DEVICE_CHOICES
from .common import add_common, add_engine_arguments, argument_type, check_inputs, count, model_text


def cmd_train_many(args) -> int:
    check_inputs((args.manifest, "manifest"))
    from ..jobs import Engine
    from ..study.many import manifest_rows, summary_paths, train_many

    engine = Engine(args.workers, args.scheduler, progress=not args.quiet)
    # so that the line below names the workers that start
    engine.fit(len(manifest_rows(args.manifest, args.model, args.out)))
    if not args.quiet:
        print(f"training on {engine.describe()}", flush=True)
    results = train_many(args.manifest, engine=engine, steps=args.steps or DEFAULT_STEPS, seed=args.seed,
                         device=args.device, overwrite=args.overwrite, summary_dir=args.summary_dir,
                         models=args.model, out=args.out)
    where = summary_paths(args.manifest, args.summary_dir)
    print(where["md"].read_text(encoding="utf-8"))
    print(f"wrote {', '.join(str(p) for p in where.values())}")
    failed = sum(r["status"] == "failed" for r in results)
    if failed:
        print(f"{failed} of {len(results)} captures failed; fix them and run the same command again "
              "(finished captures are skipped)")
    return 1 if failed else 0


def register(sub) -> None:
    t = sub.add_parser("train-many", help="train one model per capture listed in a manifest (CSV or YAML)",
                       description="Train every row of a manifest (clean, target, model, out, and optional ir, "
                                   "target_kind, test_clean, test_target, steps, seed, align; or, instead of clean "
                                   "and target, a knob manifest: one knob model on its split=train rows) and write a summary "
                                   "table. A failing row is recorded with its error and the others go on; rows "
                                   "already finished are skipped, so a rerun resumes.")
    t.add_argument("manifest", help="the manifest: a .csv with a header line, or a .yaml list of captures; "
                                    "or a knob manifest (knob:<name> columns), which trains one knob model per --model")
    t.add_argument("--model", action="append", default=[], type=argument_type(model_text), metavar="MODEL",
                   help="with a knob manifest: a knob model to train on it (wavenet[:preset], lstm[:size], "
                        "gru[:size]); repeat it for several, each trained as a job of its own")
    t.add_argument("--out", default=None, metavar="DIR",
                   help="with a knob manifest: the folder holding one folder per --model "
                        "(default <manifest name>-models beside the manifest)")
    t.add_argument("--steps", type=count, default=None,
                   help=f"training steps per capture unless its row says otherwise (default {DEFAULT_STEPS})")
    t.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="auto = CUDA, then MPS, then CPU")
    t.add_argument("--summary-dir", default=None,
                   help="folder for <manifest>.summary.csv, .md and .json (default: the manifest's folder); "
                        "rewritten by every run")
    t.add_argument("--overwrite", action="store_true", help="retrain captures whose folder already holds a finished model")
    add_engine_arguments(t)
    add_common(t)
    t.set_defaults(func=cmd_train_many)
