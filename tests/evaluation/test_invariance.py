"""The nuisance scores must be able to fail: each is checked on a clustering that follows a
nuisance, where it must be high, and on one that does not, where it must be near 0."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audiometric_clustering.evaluation.enrichment import enriched_lines, line_cluster_enrichment
from audiometric_clustering.evaluation.ground_truth import (
    AFFECTED,
    PLANTED_PATTERN,
    align_truth,
    truth_scores,
)
from audiometric_clustering.evaluation.invariance import (
    control_shares,
    cramers_v,
    invariance_scores,
    normalized_mutual_information,
    nuisance_codes,
)
from audiometric_clustering.impc.schema import (
    ALLELE,
    CENTRE,
    GENE,
    IS_CONTROL,
    LINE_ID,
    SPECIMEN_ID,
    ZYGOSITY,
)

N_CENTRES, SETUPS_PER_CENTRE, LINES_PER_SETUP, LINE_SIZE, CONTROLS_PER_SETUP = 4, 3, 8, 8, 40


def _screen() -> tuple[pd.DataFrame, np.ndarray]:
    """An IMPC-like screen without any phenotype: each centre has three setups (equipment),
    each knockout line is one centre and one setup, controls are spread over the setups.
    Returns the mice and each mouse's setup index within its centre."""
    rows, setups = [], []
    for centre in range(N_CENTRES):
        for setup in range(SETUPS_PER_CENTRE):
            groups = [("", CONTROLS_PER_SETUP)] + [
                (f"G{centre}{setup}{i}", LINE_SIZE) for i in range(LINES_PER_SETUP)
            ]
            for gene, size in groups:
                for _ in range(size):
                    rows.append(
                        {
                            SPECIMEN_ID: f"M{len(rows):05d}",
                            GENE: gene,
                            ALLELE: f"{gene}<tm1>" if gene else "",
                            ZYGOSITY: "homozygote" if gene else "wildtype",
                            CENTRE: f"C{centre}",
                            LINE_ID: f"{gene}|{gene}<tm1>|homozygote|C{centre}" if gene else "",
                            IS_CONTROL: not gene,
                            "cat_equipment_manufacturer": 1 + centre,
                            "cat_equipment_model": 1 + setup,
                        }
                    )
                    setups.append(setup)
    return pd.DataFrame(rows), np.array(setups)


def _null_truth(mice: pd.DataFrame) -> pd.DataFrame:
    return align_truth(
        pd.DataFrame(
            {
                SPECIMEN_ID: mice[SPECIMEN_ID],
                LINE_ID: mice[LINE_ID],
                PLANTED_PATTERN: "none",
                AFFECTED: False,
            }
        ),
        mice,
    )


def _false_positive_rates(mice: pd.DataFrame, labels: np.ndarray) -> dict[str, float]:
    """Null-line false-positive rates as score_clustering counts them, with no hearing-loss
    cluster (none of these mice has a loss)."""
    n_clusters = int(labels.max()) + 1
    enrichment = line_cluster_enrichment(mice, labels, n_clusters, min_line_size=3)
    tested = set(enrichment[LINE_ID])
    anywhere = enriched_lines(enrichment, set(range(n_clusters)), fdr=0.05)
    hearing_loss = enriched_lines(enrichment, set(), fdr=0.05)
    return truth_scores(
        _null_truth(mice), labels, tested, set(hearing_loss[LINE_ID]), set(anywhere[LINE_ID])
    )


def test_clusters_equal_to_centres_score_near_one():
    rng = np.random.default_rng(0)
    centres = rng.integers(0, 11, 6000)
    assert normalized_mutual_information(centres, centres) == pytest.approx(1.0)
    assert cramers_v(centres, centres) == pytest.approx(1.0, abs=1e-3)
    # Twelve clusters that split centres further still carry the centre fully.
    finer = centres * 2 + rng.integers(0, 2, 6000)
    assert cramers_v(finer, centres) > 0.95


def test_clusters_independent_of_centre_score_near_zero():
    rng = np.random.default_rng(1)
    centres = rng.integers(0, 11, 6000)
    clusters = rng.integers(0, 12, 6000)
    assert normalized_mutual_information(clusters, centres) < 0.01
    assert cramers_v(clusters, centres) < 0.03


def test_scores_grow_with_the_share_of_mice_clustered_by_centre():
    rng = np.random.default_rng(2)
    centres = rng.integers(0, 11, 6000)
    scores = []
    for share in (0.0, 0.3, 0.7, 1.0):
        by_centre = rng.random(6000) < share
        clusters = np.where(by_centre, centres, rng.integers(0, 11, 6000))
        scores.append(
            (normalized_mutual_information(clusters, centres), cramers_v(clusters, centres))
        )
    nmi, v = np.array(scores).T
    assert np.all(np.diff(nmi) > 0.05) and np.all(np.diff(v) > 0.1)


def test_single_cluster_or_single_category_is_undefined_not_zero():
    assert np.isnan(cramers_v(np.zeros(50), np.arange(50) % 3))
    assert np.isnan(normalized_mutual_information(np.arange(50) % 3, np.zeros(50)))


def test_nuisance_codes_pair_equipment_and_skip_absent_columns():
    mice, _ = _screen()
    codes = nuisance_codes(mice)
    assert set(codes) == {"centre", "equipment", "zygosity"}
    assert np.unique(codes["equipment"]).size == N_CENTRES * SETUPS_PER_CENTRE
    assert np.unique(codes["centre"]).size == N_CENTRES
    scores = invariance_scores(codes["centre"], codes)
    assert scores["nmi_centre"] == pytest.approx(1.0)
    assert scores["cramers_v_equipment"] > 0.5 and scores["nmi_zygosity"] < 0.01


def test_null_lines_are_called_in_clusters_that_follow_setups_within_centres():
    """Clusters by setup (equipment) put each null line wholly in one cluster that holds only
    a third of its centre: enriched against its centre, though nothing was planted. The
    hearing-loss-only rate cannot see it; the rate over every cluster does."""
    mice, setups = _screen()
    rates = _false_positive_rates(mice, setups)
    assert rates["null_lines_tested"] == N_CENTRES * SETUPS_PER_CENTRE * LINES_PER_SETUP
    assert rates["line_false_positive_rate_any_cluster"] > 0.9
    assert rates["line_false_positive_rate"] == 0.0
    # The same clusters are shared by every centre: NMI(centre) alone would miss them.
    codes = nuisance_codes(mice)
    assert normalized_mutual_information(setups, codes["centre"]) < 0.01
    assert normalized_mutual_information(setups, codes["equipment"]) > 0.3


def test_clusters_equal_to_centres_enrich_no_line_against_its_own_centre():
    """Lines are tested against their own centre's mice, so clusters that are exactly the
    centres call no line: there NMI(centre) is the score that shows the failure."""
    mice, _ = _screen()
    centres = nuisance_codes(mice)["centre"]
    assert _false_positive_rates(mice, centres)["line_false_positive_rate_any_cluster"] == 0.0


def test_random_clusters_call_few_null_lines():
    mice, _ = _screen()
    labels = np.random.default_rng(3).integers(0, 12, len(mice))
    assert _false_positive_rates(mice, labels)["line_false_positive_rate_any_cluster"] < 0.05


def test_control_shares_count_controls_per_cluster_and_in_hearing_loss_clusters():
    labels = np.array([0, 0, 1, 2, 2, 2, 1, 0])
    is_control = np.array([1, 1, 1, 1, 0, 0, 0, 0], dtype=bool)
    shares = control_shares(labels, is_control, clusters=[0, 1, 2, 3], hearing_loss={2, 3})
    assert shares == {
        "controls_in_cluster/00": 0.5,
        "controls_in_cluster/01": 0.25,
        "controls_in_cluster/02": 0.25,
        "controls_in_cluster/03": 0.0,
        "controls_in_hearing_loss_clusters": 0.25,
    }
    assert control_shares(labels, np.zeros(8, dtype=bool), [0, 1, 2], {2}) == {}
