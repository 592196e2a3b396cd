"""A small hand-built model-input table: two centres, controls, normal and deaf lines."""

from __future__ import annotations

import numpy as np
import pandas as pd

from audiometric_clustering.impc.schema import (
    ABR_FEATURES,
    ABR_OBSERVED,
    ALLELE,
    BEYOND_RANGE_FEATURES,
    CENTRE,
    GENE,
    IS_CONTROL,
    LINE_ID,
    RAW_ABR,
    SPECIMEN_ID,
    SPLIT,
    ZYGOSITY,
)

#: Control thresholds per centre (dB SPL), pure tones then click.
CONTROL_DB = {"A": [20, 15, 15, 25, 40, 20], "B": [45, 45, 40, 50, 60, 40]}
#: The overall control median the preprocessor adds back to referenced thresholds.
REFERENCE_DB = 30.0
#: Elevation above controls of each planted pattern.
PATTERNS = {
    "none": [0, 0, 0, 0, 0, 0],
    "high_frequency": [0, 0, 10, 45, 50, 20],
    "profound": [70, 70, 70, 70, 65, 70],
}


def build_mice(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Mice table plus each mouse's planted pattern name.

    Per centre: 20 controls, 6 normal lines, one high-frequency line and one profound line,
    4 mice each; ~3 dB noise; 30 kHz missing for every 7th mouse. Control-referenced
    features are the elevation plus ``REFERENCE_DB``, as data_processing writes them.
    """
    rng = np.random.default_rng(seed)
    rows, patterns = [], []
    for centre in CONTROL_DB:
        groups = [("", "none", 20)]
        groups += [(f"Gene{centre}{i}", "none", 4) for i in range(6)]
        groups += [(f"Hf{centre}", "high_frequency", 4), (f"Deaf{centre}", "profound", 4)]
        for gene, pattern, size in groups:
            for _ in range(size):
                elevation = np.array(PATTERNS[pattern], dtype=float) + rng.normal(0, 3, 6)
                raw = np.array(CONTROL_DB[centre], dtype=float) + elevation
                control = gene == ""
                rows.append(
                    {
                        SPECIMEN_ID: f"M{len(rows):04d}",
                        GENE: gene,
                        ALLELE: f"{gene}<tm1>" if gene else "",
                        ZYGOSITY: "homozygote",
                        CENTRE: centre,
                        LINE_ID: "" if control else f"{gene}|{gene}<tm1>|homozygote|{centre}",
                        IS_CONTROL: control,
                        SPLIT: "train" if len(rows) % 5 else "validation",
                        **dict(zip(RAW_ABR, raw, strict=True)),
                        **dict(zip(ABR_FEATURES, REFERENCE_DB + elevation, strict=True)),
                        **dict(
                            zip(BEYOND_RANGE_FEATURES, np.maximum(elevation - 10, 0), strict=True)
                        ),
                        **dict.fromkeys(ABR_OBSERVED, 1.0),
                    }
                )
                patterns.append(pattern)
    mice = pd.DataFrame(rows)
    missing = np.arange(len(mice)) % 7 == 0
    mice.loc[missing, "raw_30kHz"] = np.nan
    mice.loc[missing, "observed_30kHz"] = 0.0
    return mice, np.array(patterns)
