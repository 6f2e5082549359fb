"""``play``'s keyboard: gains, the gate and knobs changed live from the terminal (notebook 12).

A :class:`KeyReader` thread reads the terminal (raw keys, no Enter needed; the terminal
is restored on exit) or, when standard input is a pipe, the same bytes from the pipe, so
a test or a script can turn the knobs. Each key becomes a command for
:class:`LiveControls`, which keeps the settings in the user's units (dB, dial units) and
writes the factors the callback needs into the chain's preallocated arrays
(:mod:`guneamp_lib.render.live_chain` says how the callback reads them).

Keys: up/down input gain (drive) +-1 dB; right/left output level +-1 dB; ``g`` gate on or
off; tab next knob; ``+``/``-`` the selected knob up or down by a twentieth of its range;
``q`` stop.
"""

from __future__ import annotations

import os
import sys
import termios
import threading
import tty

import numpy as np

from .live_chain import DRIVE, GATE, KNOB_VERSION, LEVEL

KEYS_HELP = ("keys: up/down drive +-1 dB, right/left output level +-1 dB, g gate on/off, tab next knob, "
             "+/- knob up/down, q stop")
ARROWS = {"A": "drive_up", "B": "drive_down", "C": "level_up", "D": "level_down"}
PLAIN = {"g": "gate", "\t": "next_knob", "+": "knob_up", "=": "knob_up", "-": "knob_down", "q": "quit"}
GAIN_STEP_DB = 1.0
KNOB_STEPS = 20  # a knob key moves the knob by this fraction of its range
# The gate's threshold when `g` turns it on and --gate-db gave none: below a guitar's
# softest notes, above an interface's hiss.
DEFAULT_GATE_DB = -60.0


def db(value: float) -> float:
    return 10.0 ** (value / 20.0)


class KeyParser:
    """Bytes from the terminal -> command names; an arrow key is ``ESC [ A`` .. ``ESC [ D``.

    Notebook: 12
    """

    def __init__(self):
        self._pending = ""

    def feed(self, text: str) -> list[str]:
        out = []
        for ch in text:
            if self._pending:
                self._pending += ch
                if len(self._pending) == 2 and ch not in "[O":
                    self._pending = ""
                elif len(self._pending) == 3:
                    if ch in ARROWS:
                        out.append(ARROWS[ch])
                    self._pending = ""
            elif ch == "\x1b":
                self._pending = ch
            elif ch in PLAIN:
                out.append(PLAIN[ch])
        return out


class LiveControls:
    """The live settings, in the player's units, and what they mean to the callback.

    ``base_drive`` and ``base_level``: the model's own factors (``render``'s input gain and
    ``1 / output_gain``); ``in_db``, ``out_db``: the user's gains on top; ``gate_db``: the
    gate threshold in dBFS of the DI, or None (off); ``knobs``: dial settings of a knob
    model, with its :class:`~guneamp_lib.knobs.KnobSpace`.

    Notebook: 12
    """

    def __init__(self, chain, base_drive: float, base_level: float, in_db: float = 0.0, out_db: float = 0.0,
                 gate_db: float | None = None, knob_space=None, knobs: dict | None = None, extrapolate: bool = False):
        self.chain, self.base_drive, self.base_level = chain, base_drive, base_level
        self.in_db, self.out_db = in_db, out_db
        self.gate_on, self.gate_db = gate_db is not None, DEFAULT_GATE_DB if gate_db is None else gate_db
        self.space, self.knobs, self.extrapolate = knob_space, dict(knobs or {}), extrapolate
        self.selected = 0
        self.stop = threading.Event()
        self.apply()

    def apply(self) -> None:
        """Write every factor into the chain's control array (the callback reads it next block)."""
        c = self.chain.controls
        c[DRIVE] = self.base_drive * db(self.in_db)
        c[LEVEL] = self.base_level * db(self.out_db)
        c[GATE] = db(self.gate_db) if self.gate_on else 0.0

    def set_knobs(self, settings: dict) -> None:
        """New dial settings: the 0..1 vector first, then the version the callback watches."""
        self.knobs.update(settings)
        np.copyto(self.chain.knob_vector, self.space.normalize(self.knobs, extrapolate=self.extrapolate))
        self.chain.controls[KNOB_VERSION] += 1.0

    def command(self, name: str) -> str:
        """Carry out one key's command; returns the line to show."""
        if name in ("drive_up", "drive_down"):
            self.in_db += GAIN_STEP_DB if name == "drive_up" else -GAIN_STEP_DB
        elif name in ("level_up", "level_down"):
            self.out_db += GAIN_STEP_DB if name == "level_up" else -GAIN_STEP_DB
        elif name == "gate":
            self.gate_on = not self.gate_on
        elif name == "quit":
            self.stop.set()
            return "stopping"
        elif self.space is None or not len(self.space):
            return "this model has no knobs"
        elif name == "next_knob":
            self.selected = (self.selected + 1) % len(self.space)
        else:
            k = self.space.knobs[self.selected]
            step = (k.high - k.low) / KNOB_STEPS * (1 if name == "knob_up" else -1)
            # a key keeps the knob inside the trained range (or as far out as --extrapolate put it)
            now = self.knobs[k.name]
            low, high = min(k.low, now), max(k.high, now)
            self.set_knobs({k.name: min(high, max(low, now + step))})
        self.apply()
        return self.describe()

    def describe(self) -> str:
        gate = f"gate {self.gate_db:g} dBFS" if self.gate_on else "gate off"
        line = f"drive {self.in_db:+g} dB, output {self.out_db:+g} dB, {gate}"
        if self.space is not None and len(self.space):
            line += ", knobs " + ", ".join(
                ("*" if i == self.selected else "") + f"{k.name}={self.knobs[k.name]:g}"
                for i, k in enumerate(self.space.knobs))
        return line


class KeyReader(threading.Thread):
    """Reads keys from standard input (a terminal in raw mode, or a pipe) into :class:`LiveControls`.

    Notebook: 12
    """

    def __init__(self, controls: LiveControls, say, stream=None):
        super().__init__(name="guneamp-keys", daemon=True)
        self.controls, self.say = controls, say
        self.stream = sys.stdin if stream is None else stream
        self._restore = None

    def close(self) -> None:
        """Give the terminal back as it was (play calls this on its way out: this thread may
        still be waiting for a key)."""
        restore, self._restore = self._restore, None
        if restore is not None:
            restore()

    def run(self) -> None:
        try:
            fd = self.stream.fileno()
        except (AttributeError, OSError, ValueError):
            return
        self._restore = _raw_mode(fd)
        parser = KeyParser()
        try:
            while not self.controls.stop.is_set():
                data = os.read(fd, 64)
                if not data:
                    return  # end of input: play goes on until Ctrl-C or --seconds
                for name in parser.feed(data.decode("latin-1")):
                    self.say(self.controls.command(name))
        except OSError:
            return
        finally:
            self.close()


def _raw_mode(fd: int):
    """Keys without Enter and without echo on a terminal; returns how to undo it."""
    if not os.isatty(fd):
        return lambda: None
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    return lambda: termios.tcsetattr(fd, termios.TCSADRAIN, saved)
