"""A small hand-built model-input table (two centres, controls, normal and deaf lines) and
the validated export it came from."""

from __future__ import annotations

import numpy as np
import pandas as pd

from audiometric_clustering.impc.schema import (
    ABR_FEATURES,
    ABR_OBSERVED,
    ALLELE,
    BACKGROUND,
    BEYOND_RANGE_FEATURES,
    CENTRE,
    EQUIPMENT_MANUFACTURER,
    EQUIPMENT_MODEL,
    FREQUENCIES,
    GENE,
    IS_CONTROL,
    LINE_ID,
    PIPELINE,
    RAW_ABR,
    SAMPLE_GROUP,
    SPECIMEN_ID,
    SPLIT,
    THRESHOLD_COLUMNS,
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


def validated_export(mice: pd.DataFrame, small_line: str = "Tiny") -> pd.DataFrame:
    """The validated export behind ``mice``: raw thresholds under the export's names, the
    sample group and one setup per centre; plus a line of two mice at centre A,
    ``small_line``, that data_processing would have left out of the model input."""
    setup = {
        BACKGROUND: "C57BL/6N",
        PIPELINE: "IMPC",
        EQUIPMENT_MANUFACTURER: "Tucker-Davis",
        EQUIPMENT_MODEL: "RZ6",
    }
    control = mice[IS_CONTROL].astype(bool).to_numpy()
    export = pd.DataFrame(
        {
            SPECIMEN_ID: mice[SPECIMEN_ID],
            SAMPLE_GROUP: np.where(control, "control", "experimental"),
            GENE: mice[GENE].where(~control, None),
            ALLELE: mice[ALLELE].where(~control, None),
            ZYGOSITY: mice[ZYGOSITY],
            CENTRE: mice[CENTRE],
            **setup,
            **{
                THRESHOLD_COLUMNS[f]: mice[raw] for f, raw in zip(FREQUENCIES, RAW_ABR, strict=True)
            },
        }
    )
    small = (
        export[~control]
        .head(2)
        .assign(**{SPECIMEN_ID: ["T1", "T2"], GENE: small_line, ALLELE: f"{small_line}<tm1>"})
    )
    return pd.concat([export, small], ignore_index=True)
