"""Every parameter a pipeline reads, checked before any of its work starts.

A bad value caught by the stage that reads it would cost the stages before it (a negative
joint epoch count failed after the whole pretraining). The project hook calls
:func:`check_parameters` with the entries (``params:<entry>``) the pipeline's nodes read;
each entry is validated by its settings class (see :mod:`audiometric_clustering.yaml_settings`),
the same class its nodes build, so a rule lives in one place. A bad value raises
``ValueError`` naming the key, the value and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from annotated_types import Ge

from audiometric_clustering.evaluation.settings import EvaluationSettings
from audiometric_clustering.impc.settings import DataProcessingSettings
from audiometric_clustering.impc.synthetic.settings import SyntheticSettings
from audiometric_clustering.inference.settings import InferenceSettings
from audiometric_clustering.model.config import ModelSettings
from audiometric_clustering.stability.settings import StabilitySettings
from audiometric_clustering.training.cluster_init import ClusterInitSettings
from audiometric_clustering.training.settings import TrainingSettings
from audiometric_clustering.yaml_settings import YamlSettings


class SeedSettings(YamlSettings):
    """The project-wide ``seed`` (parameters.yml): splits, weights, batching, k-means."""

    seed: Annotated[int, Ge(0)]


#: The settings class of every entry (``pretraining`` and ``joint_training`` share one).
SETTINGS: dict[str, type[YamlSettings]] = {
    "model": ModelSettings,
    "data_processing": DataProcessingSettings,
    "pretraining": TrainingSettings,
    "cluster_init": ClusterInitSettings,
    "joint_training": TrainingSettings,
    "evaluation": EvaluationSettings,
    "inference": InferenceSettings,
    "stability": StabilitySettings,
    "synthetic": SyntheticSettings,
}


def check_parameters(parameters: Mapping[str, Any], entries: set[str]) -> None:
    """Check the named top-level entries of ``parameters`` (entries without settings, such
    as ``run``, are skipped: their readers check them). The training stages need the seed."""
    if entries & {"pretraining", "joint_training"}:
        entries = entries | {"seed"}
    for entry in sorted(entries & ({"seed"} | set(SETTINGS))):
        if entry not in parameters:
            raise ValueError(f"missing parameters entry {entry!r} (see conf/base/)")
        if entry == "seed":
            SeedSettings.from_params({"seed": parameters["seed"]}, "")
            continue
        SETTINGS[entry].from_params(parameters[entry], entry)
