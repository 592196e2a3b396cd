"""A synthetic IMPC ABR export in the real wide format, with known planted phenotypes and the
nuisance of real exports, so that the whole pipeline can be run, and its clusters scored,
without the real 59,000-mouse export.

- ``centres``: facts of each phenotyping centre (sizes, control baselines, ceilings, grids,
  missing values, line sizes);
- ``population``: knockout lines, genes, cohorts and mice;
- ``phenotypes``: planted hearing-loss patterns per gene and line;
- ``nuisance``: baselines, cohort offsets, sporadic loss, recording, missing values;
- ``settings``: the validated YAML settings; ``assembly``: the export and its truth.
"""

from audiometric_clustering.impc.synthetic.assembly import (
    TRUTH_COLUMNS,
    generate_synthetic_export,
)
from audiometric_clustering.impc.synthetic.centres import CENTRES, CentreProfile
from audiometric_clustering.impc.synthetic.phenotypes import NO_PATTERN, PATTERN_SHAPES
from audiometric_clustering.impc.synthetic.settings import (
    PlantedSettings,
    SyntheticSettings,
)

__all__ = [
    "CENTRES",
    "NO_PATTERN",
    "PATTERN_SHAPES",
    "TRUTH_COLUMNS",
    "CentreProfile",
    "PlantedSettings",
    "SyntheticSettings",
    "generate_synthetic_export",
]
