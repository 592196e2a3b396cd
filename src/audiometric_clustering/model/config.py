"""Model sizes: the ``model`` parameters plus the input widths that only the data knows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from audiometric_clustering.impc.schema import (
    CATEGORICAL_FEATURES,
    CATEGORICAL_METADATA,
    CONTINUOUS_FEATURES,
    FREQUENCIES,
    PCA_FEATURES,
)

#: Input widths that the data fixes, not the parameters.
DATA_WIDTHS = ("n_continuous", "n_pca", "n_frequencies")


@dataclass
class ModelConfig:
    """Everything needed to rebuild a ContrastiveVAE-DEC; stored in every checkpoint.

    The sizes come from ``conf/base/parameters_model.yml`` (their only default); the input
    widths from the data. ``categorical_cardinalities`` holds ``len(vocabulary) + 1`` per
    categorical column, in ``CATEGORICAL_FEATURES`` order: code 0 is the "unknown" slot.
    """

    categorical_cardinalities: list[int]
    n_clusters: int
    latent_dim: int
    frequency_token_dim: int
    attention_heads: int
    abr_embedding_dim: int
    categorical_embedding_dim: int
    metadata_embedding_dim: int
    hidden_dims: list[int]
    dropout: float
    student_t_alpha: float
    abr_range_db: list[float]
    encoder_metadata: bool
    encoder_observed: bool
    decoder_covariates: list[str]
    line_shrinkage: float
    abr_scale: str
    n_continuous: int = len(CONTINUOUS_FEATURES)
    n_pca: int = len(PCA_FEATURES)
    n_frequencies: int = len(FREQUENCIES)

    def __post_init__(self) -> None:
        at_least_one = (
            "latent_dim",
            "frequency_token_dim",
            "attention_heads",
            "abr_embedding_dim",
            "categorical_embedding_dim",
            "metadata_embedding_dim",
        )
        for key in at_least_one:
            _check(key, getattr(self, key), _is_int(getattr(self, key), 1), "an integer >= 1")
        _check("n_clusters", self.n_clusters, _is_int(self.n_clusters, 2), "an integer >= 2")
        _check(
            "hidden_dims",
            self.hidden_dims,
            bool(self.hidden_dims) and all(_is_int(width, 1) for width in self.hidden_dims),
            "a non-empty list of integers >= 1",
        )
        _check("dropout", self.dropout, 0 <= self.dropout < 1, "a number in [0, 1)")
        _check("student_t_alpha", self.student_t_alpha, self.student_t_alpha > 0, "a number > 0")
        _check(
            "frequency_token_dim",
            self.frequency_token_dim,
            self.frequency_token_dim % self.attention_heads == 0,
            f"divisible by attention_heads ({self.attention_heads})",
        )
        if min(self.categorical_cardinalities, default=1) < 1:
            raise ValueError(f"cardinalities must be >= 1, got {self.categorical_cardinalities}")
        _check(
            "line_shrinkage",
            self.line_shrinkage,
            0 <= self.line_shrinkage <= 1,
            "a number in [0, 1]",
        )
        scales = ["beyond_range", "referenced"]
        _check("abr_scale", self.abr_scale, self.abr_scale in scales, f"one of {scales}")
        known = [name.removeprefix("cat_") for name in CATEGORICAL_FEATURES]
        _check(
            "decoder_covariates",
            self.decoder_covariates,
            set(self.decoder_covariates) <= set(known),
            f"names among {known}",
        )
        low, high = self.abr_range_db
        _check("abr_range_db", self.abr_range_db, high > low, "[low, high] with high > low")

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
    sizes = {f.name for f in fields(ModelConfig)} - {"categorical_cardinalities", *DATA_WIDTHS}
    unknown, missing = sorted(set(params_model) - sizes), sorted(sizes - set(params_model))
    if unknown or missing:
        raise ValueError(
            f"model parameters: unknown keys {unknown}, missing keys {missing} "
            f"(see conf/base/parameters_model.yml)"
        )
    return ModelConfig(categorical_cardinalities=cardinalities, **params_model)


def _is_int(value: object, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _check(key: str, value: object, valid: bool, expected: str) -> None:
    """Refuse a bad size before any work starts, naming the parameter and the rule."""
    if not valid:
        raise ValueError(f"model.{key} = {value!r}: expected {expected}")
