"""Named variants of the default model, each one change over conf/base.

``benchmarks/quality.py --variants NAME ...`` (``make bench-variants``: all of them) runs each
beside the default on the same data seeds and machine, so every choice docs/nuisance.md
explains is measured by the code rather than quoted. A variant is runtime parameters,
merged over conf/base key by key as ``kedro run --params`` merges them.
"""

from __future__ import annotations

from harness import REPO_ROOT, merged
from kedro.config import OmegaConfigLoader

from audiometric_clustering.parameter_checks import check_parameters

VARIANTS: dict[str, dict] = {
    # data_processing: what a threshold is referenced to
    "no_day_correction": {"data_processing": {"control_reference": {"concurrent_controls": False}}},
    "day_correction_on_controls": {
        "data_processing": {"control_reference": {"concurrent_controls_on_controls": True}}
    },
    "pca_referenced": {"data_processing": {"pca_scale": "referenced"}},
    # the model: what the encoder reads
    "referenced_db": {"model": {"abr_scale": "referenced"}},
    "no_line_shrinkage": {"model": {"line_shrinkage": 0.0}},
    # training
    "kl_warmup": {"pretraining": {"warmup_epochs": 10}},
    "beta_1_joint_lr_1e-3": {
        "pretraining": {"loss_weights": {"kl": 1.0}},
        "joint_training": {"loss_weights": {"kl": 1.0}, "learning_rate": 1.0e-3},
    },
    # the clusters: 12 free centres, each mouse read alone, k-means weighted by the distance
    # from the controls (the default before issue 32); a fixed count instead of the chosen one
    "free_centres": {
        "model": {"normal_cluster": False, "n_clusters": 12, "assignment_line_pooling": 0.0}
    },
    "free_centres_plain_kmeans": {
        "model": {"normal_cluster": False, "n_clusters": 12, "assignment_line_pooling": 0.0},
        "cluster_init": {"weighting": "none"},
    },
    "fixed_7_clusters": {"model": {"n_clusters": 7}},
    "no_assignment_pooling": {"model": {"assignment_line_pooling": 0.0}},
    "contrastive_0.5": {"joint_training": {"loss_weights": {"contrastive": 0.5}}},
    "no_consistency": {"joint_training": {"loss_weights": {"phenotype_consistency": 0.0}}},
}


def chosen(names: list[str]) -> dict[str, dict]:
    """The variants named (``all``: every one), each checked as a pre-run check would check
    it, so a misspelt key fails before any training starts."""
    names = list(VARIANTS) if names == ["all"] else names
    unknown = [name for name in names if name not in VARIANTS]
    if unknown:
        raise ValueError(f"no variant {unknown}; the variants: {', '.join(VARIANTS)} or all")
    config = OmegaConfigLoader(str(REPO_ROOT / "conf"), base_env="base", default_run_env="local")
    base = config["parameters"]
    for name in names:
        parameters = merged(base, VARIANTS[name])
        try:
            if set(VARIANTS[name]) - set(base):
                raise ValueError(
                    f"entries {sorted(set(VARIANTS[name]) - set(base))} not in conf/base"
                )
            check_parameters(parameters, set(parameters))
        except ValueError as error:
            raise ValueError(f"variant {name}: {error}") from None
    return {name: VARIANTS[name] for name in names}
