"""Typed settings of the synthetic generator: the ``synthetic`` YAML entry.

``conf/base/parameters_synthetic_data.yml`` is the only place defaults live: the classes
here have no defaults of their own. Every nuisance effect has a switch or a size whose "off"
value gives the clean version (see :meth:`SyntheticSettings.clean`).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from annotated_types import Ge, Le, Len
from pydantic import AfterValidator, model_validator

from audiometric_clustering.impc.synthetic.phenotypes import PATTERN_SHAPES
from audiometric_clustering.yaml_settings import Expect, Refusal, YamlSettings, named

Share = Annotated[float, Ge(0), Le(1)]


def _ordered(interval: list[float]) -> list[float]:
    if interval[0] > interval[1]:
        raise ValueError("low above high")
    return interval


def _range(low: float, high: float) -> Any:
    """``[low, high]`` inside ``[low, high]`` bounds, low <= high."""
    return Annotated[
        list[Annotated[float, Ge(low), Le(high)]],
        Len(2, 2),
        AfterValidator(_ordered),
        Expect(f"[low, high] with {low:g} <= low <= high <= {high:g}"),
    ]


class BaselineSettings(YamlSettings):
    """Control hearing: ``by_centre`` off, all centres share one control mean and spread;
    ``correlated`` off, a mouse's deviations are independent per frequency;
    ``skewness`` the control distribution's right skew (0: normal)."""

    by_centre: bool
    correlated: bool
    skewness: Annotated[float, Ge(0), Le(2)]


class CohortSettings(YamlSettings):
    """Mice tested together: the offset their cohort shares (0: none), lines per cohort."""

    offset_sd_db: Annotated[float, Ge(0), Le(20)]
    lines_per_cohort: Annotated[int, Ge(1)]


class SporadicLossSettings(YamlSettings):
    """Non-inherited loss (not "affected" in the truth): shares of controls and mutants
    (0: none), the flat share (the rest tonal: one or two adjacent tones) and its size."""

    control_share: Share
    mutant_share: Share
    flat_share: Share
    shift_db: _range(0, 120)


class RecordingSettings(YamlSettings):
    """How values are recorded; each off gives the plain version: "no response" at 100 dB
    everywhere, the plain 5 dB grid, no 0.1 dB values, every threshold measured."""

    centre_ceilings: bool
    grid_offsets: bool
    continuous_values: bool
    missing_values: bool


class PatternSettings(YamlSettings):
    """A planted pattern: its relative frequency among planted genes, the line's peak shift."""

    weight: Annotated[float, Ge(0)]
    size_db: _range(0, 150)


class PlantedSettings(YamlSettings):
    """Inherited hearing-loss patterns: which genes carry one, and how strongly.

    line_share: share of knockout lines that express a pattern; penetrance: each line's share
    of mice expressing it, drawn within; sizes_vary_by_line off: every line of a pattern has
    its range's midpoint; mouse_spread: SD of an affected mouse's multiplier of its line's
    size; recessive off: heterozygote lines carry their gene's pattern too.
    """

    line_share: Share
    penetrance: _range(0, 1)
    sizes_vary_by_line: bool
    mouse_spread: Share
    recessive: bool
    patterns: Annotated[dict[str, PatternSettings], named(PATTERN_SHAPES, "patterns")]

    @model_validator(mode="after")
    def _some_weight(self) -> PlantedSettings:
        if sum(pattern.weight for pattern in self.patterns.values()) <= 0:
            raise Refusal("expected at least one pattern with a weight above 0", "patterns")
        return self


class SyntheticSettings(YamlSettings):
    """The synthetic export: how many mice, its seed, and how they look."""

    ENTRY: ClassVar[str] = "synthetic"

    n_mice: Annotated[int, Ge(1)]
    seed: Annotated[int, Ge(0)]
    control_share: Annotated[float, Ge(0.01), Le(0.9)]
    baseline: BaselineSettings
    cohorts: CohortSettings
    sporadic_loss: SporadicLossSettings
    recording: RecordingSettings
    planted: PlantedSettings

    def clean(self) -> SyntheticSettings:
        """The same settings with every nuisance effect off: the planted patterns alone."""
        return self.model_copy(
            update={
                "baseline": BaselineSettings(by_centre=False, correlated=False, skewness=0.0),
                "cohorts": self.cohorts.model_copy(update={"offset_sd_db": 0.0}),
                "sporadic_loss": self.sporadic_loss.model_copy(
                    update={"control_share": 0.0, "mutant_share": 0.0}
                ),
                "recording": RecordingSettings(
                    centre_ceilings=False,
                    grid_offsets=False,
                    continuous_values=False,
                    missing_values=False,
                ),
            }
        )
