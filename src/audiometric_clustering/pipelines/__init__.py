"""Kedro wiring only: one folder per stage, each with thin ``nodes.py`` and ``pipeline.py``."""
