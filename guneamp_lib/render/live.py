"""``guneamp play``: a trained model as a JACK client, your guitar through it in real time (notebook 12).

:func:`play` opens a client on a running JACK server (``jackd``, or PipeWire's JACK layer on
a desktop), with one input port (the DI) and one output port, and runs the streaming
engine that ``render`` uses at the server's block size. Levels are ``render``'s: the DI
times the model's training drive (``Checkpoint.input_gain``), the output divided by
``output_gain``, the cabinet IR stored with the model unless another or none is asked
for. So a DI played at the level it was recorded at for training drives the model as hard
as ``render`` drives it, and ``tests/test_play.py`` holds ``play``'s output of a DI fed
through a real server equal to ``guneamp render`` of the same file.

Rates: the model runs at the rate it was trained at; a server at another rate is
refused, with the rate to restart it at. (Resampling live would add the resampler's
latency and change the drive's spectrum; a guitarist is better served by a server at the
model's rate.)

Threads: JACK's real-time thread runs :class:`~guneamp_lib.render.live_chain.LiveChain`
and nothing else; the keyboard thread (:mod:`~guneamp_lib.render.live_keys`) and the
recorder (:mod:`~guneamp_lib.render.live_record`) never run in it; this thread prints the
latency, the load and each xrun, and stops everything in a ``finally`` (Ctrl-C, ``q``,
``--seconds``, or the server going away).

The audio callback never allocates, never takes a lock and never calls anything that can
block (:mod:`~guneamp_lib.render.live_chain` says how, and ``tests/test_play.py`` checks it):

* every array a block touches is made before the client is activated, the recording
  rings included (a preallocated ring of whole blocks per file);
* a block is compiled kernels called directly on those arrays: drive and gate, the
  network (and its resamplers), the cabinet (partitioned convolution with its own fixed-size FFT, no NumPy FFT)
  and level, recording and counters; :func:`warm_up` and the chain's constructor compile
  every one (or read numba's cache) first;
* a key reaches the callback through a preallocated float32 array, ``LiveChain.controls``,
  that the key thread writes and the callback reads once per block; a knob's new vector
  goes into ``LiveChain.knob_vector`` first and a version number in ``controls`` last, so
  the callback never sees half a setting;
* the recorder thread drains the rings into the WAV files at its own pace; the callback only
  copies a block into a row and publishes the count.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import jack
import numpy as np

from ..dsp.cabinet import load_ir
from ..errors import GuneampError
from ..models.nam import load_model_file
from .live_chain import BAD_BLOCK, BLOCKS, FAILED, KNOB_ERRORS, LiveChain
from .live_clients import quiet_libjack
from .live_keys import KEYS_HELP, KeyReader, LiveControls
from .live_record import TakeRecorder, ring_slots, take_paths, wait_started
from .streaming import StreamingProcessor

# How often the terminal thread looks at the counters, and how often it prints the load.
POLL_S = 0.05
STATUS_S = 5.0
XRUN_LINE_S = 1.0
# Playback ports auto-connected: both sides of a stereo pair get the mono output.
PLAYBACK_PORTS = 2


@dataclass
class PlayReport:
    """What a take measured: returned by :func:`play` (and written by ``--stats``)."""

    rate: int
    block: int
    model_latency: int
    seconds: float = 0.0
    xruns: int = 0
    blocks: int = 0
    loads: list = field(default_factory=list)
    callback_ms: dict = field(default_factory=dict)
    recordings: tuple = ()
    lost_blocks: int = 0

    def as_dict(self) -> dict:
        return {"rate": self.rate, "block": self.block, "model_latency": self.model_latency, "seconds": self.seconds,
                "xruns": self.xruns, "blocks": self.blocks, "callback_ms": self.callback_ms,
                "deadline_ms": 1000.0 * self.block / self.rate,
                "dsp_load_mean": float(np.mean(self.loads)) if self.loads else None,
                "dsp_load_max": float(np.max(self.loads)) if self.loads else None,
                "recordings": [str(p) for p in self.recordings], "lost_blocks": self.lost_blocks}


def open_client(name: str, server: str | None) -> jack.Client:
    """A client on a running server; none running is a :class:`GuneampError`, not a new server.

    Notebook: 12
    """
    quiet_libjack()
    try:
        return jack.Client(name, servername=server, no_start_server=True)
    except jack.JackOpenError:
        which = f"named {server!r} " if server else ""
        raise GuneampError(
            f"no JACK server {which}is running. Start one first, e.g. `jackd -R -d alsa -r 48000 -p 64` or "
            "QjackCtl (on a desktop with PipeWire, run play as `pw-jack guneamp play ...`)") from None


def find_ports(client: jack.Client, names, auto: bool) -> tuple[list, list]:
    """The ports to connect our input from and our output to: ``names`` (each a capture or a
    playback port, by its direction), or the first physical capture and playback ports.

    Notebook: 12
    """
    sources, sinks = [], []
    for name in names:
        try:
            port = client.get_port_by_name(name)
        except jack.JackError:
            audio = [p.name for p in client.get_ports(is_audio=True) if not client.owns(p)]
            raise GuneampError(f"there is no JACK port {name!r}; the audio ports are: {', '.join(audio) or 'none'}") from None
        (sources if port.is_output else sinks).append(port)
    if auto and not names:
        sources = client.get_ports(is_physical=True, is_output=True, is_audio=True)[:1]
        sinks = client.get_ports(is_physical=True, is_input=True, is_audio=True)[:PLAYBACK_PORTS]
    return sources, sinks


def _stats(times: np.ndarray) -> dict:
    if not times.size:
        return {}
    ms = times * 1000.0
    return {"median": float(np.median(ms)), "p99_9": float(np.percentile(ms, 99.9)), "max": float(ms.max()),
            "count": int(ms.size)}


def play(model, *, server: str | None = None, connect=(), auto_connect: bool = True, ir_path=None,
         use_ir: bool = True, in_db: float = 0.0, out_db: float = 0.0, gate_db: float | None = None,
         knobs: dict | None = None, extrapolate: bool = False, record=None, takes=None,
         seconds: float | None = None, keys: bool = True, name: str = "guneamp", say=print) -> PlayReport:
    """Play ``model`` (a checkpoint or ``.nam`` path) live on a JACK server until stopped.

    ``record``: a folder for the take's two files (named by :func:`take_paths`), or ``takes``:
    the two paths (dry, wet) themselves.

    Stops on Ctrl-C, the ``q`` key, after ``seconds``, or when the server goes away (a
    :class:`GuneampError` after the recordings are finished). ``say`` prints a line.

    Notebook: 12
    """
    ckpt = load_model_file(model)
    ir = None
    if use_ir:
        ir = load_ir(ir_path, ckpt.sample_rate) if ir_path else ckpt.ir
    proc = StreamingProcessor.from_checkpoint(ckpt, ir=ir)  # a knob model's processor gets its knob space
    space, set_vector = knob_interface(proc)
    settings = _knob_settings(space, knobs, extrapolate)
    dry_wet = tuple(takes) if takes else (take_paths(record) if record is not None else None)

    client = open_client(name, server)
    alive = True
    try:
        rate, block = client.samplerate, client.blocksize
        if rate != ckpt.sample_rate:
            sr = ckpt.sample_rate
            raise GuneampError(
                f"the JACK server runs at {rate} Hz but the model was trained at {sr} Hz; play does not resample. "
                f"Restart the server at {sr} Hz, e.g. `jackd -R -d alsa -r {sr} -p {block}` (QjackCtl: Setup, Sample "
                f"Rate {sr}; PipeWire: `pw-metadata -n settings 0 clock.force-rate {sr}`), then run play again.")
        chain = LiveChain(proc, block, rate, drive=ckpt.input_gain, level=1.0 / ckpt.output_gain,
                          record_slots=ring_slots(rate, block) if dry_wet else 0, set_knob_vector=set_vector,
                          knob_vector=np.zeros(len(space) if space else 0, np.float32))
        controls = LiveControls(chain, ckpt.input_gain, 1.0 / ckpt.output_gain, in_db, out_db, gate_db, space, settings,
                                extrapolate)
        if settings:
            controls.set_knobs(settings)
        warm_up(proc, block, chain.knob_vector if settings else None)
        inport, outport = client.inports.register("in"), client.outports.register("out")
        sources, sinks = find_ports(client, connect, auto_connect)
        chain.attach(inport, outport)
        xruns = [0]
        died = threading.Event()
        why = []

        def on_xrun(delay_us):
            xruns[0] += 1

        def on_shutdown(status, reason):
            why.append(reason)
            died.set()

        client.set_process_callback(chain.callback)
        client.set_xrun_callback(on_xrun)
        client.set_shutdown_callback(on_shutdown)
        report = PlayReport(rate, block, proc.latency)
        recorder = TakeRecorder(chain, *dry_wet) if dry_wet else None
        reader = None
        try:
            if recorder:
                recorder.start()
                wait_started(recorder)
            client.activate()
            for p in sources:
                client.connect(p, inport)
            for p in sinks:
                client.connect(outport, p)
            _announce(say, model, rate, block, proc.latency, inport, outport, sources, sinks, dry_wet, controls)
            if keys:
                reader = KeyReader(controls, say)
                reader.start()
            t0 = time.monotonic()
            shown, next_status, next_xrun = 0, t0 + STATUS_S, t0
            try:
                while not controls.stop.is_set():
                    if died.wait(POLL_S):
                        alive = False
                        break
                    now = time.monotonic()
                    report.seconds = now - t0
                    if xruns[0] != shown and now >= next_xrun:  # at most a line a second
                        say(f"xrun at {report.seconds:.1f} s ({xruns[0] - shown} since the last line, {xruns[0]} in all)")
                        shown, next_xrun = xruns[0], now + XRUN_LINE_S
                    if chain.counts[FAILED]:
                        raise GuneampError(f"the audio callback failed: {chain.failure!r}")
                    if chain.counts[BAD_BLOCK]:
                        raise GuneampError("the JACK server changed its block size; start play again to follow it")
                    if recorder and recorder.error is not None:
                        raise GuneampError(f"recording stopped: {recorder.error}")
                    load = client.cpu_load()
                    report.loads.append(load)
                    if now >= next_status:
                        next_status += STATUS_S
                        say(f"DSP load {load:.0f}%, xruns {xruns[0]}, {controls.describe()}")
                    if seconds is not None and report.seconds >= seconds:
                        break
            except KeyboardInterrupt:
                say("stopped (Ctrl-C)")
        finally:
            if reader is not None:
                reader.close()
            if alive and not died.is_set():
                client.deactivate()
            else:
                alive = False
            if recorder:
                recorder.stop()
                report.recordings, report.lost_blocks = dry_wet, recorder.lost_blocks
        report.xruns, report.blocks = xruns[0], int(chain.counts[BLOCKS])
        report.callback_ms = _stats(chain.callback_times())
        if report.lost_blocks:
            say(f"warning: the disk fell behind; {report.lost_blocks} block(s) of the recordings are silence")
        if chain.counts[KNOB_ERRORS]:
            say(f"warning: the model refused {int(chain.counts[KNOB_ERRORS])} knob setting(s)")
        where = f"; recordings: {dry_wet[0]} and {dry_wet[1]}" if dry_wet else ""
        if not alive:
            reason = f" ({why[0]})" if why and why[0] else ""
            raise GuneampError(f"the JACK server stopped{reason} after {report.seconds:.1f} s{where}")
        say(f"played {report.seconds:.1f} s, {report.xruns} xrun(s){where}")
        return report
    finally:
        if alive:
            client.close()


def warm_up(proc, block: int, knob_vector=None) -> None:
    """Run every path the callback will take once, then start again from silence.

    A compiled kernel is compiled (or read from numba's cache) at its first call: the LSTM's
    first block took 2.4 to 2.8 s in ``make bench`` before this, a knob model's first glide
    a few ms. Here that happens before the client is active. With ``knob_vector`` the
    processor glides once, then starts at that setting (:meth:`reset` jumps to it).

    Notebook: 12
    """
    silence = np.zeros(block, np.float32)
    if knob_vector is not None:
        proc.set_knob_vector(np.where(knob_vector > 0.5, 0.0, 1.0).astype(np.float32))
        proc.process_block(silence)
        proc.set_knob_vector(knob_vector)
    proc.process_block(silence)
    proc.reset()


def knob_interface(proc):
    """The knob space of a knob model's processor and its vector setter, or ``(None, None)``.

    Notebook: 12
    """
    space = proc.knob_space
    if space is None or not len(space):
        return None, None
    return space, proc.set_knob_vector


def _knob_settings(space, knobs: dict | None, extrapolate: bool) -> dict:
    knobs = dict(knobs or {})
    if space is None:
        if knobs:
            raise GuneampError(f"--knob {next(iter(knobs))}: this model has no knobs")
        return {}
    settings = {**space.center(), **knobs}
    return space.check(settings, extrapolate=extrapolate)


def _announce(say, model, rate, block, latency, inport, outport, sources, sinks, dry_wet, controls) -> None:
    ms = 1000.0 / rate
    say(f"playing {Path(model).name} at {rate} Hz, block {block} samples ({block * ms:.2f} ms)")
    say(f"latency: the model adds {latency} samples ({latency * ms:.2f} ms); with the server's capture and "
        f"playback blocks, at least {2 * block + latency} samples ({(2 * block + latency) * ms:.2f} ms) from "
        "strings to speaker")
    src = ", ".join(p.name for p in sources) or "nothing (connect it yourself)"
    dst = ", ".join(p.name for p in sinks) or "nothing (connect it yourself)"
    say(f"ports: {inport.name} <- {src}; {outport.name} -> {dst}")
    if dry_wet:
        say(f"recording: {dry_wet[0]} (DI) and {dry_wet[1]} (output)")
    say(controls.describe())
    say(KEYS_HELP + "; Ctrl-C also stops")
