import pandas as pd
import pytest
import yaml

from audiometric_clustering.impc import schema
from audiometric_clustering.impc.synthetic import TRUTH_COLUMNS, generate_synthetic_export
from audiometric_clustering.pipelines.synthetic_data.nodes import generate_synthetic_data
from tests.conftest import REPO_ROOT
from tests.parameters import synthetic_settings

PARAMETERS = REPO_ROOT / "conf/base/parameters_synthetic_data.yml"


def _params(**changes) -> dict:
    params = yaml.safe_load(PARAMETERS.read_text())["synthetic"]
    return {**params, "n_mice": 300, "seed": 1, **changes}


def test_the_node_makes_what_the_generator_makes_from_the_yaml():
    export, truth = generate_synthetic_data(_params())
    expected = generate_synthetic_export(300, 1, synthetic_settings())
    pd.testing.assert_frame_equal(export, expected[0])
    pd.testing.assert_frame_equal(truth, expected[1])


def test_the_node_names_a_bad_setting_and_its_value():
    params = _params()
    params["cohorts"] = {**params["cohorts"], "offset_sd_db": "three"}
    with pytest.raises(ValueError, match=r"synthetic\.cohorts\.offset_sd_db = 'three'"):
        generate_synthetic_data(params)


@pytest.mark.slow  # a real Kedro session (MLflow included)
def test_synthetic_data_writes_the_export_and_its_ground_truth(run_pipeline, kedro_project):
    run_pipeline(
        "synthetic_data",
        {"synthetic": {"n_mice": 1200, "seed": 3, "recording": {"missing_values": False}}},
    )
    export = pd.read_csv(kedro_project / "data/01_raw/impc_abr_synthetic.csv")
    truth = pd.read_csv(
        kedro_project / "data/01_raw/impc_abr_synthetic_truth.csv", keep_default_na=False
    )
    assert len(export) == len(truth) == 1200
    assert list(truth.columns) == list(TRUTH_COLUMNS)
    assert truth["specimen_id"].tolist() == export["specimen_id"].tolist()
    assert (truth.loc[export["biological_sample_group"] == "control", "line_id"] == "").all()
    # one nested switch given at run time reaches the generator; the rest stay as in the YAML
    thresholds = [schema.THRESHOLD_COLUMNS[f] for f in schema.FREQUENCIES]
    assert export[thresholds].notna().all().all()
    assert export[schema.CENTRE].eq("HMGU").any() and export[thresholds].max().max() == 100
    assert truth.groupby(export[schema.CENTRE])["ceiling_db"].first()["HMGU"] == 90
