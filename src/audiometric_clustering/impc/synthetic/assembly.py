"""The synthetic export and its truth table, assembled from population, phenotypes and nuisance.

Every part draws from its own random stream (spawned from the seed), so switching one
nuisance effect off changes that effect only: the same mice, lines, planted patterns and
baseline noise remain, which makes "messy vs clean" comparisons exact.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audiometric_clustering.impc.lines import build_line_id
from audiometric_clustering.impc.schema import (
    AGE,
    ALLELE,
    BACKGROUND,
    CENTRE,
    CONTROL_GROUP,
    DATE_OF_EXPERIMENT,
    EQUIPMENT_MANUFACTURER,
    EQUIPMENT_MODEL,
    FREQUENCIES,
    GENE,
    LINE_ID,
    PIPELINE,
    SAMPLE_GROUP,
    SEX,
    SPECIMEN_ID,
    THRESHOLD_COLUMNS,
    WEIGHT,
    ZYGOSITY,
)
from audiometric_clustering.impc.synthetic import nuisance
from audiometric_clustering.impc.synthetic.centres import CENTRE_NAMES, CENTRES, SETUPS
from audiometric_clustering.impc.synthetic.phenotypes import NO_PATTERN, mouse_shifts, plant_lines
from audiometric_clustering.impc.synthetic.population import draw_population
from audiometric_clustering.impc.synthetic.settings import SyntheticSettings

#: Truth columns, one row per mouse (see :func:`generate_synthetic_export`).
TRUTH_COLUMNS = (
    SPECIMEN_ID,
    LINE_ID,
    "is_control",
    "planted_pattern",
    "affected",
    "gene_pattern",
    "line_effect_db",
    "line_penetrance",
    "mouse_effect_db",
    "sporadic_loss",
    "sporadic_shift_db",
    "cohort_id",
    "cohort_offset_db",
    "ceiling_db",
    "recording",
)
AGE_WEEKS = (12, 13, 14, 15, 16)
AGE_SHARES = (0.05, 0.15, 0.5, 0.2, 0.1)
#: Some real controls are labelled "homozygote": only biological_sample_group is reliable.
CONTROL_ZYGOSITIES = ("wildtype", "homozygote")
CONTROL_ZYGOSITY_SHARES = (0.7, 0.3)
WEIGHT_MISSING_SHARE = 0.06
STREAMS = ("population", "phenotypes", "baseline", "cohorts", "sporadic", "missing", "metadata")


def _alleles(gene: np.ndarray, line_centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(gene symbol, allele symbol) per line; each line has its own allele."""
    symbols = np.char.add("Syn", np.char.zfill(gene.astype(str), 5))
    labs = np.array([p.lab_code for p in CENTRES])[line_centre]
    number = (np.arange(len(gene)) + 1).astype(str)
    alleles = np.char.add(np.char.add(symbols, "<em"), number)
    alleles = np.char.add(np.char.add(alleles, "(IMPC)"), np.char.add(labs, ">"))
    return symbols.astype(object), alleles.astype(object)


def _recording(
    centre: np.ndarray, continuous: np.ndarray, settings: SyntheticSettings
) -> np.ndarray:
    """How each mouse's values were written: "grid", "offset_grid" or "continuous"."""
    offset = (
        np.array([any(p.grid_offset_db) for p in CENTRES])[centre] & settings.recording.grid_offsets
    )
    kind = np.where(offset, "offset_grid", "grid")
    return np.where(continuous & settings.recording.continuous_values, "continuous", kind).astype(
        object
    )


def generate_synthetic_export(
    n_mice: int, seed: int, settings: SyntheticSettings
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n_mice`` synthetic mice as (wide export, ground truth), deterministic per seed.

    ``settings`` are ``params:synthetic``'s (``SyntheticSettings.from_params``), whose own
    ``n_mice`` and ``seed`` the pipeline passes here (tests make other sizes). The
    export has the real column names. The truth has one row per mouse (:data:`TRUTH_COLUMNS`):
    line_id as in the model-input table; planted_pattern ("none" where the line expresses
    none) and affected (this mouse expresses it; sporadic loss is not "affected");
    gene_pattern (a silent recessive heterozygote line has its gene's pattern here and
    "none" above); the line's size (peak shift) and penetrance; the mouse's own peak shift;
    sporadic_loss ("none", "flat", "tonal") and its size; the cohort and its offset; the
    mouse's "no response" ceiling; and how its values were recorded.
    """
    seeds = np.random.SeedSequence(seed).spawn(len(STREAMS))
    rngs = {name: np.random.default_rng(s) for name, s in zip(STREAMS, seeds, strict=True)}
    pop = draw_population(
        rngs["population"], int(n_mice), settings.control_share, settings.cohorts.lines_per_cohort
    )
    n_controls = n_mice - pop.n_mutants
    is_control = np.arange(n_mice) >= pop.n_mutants

    lines = plant_lines(rngs["phenotypes"], pop.line_gene, pop.line_zygosity, settings.planted)
    affected, peak, planted_shift = mouse_shifts(
        rngs["phenotypes"], lines, pop.line, pop.position == 0, settings.planted.mouse_spread
    )
    cohort_offset = nuisance.cohort_offsets(
        rngs["cohorts"], len(pop.cohort_centre), settings.cohorts.offset_sd_db
    )[pop.cohort]
    sporadic = nuisance.sporadic_loss(rngs["sporadic"], is_control, settings)
    hearing = (
        nuisance.control_baseline(rngs["baseline"], pop.centre, pop.setup, settings)
        + cohort_offset[:, None]
        + np.concatenate([planted_shift, np.zeros((n_controls, 6))])
        + sporadic.shift
    )
    continuous = pop.cohort_continuous[pop.cohort]
    thresholds = nuisance.record(hearing, pop.centre, continuous, settings)
    thresholds[nuisance.missing_mask(rngs["missing"], pop.centre, settings)] = np.nan

    rng = rngs["metadata"]
    genes, alleles = _alleles(pop.line_gene, pop.line_centre)
    male = np.concatenate([pop.position < pop.line_males[pop.line], rng.random(n_controls) < 0.5])
    weight = np.round(
        np.where(male, rng.normal(28.5, 3.0, n_mice), rng.normal(23.5, 2.5, n_mice)).clip(13, 45), 2
    )
    weight[rng.random(n_mice) < WEIGHT_MISSING_SHARE] = np.nan
    day = np.datetime_as_string(pop.cohort_day, unit="D").astype(object) + "T00:00:00Z"

    def per_setup(field: str) -> np.ndarray:
        return np.array([getattr(s, field) for s in SETUPS], dtype=object)[pop.setup]

    def per_line(values: np.ndarray, control_value: object = np.nan) -> np.ndarray:
        controls = np.full(n_controls, control_value, dtype=np.asarray(values).dtype)
        return np.concatenate([values[pop.line], controls])

    export = pd.DataFrame(
        {
            SAMPLE_GROUP: np.where(is_control, CONTROL_GROUP, "experimental"),
            GENE: per_line(genes),
            ALLELE: per_line(alleles),
            ZYGOSITY: np.concatenate(
                [
                    pop.line_zygosity[pop.line],
                    rng.choice(CONTROL_ZYGOSITIES, size=n_controls, p=CONTROL_ZYGOSITY_SHARES),
                ]
            ),
            SEX: np.where(male, "male", "female"),
            AGE: rng.choice(AGE_WEEKS, size=n_mice, p=AGE_SHARES),
            WEIGHT: weight,
            BACKGROUND: per_setup("background"),
            CENTRE: CENTRE_NAMES[pop.centre],
            PIPELINE: np.array([p.pipeline for p in CENTRES])[pop.centre],
            EQUIPMENT_MANUFACTURER: per_setup("manufacturer"),
            EQUIPMENT_MODEL: per_setup("model"),
            DATE_OF_EXPERIMENT: day[pop.cohort],
            **{THRESHOLD_COLUMNS[f]: thresholds[:, i] for i, f in enumerate(FREQUENCIES)},
        }
    )
    truth = pd.DataFrame(
        {
            "is_control": is_control,
            "planted_pattern": per_line(lines.pattern, NO_PATTERN),
            "affected": np.concatenate([affected, np.zeros(n_controls, dtype=bool)]),
            "gene_pattern": per_line(lines.gene_pattern, NO_PATTERN),
            "line_effect_db": per_line(lines.size_db, 0.0).round(1),
            "line_penetrance": per_line(lines.penetrance, 0.0).round(3),
            "mouse_effect_db": np.concatenate([peak, np.zeros(n_controls)]).round(1),
            "sporadic_loss": sporadic.kind,
            "sporadic_shift_db": sporadic.shift_db.round(1),
            "cohort_id": pop.cohort,
            "cohort_offset_db": cohort_offset.round(2),
            "ceiling_db": nuisance.ceilings(pop.centre, settings),
            "recording": _recording(pop.centre, continuous, settings),
        }
    )
    order = rng.permutation(n_mice)
    export = export.iloc[order].reset_index(drop=True)
    truth = truth.iloc[order].reset_index(drop=True)
    ids = "SYN" + pd.Series(np.arange(n_mice)).astype("str").str.zfill(7)
    export.insert(0, SPECIMEN_ID, ids)
    truth.insert(0, SPECIMEN_ID, ids)
    truth.insert(1, LINE_ID, build_line_id(export))
    return export, truth[list(TRUTH_COLUMNS)]
