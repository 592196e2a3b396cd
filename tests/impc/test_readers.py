import pandas as pd
import pytest

from audiometric_clustering.impc import schema
from audiometric_clustering.impc.errors import InvalidExportError
from audiometric_clustering.impc.readers import expand_metadata, read_export, write_export
from tests.impc.frames import THRESHOLDS, export, mice


def _long_layout(wide: pd.DataFrame) -> pd.DataFrame:
    """The Solr ``experiment`` layout of a wide table: one row per mouse and ABR parameter,
    equipment metadata folded into a list of "key = value" strings."""
    ids = {schema.THRESHOLD_COLUMNS[f]: schema.PARAMETER_IDS[f] for f in schema.FREQUENCIES}
    equipment = [schema.EQUIPMENT_MANUFACTURER, schema.EQUIPMENT_MODEL]
    mouse = wide.drop(columns=[*THRESHOLDS, *equipment])
    mouse["metadata"] = [
        [f"Equipment manufacturer = {a}", f"Equipment model = {b}", "Number averages = 256"]
        for a, b in zip(wide[equipment[0]], wide[equipment[1]], strict=True)
    ]
    long = wide[[schema.SPECIMEN_ID, *THRESHOLDS]].melt(
        id_vars=schema.SPECIMEN_ID, var_name="parameter_name", value_name="data_point"
    )
    long["parameter_stable_id"] = long["parameter_name"].map(ids)
    return mouse.merge(long.dropna(subset=["data_point"]), on=schema.SPECIMEN_ID)


@pytest.fixture
def wide() -> pd.DataFrame:
    frame = export(
        mice(2, centre="HMGU", thresholds=(35, 20, 25, 40, 55, 30)),
        mice(2, control=True, centre="JAX", thresholds=(50, 45, 35, 45, 65, None)),
    )
    frame.loc[3, schema.EQUIPMENT_MODEL] = "Smart EP, it's new"
    return frame


def test_real_sample_is_wide_and_loses_its_repeated_specimen_id_column(real_sample):
    frame = read_export(real_sample)
    assert frame.attrs == {"source_file": str(real_sample), "layout": "wide"}
    assert len(frame) == 1000
    assert "specimen_id.1" not in frame.columns
    assert frame[schema.SPECIMEN_ID].is_unique


@pytest.mark.parametrize("name", ["export.csv", "export.parquet", "export.csv.gz"])
def test_wide_files_round_trip(tmp_path, wide, name):
    write_export(wide, tmp_path / name)
    loaded = read_export(tmp_path / name)
    assert loaded.attrs["layout"] == "wide"
    pd.testing.assert_frame_equal(loaded[THRESHOLDS], wide[THRESHOLDS])
    assert loaded[schema.SPECIMEN_ID].tolist() == wide[schema.SPECIMEN_ID].tolist()


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_long_layout_is_pivoted_to_the_wide_layout(tmp_path, wide, suffix):
    long = _long_layout(wide)
    path = tmp_path / f"solr{suffix}"
    if suffix == ".csv":
        long.assign(metadata=long["metadata"].astype(str)).to_csv(path, index=False)
    else:
        long.to_parquet(path)
    loaded = read_export(path)
    assert loaded.attrs["layout"] == "long"
    assert len(loaded) == len(wide)
    merged = wide.merge(loaded, on=schema.SPECIMEN_ID, suffixes=("", "_read"))
    for column in THRESHOLDS:
        read = pd.to_numeric(merged[f"{column}_read"])
        pd.testing.assert_series_equal(read, merged[column], check_names=False)
    for column in [schema.EQUIPMENT_MODEL, schema.CENTRE, schema.SAMPLE_GROUP]:
        assert merged[f"{column}_read"].tolist() == merged[column].tolist(), column
    assert merged["metadata_Number averages"].eq("256").all()


def test_long_layout_with_two_values_for_one_parameter_fails(tmp_path, wide):
    long = _long_layout(wide)
    clash = long.iloc[[0]].assign(data_point=long["data_point"].iloc[0] + 10)
    path = tmp_path / "clash.parquet"
    pd.concat([long, clash]).to_parquet(path)
    with pytest.raises(InvalidExportError, match="different values for the same parameter") as err:
        read_export(path)
    assert str(path) in str(err.value)
    assert clash[schema.SPECIMEN_ID].iloc[0] in str(err.value)


def test_metadata_text_keeps_values_with_quotes_and_equals_signs():
    text = pd.Series(["['A = 1', \"B = it's = fine\"]", '["A = 2"]', None], dtype="str")
    expanded = expand_metadata(text)
    assert expanded["metadata_A"].tolist()[:2] == ["1", "2"]
    assert expanded["metadata_B"].iloc[0] == "it's = fine"
    assert expanded.iloc[2].isna().all()


def test_empty_file_is_a_clear_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(InvalidExportError, match="empty") as err:
        read_export(path)
    assert str(path) in str(err.value)


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nowhere" / "export.csv"
    with pytest.raises(FileNotFoundError, match="raw_abr_path") as err:
        read_export(path)
    assert str(path) in str(err.value)


def test_unknown_layout_and_suffix_are_rejected(tmp_path):
    path = tmp_path / "other.csv"
    pd.DataFrame({"specimen_id": ["a"], "value": [1]}).to_csv(path, index=False)
    with pytest.raises(InvalidExportError, match="neither the wide nor the long"):
        read_export(path)
    text = tmp_path / "export.xlsx"
    text.write_text("x")
    with pytest.raises(InvalidExportError, match="unsupported file type '.xlsx'"):
        read_export(text)


def test_a_repeated_column_with_different_values_is_ambiguous(tmp_path, wide):
    path = tmp_path / "ambiguous.csv"
    pd.concat([wide, wide[[schema.CENTRE]].replace("JAX", "TCP")], axis=1).to_csv(path, index=False)
    with pytest.raises(InvalidExportError, match="two different columns are named"):
        read_export(path)


def test_long_layout_with_conflicting_metadata_for_one_mouse_fails(tmp_path, wide):
    """One mouse's rows say WTSI/male on some parameters and JAX/female on others: the
    first rows used to win silently."""
    long = _long_layout(wide)
    mouse = long[schema.SPECIMEN_ID].iloc[0]
    rows = long.index[long[schema.SPECIMEN_ID] == mouse]
    long[schema.CENTRE] = long[schema.CENTRE].astype(object)
    long.loc[rows[:2], [schema.CENTRE, schema.SEX]] = ["WTSI", "male"]
    long.loc[rows[2:], [schema.CENTRE, schema.SEX]] = ["JAX", "female"]
    path = tmp_path / "conflict.parquet"
    long.to_parquet(path)
    with pytest.raises(InvalidExportError, match="described differently") as err:
        read_export(path)
    message = str(err.value)
    assert str(path) in message and f"specimen_id={mouse!r}" in message
    assert "['phenotyping_center', 'sex']" in message
    assert "phenotyping_center: ['JAX', 'WTSI']" in message and "sex: ['female', 'male']" in message


def test_a_folder_and_a_device_are_not_reported_as_missing(tmp_path):
    with pytest.raises(InvalidExportError, match="this is a folder, not a file") as err:
        read_export(tmp_path)
    assert str(tmp_path) in str(err.value)
    with pytest.raises(InvalidExportError, match="not a regular file") as err:
        read_export("/dev/null")
    assert "/dev/null" in str(err.value)


@pytest.mark.parametrize(("delimiter", "named"), [(";", "semicolons"), ("\t", "tabs")])
def test_a_csv_with_another_delimiter_names_it(tmp_path, wide, delimiter, named):
    path = tmp_path / "export.csv"
    wide.to_csv(path, sep=delimiter, index=False)  # "Smart EP, it's new" holds a comma
    with pytest.raises(InvalidExportError, match=f"separated by {named}") as err:
        read_export(path)
    assert str(path) in str(err.value) and repr(delimiter) in str(err.value)
    assert "Error tokenizing" not in str(err.value)
