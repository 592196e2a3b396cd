"""A training stage's settings, typed and validated from its YAML parameters.

``conf/base/parameters_<stage>.yml`` is the only place a default lives: every key is
required here, a misspelt or unknown key is refused (``epoch`` for ``epochs`` would
otherwise train with a silent default), and a bad value fails before any work starts with
the key, the value and what was expected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from audiometric_clustering.model.objective import Objective

#: The parameters entry of each stage, for messages that name the key a user would edit.
PARAMETERS_ENTRY = {"pretrain": "pretraining", "joint": "joint_training"}
#: The objective's keys in a stage's YAML (see :class:`Objective`).
OBJECTIVE_KEYS = ("loss_weights", "abr_noise_db", "contrastive_temperature", "warmup_epochs")


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


@dataclass(frozen=True)
class StageSettings:
    """How to optimise one stage, and what: ``objective`` (and ``clustering`` when it has
    clustering terms)."""

    stage: str
    seed: int
    epochs: int
    batch_size: int
    one_centre_per_batch: bool
    learning_rate: float
    min_learning_rate: float
    early_stopping_patience: int
    gradient_clip_norm: float | None
    device: str
    mixed_precision: bool
    compile: bool
    num_threads: int
    log_every_n_epochs: int
    resume: bool
    last_checkpoint_path: str | None
    objective: Objective
    clustering: ClusteringSettings | None


#: Per key: accepted python types, lowest and highest value (None: unbounded), null allowed.
_RULES: dict[str, tuple[tuple[type, ...], float | None, float | None, bool]] = {
    "epochs": ((int,), 1, None, False),
    "batch_size": ((int,), 2, None, False),
    "one_centre_per_batch": ((bool,), None, None, False),
    "learning_rate": ((int, float), 0, None, False),
    "min_learning_rate": ((int, float), 0, None, False),
    "early_stopping_patience": ((int,), 1, None, False),
    "gradient_clip_norm": ((int, float), 1e-12, None, True),
    "device": ((str,), None, None, False),
    "mixed_precision": ((bool,), None, None, False),
    "compile": ((bool,), None, None, False),
    "num_threads": ((int,), 0, None, False),
    "log_every_n_epochs": ((int,), 1, None, False),
    "resume": ((bool,), None, None, False),
    "target_update_interval": ((int,), 0, None, False),
    "assignment_change_tolerance": ((int, float), 0, 1, False),
    "max_cluster_share": ((int, float), 1e-12, 1, False),
    "reseed_empty_clusters": ((bool,), None, None, False),
}


def _checked(stage: str, key: str, value: Any) -> Any:
    kinds, low, high, nullable = _RULES[key]
    if value is None and nullable:
        return None
    valid = isinstance(value, kinds) and (bool in kinds or not isinstance(value, bool))
    valid = valid and (low is None or value >= low) and (high is None or value <= high)
    if not valid:
        names = " or ".join("number" if k is float else k.__name__ for k in kinds if k is not int)
        names = names or "integer"
        bounds = (
            "" if low is None else f" >= {low:g}" if high is None else f" in [{low:g}, {high:g}]"
        )
        null = " (or null)" if nullable else ""
        article = "an" if names[0] in "aeiou" else "a"
        raise ValueError(f"{stage}.{key} = {value!r}: expected {article} {names}{bounds}{null}")
    return value


def stage_settings(
    params: Mapping[str, Any], seed: int, stage: str, last_checkpoint_path: str | None = None
) -> StageSettings:
    """Typed settings of ``stage`` from its parameters (``params:<stage>``) and the seed.

    ``last_checkpoint_path`` is where the stage keeps its resume checkpoint (a catalog entry
    of the run's folder); without one the stage writes none and cannot resume.
    """
    entry = PARAMETERS_ENTRY.get(stage, stage)
    not_from_yaml = {"stage", "seed", "objective", "clustering", "last_checkpoint_path"}
    stage_keys = [f.name for f in fields(StageSettings) if f.name not in not_from_yaml]
    cluster_keys = [f.name for f in fields(ClusteringSettings)]
    unknown = sorted(set(params) - {*stage_keys, *cluster_keys, *OBJECTIVE_KEYS})
    if unknown:
        raise ValueError(f"{entry}: unknown parameters {unknown}")
    if "loss_weights" not in params:
        raise ValueError(f"{entry}: missing parameter 'loss_weights'")
    try:
        objective = Objective(
            weights=dict(params["loss_weights"]),
            **{key: params.get(key) for key in OBJECTIVE_KEYS[1:]},
        )
    except ValueError as error:
        raise ValueError(f"{entry}.{error}") from None
    needed = stage_keys + (cluster_keys if objective.uses_clusters else [])
    missing = [key for key in needed if key not in params]
    if missing:
        raise ValueError(f"{entry}: missing parameters {missing}")
    extra = sorted(set(cluster_keys) & set(params) - set(needed))
    if extra:
        raise ValueError(f"{entry}: {extra} apply only to a stage with clustering terms")
    if params["min_learning_rate"] > params["learning_rate"]:
        raise ValueError(
            f"{entry}.min_learning_rate = {params['min_learning_rate']!r}: expected at most "
            f"learning_rate ({params['learning_rate']!r})"
        )
    clustering = None
    if objective.uses_clusters:
        clustering = ClusteringSettings(**{k: _checked(entry, k, params[k]) for k in cluster_keys})
    return StageSettings(
        stage=stage,
        seed=seed,
        last_checkpoint_path=last_checkpoint_path,
        **{key: _checked(entry, key, params[key]) for key in stage_keys},
        objective=objective,
        clustering=clustering,
    )
