"""Time training steps at batch 512, the full-data passes, and whole epochs.

    .venv/bin/python benchmarks/training_step.py [--threads 1] [--steps 300] [--mice 60000]
    .venv/bin/python benchmarks/training_step.py --device cuda      # fp16 autocast on a GPU

Prints, per stage, the median (and 90th percentile) milliseconds of one optimisation step
after a warm-up, as wall time and as this thread's CPU time (CPU time is robust to other
processes taking the core; wall time is what a run costs), and the median of the same step
on a 16-mouse batch, alternated with the full ones: what a step costs with almost no data,
i.e. the overhead of its few hundred small operations, which no batch-size-dependent work
can remove. With ``--compile`` the same step with the forward and loss compiled by
``torch.compile`` is timed alternately too (after its compilation, which is reported). Then the
DEC-target pass over the training mice, the validation pass, whole joint epochs with the
resident memory after each (it must stay flat: a kept autograd graph would grow it every
epoch), and the projected time of a default run (50 pretraining + 150 joint epochs) from the
measured epochs.

The data are synthetic but IMPC-shaped: a quarter controls, knockout lines of 4-8 mice.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import math
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
import yaml
from harness import REPO_ROOT
from threadpoolctl import threadpool_limits

from audiometric_clustering.model import MouseTensors
from audiometric_clustering.model.inputs import line_means
from audiometric_clustering.training.loop import StageTrainer

PACKAGE = "audiometric_clustering"
VOCABULARY_SIZES = (2, 4, 6, 11, 9, 2, 6)  # as in the default synthetic export
CONF = REPO_ROOT / "conf" / "base"


def synthetic_tensors(n_mice: int, rng: np.random.Generator) -> MouseTensors:
    n_controls = n_mice // 4
    sizes = rng.integers(4, 9, size=n_mice)
    lines = np.repeat(np.arange(len(sizes)), sizes)[: n_mice - n_controls]
    abr = rng.uniform(0, 100, (n_mice, 6))
    observed = rng.random((n_mice, 6)) > 0.05
    line = np.r_[np.full(n_controls, -1), lines]
    return MouseTensors(
        abr=torch.from_numpy(abr.astype(np.float32)),
        observed=torch.from_numpy(observed.astype(np.float32)),
        continuous=torch.from_numpy(rng.normal(size=(n_mice, 2)).astype(np.float32)),
        categorical=torch.from_numpy(
            np.stack([rng.integers(0, size + 1, n_mice) for size in VOCABULARY_SIZES], 1)
        ),
        pca=torch.from_numpy(rng.normal(size=(n_mice, 2)).astype(np.float32)),
        line=torch.from_numpy(line),
        line_abr=torch.from_numpy(line_means(abr, observed, line)),
    )


def default_parameters(entry: str) -> dict:
    """``params:<entry>`` as conf/base defines it: the benchmark trains with the defaults."""
    for path in sorted(CONF.glob("parameters*.yml")):
        values = yaml.safe_load(path.read_text()) or {}
        if entry in values:
            return values[entry]
    raise KeyError(entry)


def trainer_for(
    stage: str,
    train: MouseTensors,
    validation: MouseTensors,
    threads: int,
    device: str = "cpu",
    package: str = PACKAGE,
    **changes: object,
) -> StageTrainer:
    """A trainer for ``stage`` with the default parameters and ``changes``, built with
    ``package``'s code (another name: another version, see compare_steps.py); ``train`` and
    ``validation`` must be that package's tensors."""
    loop = importlib.import_module(f"{package}.training.loop")
    settings_module = importlib.import_module(f"{package}.training.settings")
    runtime = importlib.import_module(f"{package}.training.runtime")
    model_module = importlib.import_module(f"{package}.model")
    model_settings = importlib.import_module(f"{package}.model.config").ModelSettings
    columns = importlib.import_module(f"{package}.impc.schema").CATEGORICAL_FEATURES
    entry = {"pretrain": "pretraining", "joint": "joint_training"}[stage]
    params = default_parameters(entry) | {"num_threads": threads, "device": device, **changes}
    settings = settings_module.stage_settings(params, 42, stage)
    vocabularies = {
        column: [str(v) for v in range(size)]
        for column, size in zip(columns, VOCABULARY_SIZES, strict=True)
    }
    runtime.seed_everything(42)
    model = model_module.ContrastiveVAEDEC(
        model_module.model_config_from(
            model_settings.from_params(default_parameters("model")), {"vocabularies": vocabularies}
        )
    )
    model.set_pca_scaling(train.pca)
    return loop.StageTrainer(model, train, validation, settings)


def step_runner(trainer: StageTrainer, rows: int | None = None) -> Callable[[], None]:
    """``run()``: the next of one epoch's full-size batches, in turn; waits for the GPU if any.

    The DEC target is fixed from one pass before the first step, as within an epoch. With
    ``rows``, each step takes only the first ``rows`` mice of its batch: the cost of a step
    that has almost no data, i.e. the per-step overhead of launching its operations.
    """
    batches = trainer.plan_epoch(trainer.train_data, trainer.rng)
    trainer.clusters.start()
    target = trainer.clusters.epoch_target(batches)
    full = [(a, b) for a, b in batches.plan.batches() if b - a > 0.95 * trainer.settings.batch_size]
    bounds = itertools.cycle(full)

    def run() -> None:
        start, stop = next(bounds)
        if rows is not None:
            stop = start + rows
        trainer.step(batches, start, stop, target)
        synchronise(trainer.device)

    return run


def time_alternated(
    runners: dict[str, Callable[[], None]], steps: int, warmup: int
) -> dict[str, tuple[list[float], list[float]]]:
    """Wall and thread-CPU seconds of ``steps`` calls of each runner after ``warmup`` calls,
    the runners taking turns call by call so that all see the same drift of this machine."""
    times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in runners}
    for index in range(warmup + steps):
        for name, run in runners.items():
            began, began_cpu = time.perf_counter(), time.thread_time()
            run()
            if index >= warmup:
                times[name][0].append(time.perf_counter() - began)
                times[name][1].append(time.thread_time() - began_cpu)
    return times


def synchronise(device: torch.device) -> None:
    """Wait for queued GPU work, so that a step's time is its own (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def resident_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def timed(function, device: torch.device) -> float:
    began = time.perf_counter()
    function()
    synchronise(device)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument(
        "--small-batch", type=int, default=16, help="mice per step for the overhead figure"
    )
    parser.add_argument("--mice", type=int, default=60000)
    parser.add_argument("--validation-share", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=2, help="whole epochs to time per stage")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--compile", action="store_true", help="also time the compiled step")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)  # numpy's BLAS as well, as the training engine does
    rng = np.random.default_rng(0)
    data = synthetic_tensors(args.mice, rng)
    in_validation = rng.random(args.mice) < args.validation_share
    train, validation = data.subset(~in_validation), data.subset(in_validation)
    print(
        f"{torch.get_num_threads()} thread(s), device {args.device}, "
        f"{len(train)} training mice, batch 512"
    )
    epoch_seconds = {}
    for stage in ("pretrain", "joint"):
        trainer = trainer_for(stage, train, validation, args.threads, args.device)
        runners = {"full": step_runner(trainer), "small": step_runner(trainer, args.small_batch)}
        if args.compile:
            compiled = trainer_for(
                stage, train, validation, args.threads, args.device, compile=True
            )
            runners["compiled"] = step_runner(compiled)
            print(f"  compiling: {timed(runners['compiled'], compiled.device):.1f} s")
        times = time_alternated(runners, args.steps, args.warmup)
        wall, cpu = times["full"]
        print(
            f"{stage:8s} step: median {1e3 * statistics.median(wall):.2f} ms wall "
            f"(p90 {1e3 * np.percentile(wall, 90):.2f}), "
            f"{1e3 * statistics.median(cpu):.2f} ms CPU, {args.steps} steps"
        )
        print(
            f"  the same step on {args.small_batch} mice: "
            f"{1e3 * statistics.median(times['small'][0]):.2f} ms wall (per-step overhead)"
        )
        if "compiled" in times:
            compiled_step = statistics.median(times["compiled"][0])
            print(
                f"  the same step compiled: {1e3 * compiled_step:.2f} ms wall "
                f"({compiled_step / statistics.median(wall):.2f}x the eager step)"
            )
        print(f"  validation pass: {1e3 * timed(trainer.validate, trainer.device):.0f} ms")
        if trainer.objective.uses_clusters:
            print(
                f"  DEC target pass: {1e3 * timed(trainer.clusters.start, trainer.device):.0f} ms"
            )
        trainer.clusters.start()
        seconds = []
        for epoch in range(args.epochs):
            began = time.perf_counter()
            trainer.train_epoch(epoch)
            trainer.validate()
            trainer.clusters.after_epoch(epoch, {})  # the pass that measures the clusters
            synchronise(trainer.device)
            seconds.append(time.perf_counter() - began)
            print(f"  epoch {epoch}: {seconds[-1]:.2f} s, resident {resident_mib():.0f} MiB")
        epoch_seconds[stage] = statistics.median(seconds) if seconds else math.nan
    total = 50 * epoch_seconds["pretrain"] + 150 * epoch_seconds["joint"]
    print(f"projected 50 + 150 epochs on {len(train)} training mice: {total:.0f} s")


if __name__ == "__main__":
    main()
