"""The deployable MLflow model of a training run, logged without pickles.

MLflow's models-from-code route: the model is the source file ``mlflow_model.py`` plus
artifacts, so loading it runs that reviewed code and reads the artifacts with loaders that
cannot execute anything (JSON, CSV, torch ``weights_only``). A pickled ``python_model`` (what
``pipeline_ml_factory`` logs) would run whatever code the pickle holds when loaded.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

import audiometric_clustering
from audiometric_clustering.training.checkpoints import load_checkpoint

#: Name of the logged MLflow model: load it as ``runs:/<run_id>/inference_model``.
INFERENCE_MODEL = "inference_model"
#: The artifact holding the prediction pipeline's parameters (``params:<name>`` entries).
PARAMETERS = "parameters"
#: Distributions the prediction pipeline imports, pinned to the installed versions.
MODEL_REQUIREMENTS: tuple[str, ...] = (
    "kedro",
    "kedro-datasets",
    "mlflow",
    "torch",
    "numpy",
    "pandas",
    "pyarrow",
    "scikit-learn",
    "scipy",
    "matplotlib",
)
#: How each artifact file is read back: none of these can run code.
_LOADERS = {
    ".json": lambda path: json.loads(Path(path).read_text()),
    ".csv": pd.read_csv,
    ".parquet": pd.read_parquet,
    ".pt": load_checkpoint,
}


def load_artifact(path: str | Path) -> Any:
    """An artifact's contents, read as the catalog reads that kind of file."""
    suffix = Path(path).suffix
    if suffix not in _LOADERS:
        raise ValueError(f"{path}: no safe loader for {suffix!r} files; known: {list(_LOADERS)}")
    return _LOADERS[suffix](path)


def log_inference_model(
    artifact_paths: Mapping[str, str | Path], parameters: Mapping[str, Any]
) -> None:
    """Log the prediction pipeline as ``inference_model`` into the active MLflow run.

    ``artifact_paths``: the prediction pipeline's inputs (this run's files) by catalog name;
    ``parameters``: its ``params:`` inputs, stored as JSON.
    * No signature: the export's columns vary by file, and validation explains a bad file
      better than a schema check would.
    * The project's package travels with the model (``code_paths``), so it loads wherever
      the pinned requirements are installed, without this checkout.
    * Explicit requirements: MLflow's inference of them loads the model in a subprocess.
    """
    unknown = [name for name, path in artifact_paths.items() if Path(path).suffix not in _LOADERS]
    if unknown:
        raise ValueError(f"no safe loader for the artifacts {unknown}")
    package = Path(audiometric_clustering.__file__).parent
    with tempfile.TemporaryDirectory() as folder:
        parameters_file = Path(folder) / f"{PARAMETERS}.json"
        parameters_file.write_text(json.dumps(dict(parameters), indent=2))
        mlflow.pyfunc.log_model(
            name=INFERENCE_MODEL,
            python_model=str(Path(__file__).with_name("mlflow_model.py")),
            artifacts={
                **{k: str(v) for k, v in artifact_paths.items()},
                PARAMETERS: str(parameters_file),
            },
            code_paths=[str(package)],
            pip_requirements=[f"{name}=={version(name)}" for name in MODEL_REQUIREMENTS],
        )
