"""``params:inference``, typed: how new mice are assigned and summarised."""

from __future__ import annotations

from typing import Annotated, ClassVar

from annotated_types import Ge, Gt, Le

from audiometric_clustering.yaml_settings import YamlSettings


class InferenceSettings(YamlSettings):
    """Batch size (memory only), the "fits no cluster" quantile, and the per-line summary."""

    ENTRY: ClassVar[str] = "inference"

    batch_size: Annotated[int, Ge(1)]
    misfit_quantile: Annotated[float, Gt(0), Le(1)]
    min_line_size: Annotated[int, Ge(1)]
    similar_lines: Annotated[int, Ge(0)]
    min_centre_controls: Annotated[int, Ge(1)]
