"""A JACK server without a sound card, and two small clients that stand in for a guitar and an ear (notebook 12).

``tests/test_play.py`` and ``make bench`` start a :class:`DummyServer` (``jackd -d dummy``:
JACK's clock and graph, no hardware) and drive ``guneamp play`` on it: a :class:`FilePlayer` plays a DI into ``play``'s input and a :class:`PortRecorder`
records ``play``'s output. Both begin in the first cycle at or after the
server frame given to :meth:`start_at` and then count blocks, not frames, so a cycle the
server drops (an xrun) shifts all three clients alike. In one cycle JACK runs a graph in
order (player, ``play``, recorder), so the recording lines up with the DI except for what
``play`` itself adds, the latency it reports.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid

import jack
import numpy as np

from ..errors import GuneampError

# How long the server waits for a client's block before it drops the client: generous,
# since test and benchmark machines are shared.
CLIENT_TIMEOUT_MS = 5000
SERVER_START_S = 20.0
# jackd's own default priority for its real-time threads with -R.
REALTIME_PRIORITY = 70


def _has_fifo_thread(pid: int) -> bool:
    """Whether any thread of ``pid`` (the jackd under ``taskset`` is the same process) runs
    SCHED_FIFO: jackd with ``-R`` carries on without it where the system refuses."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for tid in tids:
        try:
            if os.sched_getscheduler(int(tid)) == os.SCHED_FIFO:
                return True
        except OSError:
            continue
    return False


def quiet_libjack() -> None:
    """libjack prints its own diagnostics on stdout; the callers say what went wrong."""
    jack.set_error_function(lambda msg: None)
    jack.set_info_function(lambda msg: None)


class DummyServer:
    """``jackd --no-realtime -d dummy`` at ``rate`` and ``block``, under a unique name, until :meth:`stop`.

    ``sync``: each cycle waits for every client (``--sync``), so on a loaded machine a late
    cycle is late for the whole graph (an xrun), never a client reading another's stale
    block; the tests use it, the benchmark runs the server as a guitarist would (without).
    ``cpus``: pin the server to these CPUs (``taskset``).
    ``realtime``: run the server (and, through libjack, every client's process thread) with
    real-time scheduling (``-R``), as a live rig does. Without it the dummy driver's timer
    wakes late on a busy machine and the server counts xruns that no client caused
    (measured: 1,017 in 15 s at block 64 with an idle client, 1 with ``-R``). Where the system
    refuses real-time scheduling, jackd runs without it; :attr:`realtime` says what it got.

    Notebook: 12
    """

    def __init__(self, rate: int, block: int, *, sync: bool = False, cpus: str | None = None,
                 realtime: bool = False):
        jackd = shutil.which("jackd")
        if jackd is None:
            raise GuneampError("jackd is not installed (Debian: apt install jackd2)")
        self.name = f"guneamp-{uuid.uuid4().hex[:8]}"
        cmd = [jackd] + (["-R", "-P", str(REALTIME_PRIORITY)] if realtime else ["--no-realtime"])
        cmd += ["--timeout", str(CLIENT_TIMEOUT_MS), "-n", self.name]
        cmd += (["--sync"] if sync else []) + ["-d", "dummy", "-r", str(rate), "-p", str(block)]
        if cpus is not None:
            cmd = ["taskset", "-c", cpus] + cmd
        env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1", "JACK_NO_START_SERVER": "1"}
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        quiet_libjack()
        deadline = time.monotonic() + SERVER_START_S
        while True:
            try:
                jack.Client("probe", servername=self.name, no_start_server=True).close()
                self.realtime = realtime and _has_fifo_thread(self.proc.pid)
                return
            except jack.JackOpenError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise GuneampError(f"jackd did not start (exit status {self.proc.returncode})") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop it as `kill` does (SIGTERM). A SIGKILLed jackd leaves its entry in JACK's shared
        registry, and after eight of those no server starts on the machine."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def __enter__(self) -> "DummyServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class _Client:
    def __init__(self, name: str, server: str | None):
        quiet_libjack()
        self.client = jack.Client(name, servername=server, no_start_server=True)
        self.start = None  # the server frame at or after which sample 0 goes
        self.done = -1  # samples played or recorded; -1 before the start
        self.first_frame = None  # the server frame of the cycle that began
        self.client.set_process_callback(self._process)

    def start_at(self, frame: int) -> None:
        self.start = int(frame)

    def close(self) -> None:
        try:
            self.client.deactivate()
            self.client.close()
        except jack.JackError:
            pass

    def _span(self, frames: int):
        """The index of this block's first sample, or None before the start."""
        if self.done < 0:
            if self.start is None or self.client.last_frame_time < self.start:
                return None
            self.first_frame = self.client.last_frame_time
            self.done = 0
        i = self.done
        self.done += frames
        return i


class FilePlayer(_Client):
    """Plays ``signal`` (float32, the server's rate) from port ``out`` from the start on, then silence.

    Notebook: 12
    """

    def __init__(self, name: str, server: str | None, signal):
        super().__init__(name, server)
        self.signal = np.ascontiguousarray(signal, np.float32)
        self.port = self.client.outports.register("out")

    def _process(self, frames: int) -> None:
        out = self.port.get_array()
        out.fill(0.0)
        i = self._span(frames)
        if i is None or i + frames <= 0 or i >= self.signal.size:
            return
        lo, hi = max(i, 0), min(i + frames, self.signal.size)
        out[lo - i : hi - i] = self.signal[lo:hi]


class PortRecorder(_Client):
    """Records port ``in`` into :attr:`audio` (``samples`` long) from the start on.

    Notebook: 12
    """

    def __init__(self, name: str, server: str | None, samples: int):
        super().__init__(name, server)
        self.audio = np.zeros(int(samples), np.float32)
        self.port = self.client.inports.register("in")

    def _process(self, frames: int) -> None:
        i = self._span(frames)
        if i is None or i + frames <= 0 or i >= self.audio.size:
            return
        x = self.port.get_array()
        lo, hi = max(i, 0), min(i + frames, self.audio.size)
        self.audio[lo:hi] = x[lo - i : hi - i]
