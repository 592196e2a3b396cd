"""Names shared by every stage: IMPC export columns and model-input table columns.

One place to look up what a column is called, so readers, preprocessing, the model's
tensor builder and the evaluation never spell a name twice.
"""

from __future__ import annotations

# --- The IMPC wide export ---------------------------------------------------------------

FREQUENCIES: tuple[str, ...] = ("6kHz", "12kHz", "18kHz", "24kHz", "30kHz", "click")

#: Wide-export threshold column per frequency (IMPC parameter names; note "threshold" for click).
THRESHOLD_COLUMNS: dict[str, str] = {
    "6kHz": "6kHz-evoked ABR Threshold",
    "12kHz": "12kHz-evoked ABR Threshold",
    "18kHz": "18kHz-evoked ABR Threshold",
    "24kHz": "24kHz-evoked ABR Threshold",
    "30kHz": "30kHz-evoked ABR Threshold",
    "click": "Click-evoked ABR threshold",
}

#: IMPC parameter_stable_id per frequency, for the long (Solr ``experiment``) layout.
PARAMETER_IDS: dict[str, str] = {
    "click": "IMPC_ABR_002_001",
    "6kHz": "IMPC_ABR_004_001",
    "12kHz": "IMPC_ABR_006_001",
    "18kHz": "IMPC_ABR_008_001",
    "24kHz": "IMPC_ABR_010_001",
    "30kHz": "IMPC_ABR_012_001",
}

SPECIMEN_ID = "specimen_id"
SAMPLE_GROUP = "biological_sample_group"  # "control" or "experimental"
CONTROL_GROUP = "control"
GENE = "gene_symbol"
ALLELE = "allele_symbol"
ZYGOSITY = "zygosity"
SEX = "sex"
AGE = "age_in_weeks"
WEIGHT = "weight"
BACKGROUND = "genetic_background"
CENTRE = "phenotyping_center"
PIPELINE = "pipeline_name"
EQUIPMENT_MANUFACTURER = "metadata_Equipment manufacturer"
EQUIPMENT_MODEL = "metadata_Equipment model"
#: The day a mouse was tested; optional (it finds the controls tested beside a line).
DATE_OF_EXPERIMENT = "date_of_experiment"

#: Metadata columns the pipeline reads from the export (besides the thresholds).
METADATA_COLUMNS: tuple[str, ...] = (
    SPECIMEN_ID,
    SAMPLE_GROUP,
    GENE,
    ALLELE,
    ZYGOSITY,
    SEX,
    AGE,
    WEIGHT,
    BACKGROUND,
    CENTRE,
    PIPELINE,
    EQUIPMENT_MANUFACTURER,
    EQUIPMENT_MODEL,
    DATE_OF_EXPERIMENT,
)

#: Columns without which the export cannot be used at all.
REQUIRED_COLUMNS: tuple[str, ...] = (
    SPECIMEN_ID,
    SAMPLE_GROUP,
    GENE,
    ALLELE,
    ZYGOSITY,
    CENTRE,
    *(THRESHOLD_COLUMNS[f] for f in FREQUENCIES if f != "click"),
)

CATEGORICAL_METADATA: tuple[str, ...] = (
    SEX,
    ZYGOSITY,
    BACKGROUND,
    CENTRE,
    PIPELINE,
    EQUIPMENT_MANUFACTURER,
    EQUIPMENT_MODEL,
)
CONTINUOUS_METADATA: tuple[str, ...] = (AGE, WEIGHT)

# --- The model-input table (data/05_model_input/model_input.parquet) ----------------------
# One row per mouse kept for modelling. Identity columns keep their export names.

LINE_ID = "line_id"  # gene|allele|zygosity|centre for mutants; "" for controls
IS_CONTROL = "is_control"
SPLIT = "split"  # "train" or "validation"; each knockout line lies wholly in one

#: Raw thresholds in dB as measured (NaN where missing), for characterising clusters.
RAW_ABR = tuple(f"raw_{f}" for f in FREQUENCIES)
#: Model ABR features: control-referenced (when enabled), imputed, clipped to 0-100 dB.
ABR_FEATURES = tuple(f"abr_{f}" for f in FREQUENCIES)
#: dB beyond the centre's control reference range (typical + k SD of its controls), 0 inside
#: it: the model's default view of a threshold (see impc/reference_range.py).
BEYOND_RANGE_FEATURES = tuple(f"beyond_range_{f}" for f in FREQUENCIES)
#: 1.0 where the threshold was measured, 0.0 where it was imputed.
ABR_OBSERVED = tuple(f"observed_{f}" for f in FREQUENCIES)
#: Standardised continuous metadata (train-split mean and std; missing -> 0).
CONTINUOUS_FEATURES = tuple(f"cont_{c}" for c in ("age_in_weeks", "weight"))
#: Integer codes of categorical metadata; 0 is the "unknown" slot.
CATEGORICAL_FEATURES = tuple(
    f"cat_{c}"
    for c in (
        "sex",
        "zygosity",
        "genetic_background",
        "phenotyping_center",
        "pipeline_name",
        "equipment_manufacturer",
        "equipment_model",
    )
)
PCA_FEATURES = ("pca_1", "pca_2")

IDENTITY_COLUMNS = (SPECIMEN_ID, GENE, ALLELE, ZYGOSITY, CENTRE, LINE_ID, IS_CONTROL, SPLIT)
