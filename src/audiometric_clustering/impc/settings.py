"""``params:data_processing``, typed: from an IMPC export to the model-input table."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from annotated_types import Ge, Gt, Le, Len

from audiometric_clustering.impc.schema import CATEGORICAL_METADATA
from audiometric_clustering.yaml_settings import Expect, Interval, YamlSettings

#: What the PCA summarises: thresholds with every centre's control reference range stretched
#: onto the overall one (see ``harmonised_thresholds``), or the referenced dB themselves.
PCA_SCALES: tuple[str, ...] = ("harmonised", "referenced")


class ControlReferenceSettings(YamlSettings):
    """Thresholds referenced to each mouse's matched controls (and its test day's)."""

    enabled: bool
    min_group_controls: Annotated[int, Ge(1)]
    concurrent_controls: bool
    concurrent_controls_on_controls: bool
    match_columns: Annotated[
        list[Literal[CATEGORICAL_METADATA]],
        Len(1),
        Expect(f"a list of names among {list(CATEGORICAL_METADATA)}"),
    ]


class ReferenceRangeSettings(YamlSettings):
    """Each centre's control reference range: the typical threshold + ``width_sd`` SDs."""

    width_sd: Annotated[float, Ge(0)]
    min_controls: Annotated[int, Ge(1)]


class DataProcessingSettings(YamlSettings):
    """Validation (plausible range, line size), the split, and the preprocessing."""

    ENTRY: ClassVar[str] = "data_processing"

    min_line_size: Annotated[int, Ge(1)]
    validation_fraction: Annotated[float, Gt(0), Le(1)]
    plausible_range_db: Interval
    max_out_of_range_share: Annotated[float, Ge(0), Le(1)]
    feature_range_db: Interval
    n_pca_components: Annotated[int, Ge(1)]
    pca_scale: Literal[PCA_SCALES]
    control_reference: ControlReferenceSettings
    reference_range: ReferenceRangeSettings
