from __future__ import annotations

import numpy as np

from audiometric_clustering.evaluation import plots
from audiometric_clustering.evaluation.characterisation import (
    cluster_labels,
    threshold_summary,
)
from audiometric_clustering.evaluation.enrichment import line_cluster_enrichment
from tests.parameters import label_rules

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _saved(figure, path) -> bytes:
    figure.savefig(path)
    return path.read_bytes()


def test_every_plot_writes_a_png(mice_and_patterns, tmp_path):
    mice, patterns = mice_and_patterns
    labels = np.select([patterns == "high_frequency", patterns == "profound"], [1, 2], 0)
    summary = threshold_summary(mice, labels, 4)
    table = cluster_labels(summary, labels, 4, label_rules())
    latent = np.random.default_rng(0).normal(size=(len(mice), 5))
    figures = {
        "training_curves": plots.training_curves(
            {
                "pretraining": {"loss_total": [3.0, 2.0, 1.5], "val_loss": [3.1, 2.2, 1.9]},
                "joint_training": {"loss_total": [1.2, 1.1]},
            }
        ),
        "latent_projection": plots.latent_projection(latent, labels, mice["phenotyping_center"], 0),
        "cluster_audiograms": plots.cluster_audiograms(summary, table),
        "enrichment_heatmap": plots.enrichment_heatmap(
            line_cluster_enrichment(mice, labels, 4, 3), 4, top_lines=5
        ),
        "centre_composition": plots.centre_composition(labels, mice["phenotyping_center"], 4),
    }
    assert set(figures) == set(plots.PLOT_FILES)
    for name, figure in figures.items():
        assert _saved(figure, tmp_path / plots.PLOT_FILES[name]).startswith(PNG_MAGIC)


def test_plots_tolerate_missing_history_and_one_dimensional_latent(tmp_path):
    assert _saved(plots.training_curves({"pretraining": {}}), tmp_path / "a.png").startswith(
        PNG_MAGIC
    )
    projected = plots.pca_2d(np.arange(10.0).reshape(10, 1))
    assert projected.shape == (10, 2) and np.all(projected[:, 1] == 0)


def test_pca_2d_keeps_the_widest_direction_first():
    rng = np.random.default_rng(0)
    latent = np.column_stack(
        [rng.normal(0, 10, 500), rng.normal(0, 1, 500), rng.normal(0, 0.1, 500)]
    )
    projected = plots.pca_2d(latent)
    assert projected[:, 0].std() > 5 * projected[:, 1].std()


def test_gene_and_centre_names_are_drawn_as_text_not_mathtext(mice_and_patterns, tmp_path):
    """A gene symbol ``$\\foo$`` failed the whole evaluation (Unknown symbol: \\foo)."""
    mice, patterns = mice_and_patterns
    mice = mice.assign(
        gene_symbol="$\\foo$" + mice["gene_symbol"].astype(str),
        phenotyping_center="$\\bar$" + mice["phenotyping_center"].astype(str),
    )
    labels = np.select([patterns == "high_frequency", patterns == "profound"], [1, 2], 0)
    latent = np.random.default_rng(0).normal(size=(len(mice), 5))
    figures = [
        plots.enrichment_heatmap(line_cluster_enrichment(mice, labels, 4, 3), 4, top_lines=5),
        plots.latent_projection(latent, labels, mice["phenotyping_center"], 0),
        plots.centre_composition(labels, mice["phenotyping_center"], 4),
    ]
    for index, figure in enumerate(figures):
        assert _saved(figure, tmp_path / f"{index}.png").startswith(PNG_MAGIC)
    heatmap_rows = [label.get_text() for label in figures[0].axes[0].get_yticklabels()]
    assert heatmap_rows and all(row.startswith(r"\$\foo\$") for row in heatmap_rows)
