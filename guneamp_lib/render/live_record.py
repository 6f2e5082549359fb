"""``play --record DIR``: the dry DI and the wet output of a take, as WAV files (notebook 12).

The audio callback copies each block into two preallocated rings
(:attr:`~guneamp_lib.render.live_chain.LiveChain.dry` and ``wet``, a whole number of blocks
each, so a block never wraps) and publishes how many blocks it has written. A
:class:`TakeRecorder` thread, never the callback, copies what is new into the files every
:data:`DRAIN_S` seconds. If the disk falls so far behind that the callback laps the ring,
the lost blocks are written as silence, so the two files stay aligned with each other and
with the take's clock, and counted (:attr:`TakeRecorder.lost_blocks`).

The files are written to temporaries next to their names and renamed when the recorder
stops (:func:`~guneamp_lib.paths.atomic_output`), which ``play`` does in a ``finally``: on
Ctrl-C, on ``q``, when the server dies. A reader never sees a file without its final
header. The dry file is the DI as the interface delivered it (before the drive), at the
server's rate: ``guneamp render`` of it re-amps the take.
"""

from __future__ import annotations

import contextlib
import threading
from datetime import datetime
from pathlib import Path

import numpy as np
import soundfile as sf

from ..errors import GuneampError
from ..paths import atomic_output
from .live_chain import RECORDED

# How often the recorder empties the rings: far inside the ring's length.
DRAIN_S = 0.05
# Seconds of audio each ring holds: room for a disk that stalls for a few seconds.
RING_S = 8.0


def ring_slots(rate: int, block: int) -> int:
    """Blocks in a recording ring of about :data:`RING_S` seconds."""
    return max(4, int(RING_S * rate) // int(block))


def take_paths(folder, when: datetime | None = None) -> tuple[Path, Path]:
    """``DIR/take-YYYYmmdd-HHMMSS-dry.wav`` and ``-wet.wav``, with ``-2``, ``-3``... if taken.

    Notebook: 12
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise GuneampError(f"--record {folder}: it is a file; give a folder for the takes")
    stamp = (when or datetime.now()).strftime("%Y%m%d-%H%M%S")
    for i in range(1, 1000):
        stem = f"take-{stamp}" + (f"-{i}" if i > 1 else "")
        dry, wet = folder / f"{stem}-dry.wav", folder / f"{stem}-wet.wav"
        if not dry.exists() and not wet.exists():
            return dry, wet
    raise GuneampError(f"{folder} already holds 999 takes from {stamp}; choose another folder")


class TakeRecorder(threading.Thread):
    """Copies the chain's recording rings into two WAV files until :meth:`stop`.

    Notebook: 12
    """

    def __init__(self, chain, dry_path: Path, wet_path: Path):
        super().__init__(name="guneamp-record", daemon=True)
        self.chain, self.paths = chain, (Path(dry_path), Path(wet_path))
        self.lost_blocks = 0
        self.written_blocks = 0
        self.error: BaseException | None = None
        self.opened = threading.Event()  # set once both files are open (or opening failed)
        self._stop_event = threading.Event()

    def stop(self) -> None:
        """Write what is left, finish both files and wait for them."""
        self._stop_event.set()
        if self.is_alive():
            self.join()

    def run(self) -> None:
        try:
            self._record()
        except BaseException as exc:  # noqa: BLE001  reported by play's terminal thread
            self.error = exc
        finally:
            self.opened.set()

    def _record(self) -> None:
        c = self.chain
        self.paths[0].parent.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as stack:
            files = []
            for path in self.paths:
                tmp = stack.enter_context(atomic_output(path))
                files.append(stack.enter_context(
                    sf.SoundFile(str(tmp), "w", samplerate=c.rate, channels=1, subtype="FLOAT", format="WAV")))
            self.opened.set()
            stopping = False
            while not stopping:
                stopping = self._stop_event.wait(DRAIN_S)
                self._drain(files)

    def _drain(self, files) -> None:
        c = self.chain
        done = int(c.counts[RECORDED])
        if done - self.written_blocks > c.slots:
            lost = done - self.written_blocks - c.slots + 1  # one more: the slot being overwritten now
            silence = np.zeros(lost * c.block, np.float32)
            for f in files:
                f.write(silence)
            self.lost_blocks += lost
            self.written_blocks += lost
        while self.written_blocks < done:
            s = self.written_blocks % c.slots
            e = min(c.slots, s + done - self.written_blocks)
            for f, ring in zip(files, (c.dry, c.wet)):
                f.write(ring[s:e].reshape(-1))
            self.written_blocks += e - s


def wait_started(recorder: TakeRecorder, timeout: float = 10.0) -> None:
    """Fail now, not at the end of a take, if the files cannot be opened.

    Notebook: 12
    """
    recorder.opened.wait(timeout)
    if recorder.error is not None:
        raise GuneampError(f"cannot record to {recorder.paths[0].parent}: {recorder.error}")
