"""A real headless Chromium renders the kedro-viz page and the MLflow run page.

Both pages are React apps: fetching their HTML proves nothing, so the browser runs their
JavaScript, and the test reads the rendered DOM (``--dump-dom``) and keeps a screenshot.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import TinyRun

pytestmark = pytest.mark.slow

BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,900",
    "--virtual-time-budget=30000",  # run the app's timers and fetches before the snapshot
)
#: Chromium in virtual time now and then never finishes a page; such a try is killed and redone.
RENDER_TIMEOUT_S = 90
RENDER_TRIES = 2
STAGES = ("data_processing", "pretraining", "cluster_init", "joint_training", "evaluation")
HANDOVERS = ("model_input", "pretrained_model", "initialised_model", "trained_model")
#: A PNG of a drawn page; an empty or blank page compresses to a few kB.
MIN_SCREENSHOT_BYTES = 20_000


@pytest.fixture(scope="module")
def browser() -> str:
    for name in BROWSER_NAMES:
        if path := shutil.which(name):
            return path
    pytest.skip(f"no headless browser found (looked for {', '.join(BROWSER_NAMES)})")


def render(browser: str, url: str, screenshot: Path) -> str:
    """The DOM after the page's scripts ran, with a screenshot saved beside it."""
    for attempt in range(RENDER_TRIES):
        profile = screenshot.parent / f"{screenshot.stem}_profile{attempt}"  # fresh and empty
        process = subprocess.Popen(
            [
                browser,
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--screenshot={screenshot}",
                "--dump-dom",
                url,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its renderer and GPU processes share its group
        )
        try:
            dom, errors = process.communicate(timeout=RENDER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            continue
        assert process.returncode == 0, f"{browser} failed on {url}:\n{errors[-3000:]}"
        assert screenshot.is_file(), f"no screenshot of {url}"
        assert screenshot.stat().st_size > MIN_SCREENSHOT_BYTES, f"blank screenshot of {url}"
        return dom
    pytest.fail(f"{browser} did not finish {url} in {RENDER_TIMEOUT_S} s, {RENDER_TRIES} times")


def texts(dom: str, css_class: str) -> list[str]:
    """Text of the elements carrying ``css_class`` (SVG labels in kedro-viz)."""
    pattern = rf'class="{css_class}"[^>]*>([^<]*)<'
    return [text.strip() for text in re.findall(pattern, dom)]


def test_kedro_viz_page_draws_full_training_as_its_stages(browser, viz_server, tmp_path):
    dom = render(browser, f"{viz_server}/?pid=full_training", tmp_path / "kedro_viz.png")
    labels = set(texts(dom, "pipeline-node__text"))
    assert set(STAGES) <= labels, f"stage groups missing from the drawn graph: {labels}"
    assert set(HANDOVERS) <= labels, f"hand-over datasets missing from the drawn graph: {labels}"
    drawn_layers = re.findall(r'data-id="layer-label--([a-z_]+)"', dom)
    assert drawn_layers, "no catalog layer bands drawn"
    assert "raw" in drawn_layers and "reporting" in drawn_layers


def test_mlflow_run_page_shows_the_run(browser, mlflow_server, tiny_run: TinyRun, tmp_path):
    url = f"{mlflow_server}/#/experiments/{tiny_run.experiment_id}/runs/{tiny_run.run_id}"
    dom = render(browser, url, tmp_path / "mlflow_run.png")
    assert "full_scale_audiometric_clustering" in dom, "experiment name not rendered"
    assert tiny_run.run_id in dom, "run id not rendered"
    for text in ("kedro run --pipeline=full_training", "joint/loss", "eval/silhouette"):
        assert text in dom, f"{text!r} not rendered on the run page"
    assert "Page Not Found" not in dom, "MLflow rendered its error page"
