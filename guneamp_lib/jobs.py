"""Many independent jobs, run here one after another or spread over a Dask cluster.

``guneamp train-many`` (one model per capture) and ``guneamp evaluate`` (one model per
dataset and architecture) are both lists of jobs that share nothing while they run.
This module runs such a list and hands back one :class:`Outcome` per job, in the order
given, whatever order the jobs finished in:

* ``workers=1`` and no scheduler: in this process, one job after another;
* ``workers=N > 1``: a Dask ``LocalCluster`` of N worker processes on this machine;
* ``scheduler="tcp://host:8786"``: an existing Dask cluster (``dask scheduler`` and
  ``dask worker`` on other machines, dask-jobqueue on SLURM, Kubernetes; see the README).

**Equal numbers wherever a job runs.** A job never reads a clock to decide how much to
do: it trains a fixed number of steps from its own seed. Every job also runs with one
PyTorch thread, here as on a worker: a different thread count splits float sums
differently, and a network trained with two threads ends about 1e-9 away from the same
network trained with one (measured). So the serial run and any cluster give the same
numbers to the last bit, and on a machine with N cores N workers are the way to use
them all. Processes, not threads: a training step holds the GIL between its kernels,
so threads in one process would mostly wait for each other.

**Failures.** A job that raises is recorded with a one-line error and the others go on.
A worker process that dies (killed, out of memory, a crash in native code) takes its job
with it; the job is submitted once more, and if that worker dies too the job is marked
failed. The local cluster's scheduler is told to give up on the first death
(``allowed-failures: 0``) so that this one retry is the only one; an existing
scheduler applies its own setting first (``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES``).

Workers read inputs and write outputs by path, so on a real cluster every worker must
see the same paths (a shared filesystem), and have this package installed.
"""

from __future__ import annotations

import logging
import os
import uuid
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from tqdm.auto import tqdm

from .errors import GuneampError, GuneampWarning

# Submissions of a job whose worker died: the first, and one retry.
ATTEMPTS_ON_WORKER_DEATH = 2
# Seconds to wait for an existing scheduler to answer before saying it cannot be reached.
CONNECT_TIMEOUT_S = 30


@dataclass(frozen=True)
class Task:
    """One job: ``fn(*args, **kwargs)``, named by ``key`` (unique in its list; shown in progress and errors).

    ``fn`` must be a module-level function, so a worker process can import it.
    """

    key: str
    fn: Callable
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


@dataclass
class Outcome:
    """What became of a :class:`Task`: its return value, or a one-line error."""

    key: str
    value: Any = None
    error: str | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None


def one_line_error(exc: BaseException) -> str:
    """The first line of an exception's message; its type too unless it is a :class:`GuneampError`."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    if isinstance(exc, GuneampError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, which a batch scheduler sets), at least 1."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):  # no affinity on macOS and Windows
        return max(os.cpu_count() or 1, 1)


def check_engine_options(workers: int, scheduler: str | None) -> None:
    """Refuse a worker count below 1, an empty address, or both a count and an address."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise GuneampError(f"--workers must be a whole number of 1 or more, got {workers!r}")
    if scheduler is not None:
        if not str(scheduler).strip():
            raise GuneampError("--scheduler needs an address such as tcp://10.0.0.5:8786")
        if workers > 1:
            raise GuneampError("give --workers (a cluster on this machine) or --scheduler (an existing one), not both")


def _attempt(fn: Callable, args: tuple, kwargs: dict) -> tuple[bool, Any]:
    """Run one job with one PyTorch thread; an exception becomes ``(False, its one-line text)``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return True, fn(*args, **kwargs)
    except Exception as exc:  # one job's failure is data for the summary, not a crash of the run
        return False, one_line_error(exc)
    finally:
        torch.set_num_threads(before)


class Engine:
    """Where jobs run; a context manager that starts (and stops) a local cluster if asked.

    >>> with Engine(workers=2) as engine:
    ...     outcomes = engine.run([Task("a", f, (1,)), Task("b", f, (2,))])
    """

    def __init__(self, workers: int = 1, scheduler: str | None = None, *, progress: bool = True):
        check_engine_options(workers, scheduler)
        cores = usable_cores()
        if workers > cores:
            # Each worker trains with one thread: more workers than cores only share them,
            # each with its own copy of PyTorch in memory.
            warnings.warn(f"--workers {workers} is more than the {cores} cores this process may use; starting "
                          f"{cores} (give --scheduler to use a cluster of other machines)", GuneampWarning)
            workers = cores
        self.workers = workers
        self.scheduler = scheduler
        self.progress = progress
        self.client = None
        self._cluster = None
        self._config = None
        self._depth = 0

    def fit(self, jobs: int) -> None:
        """Start no more local workers than there are ``jobs`` (before the cluster starts)."""
        if self.client is None and self.scheduler is None and 0 < jobs < self.workers:
            self.workers = jobs

    @property
    def distributed(self) -> bool:
        return self.scheduler is not None or self.workers > 1

    def describe(self) -> str:
        if self.scheduler is not None:
            return f"the Dask cluster at {self.scheduler}"
        if self.workers > 1:
            return f"a local Dask cluster of {self.workers} worker processes"
        return "this process, one job after another"

    def __enter__(self) -> "Engine":
        # Re-entrant: a caller may hold one cluster open for several commands (the tests do),
        # and each command's own `with engine:` then uses it rather than starting another.
        self._depth += 1
        if not self.distributed or self.client is not None:
            return self
        try:
            self._start()
        except BaseException:
            self._depth -= 1
            raise
        return self

    def _start(self) -> None:
        import dask
        from distributed import Client, LocalCluster

        if self.scheduler is not None:
            try:
                self.client = Client(self.scheduler, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError, ValueError) as exc:
                raise GuneampError(f"cannot reach the Dask scheduler at {self.scheduler} ({one_line_error(exc)}); "
                                   "start one with `dask scheduler` and check the address") from None
            return
        # Held until __exit__: the cluster reads these later, from its own thread.
        # allowed-failures 0: this engine's one retry is the only one. lost-worker-timeout: a
        # restarted worker process takes more than the default 15 s to import PyTorch on a busy
        # machine, and the cluster would close the worker's nanny for good before it is back.
        # MALLOC_TRIM_THRESHOLD_ unset: Dask sets it for its workers by default, which pins glibc's
        # mmap threshold at 128 KiB, so every large tensor is mapped and unmapped again; a
        # training job then took 2.5 times the wall time of the same job without it (measured).
        self._config = dask.config.set({"distributed.scheduler.allowed-failures": 0,
                                        "distributed.deploy.lost-worker-timeout": "10 minutes",
                                        "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None})
        # One PyTorch thread per worker process (also set inside each job); no dashboard,
        # so nothing listens on a fixed port and two runs can share a machine.
        self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                     dashboard_address=None, silence_logs=logging.CRITICAL,
                                     env={"OMP_NUM_THREADS": "1"})
        self.client = Client(self._cluster)

    def __exit__(self, *exc) -> None:
        self._depth -= 1
        if self._depth > 0:
            return
        if self.client is not None:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()
        if self._config is not None:
            self._config.__exit__(None, None, None)
        self.client = self._cluster = self._config = None

    def share(self, obj):
        """``obj`` for many jobs' arguments: sent to the cluster once rather than with every job."""
        return obj if self.client is None else self.client.scatter(obj, broadcast=False, hash=False)

    def run(self, tasks: Sequence[Task], desc: str = "jobs",
            on_outcome: Callable[[Outcome], None] | None = None) -> list[Outcome]:
        """Run every task; ``on_outcome`` is called as each one ends (in the order they end).

        Returns the outcomes in the order of ``tasks``.
        """
        keys = [t.key for t in tasks]
        if len(set(keys)) != len(keys):
            raise GuneampError("two jobs have the same name; every job needs its own")
        bar = tqdm(total=len(tasks), desc=desc, unit="job", disable=not self.progress)
        done: dict[str, Outcome] = {}

        def finish(outcome: Outcome) -> None:
            done[outcome.key] = outcome
            bar.update(1)
            if on_outcome is not None:
                on_outcome(outcome)

        try:
            if self.client is None:
                for task in tasks:
                    ok, value = _attempt(task.fn, task.args, task.kwargs)
                    finish(Outcome(task.key, value if ok else None, None if ok else value))
            else:
                self._run_distributed(tasks, finish, bar)
        finally:
            bar.close()
        return [done[k] for k in keys]

    def _submit(self, task: Task):
        # A fresh key per submission: a retry must not be taken for the job that died.
        return self.client.submit(_attempt, task.fn, task.args, task.kwargs,
                                  key=f"{task.key}-{uuid.uuid4().hex[:8]}", pure=False)

    def _slots(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def _run_distributed(self, tasks: Sequence[Task], finish: Callable[[Outcome], None], bar) -> None:
        from distributed import KilledWorker, as_completed

        waiting = [(t, 1) for t in tasks]
        waiting.reverse()
        pending: dict = {}
        # Results are fetched as each job ends (with_results): a result left on a worker that
        # dies later would make the scheduler run the finished job again to get it back.
        stream = as_completed(with_results=True, raise_errors=False)

        def top_up() -> None:
            # No more jobs out than the cluster has threads, so no job waits on a worker behind
            # another one: were that one to kill its worker, the waiting job would die with it.
            while waiting and len(pending) < self._slots():
                task, attempt = waiting.pop()
                future = self._submit(task)
                pending[future] = (task, attempt)
                stream.add(future)

        top_up()
        for future, result in stream:
            task, attempt = pending.pop(future)
            if future.status == "error":  # raise_errors=False hands over (type, exception, traceback)
                result = result[1]
            future.release()
            if isinstance(result, KilledWorker) and attempt < ATTEMPTS_ON_WORKER_DEATH:
                bar.write(f"{task.key}: its worker died; running it once more")
                waiting.append((task, attempt + 1))
            elif isinstance(result, KilledWorker):
                finish(Outcome(task.key, None, f"its worker died {attempt} times while running it "
                                               "(out of memory, or killed)", attempt))
            elif isinstance(result, BaseException):  # the cluster failed the job (scheduler lost, bad result)
                finish(Outcome(task.key, None, one_line_error(result), attempt))
            else:
                ok, value = result
                finish(Outcome(task.key, value if ok else None, None if ok else value, attempt))
            top_up()
