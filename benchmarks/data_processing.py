"""Benchmark the ``data_processing`` pipeline: wall time and peak resident memory.

    .venv/bin/python benchmarks/data_processing.py [--n-mice 60000] [--repeats 3]

Writes a synthetic export of ``--n-mice`` mice with the ``synthetic_data`` pipeline, then runs
``data_processing`` ``--repeats`` times, each in a fresh process (so peak RSS is that run's
own), through a real KedroSession on a throw-away copy of the project (conf/ and
pyproject.toml in a temporary folder, MLflow logging to a temporary SQLite store), and prints
medians. Targets for 60,000 mice on the 2-core project machine: <= 20 s and <= 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
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


def run_worker(project: Path, pipeline: str, params: dict) -> dict[str, float]:
    """Run one pipeline in this process; time the run and report this process's peak RSS."""
    started = time.perf_counter()
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project)
    with KedroSession.create(project_path=project, runtime_params=params) as session:
        run_started = time.perf_counter()
        session.run(pipeline_names=[pipeline])
        run_s = time.perf_counter() - run_started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "pipeline_s": run_s,
        "process_s": time.perf_counter() - started,
        "peak_rss_mib": peak_kib / 1024,
    }


def spawn(project: Path, pipeline: str, params: dict) -> dict[str, float]:
    """Run a worker in a fresh Python process inside the project copy."""
    env = os.environ | {
        "KEDRO_DISABLE_TELEMETRY": "true",
        "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
    }
    command = [sys.executable, __file__, "--worker", str(project), pipeline, json.dumps(params)]
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{pipeline} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-mice", type=int, default=60000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", nargs=3, metavar=("PROJECT", "PIPELINE", "PARAMS"))
    args = parser.parse_args()
    if args.worker:
        project, pipeline, params = args.worker
        print(json.dumps(run_worker(Path(project), pipeline, json.loads(params))))
        return

    with tempfile.TemporaryDirectory(prefix="bench_data_processing_") as folder:
        project = make_project(Path(folder))
        generated = spawn(project, "synthetic_data", {"synthetic": {"n_mice": args.n_mice}})
        runs = [spawn(project, "data_processing", {}) for _ in range(args.repeats)]
        report = json.loads((project / "data/08_reporting/data_quality_report.json").read_text())
    print(
        f"synthetic_data: {args.n_mice} mice generated and written in {generated['pipeline_s']:.2f} s"
    )
    print(
        f"data_processing on {args.n_mice} synthetic mice ({report['rows_kept']} kept), "
        f"{args.repeats} runs (medians):"
    )
    for key, label in (
        ("pipeline_s", "pipeline wall time (session.run)"),
        ("process_s", "process wall time (imports + session + run)"),
        ("peak_rss_mib", "peak resident memory (ru_maxrss)"),
    ):
        values = [run[key] for run in runs]
        unit = "MiB" if key == "peak_rss_mib" else "s"
        print(
            f"  {label}: {statistics.median(values):.2f} {unit} "
            f"(runs: {', '.join(f'{v:.2f}' for v in values)})"
        )


if __name__ == "__main__":
    main()
