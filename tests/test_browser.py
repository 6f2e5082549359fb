"""A real browser: JupyterLab serving the playground, driven by Debian's Chromium.

The playground notebook is parameterized with the CI values (but with its widgets on),
copied to a temporary folder (JupyterLab saves what it runs, and the committed notebook
must stay clean) and opened in headless Chromium through Playwright. The test runs
all cells, moves the gain slider and checks that the spectrum image changes. A
screenshot is kept in ``test-artifacts/``.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch

from guneamp_lib import paths
from guneamp_lib.course import runner as course

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [pytest.mark.browser, pytest.mark.slow]
# Flags a sandboxed, offline machine needs: no sandbox as root, no GPU, no calls home.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = paths.project_root() / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from guneamp_lib.models.checkpoint import Checkpoint, save_checkpoint
    from guneamp_lib.models import SeedCNN

    out = tmp_path / "out"
    env = dict(os.environ, GUNEAMP_OUT=str(out))
    # A stand-in course model, so the notebook does not spend minutes training one.
    torch.manual_seed(0)
    data = course.course_data()
    save_checkpoint(out / "runs" / "course" / "seed_cnn" / "best.pt",
                    Checkpoint(SeedCNN(), "seed_cnn", data.sample_rate, 8, 256, data.ir))
    params = course.load_parameters_file(paths.notebooks_dir() / "ci_parameters.yaml")
    params["INTERACTIVE"] = True
    nb_path = course.find_notebook("10")
    work = tmp_path / "lab"
    course.parameterized_copy(nb_path, params, work / nb_path.name)
    port, token = free_port(), "guneamp-test"
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--ServerApp.token={token}", "--allow-root", f"--ServerApp.root_dir={work}", "--expose-app-in-browser",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "lab.log", "w"),
    )
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("jupyter lab did not start: " + (tmp_path / "lab.log").read_text()[-2000:])
        yield f"http://127.0.0.1:{port}/lab/tree/{nb_path.name}?token={token}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def output_images(page) -> list[str]:
    return page.eval_on_selector_all(".widget-output img", "els => els.map(e => e.src)")


def test_playground_reacts_to_the_gain_slider_in_a_real_browser(lab):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(lab, timeout=120_000)
            page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget "
                                   "&& window.jupyterapp.shell.currentWidget.sessionContext "
                                   "&& window.jupyterapp.shell.currentWidget.sessionContext.session "
                                   "&& window.jupyterapp.shell.currentWidget.sessionContext.session.kernel",
                                   timeout=120_000)
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            slider = page.locator(".widget-slider", has=page.locator("label", has_text="gain (dB)"))
            slider.wait_for(state="visible", timeout=240_000)
            slider.scroll_into_view_if_needed()
            page.wait_for_function("() => document.querySelectorAll('.widget-output img').length > 0", timeout=120_000)
            before = output_images(page)
            readout = slider.locator(".widget-readout")
            value_before = readout.inner_text()
            handle = slider.locator(".noUi-handle")
            handle.focus()
            for _ in range(6):
                handle.press("ArrowRight")
            page.wait_for_function(
                "(old) => { const now = Array.from(document.querySelectorAll('.widget-output img')).map(e => e.src);"
                " return now.length > 0 && now.some(s => !old.includes(s)); }",
                arg=before, timeout=120_000)
            assert readout.inner_text() != value_before
            assert output_images(page) != before
            page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'",
                                   timeout=120_000)
            page.screenshot(path=str(ARTIFACTS / "browser_playground.png"), full_page=False)
        finally:
            browser.close()
