"""A training stage's settings (``params:pretraining``, ``params:joint_training``), typed.

Both entries share one schema, :class:`TrainingSettings`: the optimisation, the objective
(``loss_weights`` and the settings of the terms it names) and, in a stage with clustering
terms, DEC's handling of its clusters. A :class:`Stage` is one run of a stage: its settings
with the seed and where it keeps its resume checkpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from annotated_types import Ge, Gt, Le
from pydantic import model_validator

from audiometric_clustering.model.contrastive import MIN_TEMPERATURE
from audiometric_clustering.model.objective import TERMS, Objective
from audiometric_clustering.yaml_settings import Refusal, YamlSettings, describe, named

#: The parameters entry of each stage, for messages that name the key a user would edit.
PARAMETERS_ENTRY = {"pretrain": "pretraining", "joint": "joint_training"}
#: DEC's keys, given in a stage with clustering terms only (see :class:`ClusteringSettings`).
CLUSTERING_KEYS = (
    "target_update_interval",
    "assignment_change_tolerance",
    "max_cluster_share",
    "reseed_empty_clusters",
)


@dataclass(frozen=True)
class ClusteringSettings:
    """How the joint stage handles its clusters.

    The DEC target is recomputed from a full pass over the training mice at the start of
    every epoch and, if ``target_update_interval`` > 0, also every that many steps. With
    ``reseed_empty_clusters``, a cluster left without mice at the start of an epoch takes
    half of the largest one. ``assignment_change_tolerance`` is DEC's convergence test (Xie
    et al., 2016): after the warm-up the stage stops once fewer than this share of training
    mice change their most likely cluster in an epoch (0 switches it off). A final cluster
    above ``max_cluster_share`` (or an empty one) is reported as a collapse.
    """

    target_update_interval: int
    assignment_change_tolerance: float
    max_cluster_share: float
    reseed_empty_clusters: bool


class TrainingSettings(YamlSettings):
    """How to optimise one stage, and what (``loss_weights``, see model/objective.py).

    The terms' own settings are required when a weighted term reads them: ``abr_noise_db``
    with ``abr``, ``contrastive_temperature`` with ``contrastive``; the keys of
    :data:`CLUSTERING_KEYS` in a stage with clustering terms, and only there. Those that a
    stage does not need may be absent (None).
    """

    epochs: Annotated[int, Ge(1)]
    batch_size: Annotated[int, Ge(2)]
    one_centre_per_batch: bool
    learning_rate: Annotated[float, Ge(0)]
    min_learning_rate: Annotated[float, Ge(0)]
    early_stopping_patience: Annotated[int, Ge(1)]
    gradient_clip_norm: Annotated[float, Ge(1e-12)] | None
    device: str
    mixed_precision: bool
    compile: bool
    num_threads: Annotated[int, Ge(0)]
    log_every_n_epochs: Annotated[int, Ge(1)]
    resume: bool
    loss_weights: Annotated[dict[str, Annotated[float, Ge(0)]], named(TERMS, "terms")]
    abr_noise_db: Annotated[float, Gt(0)] | None = None
    contrastive_temperature: Annotated[float, Ge(MIN_TEMPERATURE)] | None = None
    warmup_epochs: Annotated[int, Ge(0)]
    target_update_interval: Annotated[int, Ge(0)] | None = None
    assignment_change_tolerance: Annotated[float, Ge(0), Le(1)] | None = None
    max_cluster_share: Annotated[float, Ge(1e-12), Le(1)] | None = None
    reseed_empty_clusters: bool | None = None

    @classmethod
    def required_keys(cls, values: Mapping[str, Any]) -> set[str]:
        """Besides every key without a default, those the weighted terms read."""
        weights = values.get("loss_weights")
        terms = set(weights) if isinstance(weights, Mapping) else set()
        needed = {key for key, term in _TERM_KEYS.items() if term in terms}
        if _uses_clusters(terms):
            needed |= set(CLUSTERING_KEYS)
        return super().required_keys(values) | needed

    @model_validator(mode="after")
    def _consistent(self) -> TrainingSettings:
        if self.min_learning_rate > self.learning_rate:
            raise Refusal(
                f"at most learning_rate ({self.learning_rate!r})",
                "min_learning_rate",
                self.min_learning_rate,
            )
        terms = set(self.loss_weights)
        for key, term in _TERM_KEYS.items():
            if term in terms and getattr(self, key) is None:
                raise Refusal(describe(type(self).model_fields[key]), key, None)
        extra = [key for key in CLUSTERING_KEYS if getattr(self, key) is not None]
        if extra and not _uses_clusters(terms):
            raise Refusal(f"{extra} apply only to a stage with clustering terms")
        return self

    @property
    def objective(self) -> Objective:
        return Objective(
            weights=dict(self.loss_weights),
            abr_noise_db=self.abr_noise_db,
            contrastive_temperature=self.contrastive_temperature,
            warmup_epochs=self.warmup_epochs,
        )

    @property
    def clustering(self) -> ClusteringSettings | None:
        """DEC's settings, in a stage with clustering terms."""
        if not _uses_clusters(set(self.loss_weights)):
            return None
        return ClusteringSettings(**{key: getattr(self, key) for key in CLUSTERING_KEYS})


def _uses_clusters(terms: set[str]) -> bool:
    return any(TERMS[name].uses_clusters for name in terms if name in TERMS)


#: The terms' own settings, by the term that reads them.
_TERM_KEYS = {"abr_noise_db": "abr", "contrastive_temperature": "contrastive"}


@dataclass(frozen=True)
class Stage:
    """One run of a training stage: ``name`` ("pretrain" or "joint"), its settings, the
    seed, and the resume checkpoint's path (None: the stage writes none and cannot resume)."""

    name: str
    settings: TrainingSettings
    seed: int
    last_checkpoint_path: str | None = None

    @property
    def objective(self) -> Objective:
        return self.settings.objective

    @property
    def clustering(self) -> ClusteringSettings | None:
        return self.settings.clustering

    @property
    def entry(self) -> str:
        """The stage's parameters entry (``pretraining``, ``joint_training``)."""
        return PARAMETERS_ENTRY.get(self.name, self.name)


def stage_settings(
    params: Mapping[str, Any], seed: int, stage: str, last_checkpoint_path: str | None = None
) -> Stage:
    """A :class:`Stage` from the stage's parameters (``params:<entry>``) and the seed."""
    settings = TrainingSettings.from_params(params, PARAMETERS_ENTRY.get(stage, stage))
    return Stage(stage, settings, seed, last_checkpoint_path)
