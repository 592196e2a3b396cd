"""Custom Kedro datasets."""

from audiometric_clustering.io.impc_export import IMPCExportDataset

__all__ = ["IMPCExportDataset"]
