"""What each cluster sounds like: threshold quartiles per frequency and a descriptive label.

Labels come from the cluster's median elevation above controls: the control-referenced
features (threshold - matched controls' typical threshold + the overall one) minus the controls'
median, i.e. dB above the mouse's own centre's controls. "Normal" then means "hears like the
controls of its centre" whatever the centre's equipment; raw thresholds are summarised beside
them for readers who think in dB SPL.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import numpy as np
import pandas as pd
from annotated_types import Ge, Gt, Le, Len
from pydantic import model_validator

from audiometric_clustering.impc.schema import (
    ABR_FEATURES,
    ABR_OBSERVED,
    FREQUENCIES,
    IS_CONTROL,
    RAW_ABR,
)
from audiometric_clustering.yaml_settings import Expect, Refusal, YamlSettings

CLUSTER = "cluster"
RAW = "raw"
ABOVE_CONTROLS = "above_controls"
NORMAL = "normal"
SEVERITIES = ("mild", "moderate", "severe", "profound")


class SeverityBounds(YamlSettings):
    """Lower bound (dB above controls) of each severity, applied to the worst band."""

    mild: Annotated[float, Ge(0)]
    moderate: Annotated[float, Ge(0)]
    severe: Annotated[float, Ge(0)]
    profound: Annotated[float, Ge(0)]

    @model_validator(mode="after")
    def _increasing(self) -> SeverityBounds:
        bounds = [self.mild, self.moderate, self.severe, self.profound]
        if bounds != sorted(bounds):
            raise Refusal(f"expected bounds that increase from mild to profound, got {bounds}")
        return self


Band = Annotated[
    list[Literal[FREQUENCIES]], Len(1), Expect(f"a list of names among {list(FREQUENCIES)}")
]


class Bands(YamlSettings):
    """The frequency bands, averaged, whose contrast names the shape of a loss."""

    low: Band
    mid: Band
    high: Band


class LabelRules(YamlSettings):
    """Cutoffs (dB above controls) that turn a median audiogram into words
    (``params:evaluation.labels``).

    severity_db: lower bound of each severity, applied to the worst frequency band; below
        the "mild" bound a cluster is normal.
    bands: frequency bands, averaged, whose contrast names the shape of a loss.
    flat_ratio: the loss is flat when its best band is elevated by at least this fraction of
        its worst band; otherwise it is named after its worst band (high-, low-, mid-frequency).
        A ratio, not a dB range, because profound losses hit the no-response ceiling
        (100 dB SPL) unevenly across frequencies: 75 vs 58 dB is still a flat, profound loss.
    """

    ENTRY: ClassVar[str] = "evaluation.labels"

    severity_db: SeverityBounds
    bands: Bands
    flat_ratio: Annotated[float, Gt(0), Le(1)]


def elevation_above_controls(mice: pd.DataFrame) -> np.ndarray:
    """Measured control-referenced thresholds minus the controls' median, NaN where imputed.

    The referenced features keep the dB scale by adding back the overall control median, so
    subtracting the controls' median puts a typical control at 0 dB. Without controls at a
    frequency the median of all mice stands in (most mice hear normally).
    """
    observed = mice[list(ABR_OBSERVED)].to_numpy() > 0.5
    measured = np.where(observed, mice[list(ABR_FEATURES)].to_numpy(dtype=float), np.nan)
    controls = measured[mice[IS_CONTROL].to_numpy(dtype=bool)]
    has_controls = np.isfinite(controls).any(axis=0)
    reference = np.full(measured.shape[1], np.nan)
    everyone = np.isfinite(measured).any(axis=0)
    reference[everyone] = np.nanmedian(measured[:, everyone], axis=0)
    reference[has_controls] = np.nanmedian(controls[:, has_controls], axis=0)
    return measured - reference


def threshold_summary(mice: pd.DataFrame, labels: np.ndarray, n_clusters: int) -> pd.DataFrame:
    """Quartiles of measured thresholds per cluster, scale and frequency.

    Scales: "raw" (dB SPL as measured) and "above_controls" (see ``elevation_above_controls``).
    Imputed values are masked out: they describe the imputer, not the mice. Long format, one
    row per (cluster, scale, frequency) with the number of measured mice.
    """
    scales = {
        RAW: mice[list(RAW_ABR)].to_numpy(dtype=float),
        ABOVE_CONTROLS: elevation_above_controls(mice),
    }
    frames = []
    for scale, values in scales.items():
        wide = pd.DataFrame(values, columns=list(FREQUENCIES))
        grouped = wide.groupby(np.asarray(labels))
        stats = {
            "n_measured": grouped.count(),
            "q1": grouped.quantile(0.25),
            "median": grouped.median(),
            "q3": grouped.quantile(0.75),
            "mean": grouped.mean(),
        }
        long = pd.concat(
            {name: frame.stack(future_stack=True) for name, frame in stats.items()}, axis=1
        )
        long.index = long.index.set_names([CLUSTER, "frequency"])
        frames.append(long.reset_index().assign(scale=scale))
    summary = pd.concat(frames, ignore_index=True)
    full = pd.MultiIndex.from_product(
        [range(n_clusters), [RAW, ABOVE_CONTROLS], list(FREQUENCIES)],
        names=[CLUSTER, "scale", "frequency"],
    )
    summary = summary.set_index([CLUSTER, "scale", "frequency"]).reindex(full).reset_index()
    summary["n_measured"] = summary["n_measured"].fillna(0).astype(np.int64)
    return summary


def describe_audiogram(elevation_db: dict[str, float], rules: LabelRules) -> tuple[str, str]:
    """(severity, shape) of one median audiogram given as dB above controls per frequency.

    Severity is judged on the worst band, so a loss confined to high frequencies is not
    diluted into "mild" by normal low frequencies. Returns ("normal", "") below the mild bound
    and ("unknown", "") when no band has a measurement.
    """
    bands = dict(rules.bands)
    band_levels = {band: _band_level(elevation_db, freqs) for band, freqs in bands.items()}
    measured = {band: level for band, level in band_levels.items() if np.isfinite(level)}
    if not measured:
        return "unknown", ""
    worst_band = max(measured, key=measured.get)
    worst = measured[worst_band]
    severity = NORMAL
    for name, bound in dict(rules.severity_db).items():
        if worst >= bound:
            severity = name
    if severity == NORMAL:
        return NORMAL, ""
    if min(measured.values()) >= rules.flat_ratio * worst:
        return severity, "flat"
    return severity, f"{worst_band}-frequency"


def _band_level(elevation_db: dict[str, float], frequencies: list[str]) -> float:
    """Mean elevation over a band's measured frequencies (NaN when none is measured)."""
    values = np.array([elevation_db.get(f, np.nan) for f in frequencies], dtype=float)
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def cluster_labels(
    summary: pd.DataFrame, labels: np.ndarray, n_clusters: int, rules: LabelRules
) -> pd.DataFrame:
    """One row per cluster: size, share, severity, shape, label and the hearing-loss flag.

    A hearing-loss cluster is any cluster whose label is not "normal" (nor empty/unknown).
    """
    sizes = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_clusters)
    elevation = summary[summary["scale"] == ABOVE_CONTROLS]
    medians = elevation.pivot(index=CLUSTER, columns="frequency", values="median")
    rows = []
    for cluster in range(n_clusters):
        if sizes[cluster] == 0:
            severity, shape = "empty", ""
        else:
            severity, shape = describe_audiogram(medians.loc[cluster].to_dict(), rules)
        rows.append(
            {
                CLUSTER: cluster,
                "n_mice": int(sizes[cluster]),
                "share": float(sizes[cluster] / max(sizes.sum(), 1)),
                "severity": severity,
                "shape": shape,
                "label": f"{severity} {shape}".strip(),
                "hearing_loss": severity in SEVERITIES,
            }
        )
    return pd.DataFrame(rows)
