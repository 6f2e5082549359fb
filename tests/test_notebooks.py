"""The notebook series: committed clean, run headlessly with papermill, checked with nbval.

The session fixture runs every notebook in order with ``notebooks/ci_parameters.yaml``
(the same notebooks, shorter runs) into a temporary build folder, with the course's
outputs (graphs, models, rendered audio) redirected there too, so the learner's files
are never touched. nbval then executes each executed copy again and compares the cells
tagged ``nbval-check-output`` (rounded key numbers) with the first run; a few of those
numbers are also checked against fixed bounds in ``notebook_expectations.yaml``.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from guneamp_lib import paths
from guneamp_lib.course import runner as course

ROOT = paths.project_root()
NB_DIR = ROOT / "notebooks"
# Every notebook this suite covers; a notebook missing here fails test_every_notebook_is_covered.
SERIES = [
    "00_start_here",
    "01_loading_and_normalization",
    "02_oversampling",
    "03_training_windows",
    "04_the_dilated_cnn",
    "05_loss_functions",
    "06_gpu_training",
    "07_overlap_add_inference",
    "08_cabinet_ir",
    "09_transfer_curve",
    "10_playground",
    "11_beyond_the_seed",
    "12_your_own_gear",
    "13_knobs",
]
PRESENT = [s for s in SERIES if (NB_DIR / f"{s}.ipynb").exists()]
EXPECTATIONS = yaml.safe_load((Path(__file__).parent / "notebook_expectations.yaml").read_text())


def load(path):
    return json.loads(Path(path).read_text())


def test_every_notebook_is_covered():
    found = sorted(p.stem for p in NB_DIR.glob("*.ipynb"))
    assert found == sorted(PRESENT), f"notebooks not covered by this suite: {set(found) - set(SERIES)}"
    assert found == SERIES, f"series incomplete: missing {sorted(set(SERIES) - set(found))}"


@pytest.mark.parametrize("stem", PRESENT)
def test_committed_notebook_is_clean(stem):
    nb = load(NB_DIR / f"{stem}.ipynb")
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and not cell.get("execution_count"), f"{stem} carries outputs"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    # a cell without an id makes nbformat warn in every run of the course (nbformat 4.5)
    assert all(cell.get("id") for cell in nb["cells"]), f"{stem} has a cell without an id"


@pytest.mark.parametrize("stem", PRESENT)
def test_notebook_structure(stem):
    nb = load(NB_DIR / f"{stem}.ipynb")
    cells = nb["cells"]
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    assert "SEED" in "".join(tagged[0]["source"])
    first = "".join(cells[0]["source"])
    assert first.startswith(f"# {stem[:2]}") and "You will learn" in first
    if stem != SERIES[0]:
        assert "previous" in first
    if stem != SERIES[-1]:
        assert "next" in first
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "sys.path" not in code and "'../" not in code and '"../' not in code
    assert 10 <= len(cells) <= 45


@pytest.mark.parametrize("stem", PRESENT)
def test_every_parameter_is_declared(stem):
    """papermill skips a parameters line it cannot parse (an `=` inside its comment was
    enough), and the runner then drops that parameter's overrides without a word: CI's
    short EPOCHS never reached notebook 06 that way. Every assignment must be declared."""
    import ast

    nb = load(NB_DIR / f"{stem}.ipynb")
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    assigned = {t.id for node in ast.parse("".join(cell["source"])).body if isinstance(node, ast.Assign)
                for t in node.targets if isinstance(t, ast.Name)}
    assert set(course.notebook_parameters(NB_DIR / f"{stem}.ipynb")) == assigned


@pytest.mark.parametrize("stem", ["06_gpu_training", "07_overlap_add_inference", "08_cabinet_ir",
                                  "09_transfer_curve", "10_playground", "11_beyond_the_seed", "12_your_own_gear",
                                  "13_knobs"])
def test_heavier_runs_are_behind_full(stem):
    """The default run is the short one; `make tutorial FULL=1` (``-p FULL true``) the heavier one."""
    params = course.notebook_parameters(NB_DIR / f"{stem}.ipynb")
    assert params["FULL"] == "False"


def test_course_schedule_fills_only_what_is_not_given():
    assert course.course_schedule() == course.COURSE_SCHEDULE[False] == (10, 30)
    assert course.course_schedule(True) == (15, 40)
    assert course.course_schedule(False, 2, 4) == (2, 4)
    assert course.course_schedule(True, None, 4) == (15, 4)


@pytest.fixture(scope="session")
def executed(tmp_path_factory):
    """Run the whole series once, in order, with the CI parameters."""
    out = tmp_path_factory.mktemp("course")
    os.environ["GUNEAMP_OUT"] = str(out)
    params = course.load_parameters_file(NB_DIR / "ci_parameters.yaml")
    results, errors = {}, {}
    for stem in PRESENT:
        try:
            results[stem] = course.run_notebook(NB_DIR / f"{stem}.ipynb", params, out / "notebooks", progress=False,
                                                 cell_timeout_s=course.CI_CELL_TIMEOUT_S)
        except Exception as exc:  # keep going: one broken notebook should not hide the others
            errors[stem] = exc
    return {"dir": out, "results": results, "errors": errors}


def checked_output(path) -> str:
    nb = load(path)
    text = []
    for cell in nb["cells"]:
        if "nbval-check-output" in cell.get("metadata", {}).get("tags", []):
            for o in cell.get("outputs", []):
                if o.get("output_type") == "stream" and o.get("name") == "stdout":
                    text.append("".join(o["text"]))
    return "".join(text)


@pytest.mark.slow
@pytest.mark.parametrize("stem", PRESENT)
def test_notebook_runs_and_nbval_agrees(executed, stem):
    if stem in executed["errors"]:
        raise executed["errors"][stem]
    path = executed["results"][stem]
    assert checked_output(path), f"{stem} has no checked output"
    env = dict(os.environ, GUNEAMP_OUT=str(executed["dir"]))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", str(path)],
        capture_output=True, text=True, env=env, cwd=str(executed["dir"]),
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("stem", [s for s in PRESENT if s in EXPECTATIONS])
def test_key_numbers_within_bounds(executed, stem):
    if stem in executed["errors"]:
        pytest.fail(f"{stem} did not run: {executed['errors'][stem]}")
    text = checked_output(executed["results"][stem])
    for rule in EXPECTATIONS[stem]:
        m = re.search(rule["pattern"], text)
        assert m, f"{stem}: no line matches {rule['pattern']!r} in:\n{text}"
        value = float(m.group(1))
        if "equals" in rule:
            assert value == rule["equals"], f"{stem}: {rule['pattern']} = {value}, expected {rule['equals']}"
        if "min" in rule:
            assert value >= rule["min"], f"{stem}: {rule['pattern']} = {value} < {rule['min']}"
        if "max" in rule:
            assert value <= rule["max"], f"{stem}: {rule['pattern']} = {value} > {rule['max']}"


@pytest.mark.slow
def test_series_writes_the_nine_graphs(executed):
    from guneamp_lib.course.plotting import GRAPH_NAMES

    if len(PRESENT) < len(SERIES):
        pytest.skip("series incomplete")
    made = {p.name for p in (executed["dir"] / "graphs").glob("*.png")}
    assert set(GRAPH_NAMES) <= made, f"missing graphs: {set(GRAPH_NAMES) - made}"


@pytest.mark.slow
@pytest.mark.parametrize("stem", PRESENT)
def test_every_printed_check_holds(executed, stem):
    """A checked line that ends in True or False states a check the notebook makes
    (two paths agree, a lag is reliable...): each must hold."""
    if stem in executed["errors"]:
        pytest.fail(f"{stem} did not run: {executed['errors'][stem]}")
    failed = [line for line in checked_output(executed["results"][stem]).splitlines()
              if re.search(r"\bFalse\s*$", line)]
    assert not failed, f"{stem}: " + "; ".join(failed)
