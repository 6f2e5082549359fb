"""``guneamp play`` on a real JACK server (issue 19).

Each test starts its own ``jackd --no-realtime -d dummy`` (a server with no sound card,
under a unique name so parallel runs never meet) at a chosen rate and block size, and
kills it afterwards. A file player feeds a DI into ``guneamp play`` (a subprocess, as a
guitarist runs it) and a recorder takes its output; the recording must equal
``guneamp render`` of the same DI after the latency ``play`` reports. Without jackd or
the JACK-Client package these tests skip with the reason; CI installs both (``.ci/run``).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from guneamp_lib.dsp.error import esr
from guneamp_lib.models import build_model
from guneamp_lib.models.checkpoint import Checkpoint, save_checkpoint
from guneamp_lib.render.files import render_file
from guneamp_lib.render.streaming import StreamingProcessor

from .conftest import toy_di, write

try:
    import jack  # noqa: F401  (the live modules below need it)
except (ImportError, OSError) as exc:  # the package missing, or libjack (Debian: jackd2) missing under it
    pytest.skip(f"JACK is not available: {exc}", allow_module_level=True)
from guneamp_lib.render.live_chain import BLOCKS, DRIVE, GATE, KNOB_VERSION, LiveChain  # noqa: E402
from guneamp_lib.render.live_clients import DummyServer, FilePlayer, PortRecorder  # noqa: E402
from guneamp_lib.render.live_keys import KeyParser, KeyReader, LiveControls  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
JACKD = shutil.which("jackd")
needs_jackd = pytest.mark.skipif(JACKD is None, reason="jackd is not installed (Debian: apt install jackd2)")
RATE = 48000
SECONDS = 0.6  # of DI per take: enough notes, short enough for a loaded machine
IR_TAPS = 300


@pytest.fixture
def server(request):
    rate, block = getattr(request, "param", (RATE, 64))
    with DummyServer(rate, block, sync=True) as s:
        yield s


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """A small WaveNet at 2x with a cabinet: 70 samples of latency, the convolver on the path."""
    torch.manual_seed(0)
    m = build_model("wavenet", preset="nano").eval()
    ir = torch.zeros(IR_TAPS)
    t = torch.arange(IR_TAPS - 1)
    ir[0], ir[1:] = 1.0, 0.3 * torch.exp(-t / 30.0) * torch.cos(t * 0.2)
    ckpt = Checkpoint(m, "wavenet", RATE, 2, 4096, ir, input_gain=1.3, output_gain=0.7)
    return save_checkpoint(tmp_path_factory.mktemp("play") / "m.pt", ckpt)


def guneamp(*argv, stdin=subprocess.DEVNULL) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "guneamp_lib.cli", *map(str, argv)], stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_for(proc: subprocess.Popen, text: str, timeout: float = 180) -> list[str]:
    """Lines of ``proc``'s output up to the one containing ``text``."""
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return lines
    proc.kill()
    pytest.fail(f"play never printed {text!r}: {''.join(lines)}{proc.stderr.read()}")


def model_latency(lines: list[str]) -> int:
    line = next(l for l in lines if l.startswith("latency:"))
    return int(line.split("the model adds ")[1].split()[0])


def notebook_command(model_path, record) -> list[str]:
    """The command notebook 12 shows a guitarist ("play it live"), with our model and folder."""
    nb = json.loads((ROOT / "notebooks" / "12_your_own_gear.ipynb").read_text())
    text = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    line = next(l for l in text.splitlines() if l.startswith("guneamp play "))
    argv = shlex.split(line)[1:]
    argv[argv.index("--model") + 1] = str(model_path)
    argv[argv.index("--record") + 1] = str(record)
    return argv


def take(server, model_path, tmp_path, extra=(), di_seconds=SECONDS, keys_after=None):
    """Play a DI through ``play``; returns (the recording aligned to the DI, play's stdout
    lines, its stderr, its exit code, the DI)."""
    x = toy_di(di_seconds, RATE) * 0.5
    player = FilePlayer("player", server.name, x)
    rec = PortRecorder("rec", server.name, x.size + RATE // 4)
    try:
        for c in (player, rec):
            c.client.activate()
        # the notebook's command, on our server and ports
        proc = guneamp(*notebook_command(model_path, tmp_path / "takes"), "--server", server.name, "--no-connect",
                       "--connect", "player:out", "--connect", "rec:in", *extra, stdin=subprocess.PIPE)
        lines = wait_for(proc, "keys:")
        start = rec.client.frame_time + RATE // 2
        player.start_at(start)
        rec.start_at(start)
        if keys_after is not None:
            at, keys = keys_after
            while player.done < at:
                time.sleep(0.005)
            proc.stdin.write(keys)
            proc.stdin.flush()
        while rec.done < rec.audio.size:
            time.sleep(0.02)
        out, err = proc.communicate("q", timeout=60)
        assert player.first_frame == rec.first_frame  # both began in one cycle
    finally:
        player.close()
        rec.close()
    return rec.audio, lines + out.splitlines(keepends=True), err, proc.returncode, x


@needs_jackd
@pytest.mark.slow
@pytest.mark.parametrize("server", [(RATE, 64), (RATE, 128)], indirect=True, ids=["block64", "block128"])
def test_play_equals_render(server, model_path, tmp_path):
    audio, lines, err, code, x = take(server, model_path, tmp_path)
    assert code == 0, err
    lat = model_latency(lines)
    assert lat == StreamingProcessor.from_checkpoint(model_path).latency == 70
    di = write(tmp_path / "di.wav", x, RATE)
    ref = sf.read(str(render_file(model_path, di, tmp_path / "ref.wav", progress=False)), dtype="float32")[0]
    assert np.abs(ref).max() > 0.01
    # play's recordings: the DI exactly as the player sent it, and the output the recorder got
    dry_path = next((tmp_path / "takes").glob("*-dry.wav"))
    dry, sr = sf.read(str(dry_path), dtype="float32")
    wet = sf.read(str(dry_path).replace("-dry.wav", "-wet.wav"), dtype="float32")[0]
    assert sr == RATE and dry.size == wet.size
    start = int(np.flatnonzero(dry)[0]) - int(np.flatnonzero(x)[0])
    np.testing.assert_array_equal(dry[start : start + x.size], x)
    np.testing.assert_array_equal(wet[start : start + x.size + lat], audio[: x.size + lat])
    # render's cabinet starts from silence at the file's first sample; play's has been
    # hearing the model's idle output (tanh of its biases) before: they agree one IR later
    ir = IR_TAPS
    assert esr(ref[ir:], audio[lat + ir : lat + x.size]) < 1e-6
    assert esr(ref[:ir], audio[lat : lat + ir]) < 0.1  # and differ only a little before


def replay(proc, dry, block, drives, level, at=None, then=None):
    """What play's chain computes from its dry recording, block by block: ``drives[b]`` for
    block b, and ``then(proc)`` called before block ``at``."""
    out = np.zeros_like(dry)
    for b, s in enumerate(range(0, dry.size - block + 1, block)):
        if b == at:
            then(proc)
        out[s : s + block] = proc.process_block(dry[s : s + block] * drives[b]) * level
    return out


def recordings(tmp_path):
    dry_path = next((tmp_path / "takes").glob("*-dry.wav"))
    dry = sf.read(str(dry_path), dtype="float32")[0]
    return dry, sf.read(str(dry_path).replace("-dry.wav", "-wet.wav"), dtype="float32")[0]


def first_change(wet, same, block) -> int:
    """The first block where the take leaves what it would have been without the key."""
    n = min(wet.size, same.size) // block * block
    changed = np.flatnonzero(wet[:n] != same[:n])
    assert changed.size, "the key changed nothing"
    return int(changed[0]) // block


@needs_jackd
@pytest.mark.slow
def test_a_drive_key_mid_take_takes_effect_at_one_block(server, model_path, tmp_path):
    """The up arrow, sent through a pipe half-way through the DI, raises the drive by 1 dB
    from one block boundary on: before it the take is the model at its trained drive,
    after it the model 1 dB hotter, with nothing lost or doubled at the switch."""
    block, key_at = 64, int(0.3 * RATE)
    audio, lines, err, code, x = take(server, model_path, tmp_path, keys_after=(key_at, "\x1b[A"))
    assert code == 0, err
    assert any(l.startswith("drive +1 dB") for l in lines), lines
    dry, wet = recordings(tmp_path)
    drive, hot, level = np.float32(1.3), np.float32(1.3 * 10 ** (1 / 20)), np.float32(1 / 0.7)
    blocks = dry.size // block
    k = first_change(wet, replay(StreamingProcessor.from_checkpoint(model_path), dry, block, [drive] * blocks, level),
                     block)
    lead = int(np.flatnonzero(dry)[0]) - int(np.flatnonzero(x)[0])  # where x[0] lands in the take
    assert lead + key_at - block <= k * block < lead + x.size  # after the key was sent, inside the DI
    expected = replay(StreamingProcessor.from_checkpoint(model_path), dry, block, [drive] * k + [hot] * (blocks - k),
                      level)
    n = blocks * block
    np.testing.assert_allclose(wet[:n], expected[:n], rtol=0, atol=1e-6)
    assert esr(expected[k * block : n], wet[k * block : n]) < 1e-6


@pytest.fixture(scope="module")
def knob_model_path(tmp_path_factory):
    """A knob WaveNet (drive 0..10, tone 0..10) at 1x, no cabinet."""
    from guneamp_lib.knobs import Knob, KnobSpace

    torch.manual_seed(1)
    m = build_model("wavenet", preset="nano", num_knobs=2).eval()
    space = KnobSpace([Knob("drive", 0.0, 10.0), Knob("tone", 0.0, 10.0)])
    ckpt = Checkpoint(m, "wavenet", RATE, 1, 4096, knobs=space)
    return save_checkpoint(tmp_path_factory.mktemp("knobs") / "k.pt", ckpt)


@needs_jackd
@pytest.mark.slow
def test_a_knob_key_mid_take(server, knob_model_path, tmp_path):
    """``--knob drive=2``, then ``+`` through the pipe mid-take: drive 2.5 from one block on,
    gliding as the model's knob input glides; the take equals the processor told the same, and
    before the key it equals `guneamp render --knob drive=2` of the DI."""
    block, key_at = 64, int(0.3 * RATE)
    audio, lines, err, code, x = take(server, knob_model_path, tmp_path, extra=("--knob", "drive=2"),
                                      keys_after=(key_at, "+"))
    assert code == 0, err
    assert any("knobs *drive=2.5, tone=5" in l for l in lines), lines
    dry, wet = recordings(tmp_path)
    blocks = dry.size // block

    def processor(drive):
        proc = StreamingProcessor.from_checkpoint(knob_model_path)
        proc.set_knobs({"drive": drive, "tone": 5.0})
        proc.reset()
        return proc

    one = [np.float32(1.0)] * blocks
    k = first_change(wet, replay(processor(2.0), dry, block, one, np.float32(1.0)), block)
    # the key goes out once the player has sent key_at samples of x, counted from x[0]
    lead = int(np.flatnonzero(dry)[0]) - int(np.flatnonzero(x)[0])
    assert lead + key_at - block <= k * block < lead + x.size
    expected = replay(processor(2.0), dry, block, one, np.float32(1.0), at=k,
                      then=lambda p: p.set_knobs({"drive": 2.5, "tone": 5.0}))
    n = blocks * block
    assert esr(expected[:n], wet[:n]) < 1e-6
    assert esr(replay(processor(2.5), dry, block, one, np.float32(1.0))[:n], wet[:n]) > 1e-4  # the glide is heard
    # before the key, the take is `guneamp render --knob drive=2` of the DI (tone at its middle)
    di = write(tmp_path / "di.wav", x, RATE)
    ref = sf.read(str(render_file(knob_model_path, di, tmp_path / "ref.wav", progress=False,
                                  knobs={"drive": 2.0, "tone": 5.0})), dtype="float32")[0]
    m = k * block - lead
    assert m > RATE // 10 and esr(ref[:m], wet[lead : lead + m]) < 1e-6


@needs_jackd
@pytest.mark.slow
def test_killing_the_server_leaves_valid_recordings(server, model_path, tmp_path):
    proc = guneamp("play", "--model", model_path, "--server", server.name, "--record", tmp_path / "takes",
                   "--no-keys")
    wait_for(proc, "keys:")
    time.sleep(1.0)
    server.stop()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, (out, err)
    errors = [l for l in err.splitlines() if l.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: the JACK server stopped"), err
    files = sorted((tmp_path / "takes").iterdir())
    assert [f.name[-8:] for f in files] == ["-dry.wav", "-wet.wav"], files  # no temporaries left
    frames = []
    for f in files:
        info = sf.info(str(f))
        assert info.samplerate == RATE and sf.read(str(f))[0].size == info.frames > 0, info
        frames.append(info.frames)
    assert frames[0] == frames[1]  # the two files end at the same block


@needs_jackd
@pytest.mark.skipif(shutil.which("jack_bufsize") is None, reason="jack_bufsize is not installed")
def test_a_new_block_size_stops_play_with_one_error(server, model_path, tmp_path):
    proc = guneamp("play", "--model", model_path, "--server", server.name, "--no-keys", "--record", tmp_path)
    wait_for(proc, "keys:")
    env = {**os.environ, "JACK_DEFAULT_SERVER": server.name}
    subprocess.run(["jack_bufsize", "128"], env=env, capture_output=True, timeout=60)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and err.count("error:") == 1 and "changed its block size" in err, err
    takes = sorted(tmp_path.glob("take-*.wav"))
    assert len(takes) == 2 and all(sf.info(str(f)).frames > 0 for f in takes)


@needs_jackd
def test_clear_errors(server, model_path, tmp_path):
    cases = [
        (["--server", server.name, "--connect", "nosuch:port"], "there is no JACK port 'nosuch:port'"),
        (["--server", f"{server.name}-absent"], "no JACK server named"),
        (["--server", server.name, "--knob", "drive=3"], "--knob drive: this model has no knobs"),
    ]
    m44 = tmp_path / "m44.pt"
    torch.manual_seed(0)
    save_checkpoint(m44, Checkpoint(build_model("wavenet", preset="nano"), "wavenet", 44100, 1, 4096))
    for extra, text in cases:
        proc = guneamp("play", "--model", model_path, "--no-keys", "--seconds", "1", *extra)
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 2 and err.count("error:") == 1 and text in err, err
    proc = guneamp("play", "--model", m44, "--server", server.name, "--no-keys")
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 2 and err.count("error:") == 1, err
    assert "runs at 48000 Hz but the model was trained at 44100 Hz; play does not resample" in err
    assert "Restart the server at 44100 Hz, e.g. `jackd -R -d alsa -r 44100 -p 64`" in err  # the server's block kept


def test_key_parser_reads_arrows_and_letters():
    p = KeyParser()
    assert p.feed("\x1b[A\x1b[Bg\t+-q") == ["drive_up", "drive_down", "gate", "next_knob", "knob_up", "knob_down",
                                             "quit"]
    assert p.feed("\x1b[") == [] and p.feed("C") == ["level_up"]  # an arrow split across two reads
    assert p.feed("\x1bOD") == ["level_down"]


# What a block may still make: the small Python objects of each call into a compiled
# kernel (numba's argument bookkeeping) and of a view; measured 1.1 to 1.5 KB at blocks 64
# and 1024. A float32 block at 1024 is 4 KB, one FFT spectrum of the cabinet 4 KB.
BLOCK_BYTES = 2048
# Every C function a block may call; the rest are the library's own render modules.
CALLBACK_C_CALLS = {"perf_counter", "min"}


def _callback_chain(block, oversample=1):
    """A knob model with a cabinet longer than a partition, gate and gains on, recording."""
    torch.manual_seed(1)
    # the knob recipe's FiLM WaveNet on one path, the bias-only one on the others
    m = build_model("wavenet", preset="nano", num_knobs=2, film=oversample == 2).eval()
    ir = np.random.default_rng(0).standard_normal(1500).astype(np.float32) * np.float32(0.1)
    ir[0] = 1.0
    proc = StreamingProcessor(m, oversample, ir)
    chain = LiveChain(proc, block, RATE, drive=1.2, level=0.8, gate=1e-3, record_slots=8,
                      set_knob_vector=proc.set_knob_vector, knob_vector=np.full(2, 0.5, np.float32))
    x = toy_di(420 * block / RATE, RATE)
    return chain, [x[s : s + block] for s in range(0, 400 * block, block)], np.zeros(block, np.float32)


def _turn(chain, value):
    """What the key thread does: the vector first, the version last."""
    chain.knob_vector[:] = value
    chain.controls[KNOB_VERSION] += 1.0


@pytest.mark.parametrize("block, oversample", [(64, 1), (1024, 1), (64, 2)])
def test_callback_allocates_nothing_per_block(block, oversample):
    """Three hundred blocks through the callback's chain (cabinet, knob model, gate, gains,
    recording, a knob turned mid-way) after a warm-up: no block makes a NumPy buffer (the
    peak of what a block allocates stays under one block's samples and one FFT's spectrum,
    at any block size) and none is still held after them."""
    chain, xs, y = _callback_chain(block, oversample)
    for i, x in enumerate(xs[:40]):  # warm: kernels compiled, a glide and the gate's ramps done
        if i == 10:
            _turn(chain, 0.9)
        chain.run(x, y)
    tracemalloc.start()
    try:
        held = tracemalloc.take_snapshot().filter_traces([tracemalloc.DomainFilter(True, np.lib.tracemalloc_domain)])
        peaks = []
        for i, x in enumerate(xs[40:340]):
            if i == 150:
                _turn(chain, 0.1)
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            chain.run(x, y)
            peaks.append(tracemalloc.get_traced_memory()[1] - before)
        after = tracemalloc.take_snapshot().filter_traces([tracemalloc.DomainFilter(True, np.lib.tracemalloc_domain)])
    finally:
        tracemalloc.stop()
    assert max(peaks) < BLOCK_BYTES, sorted(set(peaks))
    assert all(d.size_diff <= 0 for d in after.compare_to(held, "lineno"))
    assert chain.counts[BLOCKS] == 340 and chain.proc._model.knob_now[0] == np.float32(0.1)  # the glide landed


def test_callback_calls_no_lock_and_nothing_that_blocks():
    """Every function a block calls, as the profiler sees them: the library's render modules
    (kernels dispatched by numba) and two C functions; no threading, queue, logging or I/O."""
    chain, xs, y = _callback_chain(64)
    for i, x in enumerate(xs[:40]):  # as play's warm_up: a glide compiled before the client starts
        if i == 10:
            _turn(chain, 0.9)
        chain.run(x, y)
    called = set()

    def hook(frame, event, arg):
        if event == "call":
            called.add(("py", frame.f_code.co_filename))
        elif event == "c_call":
            called.add(("c", getattr(arg, "__qualname__", repr(arg))))

    sys.setprofile(hook)
    try:
        for i, x in enumerate(xs[40:140]):
            if i == 30:
                _turn(chain, 0.2)
            chain.run(x, y)
    finally:
        sys.setprofile(None)
    c_calls = {name for kind, name in called if kind == "c"} - {"setprofile"}
    files = {Path(name) for kind, name in called if kind == "py"} - {Path(__file__)}  # _turn: the key thread's part
    assert c_calls <= CALLBACK_C_CALLS, c_calls
    render = ROOT / "guneamp_lib" / "render"
    assert files and all(f.parent == render for f in files), sorted(str(f) for f in files if f.parent != render)
    assert render / "fft_kernels.py" in files and render / "live_kernels.py" in files


def test_chain_applies_drive_level_and_gate():
    """The chain is render's arithmetic: model(DI * drive) * level; a closed gate gives silence."""
    m = build_model("wavenet", preset="nano").eval()
    x = toy_di(0.5, RATE)
    assert np.isfinite(x).all() and np.abs(x).max() > 0.5
    ref = StreamingProcessor(m, 1).process_block(x * np.float32(1.5)) * np.float32(0.5)
    chain = LiveChain(StreamingProcessor(m, 1), 64, RATE, drive=1.5, level=0.5)
    silence = LiveChain(StreamingProcessor(m, 1), 64, RATE, drive=1.5, level=0.5)
    silence.controls[GATE] = 2.0  # above any sample: the gate never opens
    y, quiet = np.zeros_like(x), np.zeros_like(x)
    n = x.size // 64 * 64
    for s in range(0, n, 64):
        chain.run(x[s : s + 64], y[s : s + 64])
        silence.run(x[s : s + 64], quiet[s : s + 64])
    np.testing.assert_array_equal(y[:n], ref[:n])
    silent = StreamingProcessor(m, 1).process_block(np.zeros(n, np.float32)) * np.float32(0.5)
    np.testing.assert_array_equal(quiet[:n], silent)
    assert chain.controls[DRIVE] == np.float32(1.5)


def test_keys_from_a_terminal_and_the_terminal_given_back():
    """On a terminal the keys arrive without Enter, and the terminal's mode is restored after."""
    import pty
    import termios

    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    chain = LiveChain(StreamingProcessor(build_model("wavenet", preset="nano").eval(), 1), 64, RATE, drive=1.0,
                      level=1.0)
    controls = LiveControls(chain, 2.0, 0.5)
    said = []
    with os.fdopen(slave, "rb", buffering=0) as stream:
        reader = KeyReader(controls, said.append, stream)
        reader.start()
        deadline = time.monotonic() + 10
        while termios.tcgetattr(slave)[3] & termios.ICANON and time.monotonic() < deadline:
            time.sleep(0.01)
        assert termios.tcgetattr(slave)[3] & termios.ICANON == 0  # keys, not lines, while playing
        os.write(master, b"\x1b[A\x1b[A\x1b[Dg")  # no newline
        while len(said) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        reader.close()
        assert termios.tcgetattr(slave) == before
    os.close(master)
    assert said[-1] == "drive +2 dB, output -1 dB, gate -60 dBFS"
    assert chain.controls[DRIVE] == np.float32(2.0 * 10 ** (2 / 20))
    assert chain.controls[GATE] == np.float32(10 ** (-60 / 20))


def _fifo_allowed() -> bool:
    """Whether this process may take SCHED_FIFO (root in most containers, or an rtprio limit)."""
    try:
        pid = os.fork()
    except OSError:
        return False
    if pid == 0:  # the child tries, so the test process keeps its own scheduling
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
            os._exit(0)
        except OSError:
            os._exit(1)
    return os.waitpid(pid, 0)[1] == 0


@needs_jackd
def test_a_realtime_server_says_whether_it_got_real_time_scheduling():
    with DummyServer(RATE, 64) as plain:
        assert plain.realtime is False
    with DummyServer(RATE, 64, realtime=True) as rt:
        assert rt.realtime is _fifo_allowed()
