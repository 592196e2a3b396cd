"""A small model-input table that follows the shared contract, for training tests.

Lines of 4-8 mice share one of a few planted audiogram shapes, so the line-based losses and
the clustering have something real to find; about a quarter of the mice are controls.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audiometric_clustering.impc.schema import (
    ABR_FEATURES,
    ABR_OBSERVED,
    ALLELE,
    BEYOND_RANGE_FEATURES,
    CATEGORICAL_FEATURES,
    CENTRE,
    CONTINUOUS_FEATURES,
    GENE,
    IS_CONTROL,
    LINE_ID,
    PCA_FEATURES,
    RAW_ABR,
    SPECIMEN_ID,
    SPLIT,
    ZYGOSITY,
)

#: Vocabulary sizes of the seven categorical columns (code 0 = unknown is extra).
VOCABULARY_SIZES = (2, 2, 3, 4, 4, 3, 5)
#: Threshold shift in dB at 6, 12, 18, 24, 30 kHz and click for each planted phenotype.
PHENOTYPES = np.array(
    [
        [0, 0, 0, 0, 0, 0],  # normal hearing
        [0, 5, 15, 35, 50, 20],  # high-frequency loss
        [30, 30, 30, 30, 30, 30],  # flat loss
        [70, 70, 70, 70, 70, 70],  # profound loss
    ],
    dtype=float,
)


def preprocessor_state() -> dict:
    """Vocabularies keyed by model-input column, as data_processing writes them."""
    return {
        "vocabularies": {
            column: [f"{column}_{code}" for code in range(1, size + 1)]
            for column, size in zip(CATEGORICAL_FEATURES, VOCABULARY_SIZES, strict=True)
        }
    }


def make_model_input(n_mice: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_controls = n_mice // 4
    line_sizes: list[int] = []
    while sum(line_sizes) < n_mice - n_controls:
        line_sizes.append(int(rng.integers(4, 9)))
    line_sizes[-1] -= sum(line_sizes) - (n_mice - n_controls)
    n_lines = len(line_sizes)
    line_of_mouse = np.r_[np.full(n_controls, -1), np.repeat(np.arange(n_lines), line_sizes)]
    line_phenotype = rng.choice(len(PHENOTYPES), size=n_lines, p=[0.7, 0.1, 0.1, 0.1])
    line_centre = rng.integers(1, VOCABULARY_SIZES[3] + 1, size=n_lines)
    controls = line_of_mouse < 0
    phenotype = np.where(controls, 0, line_phenotype[line_of_mouse])
    centre_code = np.where(
        controls, rng.integers(1, VOCABULARY_SIZES[3] + 1, n_mice), line_centre[line_of_mouse]
    )

    abr = np.clip(PHENOTYPES[phenotype] + rng.normal(5, 5, size=(n_mice, 6)), 0, 100)
    observed = (rng.random((n_mice, 6)) > 0.05).astype(float)
    raw = np.where(observed > 0, abr + 10 * centre_code[:, None], np.nan)
    abr = np.where(observed > 0, abr, np.median(abr, axis=0))
    pca = (abr - abr.mean(0)) @ rng.normal(size=(6, 2))

    line_names = np.array(
        [f"Gene{line}|tm1|homozygote|C{line_centre[line]}" for line in range(n_lines)]
    )
    line_id = np.where(controls, "", line_names[np.maximum(line_of_mouse, 0)])
    validation_lines = rng.random(n_lines) < 0.2
    in_validation = np.where(controls, rng.random(n_mice) < 0.2, validation_lines[line_of_mouse])

    frame = pd.DataFrame(
        {
            SPECIMEN_ID: [f"mouse_{i}" for i in range(n_mice)],
            GENE: np.where(controls, "", np.char.add("Gene", line_of_mouse.astype(str))),
            ALLELE: np.where(controls, "", "tm1"),
            ZYGOSITY: np.where(controls, "wild type", "homozygote"),
            CENTRE: np.char.add("C", centre_code.astype(str)),
            LINE_ID: line_id,
            IS_CONTROL: controls,
            SPLIT: np.where(in_validation, "validation", "train"),
        }
    )
    beyond = np.clip(abr - 15.0, 0.0, None)  # a reference range reaching 15 dB
    for columns, values in (
        (RAW_ABR, raw),
        (ABR_FEATURES, abr),
        (BEYOND_RANGE_FEATURES, beyond),
        (ABR_OBSERVED, observed),
    ):
        frame[list(columns)] = values
    frame[list(CONTINUOUS_FEATURES)] = rng.normal(size=(n_mice, 2))
    for column, size in zip(CATEGORICAL_FEATURES, VOCABULARY_SIZES, strict=True):
        frame[column] = rng.integers(0, size + 1, n_mice).astype(np.int64)
    frame[CATEGORICAL_FEATURES[3]] = centre_code.astype(np.int64)
    frame[list(PCA_FEATURES)] = pca
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
