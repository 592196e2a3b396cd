"""The data-quality report: every row dropped and every value fixed, counted, never silent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from audiometric_clustering.impc.schema import ABR_OBSERVED, CENTRE, CONTINUOUS_METADATA, IS_CONTROL


def imputation_counts(model_input: pd.DataFrame) -> dict[str, Any]:
    """Imputed thresholds per frequency column, in total and per centre."""
    imputed = model_input[list(ABR_OBSERVED)].eq(0.0)
    imputed.columns = [c.removeprefix("observed_") for c in imputed.columns]
    centres = model_input[CENTRE].fillna("unknown")
    by_centre = imputed.groupby(centres, sort=True).sum()
    whole = by_centre.eq(centres.value_counts(), axis=0)
    return {
        "total": {c: int(n) for c, n in imputed.sum().items()},
        "by_centre": {
            str(centre): {c: int(n) for c, n in row.items() if n}
            for centre, row in by_centre.iterrows()
            if row.any()
        },
        "centres_missing_whole_frequency": {
            c: [str(centre) for centre in whole.index[whole[c]]]
            for c in whole.columns
            if whole[c].any()
        },
    }


def _warnings(
    validation: Mapping[str, Any],
    cohort: Mapping[str, Any],
    imputed: Mapping[str, Any],
    day_correction: Mapping[str, Any],
) -> list[str]:
    """Plain sentences for what a reader should not miss."""
    notes = []
    if day_correction.get("enabled"):
        shifted, mutants = day_correction["mutants_shifted"], day_correction["mutants"]
        if not day_correction["between_day_sd_db"] or day_correction["within_day_sd_db"] is None:
            notes.append(
                "no mouse corrected for its test day: the controls show no day-to-day spread "
                "beyond their own noise (or no day has two controls)"
            )
        elif shifted < mutants:
            notes.append(
                f"{mutants - shifted} of {mutants} mutants not corrected for their test day: "
                "no date_of_experiment, or no control of their centre tested that day"
            )
    mutants_before = cohort["mutants"] + cohort["mutants_dropped_by_line_size"]
    if cohort["mutants_dropped_by_line_size"]:
        notes.append(
            f"{cohort['mutants_dropped_by_line_size']} of {mutants_before} mutants dropped: "
            f"{cohort['lines_dropped_by_size']} of {cohort['lines_total']} lines have fewer "
            f"than {cohort['min_line_size']} mice"
        )
    for column, count in validation["out_of_range_cleared"].items():
        notes.append(f"{count} implausible value(s) in {column!r} set to missing and imputed")
    if validation["rows_dropped_without_thresholds"]:
        notes.append(
            f"{validation['rows_dropped_without_thresholds']} mice without any threshold dropped"
        )
    if validation["mutants_dropped_without_line_identity"]:
        notes.append(
            f"{validation['mutants_dropped_without_line_identity']} mutants without gene, allele, "
            "zygosity or centre dropped"
        )
    for frequency, centres in imputed["centres_missing_whole_frequency"].items():
        notes.append(
            f"{frequency} not measured at {', '.join(centres)}: imputed from control baselines"
        )
    for column in validation["columns_absent"]:
        notes.append(f"column {column!r} absent from the file: treated as missing everywhere")
    for column in CONTINUOUS_METADATA:
        if validation["missing"].get(column):
            notes.append(
                f"{validation['missing'][column]} mice without {column}: standardised value 0"
            )
    return notes


def build_quality_report(
    validation: Mapping[str, Any],
    cohort: Mapping[str, Any],
    model_input: pd.DataFrame,
    baselines: Mapping[str, Any],
) -> dict[str, Any]:
    """One JSON-ready report from the validation summary, the cohort summary, the model-input
    table and the baseline summary."""
    imputed = imputation_counts(model_input)
    return {
        "source_file": validation["source_file"],
        "layout": validation["layout"],
        "rows_read": validation["rows_read"],
        "rows_validated": validation["rows_validated"],
        "rows_kept": int(len(model_input)),
        "controls": int(model_input[IS_CONTROL].sum()),
        "mutants": int((~model_input[IS_CONTROL]).sum()),
        "rows_dropped": {
            "without_thresholds": validation["rows_dropped_without_thresholds"],
            "mutants_without_line_identity": validation["mutants_dropped_without_line_identity"],
            "mutants_in_small_lines": cohort["mutants_dropped_by_line_size"],
        },
        "lines": {
            "min_line_size": cohort["min_line_size"],
            "total": cohort["lines_total"],
            "kept": cohort["lines_kept"],
            "dropped_by_size": cohort["lines_dropped_by_size"],
            "size_histogram": cohort["line_size_histogram"],
        },
        "per_centre": {
            centre: {"rows_read": validation["rows_read_by_centre"].get(centre, 0), **counts}
            for centre, counts in cohort["per_centre"].items()
        },
        "columns_absent": validation["columns_absent"],
        "out_of_range": {
            "plausible_range_db": validation["plausible_range_db"],
            "cleared": validation["out_of_range_cleared"],
            "cleared_by_centre": validation["out_of_range_cleared_by_centre"],
        },
        "missing": {"total": validation["missing"], "by_centre": validation["missing_by_centre"]},
        "imputed_thresholds": imputed,
        "control_reference": dict(baselines),
        "split": cohort["split"],
        "warnings": _warnings(validation, cohort, imputed, baselines.get("day_correction", {})),
    }
