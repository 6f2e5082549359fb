"""The time budget of a training run, kept to within a step (notebook 06).

``--time-budget 20`` means the run ends within about 20 s of wall time, set-up and the
last validation included, on a busy machine as on an idle one. Three things used to
push a run past it (a 300 s pair with a 20 s budget took 27 to 35 s of wall time on the
course's busy 2-core machine, load 8 to 10; now 19.4 to 22.1 s):

* the set-up before the first step (oversampling the whole recording, building the
  sampler, a forward pass to size a step's memory, the first step's one-time costs) was
  not counted. The clock now starts when :func:`~guneamp_lib.training.train.train` does;
* the budget was checked after a step, so the step that crossed it was always taken.
  Now a step is started only if it fits: the estimate is the slowest of the last
  :data:`RECENT_STEPS` steps, so a step slower than the typical one (the first, or one
  that shared the CPU with another job) counts until it has passed;
* the last validation's cost was estimated once, on a second of audio, before training.
  Every validation now also measures its own speed, and the latest measurement is the
  estimate: the cost set aside for the last one follows the machine's load.

What remains is an error of estimate: a step that takes longer than any of the recent
ones did, or a last validation slower than the one before. ``tests/test_train_budget.py``
holds a run to ``budget + 2 x slowest step + validation estimate error``. One exception:
every run takes at least one step, so a set-up that leaves no room for one (a budget of
seconds on a long recording) ends after that step and its validation.

With a fixed number of steps the budget is only a safety cap: the step count decides
what is trained, so a run that the cap does not stop trains, validates and ends exactly
as it would without a clock (the clock only reads the time).
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field

from ..errors import GuneampError

# How many of the latest steps the step-time estimate looks at: enough that one fast
# step does not hide a slow machine, few enough that the first step's one-time costs
# stop counting soon.
RECENT_STEPS = 8
# Validation (and the choice of the best checkpoint) every this many steps when a run is
# given a step count (``train-many``, ``evaluate --steps``); a count above it is rounded up
# to a whole number of such rounds.
VALIDATE_EVERY = 100


@dataclass
class Clock:
    """Seconds since a run started, and whether one more step still fits in its budget.

    ``budget_s`` None: no budget, every step fits. ``t0`` is the start, earlier by what
    an interrupted run had already used when it is resumed.

    Notebook: 06
    """

    budget_s: float | None
    t0: float
    val_samples: int = 0  # held-out samples each validation scores
    val_per_sample: float = 0.0  # seconds per held-out sample, the latest measured
    steps: deque = field(default_factory=lambda: deque(maxlen=RECENT_STEPS))
    slowest_step: float = 0.0  # of the whole run, for the report
    validation_overrun: float = 0.0  # the most a validation took beyond its estimate
    setup_s: float | None = None  # seconds from the start to the first step

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def note_step(self, seconds: float) -> None:
        if self.setup_s is None:
            self.setup_s = self.elapsed() - seconds
        self.steps.append(seconds)
        self.slowest_step = max(self.slowest_step, seconds)

    def plan_validation(self, samples: int, seconds: float) -> None:
        """Each validation scores ``samples``; the first is expected to take ``seconds``."""
        self.val_samples = samples
        self.val_per_sample = seconds / samples if samples > 0 else 0.0

    def note_validation(self, seconds: float) -> None:
        self.validation_overrun = max(self.validation_overrun, seconds - self.validation_estimate)
        if self.val_samples > 0:
            self.val_per_sample = seconds / self.val_samples

    @property
    def step_estimate(self) -> float:
        return max(self.steps, default=0.0)

    @property
    def validation_estimate(self) -> float:
        return self.val_per_sample * self.val_samples

    def next_step_fits(self) -> bool:
        """Whether one more step and then the last validation end within the budget."""
        if self.budget_s is None:
            return True
        return self.elapsed() + self.step_estimate + self.validation_estimate <= self.budget_s

    def report(self) -> dict:
        return {"budget_s": self.budget_s, "elapsed_s": self.elapsed(), "setup_s": self.setup_s,
                "slowest_step_s": self.slowest_step,
                "validation_estimate_s": self.validation_estimate, "validation_overrun_s": self.validation_overrun}


def fixed_steps(steps: int) -> dict:
    """:class:`~guneamp_lib.training.train.TrainConfig` fields for ``steps`` steps and no clock.

    Validated every :data:`VALIDATE_EVERY` steps; above that, rounded up to whole rounds.

    Notebook: 06
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise GuneampError(f"the number of steps must be a whole number of 1 or more, got {steps!r}")
    per = min(steps, VALIDATE_EVERY)
    return {"epochs": math.ceil(steps / per), "steps_per_epoch": per, "time_budget_s": None}
