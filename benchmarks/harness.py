"""Shared by the benchmarks: throw-away project copies and runs in fresh processes.

Each measured run happens in its own Python process (so peak RSS is that run's own) through
a real KedroSession on a copy of the project's configuration in a temporary folder, logging
to a temporary MLflow store: benchmarks never touch the user's data/ or mlflow.db.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def make_project(folder: Path) -> Path:
    """A copy of the project's configuration; runs write data and MLflow runs only there."""
    shutil.copy(REPO_ROOT / "pyproject.toml", folder / "pyproject.toml")
    shutil.copytree(REPO_ROOT / "conf", folder / "conf", ignore=shutil.ignore_patterns("local"))
    (folder / "conf" / "local").mkdir()
    (folder / "src").mkdir()  # bootstrap_project requires it; the package comes from the venv
    for layer in (REPO_ROOT / "data").iterdir():
        if layer.is_dir():
            (folder / "data" / layer.name).mkdir(parents=True)
    return folder


def merged(base: dict, change: dict) -> dict:
    """``base`` with ``change`` merged in, nested dicts key by key (as Kedro merges params)."""
    result = dict(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def newest(project: Path, pattern: str) -> Path:
    """The newest file matching ``pattern`` under the project's data/ (whatever run folder)."""
    found = sorted(project.glob(f"data/**/{pattern}"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise FileNotFoundError(f"no data/**/{pattern} in {project}")
    return found[-1]


def run_worker(
    project: Path, pipeline: str, params: dict, env: str | None = None
) -> dict[str, float | int | str]:
    """Run one pipeline in this process; time it and report this process's peak RSS.

    ``env`` names a Kedro configuration environment (a folder under conf/, e.g.
    ``seed_guide``) layered over conf/base; None runs conf/base alone."""
    started = time.perf_counter()
    import torch
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project)
    with KedroSession.create(project_path=project, runtime_params=params, env=env) as session:
        run_started = time.perf_counter()
        session.run(pipeline_names=[pipeline])
        run_s = time.perf_counter() - run_started
    return {
        "pipeline_s": run_s,
        "process_s": time.perf_counter() - started,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB
        "cuda_available": torch.cuda.is_available(),
    }


def spawn(
    script: str, project: Path, pipeline: str, params: dict, kedro_env: str | None = None
) -> dict:
    """Run ``script --worker`` (which calls :func:`run_worker`) in a fresh process, in the
    Kedro environment ``kedro_env`` when given."""
    env = os.environ | {
        "KEDRO_DISABLE_TELEMETRY": "true",
        "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
    }
    command = [sys.executable, script, "--worker", str(project), pipeline, json.dumps(params)]
    command += [kedro_env] if kedro_env else []
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{pipeline} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def worker_main(argv: list[str]) -> bool:
    """Handle ``--worker PROJECT PIPELINE PARAMS [KEDRO_ENV]``; True when this process was a
    worker."""
    if len(argv) not in (5, 6) or argv[1] != "--worker":
        return False
    project, pipeline, params, *kedro_env = argv[2:]
    result = run_worker(Path(project), pipeline, json.loads(params), *kedro_env)
    print(json.dumps(result))
    return True
