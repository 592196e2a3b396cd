"""Markdown tables for the reports: one formatting rule for every number shown."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub-flavoured Markdown table: counts as integers, other floats to ``digits``
    significant digits, NaN as an em dash; pipes and angle brackets (IMPC allele symbols
    such as ``Otof<tm1a(EUCOMM)Wtsi>`` would read as HTML tags) are escaped."""

    def cell(value: object) -> str:
        if isinstance(value, float | np.floating):
            if math.isnan(value):
                return "—"
            if float(value).is_integer() and abs(value) < 1e9:
                return str(int(value))
            return f"{value:.{digits}g}"
        text = str(value)
        return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")

    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])
