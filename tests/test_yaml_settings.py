"""One message shape for every bad parameter: the full key, the value, what is allowed."""

from __future__ import annotations

import pytest

from audiometric_clustering.parameter_checks import SETTINGS, check_parameters
from tests.parameters import parameters


@pytest.mark.parametrize(
    ("entry", "changes", "message"),
    [
        ("joint_training", {"epochs": -1}, "joint_training.epochs = -1: expected an integer >= 1"),
        ("model", {"n_clusters": 0}, "model.n_clusters = 0: expected an integer >= 2"),
        ("model", {"dropout": True}, "model.dropout = True: expected a number in [0, 1)"),
        (
            "evaluation",
            {"gmm_covariance": "round"},
            "evaluation.gmm_covariance = 'round': expected one of "
            "['full', 'tied', 'diag', 'spherical']",
        ),
        (
            "pretraining",
            {"gradient_clip_norm": 0},
            "pretraining.gradient_clip_norm = 0: expected a number >= 1e-12 (or null)",
        ),
        (
            "data_processing",
            {"plausible_range_db": [130, -20]},
            "data_processing.plausible_range_db = [130, -20]: expected [low, high] with low < high",
        ),
        (
            "stability",
            {"cluster": {**parameters("stability")["cluster"], "threads_per_worker": 0}},
            "stability.cluster.threads_per_worker = 0: expected an integer >= 1",
        ),
        (
            "stability",
            {"cluster": {"address": None}},
            "stability.cluster: missing parameters ['dashboard_address', 'memory_limit', "
            "'n_workers', 'threads_per_worker']",
        ),
        ("inference", {"batch_size": "8192"}, "inference.batch_size = '8192': expected an integer"),
        ("cluster_init", None, "cluster_init: expected a mapping of parameters"),
    ],
)
def test_a_bad_value_reads_the_same_in_every_entry(entry: str, changes, message: str) -> None:
    values = parameters(entry) | changes if changes is not None else None
    with pytest.raises(ValueError) as refused:
        SETTINGS[entry].from_params(values, entry)
    assert str(refused.value).startswith(message)


def test_a_negative_seed_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"^seed = -1: expected an integer >= 0$"):
        check_parameters({"seed": -1, "pretraining": parameters("pretraining")}, {"pretraining"})


#: Keys a stage reads only when the term that uses them is weighted (contrastive is not).
CONDITIONAL = {"joint_training": {"contrastive_temperature"}}


@pytest.mark.parametrize("entry", sorted(SETTINGS))
def test_settings_have_no_defaults_of_their_own(entry: str) -> None:
    """conf/base is the only place a default lives: an entry with a key left out fails."""
    for key in parameters(entry):
        values = {k: v for k, v in parameters(entry).items() if k != key}
        if key in CONDITIONAL.get(entry, set()):
            SETTINGS[entry].from_params(values, entry)
            continue
        with pytest.raises(ValueError, match=rf"^{entry}: missing parameters \['{key}'\]$"):
            SETTINGS[entry].from_params(values, entry)
