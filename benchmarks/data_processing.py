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
import statistics
import sys
import tempfile
from pathlib import Path

from harness import make_project, spawn, worker_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-mice", type=int, default=60000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_data_processing_") as folder:
        project = make_project(Path(folder))
        generated = spawn(
            __file__, project, "synthetic_data", {"synthetic": {"n_mice": args.n_mice}}
        )
        runs = [spawn(__file__, project, "data_processing", {}) for _ in range(args.repeats)]
        report = json.loads(
            (project / "data/runs/latest/08_reporting/data_quality_report.json").read_text()
        )
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


if __name__ == "__main__" and not worker_main(sys.argv):
    main()
