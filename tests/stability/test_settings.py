"""The stability parameters: the YAML defaults load, lists come from YAML or the command
line, and bad values stop the run before any member starts."""

from __future__ import annotations

import pytest

from audiometric_clustering.stability.settings import MemberSpec, StabilitySettings
from tests.parameters import parameters, with_changes


def test_defaults_are_five_seeds_at_the_model_k() -> None:
    settings = StabilitySettings.from_params(parameters("stability"))
    assert [str(m) for m in settings.members(12)] == [f"k12_seed{s}" for s in (1, 2, 3, 4, 5)]
    assert settings.cluster.address is None and settings.cluster.threads_per_worker == 1


def test_a_grid_from_the_command_line_is_every_seed_at_every_k() -> None:
    params = with_changes("stability", seeds="7 8", n_clusters="8 10")
    members = StabilitySettings.from_params(params).members(12)
    assert members == [MemberSpec(7, 8), MemberSpec(8, 8), MemberSpec(7, 10), MemberSpec(8, 10)]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seeds": []}, "stability.seeds"),
        ({"seeds": [1, 1]}, "distinct"),
        ({"n_clusters": [1, 4]}, "stability.n_clusters"),
        ({"n_clusters": "8 ten"}, "stability.n_clusters"),
        ({"stable_share": 0}, "stability.stable_share"),
        ({"dissolve_normal_below": 1.5}, "stability.dissolve_normal_below"),
        ({"dissolve_normal_below": True}, "stability.dissolve_normal_below"),
        ({"leave_out_poorly_trained": "yes"}, "stability.leave_out_poorly_trained"),
        ({"merge_normal_hearing": 1}, "stability.merge_normal_hearing"),
        ({"retries": -1}, "stability.retries"),
        ({"seed": 3}, "unknown parameters \\['seed'\\]"),
        ({"cluster": {"n_workers": 0}}, "n_workers"),
        ({"cluster": {"workers": 2}}, "unknown parameters \\['workers'\\]"),
    ],
)
def test_bad_values_are_refused_by_name(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StabilitySettings.from_params(with_changes("stability", **change))
