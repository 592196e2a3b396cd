"""Typed, validated settings of the synthetic generator, built from the ``synthetic`` YAML.

``conf/base/parameters_synthetic_data.yml`` is the only place defaults live: the classes
here have no defaults of their own. Every nuisance effect has a switch
or a size whose "off" value gives the clean version (see :meth:`SyntheticSettings.clean`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from audiometric_clustering.impc.synthetic.phenotypes import PATTERN_SHAPES

#: Keys of the ``synthetic`` section that say which data to make, not how they look.
RUN_KEYS = ("n_mice", "seed")


class _Section:
    """Reads one mapping of the YAML, naming the full key and the value in every error."""

    def __init__(self, params: Any, path: str) -> None:
        if not isinstance(params, Mapping):
            raise ValueError(f"{path}: expected a mapping of settings, got {params!r}")
        self.params, self.path, self.used = params, path, set()

    def _get(self, key: str) -> Any:
        if key not in self.params:
            raise ValueError(
                f"{self.path}.{key} is missing (see conf/base/parameters_synthetic_data.yml)"
            )
        self.used.add(key)
        return self.params[key]

    def _fail(self, key: str, value: Any, expected: str) -> ValueError:
        return ValueError(f"{self.path}.{key} = {value!r}: expected {expected}")

    def number(self, key: str, low: float = 0.0, high: float = math.inf) -> float:
        value = self._get(key)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            raise self._fail(key, value, f"a number between {low:g} and {high:g}")
        return float(value)

    def count(self, key: str) -> int:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self._fail(key, value, "a whole number of at least 1")
        return value

    def flag(self, key: str) -> bool:
        value = self._get(key)
        if not isinstance(value, bool):
            raise self._fail(key, value, "true or false")
        return value

    def interval(self, key: str, low: float = 0.0, high: float = math.inf) -> tuple[float, float]:
        value = self._get(key)
        numbers = isinstance(value, list | tuple) and len(value) == 2
        numbers = numbers and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value
        )
        if not numbers or not low <= value[0] <= value[1] <= high:
            raise self._fail(key, value, f"[low, high] with {low:g} <= low <= high <= {high:g}")
        return float(value[0]), float(value[1])

    def section(self, key: str) -> _Section:
        return _Section(self._get(key), f"{self.path}.{key}")

    def done(self) -> None:
        """Reject keys nobody read: a typo must not silently leave an effect at its default."""
        unknown = sorted(set(self.params) - self.used)
        if unknown:
            raise ValueError(f"{self.path}: unknown key(s) {unknown}; known: {sorted(self.used)}")


@dataclass(frozen=True)
class PlantedSettings:
    """Inherited hearing-loss patterns: which genes carry one, and how strongly."""

    line_share: float  # share of knockout lines that express a pattern
    penetrance: tuple[float, float]  # each line's share of mice expressing it, drawn within
    sizes_vary_by_line: bool  # off: every line of a pattern has its range's midpoint
    mouse_spread: float  # SD of an affected mouse's multiplier of its line's size
    recessive: bool  # off: heterozygote lines carry their gene's pattern too
    weights: Mapping[str, float]  # relative frequency of each pattern among planted genes
    size_db: Mapping[str, tuple[float, float]]  # range of a line's peak shift per pattern


@dataclass(frozen=True)
class SyntheticSettings:
    """Everything about the synthetic export except its size and seed."""

    control_share: float
    centre_baselines: bool  # off: all centres share one control mean and spread
    correlated_frequencies: bool  # off: a mouse's deviations are independent per frequency
    baseline_skewness: float  # right skew of the control distribution; 0: normal
    cohort_offset_sd_db: float  # offset shared by the mice of a cohort; 0: none
    lines_per_cohort: int
    sporadic_control_share: float  # non-inherited loss in controls; 0: none
    sporadic_mutant_share: float
    sporadic_flat_share: float  # the rest is tonal (one or two adjacent tones)
    sporadic_shift_db: tuple[float, float]
    centre_ceilings: bool  # off: "no response" is 100 dB at every centre
    grid_offsets: bool  # off: every centre on the plain 5 dB grid
    continuous_values: bool  # off: no centre records to 0.1 dB
    missing_values: bool  # off: every threshold measured (click at ICS and JAX too)
    planted: PlantedSettings

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> SyntheticSettings:
        """Validated settings from the ``synthetic`` mapping (without ``n_mice`` and ``seed``)."""
        root = _Section(params, "synthetic")
        baseline, cohorts = root.section("baseline"), root.section("cohorts")
        sporadic, recording = root.section("sporadic_loss"), root.section("recording")
        settings = cls(
            control_share=root.number("control_share", 0.01, 0.9),
            centre_baselines=baseline.flag("by_centre"),
            correlated_frequencies=baseline.flag("correlated"),
            baseline_skewness=baseline.number("skewness", 0.0, 2.0),
            cohort_offset_sd_db=cohorts.number("offset_sd_db", 0.0, 20.0),
            lines_per_cohort=cohorts.count("lines_per_cohort"),
            sporadic_control_share=sporadic.number("control_share", 0.0, 1.0),
            sporadic_mutant_share=sporadic.number("mutant_share", 0.0, 1.0),
            sporadic_flat_share=sporadic.number("flat_share", 0.0, 1.0),
            sporadic_shift_db=sporadic.interval("shift_db", 0.0, 120.0),
            centre_ceilings=recording.flag("centre_ceilings"),
            grid_offsets=recording.flag("grid_offsets"),
            continuous_values=recording.flag("continuous_values"),
            missing_values=recording.flag("missing_values"),
            planted=_planted(root.section("planted")),
        )
        for section in (baseline, cohorts, sporadic, recording, root):
            section.done()
        return settings

    def clean(self) -> SyntheticSettings:
        """The same settings with every nuisance effect off: the planted patterns alone."""
        return replace(
            self,
            centre_baselines=False,
            correlated_frequencies=False,
            baseline_skewness=0.0,
            cohort_offset_sd_db=0.0,
            sporadic_control_share=0.0,
            sporadic_mutant_share=0.0,
            centre_ceilings=False,
            grid_offsets=False,
            continuous_values=False,
            missing_values=False,
        )


def _planted(section: _Section) -> PlantedSettings:
    patterns = section.section("patterns")
    weights, sizes = {}, {}
    for name in patterns.params:
        if name not in PATTERN_SHAPES:
            raise ValueError(
                f"{patterns.path}.{name}: unknown pattern; known: {sorted(PATTERN_SHAPES)}"
            )
        pattern = patterns.section(name)
        weights[name] = pattern.number("weight")
        sizes[name] = pattern.interval("size_db", 0.0, 150.0)
        pattern.done()
    if not weights or sum(weights.values()) <= 0:
        raise ValueError(f"{patterns.path}: expected at least one pattern with a weight above 0")
    settings = PlantedSettings(
        line_share=section.number("line_share", 0.0, 1.0),
        penetrance=section.interval("penetrance", 0.0, 1.0),
        sizes_vary_by_line=section.flag("sizes_vary_by_line"),
        mouse_spread=section.number("mouse_spread", 0.0, 1.0),
        recessive=section.flag("recessive"),
        weights=weights,
        size_db=sizes,
    )
    section.done()
    return settings
