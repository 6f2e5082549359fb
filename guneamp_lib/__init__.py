"""guneamp_lib: neural modeling of guitar amplifiers and speaker cabinets.

The library behind the guneamp notebook course, in packages that follow the data's path
(each imports only from those before it): ``dsp`` (signal basics), ``capture`` (default
data, alignment, capture checks), ``models`` (the networks, checkpoints, .nam files),
``render`` (inference, file rendering, streaming), ``training``, ``study`` (metrics and
evaluation), ``course`` (notebook runner, graphs, widgets) and ``cli`` (the ``guneamp``
command). The names below are the design's own entry points.
"""

__version__ = "0.1.0"

from .dsp.audio import load_wav, save_wav  # noqa: E402
from .dsp.cabinet import apply_ir, apply_ir_fft  # noqa: E402
from .errors import GuneampError, GuneampWarning  # noqa: E402
from .render.inference import run_inference  # noqa: E402
from .training.losses import design_loss, esr, pre_emphasis  # noqa: E402
from .models import SeedCNN, build_model  # noqa: E402
from .dsp.oversampling import downsample, oversample  # noqa: E402
from .runtime import pick_device, set_seed  # noqa: E402
from .training.windows import make_window  # noqa: E402

__all__ = [
    "GuneampError", "GuneampWarning", "SeedCNN", "apply_ir", "apply_ir_fft", "build_model", "design_loss",
    "downsample", "esr", "load_wav", "make_window", "oversample", "pick_device", "pre_emphasis",
    "run_inference", "save_wav", "set_seed",
]
