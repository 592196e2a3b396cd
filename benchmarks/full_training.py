"""Benchmark ``full_training`` end to end: speed, memory and the quality it buys.

    .venv/bin/python benchmarks/full_training.py                      # 60,000 mice, 3 seeds
    .venv/bin/python benchmarks/full_training.py --scaling 15000 60000 240000 --seeds 42
    .venv/bin/python benchmarks/full_training.py --device cuda --seeds 42   # on a GPU machine

For each size, the ``synthetic_data`` pipeline writes the default export, then
``full_training`` runs once per seed in ``--seeds`` (default 42, 7 and 11) with default
parameters otherwise, each in a fresh process on a throw-away project copy (see harness.py).
Runs differ by seed rather than repeat one seed because a run is deterministic: repeats only
re-measure time, while the quality metrics move as much between seeds (and with any change
in rounding) as between settings, so one seed cannot show that quality held. Reported per
size: medians over the runs of the wall time per stage and in total (from the
StageTimingHook's ``timing/*`` MLflow metrics), time per epoch and per training step, steps
per second, peak resident memory, thread count and device, and every run's quality metrics
(clusters used, silhouette, planted-line recall, ARI) with their medians, so that speed is
never bought with quality. Also written as JSON (``--output``), and with ``--docs`` as
a Markdown table under docs/benchmarks/ (render.py).

Targets (issue 5, 60,000 mice, 2-core CPU): total <= 180 s, a joint step at batch 512
<= 6 ms (see training_step.py for the isolated step), peak RSS <= 2 GB, and 240k mice
within 4.5x the time of 60k. The stop rules end the joint stage after a number of epochs
that moves with seed, size and rounding, so ``make bench-scaling`` switches them off: every
size runs all 50 + 150 epochs, and the ratio measures what a mouse costs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import mlflow
import pandas as pd
import render
from harness import REPO_ROOT, make_project, spawn, worker_main

QUALITY = {
    "clusters_used": "eval/clusters_used",
    "largest_cluster_share": "eval/largest_cluster_share",
    "silhouette": "eval/silhouette",
    "planted_line_recall": "eval/line_recall",
    "ari_affected": "eval/ari_affected",
}
STAGES = ("data_processing", "pretraining", "cluster_init", "joint_training", "evaluation")


def latest_run(project: Path) -> mlflow.entities.Run:
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(experiments, order_by=["start_time DESC"], max_results=1)[0]


def epoch_figures(project: Path, history_name: str) -> dict[str, float]:
    """Median epoch time, and the step time from the engine's timing of its step loop
    (``steps_seconds`` / ``steps`` per epoch: the optimisation steps alone, without planning
    the epoch and without its validation and DEC-target passes), from a stage's history
    JSON."""
    history = json.loads(
        (project / f"data/runs/latest/08_reporting/{history_name}.json").read_text()
    )
    step_s = statistics.median(
        seconds / steps
        for seconds, steps in zip(history["steps_seconds"], history["steps"], strict=True)
    )
    return {
        "epochs": len(history["epoch_seconds"]),
        "epoch_s": statistics.median(history["epoch_seconds"]),
        "steps_per_epoch": statistics.median(history["steps"]),
        "step_ms": 1000 * step_s,
        "steps_per_s": 1 / step_s,
    }


def one_run(project: Path, params: dict) -> dict:
    return run_figures(project, spawn(__file__, project, "full_training", params))


def run_figures(project: Path, process: dict) -> dict:
    """The project's latest full_training run, from its MLflow run, its histories and the
    process that ran it (harness.run_worker's figures)."""
    run = latest_run(project)
    metrics = run.data.metrics
    return {
        "total_s": metrics["timing/total_seconds"],
        "process_s": process["process_s"],
        "peak_rss_mib": process["peak_rss_mib"],
        "training_threads": int(run.data.params["joint_training.num_threads"]),
        "cuda_available": process["cuda_available"],
        **{f"{stage}_s": metrics.get(f"timing/{stage}_seconds", 0.0) for stage in STAGES},
        **{f"pretrain_{k}": v for k, v in epoch_figures(project, "pretraining_history").items()},
        **{f"joint_{k}": v for k, v in epoch_figures(project, "joint_training_history").items()},
        **{name: metrics.get(key, float("nan")) for name, key in QUALITY.items()},
        "method_comparison": pd.read_csv(
            project / "data/runs/latest/08_reporting/method_comparison.csv"
        ).to_dict("records"),
    }


def benchmark_size(n_mice: int, seeds: list[int], params: dict) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench_full_training_") as folder:
        project = make_project(Path(folder))
        spawn(__file__, project, "synthetic_data", {"synthetic": {"n_mice": n_mice}})
        runs = [{"seed": seed, **one_run(project, params | {"seed": seed})} for seed in seeds]
    return size_result(n_mice, runs)


def size_result(n_mice: int, runs: list[dict]) -> dict:
    """A data size's runs and the median of each of their figures."""
    medians = {
        key: statistics.median(run[key] for run in runs)
        for key, value in runs[0].items()
        if isinstance(value, int | float) and key != "seed"
    }
    return {"n_mice": n_mice, "runs": runs, "median": medians}


def print_size(result: dict) -> None:
    m = result["median"]
    print(f"\n{result['n_mice']} mice, {len(result['runs'])} run(s), medians:")
    print(f"  total wall (full_training): {m['total_s']:.1f} s   process: {m['process_s']:.1f} s")
    print("  per stage: " + ", ".join(f"{s} {m[f'{s}_s']:.1f} s" for s in STAGES))
    for stage in ("pretrain", "joint"):
        print(
            f"  {stage}: {m[f'{stage}_epochs']:.0f} epochs, {m[f'{stage}_epoch_s']:.2f} s/epoch, "
            f"{m[f'{stage}_steps_per_epoch']:.0f} steps/epoch, {m[f'{stage}_step_ms']:.2f} ms/step, "
            f"{m[f'{stage}_steps_per_s']:.0f} steps/s"
        )
    print(
        f"  peak RSS: {m['peak_rss_mib']:.0f} MiB   training threads: {m['training_threads']:.0f}"
    )
    print("  quality: " + ", ".join(f"{k} {m[k]:.3f}" for k in QUALITY))
    for run in result["runs"]:
        print(
            f"  seed {run['seed']}: total {run['total_s']:.1f} s, joint epochs "
            f"{run['joint_epochs']:.0f}, " + ", ".join(f"{k} {run[k]:.3f}" for k in QUALITY)
        )
    comparison = pd.DataFrame(result["runs"][-1]["method_comparison"]).set_index("method")
    columns = ["clusters_used", "silhouette", "line_recall", "ari_affected", "nmi_affected"]
    print("  model and baselines (last run):")
    print(comparison[[c for c in columns if c in comparison]].round(3).to_string())


def benchmark_record(device: str, results: list[dict]) -> dict:
    """What the JSON holds (and its docs table shows): the device the runs trained on (for
    ``auto``: cuda when the runs saw it) and every size's runs and medians."""
    cuda = any(run["cuda_available"] for result in results for run in result["runs"])
    used = "cuda" if device == "cuda" or (device == "auto" and cuda) else "cpu"
    return {**render.provenance(), "device": used, "results": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-mice", type=int, default=60000)
    parser.add_argument("--scaling", type=int, nargs="+", help="several sizes, e.g. 15000 60000")
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[42, 7, 11], help="one run per seed"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument(
        "--params",
        type=json.loads,
        default={},
        help='extra nested params as JSON, e.g. \'{"joint_training": {"epochs": 30}}\'',
    )
    parser.add_argument(
        "--output", type=Path, default=REPO_ROOT / "data/08_reporting/benchmark_full_training.json"
    )
    render.add_docs_option(parser)
    args = parser.parse_args()

    params = {stage: {"device": args.device} for stage in ("pretraining", "joint_training")}
    for key, value in args.params.items():
        params[key] = {**params.get(key, {}), **value} if isinstance(value, dict) else value
    sizes = args.scaling or [args.n_mice]
    results = []
    for n_mice in sizes:
        results.append(benchmark_size(n_mice, args.seeds, params))
        print_size(results[-1])
    for smaller, larger in zip(results, results[1:], strict=False):
        small, large = smaller["median"], larger["median"]
        print(
            f"{larger['n_mice']} vs {smaller['n_mice']} mice: "
            f"{larger['n_mice'] / smaller['n_mice']:.1f}x the data, "
            f"{large['total_s'] / small['total_s']:.2f}x the time; per epoch "
            f"{large['pretrain_epoch_s'] / small['pretrain_epoch_s']:.2f}x (pretraining) and "
            f"{large['joint_epoch_s'] / small['joint_epoch_s']:.2f}x (joint), "
            f"joint epochs {small['joint_epochs']:.0f} and {large['joint_epochs']:.0f}"
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(benchmark_record(args.device, results), indent=2))
    print(f"\nwritten: {args.output}")
    if args.docs is not None:
        table = "scaling" if args.scaling else "full_training"
        print(f"written: {render.write_doc(table, args.output, args.docs)}")


if __name__ == "__main__" and not worker_main(sys.argv):
    main()
