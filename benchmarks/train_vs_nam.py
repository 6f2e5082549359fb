"""Training against Neural Amp Modeler's own trainer: the same WaveNet, data, threads and clock.

    python benchmarks/train_vs_nam.py --side ours --preset lite --budget 600 --json build/train-ours-lite.json
    <venv with neural-amp-modeler>/bin/python benchmarks/train_vs_nam.py --side nam ...

Both sides train the same architecture (the WaveNet preset: NAM's own standard or lite
layer arrays) on the same default data (``data/clean.wav`` -> ``data/amp_direct.wav``
from ``guneamp synth``, the last 20 % held out) with one PyTorch thread, each with its
trainer's own defaults:

- ours: ``guneamp_lib.training.train`` with the per-model defaults of
  ``training/defaults.py`` (segments of 8,192 samples, batch 4, Adam, cosine decay over
  the budget);
- NAM's: its ``LightningModule`` and a PyTorch Lightning ``Trainer``, with the settings
  NAM's trainer used for these presets (8,192-sample outputs, batch 16, Adam at 0.004,
  exponential decay 0.993 per epoch, ESR loss plus 2e-4 x multi-resolution STFT).

``--preset a2`` pits NAM 0.13's default recipe, A2 (``nam/train/_resources/config_model_packed.json``:
a 3- and an 8-channel WaveNet trained together, packed into one network, by its
``PackedLightningModule``: 8,192-sample outputs, batch 16, Adam at 0.004 with weight decay
3.17e-7, exponential decay 0.994 per epoch, ESR plus 5e-4 x multi-resolution STFT, the
target scaled to -18 dBFS RMS as its trainer's data config does) against our
``wavenet:a2-full``, the same 8-channel network trained alone with our defaults. NAM's
side is scored on its Full submodel, the one the plugin plays by default; its Lite
submodel's ESR is recorded beside it (``esr_lite``).

Every ``--every`` seconds of training, the clock stops and both sides are scored the same
way: the held-out ESR of the model run causally over the held-out part, with the input
before it as context (our ``training.losses.esr``). Scoring time is not counted, so the
times are training time only.

The clock is the process's CPU time by default (``--clock cpu``): each side runs one
thread, so its CPU seconds are the wall seconds it would take on a quiet core, and a
shared machine slows both sides without changing their figures. ``--clock wall`` counts
elapsed time instead; both are recorded at every score. The JSON holds the curve (training seconds, steps, ESR),
and the first time each side reached ESR 0.01 and 0.001.

NAM's package is not a dependency of guneamp: install ``neural-amp-modeler==0.13.0`` in a
separate virtual environment that can also import torch and guneamp (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from guneamp_lib.models import AmpModel, WaveNet, build_model  # noqa: E402
from guneamp_lib.training.data import load_training_data  # noqa: E402
from guneamp_lib.training.losses import esr  # noqa: E402

THRESHOLDS = (0.01, 0.001)
NAM_TARGET_SCALE = 0.99
NAM_SETTINGS = {"ny": 8192, "batch_size": 16, "lr": 0.004, "gamma": 0.993, "mrstft_weight": 2e-4}
# NAM 0.13's trainer (nam.train.core.train): its default output length and batch, and the
# level its data config scales the target to (normalize_joint_dataset_output).
NAM_A2 = {"ny": 8192, "batch_size": 16, "level_rms_dbfs": -18.0}
PRESETS = ("standard", "lite", "a2")
OUR_A2 = "a2-full"  # our side of --preset a2: NAM's A2 Full, trained alone
# --quick: a few seconds of training, scored on the first second of the held-out part (a smoke test)
QUICK = {"budget": 3.0, "every": 1.0, "held_out_s": 1.0}


def held_out_esr(net: torch.nn.Module, data, scale: float = 1.0, submodel: int | None = None,
                 seconds: float | None = None) -> float:
    """ESR on the held-out part, the model run causally with the input before it as context.

    ``submodel``: which output of NAM's packed A2 to score (it returns one per size).
    ``seconds``: score only that much of the held-out part.
    """
    ctx = int(net.receptive_field) - 1
    a = max(data.val_start - ctx, 0)
    end = data.clean.numel() if seconds is None else min(data.clean.numel(),
                                                         data.val_start + int(seconds * data.sample_rate))
    x = data.clean[a:end].float()
    net.eval()
    with torch.no_grad():
        if isinstance(net, AmpModel):
            y = net(x.view(1, 1, -1)).view(-1)
        else:  # NAM's nets take (batch, time); pad_start gives the causal same-length output
            y = net(x.view(1, -1), pad_start=True)
            y = (y[0, submodel] if submodel is not None else y).reshape(-1)
    net.train()
    return esr(data.target[data.val_start : end], scale * y[data.val_start - a :])


class Clock:
    """Training time, and a held-out score every ``every`` seconds of it (scoring not counted)."""

    def __init__(self, net, data, every: float, budget: float, scale: float = 1.0, clock: str = "cpu",
                 held_out_s: float | None = None, packed: bool = False):
        self.net, self.data, self.every, self.budget, self.scale = net, data, every, budget, scale
        self.held_out_s, self.packed = held_out_s, packed
        self.trained = 0.0  # on the chosen clock
        self.wall = 0.0
        self.cpu = 0.0
        self.use_cpu = clock == "cpu"
        self.next_score = every
        self.curve: list[dict] = []
        self.start()

    def start(self) -> None:
        self.started = (time.perf_counter(), time.process_time())

    def tick(self, step: int) -> bool:
        """Call after each step; returns True when the budget is spent."""
        wall, cpu = time.perf_counter() - self.started[0], time.process_time() - self.started[1]
        self.wall += wall
        self.cpu += cpu
        self.trained = self.cpu if self.use_cpu else self.wall
        if self.trained >= self.next_score or self.trained >= self.budget:
            point = {"seconds": self.trained, "wall_s": self.wall, "cpu_s": self.cpu, "step": step}
            if self.packed:  # NAM's A2: Full (the plugin's default) is the score, Lite recorded beside it
                point["esr"] = held_out_esr(self.net, self.data, self.scale, -1, self.held_out_s)
                point["esr_lite"] = held_out_esr(self.net, self.data, self.scale, 0, self.held_out_s)
            else:
                point["esr"] = held_out_esr(self.net, self.data, self.scale, None, self.held_out_s)
            self.curve.append(point)
            print(f"  {self.trained:7.1f} s  step {step:6d}  held-out ESR {point['esr']:.5f}", flush=True)
            self.next_score += self.every
        self.start()
        return self.trained >= self.budget


def train_ours(preset: str, data, budget: float, every: float, clock: str, held_out_s: float | None = None
               ) -> list[dict]:
    from guneamp_lib.training.defaults import training_defaults
    from guneamp_lib.training.step import SegmentSampler, cosine_lr, train_step
    from guneamp_lib.training.train import TrainConfig

    preset = OUR_A2 if preset == "a2" else preset
    # the defaults `guneamp train` uses for a WaveNet on a pair without a cabinet IR
    cfg = TrainConfig(model="wavenet", model_kwargs={"preset": preset}, oversample=1,
                      segment=training_defaults("wavenet").segment(has_ir=False), time_budget_s=budget, device="cpu")
    torch.manual_seed(cfg.seed)
    net = build_model("wavenet", preset=preset)
    sampler = SegmentSampler.build(net, data, cfg, cfg.segment, torch.device("cpu"))
    opt = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate)
    gen = torch.Generator().manual_seed(cfg.seed)
    clock = Clock(net, data, every, budget, clock=clock, held_out_s=held_out_s)
    step = 0
    while True:
        # train() decays the rate over its time budget; the same here, over training time
        train_step(net, opt, sampler, cfg.batch_size, gen, cfg, cosine_lr(cfg.learning_rate, clock.trained / budget))
        step += 1
        if clock.tick(step):
            return clock.curve


def nam_wavenet_config(preset: str) -> dict:
    """NAM's LightningModule config for our WaveNet preset, with the settings its trainer used for it."""
    layers = []
    for lc in WaveNet(preset=preset).config["layers"]:
        lc = dict(lc)
        head = {"out_channels": lc.pop("head_size"), "kernel_size": 1, "bias": lc.pop("head_bias")}
        layers.append({**lc, "head": head})
    s = NAM_SETTINGS
    return {
        "net": {"name": "WaveNet", "config": {"layers_configs": layers, "head_scale": 0.02}},
        "loss": {"val_loss": "esr", "mrstft_weight": s["mrstft_weight"]},
        "optimizer": {"lr": s["lr"]},
        "lr_scheduler": {"class": "ExponentialLR", "kwargs": {"gamma": s["gamma"]}},
    }


def nam_a2_config() -> dict:
    """NAM 0.13's default training config, A2, as its package ships it."""
    from importlib.resources import files

    return json.loads(files("nam.train._resources").joinpath("config_model_packed.json").read_text())


def train_nam(preset: str, data, budget: float, every: float, clock: str, held_out_s: float | None = None
              ) -> list[dict]:
    import pytorch_lightning as pl
    from nam.data import Dataset
    from nam.train.lightning_module import LightningModule, PackedLightningModule

    packed = preset == "a2"
    if packed:
        config, cls, ny, batch = nam_a2_config(), PackedLightningModule, NAM_A2["ny"], NAM_A2["batch_size"]
        # NAM's trainer scales the target to -18 dBFS RMS over the training part; scored with that undone
        rms = float(data.target[: data.val_start].double().pow(2).mean().sqrt())
        scale = 10.0 ** (NAM_A2["level_rms_dbfs"] / 20.0) / rms
    else:
        config, cls, ny, batch = nam_wavenet_config(preset), LightningModule, NAM_SETTINGS["ny"], NAM_SETTINGS["batch_size"]
        # NAM refuses a target that reaches full scale ("Output clipped"), and ours is peak-normalized
        # to it; NAM trains on the target a little quieter and is scored with that undone.
        scale = NAM_TARGET_SCALE
    torch.manual_seed(0)
    module = cls.init_from_config(config)
    rf = module.net.receptive_field
    x, y = data.clean.float(), scale * data.target.float()
    train_ds = Dataset(x, y, rf, ny, stop_samples=data.val_start, sample_rate=data.sample_rate,
                       require_input_pre_silence=None)
    loader = torch.utils.data.DataLoader(train_ds, batch_size=batch, shuffle=True, drop_last=True, num_workers=0)
    callbacks = []
    if packed:
        from nam.train.lightning_module import PackedMaskCallback

        callbacks.append(PackedMaskCallback())  # NAM's trainer keeps the packed off-block weights at zero
    clock = Clock(module.net, data, every, budget, 1.0 / scale, clock=clock, held_out_s=held_out_s, packed=packed)

    class Timer(pl.Callback):
        def on_train_batch_start(self, trainer, *args):
            clock.start()

        def on_train_batch_end(self, trainer, *args):
            if clock.tick(trainer.global_step):
                trainer.should_stop = True

    trainer = pl.Trainer(max_epochs=10_000, accelerator="cpu", devices=1, callbacks=[Timer(), *callbacks], logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         limit_val_batches=0, num_sanity_val_steps=0)
    trainer.fit(module, loader)
    return clock.curve


def first_reach(curve: list[dict], threshold: float) -> float | None:
    return next((p["seconds"] for p in curve if p["esr"] <= threshold), None)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--side", choices=("ours", "nam"), required=True)
    ap.add_argument("--preset", choices=PRESETS, default="lite",
                    help=f"the WaveNet both train; a2: NAM 0.13's default A2 recipe against our wavenet:{OUR_A2}")
    ap.add_argument("--budget", type=float, default=600.0, help="seconds of training (default 600)")
    ap.add_argument("--every", type=float, default=30.0, help="seconds of training between held-out scores")
    ap.add_argument("--quick", action="store_true",
                    help=f"a smoke test: {QUICK['budget']:g} s of training, scored every {QUICK['every']:g} s on the "
                         f"first {QUICK['held_out_s']:g} s of the held-out part")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                    help="what a second of training is: the process's CPU time (default; load-proof with one "
                         "thread) or elapsed time")
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args(argv)
    held_out_s = None
    if args.quick:
        args.budget, args.every, held_out_s = QUICK["budget"], QUICK["every"], QUICK["held_out_s"]
    if not (math.isfinite(args.budget) and args.budget > 0 and math.isfinite(args.every) and args.every > 0):
        ap.error("--budget and --every must be positive numbers of seconds")
    if args.threads < 1:
        ap.error("--threads must be at least 1")
    torch.set_num_threads(args.threads)
    data = load_training_data(ROOT / "data" / "clean.wav", ROOT / "data" / "amp_direct.wav", target_kind="amp_direct")
    with open("/proc/loadavg") as f:
        load = float(f.read().split()[0])
    print(f"{args.side} {args.preset}: {args.budget:.0f} s budget, {args.threads} thread(s), load {load:.1f}", flush=True)
    run = train_ours if args.side == "ours" else train_nam
    curve = run(args.preset, data, args.budget, args.every, args.clock, held_out_s)
    trained = {"ours": OUR_A2, "nam": "NAM 0.13 default A2 (packed Lite + Full), scored on Full"}[args.side] \
        if args.preset == "a2" else args.preset
    result = {"side": args.side, "preset": args.preset, "trained": trained, "quick": args.quick,
              "held_out_s": held_out_s, "budget_s": args.budget, "threads": args.threads, "clock": args.clock,
              "load_at_start": load, "torch": torch.__version__, "curve": curve,
              "final_esr": curve[-1]["esr"] if curve else None,
              **{f"seconds_to_esr_{t}": first_reach(curve, t) for t in THRESHOLDS}}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
