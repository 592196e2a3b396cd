from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import hypergeom

from audiometric_clustering.evaluation.enrichment import (
    CENTRE_MICE,
    CENTRE_MICE_IN_CLUSTER,
    CLUSTER,
    FOLD_ENRICHMENT,
    LINE_MICE,
    LINE_MICE_IN_CLUSTER,
    P_VALUE,
    Q_VALUE,
    benjamini_hochberg,
    enriched_lines,
    hypergeometric_sf,
    line_cluster_enrichment,
    read_gene_list,
    reference_gene_recovery,
)
from audiometric_clustering.impc.schema import ALLELE, CENTRE, GENE, LINE_ID, ZYGOSITY


def _mice(groups: list[tuple[str, str, list[int]]]) -> tuple[pd.DataFrame, np.ndarray]:
    """(line id, centre, clusters of its mice) -> mice table and labels."""
    rows, labels = [], []
    for line, centre, clusters in groups:
        for cluster in clusters:
            gene = line.split("|")[0]
            rows.append({LINE_ID: line, CENTRE: centre, GENE: gene, ALLELE: gene, ZYGOSITY: "hom"})
            labels.append(cluster)
    return pd.DataFrame(rows), np.array(labels)


@pytest.fixture
def hand_made() -> pd.DataFrame:
    mice, labels = _mice(
        [
            ("L1|a|hom|A", "A", [1, 1, 1]),
            ("L3|a|hom|A", "A", [1, 1]),  # too small to test, but part of A's background
            ("", "A", [0] * 5),
            ("L2|a|hom|B", "B", [0, 0, 1, 1]),
            ("", "B", [1] * 6),
        ]
    )
    return line_cluster_enrichment(mice, labels, n_clusters=2, min_line_size=3)


def _row(table: pd.DataFrame, line: str, cluster: int) -> pd.Series:
    return table[(table[LINE_ID] == line) & (table[CLUSTER] == cluster)].iloc[0]


def test_hand_made_p_values_match_closed_form_and_scipy(hand_made):
    l1 = _row(hand_made, "L1|a|hom|A", 1)
    # Centre A only: M=10 mice, n=5 in cluster 1, N=3 drawn, k=3: C(5,3)/C(10,3) = 1/12.
    assert (l1[CENTRE_MICE], l1[CENTRE_MICE_IN_CLUSTER], l1[LINE_MICE]) == (10, 5, 3)
    assert l1[P_VALUE] == pytest.approx(1 / 12)
    assert l1[P_VALUE] == pytest.approx(hypergeom.sf(3 - 1, 10, 5, 3))
    assert l1[FOLD_ENRICHMENT] == pytest.approx(3 / (3 * 5 / 10))
    # Centre B: 2 of its 10 mice in cluster 0, both in L2's 4: C(2,2)C(8,2)/C(10,4) = 2/15.
    assert _row(hand_made, "L2|a|hom|B", 0)[P_VALUE] == pytest.approx(2 / 15)
    assert _row(hand_made, "L2|a|hom|B", 1)[P_VALUE] == pytest.approx(1.0)


def test_small_lines_are_background_only_and_empty_pairs_are_left_out(hand_made):
    assert set(hand_made[LINE_ID]) == {"L1|a|hom|A", "L2|a|hom|B"}
    # L1 has no mouse in cluster 0: tested (p = 1) but not listed.
    assert set(zip(hand_made[LINE_ID], hand_made[CLUSTER], strict=True)) == {
        ("L1|a|hom|A", 1),
        ("L2|a|hom|B", 0),
        ("L2|a|hom|B", 1),
    }
    assert (_row(hand_made, "L1|a|hom|A", 1)[[GENE, CENTRE]] == ["L1", "A"]).all()


def test_q_values_count_every_test_including_unlisted_ones(hand_made):
    # All four tests: p = 1/12, 2/15, 1, 1 -> BH: min(4/12, 4 * (2/15) / 2) = 4/15 for both.
    # Correcting only the three listed rows would give 0.2 instead.
    q = hand_made.set_index([LINE_ID, CLUSTER])[Q_VALUE]
    assert q[("L1|a|hom|A", 1)] == pytest.approx(4 / 15)
    assert q[("L2|a|hom|B", 0)] == pytest.approx(4 / 15)
    assert q[("L2|a|hom|B", 1)] == pytest.approx(1.0)
    all_p = np.array([1 / 12, 2 / 15, 1.0, 1.0])
    assert benjamini_hochberg(all_p)[0] == pytest.approx(4 / 15)


def test_hypergeometric_sf_matches_scipy_elementwise():
    rng = np.random.default_rng(0)
    population = rng.integers(20, 200, 500)
    successes = rng.integers(0, 20, 500)
    draws = rng.integers(1, 12, 500)
    k = rng.integers(0, 6, 500)
    np.testing.assert_allclose(
        hypergeometric_sf(k, population, successes, draws),
        hypergeom.sf(k - 1, population, successes, draws),
        rtol=1e-12,
    )


def test_benjamini_hochberg_matches_hand_computation():
    # sorted p: .01 .03 .04 .2 -> p*m/rank: .04 .06 .0533 .2 -> running min from the top.
    q = benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.2]))
    np.testing.assert_allclose(q, [0.04, 0.16 / 3, 0.16 / 3, 0.2])
    assert benjamini_hochberg(np.array([])).size == 0


def test_vectorised_table_matches_scalar_scipy_on_random_labels(mice_and_patterns):
    mice, _ = mice_and_patterns
    labels = np.random.default_rng(3).integers(0, 5, len(mice))
    table = line_cluster_enrichment(mice, labels, n_clusters=5, min_line_size=3)
    assert table[LINE_ID].nunique() == mice.loc[mice[LINE_ID] != "", LINE_ID].nunique()
    assert (table[LINE_MICE_IN_CLUSTER] > 0).all()
    for row in table.sample(20, random_state=0).itertuples():
        expected = hypergeom.sf(
            row.line_mice_in_cluster - 1, row.centre_mice, row.centre_mice_in_cluster, row.line_mice
        )
        assert row.p_value == pytest.approx(expected)
        centre_mask = mice[CENTRE] == getattr(row, CENTRE)
        assert row.centre_mice == centre_mask.sum()
        assert row.centre_mice_in_cluster == (labels[centre_mask] == row.cluster).sum()
    assert (table.groupby(LINE_ID)[LINE_MICE_IN_CLUSTER].sum() == 4).all()


def test_planted_lines_are_enriched_in_their_cluster(mice_and_patterns):
    mice, patterns = mice_and_patterns
    labels = (patterns == "profound").astype(int)  # cluster 1 = exactly the deaf mice
    table = line_cluster_enrichment(mice, labels, n_clusters=2, min_line_size=3)
    called = enriched_lines(table, {1}, fdr=0.05)
    assert set(called[GENE]) == {"DeafA", "DeafB"}
    assert (called[CLUSTER] == 1).all()
    assert enriched_lines(table, {0}, fdr=0.05).empty


def test_read_gene_list_skips_missing_and_reads_symbols(tmp_path, caplog):
    caplog.set_level("INFO")
    assert read_gene_list(None) is None
    assert read_gene_list(str(tmp_path / "absent.txt")) is None
    assert "not found" in caplog.text
    path = tmp_path / "genes.txt"
    path.write_text("# header\nMyo7a\n\n Otof \n")
    assert read_gene_list(str(path)) == frozenset({"Myo7a", "Otof"})


def test_reference_gene_recovery_counts_only_genes_in_data():
    counts = reference_gene_recovery(
        found_genes={"Otof", "Abc"},
        data_genes={"Otof", "Myo7a", "Abc"},
        reference=frozenset({"Otof", "Myo7a", "Tmc1"}),
    )
    assert counts == {
        "reference_genes": 3.0,
        "reference_genes_in_data": 2.0,
        "reference_genes_found": 1.0,
    }


GENE_LISTS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "gene_lists"


def test_reads_the_shared_bowl2017_reference_list():
    path = GENE_LISTS / "bowl2017_hearing_loss_genes.txt"
    if not path.exists():
        pytest.skip(f"reference gene lists not found at {GENE_LISTS} (../shared is absent)")
    genes = read_gene_list(str(path))
    assert len(genes) == 67  # the 67 genes of Bowl et al. 2017
    assert all(gene.strip() == gene and " " not in gene for gene in genes)
