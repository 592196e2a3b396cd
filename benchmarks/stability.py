"""Benchmark the ``stability`` pipeline: seeds on a LocalCluster against one full_training.

    make bench-stability            # 60,000 mice (the default data), 5 seeds, 2 workers
                                    # (--serial: the same members on 1 worker first)
    .venv/bin/python benchmarks/stability.py --n-mice 3000 --seeds 1 2 \\
        --params '{"pretraining": {"epochs": 2}, "joint_training": {"epochs": 2}}'  # smoke run
    .venv/bin/python benchmarks/stability.py --data-seed 3 --reference-seeds 1  # other data
    .venv/bin/python benchmarks/stability.py --seeds 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 \
        --reference-seeds 1 --set-size 5 --random-sets 20  # the consensus of many 5-seed sets
    .venv/bin/python benchmarks/stability.py --keep /tmp/kept  # then: seed_sets.py /tmp/kept

In one throw-away project copy (harness.py), each in a fresh process: ``synthetic_data``
writes the default export, ``full_training`` runs once per reference seed (by default the
members' seeds: the seed moves the epoch at which early stopping ends a run, so one seed's
time would be a poor reference; T is their median), then ``stability`` trains one member
per seed on a LocalCluster of ``--workers`` processes. The targets (issues 17 and 32), each
printed as met or missed with its numbers:

* wall time of the stability run <= 1.2 x (seeds x T / workers);
* median pairwise ARI between members >= 0.80, over all mice (issue 32) and over affected
  mice (issue 17);
* the consensus at least as good as the median member on ARI affected, planted-line recall,
  null-line FPR over any cluster and NMI with the centre;
* lines enriched in >= 80% of members: null-line false-positive rate <= 0.01;
* peak memory per worker <= 2 GB (each worker's resident peak, as its members saw it).

One set of five seeds is one draw of the consensus target; ``--set-size`` also rebuilds the
consensus of each set of that many seeds (``seed_sets.py``) and prints how often it met it.
Written as JSON (``--output``) with every figure and the member table, and with ``--docs``
as a Markdown table under docs/benchmarks/ (render.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
from pathlib import Path

import pandas as pd
import render
from harness import REPO_ROOT, make_project, merged, newest, spawn, worker_main
from seed_sets import TARGET_SCORES, consensus_over_sets, shares_met

MIN_MEDIAN_ARI_ALL = 0.80  # issue 32: over all mice, normal hearing included
MIN_MEDIAN_ARI_AFFECTED = 0.80  # issue 17
MAX_STABLE_NULL_FPR = 0.01
MAX_WORKER_PEAK_MIB = 2000.0  # 2 GB
TIME_FACTOR = 1.2


def run_benchmark(
    n_mice: int,
    data_seed: int | None,
    seeds: list[int],
    reference_seeds: list[int],
    workers: int,
    params: dict,
    serial: bool,
    set_size: int | None,
    random_sets: int,
    keep: Path | None = None,
) -> dict:
    """Make the data, time full_training per reference seed, then the stability run (first
    on one worker too when ``serial``: how much the second worker buys on this machine);
    with ``set_size``, the consensus of each set of that many of its members too. The
    project is thrown away unless ``keep`` names a new folder to leave it in."""
    if keep is not None:
        keep.mkdir(parents=True)  # a new folder: a kept run must not mix with another's
    place = (
        tempfile.TemporaryDirectory(prefix="bench_stability_")
        if keep is None
        else contextlib.nullcontext(str(keep))
    )
    with place as folder:
        project = make_project(Path(folder))
        synthetic = {"n_mice": n_mice} | ({} if data_seed is None else {"seed": data_seed})
        spawn(__file__, project, "synthetic_data", {"synthetic": synthetic})
        full = []
        for seed in reference_seeds:
            full.append(spawn(__file__, project, "full_training", merged(params, {"seed": seed})))
            print(f"full_training, seed {seed}: {full[-1]['pipeline_s']:.0f} s", flush=True)
        # members train on the project seed's split, as `kedro run --pipeline stability` does
        # after `make run`: a fresh data_processing run (the latest) makes it
        # (with only what it reads: a run refuses a parameter it would ignore)
        processing = {k: v for k, v in params.items() if k in ("data_processing", "raw_abr_path")}
        spawn(__file__, project, "data_processing", processing)
        one_worker = None
        if serial:
            serial_params = merged(
                params, {"stability": {"seeds": seeds, "cluster": {"n_workers": 1}}}
            )
            one_worker = spawn(__file__, project, "stability", serial_params)
            print(f"stability on 1 worker: {one_worker['pipeline_s']:.0f} s", flush=True)
        stability_params = merged(
            params, {"stability": {"seeds": seeds, "cluster": {"n_workers": workers}}}
        )
        stability = spawn(__file__, project, "stability", stability_params)
        print(f"stability, seeds {seeds}: {stability['pipeline_s']:.0f} s", flush=True)
        outputs = stability_outputs(project, set_size, random_sets, params)
    return {
        "one_worker": one_worker,
        "full_training": full,
        "one_full_training_s": statistics.median(run["pipeline_s"] for run in full),
        "stability": stability,
        **outputs,
    }


def stability_outputs(
    project: Path, set_size: int | None, random_sets: int, params: dict
) -> dict[str, object]:
    """The newest stability run's summary, member table and consensus scores in ``project``;
    with ``set_size``, the consensus of each set of that many of its members too."""
    return {
        "summary": json.loads(newest(project, "stability/stability_summary.json").read_text()),
        "members": pd.read_csv(newest(project, "stability/members.csv")),
        "consensus": pd.read_csv(newest(project, "stability/consensus_scores.csv")),
        "seed_sets": consensus_over_sets(project, set_size, random_sets, params)
        if set_size
        else None,
    }


def targets(run: dict, seeds: list[int], workers: int) -> dict[str, dict]:
    """Each target with its measured value, its bound and whether it was met."""
    bound = TIME_FACTOR * len(seeds) * run["one_full_training_s"] / workers
    summary, members = run["summary"], run["members"]
    consensus = run["consensus"].set_index("score")
    checks = {
        "wall_time_s": (run["stability"]["pipeline_s"], bound, "<="),
        "median_pairwise_ari": (
            summary.get("median_pairwise_ari", float("nan")),
            MIN_MEDIAN_ARI_ALL,
            ">=",
        ),
        "median_pairwise_ari_affected": (
            summary.get("median_pairwise_ari_affected", float("nan")),
            MIN_MEDIAN_ARI_AFFECTED,
            ">=",
        ),
        "stable_null_line_false_positive_rate": (
            summary.get("stable_null_line_false_positive_rate", float("nan")),
            MAX_STABLE_NULL_FPR,
            "<=",
        ),
        "worker_peak_rss_mib": (
            float(members["worker_peak_rss_mib"].max()),
            MAX_WORKER_PEAK_MIB,
            "<=",
        ),
    }
    result = {
        name: {
            "value": value,
            "bound": limit,
            "met": bool(value <= limit if op == "<=" else value >= limit),
        }
        for name, (value, limit, op) in checks.items()
    }
    for score in TARGET_SCORES:
        if score in consensus.index:
            row = consensus.loc[score]
            result[f"consensus_{score}"] = {
                "value": float(row["consensus"]),
                "bound": float(row["member_median"]),
                "met": bool(row["consensus_at_least_median"]),
            }
    return result


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-mice", type=int, default=60000)
    parser.add_argument(
        "--data-seed", type=int, help="synthetic export's seed (default: conf/base's, 42)"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument(
        "--reference-seeds", type=int, nargs="+", help="full_training seeds (default: --seeds)"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--serial", action="store_true", help="also run the members on one worker, first"
    )
    parser.add_argument(
        "--set-size",
        type=int,
        help="also rebuild the consensus of each set of this many consecutive seeds "
        "(e.g. --seeds 1 ... 15 --set-size 5) and score it against that set's median member",
    )
    parser.add_argument(
        "--random-sets", type=int, default=0, help="with --set-size: also this many drawn sets"
    )
    parser.add_argument("--params", type=json.loads, default={}, help="runtime params (JSON)")
    parser.add_argument(
        "--keep",
        type=Path,
        help="leave the project in this new folder (for seed_sets.py PROJECT) instead of "
        "throwing it away",
    )
    parser.add_argument(
        "--output", type=Path, default=REPO_ROOT / "data/08_reporting/benchmark_stability.json"
    )
    render.add_docs_option(parser)
    return parser


def benchmark_record(args: argparse.Namespace, run: dict, checks: dict) -> dict:
    """What the JSON holds (and its docs table shows): the settings, every timing, the
    targets, the pipeline's summary, the member table and the seed sets' shares."""
    seed_sets, one = run["seed_sets"], run["one_full_training_s"]
    return {
        **render.provenance(),
        "n_mice": args.n_mice,
        "data_seed": args.data_seed,
        "seeds": args.seeds,
        "workers": args.workers,
        "params": args.params,
        "reference_seeds": args.reference_seeds or args.seeds,
        "full_training_s": [r["pipeline_s"] for r in run["full_training"]],
        "one_full_training_s": one,
        "stability_s": run["stability"]["pipeline_s"],
        "stability_one_worker_s": run["one_worker"] and run["one_worker"]["pipeline_s"],
        "time_bound_s": TIME_FACTOR * len(args.seeds) * one / args.workers,
        "driver_peak_rss_mib": run["stability"]["peak_rss_mib"],
        "full_training_peak_rss_mib": max(r["peak_rss_mib"] for r in run["full_training"]),
        "targets": checks,
        "summary": run["summary"],
        "members": json.loads(run["members"].to_json(orient="records")),
        "set_size": args.set_size,
        "random_sets": args.random_sets,
        "seed_sets": None if seed_sets is None else json.loads(seed_sets.to_json(orient="records")),
        "seed_set_shares": None
        if seed_sets is None
        else json.loads(shares_met(seed_sets).to_json(orient="records")),
    }


def main() -> None:
    args = arguments().parse_args()
    reference_seeds = args.reference_seeds or args.seeds
    run = run_benchmark(
        args.n_mice,
        args.data_seed,
        args.seeds,
        reference_seeds,
        args.workers,
        args.params,
        args.serial,
        args.set_size,
        args.random_sets,
        args.keep,
    )
    checks = targets(run, args.seeds, args.workers)
    one = run["one_full_training_s"]
    print(
        f"\none full_training (median of seeds {reference_seeds}): {one:.0f} s; stability ({len(args.seeds)} seeds, "
        f"{args.workers} workers): {run['stability']['pipeline_s']:.0f} s; driver peak "
        f"{run['stability']['peak_rss_mib']:.0f} MiB"
    )
    columns = [
        "member",
        "status",
        "total_seconds",
        "pretrain_epochs",
        "joint_epochs",
        "worker_pid",
        "worker_peak_rss_mib",
        "ari_affected",
        "line_recall",
        "line_false_positive_rate_any_cluster",
        "nmi_centre",
    ]
    with pd.option_context("display.width", 250, "display.max_columns", None):
        print(run["members"][[c for c in columns if c in run["members"]]].round(3).to_string())
        print(run["consensus"].round(4).to_string())
    if run["one_worker"]:
        serial_s = run["one_worker"]["pipeline_s"]
        print(
            f"on 1 worker: {serial_s:.0f} s; {args.workers} workers: "
            f"{serial_s / run['stability']['pipeline_s']:.2f}x faster"
        )
    for name, check in checks.items():
        verdict = "met" if check["met"] else "MISSED"
        print(f"{name}: {check['value']:.4g} (bound {check['bound']:.4g}) {verdict}")
    seed_sets = run["seed_sets"]
    if seed_sets is not None:
        print(f"\nconsensus of each set of {args.set_size} seeds against its median member:")
        with pd.option_context("display.width", 250, "display.max_columns", None):
            print(seed_sets.round(5).to_string())
            print(shares_met(seed_sets).round(5).T.to_string())

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(benchmark_record(args, run, checks), indent=2))
    print(f"\nwritten: {args.output}")
    if args.docs is not None:
        print(f"written: {render.write_doc('stability', args.output, args.docs)}")


if __name__ == "__main__" and not worker_main(sys.argv):
    main()
