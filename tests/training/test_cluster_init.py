"""Where k-means puts its centres: weighted by distance from the controls, or not at all."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from audiometric_clustering.training.cluster_init import (
    ClusterInitSettings,
    control_distance,
    fit_centres,
)
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
