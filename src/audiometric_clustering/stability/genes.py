"""The gene calls beside the consensus: each line's consensus phenotype and how often the
members agree on it.

The gene calls do not depend on any member (each line is tested against its matched
controls); what the members decide is the phenotype a called line is given. A line's
consensus cluster is the one most of its mice are in. A member agrees when the cluster
most of the line's mice are in, in that member, maps to the line's consensus cluster,
each member cluster mapping to the consensus cluster that holds most of its mice. The
share of members that agree says whether the phenotype named for a gene holds when the
seed changes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audiometric_clustering.evaluation.enrichment import CLUSTER
from audiometric_clustering.genes.calls import (
    CALLED,
    N_MUTANTS,
    P_VALUE,
    Q_VALUE,
    STRONGEST_CONTRAST,
    UNTESTABLE,
)
from audiometric_clustering.impc.schema import ALLELE, CENTRE, GENE, LINE_ID, ZYGOSITY
from audiometric_clustering.stability.agreement import overlap

CONSENSUS_CLUSTER = "consensus_cluster"
CONSENSUS_LABEL = "consensus_label"
CONSENSUS_HEARING_LOSS = "consensus_hearing_loss"
LINE_SHARE = "line_share_in_cluster"  # of the line's mice, in its consensus cluster
MEMBER_AGREEMENT = "member_agreement"  # share of members that give the line that cluster
#: The gene-call columns kept beside the consensus's.
CALL_COLUMNS = (
    LINE_ID, GENE, ALLELE, ZYGOSITY, CENTRE, N_MUTANTS, STRONGEST_CONTRAST, P_VALUE, Q_VALUE,
    CALLED, UNTESTABLE,
)  # fmt: skip
COLUMNS = (
    *CALL_COLUMNS, CONSENSUS_LABEL, CONSENSUS_CLUSTER, CONSENSUS_HEARING_LOSS, LINE_SHARE,
    MEMBER_AGREEMENT,
)  # fmt: skip


def _modal(labels: np.ndarray, codes: np.ndarray, n_lines: int, n_clusters: int) -> np.ndarray:
    """(lines, clusters) counts of each line's mice per cluster."""
    counts = np.zeros((n_lines, n_clusters), dtype=np.int64)
    np.add.at(counts, (codes, labels), 1)
    return counts


def line_consensus(
    line_ids: np.ndarray,
    consensus_labels: np.ndarray,
    member_labels: list[np.ndarray],
    clusters: pd.DataFrame,
) -> pd.DataFrame:
    """Per knockout line of the model-input table: its consensus cluster, that cluster's
    label and hearing-loss flag, the share of the line's mice in it, and the share of
    ``member_labels`` (each (N,), the same mice) that give the line that cluster.
    ``clusters`` is the consensus cluster table (``cluster``, ``label``, ``hearing_loss``)."""
    line_ids = np.asarray(line_ids, dtype=str)
    consensus_labels = np.asarray(consensus_labels, dtype=np.int64)
    mutants = line_ids != ""
    names, codes = np.unique(line_ids[mutants], return_inverse=True)
    n_clusters = max(len(clusters), int(consensus_labels.max()) + 1)
    counts = _modal(consensus_labels[mutants], codes, len(names), n_clusters)
    cluster = counts.argmax(axis=1)
    agree = np.zeros(len(names))
    for member in member_labels:
        member = np.asarray(member, dtype=np.int64)
        k = int(member.max()) + 1
        to_consensus = overlap(member, consensus_labels, k, n_clusters).argmax(axis=1)
        line_cluster = _modal(member[mutants], codes, len(names), k).argmax(axis=1)
        agree += to_consensus[line_cluster] == cluster
    table = clusters.set_index(CLUSTER)
    return pd.DataFrame(
        {
            LINE_ID: names,
            CONSENSUS_LABEL: table["label"].reindex(cluster).to_numpy(),
            CONSENSUS_CLUSTER: cluster,
            CONSENSUS_HEARING_LOSS: table["hearing_loss"].reindex(cluster).to_numpy(dtype=bool),
            LINE_SHARE: counts[np.arange(len(names)), cluster] / counts.sum(axis=1),
            MEMBER_AGREEMENT: agree / max(len(member_labels), 1),
        }
    )


def gene_call_summary(calls: pd.DataFrame) -> dict[str, float]:
    """Called lines, those whose consensus cluster is a hearing-loss one, and the called
    lines' median member agreement (NaN without calls)."""
    called = calls[calls[CALLED].astype(bool)]
    agreement = called[MEMBER_AGREEMENT].dropna()
    return {
        "gene_calls_called": float(len(called)),
        "gene_calls_in_hearing_loss_clusters": float(
            called[CONSENSUS_HEARING_LOSS].fillna(False).astype(bool).sum()
        ),
        "gene_calls_median_member_agreement": float(agreement.median())
        if len(agreement)
        else float("nan"),
    }
