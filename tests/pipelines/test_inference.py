"""The inference pipeline and the MLflow model logged by ``full_training``, end to end.

One tiny real training run (1,500 synthetic mice, two epochs per stage) is shared by the
module; every run lands in a throw-away project copy with its own MLflow store.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from audiometric_clustering.impc.control_baselines import (
    BASELINE_SOURCE,
    FROM_FILE_CONTROLS,
    FROM_TRAINING_CENTRE,
    FROM_TRAINING_OVERALL,
)
from audiometric_clustering.impc.errors import InvalidExportError
from audiometric_clustering.impc.lines import build_line_id
from audiometric_clustering.impc.schema import (
    CENTRE,
    EQUIPMENT_MODEL,
    LINE_ID,
    SPECIMEN_ID,
    THRESHOLD_COLUMNS,
)
from audiometric_clustering.inference.assignment import FITS_NO_CLUSTER, UNSEEN_CATEGORIES
from audiometric_clustering.pipeline_registry import register_pipelines
from audiometric_clustering.pipelines.inference.packaging import INFERENCE_MODEL
from audiometric_clustering.pipelines.inference.pipeline import (
    NEW_EXPORT,
    create_prediction_pipeline,
)
from audiometric_clustering.pipelines.inference.pipeline import PREDICTIONS as PREDICTIONS_DATASET
from tests.conftest import run_session, trained_project

FAST = {"batch_size": 256, "log_every_n_epochs": 1}
TRAINING = {
    "pretraining": {"epochs": 2, **FAST},
    "cluster_init": {"n_init": 2, "max_iter": 50},
    # two epochs at the default joint lr (1e-4) leave the mice spread too little for the
    # misfit thresholds to be a boundary (46% of mice at the floor); 1e-3 moves them apart
    "joint_training": {"epochs": 2, "warmup_epochs": 1, "learning_rate": 1.0e-3, **FAST},
    "evaluation": {"kmeans_n_init": 1, "silhouette_sample_size": 500, "baseline_fit_size": 2000},
}
TRAINING_EXPORT = Path("data/01_raw/impc_abr_synthetic.csv")
PREDICTIONS = Path("data/runs/latest/07_model_output/inference_predictions.csv")
MISFIT_RULE = Path("data/runs/latest/06_models/misfit_rule.json")
LINES = Path("data/runs/latest/08_reporting/inference_lines.csv")
REPORT = Path("data/runs/latest/08_reporting/inference_report.json")
MODEL_INPUT = Path("data/runs/latest/05_model_input/inference_model_input.parquet")
NEW_CENTRE = "Mars Clinic"
NEW_EQUIPMENT = "Prototype X"


def _read_predictions(path: Path) -> pd.DataFrame:
    """Identity columns as text ("" stays ""), as written."""
    return pd.read_csv(path, dtype={SPECIMEN_ID: str}, keep_default_na=False, na_values=[""])


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A project copy with synthetic data and a tiny trained model (and its MLflow model)."""
    with trained_project(tmp_path_factory.mktemp("inference_project"), 1500, TRAINING) as root:
        yield root


@pytest.fixture(scope="module")
def training_predictions(project: Path) -> pd.DataFrame:
    """The inference pipeline's predictions for the training export itself."""
    run_session(project, "inference")
    return _read_predictions(project / PREDICTIONS)


def _model_uri(project: Path) -> str:
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    experiments = [e.experiment_id for e in mlflow.search_experiments()]
    (model,) = mlflow.search_logged_models(
        experiment_ids=experiments,
        filter_string=f"name = '{INFERENCE_MODEL}'",
        output_format="list",
    )
    command = mlflow.get_run(model.source_run_id).data.tags["kedro_command"]
    assert "full_training" in command  # logged by the training run itself
    return f"runs:/{model.source_run_id}/{INFERENCE_MODEL}"


def test_inference_needs_only_training_outputs() -> None:
    pipelines = register_pipelines()
    training = pipelines["full_training"]
    assert pipelines["__default__"] is training
    assert create_prediction_pipeline().outputs() == {PREDICTIONS_DATASET}
    free = pipelines["inference"].inputs() - {NEW_EXPORT} - training.all_outputs()
    assert {name for name in free if not name.startswith("params:")} == set()


@pytest.mark.slow
def test_predictions_for_training_mice_equal_the_evaluation_predictions(
    project: Path, training_predictions: pd.DataFrame
) -> None:
    evaluation = _read_predictions(
        project / "data/runs/latest/07_model_output/cluster_predictions.csv"
    )
    # Every modelled mouse is assigned (inference also takes lines too small to model).
    assert set(evaluation[SPECIMEN_ID]) <= set(training_predictions[SPECIMEN_ID])
    same = training_predictions.set_index(SPECIMEN_ID).loc[evaluation[SPECIMEN_ID]]
    probabilities = [c for c in evaluation.columns if c.startswith("prob_cluster_")]
    np.testing.assert_allclose(
        same[probabilities].to_numpy(), evaluation[probabilities].to_numpy(), rtol=0, atol=1e-6
    )
    # Clusters agree wherever the top two probabilities are not tied to rounding.
    top_two = np.sort(evaluation[probabilities].to_numpy(), axis=1)[:, -2:]
    clear = top_two[:, 1] - top_two[:, 0] > 1e-6
    assert clear.mean() > 0.9
    assert (same["cluster"].to_numpy() == evaluation["cluster"].to_numpy())[clear].all()
    for column in ("gene_symbol", "allele_symbol", "zygosity", "phenotyping_center"):
        assert same[column].fillna("").tolist() == evaluation[column].fillna("").tolist()
    np.testing.assert_allclose(same["max_probability"], evaluation["max_probability"], atol=1e-6)

    # A centre with fewer controls than inference.min_centre_controls keeps the training
    # baselines of that centre, made from these same controls: the probabilities agree anyway.
    report = json.loads((project / REPORT).read_text())
    baselines = report["control_baselines"]
    minimum = baselines["min_file_centre_controls"]
    for used in baselines["by_centre"].values():
        enough = used["controls_in_file"] >= minimum
        assert used["baselines"] == (FROM_FILE_CONTROLS if enough else FROM_TRAINING_CENTRE)
    assert sum(baselines["mice_by_source"].values()) == len(training_predictions)
    assert report["unseen_categories"]["mice_with_unseen_categories"] == 0
    flagged = training_predictions[FITS_NO_CLUSTER].mean()
    assert 0 < flagged < 0.1  # the rule's quantiles are 1% and 99% of the training mice
    assert report["fits_no_cluster"]["mice_flagged"] == training_predictions[FITS_NO_CLUSTER].sum()


@pytest.mark.slow
def test_logged_model_predicts_raw_rows_in_a_fresh_process(
    project: Path, training_predictions: pd.DataFrame, tmp_path: Path
) -> None:
    output = tmp_path / "pyfunc_predictions.csv"
    # Loading and predicting must not unpickle anything: every unpickling entry point
    # fails in that process (torch's weights-only loader is not one of them).
    script = (
        "import sys, pickle, cloudpickle, mlflow, pandas as pd\n"
        "def refuse(*args, **kwargs):\n"
        "    raise AssertionError('the model unpickled something')\n"
        "pickle.load = pickle.loads = cloudpickle.load = cloudpickle.loads = refuse\n"
        "model = mlflow.pyfunc.load_model(sys.argv[1])\n"
        "rows = pd.read_csv(sys.argv[2])\n"
        "model.predict(rows).to_csv(sys.argv[3], index=False)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, _model_uri(project), project / TRAINING_EXPORT, output],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # Float32 passes in two processes agree to rounding (seen: 8e-5 relative on a cluster
    # probability, the latent distances amplifying last-bit differences), so the numbers are
    # compared to 1e-3; the "fits no cluster" flag exactly, except for mice whose numbers lie
    # that close to the rule's fitted thresholds (a quantile puts mice right at them).
    pyfunc = _read_predictions(output)
    pd.testing.assert_frame_equal(
        pyfunc.drop(columns=FITS_NO_CLUSTER),
        training_predictions.drop(columns=FITS_NO_CLUSTER),
        check_exact=False,
        rtol=1e-3,
    )
    rule = json.loads((project / MISFIT_RULE).read_text())
    at_threshold = np.isclose(
        training_predictions["max_probability"], rule["max_probability_floor"], rtol=1e-3
    ) | np.isclose(
        training_predictions["centre_distance"], rule["centre_distance_ceiling"], rtol=1e-3
    )
    flags = pyfunc[FITS_NO_CLUSTER].to_numpy(), training_predictions[FITS_NO_CLUSTER].to_numpy()
    assert (flags[0] == flags[1])[~at_threshold].all()
    assert at_threshold.mean() < 0.05  # the exemption is a boundary, not the data


@pytest.mark.slow
def test_logged_model_holds_no_pickle_and_packages_this_runs_checkpoint(project: Path) -> None:
    uri = _model_uri(project)
    model_files = Path(mlflow.artifacts.download_artifacts(uri))
    files = {p.relative_to(model_files).as_posix() for p in model_files.rglob("*") if p.is_file()}
    assert "mlflow_model.py" in files
    assert [name for name in files if name.endswith((".pkl", ".pickle"))] == []
    run_folder = mlflow.get_run(uri.split("/")[1]).data.tags["run_folder"]
    checkpoint = project / "data/runs" / run_folder / "06_models/joint/best_joint.pt"
    assert (model_files / "artifacts/best_joint.pt").read_bytes() == checkpoint.read_bytes()


@pytest.mark.slow
def test_logged_model_rejects_malformed_rows_naming_column_and_rows(project: Path) -> None:
    model = mlflow.pyfunc.load_model(_model_uri(project))
    rows = pd.read_csv(project / TRAINING_EXPORT).head(50)
    column = THRESHOLD_COLUMNS["12kHz"]
    rows[column] = rows[column].astype(object)
    rows.loc[3, column] = "35 dB"
    with pytest.raises(InvalidExportError) as error:
        model.predict(rows)
    message = str(error.value)
    assert repr(column) in message and "row 4" in message and rows[SPECIMEN_ID][3] in message


def _new_export(project: Path) -> tuple[pd.DataFrame, dict[str, str]]:
    """Mice of three centres from the training export, arranged to exercise every case.

    First centre: its controls and two lines (baselines from the file's controls). Second:
    two lines without controls (training baselines of the centre). Third: one line moved to
    a centre and equipment training never saw (overall training baselines, unknown codes).
    """
    rows = pd.read_csv(project / TRAINING_EXPORT, dtype=str)
    line = build_line_id(rows)
    sizes = line[line != ""].value_counts()
    big = pd.Series(sizes.index[sizes >= 4])
    by_centre = big.groupby(big.str.rsplit("|", n=1).str[1]).agg(list)
    first, second, third = by_centre[by_centre.str.len() >= 2].index[:3]
    moved = rows[line == by_centre[third][0]].assign(
        **{CENTRE: NEW_CENTRE, EQUIPMENT_MODEL: NEW_EQUIPMENT}
    )
    new = pd.concat(
        [
            rows[(line == "") & (rows[CENTRE] == first)],
            rows[line.isin(by_centre[first][:2] + by_centre[second][:2])],
            moved,
        ],
        ignore_index=True,
    )
    expected_source = {first: FROM_FILE_CONTROLS, second: FROM_TRAINING_CENTRE}
    return new, expected_source | {NEW_CENTRE: FROM_TRAINING_OVERALL}


@pytest.mark.slow
def test_new_mice_with_unseen_categories_and_missing_controls(
    project: Path, tmp_path: Path
) -> None:
    new, expected_source = _new_export(project)
    path = tmp_path / "new_mice.csv"
    new.to_csv(path, index=False)
    run_session(project, "inference", {"raw_abr_path": str(path)})

    predictions = _read_predictions(project / PREDICTIONS)
    assert predictions[SPECIMEN_ID].tolist() == new[SPECIMEN_ID].tolist()
    assert predictions[BASELINE_SOURCE].tolist() == new[CENTRE].map(expected_source).tolist()
    moved = (new[CENTRE] == NEW_CENTRE).to_numpy()
    assert set(predictions.loc[moved, UNSEEN_CATEGORIES]) == {f"{CENTRE};metadata_Equipment model"}
    assert predictions.loc[~moved, UNSEEN_CATEGORIES].isna().all()
    codes = pd.read_parquet(project / MODEL_INPUT)
    assert (codes.loc[moved, "cat_phenotyping_center"] == 0).all()
    assert (codes.loc[~moved, "cat_phenotyping_center"] > 0).all()

    report = json.loads((project / REPORT).read_text())
    assert report["source_file"] == str(path)
    assert report["unseen_categories"] == {
        "mice_with_unseen_categories": int(moved.sum()),
        "by_column": {
            CENTRE: {NEW_CENTRE: int(moved.sum())},
            EQUIPMENT_MODEL: {NEW_EQUIPMENT: int(moved.sum())},
        },
    }
    by_source = new[CENTRE].map(expected_source).value_counts().to_dict()
    assert report["control_baselines"]["mice_by_source"] == by_source

    lines = pd.read_csv(project / LINES)
    assert len(lines) == 5 == report["new_lines"]["lines_summarised"]
    counts = lines.filter(like="n_cluster_").sum(axis=1)
    assert (counts == lines["n_mice"]).all()
    mars = lines[lines[LINE_ID].str.endswith(f"|{NEW_CENTRE}")]
    assert len(mars) == 1 and mars["n_mice"].item() == moved.sum()
    training_lines = pd.read_parquet(
        project / "data/runs/latest/07_model_output/training_line_embeddings.parquet"
    )
    for rank in range(1, 6):
        assert set(lines[f"similar_{rank}_line_id"]) <= set(training_lines[LINE_ID])
        assert lines[f"similar_{rank}_gene_symbol"].str.len().gt(0).all()
    distances = lines.filter(regex=r"similar_\d_distance").to_numpy()
    assert (np.diff(distances, axis=1) >= 0).all()


@pytest.mark.slow
def test_malformed_export_fails_naming_file_and_column(project: Path, tmp_path: Path) -> None:
    rows = pd.read_csv(project / TRAINING_EXPORT).head(40)
    path = tmp_path / "renamed_column.csv"
    rows.rename(columns={THRESHOLD_COLUMNS["18kHz"]: "18kHz-evoked ABR threshold"}).to_csv(
        path, index=False
    )
    with pytest.raises(InvalidExportError) as error:
        run_session(project, "inference", {"raw_abr_path": str(path)})
    message = str(error.value)
    assert str(path) in message and repr(THRESHOLD_COLUMNS["18kHz"]) in message
    assert "found similar '18kHz-evoked ABR threshold'" in message


@pytest.mark.slow
def test_real_sample_is_assigned_despite_unseen_categories(
    project: Path, real_sample: Path
) -> None:
    run_session(project, "inference", {"raw_abr_path": str(real_sample)})
    report = json.loads((project / REPORT).read_text())
    assert report["rows_read"] == 1000
    assert report["mice_predicted"] + report["rows_not_predicted"] == 1000
    by_source = report["control_baselines"]["mice_by_source"]
    assert (
        sum(by_source.values())
        == report["mice_predicted"]
        == len(_read_predictions(project / PREDICTIONS))
    )


@pytest.mark.slow
def test_a_centre_with_one_control_in_the_file_keeps_the_training_reference(
    project: Path, tmp_path: Path
) -> None:
    """The issue's file: a centre's mutants and one control, which is no reference for them
    (it moved nearly every mouse); the report says per centre which reference was used."""
    rows = pd.read_csv(project / TRAINING_EXPORT, dtype=str)
    control = rows["biological_sample_group"] == "control"
    centre = rows.loc[~control, CENTRE].value_counts().index[0]
    at_centre = rows[CENTRE] == centre
    new = pd.concat([rows[at_centre & ~control], rows[at_centre & control].head(1)])
    path = tmp_path / "one_control.csv"
    new.to_csv(path, index=False)
    run_session(project, "inference", {"raw_abr_path": str(path)})

    predictions = _read_predictions(project / PREDICTIONS)
    assert (predictions[BASELINE_SOURCE] == FROM_TRAINING_CENTRE).all()
    report = json.loads((project / REPORT).read_text())["control_baselines"]
    assert report["by_centre"] == {
        centre: {"controls_in_file": 1, "baselines": FROM_TRAINING_CENTRE}
    }
    assert report["min_file_centre_controls"] == 10  # inference.min_centre_controls
