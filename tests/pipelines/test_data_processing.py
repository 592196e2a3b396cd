import json
from pathlib import Path

import pandas as pd
import pytest

from audiometric_clustering.impc import schema
from audiometric_clustering.impc.preprocessing import MODEL_INPUT_COLUMNS
from audiometric_clustering.impc.synthetic import generate_synthetic_export
from tests.parameters import synthetic_settings

OUTPUTS = (
    "data/runs/latest/02_intermediate/validated_abr.parquet",
    "data/runs/latest/05_model_input/model_input.parquet",
    "data/runs/latest/06_models/preprocessor_state.json",
    "data/runs/latest/08_reporting/data_quality_report.json",
)


pytestmark = pytest.mark.slow  # real Kedro sessions (MLflow included)


def _report(kedro_project: Path) -> dict:
    return json.loads((kedro_project / OUTPUTS[3]).read_text())


def test_default_synthetic_export_becomes_the_model_input(run_pipeline, kedro_project):
    export, truth = generate_synthetic_export(1500, seed=5, settings=synthetic_settings())
    export.to_csv(kedro_project / "data/01_raw/impc_abr_synthetic.csv", index=False)
    run_pipeline("data_processing")
    model_input = pd.read_parquet(kedro_project / OUTPUTS[1])
    state = json.loads((kedro_project / OUTPUTS[2]).read_text())
    report = _report(kedro_project)
    assert list(model_input.columns) == list(MODEL_INPUT_COLUMNS)
    assert len(model_input) == report["rows_kept"] == 1500
    assert set(model_input[schema.SPLIT]) == {"train", "validation"}
    assert set(state["vocabularies"]) == set(schema.CATEGORICAL_FEATURES)
    merged = model_input.merge(truth, on=schema.SPECIMEN_ID, suffixes=("", "_truth"))
    assert merged[schema.LINE_ID].fillna("").equals(merged["line_id_truth"].fillna(""))
    assert report["imputed_thresholds"]["centres_missing_whole_frequency"]["click"] == [
        "ICS",
        "JAX",
    ]
    days = report["control_reference"]["day_correction"]
    assert days["enabled"] and days["between_day_sd_db"] > 0
    assert 0 < days["mutants_shifted"] <= days["mutants"] and days["controls_shifted"] == 0


def test_real_sample_runs_and_reports_the_dropped_small_lines(
    run_pipeline, kedro_project, real_sample
):
    run_pipeline("data_processing", {"raw_abr_path": str(real_sample)})
    report = _report(kedro_project)
    assert report["rows_read"] == 1000 and report["controls"] == 248
    assert report["rows_dropped"]["mutants_in_small_lines"] == 749
    assert any("749 of 752 mutants dropped" in note for note in report["warnings"])
    # 1,000 of 59,145 mice: few mutants have a control of their centre tested the same day
    assert any("test day" in note for note in report["warnings"])
    assert len(pd.read_parquet(kedro_project / OUTPUTS[1])) == report["rows_kept"]


def test_a_bad_export_fails_before_writing_anything(run_pipeline, kedro_project, tmp_path):
    export, _ = generate_synthetic_export(600, seed=5, settings=synthetic_settings())
    export.loc[4, schema.SPECIMEN_ID] = export.loc[1, schema.SPECIMEN_ID]
    path = tmp_path / "duplicated.parquet"
    export.to_parquet(path)
    with pytest.raises(ValueError, match="appear on more than one row") as err:
        run_pipeline("data_processing", {"raw_abr_path": str(path)})
    assert str(path) in str(err.value)
    assert not any((kedro_project / output).exists() for output in OUTPUTS)
