"""Model sizes: the ``model`` parameters plus the input widths that only the data knows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from audiometric_clustering.impc.schema import (
    CATEGORICAL_FEATURES,
    CATEGORICAL_METADATA,
    CONTINUOUS_FEATURES,
    FREQUENCIES,
    PCA_FEATURES,
)


@dataclass
class ModelConfig:
    """Everything needed to rebuild a ContrastiveVAE-DEC; stored in every checkpoint.

    ``categorical_cardinalities`` holds ``len(vocabulary) + 1`` per categorical column, in
    ``CATEGORICAL_FEATURES`` order: code 0 is the "unknown" slot.
    """

    categorical_cardinalities: list[int]
    n_continuous: int = len(CONTINUOUS_FEATURES)
    n_pca: int = len(PCA_FEATURES)
    n_frequencies: int = len(FREQUENCIES)
    n_clusters: int = 12
    latent_dim: int = 10
    frequency_token_dim: int = 8
    attention_heads: int = 2
    abr_embedding_dim: int = 16
    categorical_embedding_dim: int = 4
    metadata_embedding_dim: int = 24
    hidden_dims: list[int] = field(default_factory=lambda: [64, 32, 16])
    dropout: float = 0.0
    student_t_alpha: float = 1.0
    abr_range_db: list[float] = field(default_factory=lambda: [0.0, 100.0])

    def __post_init__(self) -> None:
        if self.frequency_token_dim % self.attention_heads:
            raise ValueError(
                f"frequency_token_dim ({self.frequency_token_dim}) must be divisible by "
                f"attention_heads ({self.attention_heads})"
            )
        if min(self.categorical_cardinalities, default=1) < 1:
            raise ValueError(f"cardinalities must be >= 1, got {self.categorical_cardinalities}")
        low, high = self.abr_range_db
        if not high > low:
            raise ValueError(f"abr_range_db must be increasing, got {self.abr_range_db}")

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


def model_config_from(
    params_model: dict[str, Any], preprocessor_state: dict[str, Any]
) -> ModelConfig:
    """Combine the ``model`` parameters with embedding sizes from the preprocessing vocabularies.

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
    return ModelConfig(categorical_cardinalities=cardinalities, **params_model)
