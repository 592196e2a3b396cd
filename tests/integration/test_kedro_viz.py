"""``kedro viz build`` on the project: the JSON that the kedro-viz page draws; and
``make viz``'s server, which stops with everything it started.

``kedro viz build`` exits 0 even when it fails, so these tests read the files it writes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
from kedro.pipeline import Pipeline

from audiometric_clustering.pipeline_registry import register_pipelines
from tests.conftest import REPO_ROOT, copy_project
from tests.integration.conftest import SERVER_START_TIMEOUT_S, VENV_BIN, free_port

pytestmark = pytest.mark.slow

#: The stages of the issue; full_training may end with more (they are found in the registry).
CORE_STAGES = ("data_processing", "pretraining", "cluster_init", "joint_training", "evaluation")
#: The catalog's layers in data-flow order; kedro-viz draws them as bands in this order.
LAYERS = ["raw", "intermediate", "primary", "model_input", "models", "model_output", "reporting"]
#: An explicit, readable node name: no default "func([inputs]) -> [outputs]", no hash suffix.
READABLE_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


@pytest.fixture(scope="module")
def viz_api(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``build/api`` folder that ``kedro viz build`` writes for a copy of the project."""
    project = copy_project(tmp_path_factory.mktemp("viz_project"))
    env = os.environ | {
        "KEDRO_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
        "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
    }
    result = subprocess.run(
        [str(VENV_BIN / "kedro"), "viz", "build"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    api = project / "build" / "api"
    assert (api / "main").is_file(), f"kedro viz build wrote no API:\n{result.stdout[-3000:]}"
    return api


@pytest.fixture(scope="module")
def pipelines() -> dict[str, Pipeline]:
    return register_pipelines()


@pytest.fixture(scope="module")
def stages(pipelines: dict[str, Pipeline]) -> list[str]:
    """The registered stage pipelines that full_training is the sum of."""
    full = set(pipelines["full_training"].nodes)
    found = [
        name
        for name, pipeline in pipelines.items()
        if name not in ("full_training", "__default__") and set(pipeline.nodes) <= full
    ]
    assert set(CORE_STAGES) <= set(found)
    assert {node for name in found for node in pipelines[name].nodes} == full
    return found


def read(api: Path, pipeline: str) -> dict:
    path = api / "pipelines" / pipeline
    assert path.is_file(), f"kedro viz build wrote nothing for pipeline {pipeline!r}"
    return json.loads(path.read_text())


def by_type(graph: dict, node_type: str) -> list[dict]:
    return [node for node in graph["nodes"] if node["type"] == node_type]


def test_every_registered_pipeline_is_built_with_readable_node_names(viz_api, pipelines):
    registered = {entry["id"] for entry in json.loads((viz_api / "main").read_text())["pipelines"]}
    assert registered == set(pipelines)
    for name, pipeline in pipelines.items():
        graph = read(viz_api, name)
        tasks = by_type(graph, "task")
        assert {task["full_name"] for task in tasks} == {node.name for node in pipeline.nodes}
        unreadable = [task["name"] for task in tasks if not READABLE_NAME.match(task["name"])]
        assert not unreadable, f"{name}: unreadable node names {unreadable}"


def test_every_dataset_sits_on_a_catalog_layer(viz_api, pipelines):
    for name in pipelines:
        datasets = by_type(read(viz_api, name), "data")
        unlayered = [data["name"] for data in datasets if data.get("layer") not in LAYERS]
        assert not unlayered, f"{name}: datasets without a known layer {unlayered}"


def test_every_pipeline_draws_its_layers(viz_api, pipelines):
    # kedro-viz silently drops every layer band when the layers form a cycle in the graph.
    cyclic = [name for name in pipelines if not read(viz_api, name)["layers"]]
    assert not cyclic, f"no layer bands (cyclic layers) in {cyclic}"


def test_full_training_draws_all_seven_layers_in_data_flow_order(viz_api):
    assert read(viz_api, "full_training")["layers"] == LAYERS


def test_full_training_reads_as_stages_joined_by_their_datasets(viz_api, pipelines, stages):
    graph = read(viz_api, "full_training")
    tree = graph["modular_pipelines"]
    top_level = {child["id"] for child in tree["__root__"]["children"]}
    assert set(stages) <= top_level, "each stage is a collapsible group at the top level"

    ids = {node["name"]: node["id"] for node in graph["nodes"]}
    for stage in stages:
        stage_tasks = {node.name for node in pipelines[stage].nodes}
        grouped = {
            task["full_name"]
            for task in by_type(graph, "task")
            if stage in task["modular_pipelines"]
        }
        assert grouped == stage_tasks, f"{stage}: the group holds exactly the stage's nodes"

    joins = set()
    for producer in stages:
        for consumer in set(stages) - {producer}:
            for dataset in pipelines[producer].all_outputs() & pipelines[consumer].inputs():
                assert ids[dataset] in tree[producer]["outputs"], f"{producer} -> {dataset}"
                assert ids[dataset] in tree[consumer]["inputs"], f"{dataset} -> {consumer}"
                joins.add((producer, dataset, consumer))
    # The chain that makes full_training one pipeline: each stage hands over to the next.
    assert {
        ("data_processing", "model_input", "pretraining"),
        ("pretraining", "pretrained_model", "cluster_init"),
        ("cluster_init", "initialised_model", "joint_training"),
        ("joint_training", "trained_model", "evaluation"),
    } <= joins


def _make_recipe(target: str) -> list[str]:
    """The command ``make <target>`` runs (one line), with ``$(BIN)`` this venv's bin."""
    lines = (REPO_ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    recipe = lines[start + 1].strip().replace("$(BIN)", str(VENV_BIN))
    return recipe.split()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def test_make_viz_stops_with_its_server_child_on_sigterm(tmp_path: Path) -> None:
    """SIGTERM to ``kedro viz run`` ended it and left its server child answering."""
    project = copy_project(tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/main"
    command = [*_make_recipe("viz"), "--no-browser", "--port", str(port)]
    env = os.environ | {"KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    log = (tmp_path / "viz.log").open("wb")
    process = subprocess.Popen(
        command, cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not _answers(url):
            assert process.poll() is None and time.monotonic() < deadline, "viz never answered"
            time.sleep(1.0)
        started = psutil.Process(process.pid).children(recursive=True)
        assert started, "the server runs in a child process"
        process.send_signal(signal.SIGTERM)  # to the top process only, as `kill PID` does
        process.wait(timeout=30)
        gone, alive = psutil.wait_procs(started, timeout=20)
        assert not alive, f"still running after SIGTERM: {[p.cmdline() for p in alive]}"
        assert not _answers(url)
    finally:
        if process.poll() is None or _answers(url):
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
