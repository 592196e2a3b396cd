"""Evaluation maths: cluster metrics, gene enrichment, baselines, labels, plots and report.

Plain Python on numpy arrays and DataFrames (no Kedro), so every number is testable alone.
"""
