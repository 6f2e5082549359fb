"""Running the notebook series, and the pieces the notebooks share.

``run_series`` executes the numbered notebooks in order with papermill, writing the
executed copies to ``build/notebooks`` (never over the committed, output-free ones).
``course_model`` is how notebooks 07 to 10 get the model notebook 06 trained: loaded
from ``runs/course`` if it is there, trained on the spot (on the same fixed schedule)
if not, so every notebook also runs on its own.

**Ten minutes.** The default run fits the course in ten minutes on a 2-core machine, no
notebook over three (README). The heavier runs (the 600-step course model, notebook
11's 300 steps per model, notebook 12's 180 s capture and 1000 steps, notebook 13's two
knob models of 2000 steps and its finer map) sit behind each
notebook's ``FULL`` parameter (``make tutorial FULL=1``, ``guneamp course -p FULL true``),
and the notebooks quote their recorded figures beside the default run's.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .. import paths
from ..errors import GuneampError

PARAMETERS_TAG = "parameters"
KERNEL = "python3"
# Hang detection for the automated runs (CI's tiny parameters finish every cell in well under
# a minute). A learner's run has none by default: the course trains fixed step counts, and
# on a slow or busy machine one cell may train two models (notebook 08) for an hour; cutting
# it there would lose the run, not make it the same for everyone.
CI_CELL_TIMEOUT_S = 1200
# The course model's schedule, (epochs, steps per epoch): a fixed step count, so every
# machine trains the same model. 300 steps keep notebook 06 under three minutes on one
# free core (a step of the designed set-up costs about 0.38 s of CPU); FULL, the course's
# heavier runs (`make tutorial FULL=1`), trains the 600 steps the course used to, whose
# figures the notebooks quote beside their own.
COURSE_SCHEDULE = {False: (10, 30), True: (15, 40)}


def kernel_config():
    """The kernel manager's settings: the kernel's traffic encrypted with CurveZMQ.

    A kernel on TCP without keys talks in plain text to anyone on the machine, and
    ipykernel says so with a WARNING on every notebook's start. ``transport_encryption``
    "auto" has jupyter_client hand the kernel keys where its kernelspec declares it can
    use them (ipykernel 7 does), which removes both the exposure and the warning. Where
    libzmq was built without CurveZMQ the setting would be refused, so it is left out.

    Notebook: 00
    """
    import zmq
    from traitlets.config import Config

    return Config({"KernelManager": {"transport_encryption": "auto"}}) if zmq.has("curve") else Config()


def notebooks() -> list[Path]:
    """The numbered notebooks of the series, in order.

    Notebook: 00
    """
    found = sorted(p for p in paths.notebooks_dir().glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise GuneampError(f"no notebooks found in {paths.notebooks_dir()}")
    return found


def find_notebook(name: str) -> Path:
    """Accept ``06``, ``06_gpu_training`` or ``06_gpu_training.ipynb``.

    Notebook: 00
    """
    for nb in notebooks():
        if name in (nb.name, nb.stem, nb.stem[:2]):
            return nb
    raise GuneampError(f"no notebook called {name!r}; choose one of: {', '.join(p.stem for p in notebooks())}")


def notebook_parameters(nb: Path) -> dict:
    """Names and default values in the notebook's ``parameters`` cell.

    Notebook: 00
    """
    import papermill as pm

    return {k: v["default"] for k, v in pm.inspect_notebook(str(nb)).items()}


def load_parameters_file(path: str | os.PathLike) -> dict:
    """A JSON or YAML file of parameter overrides shared by every notebook.

    Notebook: 00
    """
    import yaml

    path = Path(path)
    if not path.exists():
        raise GuneampError(f"parameters file not found: {path}")
    paths.check_input_file(path, "parameters")
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
    except UnicodeDecodeError:
        raise GuneampError(f"{path} is not a text file; give a YAML or JSON file of parameters.") from None
    except json.JSONDecodeError as exc:
        raise GuneampError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise GuneampError(f"{path} is not valid YAML{where}: {getattr(exc, 'problem', None) or exc}.") from None
    if not isinstance(data, dict):
        raise GuneampError(f"{path} must hold a mapping of parameter names to values")
    return data


def parameterized_copy(nb: Path, parameters: dict, dest: Path) -> Path:
    """Write ``nb`` to ``dest`` with the overrides in a cell right after its parameters
    cell (what papermill does before it executes), without running anything.

    Notebook: 00
    """
    import nbformat

    book = nbformat.read(str(nb), as_version=4)
    declared = notebook_parameters(nb)
    lines = [f"{k} = {v!r}" for k, v in parameters.items() if k in declared]
    idx = next(i for i, c in enumerate(book.cells) if PARAMETERS_TAG in c.get("metadata", {}).get("tags", []))
    cell = nbformat.v4.new_code_cell("# Injected parameters\n" + "\n".join(lines))
    cell.metadata["tags"] = ["injected-parameters"]
    book.cells.insert(idx + 1, cell)
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(book, str(dest))
    return dest


def run_notebook(nb: Path, parameters: dict | None = None, output_dir: Path | None = None, progress: bool = True,
                 cell_timeout_s: float | None = None) -> Path:
    """Execute one notebook with papermill; only parameters it declares are passed.

    ``cell_timeout_s`` stops a cell that runs longer (None: no limit).

    Notebook: 00
    """
    import papermill as pm

    output_dir = Path(output_dir) if output_dir else paths.build_dir() / "notebooks"
    output_dir.mkdir(parents=True, exist_ok=True)
    declared = notebook_parameters(nb)
    params = {k: v for k, v in (parameters or {}).items() if k in declared}
    out = output_dir / nb.name
    try:
        pm.execute_notebook(
            str(nb), str(out), parameters=params, kernel_name=KERNEL, cwd=str(nb.parent),
            progress_bar=progress, report_mode=False, execution_timeout=cell_timeout_s, config=kernel_config(),
        )
    except TimeoutError:  # nbclient's CellTimeoutError; an OSError, so it must not read as a file problem
        raise GuneampError(f"{nb.stem}: a cell ran for more than {cell_timeout_s:g} s and was stopped (the "
                           f"executed copy up to that cell is {out}). Run it again with a larger "
                           "--cell-timeout, or without one.") from None
    return out


def run_series(parameters: dict | None = None, output_dir: Path | None = None, only: list[str] | None = None,
               progress: bool = True, cell_timeout_s: float | None = None) -> list[Path]:
    chosen = [find_notebook(n) for n in only] if only else notebooks()
    results = []
    t0 = time.perf_counter()
    for i, nb in enumerate(chosen, 1):
        print(f"[{i}/{len(chosen)}] {nb.stem} ...", flush=True)
        start = time.perf_counter()
        results.append(run_notebook(nb, parameters, output_dir, progress=progress, cell_timeout_s=cell_timeout_s))
        print(f"[{i}/{len(chosen)}] {nb.stem} done in {time.perf_counter() - start:.0f} s", flush=True)
    print(f"{len(chosen)} notebooks in {time.perf_counter() - t0:.0f} s; executed copies in "
          f"{Path(output_dir) if output_dir else paths.build_dir() / 'notebooks'}")
    print(summary())
    return results


def summary() -> str:
    """What the course produced: the model's held-out ESR, the rendered audio, the graphs.

    Notebook: 00
    """
    from ..models.checkpoint import load_checkpoint
    from .plotting import GRAPH_NAMES

    lines = []
    ckpt_path = course_model_path("seed_cnn")
    if ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path)
        best = min((h["val_esr"] for h in ckpt.history), default=float("nan"))
        lines.append(f"held-out ESR of the course model ({ckpt.model_name} at {ckpt.oversample}x): {best:.4f}  [{ckpt_path}]")
    modeled = paths.rendered_dir() / "modeled.wav"
    lines.append(f"rendered audio: {modeled}" if modeled.exists() else "rendered audio: not written (run notebook 07)")
    made = [n for n in GRAPH_NAMES if (paths.graphs_dir() / n).exists()]
    lines.append(f"graphs: {len(made)} of {len(GRAPH_NAMES)} in {paths.graphs_dir()}")
    return "\n".join(lines)


def course_model_path(name: str = "seed_cnn") -> Path:
    return paths.runs_dir() / "course" / name / "best.pt"


def course_data(seed: int = 0):
    """The default data (generated if missing) as a :class:`~guneamp_lib.training.data.TrainingData`.

    Notebook: 00
    """
    from ..training.data import load_training_data
    from ..capture.synth import generate_default_data

    files = generate_default_data(paths.data_dir(), seed=seed, progress=False)
    return load_training_data(files["clean"], files["amp"], files["cab_ir"])


def course_schedule(full: bool = False, epochs: int | None = None, steps_per_epoch: int | None = None) -> tuple[int, int]:
    """``(epochs, steps_per_epoch)`` of the course model: the values given, else the course's.

    Notebook: 06
    """
    default_epochs, default_steps = COURSE_SCHEDULE[bool(full)]
    return epochs or default_epochs, steps_per_epoch or default_steps


def course_model(name: str = "seed_cnn", *, oversample: int | None = None, epochs: int | None = None,
                 time_budget_s: float | None = 1800.0, steps_per_epoch: int | None = None, segment: int | None = None,
                 device: str = "auto", seed: int = 0, retrain: bool = False, full: bool = False):
    """The course's trained model: loaded if notebook 06 saved it, else trained now on
    :func:`course_schedule` (``time_budget_s`` is only a safety cap).

    Notebook: 00
    """
    from ..models.checkpoint import load_checkpoint
    from ..training.train import TrainConfig, train

    path = course_model_path(name)
    if path.exists() and not retrain:
        return load_checkpoint(path)
    epochs, steps_per_epoch = course_schedule(full, epochs, steps_per_epoch)
    cfg = TrainConfig(model=name, oversample=oversample, epochs=epochs, time_budget_s=time_budget_s,
                      steps_per_epoch=steps_per_epoch, segment=segment, device=device, seed=seed)
    result = train(course_data(seed), cfg, out_dir=path.parent, progress=True)
    return result.checkpoint
