"""A knob capture of the reference amp: one amp recorded at many settings (``guneamp synth --knobs``).

Taught in notebook 13. What :func:`~guneamp_lib.capture.synth.generate_default_data` is to a
snapshot model, this is to a knob model: a capture set a learner has without a real amp,
written the way a real one is recorded, and deterministic from one seed (same bytes on
every run on one installation).

* **The plan** is :func:`~guneamp_lib.capture.plan.plan_settings` over the reference amp's
  ``drive``, ``bass``, ``mid`` and ``treble`` (each 0..10; ``master`` stays at 5): the 16
  corners and a 40-setting maximin Latin hypercube to train on, and 8 held-out settings
  between them.
* **The DI takes.** The training rows cycle through :data:`KNOB_TAKES` short performances
  (``--seconds`` split between them), so each take is repeated at seven settings and the
  model hears more playing than one take holds. The held-out rows play a separate take the
  training rows never play, so a held-out score measures a new setting *and* new playing,
  as a real second take would.
* **Baseline recordings.** The training setting nearest each held-out one
  (:func:`~guneamp_lib.capture.plan.nearest_setting`) also records the held-out take, as
  that row's ``test_clean``/``test_target``: baseline (b) of ``guneamp score --manifest``
  compares a knob model with that recording, the best a player without a knob model has.
* **One level for every file.** Each DI peaks at ``DI_PEAK`` and drives the amp at peak 1,
  as the default data does; every recording is scaled by the same factor (none unless one
  would peak above ``WRITE_PEAK_LIMIT``), so the drive and tone knobs' level changes stay in
  the files, as they would in a real capture.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .. import paths
from ..dsp.audio import save_wav
from ..errors import GuneampError
from ..knobs import Knob, KnobSpace
from .guitar import DI_PEAK, SAMPLE_RATE, synth_di
from .plan import manifest_text, nearest_setting, plan_settings
from .synth import WRITE_PEAK_LIMIT, ReferenceAmp

KNOB_NAMES = ("drive", "bass", "mid", "treble")
KNOB_RANGE = (0.0, 10.0)
# DI takes the training rows cycle through: eight 5 s takes at the default 40 s.
KNOB_TAKES = 8
# How often the plan's hypercube sets each knob to each level: twice the capture-plan
# default, 40 settings besides the corners. A synthetic take costs seconds, not a session,
# and a knob model interpolates better from more settings (each with less audio).
PER_LEVEL = 2 * len(KNOB_NAMES)
# Settings held out for testing.
HELD_OUT = 8
# The held-out take is this fraction of --seconds (6 s at the default 40 s): long enough for
# a stable ESR, short since the nearest training settings record it too.
TEST_TAKE_FRACTION = 0.15
KNOB_FOLDER = "knobs"
MANIFEST_NAME = "knobs.csv"
TARGET_KIND = "amp_direct"


def knob_space() -> KnobSpace:
    """The reference amp's knobs that ``synth --knobs`` plans over, each on its 0..10 dial.

    Notebook: 13
    """
    return KnobSpace([Knob(n, *KNOB_RANGE) for n in KNOB_NAMES])


def reference_take(setting: Mapping[str, float], di, sr: int = SAMPLE_RATE,
                   fixed: Mapping[str, float] | None = None) -> np.ndarray:
    """The reference amp at ``setting`` (dial units) playing DI ``di``, as a knob capture records it.

    Knobs not in ``setting`` sit at ``fixed``, else at the amp's defaults (noon). The DI
    drives the amp at peak 1 when it peaks at ``DI_PEAK``, as in the default data.

    Notebook: 13
    """
    return ReferenceAmp(**{**(fixed or {}), **setting})(np.asarray(di, dtype=np.float64) / DI_PEAK, sr)


def reference_captures(settings: Sequence[Mapping[str, float]], seconds: float, sr: int = SAMPLE_RATE, seed: int = 0,
                       fixed: Mapping[str, float] | None = None) -> list[tuple[np.ndarray, np.ndarray, dict]]:
    """``(di, recording, setting)`` for each setting: a short capture session of the reference amp, in memory.

    Each setting plays a performance of its own (``seconds`` long, seeds drawn from ``seed``),
    so a model trained on them hears more playing than one take holds, as in
    :func:`generate_knob_data`; the same arguments give the same samples.

    Notebook: 13
    """
    if not np.isfinite(seconds) or seconds <= 0:
        raise GuneampError(f"seconds must be a positive number, not {seconds!r}.")
    seeds = np.random.default_rng(seed).integers(0, 2**31, size=len(settings))
    out = []
    for setting, take_seed in zip(settings, seeds):
        di = synth_di(seconds, sr, int(take_seed))
        out.append((di, reference_take(setting, di, sr, fixed), dict(setting)))
    return out


def _file_name(prefix: str, setting: dict) -> str:
    return prefix + "_" + "_".join(f"{k[0]}{v:g}" for k, v in setting.items()) + ".wav"


def generate_knob_data(out_dir: str | os.PathLike, seed: int = 0, seconds: float = 40.0, overwrite: bool = False,
                       progress: bool = True) -> Path:
    """Write the knob capture set into ``out_dir`` and return its manifest (``knobs.csv``).

    If the manifest is there already and ``overwrite`` is false, nothing is written; if
    other files it would write are there, :class:`GuneampError` names them.

    Notebook: 13
    """
    from tqdm.auto import tqdm  # deferred: only generation needs it

    if not np.isfinite(seconds) or seconds <= 0:
        raise GuneampError(f"seconds must be a positive number, not {seconds!r}.")
    out = Path(out_dir)
    manifest = out / MANIFEST_NAME
    if manifest.exists() and not overwrite:
        return manifest
    space = knob_space()
    plan = plan_settings(space, seed=seed, per_level=PER_LEVEL, test=HELD_OUT)
    train_idx = [i for i, s in enumerate(plan.splits) if s == "train"]
    nearest = {train_idx[nearest_setting(space, s, plan.train)] for s in plan.test}
    rows = [{"clean": "", "target": _file_name("amp", s), "target_kind": TARGET_KIND, "test_clean": "",
             "test_target": ""} for s in plan.settings]
    di_names = [f"di_{t + 1}.wav" for t in range(KNOB_TAKES)]
    for n, i in enumerate(train_idx):
        rows[i]["clean"] = di_names[n % KNOB_TAKES]
    for i, split in enumerate(plan.splits):
        if split == "test":
            rows[i]["clean"] = "di_test.wav"
        if i in nearest:
            rows[i].update(test_clean="di_test.wav", test_target=_file_name("amp_test", plan.settings[i]))
    names = sorted({r[c] for r in rows for c in ("clean", "target", "test_target") if r[c]})
    if not overwrite:
        there = [n for n in names if (out / n).exists()]
        if there:
            raise GuneampError(f"{out} already holds {', '.join(there[:3])}{' ...' if len(there) > 3 else ''} but no "
                               f"{MANIFEST_NAME}; choose another folder, or pass --overwrite to replace them")
    out.mkdir(parents=True, exist_ok=True)

    sr = SAMPLE_RATE
    seeds = [int(s) for s in np.random.default_rng(seed).integers(0, 2**31, size=KNOB_TAKES + 1)]
    takes = {name: synth_di(seconds / KNOB_TAKES, sr, s) for name, s in zip(di_names, seeds)}
    takes["di_test.wav"] = synth_di(seconds * TEST_TAKE_FRACTION, sr, seeds[-1])
    recordings = {}
    jobs = [(r["target"], r["clean"], s) for r, s in zip(rows, plan.settings)]
    jobs += [(r["test_target"], r["test_clean"], s) for r, s in zip(rows, plan.settings) if r["test_target"]]
    for target, clean, setting in tqdm(jobs, desc="knob captures", disable=not progress, leave=False):
        # Every DI peaks at DI_PEAK, so one gain drives them all at peak 1 (as the default data).
        recordings[target] = reference_take(setting, takes[clean], sr)
    peak = max(float(np.max(np.abs(r))) for r in recordings.values())
    scale = np.float32(min(1.0, WRITE_PEAK_LIMIT / peak))
    for name, audio in takes.items():
        save_wav(out / name, audio, sr)
    for name, audio in recordings.items():
        save_wav(out / name, audio * scale, sr)
    # Written last: a manifest in the folder means the set is complete.
    paths.write_text_atomic(manifest, manifest_text(plan, rows))
    return manifest


__all__ = ["KNOB_NAMES", "MANIFEST_NAME", "generate_knob_data", "knob_space", "reference_captures", "reference_take"]
