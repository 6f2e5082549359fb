"""Two small JACK clients that stand in for a guitar and an ear: a file player and a recorder (notebook 07).

``tests/test_play.py`` and ``make bench`` drive ``guneamp play`` with them on a dummy
server: a :class:`FilePlayer` plays a DI into ``play``'s input and a :class:`PortRecorder`
records ``play``'s output. Both begin in the first cycle at or after the
server frame given to :meth:`start_at` and then count blocks, not frames, so a cycle the
server drops (an xrun) shifts all three clients alike. In one cycle JACK runs a graph in
order (player, ``play``, recorder), so the recording lines up with the DI except for what
``play`` itself adds, the latency it reports.
"""

from __future__ import annotations

import jack
import numpy as np


class _Client:
    def __init__(self, name: str, server: str | None):
        jack.set_error_function(lambda msg: None)
        jack.set_info_function(lambda msg: None)
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

    Notebook: 07
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

    Notebook: 07
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
