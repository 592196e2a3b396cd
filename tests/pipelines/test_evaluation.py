"""The evaluation pipeline end to end on a tiny real model, with MLflow logging.

The upstream checkpoints, histories and validated export are handed in memory (the stages that write them are
tested on their own); everything the evaluation writes goes through the project's catalog
into a throw-away project copy and a temporary MLflow store.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.runner import SequentialRunner

from audiometric_clustering.evaluation.plots import PLOT_FILES
from audiometric_clustering.genes.calls import COLUMNS as GENE_CALL_COLUMNS
from audiometric_clustering.genes.plots import PLOT_FILE as GENE_PLOT_FILE
from audiometric_clustering.impc.schema import (
    CATEGORICAL_FEATURES,
    CENTRE,
    CONTINUOUS_FEATURES,
    LINE_ID,
    PCA_FEATURES,
    SPECIMEN_ID,
)
from audiometric_clustering.model import ContrastiveVAEDEC, ModelConfig, MouseTensors
from audiometric_clustering.pipelines.evaluation import create_pipeline
from audiometric_clustering.training.checkpoints import checkpoint_from_model
from audiometric_clustering.training.cluster_init import ClusterInitSettings, initialise_centres
from tests.evaluation.mice import build_mice, validated_export
from tests.parameters import parameters

N_CLUSTERS = 4
RUN = "evaluated"


def _model_input(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    mice, patterns = build_mice(seed)
    rng = np.random.default_rng(seed)
    mice[list(CONTINUOUS_FEATURES)] = rng.normal(size=(len(mice), 2))
    for column in CATEGORICAL_FEATURES:
        mice[column] = rng.integers(0, 3, len(mice)).astype(np.int64)
    mice[CATEGORICAL_FEATURES[3]] = np.where(mice[CENTRE] == "A", 1, 2).astype(np.int64)
    mice[list(PCA_FEATURES)] = rng.normal(size=(len(mice), 2))
    return mice, patterns


def _checkpoints(mice: pd.DataFrame) -> tuple[dict, dict]:
    """A fresh model as the 'pretrained' one, and the same with k-means centres as 'trained'."""
    torch.manual_seed(0)
    config = ModelConfig(
        categorical_cardinalities=[3] * len(CATEGORICAL_FEATURES),
        **(parameters("model") | {"n_clusters": N_CLUSTERS, "latent_dim": 4}),
    )
    model = ContrastiveVAEDEC(config)
    pretrained = checkpoint_from_model(model, "pretraining", 1, {"val_loss": 1.0})
    initialise_centres(
        model,
        MouseTensors.from_frame(mice, parameters("model")["abr_scale"]),
        ClusterInitSettings.from_params(parameters("cluster_init") | {"n_init": 2, "max_iter": 50}),
        seed=0,
    )
    return pretrained, checkpoint_from_model(model, "joint", 2, {"val_loss": 0.5})


@pytest.fixture
def evaluated(kedro_project: Path) -> tuple[Path, str, pd.DataFrame]:
    mice, patterns = _model_input()
    pretrained, trained = _checkpoints(mice)
    truth = pd.DataFrame(
        {
            SPECIMEN_ID: mice[SPECIMEN_ID],
            LINE_ID: mice[LINE_ID],
            "planted_pattern": patterns,
            "affected": patterns != "none",
        }
    )
    truth.to_csv(kedro_project / "data/01_raw/impc_abr_synthetic_truth.csv", index=False)
    bootstrap_project(kedro_project)
    # Outside a run, the project's catalog reads and writes the folder params:run names.
    with KedroSession.create(project_path=kedro_project, runtime_params={"run": RUN}) as session:
        catalog = session.load_context().catalog
    inputs = {
        "validated_abr": validated_export(mice),
        "model_input": mice,
        "trained_model": trained,
        "pretrained_model": pretrained,
        "pretraining_history": {"loss_total": [3.0, 2.0], "val_loss": [3.2, 2.5]},
        "joint_training_history": {"loss_total": [1.5, 1.2], "loss_clustering": [0.3, 0.2]},
    }
    for name, data in inputs.items():
        catalog[name] = data
    pipeline = create_pipeline()
    mlflow.set_tracking_uri(f"sqlite:///{kedro_project / 'mlflow.db'}")
    with mlflow.start_run() as run:
        SequentialRunner().run(pipeline, catalog)
    return kedro_project, run.info.run_id, mice


@pytest.mark.slow
def test_evaluation_writes_every_artifact_locally_and_in_mlflow(evaluated):
    project, run_id, mice = evaluated
    data = project / "data/runs" / RUN
    embeddings = np.load(data / "07_model_output/latent_embeddings.npz")
    assert embeddings["latent_mean"].shape == (len(mice), 4)
    assert embeddings["soft_assignment"].shape == (len(mice), N_CLUSTERS)
    assert embeddings["specimen_id"].tolist() == mice[SPECIMEN_ID].tolist()
    predictions = pd.read_csv(data / "07_model_output/cluster_predictions.csv")
    assert {"cluster", "max_probability", f"prob_cluster_{N_CLUSTERS - 1}"} <= set(predictions)
    np.testing.assert_allclose(predictions.filter(like="prob_cluster_").sum(axis=1), 1.0, rtol=1e-5)

    comparison = pd.read_csv(data / "08_reporting/method_comparison.csv")
    assert comparison["method"].tolist() == [
        "model",
        "kmeans_raw",
        "gmm_referenced",
        "kmeans_pretrained_latent",
        "gmm_line_shrunk",
    ]
    # The truth file shares the data's lines, so every method is scored against it.
    assert comparison["line_recall"].notna().all()
    assert comparison.loc[comparison["method"] == "gmm_referenced", "clusters_used"].item() <= 4

    report = (data / "08_reporting/evaluation_report.md").read_text()
    assert "## Model and baselines" in report and "gmm_referenced" in report
    assert report.index("## Honest scores") < report.index("## Data")
    assert "| method | NMI centre | Cramér's V centre | null-line FPR, any cluster |" in report
    for file in PLOT_FILES.values():
        assert (data / "08_reporting/plots" / file).read_bytes()[:4] == b"\x89PNG"
        assert f"](plots/{file})" in report

    client = mlflow.MlflowClient()
    logged = {
        item.path
        for folder in ("evaluation", "evaluation/embeddings", "evaluation/plots")
        for item in client.list_artifacts(run_id, folder)
    }
    assert {
        "evaluation/embeddings/latent_embeddings.npz",
        "evaluation/embeddings/cluster_predictions.csv",
        "evaluation/evaluation_report.md",
        "evaluation/method_comparison.csv",
        *(f"evaluation/plots/{file}" for file in PLOT_FILES.values()),
    } <= logged
    metrics = client.get_run(run_id).data.metrics
    local_metrics = json.loads((data / "08_reporting/evaluation_metrics.json").read_text())
    assert metrics["eval/clusters_used"] == local_metrics["eval/clusters_used"] >= 1
    assert "eval/reconstruction_mae_db/6kHz" in metrics
    assert "eval/kmeans_raw/silhouette_abr" in metrics
    for name in (
        "nmi_centre",
        "cramers_v_centre",
        "nmi_equipment",
        "line_false_positive_rate_any_cluster",
        "controls_in_hearing_loss_clusters",
        "line_recall/profound",
    ):
        assert f"eval/{name}" in metrics and f"eval/gmm_line_shrunk/{name}" in metrics
    assert 0 <= metrics["eval/largest_cluster_share"] <= 1


@pytest.mark.slow
def test_evaluation_calls_genes_and_scores_them_beside_line_test(evaluated):
    project, run_id, mice = evaluated
    data = project / "data/runs" / RUN
    calls = pd.read_csv(data / "07_model_output/gene_calls.csv")
    phenotype = ["phenotype_label", "phenotype_cluster", "phenotype_mean_assignment"]
    assert list(calls.columns) == [*GENE_CALL_COLUMNS, *phenotype, "cluster_enrichment_q"]
    lines = calls.set_index("gene_symbol")
    assert len(calls) == 17  # the 16 modelled lines and the two-mouse one
    assert lines.loc["Tiny", "untestable_reason"].startswith("too few mutants: 2 with measured")
    assert lines.loc["Tiny", "called"] == False  # noqa: E712 (numpy bool)
    assert lines.loc["Tiny", "n_controls"] == 20 and np.isnan(lines.loc["Tiny", "p_value"])
    assert pd.isna(lines.loc["Tiny", "phenotype_label"])  # not modelled: no cluster
    for deaf in ("DeafA", "DeafB", "HfA", "HfB"):  # 45-70 dB above 3 dB noise
        assert lines.loc[deaf, "called"] and lines.loc[deaf, "n_controls"] == 20
    assert (
        lines.loc["DeafA", "effect_6kHz_ci_low_db"]
        < 70
        < lines.loc["DeafA", "effect_6kHz_ci_high_db"]
    )
    assert isinstance(lines.loc["DeafA", "phenotype_label"], str)
    assert 0 < lines.loc["DeafA", "phenotype_mean_assignment"] <= 1

    comparison = pd.read_csv(data / "08_reporting/gene_call_comparison.csv").set_index("method")
    assert list(comparison.index[:3]) == ["gene_calls", "line_test", "model"]
    assert comparison.loc["gene_calls", "untestable_lines"] == 1
    assert comparison.loc["gene_calls", "recall"] == 1.0  # the four planted lines
    assert {"null_fpr", "false_share", "recall/profound", "recall/high_frequency"} <= set(
        comparison.columns
    )

    report = (data / "08_reporting/evaluation_report.md").read_text()
    genes = report[report.index("## Genes") : report.index("## Model and baselines")]
    assert "| tested | 16 |" in genes and "| untestable | 1 | too few mutants: 1 |" in genes
    assert "| DeafA | DeafA&lt;tm1&gt; | homozygote | A | 4 | 20 |" in genes
    assert f"![gene call audiograms](plots/{GENE_PLOT_FILE})" in genes
    assert (data / "08_reporting/plots" / GENE_PLOT_FILE).read_bytes()[:4] == b"\x89PNG"
    assert "| line_test | per-line test |" in genes

    metrics = mlflow.MlflowClient().get_run(run_id).data.metrics
    assert metrics["eval/gene_calls/tested_lines"] == 16
    assert metrics["eval/gene_calls/untestable_lines"] == 1
    assert metrics["eval/gene_calls/called_lines"] == (calls["called"] == True).sum()  # noqa: E712
    assert metrics["eval/gene_calls/recall"] == 1.0 and "eval/line_test/null_fpr" in metrics
    assert "eval/line_test/recall/profound" in metrics
