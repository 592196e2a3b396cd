"""Seed stability: many members trained on a Dask cluster, their agreement, consensus
clusters, stable lines and the choice of k (``kedro run --pipeline stability``)."""
