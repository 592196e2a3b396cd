import json

import numpy as np
import pandas as pd
import pytest

from audiometric_clustering.impc import schema
from audiometric_clustering.impc.cohort import build_cohort
from audiometric_clustering.impc.control_baselines import (
    BASELINE_SOURCE,
    FROM_FILE_CONTROLS,
    FROM_TRAINING_CENTRE,
    FROM_TRAINING_OVERALL,
    MIN_FILE_CENTRE_CONTROLS,
    baseline_summary,
    typical_threshold,
)
from audiometric_clustering.impc.preprocessing import (
    MODEL_INPUT_COLUMNS,
    apply_preprocessor,
    fit_preprocessor,
)
from audiometric_clustering.impc.settings import DataProcessingSettings
from audiometric_clustering.impc.validation import validate_export
from tests.impc.frames import export, mice

QUIET = (30.0, 20.0, 20.0, 30.0, 40.0, 25.0)  # centre A controls
LOUD = (50.0, 45.0, 35.0, 45.0, 65.0, 35.0)  # centre B controls: same mice, another setting
LOSS = np.array([0.0, 5.0, 20.0, 40.0, 30.0, 20.0])


def _two_centres() -> pd.DataFrame:
    """Identical high-frequency loss at two centres whose controls differ by 15-25 dB."""
    frame = export(
        mice(6, control=True, centre="A", thresholds=QUIET),
        mice(6, control=True, centre="B", thresholds=LOUD),
        mice(4, gene="Hf", centre="A", thresholds=np.array(QUIET) + LOSS),
        mice(4, gene="Hf", centre="B", thresholds=np.array(LOUD) + LOSS),
        mice(4, gene="Wt", centre="A", thresholds=QUIET, sex="male", weight=30.0),
    )
    frame[schema.SPLIT] = "train"
    return frame


def _fit(frame: pd.DataFrame, params: dict) -> dict:
    return fit_preprocessor(frame, DataProcessingSettings.from_params(params))


def _params(processing_params, **reference):
    params = json.loads(json.dumps(processing_params))
    params["control_reference"].update(reference)
    return params


def _features(model_input: pd.DataFrame) -> np.ndarray:
    return model_input[list(schema.ABR_FEATURES)].to_numpy()


def test_control_referencing_removes_centre_offsets(processing_params):
    frame = _two_centres()
    state = _fit(frame, processing_params)
    out = apply_preprocessor(frame, state)
    overall = np.array([state["baselines"]["overall"][f] for f in schema.FREQUENCIES])
    np.testing.assert_allclose(
        _features(out.loc[out[schema.IS_CONTROL]]), np.tile(overall, (12, 1))
    )
    hearing_loss = _features(out.loc[out[schema.GENE] == "Hf"])
    np.testing.assert_allclose(hearing_loss, np.tile(overall + LOSS, (8, 1)))
    assert (out[BASELINE_SOURCE] == FROM_FILE_CONTROLS).all()


def test_without_referencing_the_features_are_the_raw_thresholds(processing_params):
    frame = _two_centres()
    state = _fit(frame, _params(processing_params, enabled=False))
    out = apply_preprocessor(frame, state)
    np.testing.assert_allclose(_features(out), out[list(schema.RAW_ABR)].to_numpy())


def test_small_matched_groups_fall_back_to_the_centre(processing_params):
    frame = _two_centres()
    frame.loc[frame.index[:2], schema.EQUIPMENT_MODEL] = "Old rig"  # two A controls: too few
    frame.loc[frame.index[:2], list(schema.THRESHOLD_COLUMNS.values())] += 10.0
    frame.loc[frame.index[12], schema.EQUIPMENT_MODEL] = "Old rig"  # one A mutant on it
    state = _fit(frame, _params(processing_params, min_group_controls=4))
    levels = baseline_summary(frame, state)["mice_by_level"]["6kHz"]
    assert levels == {"group": 21, "centre": 3, "overall": 0}
    out = apply_preprocessor(frame, state)
    controls_a = np.vstack([np.tile(QUIET, (4, 1)), np.tile(np.add(QUIET, 10), (2, 1))])
    centre_a = [typical_threshold(column) for column in controls_a.T]
    expected = (
        np.add(QUIET, LOSS)
        - centre_a
        + [state["baselines"]["overall"][f] for f in schema.FREQUENCIES]
    )
    np.testing.assert_allclose(_features(out.iloc[[12]])[0], np.clip(expected, 0, 100))


def test_missing_thresholds_are_imputed_as_a_typical_control_and_masked(processing_params):
    frame = _two_centres()
    click = schema.THRESHOLD_COLUMNS["click"]
    frame.loc[frame[schema.CENTRE] == "B", click] = np.nan  # click not measured at centre B
    state = _fit(frame, processing_params)
    out = apply_preprocessor(frame, state)
    at_b = out[schema.CENTRE] == "B"
    assert (out.loc[at_b, "observed_click"] == 0.0).all()
    assert (out.loc[~at_b, "observed_click"] == 1.0).all()
    assert np.allclose(out.loc[at_b, "abr_click"], state["baselines"]["overall"]["click"])
    assert out.loc[at_b, "raw_click"].isna().all()
    assert not out[list(schema.ABR_FEATURES)].isna().any().any()


def test_features_are_clipped_to_the_decoder_range(processing_params):
    frame = _two_centres()
    frame.loc[frame[schema.GENE] == "Hf", schema.THRESHOLD_COLUMNS["30kHz"]] = 120.0
    out = apply_preprocessor(frame, _fit(frame, processing_params))
    assert out["abr_30kHz"].max() == 100.0 and out["abr_30kHz"].min() >= 0.0


def test_metadata_is_standardised_and_encoded_from_the_training_split(processing_params):
    frame = _two_centres()
    frame.loc[frame[schema.GENE] == "Wt", schema.SPLIT] = "validation"
    frame.loc[0, schema.WEIGHT] = np.nan
    state = _fit(frame, processing_params)
    out = apply_preprocessor(frame, state)
    train = out[schema.SPLIT] == "train"
    assert state["vocabularies"]["cat_sex"] == ["female"]  # males are only in validation
    assert out.loc[~train, "cat_sex"].eq(0).all() and out.loc[train, "cat_sex"].eq(1).all()
    assert state["continuous"][schema.WEIGHT] == {"mean": 25.0, "std": 1.0}  # std 0 -> 1
    assert out.loc[0, "cont_weight"] == 0.0
    assert out.loc[~train, "cont_weight"].eq(5.0).all()
    assert sorted(state["vocabularies"]["cat_phenotyping_center"]) == ["A", "B"]
    assert state["categorical_columns"]["cat_equipment_model"] == schema.EQUIPMENT_MODEL


@pytest.fixture
def cohort_and_state(synthetic_export, processing_params):
    clean, _ = validate_export(synthetic_export, n_clusters=12, min_line_size=3)
    cohort, _ = build_cohort(clean, min_line_size=3, validation_fraction=0.1, seed=42)
    return cohort, _fit(cohort, processing_params)


def test_model_input_follows_the_contract(cohort_and_state):
    cohort, state = cohort_and_state
    out = apply_preprocessor(cohort, state)
    assert list(out.columns) == list(MODEL_INPUT_COLUMNS)
    assert out[list(schema.CATEGORICAL_FEATURES)].dtypes.eq("int64").all()
    assert out[schema.IS_CONTROL].dtype == bool
    model_columns = [*schema.ABR_FEATURES, *schema.CONTINUOUS_FEATURES, *schema.PCA_FEATURES]
    assert not out[model_columns].isna().any().any()
    assert out.loc[out[schema.IS_CONTROL], schema.LINE_ID].eq("").all()
    train = out[schema.SPLIT] == "train"
    np.testing.assert_allclose(out.loc[train, list(schema.PCA_FEATURES)].std(), 1.0, rtol=1e-6)
    for feature, vocabulary in state["vocabularies"].items():
        assert out[feature].max() <= len(vocabulary)


def test_state_is_plain_json_and_transforms_new_mice_like_the_training_ones(cohort_and_state):
    cohort, state = cohort_and_state
    reloaded = json.loads(json.dumps(state, allow_nan=False))
    full = apply_preprocessor(cohort, reloaded)
    new = cohort.loc[~cohort[schema.IS_CONTROL]].drop(columns=[schema.SPLIT])
    transformed = apply_preprocessor(new, reloaded)
    assert (transformed[BASELINE_SOURCE] == FROM_TRAINING_CENTRE).all()
    assert (transformed[schema.SPLIT] == "unassigned").all()
    expected = full.loc[~full[schema.IS_CONTROL]].reset_index(drop=True)
    columns = [*schema.ABR_FEATURES, *schema.PCA_FEATURES, *schema.CATEGORICAL_FEATURES]
    pd.testing.assert_frame_equal(transformed[columns], expected[columns])


def test_an_unknown_centre_without_controls_uses_the_overall_baseline(cohort_and_state):
    cohort, state = cohort_and_state
    new = cohort.loc[~cohort[schema.IS_CONTROL]].head(3).assign(**{schema.CENTRE: "Mars"})
    out = apply_preprocessor(new, state)
    assert (out[BASELINE_SOURCE] == FROM_TRAINING_OVERALL).all()
    assert out["cat_phenotyping_center"].eq(0).all()


def test_real_sample_controls_line_up_across_centres(real_sample, processing_params):
    from audiometric_clustering.impc.readers import read_export

    clean, _ = validate_export(read_export(real_sample), n_clusters=12, min_line_size=3)
    cohort, _ = build_cohort(clean, min_line_size=3, validation_fraction=0.1, seed=42)
    out = apply_preprocessor(cohort, _fit(cohort, processing_params))
    controls = out.loc[out[schema.IS_CONTROL]]
    raw_spread = np.ptp(controls.groupby(schema.CENTRE)["raw_12kHz"].median())
    referenced_spread = np.ptp(controls.groupby(schema.CENTRE)["abr_12kHz"].median())
    assert raw_spread >= 30.0  # RBRC ~3 dB vs JAX ~45 dB
    assert referenced_spread <= 5.0


def _spread_controls(pca_scale: str, processing_params) -> pd.DataFrame:
    """The same 40 control audiograms, inside the normal range, at a centre whose controls
    spread 4 dB and at one whose controls spread 10 dB."""
    rng = np.random.default_rng(0)
    levels = np.repeat([-1.0, -0.5, 0.5, 1.0], 10)  # typical 0, SD 0.79: all within 1.5 SD
    z = np.column_stack([rng.permutation(levels) for _ in range(6)])
    frame = export(
        *(mice(1, control=True, centre="quiet", thresholds=40 + 4 * row) for row in z),
        *(mice(1, control=True, centre="noisy", thresholds=40 + 10 * row) for row in z),
    )
    frame[schema.SPLIT] = "train"
    params = json.loads(json.dumps(processing_params)) | {"pca_scale": pca_scale}
    params["reference_range"]["min_controls"] = 10
    out = apply_preprocessor(frame, _fit(frame, params))
    return out[list(schema.PCA_FEATURES)].groupby(out[schema.CENTRE]).std()


def test_the_harmonised_pca_does_not_see_how_widely_a_centres_controls_spread(
    processing_params,
):
    harmonised = _spread_controls("harmonised", processing_params)
    np.testing.assert_allclose(harmonised.loc["quiet"], harmonised.loc["noisy"], rtol=1e-6)
    referenced = _spread_controls("referenced", processing_params)
    assert (referenced.loc["noisy"] > 2 * referenced.loc["quiet"]).all()


def test_a_preprocessor_state_of_another_version_is_refused(processing_params):
    frame = _two_centres()
    state = _fit(frame, processing_params) | {"version": 1}
    with pytest.raises(ValueError, match="version 1.*data_processing"):
        apply_preprocessor(frame, state)


def test_a_file_with_too_few_controls_at_a_centre_is_referenced_to_training(processing_params):
    """One unusual control (20 dB louder) at centre B in a new file: with the minimum of
    controls at a centre, B's mice keep the training baselines of B, and the summary says
    so per centre; A, with enough controls in the file, uses them."""
    training = _two_centres()
    state = _fit(training, processing_params)
    new = export(
        mice(6, control=True, centre="A", thresholds=QUIET),
        mice(4, gene="Hf", centre="A", thresholds=np.array(QUIET) + LOSS),
        mice(1, control=True, centre="B", thresholds=np.add(LOUD, 20.0)),
        mice(4, gene="Hf", centre="B", thresholds=np.array(LOUD) + LOSS),
    )
    applied = {
        **state,
        "control_reference": state["control_reference"] | {MIN_FILE_CENTRE_CONTROLS: 5},
    }
    out = apply_preprocessor(new, applied)
    at_b = (out[schema.CENTRE] == "B").to_numpy()
    assert (out.loc[at_b, BASELINE_SOURCE] == FROM_TRAINING_CENTRE).all()
    assert (out.loc[~at_b, BASELINE_SOURCE] == FROM_FILE_CONTROLS).all()
    overall = np.array([state["baselines"]["overall"][f] for f in schema.FREQUENCIES])
    hearing_loss = _features(out.loc[out[schema.GENE] == "Hf"])
    np.testing.assert_allclose(hearing_loss, np.tile(overall + LOSS, (8, 1)))  # B not off 20 dB
    summary = baseline_summary(new, applied)
    assert summary[MIN_FILE_CENTRE_CONTROLS] == 5
    assert summary["by_centre"] == {
        "A": {"controls_in_file": 6, "baselines": FROM_FILE_CONTROLS},
        "B": {"controls_in_file": 1, "baselines": FROM_TRAINING_CENTRE},
    }
    # Without the minimum (the default, 1), the one control is B's reference.
    assert (apply_preprocessor(new, state).loc[at_b, BASELINE_SOURCE] == FROM_FILE_CONTROLS).all()
