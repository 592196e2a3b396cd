"""Training-step time of this checkout against another git revision, side by side.

    .venv/bin/python benchmarks/compare_steps.py main~3 [--steps 400] [--mice 60000]

This machine's speed drifts by up to 2x within an hour with nothing else running, so two
separate benchmark runs cannot show a 10% change. This script exports the package at
REVISION (``git archive``) under another name, builds both trainers on the same synthetic
data, and alternates their steps one by one in one process, so that both medians share the
drift. Prints, per stage, the median wall milliseconds per step of each and their ratio.
The revision must have this checkout's training API (``training.loop``, ``model.MouseTensors``
with the same fields): revisions from the autograd-only engine on.
"""

from __future__ import annotations

import argparse
import importlib
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import torch
from harness import REPO_ROOT
from threadpoolctl import threadpool_limits
from training_step import PACKAGE, step_runner, synthetic_tensors, time_alternated, trainer_for

from audiometric_clustering.model import MouseTensors
from audiometric_clustering.training.loop import StageTrainer

BASE_PACKAGE = "audiometric_clustering_base"


def export_package(revision: str, folder: Path) -> None:
    """The package's source at ``revision``, renamed to BASE_PACKAGE inside ``folder``."""
    archive = subprocess.run(
        ["git", "archive", revision, f"src/{PACKAGE}"], cwd=REPO_ROOT, capture_output=True
    )
    if archive.returncode != 0:
        raise SystemExit(
            f"cannot read src/{PACKAGE} at revision {revision!r} of {REPO_ROOT}: "
            f"{archive.stderr.decode().strip()} (expected a git revision such as main~3)"
        )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(folder, filter="data")
    (folder / "src" / PACKAGE).rename(folder / BASE_PACKAGE)
    for source in (folder / BASE_PACKAGE).rglob("*.py"):
        source.write_text(source.read_text().replace(PACKAGE, BASE_PACKAGE))


def trainer_on(
    package: str,
    stage: str,
    data: MouseTensors,
    in_validation: np.ndarray,
    args: argparse.Namespace,
) -> StageTrainer:
    """``trainer_for`` with ``package``'s code, on ``data`` converted to its tensor class."""
    tensors = importlib.import_module(f"{package}.model").MouseTensors(**vars(data))
    train, validation = tensors.subset(~in_validation), tensors.subset(in_validation)
    return trainer_for(stage, train, validation, args.threads, args.device, package)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision", help="git revision to compare against, e.g. main~3")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--mice", type=int, default=60000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)  # numpy's BLAS as well, as the training engine does
    rng = np.random.default_rng(0)
    data = synthetic_tensors(args.mice, rng)
    in_validation = rng.random(args.mice) < 0.1
    with tempfile.TemporaryDirectory(prefix="compare_steps_") as folder:
        export_package(args.revision, Path(folder))
        sys.path.insert(0, folder)
        print(f"{args.revision} against this checkout, {args.threads} thread(s), {args.device}")
        for stage in ("pretrain", "joint"):
            runners = {
                name: step_runner(trainer_on(package, stage, data, in_validation, args))
                for name, package in ((args.revision, BASE_PACKAGE), ("this checkout", PACKAGE))
            }
            times = time_alternated(runners, args.steps, args.warmup)
            base, new = (1e3 * statistics.median(wall) for wall, _ in times.values())
            print(
                f"{stage:8s} step: {args.revision} {base:.2f} ms, this checkout {new:.2f} ms "
                f"({new / base:.2f}x), medians of {args.steps} alternated steps"
            )


if __name__ == "__main__":
    main()
