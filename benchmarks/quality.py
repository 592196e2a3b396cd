"""Quality benchmark: does the model find phenotypes rather than centres, over data seeds?

    make bench-quality          # 60,000 mice, data seeds 1 2 3, configurations default + seed_guide
    make bench-variants         # the default beside every variant in variants.py
    .venv/bin/python benchmarks/quality.py --n-mice 3000 --seeds 1 \\
        --params '{"pretraining": {"epochs": 2}, "joint_training": {"epochs": 2}}'   # smoke run

For each data seed, the ``synthetic_data`` pipeline writes the default export with
``synthetic.seed`` = that seed, and ``full_training`` runs on it once per configuration:
``default`` (conf/base) and each other name as a Kedro environment (conf/<name>, e.g.
``seed_guide``), and each ``--variants`` name (benchmarks/variants.py: runtime parameters
over conf/base). Every run is a fresh process on its own throw-away project copy with its
own MLflow store (harness.py), ``--jobs`` at a time. Each run's ``method_comparison`` is read
back, and one table is printed and written (``--output``, JSON with every run, and the same
path with ``.csv`` for the table): one row per model configuration and per baseline, and
for each honest score its median and its worst value over the seeds (the largest for scores
where lower is better, the smallest for the others). Each run's ``gene_call_comparison`` is
read back too: the gene calls and the ``line_test`` baseline per data seed, with issue 32's
targets judged (gene_table.py). A baseline that does not depend on the
trained network comes out the same under every configuration and is shown once; one that
does (``kmeans_pretrained_latent``) gets a row per configuration. With ``--docs`` the
JSON is also rendered as a Markdown table under docs/benchmarks/ (render.py).

"Controls with sporadic loss" is the share the truth file gives (the data's, not a
method's): a method should put about that share of controls in hearing-loss clusters, no
more. It is empty when the truth file has no ``sporadic_loss`` column.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import render
import variants
from gene_table import gene_call_blocks
from harness import REPO_ROOT, make_project, merged, spawn, worker_main

DEFAULT = "default"
MODEL = "model"

#: Column title of each score and whether lower is better (its worst is then the largest).
SCORES: dict[str, tuple[str, bool]] = {
    "nmi_centre": ("NMI centre", True),
    "line_false_positive_rate_any_cluster": ("null FPR any cluster", True),
    "line_false_positive_rate": ("null FPR hearing-loss clusters", True),
    "ari_affected": ("ARI affected", False),
    "line_recall": ("planted-line recall", False),
    "controls_in_hearing_loss_clusters": ("controls in HL clusters", True),
    "controls_with_sporadic_loss": ("controls with sporadic loss", True),
}


def one_run(
    n_mice: int, seed: int, configuration: str, kedro_env: str | None, params: dict
) -> dict:
    """Make the data of ``seed`` and train on it in the Kedro environment ``kedro_env`` with
    ``params``, in a fresh copy; ``configuration`` names the pair in the table."""
    with tempfile.TemporaryDirectory(prefix=f"bench_quality_{seed}_{configuration}_") as folder:
        project = make_project(Path(folder))
        synthetic = {"synthetic": {"n_mice": n_mice, "seed": seed}}
        spawn(__file__, project, "synthetic_data", synthetic)
        process = spawn(__file__, project, "full_training", params, kedro_env)
        run = run_record(project, seed, configuration, process)
    print(f"  seed {seed}, {configuration}: {process['pipeline_s']:.0f} s", flush=True)
    return run


def run_record(project: Path, seed: int, configuration: str, process: dict) -> dict:
    """One run as the JSON keeps it: its wall time and the latest run's method comparison
    and gene-call comparison."""
    reporting = project / "data/runs/latest/08_reporting"
    tables = {
        name: json.loads(pd.read_csv(reporting / f"{name}.csv").to_json(orient="records"))
        for name in ("method_comparison", "gene_call_comparison")
    }
    return {
        "seed": seed,
        "configuration": configuration,
        "pipeline_s": process["pipeline_s"],
        **tables,
    }


def per_seed_scores(runs: list[dict]) -> dict[str, pd.DataFrame]:
    """Rows of the table, each a frame of seeds x scores.

    The model gets a row per configuration; a baseline one row when every configuration
    gave it the same scores, else a row per configuration.
    """
    configurations = list(dict.fromkeys(run["configuration"] for run in runs))
    frames: dict[tuple[str, str], pd.DataFrame] = {}
    for configuration in configurations:
        records = [
            {"seed": run["seed"], **row}
            for run in runs
            if run["configuration"] == configuration
            for row in run["method_comparison"]
        ]
        table = pd.DataFrame(records).reindex(columns=["seed", "method", *SCORES])
        for method, scores in table.groupby("method", sort=False):
            frames[method, configuration] = scores.set_index("seed")[list(SCORES)].sort_index()
    methods = list(dict.fromkeys(method for method, _ in frames))
    rows: dict[str, pd.DataFrame] = {}
    for method in [MODEL, *(m for m in methods if m != MODEL)]:
        variants = [frames[method, c] for c in configurations if (method, c) in frames]
        same = all(v.equals(variants[0]) for v in variants)
        if method != MODEL and same:
            rows[method] = variants[0]
            continue
        for configuration in configurations:
            if (method, configuration) in frames:
                rows[f"{method} ({configuration})"] = frames[method, configuration]
    return rows


def summary_table(rows: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Median and worst over seeds of every score, one row per model or baseline."""
    table = {}
    for name, scores in rows.items():
        cells = {}
        for metric, (title, lower_is_better) in SCORES.items():
            values = scores[metric].dropna()
            worst = values.max() if lower_is_better else values.min()
            cells[title, "median"] = values.median() if len(values) else float("nan")
            cells[title, "worst"] = worst if len(values) else float("nan")
        table[name] = cells
    frame = pd.DataFrame.from_dict(table, orient="index")
    frame.columns = pd.MultiIndex.from_tuples(frame.columns)
    return frame.rename_axis("method")


def benchmark_record(args: argparse.Namespace, chosen: dict[str, dict], runs: list[dict]) -> dict:
    """What the JSON holds (and its docs table shows): the settings, the table of medians
    and worsts with one column per score and statistic, the gene calls and line_test per
    data seed with issue 32's targets (gene_table.py), and every run."""
    table = summary_table(per_seed_scores(runs))
    table.columns = [f"{title} ({stat})" for title, stat in table.columns]
    return {
        **render.provenance(),
        "n_mice": args.n_mice,
        "seeds": args.seeds,
        "configurations": [*args.configurations, *chosen],
        "variants": chosen,
        "params": args.params,
        "median_pipeline_s": statistics.median(run["pipeline_s"] for run in runs),
        "table": json.loads(table.reset_index().to_json(orient="records")),
        "gene_calls": gene_call_blocks(
            {
                configuration: {
                    run["seed"]: run["gene_call_comparison"]
                    for run in runs
                    if run["configuration"] == configuration
                }
                for configuration in dict.fromkeys(run["configuration"] for run in runs)
            }
        ),
        "runs": runs,
    }


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-mice", type=int, default=60000)
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[1, 2, 3], help="data seeds (synthetic.seed)"
    )
    parser.add_argument(
        "--configurations",
        nargs="+",
        default=[DEFAULT, "seed_guide"],
        help=f"'{DEFAULT}' (conf/base) and/or Kedro environments under conf/",
    )
    parser.add_argument(
        "--params",
        type=json.loads,
        default={},
        help="extra nested params for every full_training run, e.g. '{\"seed\": 7}'",
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        default=[],
        help=f"also these variants of conf/base (or all): {', '.join(variants.VARIANTS)}",
    )
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (one core each)")
    parser.add_argument(
        "--output", type=Path, default=REPO_ROOT / "data/08_reporting/benchmark_quality.json"
    )
    render.add_docs_option(parser)
    return parser


def main() -> None:
    parser = arguments()
    args = parser.parse_args()
    for configuration in args.configurations:
        if configuration != DEFAULT and not (REPO_ROOT / "conf" / configuration).is_dir():
            parser.error(f"no Kedro environment conf/{configuration}")
    try:
        chosen = variants.chosen(args.variants) if args.variants else {}
    except ValueError as error:
        parser.error(str(error))
    overlap = set(chosen) & set(args.configurations)
    if overlap:
        parser.error(f"{sorted(overlap)}: both a configuration and a variant")
    # (name in the table, Kedro environment, runtime params)
    setups = [(c, None if c == DEFAULT else c, args.params) for c in args.configurations]
    setups += [(name, None, merged(args.params, change)) for name, change in chosen.items()]

    jobs = [(seed, *setup) for seed in args.seeds for setup in setups]
    print(f"{len(jobs)} full_training runs on {args.n_mice} mice, {args.jobs} at a time:")
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(one_run, args.n_mice, *job) for job in jobs]
        runs = [future.result() for future in futures]
    record = benchmark_record(args, chosen, runs)
    table = pd.DataFrame(record["table"]).set_index("method")

    with pd.option_context("display.width", 250, "display.max_columns", None):
        print(f"\n{args.n_mice} mice, data seeds {args.seeds}: median and worst over seeds")
        print(table.round(3).to_string())
        for block in record["gene_calls"]:
            print(f"\ngene calls and line_test ({', '.join(block['configurations'])}):")
            print(pd.DataFrame(block["rows"]).round(3).to_string(index=False))
            for check in block["targets"]:
                print(f"  {'met' if check['met'] else 'NOT MET'}: {check['target']}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    table.reset_index().to_csv(args.output.with_suffix(".csv"), index=False)
    args.output.write_text(json.dumps(record, indent=2))
    print(f"\nwritten: {args.output} and {args.output.with_suffix('.csv')}")
    if args.docs is not None:
        table = "quality_variants" if chosen else "quality"
        print(f"written: {render.write_doc(table, args.output, args.docs)}")


if __name__ == "__main__" and not worker_main(sys.argv):
    main()
