"""The phenotype a clustering gives each knockout line, joined to its gene call.

A gene call says that a line hears worse than its matched controls; the clusters say how.
A line's cluster is the one with the largest mean soft assignment over its mice (a line
whose mice split between two clusters goes with the one they lean to together, not with a
majority of hard votes), its label the cluster's (``characterisation.cluster_labels``), and
the line's enrichment q in that cluster (``enrichment.line_cluster_enrichment``) is the
clustering's own evidence beside the call.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audiometric_clustering.evaluation.enrichment import CLUSTER, Q_VALUE
from audiometric_clustering.impc.schema import LINE_ID

PHENOTYPE_CLUSTER = "phenotype_cluster"
PHENOTYPE_LABEL = "phenotype_label"
MEAN_ASSIGNMENT = "phenotype_mean_assignment"
CLUSTER_Q = "cluster_enrichment_q"
COLUMNS = (PHENOTYPE_LABEL, PHENOTYPE_CLUSTER, MEAN_ASSIGNMENT, CLUSTER_Q)


def line_phenotypes(
    line_ids: np.ndarray,
    soft_assignment: np.ndarray,
    labels: pd.DataFrame,
    enrichment: pd.DataFrame,
) -> pd.DataFrame:
    """Per knockout line: its cluster, that cluster's label, the line's mean soft assignment
    to it and its enrichment q there.

    ``line_ids`` (N,) and ``soft_assignment`` (N, K) are the model-input table's mice in one
    order ("" for controls); ``labels`` has ``cluster`` and ``label`` per cluster;
    ``enrichment`` the clustering's line x cluster rows (a line none of whose mice fall in
    its cluster has no row there: its q is 1, as BH gives a p-value of 1).
    """
    line_ids = np.asarray(line_ids, dtype=str)
    if len(line_ids) != len(soft_assignment):
        raise ValueError(
            f"{len(line_ids)} mice but {len(soft_assignment)} soft assignments: the embeddings "
            "are not of the model-input table"
        )
    mutants = line_ids != ""
    means = pd.DataFrame(soft_assignment[mutants]).groupby(line_ids[mutants], sort=True).mean()
    cluster = means.to_numpy().argmax(axis=1)
    table = pd.DataFrame(
        {
            LINE_ID: means.index.to_numpy(),
            PHENOTYPE_CLUSTER: cluster,
            MEAN_ASSIGNMENT: means.to_numpy()[np.arange(len(means)), cluster],
        }
    )
    names = labels.set_index(CLUSTER)["label"]
    table[PHENOTYPE_LABEL] = names.reindex(cluster).to_numpy()
    q = enrichment.set_index([LINE_ID, CLUSTER])[Q_VALUE]
    pairs = pd.MultiIndex.from_arrays([table[LINE_ID], table[PHENOTYPE_CLUSTER]])
    table[CLUSTER_Q] = q.reindex(pairs).fillna(1.0).to_numpy()
    return table[[LINE_ID, *COLUMNS]]
