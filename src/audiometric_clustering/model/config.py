"""Model sizes: the ``model`` parameters plus the input widths that only the data knows."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any, ClassVar, Literal

from annotated_types import Ge, Gt, Le, Len, Lt
from pydantic import model_validator

from audiometric_clustering.impc.schema import (
    CATEGORICAL_FEATURES,
    CATEGORICAL_METADATA,
    CONTINUOUS_FEATURES,
    FREQUENCIES,
    PCA_FEATURES,
)
from audiometric_clustering.yaml_settings import Expect, Interval, Refusal, YamlSettings

#: The categorical columns the decoder may be conditioned on (``decoder_covariates``).
COVARIATES = tuple(name.removeprefix("cat_") for name in CATEGORICAL_FEATURES)
Width = Annotated[int, Ge(1)]


class ModelSettings(YamlSettings):
    """``params:model``: the sizes and options of ContrastiveVAE-DEC (see the YAML)."""

    ENTRY: ClassVar[str] = "model"

    n_clusters: Annotated[int, Ge(2)] | None
    latent_dim: Width
    frequency_token_dim: Width
    attention_heads: Width
    abr_embedding_dim: Width
    categorical_embedding_dim: Width
    metadata_embedding_dim: Width
    hidden_dims: Annotated[list[Width], Len(1), Expect("a non-empty list of integers >= 1")]
    dropout: Annotated[float, Ge(0), Lt(1)]
    student_t_alpha: Annotated[float, Gt(0)]
    normal_cluster: bool
    normal_control_share: Annotated[float, Gt(0), Lt(0.5)]
    assignment_line_pooling: Annotated[float, Ge(0), Le(1)]
    abr_range_db: Interval
    encoder_metadata: bool
    encoder_observed: bool
    decoder_covariates: Annotated[
        list[Literal[COVARIATES]], Expect(f"names among {list(COVARIATES)}")
    ]
    line_shrinkage: Annotated[float, Ge(0), Le(1)]
    abr_scale: Literal["beyond_range", "referenced"]

    @model_validator(mode="after")
    def _count_chosen_only_with_a_normal_cluster(self) -> ModelSettings:
        if self.n_clusters is None and not self.normal_cluster:
            raise Refusal(
                "an integer >= 2: cluster_init chooses the count only with normal_cluster: true",
                "n_clusters",
                None,
            )
        return self

    @model_validator(mode="after")
    def _heads_divide_tokens(self) -> ModelSettings:
        if self.frequency_token_dim % self.attention_heads:
            raise Refusal(
                f"divisible by attention_heads ({self.attention_heads})",
                "frequency_token_dim",
                self.frequency_token_dim,
            )
        return self


@dataclass
class ModelConfig:
    """Everything needed to rebuild a ContrastiveVAE-DEC; stored in every checkpoint.

    The sizes come from ``conf/base/parameters_model.yml`` (their only default); the input
    widths from the data. ``categorical_cardinalities`` holds ``len(vocabulary) + 1`` per
    categorical column, in ``CATEGORICAL_FEATURES`` order: code 0 is the "unknown" slot.
    """

    categorical_cardinalities: list[int]
    n_clusters: int | None  # None: cluster_init chooses (with a normal cluster)
    latent_dim: int
    frequency_token_dim: int
    attention_heads: int
    abr_embedding_dim: int
    categorical_embedding_dim: int
    metadata_embedding_dim: int
    hidden_dims: list[int]
    dropout: float
    student_t_alpha: float
    normal_cluster: bool
    normal_control_share: float
    assignment_line_pooling: float
    abr_range_db: list[float]
    encoder_metadata: bool
    encoder_observed: bool
    decoder_covariates: list[str]
    line_shrinkage: float
    abr_scale: str
    n_continuous: int = len(CONTINUOUS_FEATURES)
    n_pca: int = len(PCA_FEATURES)
    n_frequencies: int = len(FREQUENCIES)

    @property
    def covariate_columns(self) -> list[int]:
        """Positions of ``decoder_covariates`` among the categorical columns."""
        return [CATEGORICAL_FEATURES.index(f"cat_{name}") for name in self.decoder_covariates]

    def to_dict(self) -> dict[str, Any]:
        """Plain python types only, so checkpoints load with ``weights_only=True``."""
        return {
            key: list(value) if isinstance(value, list | tuple) else value
            for key, value in asdict(self).items()
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelConfig:
        return cls(
            **{
                key: list(value) if isinstance(value, list | tuple) else value
                for key, value in values.items()
            }
        )


def model_config_from(settings: ModelSettings, preprocessor_state: dict[str, Any]) -> ModelConfig:
    """Combine the ``model`` settings with embedding sizes from the preprocessing vocabularies.

    Vocabularies are keyed by the model-input column (``cat_sex``, ...); the export column
    (``sex``) is accepted too, since both name the same variable.
    """
    vocabularies = preprocessor_state["vocabularies"]
    cardinalities = []
    for feature_name, export_name in zip(CATEGORICAL_FEATURES, CATEGORICAL_METADATA, strict=True):
        vocabulary = vocabularies.get(feature_name, vocabularies.get(export_name))
        if vocabulary is None:
            raise KeyError(
                f"preprocessor_state['vocabularies'] has no entry for {feature_name!r} "
                f"(or {export_name!r}); it has {sorted(vocabularies)}"
            )
        cardinalities.append(len(vocabulary) + 1)
    return ModelConfig(categorical_cardinalities=cardinalities, **settings.model_dump())
