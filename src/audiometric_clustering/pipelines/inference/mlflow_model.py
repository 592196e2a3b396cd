"""The MLflow model of a training run, as code (MLflow's models-from-code; see packaging).

``predict`` takes a DataFrame of raw wide export rows and runs the project's prediction
pipeline on them (validation, preprocessing with the run's fitted state, embedding with its
best checkpoint, assignment with its cluster labels and "fits no cluster" rule), returning
the ``inference_predictions`` table.
"""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from audiometric_clustering.pipelines.inference.packaging import PARAMETERS, load_artifact
from audiometric_clustering.pipelines.inference.pipeline import (
    NEW_EXPORT,
    PREDICTIONS,
    create_prediction_pipeline,
)


class InferenceModel(mlflow.pyfunc.PythonModel):
    """The prediction pipeline over the training run's artifacts."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        artifacts = dict(context.artifacts)
        parameters = load_artifact(artifacts.pop(PARAMETERS))
        self.inputs = {name: load_artifact(path) for name, path in artifacts.items()}
        self.inputs |= {f"params:{name}": value for name, value in parameters.items()}
        self.pipeline = create_prediction_pipeline()

    def predict(
        self,
        context: mlflow.pyfunc.PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        datasets = {name: MemoryDataset(value) for name, value in self.inputs.items()}
        datasets[NEW_EXPORT] = MemoryDataset(model_input, copy_mode="assign")
        datasets[PREDICTIONS] = MemoryDataset()
        catalog = DataCatalog(datasets=datasets)
        SequentialRunner().run(self.pipeline, catalog)
        return catalog.load(PREDICTIONS)


mlflow.models.set_model(InferenceModel())
