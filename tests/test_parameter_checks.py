"""Every parameter a pipeline reads is checked before work starts, naming key and value."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from audiometric_clustering.parameter_checks import SETTINGS, check_parameters
from audiometric_clustering.settings import CONFIG_LOADER_ARGS, CONFIG_LOADER_CLASS

CONF = Path(__file__).resolve().parents[1] / "conf"


def _defaults() -> dict:
    values = {}
    for path in sorted((CONF / "base").glob("parameters*.yml")):
        values |= yaml.safe_load(path.read_text()) or {}
    return values


ENTRIES = {"seed", *SETTINGS}


def test_the_shipped_configurations_pass() -> None:
    check_parameters(_defaults(), ENTRIES)
    # the seed_guide environment as Kedro merges it over conf/base (soft: key by key, nested)
    loader = CONFIG_LOADER_CLASS(str(CONF), env="seed_guide", **CONFIG_LOADER_ARGS)
    seed_guide = loader["parameters"]
    assert seed_guide["data_processing"]["control_reference"]["match_columns"]
    check_parameters(seed_guide, ENTRIES)


@pytest.mark.parametrize(
    ("entry", "key", "value", "named"),
    [
        ("data_processing", "validation_fraction", 0, "data_processing.validation_fraction = 0"),
        ("data_processing", "plausible_range_db", [130, -20], "plausible_range_db = [130, -20]"),
        ("data_processing", "control_reference", {"enabled": "yes"}, "enabled = 'yes'"),
        ("evaluation", "gmm_covariance", "round", "evaluation.gmm_covariance = 'round'"),
        ("evaluation", "labels", {"bands": {"low": ["7kHz"]}}, "labels.bands.low = ['7kHz']"),
        ("inference", "misfit_quantile", 1.5, "inference.misfit_quantile = 1.5"),
        ("cluster_init", "max_iter", 2.5, "cluster_init.max_iter = 2.5"),
        ("model", "dropout", 1.0, "model.dropout = 1.0"),
        ("synthetic", "n_mice", 0, "synthetic.n_mice = 0"),
        ("pretraining", "batch_size", 1, "pretraining.batch_size = 1"),
        ("stability", "retries", -1, "stability.retries = -1"),
    ],
)
def test_a_bad_value_is_refused_naming_key_value_and_range(
    entry: str, key: str, value, named: str
) -> None:
    parameters = _defaults()
    current = parameters[entry][key]
    if isinstance(value, dict):  # change one leaf of a nested section
        merged = copy.deepcopy(current)
        for inner, inner_value in value.items():
            if isinstance(inner_value, dict):
                merged[inner] = {**merged[inner], **inner_value}
            else:
                merged[inner] = inner_value
        value = merged
    parameters[entry][key] = value
    with pytest.raises(ValueError, match="expected") as refused:
        check_parameters(parameters, {entry})
    assert named in str(refused.value)


def test_unknown_and_missing_keys_are_named() -> None:
    parameters = _defaults()
    parameters["inference"]["similar_line"] = parameters["inference"].pop("similar_lines")
    with pytest.raises(ValueError, match=r"unknown parameters \['similar_line'\], missing "):
        check_parameters(parameters, {"inference"})


def test_only_the_pipelines_entries_are_checked() -> None:
    parameters = _defaults()
    parameters["evaluation"]["fdr"] = -1
    check_parameters(parameters, {"pretraining", "model"})  # evaluation is not read
    with pytest.raises(ValueError, match="evaluation.fdr = -1"):
        check_parameters(parameters, {"evaluation"})
