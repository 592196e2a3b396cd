"""The ``inference`` pipeline, its training-side reference and the MLflow model's pipeline."""

from .pipeline import create_pipeline, create_prediction_pipeline, create_reference_pipeline

__all__ = ["create_pipeline", "create_prediction_pipeline", "create_reference_pipeline"]
