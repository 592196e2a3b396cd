"""Assigning new mice to the learned phenotypes: the "fits no cluster" rule, unseen
categories, per-line cluster distributions and similar training lines.

Plain Python on numpy arrays and DataFrames (no Kedro); the ``inference`` pipeline wires it.
"""
