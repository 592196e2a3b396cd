"""The gene calls as a new user meets them: one real ``full_training`` on a small synthetic
export, in a throw-away project copy with its own MLflow store.

One line of the export is moved to an equipment model no control was tested on (so it has
no matched controls), and another loses two of its four mice.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from audiometric_clustering.genes.calls import COLUMNS
from audiometric_clustering.genes.phenotypes import COLUMNS as PHENOTYPE_COLUMNS
from audiometric_clustering.genes.plots import PLOT_FILE
from audiometric_clustering.impc import schema
from audiometric_clustering.impc.lines import build_line_id
from audiometric_clustering.run_folders import LATEST

pytestmark = pytest.mark.slow  # a real full_training

TINY = {
    "pretraining": {"epochs": 2},
    "joint_training": {"epochs": 2, "warmup_epochs": 1},
    "cluster_init": {"n_init": 1},
    "evaluation": {"kmeans_n_init": 1, "silhouette_sample_size": 300},
}


def test_full_training_writes_the_gene_calls_their_report_section_and_metrics(
    run_pipeline, kedro_project: Path
) -> None:
    run_pipeline("synthetic_data", {"synthetic": {"n_mice": 1500}})
    export = pd.read_csv(kedro_project / "data/01_raw/impc_abr_synthetic.csv")
    line_ids = build_line_id(export)
    sizes = line_ids.value_counts()
    alone, small = sizes.index[(sizes == 4) & (sizes.index != "")][:2]
    export.loc[line_ids == alone, schema.EQUIPMENT_MODEL] = "a model no control had"
    export = export.drop(index=export.index[line_ids == small][:2])
    path = kedro_project / "data/01_raw/with_a_lone_line.csv"
    export.to_csv(path, index=False)
    run_pipeline("full_training", {"raw_abr_path": str(path), **TINY})

    folder = kedro_project / "data/runs" / LATEST
    calls = pd.read_csv(folder / "07_model_output/gene_calls.csv").set_index("line_id")
    assert list(calls.columns) == [*COLUMNS[1:], *PHENOTYPE_COLUMNS]
    assert calls.loc[alone, "untestable_reason"].startswith(
        "no matched controls: its matched group has 0 controls, fewer than "
        "min_matched_controls = 20"
    )
    assert calls.loc[small, "untestable_reason"].startswith("too few mutants: 2 with measured")
    untestable = calls["untestable_reason"].notna()
    assert (
        not calls.loc[untestable, "called"].any() and calls.loc[untestable, "q_value"].isna().all()
    )
    tested = calls.loc[~untestable]
    assert tested["called"].any() and tested["q_value"].is_monotonic_increasing
    assert (tested["called"] == (tested["q_value"] <= 0.05)).all()
    model_input = pd.read_parquet(folder / "05_model_input/model_input.parquet")
    modelled = set(model_input["line_id"]) - {""}
    assert tested.loc[tested.index.isin(modelled), "phenotype_label"].notna().all()
    assert tested["phenotype_mean_assignment"].dropna().between(0, 1).all()
    assert (tested["effect_30kHz_ci_low_db"] <= tested["effect_30kHz_db"]).all()

    comparison = pd.read_csv(folder / "08_reporting/gene_call_comparison.csv").set_index("method")
    assert {"gene_calls", "line_test", "model", "gmm_line_shrunk"} <= set(comparison.index)
    for method in ("gene_calls", "line_test"):
        assert 0 <= comparison.loc[method, "recall"] <= 1
        assert 0 <= comparison.loc[method, "null_fpr"] <= 1
    assert comparison.loc["gene_calls", "untestable_lines"] == untestable.sum()

    report = (folder / "08_reporting/evaluation_report.md").read_text()
    genes = report[report.index("## Genes") : report.index("## Model and baselines")]
    assert f"| tested | {len(tested)} |" in genes
    assert "no matched controls: " in genes and "too few mutants: 1" in genes
    first = tested.iloc[0]
    assert f"| {first['gene_symbol']} | " in genes  # the smallest q leads the calls
    assert f"](plots/{PLOT_FILE})" in genes and "| line_test | per-line test |" in genes
    assert (folder / "08_reporting/plots" / PLOT_FILE).read_bytes()[:4] == b"\x89PNG"

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{kedro_project / 'mlflow.db'}")
    experiments = [e.experiment_id for e in client.search_experiments()]
    run = client.search_runs(experiments, order_by=["start_time DESC"])[0]
    metrics = run.data.metrics
    assert metrics["eval/gene_calls/tested_lines"] == len(tested)
    assert metrics["eval/gene_calls/untestable_lines"] == untestable.sum()
    assert metrics["eval/gene_calls/called_lines"] == tested["called"].sum()
    assert np.isclose(metrics["eval/line_test/recall"], comparison.loc["line_test", "recall"])
    assert "eval/gene_calls/false_share" in metrics or tested["called"].sum() == 0
    logged = {item.path for item in client.list_artifacts(run.info.run_id, "evaluation/genes")}
    assert "evaluation/genes/gene_calls.csv" in logged
