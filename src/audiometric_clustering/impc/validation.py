"""Validation of an IMPC ABR export: fail fast on what cannot be used, count what is fixed.

Fatal problems raise :class:`~audiometric_clustering.impc.errors.InvalidExportError` before
anything is written, with a message that names the file, the column, example rows and what
was expected. Recoverable problems (a few implausible values, missing click or weight, mice
without thresholds) are fixed here and counted in the returned summary, which feeds the
data-quality report.
"""

from __future__ import annotations

import difflib
from typing import Any

import pandas as pd

from audiometric_clustering.impc.errors import example_rows, export_error, source_of
from audiometric_clustering.impc.lines import LINE_ID_PARTS, build_line_id, in_kept_line, is_control
from audiometric_clustering.impc.schema import (
    CENTRE,
    CONTINUOUS_METADATA,
    CONTROL_GROUP,
    FREQUENCIES,
    METADATA_COLUMNS,
    REQUIRED_COLUMNS,
    SAMPLE_GROUP,
    SPECIMEN_ID,
    THRESHOLD_COLUMNS,
)

#: Threshold columns in frequency order.
THRESHOLDS: tuple[str, ...] = tuple(THRESHOLD_COLUMNS[f] for f in FREQUENCIES)
#: The columns of the validated table, in order: the metadata the pipeline reads, then thresholds.
VALIDATED_COLUMNS: tuple[str, ...] = (*METADATA_COLUMNS, *THRESHOLDS)
SAMPLE_GROUPS: tuple[str, ...] = (CONTROL_GROUP, "experimental")


def _check_not_empty(frame: pd.DataFrame, source: str) -> None:
    if len(frame) == 0:
        raise export_error(
            source,
            "the file has no data rows",
            "one row per mouse (wide layout) or per mouse and parameter (long layout)",
        )


def _similar(column: str, present: pd.Index) -> str:
    """' (found similar ...)' for a likely misspelling among columns the pipeline does not use."""
    unused = [str(c) for c in present if c not in VALIDATED_COLUMNS]
    same_letters = [c for c in unused if c.strip().lower() == column.lower()]
    close = same_letters or difflib.get_close_matches(column, unused, n=1, cutoff=0.8)
    return f" (found similar {close[0]!r})" if close else ""


def _check_required_columns(frame: pd.DataFrame, source: str) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if not missing:
        return
    hints = [f"{column!r}{_similar(column, frame.columns)}" for column in missing]
    raise export_error(
        source,
        f"{len(missing)} required column(s) missing: {', '.join(hints)}",
        f"all of {list(REQUIRED_COLUMNS)} (IMPC parameter names for thresholds)",
        column=missing[0],
    )


def _check_specimen_ids(frame: pd.DataFrame, source: str) -> None:
    ids = frame[SPECIMEN_ID]
    blank = ids.isna() | ids.astype("str").str.strip().eq("")
    if blank.any():
        raise export_error(
            source,
            f"{int(blank.sum())} row(s) without a specimen id",
            "a specimen id in every row",
            column=SPECIMEN_ID,
            examples=example_rows(frame, blank, SPECIMEN_ID),
        )
    duplicated = ids.duplicated(keep=False)
    if duplicated.any():
        raise export_error(
            source,
            f"{int(ids[duplicated].nunique())} specimen id(s) appear on more than one row",
            "one row per mouse: each specimen id once",
            column=SPECIMEN_ID,
            examples=example_rows(frame, duplicated, SPECIMEN_ID),
        )


def _normalised_sample_group(frame: pd.DataFrame, source: str) -> pd.Series:
    group = frame[SAMPLE_GROUP].astype("str").str.strip().str.lower()
    unknown = ~group.isin(SAMPLE_GROUPS)
    if unknown.any():
        raise export_error(
            source,
            f"{int(unknown.sum())} row(s) with an unknown biological sample group",
            f"one of {list(SAMPLE_GROUPS)}",
            column=SAMPLE_GROUP,
            examples=example_rows(frame, unknown, SAMPLE_GROUP),
        )
    return group


def _numeric_column(frame: pd.DataFrame, column: str, source: str) -> pd.Series:
    """The column as float; text that is not a number is fatal (a unit or a note in the cell)."""
    original = frame[column]
    if pd.api.types.is_numeric_dtype(original):
        return original.astype("float64")
    values = pd.to_numeric(original, errors="coerce").astype("float64")
    text = original.astype("str").str.strip()
    bad = values.isna() & original.notna() & text.ne("")
    if bad.any():
        raise export_error(
            source,
            f"{int(bad.sum())} non-numeric value(s)",
            "numbers (thresholds in dB SPL; age in weeks; weight in g) or empty cells",
            column=column,
            examples=example_rows(frame, bad, column),
        )
    return values


def _check_out_of_range_share(
    frame: pd.DataFrame,
    implausible: pd.DataFrame,
    plausible_range_db: tuple[float, float],
    max_share: float,
    source: str,
) -> None:
    """Fail when implausible thresholds are common in a column.

    A handful of typos in a column are noise worth imputing; many mean wrong units or a
    shifted column, which imputation would silently hide.
    """
    for column in implausible.columns:
        count = int(implausible[column].sum())
        if count > max_share * len(frame):
            raise export_error(
                source,
                f"{count} of {len(frame)} values outside the plausible range "
                f"(more than the tolerated {max_share:.1%})",
                f"thresholds between {plausible_range_db[0]:g} and {plausible_range_db[1]:g} "
                "dB SPL",
                column=column,
                examples=example_rows(frame, implausible[column], column),
            )


def _per_centre(frame: pd.DataFrame, mask: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Counts of True per centre and column, only non-zero entries."""
    counts = mask.groupby(frame[CENTRE].fillna("unknown"), sort=True).sum()
    return {
        str(centre): {str(c): int(n) for c, n in row.items() if n}
        for centre, row in counts.iterrows()
        if row.any()
    }


def _check_enough_mice(
    usable: pd.DataFrame, source: str, n_clusters: int, min_line_size: int, require_controls: bool
) -> None:
    """Thresholds, controls to reference against, for training mutants in modelled lines,
    and at least one modelled mouse per cluster."""
    if usable.empty:
        raise export_error(
            source,
            "no usable threshold: every row lacks all six thresholds (or its line identity)",
            f"at least one numeric threshold per mouse in the columns {list(THRESHOLDS)}",
        )
    if require_controls and not is_control(usable).any():
        raise export_error(
            source,
            "no usable control mice",
            f"rows with {SAMPLE_GROUP} == {CONTROL_GROUP!r} and at least one threshold: "
            "thresholds are referenced to each centre's controls",
            column=SAMPLE_GROUP,
        )
    in_lines = in_kept_line(build_line_id(usable), min_line_size) & ~is_control(usable)
    if require_controls and not in_lines.any():
        raise export_error(
            source,
            f"no knockout line with at least {min_line_size} usable mutants: nothing to "
            "cluster besides the controls",
            f"rows with {SAMPLE_GROUP} other than {CONTROL_GROUP!r}, gene and allele, "
            f"{min_line_size} or more per line (data_processing.min_line_size)",
            column=SAMPLE_GROUP,
        )
    kept = is_control(usable) | in_lines
    if int(kept.sum()) < n_clusters:
        raise export_error(
            source,
            f"only {int(kept.sum())} usable mice (controls plus mutants in lines of at least "
            f"{min_line_size} mice) for {n_clusters} clusters",
            f"at least as many usable mice as clusters ({n_clusters}); lower model.n_clusters "
            "or data_processing.min_line_size, or provide a larger export",
        )


def validate_export(
    frame: pd.DataFrame,
    *,
    n_clusters: int,
    min_line_size: int,
    plausible_range_db: tuple[float, float] = (-20.0, 130.0),
    max_out_of_range_share: float = 0.01,
    require_controls: bool = True,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Check an export read by :func:`~audiometric_clustering.impc.readers.read_export`.

    Returns the usable rows restricted to :data:`VALIDATED_COLUMNS` (thresholds and age/weight
    as float, sample group lower-cased) and a summary of everything that was fixed or dropped.
    Raises :class:`InvalidExportError` for an empty file, a missing required column, text in a
    numeric column, many implausible thresholds, missing or duplicate specimen ids, an unknown
    sample group, no controls, or fewer usable mice than ``n_clusters``.

    ``require_controls=False`` is for new mice to assign to a trained model: their baselines
    can come from the training controls of each centre instead.
    """
    source = source_of(frame)
    _check_not_empty(frame, source)
    _check_required_columns(frame, source)
    _check_specimen_ids(frame, source)
    absent = [c for c in VALIDATED_COLUMNS if c not in frame.columns]
    clean = frame.reindex(columns=list(VALIDATED_COLUMNS)).reset_index(drop=True)
    clean[SAMPLE_GROUP] = _normalised_sample_group(clean, source)
    for column in (*THRESHOLDS, *CONTINUOUS_METADATA):
        clean[column] = _numeric_column(clean, column, source)
    text_columns = [c for c in VALIDATED_COLUMNS if c not in (*THRESHOLDS, *CONTINUOUS_METADATA)]
    clean[text_columns] = clean[text_columns].astype("str")

    rows_by_centre = clean[CENTRE].fillna("unknown").value_counts().sort_index()
    thresholds = clean[list(THRESHOLDS)]
    low, high = plausible_range_db
    implausible = (thresholds < low) | (thresholds > high)
    _check_out_of_range_share(
        clean, implausible, plausible_range_db, max_out_of_range_share, source
    )
    clean[list(THRESHOLDS)] = thresholds.mask(implausible)

    control = is_control(clean)
    no_thresholds = clean[list(THRESHOLDS)].isna().all(axis=1)
    no_identity = ~control & clean[list(LINE_ID_PARTS)].isna().any(axis=1)
    usable = clean.loc[~no_thresholds & ~no_identity].reset_index(drop=True)

    _check_enough_mice(usable, source, n_clusters, min_line_size, require_controls)

    summary = {
        "source_file": source,
        "layout": str(frame.attrs.get("layout", "wide")),
        "rows_read": int(len(frame)),
        "rows_read_by_centre": {str(k): int(v) for k, v in rows_by_centre.items()},
        "columns_absent": absent,
        "out_of_range_cleared": {c: int(n) for c, n in implausible.sum().items() if n},
        "out_of_range_cleared_by_centre": _per_centre(clean, implausible),
        "plausible_range_db": [float(v) for v in plausible_range_db],
        "rows_dropped_without_thresholds": int(no_thresholds.sum()),
        "mutants_dropped_without_line_identity": int((no_identity & ~no_thresholds).sum()),
        "rows_validated": int(len(usable)),
        "missing": {c: int(n) for c, n in usable.isna().sum().items() if n},
        "missing_by_centre": _per_centre(
            usable, usable[[*THRESHOLDS, *CONTINUOUS_METADATA]].isna()
        ),
    }
    return usable, summary
