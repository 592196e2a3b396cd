"""One row of metrics per clustering method, so the model and baselines read side by side."""

from __future__ import annotations

import numpy as np
import pandas as pd

from audiometric_clustering.evaluation.scoring import ScoringSettings, Separation, score_clustering

METHOD = "method"


def score_methods(
    mice: pd.DataFrame,
    assignments: pd.DataFrame,
    separations: dict[str, Separation],
    cluster_tables: pd.DataFrame,
    enrichment: pd.DataFrame,
    truth: pd.DataFrame | None,
    settings: ScoringSettings,
) -> pd.DataFrame:
    """The comparison table: :func:`score_clustering` of every method in ``separations`` (its
    feature space, the reference genes), in order, identical knobs for all by construction.

    ``assignments`` has a column of labels per method; ``cluster_tables`` and ``enrichment``
    hold every method's rows, told apart by their ``method`` column. Reference-gene and
    ground-truth metrics appear only when their inputs exist; nuisance scores for each
    nuisance column the mice table has.
    """
    rows = {}
    for method, separation in separations.items():
        cluster_table = cluster_tables[cluster_tables[METHOD] == method]
        rows[method] = score_clustering(
            mice,
            assignments[method].to_numpy(),
            len(cluster_table),
            truth,
            settings,
            clusters=cluster_table,
            enrichment=enrichment[enrichment[METHOD] == method],
            separation=separation,
        ).scores
    return comparison_table(rows)


def comparison_table(rows: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Methods as rows (in the given order), metrics as columns."""
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(METHOD).reset_index()


def mlflow_metric_names(comparison: pd.DataFrame, headline_method: str) -> dict[str, float]:
    """Flat metric names: ``eval/<metric>`` for the headline method, ``eval/<method>/<metric>``
    for the others. NaN values are dropped (MLflow rejects none, but a NaN curve misleads)."""
    names: dict[str, float] = {}
    for record in comparison.to_dict(orient="records"):
        method = record.pop(METHOD)
        prefix = "eval" if method == headline_method else f"eval/{method}"
        names |= {f"{prefix}/{k}": float(v) for k, v in record.items() if np.isfinite(v)}
    return names
