"""Where cluster_init puts its centres: k-means weighted by distance from the controls, or not
at all; with a normal cluster, groups of the mutants that depart from the controls."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from audiometric_clustering.training.cluster_init import (
    ClusterInitSettings,
    control_distance,
    fit_centres,
)
from audiometric_clustering.training.phenotype_init import phenotype_count, phenotype_groups
from tests.parameters import parameters


def normal_mass_and_phenotypes(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A broad mass of 9,700 normal-hearing mice (a quarter of them controls, stretched along
    one axis as centre baselines stretch real data) and three tight groups of 100 mutants
    each, six control SDs out: latent, control flags and group (-1 for the mass)."""
    rng = np.random.default_rng(seed)
    mass = rng.normal(size=(9700, 3)) * [4.0, 1.0, 1.0]
    groups = np.concatenate(
        [rng.normal(loc, 0.3, size=(100, 3)) for loc in ([0, 6, 0], [0, 0, 6], [0, 6, 6])]
    )
    latent = np.concatenate([mass, groups])
    is_control = np.zeros(len(latent), dtype=bool)
    is_control[: len(mass) // 4] = True
    group = np.concatenate([np.full(len(mass), -1), np.repeat([0, 1, 2], 100)])
    return latent, is_control, group


def test_control_distance_is_the_mahalanobis_distance_from_the_controls() -> None:
    rng = np.random.default_rng(1)
    controls = rng.normal(size=(5000, 2)) * [2.0, 0.5]
    latent = np.concatenate([controls, [[2.0, 0.0], [0.0, 0.5], [0.0, 0.0]]])
    is_control = np.arange(len(latent)) < len(controls)
    distance = control_distance(latent, is_control)
    # one standard deviation out along either axis is distance 1, whatever the axis's scale
    np.testing.assert_allclose(distance[-3:], [1.0, 1.0, 0.0], atol=0.05)


def test_weighting_by_control_distance_gives_each_phenotype_its_own_centre() -> None:
    latent, is_control, group = normal_mass_and_phenotypes()
    mutants = group >= 0

    def agreement(weighting: str) -> float:
        kmeans = fit_centres(latent, is_control, 8, weighting, n_init=10, max_iter=300, seed=0)
        return adjusted_rand_score(group[mutants], kmeans.predict(latent[mutants]))

    assert agreement("control_distance") == pytest.approx(1.0)
    assert agreement("none") < 0.6  # plain k-means spends its centres on the mass


def test_control_distance_weighting_refuses_data_without_enough_controls() -> None:
    latent, _, _ = normal_mass_and_phenotypes()
    with pytest.raises(ValueError, match="found 2;.*weighting: none"):
        fit_centres(latent, np.arange(len(latent)) < 2, 5, "control_distance", 1, 10, 0)
    plain = fit_centres(latent, np.zeros(len(latent), dtype=bool), 5, "none", 1, 10, 0)
    assert plain.cluster_centers_.shape == (5, 3)


def test_an_unknown_weighting_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match="'inverse'.*control_distance"):
        ClusterInitSettings.from_params(parameters("cluster_init") | {"weighting": "inverse"})
    with pytest.raises(
        ValueError, match=r"phenotype_clusters = \[5, 3\]: expected \[fewest, most\]"
    ):
        ClusterInitSettings.from_params(parameters("cluster_init") | {"phenotype_clusters": [5, 3]})


def audiograms_with_planted_lines(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thresholds (dB above the controls' typical, 6 tones) of 3,000 controls and of 600
    lines of 4 mutants: 30 lines each with a mild flat loss (35 dB), a severe flat loss
    (80 dB) and a high-frequency loss, the rest normal but with one mouse in five carrying
    a sporadic 20 dB flat loss of its own (and 3% of the controls). Returns the thresholds, their lines' means
    (a control its own), and each mouse's planted pattern (-1: none)."""
    rng = np.random.default_rng(seed)
    shapes = np.array(
        [[35.0] * 6, [80.0] * 6, [0.0, 0.0, 10.0, 30.0, 40.0, 10.0]]  # mild, severe, high
    )
    line_pattern = np.r_[np.repeat([0, 1, 2], 30), np.full(510, -1)]
    pattern = np.r_[np.full(3000, -1), np.repeat(line_pattern, 4)]
    line = np.r_[np.full(3000, -1), np.repeat(np.arange(600), 4)]
    noise = rng.normal(size=(len(line), 6)) @ np.linalg.cholesky(25.0 * (0.5 * np.eye(6) + 0.5)).T
    loss = np.where(pattern[:, None] >= 0, shapes[np.maximum(pattern, 0)], 0.0)
    sporadic = rng.random(len(line)) < np.where(line < 0, 0.03, np.where(pattern < 0, 0.2, 0))
    thresholds = noise + loss + 20.0 * sporadic[:, None]
    means = pd.DataFrame(thresholds).groupby(line).transform("mean").to_numpy()
    line_means = np.where(line[:, None] >= 0, means, thresholds)
    return thresholds, line_means, pattern


def test_phenotype_groups_split_one_shape_by_size_and_keep_sporadic_loss_out() -> None:
    thresholds, line_means, pattern = audiograms_with_planted_lines()
    is_control = np.r_[np.full(3000, True), np.full(2400, False)]
    groups = phenotype_groups(line_means, is_control, 3, 0.03, n_init=5, max_iter=100)
    planted = pattern >= 0
    assert (groups[planted] >= 0).all()  # every planted line's mice depart from normal
    assert adjusted_rand_score(pattern[planted], groups[planted]) == pytest.approx(1.0)
    assert (groups[is_control] == -1).all()  # controls anchor normal hearing: never grouped
    # read alone, a sporadic loss departs as a planted one does; as its line's mean it does not
    alone = phenotype_groups(thresholds, is_control, 3, 0.03, n_init=5, max_iter=100)
    null_mutants = ~is_control & ~planted
    assert (alone[null_mutants] >= 0).mean() > 0.1
    assert (groups[null_mutants] >= 0).mean() < 0.01


def test_phenotype_groups_refuse_too_few_departing_mutants() -> None:
    _, line_means, pattern = audiograms_with_planted_lines()
    is_control = np.r_[np.full(3000, True), np.full(2400, False)]
    keep = is_control | (np.arange(len(pattern)) < 3008)  # the controls and two mild lines
    with pytest.raises(
        ValueError,
        match=r"only 8 mutants \(distinct audiograms: 2\) depart .* fewer than the 12 phenotype",
    ):
        phenotype_groups(line_means[keep], is_control[keep], 12, 0.03, 1, 10)
    with pytest.raises(ValueError, match="more control mice than threshold columns"):
        phenotype_groups(line_means, np.arange(len(pattern)) < 3, 3, 0.03, 1, 10)


def test_the_phenotype_count_is_the_one_with_the_most_distinct_groups() -> None:
    _, line_means, pattern = audiograms_with_planted_lines()
    is_control = np.r_[np.full(3000, True), np.full(2400, False)]
    count, scores = phenotype_count(line_means, is_control, range(2, 7), 0.03, 5, 100)
    assert count == 3 and sorted(scores) == [2, 3, 4, 5, 6]
    assert scores[3] == min(scores.values())
    again, _ = phenotype_count(line_means, is_control, range(2, 7), 0.03, 5, 100)
    assert again == count  # a fixed k-means seed: the same count for every training seed
    keep = is_control | (np.arange(len(pattern)) < 3008)  # the controls and two mild lines
    few, scores = phenotype_count(line_means[keep], is_control[keep], range(4, 9), 0.03, 1, 10)
    assert (few, scores) == (2, {})  # as many groups as there are departing audiograms
    with pytest.raises(ValueError, match="no mutant departs"):
        phenotype_count(
            line_means[is_control | (pattern < 0)][:3200],
            is_control[:3200],
            range(4, 9),
            0.03,
            1,
            10,
        )
