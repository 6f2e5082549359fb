"""Short audio players for notebooks.

One helper, so every notebook plays audio the same way: a few seconds at most (each
player embeds its audio in the notebook), at the level it really has rather than
re-normalized by the browser, so louder really sounds louder.
"""

from __future__ import annotations

import numpy as np

# A player embeds 16-bit audio in the notebook: 4 s at 44.1 kHz is about 350 kB.
MAX_SECONDS = 4.0


def clip(x, sr: int, seconds: float = MAX_SECONDS, start: float = 0.0) -> np.ndarray:
    y = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
    y = y.reshape(-1).astype(np.float32)
    a = int(start * sr)
    return y[a : a + int(min(seconds, MAX_SECONDS) * sr)]


def player(x, sr: int, seconds: float = MAX_SECONDS, start: float = 0.0):
    """An ``IPython.display.Audio`` player of ``seconds`` of ``x`` from ``start``.

    Notebook: 01
    """
    from IPython.display import Audio

    y = clip(x, sr, seconds, start)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak > 1.0:
        y = y / peak  # only ever scale down, and only to avoid clipping
    return Audio(y, rate=sr, normalize=False)


def players(signals: dict, sr: int, seconds: float = MAX_SECONDS, start: float = 0.0):
    """Labelled players side by side, e.g. ``{"clean": x, "amp": y, "model": z}``.

    Plain HTML rather than widgets: it shows without a kernel, and headless runs never
    wait on a widget that no browser will render (a known nbclient hang).

    Notebook: 01
    """
    import html

    from IPython.display import HTML

    cells = "".join(
        f"<td style='padding:0 12px 0 0;vertical-align:top'><div>{html.escape(str(label))}</div>"
        f"{player(x, sr, seconds, start)._repr_html_()}</td>"
        for label, x in signals.items()
    )
    return HTML(f"<table><tr>{cells}</tr></table>")
