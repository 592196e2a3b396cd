"""Gene-call benchmark: does testing each line against its matched controls find the planted
genes, and does it beat the plain ``line_test``? (issue 32) No model is trained.

    make bench-genes                                                  # 60,000 mice, seeds 1 2 3
    .venv/bin/python benchmarks/gene_calls.py --n-mice 3000 --seeds 1  # smoke run
    .venv/bin/python benchmarks/gene_calls.py --data /tmp/gene_data    # keep the data, reuse it
    .venv/bin/python benchmarks/gene_calls.py --settings '{"contrasts": ["flat"]}'  # a variant

For each data seed, ``synthetic_data`` (``synthetic.seed`` = the seed, ``synthetic.n_mice``)
and ``data_processing`` run in fresh processes through a real KedroSession on a copy of the
project (harness.py); with ``--data`` that copy is kept there and a later run reuses it.
Then, in this process, ``call_genes`` (``evaluation.gene_calls`` of conf/base, changed by
``--settings``) and ``line_test`` run on the validated export, and
``genes.comparison.compare_line_calls`` (what the evaluation pipeline scores them with)
scores both against the truth file over the modelled lines. The gene calls and line_test
per data seed, median and worst, and issue 32's targets (gene_table.py, as
``make bench-quality`` shows them after training) are printed and written as JSON
(``--output``); ``--docs`` renders it (render.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import render
from gene_table import gene_call_blocks
from harness import REPO_ROOT, make_project, spawn, worker_main

RUN = "data/runs/latest"


def make_data(folder: Path, n_mice: int, seed: int) -> Path:
    """The project copy in ``folder`` with the data of ``seed`` (made unless already there)."""
    if not (folder / RUN / "05_model_input/model_input.parquet").exists():
        folder.mkdir(parents=True, exist_ok=True)
        project = make_project(folder)
        spawn(__file__, project, "synthetic_data", {"synthetic": {"n_mice": n_mice, "seed": seed}})
        spawn(__file__, project, "data_processing", {})
    return folder


def score_seed(project: Path, settings: dict) -> tuple[list[dict], float]:
    """Both methods on one data set, compared as the evaluation compares them (records of
    the comparison table), and the gene calls' wall time."""
    from kedro.config import OmegaConfigLoader

    from audiometric_clustering.genes.calls import call_genes
    from audiometric_clustering.genes.comparison import (
        GENE_CALLS,
        LINE_TEST,
        compare_line_calls,
        gene_call_lines,
        line_test_lines,
    )
    from audiometric_clustering.genes.line_test import line_test
    from audiometric_clustering.genes.scores import line_patterns
    from audiometric_clustering.genes.settings import GeneCallSettings

    parameters = OmegaConfigLoader(str(project / "conf"), base_env="base", default_run_env="local")
    match_columns = parameters["parameters"]["data_processing"]["control_reference"]
    defaults = parameters["parameters"]["evaluation"]["gene_calls"]
    gene_settings = GeneCallSettings.from_params({**defaults, **settings})
    validated = pd.read_parquet(project / RUN / "02_intermediate/validated_abr.parquet")
    modelled = pd.read_parquet(project / RUN / "05_model_input/model_input.parquet")
    truth = pd.read_csv(project / "data/01_raw/impc_abr_synthetic_truth.csv")
    patterns = line_patterns(truth, modelled)
    if patterns is None:
        raise ValueError(f"{project}: the truth file does not match the model-input table")
    started = time.perf_counter()
    calls = call_genes(validated, match_columns["match_columns"], gene_settings)
    seconds = time.perf_counter() - started
    baseline = line_test(validated, gene_settings.fdr, gene_settings.min_mutants)
    comparison = compare_line_calls(
        {GENE_CALLS: gene_call_lines(calls), LINE_TEST: line_test_lines(baseline)},
        len(calls),
        patterns,
        modelled.loc[~modelled["is_control"], "line_id"].unique(),
    )
    return json.loads(comparison.to_json(orient="records")), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-mice", type=int, default=60000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="data seeds")
    parser.add_argument("--data", type=Path, help="keep the data sets here and reuse them")
    parser.add_argument(
        "--settings", type=json.loads, default={}, help="evaluation.gene_calls changes, as JSON"
    )
    parser.add_argument(
        "--output", type=Path, default=REPO_ROOT / "data/08_reporting/benchmark_gene_calls.json"
    )
    render.add_docs_option(parser)
    args = parser.parse_args()

    per_seed, seconds = {}, {}
    with tempfile.TemporaryDirectory(prefix="bench_gene_calls_") as scratch:
        root = args.data or Path(scratch)
        for seed in args.seeds:
            project = make_data(root / f"seed{seed}_{args.n_mice}", args.n_mice, seed)
            per_seed[seed], seconds[seed] = score_seed(project, args.settings)
            print(f"  seed {seed}: gene calls {seconds[seed]:.1f} s", flush=True)
    record = {
        **render.provenance(),
        "n_mice": args.n_mice,
        "seeds": args.seeds,
        "settings": args.settings,
        "gene_calls_s": {str(seed): s for seed, s in seconds.items()},
        "median_gene_calls_s": statistics.median(seconds.values()),
        "gene_calls": gene_call_blocks(
            {"conf/base" + (" + --settings" if args.settings else ""): per_seed}
        ),
        "per_seed": {str(seed): comparison for seed, comparison in per_seed.items()},
    }
    (block,) = record["gene_calls"]
    with pd.option_context("display.width", 250, "display.max_columns", None):
        print(
            f"\n{args.n_mice} mice, data seeds {args.seeds}, settings {args.settings or 'conf/base'}"
        )
        print(pd.DataFrame(block["rows"]).round(3).to_string(index=False))
    for check in block["targets"]:
        print(f"  {'PASS' if check['met'] else 'FAIL'}  {check['target']}: {check['measured']}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(record, indent=2))
    print(f"\nwritten: {args.output}")
    if args.docs is not None:
        print(f"written: {render.write_doc('gene_calls', args.output, args.docs)}")


if __name__ == "__main__" and not worker_main(sys.argv):
    main()
