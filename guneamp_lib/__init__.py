"""guneamp_lib: neural modeling of guitar amplifiers and speaker cabinets.

The library behind the guneamp notebook course. Module names follow the notebooks:
``audio`` (01), ``oversampling`` (02), ``windows`` (03), ``models`` (04), ``losses`` (05),
``train`` and ``checkpoints`` (06), ``inference`` (07), ``cabinet`` (08), ``transfer`` (09),
``playground`` and ``widgets`` (04, 05, 10), ``wavenet``, ``lstm``, ``metrics``,
``aliasing`` and ``evaluate`` (11), ``checks`` (01, 12). ``synth`` makes the default data,
``streaming`` runs a model block by block as a plugin would (``streaming_kernels`` compiles its
inner loops), ``activations`` holds a faster CPU ``tanh``, ``nam_export`` writes
Neural Amp Modeler files, ``course`` runs the notebooks, ``cli`` is the ``guneamp`` command.
"""

__version__ = "0.1.0"

from .audio import load_wav, save_wav  # noqa: E402
from .cabinet import apply_ir, apply_ir_fft  # noqa: E402
from .errors import GuneampError, GuneampWarning  # noqa: E402
from .inference import run_inference  # noqa: E402
from .losses import design_loss, esr, pre_emphasis  # noqa: E402
from .models import SeedCNN, build_model  # noqa: E402
from .oversampling import downsample, oversample  # noqa: E402
from .runtime import pick_device, set_seed  # noqa: E402
from .windows import make_window  # noqa: E402

__all__ = [
    "GuneampError", "GuneampWarning", "SeedCNN", "apply_ir", "apply_ir_fft", "build_model", "design_loss",
    "downsample", "esr", "load_wav", "make_window", "oversample", "pick_device", "pre_emphasis",
    "run_inference", "save_wav", "set_seed",
]
