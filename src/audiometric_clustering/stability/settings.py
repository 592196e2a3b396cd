"""The ``stability`` parameters, typed and checked before any member starts, and the
members they make (plain types only: the pre-run check imports this without Dask)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from annotated_types import Ge, Gt, Le
from pydantic import AfterValidator, BeforeValidator

from audiometric_clustering.yaml_settings import Expect, YamlSettings


@dataclass(frozen=True)
class MemberSpec:
    """What makes one member differ from the others: its seed and its number of clusters."""

    seed: int
    n_clusters: int

    @property
    def name(self) -> str:
        return f"k{self.n_clusters:02d}_seed{self.seed}"

    def __str__(self) -> str:  # names the member's Dask task and its log lines
        return self.name


class ClusterSettings(YamlSettings):
    """``params:stability.cluster``: where members run (see stability/cluster.py): a running
    scheduler's ``address``, or an embedded LocalCluster of ``n_workers`` (None: one per
    core) with ``threads_per_worker`` and ``memory_limit`` each."""

    address: str | None
    n_workers: Annotated[int, Ge(1)] | None
    threads_per_worker: Annotated[int, Ge(1)]
    memory_limit: str
    dashboard_address: str


def _listed(value: Any) -> Any:
    """A YAML list, or the same as a space-separated string: ``kedro run --params`` splits
    its argument at commas, so ``--params "stability.seeds=1 2 3"`` is how a list is given."""
    if isinstance(value, str):
        return [int(v) if v.lstrip("-").isdigit() else v for v in value.split()]
    return value


def _distinct(values: list[int]) -> list[int]:
    if not values or len(set(values)) != len(values):
        raise ValueError("not distinct")
    return values


def _integers(low: int) -> Any:
    """Distinct integers >= ``low``, at least one; from YAML or the command line."""
    return Annotated[
        list[Annotated[int, Ge(low)]],
        BeforeValidator(_listed),
        AfterValidator(_distinct),
        Expect(f"distinct integers >= {low}, at least one"),
    ]


class StabilitySettings(YamlSettings):
    """Members are every seed at every cluster count (``n_clusters``; null: the model's)."""

    ENTRY: ClassVar[str] = "stability"

    seeds: _integers(0)
    n_clusters: _integers(2) | None
    stable_share: Annotated[float, Gt(0), Le(1)]
    merge_normal_hearing: bool
    dissolve_normal_below: Annotated[float, Ge(0), Le(1)]
    leave_out_poorly_trained: bool
    retries: Annotated[int, Ge(0)]
    cluster: ClusterSettings

    def members(self, model_n_clusters: int) -> list[MemberSpec]:
        """Every seed at every cluster count, ``model_n_clusters`` when none is given."""
        grid = self.n_clusters or [model_n_clusters]
        return [MemberSpec(seed, k) for k in grid for seed in self.seeds]
