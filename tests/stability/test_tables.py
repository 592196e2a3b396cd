"""Flagging a member that trained poorly, from the member table alone."""

import pandas as pd

from audiometric_clustering.stability.report import _poorly_trained_sentence
from audiometric_clustering.stability.tables import left_out_of_consensus, poorly_trained


def _members(losses: dict[str, float | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "member": list(losses),
            "status": ["ok" if loss is not None else "failed" for loss in losses.values()],
            "pretrain_val_loss": [float("nan") if v is None else v for v in losses.values()],
        }
    )


def test_a_member_far_above_the_median_pretraining_loss_is_flagged() -> None:
    # seeds 6-10 of the default data without the KL warm-up: seed 7 never left a poor optimum
    members = _members(
        {"k12_seed6": 0.955, "k12_seed7": 1.423, "k12_seed8": 0.958, "k12_seed9": 0.952,
         "k12_seed10": 0.955, "k12_seed11": None}
    )  # fmt: skip
    assert poorly_trained(members) == ["k12_seed7"]
    summary = {
        "members_poorly_trained": poorly_trained(members),
        "members_left_out": ["k12_seed7"],
        "pretrain_val_loss_median": 0.955,
    }
    sentence = _poorly_trained_sentence(summary, members)
    assert (
        "k12_seed7 (1.423)" in sentence
        and "median pretraining validation loss of 0.955" in sentence
        and "Left out of the consensus and the line stability: k12_seed7" in sentence
    )
    kept = summary | {"members_left_out": [], "leave_out_poorly_trained": False}
    assert "Every member is in the consensus" in _poorly_trained_sentence(kept, members)
    no_other = kept | {"leave_out_poorly_trained": True}
    assert "chosen k has no member" in _poorly_trained_sentence(no_other, members)


def test_an_ordinary_spread_of_losses_flags_no_one() -> None:
    # the worst of 38 ordinary seeds was 1.17 times the median
    members = _members({"a": 0.97, "b": 1.133, "c": 0.95, "d": 1.06})
    assert poorly_trained(members) == []
    assert _poorly_trained_sentence({"members_poorly_trained": []}, members) == ""
    assert poorly_trained(_members({"x": None})) == []


def test_the_consensus_never_leaves_out_every_member_at_its_k() -> None:
    # seed 3 trained poorly at both k; at k 8 it is the only member
    members = _members(
        {"k12_seed1": 0.95, "k12_seed2": 0.96, "k12_seed3": 1.42, "k12_seed4": 0.97,
         "k08_seed3": 1.45}
    )  # fmt: skip
    members["n_clusters"] = [12, 12, 12, 12, 8]
    assert poorly_trained(members) == ["k12_seed3", "k08_seed3"]
    assert left_out_of_consensus(members, 12) == ["k12_seed3"]
    assert left_out_of_consensus(members, 8) == []
