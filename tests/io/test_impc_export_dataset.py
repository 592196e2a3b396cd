import pandas as pd
import pytest
from kedro.io import DatasetError

from audiometric_clustering.impc import schema
from audiometric_clustering.impc.synthetic import generate_synthetic_export
from audiometric_clustering.io import IMPCExportDataset
from tests.parameters import synthetic_settings


@pytest.fixture(scope="module")
def export() -> pd.DataFrame:
    return generate_synthetic_export(200, seed=3, settings=synthetic_settings())[0]


@pytest.mark.parametrize("name", ["export.csv", "export.parquet"])
def test_saves_and_loads_the_wide_layout_recording_its_source(tmp_path, export, name):
    dataset = IMPCExportDataset(filepath=str(tmp_path / name))
    assert not dataset.exists()
    dataset.save(export)
    loaded = dataset.load()
    assert dataset.exists()
    assert loaded.attrs == {"source_file": str(tmp_path / name), "layout": "wide"}
    pd.testing.assert_frame_equal(loaded[export.columns], export, check_dtype=False)


def test_loads_the_long_layout_as_wide(tmp_path, export):
    ids = {schema.THRESHOLD_COLUMNS[f]: schema.PARAMETER_IDS[f] for f in schema.FREQUENCIES}
    long = export.melt(
        id_vars=[c for c in export.columns if c not in ids],
        value_vars=list(ids),
        var_name="parameter_name",
        value_name="data_point",
    ).dropna(subset=["data_point"])
    long["parameter_stable_id"] = long["parameter_name"].map(ids)
    long.to_parquet(tmp_path / "long.parquet")
    loaded = IMPCExportDataset(filepath=str(tmp_path / "long.parquet")).load()
    assert loaded.attrs["layout"] == "long"
    merged = export.merge(loaded, on=schema.SPECIMEN_ID, suffixes=("", "_long"))
    for column in ids:
        pd.testing.assert_series_equal(
            merged[f"{column}_long"], merged[column], check_names=False, check_dtype=False
        )


def test_a_missing_file_names_the_path(tmp_path):
    path = tmp_path / "absent.csv"
    with pytest.raises(DatasetError, match="IMPC export not found") as err:
        IMPCExportDataset(filepath=str(path)).load()
    assert str(path) in str(err.value)
