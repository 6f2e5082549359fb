"""Stopping a training run and picking it up again (notebook 06).

A run keeps ``last.pt`` up to date: after every epoch, and within an epoch at least every
:data:`SAVE_EVERY_S` seconds and every ``save_every`` steps, so a kill (SIGKILL, a power
cut, a closed laptop) loses at most a minute of work. Besides the weights, ``last.pt``
then holds what the run needs to go on exactly where it stopped: the optimizer's
moments, the step and epoch counts and the losses of the epoch in progress, the time
already spent (so the budget counts on from there), and the random generators' states
(so the segments drawn next are the ones an uninterrupted run would draw). A resumed run
with a fixed number of epochs therefore ends with the weights an uninterrupted one would
have, up to float rounding (``tests/test_resume.py`` kills one to check).

The state is plain tensors and numbers, read with ``weights_only=True`` like every
checkpoint. ``best.pt`` never carries it: it is the file one shares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import GuneampError
from ..models.checkpoint import load_checkpoint
from .knob_data import KnobTrainingData
from ..vocabulary import DEFAULT_SAVE_EVERY_STEPS

LAST = "last.pt"
BEST = "best.pt"
# A kill loses at most this much training time (and DEFAULT_SAVE_EVERY_STEPS steps).
SAVE_EVERY_S = 60.0


@dataclass
class RunState:
    """Where a run stands, in what a resumed run needs to carry on.

    Notebook: 06
    """

    step: int = 0
    epochs_done: int = 0
    epoch_losses: list[float] = field(default_factory=list)  # of the epoch in progress
    elapsed_s: float = 0.0
    best_val_esr: float = math.inf
    finished: bool = False


def capture_state(run: RunState, opt: torch.optim.Optimizer, gen: torch.Generator) -> dict:
    """The run's state as plain values and tensors, for ``last.pt``.

    Notebook: 06
    """
    return {
        "step": run.step, "epochs_done": run.epochs_done, "epoch_losses": list(run.epoch_losses),
        "elapsed_s": float(run.elapsed_s), "best_val_esr": float(run.best_val_esr), "finished": run.finished,
        "optimizer": opt.state_dict(), "generator": gen.get_state(), "torch_rng": torch.get_rng_state(),
    }


def data_fingerprint(data) -> list[float]:
    """A few numbers that change when the recordings do: a resumed run must train on the same data.

    Notebook: 06
    """
    if isinstance(data, KnobTrainingData):
        parts = data.tensors()
    else:
        parts = [data.clean, data.target] + ([data.ir] if data.ir is not None else [])
    return [float(len(parts))] + [v for t in parts for v in (float(t.numel()), float(t.double().sum()),
                                                             float(t.double().square().sum()))]


def read_last(out_dir: Path):
    """``last.pt`` of an interrupted run in ``out_dir``, with its state; refuses what cannot be resumed.

    Notebook: 06
    """
    path = Path(out_dir) / LAST
    if not path.exists():
        raise GuneampError(f"nothing to resume in {out_dir}: it holds no {LAST}. Start a run with --out instead.")
    ckpt = load_checkpoint(path)
    state = ckpt.training_state
    if not state:
        raise GuneampError(f"{path} holds no training state (written by an older guneamp); it cannot be resumed.")
    if state.get("finished"):
        raise GuneampError(f"the run in {out_dir} finished ({state['step']} steps); there is nothing to resume.")
    return ckpt


def restore_run(out_dir: Path, model, opt, gen, data, meta: dict) -> tuple[RunState, list[dict], dict, Path | None]:
    """Load the interrupted run's weights, optimizer and generators into ``model``, ``opt``, ``gen``.

    Returns the run state, the history so far, the best weights so far and ``best.pt``'s path.

    Notebook: 06
    """
    ckpt = read_last(out_dir)
    state = ckpt.training_state
    if ckpt.meta.get("fingerprint") != meta.get("fingerprint"):
        raise GuneampError(
            f"the recordings differ from those the run in {out_dir} started with; resume with the same files, "
            "or start a new run with --out."
        )
    try:
        model.load_state_dict(ckpt.model.state_dict())
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        run = RunState(int(state["step"]), int(state["epochs_done"]), [float(v) for v in state["epoch_losses"]],
                       float(state["elapsed_s"]), float(state["best_val_esr"]))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise GuneampError(f"{out_dir / LAST} holds a damaged training state ({exc.__class__.__name__}).") from None
    best_path = Path(out_dir) / BEST
    if best_path.exists():
        best_state = load_checkpoint(best_path).model.state_dict()
    else:
        best_path, best_state = None, {k: v.detach().clone() for k, v in model.state_dict().items()}
    return run, list(ckpt.history), best_state, best_path
