"""The ``data_processing`` pipeline."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
