from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from audiometric_clustering.evaluation.assignments import (
    GMM_LINE_SHRUNK,
    GMM_REFERENCED,
    KMEANS_PRETRAINED,
    KMEANS_RAW,
    MODEL,
    BaselineSettings,
    all_assignments,
    cluster_predictions,
    feature_spaces,
)
from audiometric_clustering.evaluation.characterisation import (
    cluster_labels,
    threshold_summary,
)
from audiometric_clustering.evaluation.comparison import comparison_table, mlflow_metric_names
from audiometric_clustering.evaluation.enrichment import line_cluster_enrichment
from audiometric_clustering.evaluation.ground_truth import align_truth
from audiometric_clustering.evaluation.scoring import ScoringSettings, Separation, score_clustering
from audiometric_clustering.impc.schema import ABR_FEATURES, CENTRE, LINE_ID, SPECIMEN_ID
from tests.parameters import label_rules

SETTINGS = ScoringSettings(min_line_size=3, fdr=0.05, labels=label_rules())


def test_cluster_predictions_table():
    mice = pd.DataFrame(
        {
            SPECIMEN_ID: ["a", "b"],
            "gene_symbol": ["G", ""],
            "allele_symbol": ["G<tm1>", ""],
            "zygosity": ["homozygote", "homozygote"],
            "phenotyping_center": ["A", "B"],
        },
        index=[10, 11],
    )
    table = cluster_predictions(mice, np.array([[0.2, 0.7, 0.1], [0.6, 0.3, 0.1]]))
    assert table.columns.tolist()[5:] == [
        "cluster",
        "max_probability",
        "prob_cluster_0",
        "prob_cluster_1",
        "prob_cluster_2",
    ]
    assert table["cluster"].tolist() == [1, 0]
    assert table["max_probability"].tolist() == [0.7, 0.6]
    assert table[SPECIMEN_ID].tolist() == ["a", "b"]


def test_baselines_run_in_their_spaces_and_keep_cluster_counts(mice_and_patterns):
    mice, patterns = mice_and_patterns
    latent = mice[list(ABR_FEATURES)].to_numpy() / 10
    spaces = feature_spaces(mice, latent, latent + 1.0, line_shrinkage=0.25)
    assert not np.isnan(spaces[KMEANS_RAW]).any()
    assert (
        spaces[GMM_LINE_SHRUNK].shape == (len(mice), 5)
        and np.isfinite(spaces[GMM_LINE_SHRUNK]).all()
    )
    settings = BaselineSettings(
        gmm_components=2,
        gmm_covariance="tied",
        kmeans_n_init=2,
        fit_size=60,
        line_shrinkage=0.25,
        seed=0,
    )
    labels = all_assignments(spaces, np.zeros(len(mice)), 3, settings)
    assert list(labels) == [MODEL, KMEANS_RAW, GMM_REFERENCED, KMEANS_PRETRAINED, GMM_LINE_SHRUNK]
    assert np.unique(labels[KMEANS_RAW]).size == 3
    assert np.unique(labels[GMM_REFERENCED]).size == 2
    assert np.unique(labels[GMM_LINE_SHRUNK]).size <= 3
    assert all(v.dtype == np.int64 and v.size == len(mice) for v in labels.values())


def _score(mice, patterns, labels, truth):
    n_clusters = int(labels.max()) + 1
    table = cluster_labels(
        threshold_summary(mice, labels, n_clusters), labels, n_clusters, label_rules()
    )
    enrichment = line_cluster_enrichment(mice, labels, n_clusters, 3)
    abr = mice[list(ABR_FEATURES)].to_numpy()
    reference = frozenset({"DeafA", "DeafB", "Absent"})
    separation = Separation(abr, abr, sample_size=100, seed=0, reference_genes=reference)
    return score_clustering(
        mice, labels, n_clusters, truth, SETTINGS, table, enrichment, separation
    ).scores


def test_pattern_clusters_beat_random_clusters_on_every_axis(mice_and_patterns):
    mice, patterns = mice_and_patterns
    truth = align_truth(
        pd.DataFrame(
            {
                SPECIMEN_ID: mice[SPECIMEN_ID],
                LINE_ID: mice[LINE_ID],
                "planted_pattern": patterns,
                "affected": patterns != "none",
            }
        ),
        mice,
    )
    by_pattern = np.select([patterns == "high_frequency", patterns == "profound"], [1, 2], 0)
    random = np.random.default_rng(0).integers(0, 3, len(mice))
    good = _score(mice, patterns, by_pattern, truth)
    bad = _score(mice, patterns, random, truth)
    assert good["hearing_loss_clusters"] == 2
    assert good["enriched_lines"] == 4 and good["line_recall"] == 1.0
    assert good["line_false_positive_rate"] == 0.0
    assert good["reference_genes_found"] == 2 and good["reference_genes_in_data"] == 2
    assert good["ari_affected"] == 1.0 and good["line_purity"] == 1.0
    assert good["silhouette"] > bad["silhouette"] + 0.3
    assert bad["ari_affected"] < 0.3 and bad["line_purity"] < 1.0
    assert good["tested_lines"] == bad["tested_lines"] == 16
    # Honest scores: no null line anywhere, no control in a hearing-loss cluster, every
    # pattern recalled; both centres in every pattern cluster, so little centre information.
    assert good["line_false_positive_rate_any_cluster"] == 0.0
    assert good["enriched_lines_any_cluster"] == 4
    assert good["controls_in_hearing_loss_clusters"] == 0.0
    assert good["controls_in_cluster/00"] == 1.0
    assert good["line_recall/profound"] == good["line_recall/high_frequency"] == 1.0
    assert good["nmi_centre"] < 0.01 and np.isnan(good["nmi_zygosity"])


def test_scores_skip_reference_and_truth_when_absent(mice_and_patterns):
    mice, patterns = mice_and_patterns
    labels = (patterns == "profound").astype(np.int64)
    table = cluster_labels(threshold_summary(mice, labels, 2), labels, 2, label_rules())
    enrichment = line_cluster_enrichment(mice, labels, 2, 3)
    abr = mice[list(ABR_FEATURES)].to_numpy()
    separation = Separation(abr, abr, sample_size=100, seed=0, reference_genes=None)
    row = score_clustering(mice, labels, 2, None, SETTINGS, table, enrichment, separation).scores
    assert "line_recall" not in row and "reference_genes_found" not in row
    assert row["clusters_used"] == 2


def test_mlflow_metric_names_prefix_baselines_and_drop_nan():
    table = comparison_table(
        {MODEL: {"silhouette": 0.5, "ari": np.nan}, KMEANS_RAW: {"silhouette": 0.2, "ari": 0.1}}
    )
    assert table["method"].tolist() == [MODEL, KMEANS_RAW]
    assert mlflow_metric_names(table, MODEL) == {
        "eval/silhouette": 0.5,
        "eval/kmeans_raw/silhouette": 0.2,
        "eval/kmeans_raw/ari": pytest.approx(0.1),
    }


def test_line_shrunk_mixture_finds_patterns_where_raw_kmeans_finds_centres(mice_and_patterns):
    mice, patterns = mice_and_patterns
    latent = mice[list(ABR_FEATURES)].to_numpy() / 10
    spaces = feature_spaces(mice, latent, latent, line_shrinkage=0.25)
    settings = BaselineSettings(
        gmm_components=2,
        gmm_covariance="tied",
        kmeans_n_init=4,
        fit_size=1000,
        line_shrinkage=0.25,
        seed=0,
    )
    labels = all_assignments(spaces, np.zeros(len(mice)), 3, settings)
    centres = mice[CENTRE].to_numpy()
    assert normalized_mutual_info_score(centres, labels[KMEANS_RAW]) > 0.5
    assert normalized_mutual_info_score(centres, labels[GMM_LINE_SHRUNK]) < 0.05
    assert adjusted_rand_score(patterns, labels[GMM_LINE_SHRUNK]) > 0.9
