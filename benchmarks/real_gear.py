"""Real gear, scored on a take no model trained on: our recipe against NAM's trainer (issue 22).

    python benchmarks/real_gear.py --budget 300 --json build/real-gear-300.json
    python benchmarks/real_gear.py --sides ours --set ema=0.999 --budget 60 --json build/ema.json
    python benchmarks/real_gear.py --sides nam-a2 --budget 900 --also-at 300 --json build/a2.json
    python benchmarks/real_gear.py --sides ours --val-fraction 0.05 --json build/vf.json   (or --val-per-take)
    python benchmarks/real_gear.py --sides ours --val-take 3 --json build/vt.json   (clip 3 validates, 0 and 2 train)
    python benchmarks/real_gear.py --table build/real-gear-*.json

For each EGFxSet pedal in ``../shared/data`` (clips of 5 s), every side trains on three
takes and is scored once on the fourth, clip 1 by default: the take whose notes the
training takes cover (``capture.coverage`` says how much of its energy they miss; the
JSON keeps it). The sides, each with the same seconds of CPU time on one thread:

- ``ours``: ``guneamp train``'s recipe for ``wavenet:lite`` (the library's ``train()``,
  its validation tail, best checkpoint and the rest), with ``--set key=value`` changing
  one :class:`~guneamp_lib.training.train.TrainConfig` field for a recipe search;
- ``nam-a2``: NAM 0.13's default recipe, as ``nam.train.core.train`` sets it up: its
  packed A2 WaveNet (3- and 8-channel submodels trained together), Adam at 0.004 with
  weight decay, exponential decay 0.994 per epoch, ESR plus 5e-4 x multi-resolution
  STFT, batches of 16 outputs of 8,192 samples, the best epoch per submodel. The
  8-channel submodel is the one scored (the 3-channel one is in the JSON);
- ``nam-standard``: NAM's standard WaveNet with the settings its trainer used for it
  (``train_vs_nam.NAM_SETTINGS``), best epoch kept.

``--val-fraction`` changes how much of the training takes every side holds out to validate
(20 %), ``--val-per-take`` takes it from each take's end instead of the joined takes' end.

NAM's sides train in their own Lightning loop; their clock counts training batches only,
while ours counts everything ``train()`` does (its validations included), so the
comparison leans NAM's way. NAM chooses its best epoch on the same validation tail
ours uses (the last 20 % of the training takes), scored after every epoch.

Reported on the unseen take: ESR, ESR after pre-emphasis, and the multi-resolution STFT
distance of ``study.metrics``. The clock is process CPU time (``time.process_time``),
which a shared machine does not inflate; the load at the start is recorded with it.
"""

from __future__ import annotations

import argparse
import copy
from importlib import resources
import json
import math
import sys
import time
from dataclasses import fields
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from guneamp_lib.study.datasets import VAL_FRACTION, egfxset_dir, load_dataset  # noqa: E402
from guneamp_lib.study.metrics import Report  # noqa: E402
from guneamp_lib.training.losses import esr  # noqa: E402
from guneamp_lib.training.train import TrainConfig, evaluate, train  # noqa: E402
from guneamp_lib.vocabulary import PEDALS  # noqa: E402

SIDES = ("ours", "nam-a2", "nam-standard")
# The take scored: clip 1's notes lie inside the training clips' range (README, accuracy).
UNSEEN_CLIP = 1
OUR_MODEL = "wavenet:lite"
NAM_TARGET_SCALE = 0.99  # NAM refuses a target at full scale; ours is peak-normalized to it
NAM_A2 = {"ny": 8192, "batch_size": 16}  # nam.train.core.train's defaults


def load_pedal(pedal: str, clip: int = UNSEEN_CLIP, seconds: float | None = None, val_per_take: bool = False,
               val_fraction: float = VAL_FRACTION, val_take: int | None = None):
    """The pedal's EvalData: three takes to train (validation tail inside, or each take's
    tail with ``val_per_take``; ``val_fraction`` of them; or two, with ``val_take`` the
    third to validate), ``clip`` to test."""
    return load_dataset(f"{pedal}@{clip}", seconds=seconds, val_per_take=val_per_take, val_fraction=val_fraction,
                        val_take=val_take)


def parse_overrides(pairs: list[str]) -> dict:
    """``["ema=0.999", "loss=esr"]`` -> TrainConfig keyword arguments, typed as the fields are."""
    types = {f.name: f.type for f in fields(TrainConfig)}
    out = {}
    for p in pairs:
        key, eq, value = p.partition("=")
        if not eq or key not in types:
            raise SystemExit(f"--set {p!r}: write FIELD=VALUE with a TrainConfig field ({', '.join(types)})")
        out[key] = json.loads(value) if value[:1] in "0123456789-[{tfn" and value not in ("nan",) else value
    return out


def score(dataset, prediction: torch.Tensor, name: str) -> Report:
    return Report.compute(dataset.full.target[dataset.test_start :], prediction, name)


def run_ours(dataset, budget: float, overrides: dict, model: str = OUR_MODEL) -> dict:
    from guneamp_lib.training.defaults import ModelSpec

    spec = ModelSpec.parse(model)
    cfg = TrainConfig(model=spec.model, model_kwargs=spec.kwargs(), oversample=spec.oversample,
                      time_budget_s=budget, device="cpu", clock="cpu", **overrides)
    result = train(dataset.train, cfg, progress=False)
    final = copy.deepcopy(result.model)
    final.load_state_dict(result.last_state)  # the weights training ended with
    with torch.no_grad():
        pred = evaluate(result.model, dataset.full, cfg, start=dataset.test_start)["prediction"]
        pred_last = evaluate(final, dataset.full, cfg, start=dataset.test_start)["prediction"]
    last = result.history[-1]
    # the row scores the weights the validation chose (the recipe's); last_esr, the final ones:
    # whether choosing on the validation tail helps on an unseen take
    return {"report": score(dataset, pred, "ours"), "validation_esr": result.best_val_esr, "steps": last["step"],
            "cpu_s": result.timing["elapsed_s"], "recipe": overrides, "model": model,
            "last_esr": score(dataset, pred_last, "ours (last)").esr,
            "best_epoch": [h["val_esr"] for h in result.history].index(result.best_val_esr) + 1,
            "epochs": len(result.history)}


def nam_config(side: str) -> tuple[dict, dict]:
    """NAM's (model config, loader settings) for a side."""
    if side == "nam-a2":
        # the file nam.train.core.train reads its default model and optimizer from
        text = resources.files("nam.train._resources").joinpath("config_model_packed.json").read_text()
        return json.loads(text), NAM_A2
    from train_vs_nam import NAM_SETTINGS, nam_wavenet_config

    return nam_wavenet_config("standard"), {"ny": NAM_SETTINGS["ny"], "batch_size": NAM_SETTINGS["batch_size"]}


def nam_outputs(net, clean: torch.Tensor, start: int, end: int) -> torch.Tensor:
    """Every submodel's output on ``clean[start:end]``, run causally with the input before it: (P, n)."""
    ctx = int(net.receptive_field) - 1
    a = max(start - ctx, 0)
    with torch.no_grad():
        y = net(clean[a:end].float().view(1, -1), pad_start=True)
    y = y.reshape(-1, y.shape[-1])  # (1, L) for a WaveNet, (1, P, L) packed
    return y[:, start - a :] / NAM_TARGET_SCALE


def run_nam(dataset, budget: float, side: str, also_at: tuple[float, ...] = ()) -> dict:
    import pytorch_lightning as pl
    from nam.data import Dataset
    from nam.train.lightning_module import LightningModule, PackedLightningModule, PackedMaskCallback

    config, loader = nam_config(side)
    packed = config["net"]["name"] == "PackedWaveNet"
    torch.manual_seed(0)
    module = (PackedLightningModule if packed else LightningModule).init_from_config(config)
    net = module.net
    tr = dataset.train
    x, y = tr.clean.float(), NAM_TARGET_SCALE * tr.target.float()
    train_ds = Dataset(x, y, net.receptive_field, loader["ny"], stop_samples=tr.val_start, sample_rate=tr.sample_rate,
                       require_input_pre_silence=None)
    dl = torch.utils.data.DataLoader(train_ds, batch_size=loader["batch_size"], shuffle=True, drop_last=True,
                                     num_workers=0)
    val_target = tr.target[tr.val_start :]
    state = {"cpu": 0.0, "t": 0.0, "steps": 0, "best": None, "best_esr": None}
    # NAM's schedule does not depend on the budget (a decay per epoch), so a shorter run is
    # this run's prefix: at each earlier budget, what a run stopped there would keep is the
    # best of the epochs so far and of the partial epoch it stops in (scored there, kept
    # out of this run's own choice).
    pending = sorted(b for b in also_at if 0 < b < budget)
    early = []

    def validation_errors():
        net.eval()
        pred = nam_outputs(net, tr.clean, tr.val_start, tr.clean.numel())
        net.train()
        return [esr(val_target, p) for p in pred]

    class Budget(pl.Callback):
        """CPU time of training batches only; the best epoch per submodel on the validation tail."""

        def on_train_batch_start(self, trainer, *args):
            state["t"] = time.process_time()

        def on_train_batch_end(self, trainer, *args):
            state["cpu"] += time.process_time() - state["t"]
            state["steps"] = trainer.global_step
            while pending and state["cpu"] >= pending[0]:
                errs = validation_errors()
                kept, kept_esr = [], []
                for i, e in enumerate(errs):
                    have = state["best_esr"][i] if state["best"] else math.inf
                    kept.append(copy.deepcopy(net.state_dict()) if e < have else state["best"][i])
                    kept_esr.append(min(e, have))
                early.append({"budget": pending.pop(0), "cpu": state["cpu"], "steps": state["steps"],
                              "best": kept, "best_esr": kept_esr})
            if state["cpu"] >= budget:
                trainer.should_stop = True

        def on_train_epoch_end(self, trainer, *args):
            errs = validation_errors()
            if state["best"] is None:
                state["best"] = [None] * len(errs)
                state["best_esr"] = [math.inf] * len(errs)
            for i, e in enumerate(errs):
                if e < state["best_esr"][i]:
                    state["best_esr"][i] = e
                    state["best"][i] = copy.deepcopy(net.state_dict())

    callbacks = [Budget()] + ([PackedMaskCallback()] if packed else [])
    trainer = pl.Trainer(max_epochs=1_000_000, accelerator="cpu", devices=1, callbacks=callbacks, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         limit_val_batches=0, num_sanity_val_steps=0)
    trainer.fit(module, dl)

    def result(st: dict) -> dict:
        reports = []
        for i, best in enumerate(st["best"]):
            net.load_state_dict(best)
            net.eval()
            pred = nam_outputs(net, dataset.full.clean, dataset.test_start, dataset.full.clean.numel())[i]
            reports.append(score(dataset, pred, side if i == len(st["best"]) - 1 else f"{side} (submodel {i})"))
        # The packed A2's last submodel is its full-size (8-channel) one.
        return {"report": reports[-1], "validation_esr": st["best_esr"][-1], "steps": st["steps"],
                "cpu_s": st["cpu"], "submodels": [r.to_dict() for r in reports],
                "submodel_validation_esr": st["best_esr"]}

    out = result(state)
    out["earlier"] = [{"budget_cpu_s": e["budget"], **result(e)} for e in early]
    return out


def run_side(side: str, dataset, budget: float, overrides: dict, also_at: tuple[float, ...] = (),
             model: str = OUR_MODEL) -> list[dict]:
    """The side's row at ``budget``, after its rows at the earlier budgets ``also_at`` (NAM's sides only)."""
    torch.manual_seed(0)
    out = run_ours(dataset, budget, overrides, model) if side == "ours" else run_nam(dataset, budget, side, also_at)
    cov = dataset.coverage()

    def row(o: dict, at: float) -> dict:
        rep = o.pop("report")
        return {"pedal": dataset.name, "side": side, "budget_cpu_s": at, "esr": rep.esr,
                "esr_pre_emphasis": rep.esr_pre_emphasis, "mrstft": rep.mrstft, "quality": rep.quality,
                "uncovered_share": cov.uncovered_share, **o}

    earlier = [row(e, e.pop("budget_cpu_s")) for e in out.pop("earlier", [])]
    return earlier + [row(out, budget)]


def table(rows: list[dict]) -> str:
    lines = ["| pedal | side | CPU s | steps | validation ESR | unseen ESR | pre-emph. ESR | MR-STFT |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(rows, key=lambda r: (r["budget_cpu_s"], r["pedal"], SIDES.index(r["side"]))):
        recipe = "".join(f" {k}={v}" for k, v in (r.get("recipe") or {}).items())
        if r.get("model", OUR_MODEL) != OUR_MODEL:
            recipe = f" {r['model']}{recipe}"
        lines.append(f"| {r['pedal']} | {r['side']}{recipe} | {r['budget_cpu_s']:.0f} | {r['steps']} | "
                     f"{r['validation_esr']:.4f} | **{r['esr']:.4f}** | {r['esr_pre_emphasis']:.4f} | {r['mrstft']:.3f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pedals", nargs="+", choices=PEDALS, default=list(PEDALS))
    ap.add_argument("--sides", nargs="+", choices=SIDES, default=list(SIDES))
    ap.add_argument("--clip", type=int, default=UNSEEN_CLIP, help="the unseen take (default 1)")
    ap.add_argument("--budget", type=float, default=300.0, help="CPU seconds of training per side (default 300)")
    ap.add_argument("--also-at", type=float, nargs="+", default=[], metavar="CPU_S",
                    help="NAM's sides also report what a run stopped at these earlier budgets keeps "
                         "(their schedule does not depend on the budget; ours does, so run it again)")
    ap.add_argument("--seconds", type=float, default=None, help="use only each take's first seconds (tests)")
    ap.add_argument("--model", default=OUR_MODEL, help=f"our side's model, name[:arg][@Nx] (default {OUR_MODEL})")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                    help="change one TrainConfig field of our recipe (repeatable)")
    ap.add_argument("--val-per-take", action="store_true",
                    help="every side validates on each training take's tail (default: the joined takes' tail)")
    ap.add_argument("--val-fraction", type=float, default=VAL_FRACTION,
                    help=f"share of the training takes held out to validate (default {VAL_FRACTION})")
    ap.add_argument("--val-take", type=int, default=None, metavar="CLIP",
                    help="validate on this whole clip (a separate take) and train on the other two")
    ap.add_argument("--json", type=Path, help="write the rows here")
    ap.add_argument("--table", type=Path, nargs="+", help="print the table of these JSON files and exit")
    args = ap.parse_args(argv)
    if args.table:
        print(table([r for p in args.table for r in json.loads(p.read_text())["rows"]]))
        return 0
    if not (math.isfinite(args.budget) and args.budget > 0):
        ap.error("--budget must be a positive number of seconds")
    if not (math.isfinite(args.val_fraction) and 0 < args.val_fraction < 0.5):
        ap.error("--val-fraction must be above 0 and below 0.5")
    if args.val_take is not None and (args.val_take not in (0, 1, 2, 3) or args.val_take == args.clip
                                      or args.val_per_take):
        ap.error("--val-take takes a clip from 0 to 3 other than --clip, without --val-per-take")
    if not all(math.isfinite(b) and 0 < b < args.budget for b in args.also_at):
        ap.error("--also-at takes positive CPU seconds below --budget")
    from guneamp_lib.errors import GuneampError
    from guneamp_lib.training.defaults import ModelSpec

    try:
        ModelSpec.parse(args.model)
    except GuneampError as e:
        ap.error(f"--model: {e}")
    if egfxset_dir() is None:
        print("skipped: ../shared/data/egfxset is not present")
        return 0
    overrides = parse_overrides(args.overrides)
    torch.set_num_threads(1)
    with open("/proc/loadavg") as f:
        load = float(f.read().split()[0])
    rows = []
    for pedal in args.pedals:
        dataset = load_pedal(pedal, args.clip, args.seconds, args.val_per_take, args.val_fraction, args.val_take)
        for side in args.sides:
            print(f"[{dataset.name}] {side}: {args.budget:.0f} CPU s on one thread (load {load:.1f}) ...", flush=True)
            for r in run_side(side, dataset, args.budget, overrides, tuple(args.also_at), args.model):
                rows.append(r)
                final = f", final weights {r['last_esr']:.4f}" if "last_esr" in r else ""
                print(f"[{dataset.name}] {side} at {r['budget_cpu_s']:.0f} CPU s: unseen ESR {r['esr']:.4f} "
                      f"(validation {r['validation_esr']:.4f}){final}, {r['steps']} steps", flush=True)
    print(table(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"load_at_start": load, "torch": torch.__version__, "model": args.model,
                                         "val_per_take": args.val_per_take, "val_fraction": args.val_fraction,
                                         "val_take": args.val_take,
                                         "overrides": overrides, "rows": rows},
                                        indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
