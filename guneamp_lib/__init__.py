"""guneamp_lib: neural modeling of guitar amplifiers and speaker cabinets.

The library behind the guneamp notebook course, in packages that follow the data's path
(each imports only from those before it): ``dsp`` (signal basics), ``capture`` (default
data, alignment, capture checks), ``models`` (the networks, checkpoints, .nam files),
``render`` (inference, file rendering, streaming), ``training``, ``study`` (metrics and
evaluation), ``course`` (notebook runner, graphs, widgets) and ``cli`` (the ``guneamp``
command). The names below are the design's own entry points.
"""

__version__ = "0.1.0"

import importlib

from .errors import GuneampError, GuneampWarning  # noqa: E402
from .paths import configure_compiled_cache  # noqa: E402
from .vector_width import configure_vector_width  # noqa: E402

# Before anything imports numba (librosa, the streaming kernels): see the functions.
configure_compiled_cache()
configure_vector_width()

# The design's entry points, imported on first use: importing the package stays instant,
# so the ``guneamp`` command answers Ctrl-C during start-up with one line (cli.launch),
# not a traceback from inside torch's import.
_EXPORTS = {
    "load_wav": "dsp.audio", "save_wav": "dsp.audio", "apply_ir": "dsp.cabinet", "apply_ir_fft": "dsp.cabinet",
    "run_inference": "render.inference", "design_loss": "training.losses", "esr": "training.losses",
    "pre_emphasis": "training.losses", "SeedCNN": "models", "build_model": "models",
    "downsample": "dsp.oversampling", "oversample": "dsp.oversampling", "pick_device": "runtime",
    "set_seed": "runtime", "make_window": "training.windows",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["GuneampError", "GuneampWarning", *sorted(_EXPORTS)]
