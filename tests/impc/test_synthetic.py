import numpy as np
import pandas as pd
import pytest

from audiometric_clustering.impc import schema
from audiometric_clustering.impc.lines import build_line_id
from audiometric_clustering.impc.synthetic import (
    CENTRES,
    NO_PATTERN,
    PATTERNS,
    generate_synthetic_export,
)
from audiometric_clustering.impc.validation import validate_export

THRESHOLDS = [schema.THRESHOLD_COLUMNS[f] for f in schema.FREQUENCIES]


@pytest.fixture(scope="module")
def large() -> tuple[pd.DataFrame, pd.DataFrame]:
    return generate_synthetic_export(12000, seed=11)


def test_same_seed_same_data_other_seed_other_data():
    first = generate_synthetic_export(800, seed=5)
    again = generate_synthetic_export(800, seed=5)
    other = generate_synthetic_export(800, seed=6)
    pd.testing.assert_frame_equal(first[0], again[0])
    pd.testing.assert_frame_equal(first[1], again[1])
    assert not first[0][THRESHOLDS].equals(other[0][THRESHOLDS])


def test_export_has_the_real_columns_and_passes_validation(large):
    export, truth = large
    assert set(export.columns) == {*schema.METADATA_COLUMNS, *THRESHOLDS}
    assert len(export) == len(truth) == 12000
    assert export[schema.SPECIMEN_ID].is_unique
    clean, summary = validate_export(export, n_clusters=12, min_line_size=3)
    assert len(clean) == 12000 and summary["out_of_range_cleared"] == {}


def test_centres_controls_and_lines_look_like_the_real_export(large):
    export, truth = large
    shares = export[schema.CENTRE].value_counts(normalize=True)
    total = sum(c.export_mice for c in CENTRES)
    for centre in CENTRES:
        assert shares[centre.name] == pytest.approx(centre.export_mice / total, abs=0.002)
    controls = export[schema.SAMPLE_GROUP].eq("control")
    assert controls.mean() == pytest.approx(0.25, abs=0.01)
    assert export.loc[controls, schema.ZYGOSITY].eq("homozygote").any()  # as in reality
    sizes = truth.loc[truth[schema.LINE_ID] != "", schema.LINE_ID].value_counts()
    assert sizes.between(3, 16).all()
    assert sizes.median() == 4
    jax_lines = sizes[sizes.index.str.endswith("|JAX")]
    assert jax_lines.median() == 8


def test_thresholds_follow_5_db_steps_the_cap_and_the_centre_baselines(large):
    export, _ = large
    values = export[THRESHOLDS].to_numpy()
    measured = values[~np.isnan(values)]
    assert np.all(measured % 5 == 0) and measured.max() == 100.0
    click = export[schema.THRESHOLD_COLUMNS["click"]].isna().groupby(export[schema.CENTRE]).mean()
    assert click["ICS"] == click["JAX"] == 1.0
    assert click.drop(["ICS", "JAX", "KMPC", "HMGU"]).eq(0.0).all()
    controls = export.loc[export[schema.SAMPLE_GROUP].eq("control")]
    medians = controls.groupby(schema.CENTRE)[schema.THRESHOLD_COLUMNS["12kHz"]].median()
    assert medians["JAX"] - medians["ICS"] >= 25  # ~45 vs ~15 dB in the real sample


def test_a_small_share_of_lines_carries_planted_patterns_with_partial_penetrance(large):
    export, truth = large
    lines = truth.loc[truth[schema.LINE_ID] != ""].groupby(schema.LINE_ID)
    pattern = lines["planted_pattern"].first()
    planted = pattern != NO_PATTERN
    assert planted.mean() == pytest.approx(0.05, abs=0.005)
    assert set(pattern[planted]) == set(PATTERNS)
    assert pattern[planted].value_counts().idxmax() == "high_frequency"
    penetrance = lines["affected"].mean()[planted]
    assert penetrance.min() > 0 and penetrance.mean() == pytest.approx(0.85, abs=0.07)
    assert not truth.loc[~truth[schema.LINE_ID].isin(pattern.index[planted]), "affected"].any()
    controls = truth[schema.LINE_ID] == ""
    assert truth.loc[controls, "planted_pattern"].eq(NO_PATTERN).all()


def test_planted_patterns_shift_the_expected_frequencies(large):
    export, truth = large
    data = export.merge(truth, on=schema.SPECIMEN_ID)
    controls = data.loc[data[schema.SAMPLE_GROUP].eq("control")]
    baseline = controls.groupby(schema.CENTRE)[THRESHOLDS].median()
    shift = data[THRESHOLDS].to_numpy() - baseline.loc[data[schema.CENTRE]].to_numpy()
    high = (data["planted_pattern"] == "high_frequency") & data["affected"]
    mean_shift = np.nanmean(shift[high.to_numpy()], axis=0)
    assert mean_shift[4] - mean_shift[0] >= 35  # 30 kHz far above 6 kHz
    unaffected = (data["planted_pattern"] == NO_PATTERN).to_numpy()
    assert np.abs(np.nanmean(shift[unaffected], axis=0)).max() <= 3


def test_truth_line_ids_are_those_of_the_export(large):
    export, truth = large
    assert truth[schema.LINE_ID].tolist() == build_line_id(export).tolist()
    assert truth["affected"].dtype == bool
