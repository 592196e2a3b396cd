"""``params:evaluation``, typed: how the model and the baselines are fitted and scored."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from annotated_types import Ge, Gt, Le

from audiometric_clustering.evaluation.characterisation import LabelRules
from audiometric_clustering.genes.settings import GeneCallSettings
from audiometric_clustering.yaml_settings import YamlSettings


class EvaluationSettings(YamlSettings):
    """Inference batch (memory only), the tested lines and FDR, the separation scores'
    sample, the baselines, the cluster labels, the reference genes, the report's tables and
    the gene calls.
    The seed of k-means, the mixtures and the samples is the project-wide ``seed``."""

    ENTRY: ClassVar[str] = "evaluation"

    batch_size: Annotated[int, Ge(1)]
    min_line_size: Annotated[int, Ge(1)]
    fdr: Annotated[float, Gt(0), Le(1)]
    silhouette_sample_size: Annotated[int, Ge(2)]
    kmeans_n_init: Annotated[int, Ge(1)]
    baseline_fit_size: Annotated[int, Ge(2)]
    gmm_components: Annotated[int, Ge(1)]
    gmm_covariance: Literal["full", "tied", "diag", "spherical"]
    line_shrinkage: Annotated[float, Ge(0), Le(1)]
    labels: LabelRules
    reference_gene_list: str | None
    top_lines: Annotated[int, Ge(1)]
    top_lines_per_cluster: Annotated[int, Ge(1)]
    gene_calls: GeneCallSettings
