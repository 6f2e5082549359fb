"""Comparing models fairly: same data, same time budget, scored on audio none of them trained on (notebook 11).

Taught in notebooks 11 (``11_beyond_the_seed``: the comparison) and 12
(``12_your_own_gear``: the same evaluation on real pedal recordings).

**Three parts of every recording, never mixed.**

* *training*: the only targets a model ever learns from;
* *validation*: a tail of the training material, scored after every epoch to pick the
  checkpoint (the best epoch). Choosing by it makes it slightly optimistic, so it is
  not the score we report;
* *test*: scored once, after training, with the chosen checkpoint. This is the number
  in the table.

The default data (one 40 s performance): training 0-64 %, validation 64-80 %, test
80-100 %. The target is ``amp.wav`` (amp through its cabinet) with the cabinet IR inside
the loss, as in notebook 06; ``default_direct`` uses ``amp_direct.wav`` instead.

The real pedals (EGFxSet, see ``../shared/data/README.md``): clips 0-2 are the training
material (its last 20 % is the validation tail) and clip 3 is the test. Each pair is
stored with a different length and a 0.1 s offset; :func:`guneamp_lib.checks.align_pair`
finds and removes it, no offsets are set by hand. Pedal outputs have no cabinet.

**Three clips, one recording.** ``train()`` draws segments from one contiguous signal,
so the aligned clips are joined with :data:`CLIP_GAP_S` of silence between them. The gap
is longer than any model's memory here (the WaveNet's 93 ms receptive field at 1x, the
LSTM's 2,048-sample burn-in), so no training segment ever asks a model to predict one
clip from another clip's notes, and every clip starts from silence, exactly as the
test clip does when it is scored (the input before it is silence too).

**One time budget for all.** Every model trains for the same wall-clock seconds on
the same machine, so the table compares what each gets out of equal effort; the
training time and device columns say what that effort was.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from . import paths
from .data import TrainingData, make_training_data, split_point
from .errors import GuneampError
from .metrics import Report, reports_to_markdown
from .models import build_model, receptive_field

PEDALS = ("TubeScreamer", "RAT", "BluesDriver")
DATASETS = ("default", "default_direct") + PEDALS
DEFAULT_DATASETS = ("default",) + PEDALS
TRAIN_CLIPS = (0, 1, 2)
TEST_CLIP = 3
# Silence between joined clips: longer than the longest memory of the models compared
# (WaveNet: 4,093 samples = 93 ms at 44.1 kHz), so no segment sees two clips at once.
CLIP_GAP_S = 0.2
VAL_FRACTION = 0.2  # of the training material: the validation tail
TEST_FRACTION = 0.2  # of the default recording: the test part
DEFAULT_TIME_BUDGET_S = 600.0
# One period of E6 (1,318.5 Hz, the 24th fret of the high E string). A model that
# hears less than this cannot even see one cycle of the note it is distorting.
SHORTEST_PERIOD_MS = 0.76
# Quick mode: a few seconds of each recording and two steps per model, to check the
# plumbing (and the table's columns) in seconds, not to compare models.
QUICK_DEFAULT_SECONDS = 6.0
QUICK_CLIP_SECONDS = 1.5
QUICK_STEPS = 2

# Per-architecture training set-up. The seed CNN keeps the course's (notebook 06).
# The WaveNet needs 4,092 samples of context before every scored one, so it scores
# long segments: at 8,192 scored samples a step it learns from about twice as many
# samples per second of CPU as at 2,048 (measured on 2 cores).
TRAINING = {
    "seed_cnn": {"segment": 2048, "batch_size": 8},
    "wavenet": {"segment": 8192, "batch_size": 4},
    "lstm": {"segment": 2048, "batch_size": 8},
}


# --------------------------------------------------------------------------- models


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the comparison: an architecture, its size and the rate it runs at.

    Written as text ``name[:arg][@Nx]``: ``seed_cnn@8x``, ``wavenet:lite``, ``lstm:24``.
    ``arg`` is the WaveNet preset or the LSTM's hidden size; the rate defaults to 1x.
    """

    model: str
    arg: str | None = None
    oversample: int = 1

    @classmethod
    def parse(cls, text: "str | ModelSpec") -> "ModelSpec":
        if isinstance(text, ModelSpec):
            return text
        m = re.fullmatch(r"\s*([a-z_]+)(?::([\w.]+))?(?:@(\d+)x?)?\s*", str(text))
        if not m:
            raise GuneampError(f"cannot read the model {text!r}: write name[:arg][@Nx], e.g. wavenet:lite or seed_cnn@8x")
        spec = cls(m.group(1), m.group(2), int(m.group(3) or 1))
        if spec.oversample < 1:
            raise GuneampError(f"{text!r}: the rate must be 1x or more")
        spec.build()  # fail now, with the reason, rather than after other models have trained
        return spec

    def kwargs(self) -> dict:
        if self.model == "wavenet":
            return {"preset": self.arg or "standard"}
        if self.model == "lstm":
            try:
                return {} if self.arg is None else {"hidden_size": int(self.arg)}
            except ValueError:
                raise GuneampError(f"lstm:{self.arg}: the argument is the hidden size, a whole number") from None
        if self.arg is not None:
            raise GuneampError(f"{self.model} takes no argument (got {self.model}:{self.arg})")
        return {}

    @property
    def label(self) -> str:
        return f"{self.model}{'' if self.arg is None else ':' + self.arg} @{self.oversample}x"

    def build(self) -> torch.nn.Module:
        kwargs = self.kwargs()
        try:
            return build_model(self.model, **kwargs)
        except ValueError as exc:
            raise GuneampError(f"{self.label}: {exc}") from None


# The designed CNN as designed (8x) and at the file rate, then the two larger families.
# WaveNet lite and LSTM 16 did best of their families in a 60 s budget on 2 CPU cores,
# on the default data and on the RAT (docs/evaluation.md has the numbers).
DEFAULT_MODELS = ("seed_cnn@8x", "seed_cnn@1x", "wavenet:lite", "lstm:16")


def receptive_field_ms(model: torch.nn.Module, oversample: int, sample_rate: int) -> float:
    """How far back the model hears, in milliseconds of audio (``inf`` for an LSTM)."""
    rf = receptive_field(model)
    return math.inf if not math.isfinite(rf) else 1000.0 * rf / (sample_rate * oversample)


def hearing_note(spec: ModelSpec, model: torch.nn.Module, sample_rate: int) -> str:
    """One line on what the model can hear back in time, and what that means for an amp."""
    ms = receptive_field_ms(model, spec.oversample, sample_rate)
    if math.isinf(ms):
        return "recurrent: remembers through its state, no fixed limit"
    rf = int(receptive_field(model))
    text = f"{rf:,} samples at {spec.oversample * sample_rate / 1000:g} kHz = {ms:.2f} ms"
    if ms < SHORTEST_PERIOD_MS:
        text += (f"; shorter than one period of the highest note on a guitar ({SHORTEST_PERIOD_MS} ms), "
                 "while an amp's coupling capacitors and tone stack act over many ms")
    return text


# --------------------------------------------------------------------------- data


@dataclass
class EvalData:
    """A recording split for evaluation: ``[0, test_start)`` to train on, the rest to test.

    ``full`` holds everything (its ``val_start`` is ``test_start``, so scoring it like a
    validation set scores the test part); ``train`` is the training material alone, with
    its own validation tail.
    """

    name: str
    full: TrainingData
    test_start: int
    description: str
    lags: list = field(default_factory=list)

    @property
    def train(self) -> TrainingData:
        d = self.full
        n = self.test_start
        # No re-normalization: the model must meet the test part at the level it trained at.
        return TrainingData(d.clean[:n], d.target[:n], d.sample_rate, d.ir, d.target_kind,
                            split_point(n, VAL_FRACTION), d.lag)

    @property
    def sample_rate(self) -> int:
        return self.full.sample_rate

    def split_seconds(self) -> dict:
        sr = self.sample_rate
        tr = self.train
        return {"training": tr.n_train / sr, "validation": tr.n_val / sr,
                "test": (self.full.clean.numel() - self.test_start) / sr}

    def coverage(self):
        """:func:`guneamp_lib.checks.coverage` of the test input by the training input."""
        from .checks import coverage

        clean = self.full.clean.numpy()
        return coverage(clean[: self.test_start], clean[self.test_start :], self.sample_rate)

    def summary(self) -> str:
        s = self.split_seconds()
        return (f"{self.name}: {self.description}; training {s['training']:.1f} s, "
                f"validation {s['validation']:.1f} s, test {s['test']:.1f} s. "
                f"Coverage: {self.coverage().describe()}.")


def load_default(direct: bool = False, seconds: float | None = None, seed: int = 0) -> EvalData:
    """The course's default data: the first 80 % to train (validation tail inside), the last 20 % to test."""
    from .data import load_training_data
    from .synth import generate_default_data

    files = generate_default_data(paths.data_dir(), seed=seed, progress=False)
    if direct:
        d = load_training_data(files["clean"], files["amp_direct"], target_kind="amp_direct")
        what = "default data, target amp_direct.wav (no cabinet)"
    else:
        d = load_training_data(files["clean"], files["amp"], files["cab_ir"])
        what = "default data, target amp.wav with the cabinet IR inside the loss"
    if seconds is not None:
        n = min(int(seconds * d.sample_rate), d.clean.numel())
        d = replace(d, clean=d.clean[:n], target=d.target[:n])
    test_start = split_point(d.clean.numel(), TEST_FRACTION)
    full = replace(d, val_start=test_start)
    return EvalData("default_direct" if direct else "default", full, test_start, what)


def egfxset_dir() -> Path | None:
    root = paths.shared_data_dir()
    d = None if root is None else root / "egfxset"
    return d if d is not None and (d / "input").is_dir() else None


def aligned_clip(pedal: str, index: int, root: Path | None = None):
    """One real clip pair, read and aligned automatically: ``(clean, target, sr, lag)``."""
    from .audio import read_audio
    from .checks import align_pair

    root = root or egfxset_dir()
    if root is None:
        raise GuneampError("the real pedal recordings (../shared/data/egfxset) are not present")
    clean, sr, _ = read_audio(root / "input" / f"clip_{index}.wav", what="clean")
    target, sr_t, _ = read_audio(root / pedal / f"clip_{index}.wav", what=pedal)
    if sr != sr_t:
        raise GuneampError(f"{pedal} clip {index}: {sr_t} Hz but its DI is {sr} Hz")
    c, t, lag = align_pair(clean, target, sr)
    return c.astype(np.float32), t.astype(np.float32), sr, lag


def join_clips(pairs, sample_rate: int, gap_s: float = CLIP_GAP_S):
    """Join ``(clean, target)`` pairs with silence between them: ``(clean, target, starts)``."""
    gap = np.zeros(int(round(gap_s * sample_rate)), dtype=np.float32)
    cs, ts, starts, pos = [], [], [], 0
    for i, (c, t) in enumerate(pairs):
        if i:
            cs.append(gap)
            ts.append(gap)
            pos += gap.size
        starts.append(pos)
        cs.append(c)
        ts.append(t)
        pos += c.size
    return np.concatenate(cs), np.concatenate(ts), starts


def load_pedal(pedal: str, seconds: float | None = None, root: Path | None = None,
               test_clip: int = TEST_CLIP) -> EvalData:
    """A real pedal: three clips (aligned, joined) to train, ``test_clip`` (default 3) to test; no cabinet."""
    if pedal not in PEDALS:
        raise GuneampError(f"unknown pedal {pedal!r}; choose one of {', '.join(PEDALS)}")
    all_clips = TRAIN_CLIPS + (TEST_CLIP,)
    if test_clip not in all_clips:
        raise GuneampError(f"there is no clip {test_clip}: the EGFxSet excerpts are clips 0 to {max(all_clips)}")
    order = [i for i in all_clips if i != test_clip] + [test_clip]
    clips, lags, sr = [], [], None
    for i in order:
        c, t, sr, lag = aligned_clip(pedal, i, root)
        if seconds is not None:
            n = int(seconds * sr)
            c, t = c[:n], t[:n]
        clips.append((c, t))
        lags.append(lag)
    clean, target, starts = join_clips(clips, sr)
    test_start = starts[-1]
    # One gain for all four clips, set by the training clips: a pedal's sound depends
    # on how hard it is driven, so every clip must keep its level relative to the others.
    g_clean = 1.0 / (np.abs(clean[:test_start]).max() + 1e-8)
    g_target = 1.0 / (np.abs(target[:test_start]).max() + 1e-8)
    full = TrainingData(torch.from_numpy(clean * g_clean), torch.from_numpy(target * g_target), int(sr), None,
                        "amp_direct", test_start, lags[0])
    trained_on = ", ".join(str(i) for i in order[:-1])
    what = (f"EGFxSet {pedal} (CC-BY-4.0), clips {trained_on} to train, clip {test_clip} to test, "
            "aligned automatically, no cabinet")
    name = pedal if test_clip == TEST_CLIP else f"{pedal}@{test_clip}"
    return EvalData(name, full, test_start, what, lags)


def parse_dataset(name: str) -> tuple[str, int | None]:
    """``"RAT"`` -> ``("RAT", 3)``, ``"RAT@1"`` -> ``("RAT", 1)``, ``"default"`` -> ``("default", None)``."""
    base, at, clip = str(name).partition("@")
    if base not in DATASETS:
        raise GuneampError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)} "
                           "(a pedal may take @N to test on clip N)")
    if not at:
        return base, (TEST_CLIP if base in PEDALS else None)
    if base not in PEDALS or not clip.isdigit():
        raise GuneampError(f"{name!r}: only a pedal takes @N, with N a clip number (for example RAT@1)")
    return base, int(clip)


def load_dataset(name: str, seconds: float | None = None, seed: int = 0) -> EvalData | None:
    """A dataset by name; ``None`` (with a printed reason) for a pedal when the shared data is absent.

    A pedal's name may end in ``@N``: test on clip N, train on the other three.
    """
    base, test_clip = parse_dataset(name)
    if base in ("default", "default_direct"):
        return load_default(direct=base == "default_direct", seconds=seconds, seed=seed)
    if egfxset_dir() is None:
        print(f"skipping {name}: the real recordings are not present (expected ../shared/data/egfxset "
              "next to the checkout, or set GUNEAMP_SHARED_DATA)")
        return None
    return load_pedal(base, seconds, test_clip=test_clip)


def load_pair(clean_path, target_path, name: str = "your gear", ir_path=None, seconds: float | None = None) -> EvalData:
    """Your own capture: aligned automatically, the first 80 % to train (validation tail
    inside), the last 20 % to test. ``ir_path``: the target was recorded through that cabinet."""
    from .audio import read_audio
    from .cabinet import load_ir
    from .checks import align_pair

    clean, sr, _ = read_audio(clean_path, what="clean")
    target, sr_t, _ = read_audio(target_path, what="target")
    if sr != sr_t:
        raise GuneampError(f"the clean file is {sr} Hz but the target is {sr_t} Hz: resample one to the other's rate")
    c, t, lag = align_pair(clean, target, sr)
    if seconds is not None:
        c, t = c[: int(seconds * sr)], t[: int(seconds * sr)]
    ir = None if ir_path is None else load_ir(ir_path, sr)
    d = make_training_data(c, t, sr, ir, target_kind="amp_with_cab" if ir is not None else "amp_direct", lag=lag)
    test_start = split_point(d.clean.numel(), TEST_FRACTION)
    what = f"{Path(target_path).name} against {Path(clean_path).name}, aligned automatically ({lag.where()})"
    return EvalData(name, replace(d, val_start=test_start), test_start, what, [lag])


# The default data made to look like a real capture: the target starts this much later
# than the DI and so ends up shorter, as the EGFxSet clips are stored.
DEMO_CAPTURE_OFFSET_S = 0.1


def default_capture(folder, seconds: float = 20.0, seed: int = 0) -> tuple[Path, Path]:
    """Write ``clean.wav`` and ``target.wav`` (amp_direct, misaligned) from the default data.

    Notebook 12 falls back to it when neither your files nor the real recordings are there,
    so its checks always have an offset and a length difference to find.
    """
    from .audio import read_audio, save_wav
    from .synth import generate_default_data

    files = generate_default_data(paths.data_dir(), seed=seed, progress=False)
    clean, sr, _ = read_audio(files["clean"], what="clean")
    amp, _, _ = read_audio(files["amp_direct"], what="amp_direct")
    n, off = int(seconds * sr), int(round(DEMO_CAPTURE_OFFSET_S * sr))
    folder = Path(folder)
    return (save_wav(folder / "clean.wav", clean[:n], sr), save_wav(folder / "target.wav", amp[off:n], sr))


def linear_fit_correlation(clean, target, taps: int = 32) -> float:
    """How well a short causal linear filter of the DI predicts the target (multiple correlation, 0 to 1).

    Plain correlation at one lag is a poor judge of alignment: a pedal shifts phase, and
    on a sustained note the signal 100 ms earlier looks much like the signal now, so a
    misaligned pair can correlate better than an aligned one. A filter of ``taps`` past
    samples absorbs the phase; what it cannot absorb is the target being early or late.
    """
    c = np.asarray(clean, dtype=np.float64).reshape(-1)
    t = np.asarray(target, dtype=np.float64).reshape(-1)
    n = min(c.size, t.size)
    if n <= 2 * taps:
        raise GuneampError(f"{n} samples are too few for a {taps}-tap fit")
    rows = np.stack([c[taps - 1 - k : n - k] for k in range(taps)], axis=1)
    y = t[taps - 1 : n]
    coef, *_ = np.linalg.lstsq(rows, y, rcond=None)
    fit = rows @ coef
    den = np.linalg.norm(fit - fit.mean()) * np.linalg.norm(y - y.mean())
    return float(np.dot(fit - fit.mean(), y - y.mean()) / den) if den > 0 else 0.0


# --------------------------------------------------------------------------- training and testing


@dataclass
class Trained:
    """A model trained and tested: its report, the model itself and its test output."""

    spec: ModelSpec
    model: torch.nn.Module
    report: Report
    prediction: torch.Tensor
    history: list


def train_config(spec: ModelSpec, *, time_budget_s=DEFAULT_TIME_BUDGET_S, epochs=None, steps_per_epoch=None,
                 device="auto", seed=0):
    from .train import TrainConfig

    return TrainConfig(model=spec.model, model_kwargs=spec.kwargs(), oversample=spec.oversample,
                       time_budget_s=time_budget_s, epochs=epochs, steps_per_epoch=steps_per_epoch,
                       device=device, seed=seed, **TRAINING.get(spec.model, {}))


def train_and_test(dataset: EvalData, spec, *, time_budget_s=DEFAULT_TIME_BUDGET_S, epochs=None,
                   steps_per_epoch=None, device="auto", seed=0, progress=True, out_dir=None) -> Trained:
    """Train one model on the training material for the budget, then score the test part once."""
    from .train import evaluate, train

    spec = ModelSpec.parse(spec)
    cfg = train_config(spec, time_budget_s=time_budget_s, epochs=epochs, steps_per_epoch=steps_per_epoch,
                       device=device, seed=seed)
    tr = dataset.train
    cfg = replace(cfg, segment=min(cfg.segment, tr.n_train))  # tiny quick-mode data
    if progress:
        budget = f"{time_budget_s:.0f} s" if time_budget_s else f"{epochs} epoch(s)"
        print(f"[{dataset.name}] training {spec.label} for {budget} ...", flush=True)
    result = train(tr, cfg, out_dir=out_dir, progress=progress)
    model = result.model.eval()
    with torch.no_grad():
        test = evaluate(model, dataset.full, cfg, start=dataset.test_start)
    target = dataset.full.target[dataset.test_start :]
    sr = dataset.sample_rate
    last = result.history[-1]
    extra = {
        "dataset": dataset.name, "oversample": spec.oversample,
        "receptive_field_ms": receptive_field_ms(model, spec.oversample, sr),
        "hears": hearing_note(spec, model, sr), "steps": last["step"], "epochs": last["epoch"],
        "validation_esr": result.best_val_esr,
    }
    report = Report.compute(target, test["prediction"], spec.label, model=model, train_seconds=last["seconds"],
                            device=result.device, extra=extra)
    if progress:
        print(f"[{dataset.name}] {spec.label}: test ESR {report.esr:.4g} ({report.quality}) after "
              f"{last['step']} steps in {last['seconds']:.0f} s", flush=True)
    return Trained(spec, model, report, test["prediction"], result.history)


def train_models(dataset, models=DEFAULT_MODELS, *, time_budget_s=DEFAULT_TIME_BUDGET_S, epochs=None,
                 steps_per_epoch=None, device="auto", seed=0, progress=True, out_dir=None) -> list[Trained]:
    """:func:`train_and_test` for each model, in order; ``dataset`` is a name or an :class:`EvalData`."""
    data = load_dataset(dataset, seed=seed) if isinstance(dataset, str) else dataset
    if data is None:
        return []
    specs = [ModelSpec.parse(m) for m in models]
    out = []
    for spec in specs:
        where = None if out_dir is None else Path(out_dir) / data.name / re.sub(r"[^\w.]+", "_", spec.label)
        out.append(train_and_test(data, spec, time_budget_s=time_budget_s, epochs=epochs,
                                  steps_per_epoch=steps_per_epoch, device=device, seed=seed,
                                  progress=progress, out_dir=where))
    return out


def evaluate_models(dataset, models=DEFAULT_MODELS, time_budget_s=DEFAULT_TIME_BUDGET_S, device="auto", seed=0,
                    progress=True, *, epochs=None, steps_per_epoch=None, out_dir=None) -> list[Report]:
    """Train each model for ``time_budget_s`` on the training part, score each on the test part."""
    return [t.report for t in train_models(dataset, models, time_budget_s=time_budget_s, epochs=epochs,
                                           steps_per_epoch=steps_per_epoch, device=device, seed=seed,
                                           progress=progress, out_dir=out_dir)]


# --------------------------------------------------------------------------- the table


def hearing_table(reports) -> str:
    """What each model can hear back in time (Markdown): why the designed CNN falls short."""
    rows = ["| model | receptive field (ms) | what it hears |", "|---|---:|---|"]
    for r in reports:
        ms = r.extra.get("receptive_field_ms")
        ms_text = "unbounded" if ms in (math.inf, "inf") else ("n/a" if ms is None else f"{ms:.2f}")
        rows.append(f"| {r.name} | {ms_text} | {r.extra.get('hears', '')} |")
    return "\n".join(rows)


def format_results(results: dict, run_info: bool = True, descriptions: dict | None = None) -> str:
    """The evaluation as Markdown, one section per dataset (the CLI prints exactly this).

    ``run_info=False`` leaves out training time and device, which change from run to run.
    """
    parts = []
    for name, reports in results.items():
        parts.append(f"## {name}")
        if descriptions and name in descriptions:
            parts.append(descriptions[name])
        if not reports:
            if not (descriptions and name in descriptions):
                parts.append("(skipped)")
            continue
        parts += ["", reports_to_markdown(reports, run_info=run_info), "", hearing_table(reports), ""]
    return "\n".join(parts).rstrip() + "\n"


def run_evaluation(datasets=DEFAULT_DATASETS, time_budget_s: float | None = DEFAULT_TIME_BUDGET_S,
                   quick: bool = False, out_dir=None, *, models=DEFAULT_MODELS, device: str = "auto",
                   seed: int = 0, progress: bool = True, aliasing: bool = True) -> dict:
    """Evaluate ``models`` on each dataset; write ``evaluation.md`` and ``evaluation.json`` to ``out_dir``.

    ``quick`` uses a few seconds of each recording and two training steps per model: a
    check that everything runs and every column is filled, not a comparison.
    Returns ``{dataset: [Report, ...]}`` (empty list for a skipped dataset).
    """
    from .aliasing import aliasing_markdown, measure_model_aliasing

    specs = [ModelSpec.parse(m) for m in models]  # a typo fails here, before anything is written
    out_dir = Path(out_dir) if out_dir else paths.runs_dir() / "evaluation"
    out_dir.mkdir(parents=True, exist_ok=True)
    budget = None if quick else time_budget_s
    epochs, steps = (1, QUICK_STEPS) if quick else (None, None)
    results, descriptions, alias = {}, {}, {}
    for name in datasets:
        seconds = (QUICK_DEFAULT_SECONDS if name.startswith("default") else QUICK_CLIP_SECONDS) if quick else None
        data = load_dataset(name, seconds=seconds, seed=seed)
        if data is None:
            results[name] = []
            descriptions[name] = "skipped: ../shared/data/egfxset is not present"
            continue
        descriptions[name] = data.summary()
        if progress:
            print(descriptions[name], flush=True)
        trained = train_models(data, specs, time_budget_s=budget, epochs=epochs, steps_per_epoch=steps,
                               device=device, seed=seed, progress=progress, out_dir=out_dir / "checkpoints")
        results[name] = [t.report for t in trained]
        if aliasing:
            alias[name] = measure_model_aliasing({t.spec.label: (t.model, t.spec.oversample) for t in trained},
                                                 data.sample_rate, quick=quick)
    text = format_results(results, descriptions=descriptions)
    for name, res in alias.items():
        text += f"\n## aliasing, models trained on {name}\n\n{aliasing_markdown(res)}\n"
    header = (f"# Model evaluation\n\nEach model trained for "
              f"{'2 steps (quick mode: a plumbing check, not a comparison)' if quick else f'{time_budget_s:.0f} s'} "
              f"per dataset; ESR and the other scores are on the test part, which no model trained on.\n\n")
    paths.write_text_atomic(out_dir / "evaluation.md", header + text)
    payload = {
        "time_budget_s": budget, "quick": quick, "seed": seed, "models": [s.label for s in specs],
        "datasets": {name: {"description": descriptions.get(name), "reports": [r.to_dict() for r in reps],
                            "aliasing": [a.to_dict() for a in alias.get(name, [])]}
                     for name, reps in results.items()},
    }
    paths.write_text_atomic(out_dir / "evaluation.json", json.dumps(payload, indent=2))
    return results


def main(args) -> int:
    """``guneamp evaluate``: the entry point the CLI calls with its parsed arguments."""
    out = Path(args.out)
    run_evaluation(datasets=args.datasets, time_budget_s=args.time_budget, quick=args.quick, out_dir=out,
                   models=args.models, device=args.device, seed=args.seed, progress=not args.quiet)
    print((out / "evaluation.md").read_text())
    print(f"wrote {out / 'evaluation.md'} and {out / 'evaluation.json'}")
    return 0


def _dataset_arg(name: str) -> str:
    import argparse

    try:
        parse_dataset(name)
    except GuneampError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return name


def add_arguments(parser) -> None:
    """The ``guneamp evaluate`` options, so the CLI needs only a few lines to wire them."""
    from .runtime import DEVICE_CHOICES

    parser.add_argument("--datasets", nargs="+", default=list(DEFAULT_DATASETS), type=_dataset_arg, metavar="NAME",
                        help=f"datasets to evaluate on (default: {' '.join(DEFAULT_DATASETS)}; also default_direct; "
                             "a pedal may take @N to test on clip N and train on the other three, e.g. RAT@1)")
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS), metavar="MODEL",
                        help=f"models as name[:arg][@Nx] (default: {' '.join(DEFAULT_MODELS)})")
    parser.add_argument("--time-budget", type=float, default=DEFAULT_TIME_BUDGET_S,
                        help=f"training seconds per model and dataset (default {DEFAULT_TIME_BUDGET_S:.0f})")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="auto = CUDA, then MPS, then CPU")
    parser.add_argument("--out", default=str(paths.runs_dir() / "evaluation"),
                        help="folder for evaluation.md, evaluation.json and the checkpoints (default runs/evaluation)")
    parser.add_argument("--quick", action="store_true",
                        help="a few seconds of data and two steps per model: checks the plumbing in a minute or so")


__all__ = [
    "DATASETS", "DEFAULT_DATASETS", "DEFAULT_MODELS", "EvalData", "ModelSpec", "Trained", "aligned_clip",
    "default_capture", "egfxset_dir", "evaluate_models", "format_results", "hearing_table", "join_clips",
    "linear_fit_correlation", "load_dataset", "load_default", "load_pair", "load_pedal", "parse_dataset",
    "receptive_field_ms",
    "run_evaluation", "train_and_test", "train_models",
]
