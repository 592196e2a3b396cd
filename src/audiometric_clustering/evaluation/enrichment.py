"""Gene enrichment of clusters: which knockout lines fall in a cluster more than chance.

For a line of N mice at centre c, with M mice at c of which n are in cluster j, the number
k of the line's mice in j is hypergeometric under "the line is a random draw of its centre's
mice". The background is the line's own centre because thresholds (and so clusters) differ
by centre: a JAX line in a JAX-heavy cluster is not evidence of a phenotype.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control, hypergeom

from audiometric_clustering.evaluation.metrics import contingency
from audiometric_clustering.impc.schema import ALLELE, CENTRE, GENE, LINE_ID, ZYGOSITY

logger = logging.getLogger(__name__)

CLUSTER = "cluster"
LINE_MICE = "line_mice"
LINE_MICE_IN_CLUSTER = "line_mice_in_cluster"
CENTRE_MICE = "centre_mice"
CENTRE_MICE_IN_CLUSTER = "centre_mice_in_cluster"
EXPECTED = "expected"
FOLD_ENRICHMENT = "fold_enrichment"
P_VALUE = "p_value"
Q_VALUE = "q_value"


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """BH-adjusted q-values in the input's shape (false discovery rate, not Holm)."""
    flat = np.asarray(p_values, dtype=float).ravel()
    if flat.size == 0:
        return flat.reshape(np.shape(p_values))
    return false_discovery_control(flat, method="bh").reshape(np.shape(p_values))


def hypergeometric_sf(
    k: np.ndarray, population: np.ndarray, successes: np.ndarray, draws: np.ndarray
) -> np.ndarray:
    """P(X >= k) for X ~ Hypergeom(population, successes, draws), elementwise.

    Equal to ``scipy.stats.hypergeom.sf(k - 1, M, n, N)``, evaluated once per distinct
    (k, M, n, N): lines of one centre share M and n, and line sizes and counts are small
    integers, so 10^5 tests collapse to a few thousand (scipy's exact sf costs ~10 us each).
    k = 0 gives 1 without a call.
    """
    k, population, successes, draws = np.broadcast_arrays(k, population, successes, draws)
    p_values = np.ones(k.shape)
    tested = k > 0
    if tested.any():
        parameters = np.stack(
            [k[tested], population[tested], successes[tested], draws[tested]], axis=1
        )
        distinct, inverse = np.unique(parameters, axis=0, return_inverse=True)
        distinct_p = hypergeom.sf(
            distinct[:, 0] - 1, distinct[:, 1], distinct[:, 2], distinct[:, 3]
        )
        p_values[tested] = distinct_p[inverse.ravel()]
    return p_values


def line_cluster_enrichment(
    mice: pd.DataFrame, labels: np.ndarray, n_clusters: int, min_line_size: int
) -> pd.DataFrame:
    """Counts, fold, p and q per (knockout line with >= ``min_line_size`` mice, cluster).

    ``mice`` holds one row per mouse (line id, centre, gene, allele, zygosity; controls have
    an empty line id and count only in the background), ``labels`` the cluster of each mouse
    in 0..n_clusters-1. All lines x clusters are tested in one vectorised hypergeometric call
    and BH-corrected together. Pairs where none of the line's mice fall in the cluster (p = 1)
    count in the correction but are left out of the table: they are most of the tests and
    say nothing. Every tested line keeps at least one row.
    """
    labels = np.asarray(labels, dtype=np.int64)
    line_ids = mice[LINE_ID].to_numpy(dtype=str)
    _, centre_codes = np.unique(mice[CENTRE].to_numpy(dtype=str), return_inverse=True)
    centre_by_cluster = contingency(centre_codes, labels, n_clusters)
    centre_size = centre_by_cluster.sum(axis=1)

    is_line = line_ids != ""
    line_names, first_mouse, line_codes = np.unique(
        line_ids[is_line], return_index=True, return_inverse=True
    )
    line_by_cluster = contingency(line_codes, labels[is_line], n_clusters)
    line_size = line_by_cluster.sum(axis=1)
    kept = line_size >= min_line_size
    line_centre = centre_codes[is_line][first_mouse][kept]

    k = line_by_cluster[kept]
    big_n = line_size[kept][:, None]
    big_m = centre_size[line_centre][:, None]
    n = centre_by_cluster[line_centre]
    p_values = hypergeometric_sf(k, big_m, n, big_n)
    q_values = benjamini_hochberg(p_values)
    expected = big_n * n / big_m

    row, cluster = np.nonzero(k)
    identity = mice.loc[is_line, [GENE, ALLELE, ZYGOSITY, CENTRE]].iloc[first_mouse[kept]]
    return pd.DataFrame(
        {
            LINE_ID: line_names[kept][row],
            **{column: identity[column].to_numpy()[row] for column in identity.columns},
            CLUSTER: cluster,
            LINE_MICE: line_size[kept][row],
            LINE_MICE_IN_CLUSTER: k[row, cluster],
            CENTRE_MICE: centre_size[line_centre][row],
            CENTRE_MICE_IN_CLUSTER: n[row, cluster],
            EXPECTED: expected[row, cluster],
            FOLD_ENRICHMENT: k[row, cluster] / expected[row, cluster],
            P_VALUE: p_values[row, cluster],
            Q_VALUE: q_values[row, cluster],
        }
    )


def enriched_lines(
    enrichment: pd.DataFrame, hearing_loss_clusters: list[int] | set[int], fdr: float
) -> pd.DataFrame:
    """The lines enriched in at least one hearing-loss cluster at q < ``fdr``, best q first.

    One row per line: the hearing-loss cluster with its smallest q-value and that q.
    """
    hits = enrichment[
        enrichment[CLUSTER].isin(list(hearing_loss_clusters)) & (enrichment[Q_VALUE] < fdr)
    ]
    best = hits.sort_values([Q_VALUE, P_VALUE]).drop_duplicates(LINE_ID)
    return best.reset_index(drop=True)


def read_gene_list(path: str | None) -> frozenset[str] | None:
    """Gene symbols, one per line (blank lines and ``#`` comments ignored); None if absent.

    The reference lists live outside the repository, so a missing file is normal on a fresh
    machine: it is logged and the reference metrics are skipped, not failed.
    """
    if not path:
        logger.info("No reference gene list configured; skipping reference-gene recovery.")
        return None
    if not Path(path).is_file():
        logger.info("Reference gene list %s not found; skipping reference-gene recovery.", path)
        return None
    lines = Path(path).read_text().splitlines()
    return frozenset(s.strip() for s in lines if s.strip() and not s.startswith("#"))


def reference_gene_recovery(
    found_genes: set[str], data_genes: set[str], reference: frozenset[str]
) -> dict[str, float]:
    """How many reference genes the data holds and how many of them were found enriched."""
    in_data = reference & data_genes
    return {
        "reference_genes": float(len(reference)),
        "reference_genes_in_data": float(len(in_data)),
        "reference_genes_found": float(len(in_data & found_genes)),
    }
