"""The ``stability`` parameters, typed and checked before any member starts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from audiometric_clustering.stability.cluster import ClusterSettings
from audiometric_clustering.stability.members import MemberSpec

KEYS = (
    "seeds",
    "n_clusters",
    "stable_share",
    "merge_normal_hearing",
    "dissolve_normal_below",
    "leave_out_poorly_trained",
    "retries",
    "cluster",
)


@dataclass(frozen=True)
class StabilitySettings:
    """Members are every seed at every cluster count (``n_clusters``; null: the model's)."""

    seeds: tuple[int, ...]
    n_clusters: tuple[int, ...]
    stable_share: float
    merge_normal_hearing: bool
    dissolve_normal_below: float
    leave_out_poorly_trained: bool
    retries: int
    cluster: ClusterSettings

    @classmethod
    def from_params(cls, params: dict[str, Any], model_n_clusters: int) -> StabilitySettings:
        unknown = sorted(set(params) - set(KEYS))
        missing = sorted(set(KEYS) - set(params))
        if unknown or missing:
            raise ValueError(f"stability: unknown parameters {unknown}, missing {missing}")
        seeds = _listed(params["seeds"])
        grid = params["n_clusters"]
        n_clusters = (model_n_clusters,) if grid is None else _listed(grid)
        _check_integers("seeds", seeds, low=0)
        _check_integers("n_clusters", n_clusters, low=2)
        share, retries = params["stable_share"], params["retries"]
        if not isinstance(share, int | float) or not 0 < share <= 1:
            raise ValueError(f"stability.stable_share = {share!r}: expected a number in (0, 1]")
        dissolve = params["dissolve_normal_below"]
        if (
            not isinstance(dissolve, int | float)
            or isinstance(dissolve, bool)
            or not 0 <= dissolve <= 1
        ):
            raise ValueError(
                f"stability.dissolve_normal_below = {dissolve!r}: expected a number in [0, 1]"
            )
        merge, leave_out = params["merge_normal_hearing"], params["leave_out_poorly_trained"]
        for name, value in (
            ("merge_normal_hearing", merge),
            ("leave_out_poorly_trained", leave_out),
        ):
            if not isinstance(value, bool):
                raise ValueError(f"stability.{name} = {value!r}: expected true or false")
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise ValueError(f"stability.retries = {retries!r}: expected an integer >= 0")
        return cls(
            seeds=seeds,
            n_clusters=n_clusters,
            stable_share=float(share),
            merge_normal_hearing=merge,
            dissolve_normal_below=float(dissolve),
            leave_out_poorly_trained=leave_out,
            retries=retries,
            cluster=ClusterSettings.from_params(params["cluster"]),
        )

    @property
    def members(self) -> list[MemberSpec]:
        return [MemberSpec(seed, k) for k in self.n_clusters for seed in self.seeds]


def _listed(value: Any) -> tuple[Any, ...]:
    """A YAML list, or the same as a space-separated string: ``kedro run --params`` splits
    its argument at commas, so ``--params "stability.seeds=1 2 3"`` is how a list is given."""
    if isinstance(value, str):
        return tuple(int(v) if v.lstrip("-").isdigit() else v for v in value.split())
    return tuple(value or ())


def _check_integers(key: str, values: tuple[Any, ...], low: int) -> None:
    valid = all(isinstance(v, int) and not isinstance(v, bool) and v >= low for v in values)
    if not values or not valid or len(set(values)) != len(values):
        raise ValueError(
            f"stability.{key} = {list(values)!r}: expected distinct integers >= {low}, at least one"
        )
