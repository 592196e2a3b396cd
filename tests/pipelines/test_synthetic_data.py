import pandas as pd
import pytest

from audiometric_clustering.impc import schema

pytestmark = pytest.mark.slow  # real Kedro sessions (MLflow included)


def test_synthetic_data_writes_the_export_and_its_ground_truth(run_pipeline, kedro_project):
    run_pipeline("synthetic_data", {"synthetic": {"n_mice": 1200, "seed": 3}})
    export = pd.read_csv(kedro_project / "data/01_raw/impc_abr_synthetic.csv")
    truth = pd.read_csv(
        kedro_project / "data/01_raw/impc_abr_synthetic_truth.csv", keep_default_na=False
    )
    assert len(export) == len(truth) == 1200
    assert schema.THRESHOLD_COLUMNS["click"] in export.columns
    assert list(truth.columns) == ["specimen_id", "line_id", "planted_pattern", "affected"]
    assert truth["specimen_id"].tolist() == export["specimen_id"].tolist()
    assert (truth.loc[export["biological_sample_group"] == "control", "line_id"] == "").all()
