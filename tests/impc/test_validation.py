import numpy as np
import pandas as pd
import pytest

from audiometric_clustering.impc import schema
from audiometric_clustering.impc.errors import InvalidExportError
from audiometric_clustering.impc.validation import VALIDATED_COLUMNS, validate_export
from tests.impc.frames import THRESHOLDS, export, mice

TWELVE_KHZ = schema.THRESHOLD_COLUMNS["12kHz"]
CLICK = schema.THRESHOLD_COLUMNS["click"]


def _validate(frame: pd.DataFrame, **overrides):
    settings = {"n_clusters": 12, "min_line_size": 3} | overrides
    return validate_export(frame, **settings)


def _fails(frame: pd.DataFrame, *fragments: str, **overrides) -> str:
    """Validation must fail and the message must name the file and each fragment."""
    with pytest.raises(InvalidExportError) as err:
        _validate(frame, **overrides)
    message = str(err.value)
    for fragment in (frame.attrs["source_file"], "expected", *fragments):
        assert fragment in message
    return message


def test_a_good_export_passes_with_the_pipeline_columns(synthetic_export):
    clean, summary = _validate(synthetic_export)
    assert list(clean.columns) == list(VALIDATED_COLUMNS)
    assert len(clean) == len(synthetic_export) == summary["rows_validated"]
    assert clean[list(THRESHOLDS)].dtypes.eq("float64").all()
    assert summary["source_file"] == "synthetic_test.csv"
    assert summary["missing"][CLICK] == summary["missing_by_centre"]["JAX"][CLICK] + sum(
        counts.get(CLICK, 0)
        for centre, counts in summary["missing_by_centre"].items()
        if centre != "JAX"
    )


def test_empty_export_fails(synthetic_export):
    _fails(synthetic_export.iloc[:0], "no data rows")


def test_missing_required_column_is_named_with_a_close_match(synthetic_export):
    frame = synthetic_export.rename(columns={TWELVE_KHZ: "12kHz-evoked ABR threshold"})
    message = _fails(frame, repr(TWELVE_KHZ), "found similar '12kHz-evoked ABR threshold'")
    assert "column:" in message


def test_non_numeric_threshold_names_rows_ids_and_values(synthetic_export):
    frame = synthetic_export.astype({TWELVE_KHZ: "object"})
    frame.loc[[3, 10], TWELVE_KHZ] = ["35 dB", "n/a"]
    sid = frame.loc[3, schema.SPECIMEN_ID]
    _fails(
        frame, TWELVE_KHZ, "2 non-numeric", f"row 4 (specimen_id='{sid}', value='35 dB')", "'n/a'"
    )


def test_many_implausible_values_fail(synthetic_export):
    frame = synthetic_export.copy()
    frame[TWELVE_KHZ] = frame[TWELVE_KHZ] * 10  # e.g. a column in the wrong unit
    _fails(frame, TWELVE_KHZ, "outside the plausible range", "between -20 and 130 dB")


def test_a_few_implausible_values_are_cleared_and_counted(synthetic_export):
    frame = synthetic_export.copy()
    frame.loc[[0, 1], TWELVE_KHZ] = [250.0, -40.0]
    clean, summary = _validate(frame)
    assert clean.loc[[0, 1], TWELVE_KHZ].isna().all()
    assert summary["out_of_range_cleared"] == {TWELVE_KHZ: 2}
    centre = frame.loc[0, schema.CENTRE]
    assert summary["out_of_range_cleared_by_centre"][centre][TWELVE_KHZ] >= 1


def test_duplicate_specimen_ids_fail(synthetic_export):
    frame = synthetic_export.copy()
    frame.loc[5, schema.SPECIMEN_ID] = frame.loc[2, schema.SPECIMEN_ID]
    _fails(frame, "appear on more than one row", "row 3 (", "row 6 (", schema.SPECIMEN_ID)


def test_missing_specimen_id_fails(synthetic_export):
    frame = synthetic_export.copy()
    frame.loc[7, schema.SPECIMEN_ID] = None
    _fails(frame, "without a specimen id", "row 8 (")


def test_unknown_sample_group_fails(synthetic_export):
    frame = synthetic_export.copy()
    frame.loc[0, schema.SAMPLE_GROUP] = "wildtype"
    _fails(frame, "unknown biological sample group", "'wildtype'", "['control', 'experimental']")


def test_no_controls_fails(synthetic_export):
    frame = synthetic_export.loc[synthetic_export[schema.SAMPLE_GROUP] == "experimental"]
    _fails(frame, "no usable control mice")


def test_new_mice_without_controls_pass_when_controls_are_not_required(synthetic_export):
    frame = synthetic_export.loc[synthetic_export[schema.SAMPLE_GROUP] == "experimental"]
    clean, _ = _validate(frame, n_clusters=0, min_line_size=1, require_controls=False)
    assert len(clean) == len(frame)


def test_fewer_usable_mice_than_clusters_fails():
    frame = export(mice(3, control=True), mice(3, gene="A"), mice(2, gene="B"))
    _fails(frame, "only 6 usable mice", "for 12 clusters")
    clean, _ = _validate(frame, n_clusters=6)
    assert len(clean) == 8  # validation keeps the small line; the cohort step drops it


def test_missing_click_column_and_weight_are_recoverable_and_counted():
    frame = export(mice(4, control=True), mice(4, gene="A"), mice(4, gene="B", weight=np.nan))
    frame = frame.drop(columns=[CLICK])
    clean, summary = _validate(frame, n_clusters=2)
    assert clean[CLICK].isna().all()
    assert summary["columns_absent"] == [schema.DATE_OF_EXPERIMENT, CLICK]  # both optional
    assert summary["missing"][schema.WEIGHT] == 4
    assert summary["missing_by_centre"]["A"] == {CLICK: 12, schema.WEIGHT: 4}


def test_mice_without_any_threshold_or_line_identity_are_dropped_and_counted():
    frame = export(
        mice(4, control=True),
        mice(4, gene="A"),
        mice(1, gene="A", thresholds=(np.nan,) * 6),
        mice(2, gene="B", allele_symbol=None),
    )
    clean, summary = _validate(frame, n_clusters=2)
    assert len(clean) == 8
    assert summary["rows_dropped_without_thresholds"] == 1
    assert summary["mutants_dropped_without_line_identity"] == 2


def test_real_sample_validates(real_sample):
    from audiometric_clustering.impc.readers import read_export

    clean, summary = _validate(read_export(real_sample))
    assert summary["rows_validated"] == 1000
    assert summary["missing_by_centre"]["JAX"][CLICK] == 264
