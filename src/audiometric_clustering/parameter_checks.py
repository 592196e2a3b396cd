"""Every parameter a pipeline reads, checked before any of its work starts.

A bad value caught by the stage that reads it would cost the stages before it (a negative
joint epoch count failed after the whole pretraining). The project hook calls
:func:`check_parameters` with the entries (``params:<entry>``) the pipeline's nodes read; each
entry's check raises ``ValueError`` naming the key, its value and what is allowed. The
training, model and synthetic-data entries are checked by the code that builds their typed
settings, so a rule lives in one place; the others by the rules below.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from audiometric_clustering.impc.preprocessing import PCA_SCALES
from audiometric_clustering.impc.schema import CATEGORICAL_METADATA, FREQUENCIES
from audiometric_clustering.impc.synthetic.settings import RUN_KEYS, SyntheticSettings
from audiometric_clustering.model.config import model_config_from
from audiometric_clustering.training.cluster_init import WEIGHTINGS
from audiometric_clustering.training.settings import stage_settings

Rule = tuple[Callable[[Any], bool], str]


def _integer(low: int) -> Rule:
    return (
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low,
        f"an integer >= {low}",
    )


def _number(low: float, high: float = math.inf, open_low: bool = False) -> Rule:
    def valid(value: Any) -> bool:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False
        return (value > low if open_low else value >= low) and value <= high

    bracket = "(" if open_low else "["
    bounds = f"> {low:g}" if high == math.inf and open_low else f">= {low:g}"
    return (
        valid,
        f"a number {bounds}" if high == math.inf else f"a number in {bracket}{low:g}, {high:g}]",
    )


def _interval() -> Rule:
    return (
        lambda v: (
            isinstance(v, list | tuple)
            and len(v) == 2
            and all(isinstance(x, int | float) and not isinstance(x, bool) for x in v)
            and v[0] < v[1]
        ),
        "[low, high] with low < high",
    )


def _flag() -> Rule:
    return lambda v: isinstance(v, bool), "true or false"


def _names(allowed: list[str] | None = None) -> Rule:
    what = "a list of names" + (f" among {allowed}" if allowed else "")
    return (
        lambda v: (
            isinstance(v, list)
            and bool(v)
            and all(isinstance(x, str) for x in v)
            and (allowed is None or set(v) <= set(allowed))
        ),
        what,
    )


def _text(allowed: list[str] | None = None) -> Rule:
    return (
        lambda v: isinstance(v, str) and (allowed is None or v in allowed),
        f"one of {allowed}" if allowed else "a text",
    )


def _optional(rule: Rule) -> Rule:
    return lambda v: v is None or rule[0](v), f"{rule[1]} (or null)"


_BAND_NAMES = [f"{frequency}" for frequency in FREQUENCIES]

#: Rules of the entries without typed settings, by key path inside the entry.
RULES: dict[str, dict[str, Rule]] = {
    "cluster_init": {
        "n_init": _integer(1),
        "max_iter": _integer(1),
        "weighting": _text(list(WEIGHTINGS)),
    },
    "data_processing": {
        "min_line_size": _integer(1),
        "validation_fraction": _number(0, 1, open_low=True),
        "plausible_range_db": _interval(),
        "max_out_of_range_share": _number(0, 1),
        "feature_range_db": _interval(),
        "n_pca_components": _integer(1),
        "pca_scale": _text(list(PCA_SCALES)),
        "control_reference.enabled": _flag(),
        "control_reference.min_group_controls": _integer(1),
        "control_reference.concurrent_controls": _flag(),
        "control_reference.concurrent_controls_on_controls": _flag(),
        "control_reference.match_columns": _names(list(CATEGORICAL_METADATA)),
        "reference_range.width_sd": _number(0),
        "reference_range.min_controls": _integer(1),
    },
    "evaluation": {
        "batch_size": _integer(1),
        "min_line_size": _integer(1),
        "fdr": _number(0, 1, open_low=True),
        "silhouette_sample_size": _integer(2),
        "kmeans_n_init": _integer(1),
        "baseline_fit_size": _integer(2),
        "gmm_components": _integer(1),
        "gmm_covariance": _text(["full", "tied", "diag", "spherical"]),
        "line_shrinkage": _number(0, 1),
        "labels.severity_db.mild": _number(0),
        "labels.severity_db.moderate": _number(0),
        "labels.severity_db.severe": _number(0),
        "labels.severity_db.profound": _number(0),
        "labels.bands.low": _names(_BAND_NAMES),
        "labels.bands.mid": _names(_BAND_NAMES),
        "labels.bands.high": _names(_BAND_NAMES),
        "labels.flat_ratio": _number(0, 1),
        "reference_gene_list": _optional(_text()),
        "top_lines": _integer(1),
        "top_lines_per_cluster": _integer(1),
    },
    "inference": {
        "batch_size": _integer(1),
        "misfit_quantile": _number(0, 1, open_low=True),
        "min_centre_controls": _integer(1),
        "min_line_size": _integer(1),
        "similar_lines": _integer(0),
    },
}


def _leaves(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    leaves = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            leaves |= _leaves(value, f"{prefix}{key}.")
        else:
            leaves[f"{prefix}{key}"] = value
    return leaves


def _check_by_rules(entry: str, values: Any) -> None:
    if not isinstance(values, Mapping):
        raise ValueError(f"{entry} = {values!r}: expected a mapping of parameters")
    leaves, rules = _leaves(values), RULES[entry]
    unknown, missing = sorted(set(leaves) - set(rules)), sorted(set(rules) - set(leaves))
    if unknown or missing:
        raise ValueError(
            f"{entry}: unknown parameters {unknown}, missing parameters {missing} "
            f"(see conf/base/parameters_{entry}.yml)"
        )
    for key, (valid, expected) in rules.items():
        if not valid(leaves[key]):
            raise ValueError(f"{entry}.{key} = {leaves[key]!r}: expected {expected}")


def _check_model(values: Mapping[str, Any]) -> None:
    """The model's sizes and options; vocabularies come from the data, so any stand in."""
    try:
        model_config_from(values, {"vocabularies": {name: [] for name in CATEGORICAL_METADATA}})
    except ValueError as error:
        message = str(error)
        raise ValueError(message if message.startswith("model") else f"model.{message}") from None


def _check_seed(value: Any, key: str = "seed") -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key} = {value!r}: expected an integer >= 0")


def _check_synthetic(values: Mapping[str, Any]) -> None:
    """The generator's size and seed here, its effects by its own settings."""
    n_mice = values.get("n_mice")
    if not isinstance(n_mice, int) or isinstance(n_mice, bool) or n_mice < 1:
        raise ValueError(f"synthetic.n_mice = {n_mice!r}: expected an integer >= 1")
    _check_seed(values.get("seed"), "synthetic.seed")
    SyntheticSettings.from_params({k: v for k, v in values.items() if k not in RUN_KEYS})


def _check_stability(values: Mapping[str, Any], model: Mapping[str, Any]) -> None:
    # imported here: it brings in Dask, which no other pipeline needs at start-up
    from audiometric_clustering.stability.settings import StabilitySettings

    StabilitySettings.from_params(dict(values), model.get("n_clusters"))


def check_parameters(parameters: Mapping[str, Any], entries: set[str]) -> None:
    """Check the named top-level entries of ``parameters`` (unknown entries are skipped:
    their nodes check them)."""
    seed = parameters.get("seed")
    checks: dict[str, Callable[[Any], None]] = {
        "seed": _check_seed,
        "model": _check_model,
        "pretraining": lambda values: stage_settings(values, seed, "pretrain"),
        "joint_training": lambda values: stage_settings(values, seed, "joint"),
        "synthetic": _check_synthetic,
        "stability": lambda values: _check_stability(values, parameters.get("model", {})),
        **{entry: (lambda values, e=entry: _check_by_rules(e, values)) for entry in RULES},
    }
    if entries & {"pretraining", "joint_training"}:
        entries = entries | {"seed"}
    for entry in sorted(entries & set(checks)):
        if entry not in parameters:
            raise ValueError(f"missing parameters entry {entry!r} (see conf/base/)")
        checks[entry](parameters[entry])
