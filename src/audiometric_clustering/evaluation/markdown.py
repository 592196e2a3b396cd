"""Markdown tables for the reports: one formatting rule for every number shown, and every
text from the data (gene and allele symbols, centre names, errors) shown as plain text."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

#: Characters that let text from the data become more than text in Markdown (GitHub's and
#: MLflow's): links and images (``[``, ``]``), code, math, escapes and table cells. Emphasis
#: (``*``, ``_``) is left alone: it can only restyle a cell.
_MARKUP = re.compile(r"([\\`\[\]$|])")


def markdown_text(value: object) -> str:
    """``value`` as literal text on one line of a Markdown table or paragraph: markup
    characters backslash-escaped, angle brackets as entities (no HTML tag, no autolink),
    line breaks as spaces (a newline in an allele symbol started a heading of its own)."""
    text = " ".join(str(value).splitlines())
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    return _MARKUP.sub(r"\\\1", text)


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub-flavoured Markdown table: counts as integers, other floats to ``digits``
    significant digits, NaN as an em dash; text as :func:`markdown_text` (IMPC allele
    symbols such as ``Otof<tm1a(EUCOMM)Wtsi>`` would read as HTML tags)."""

    def cell(value: object) -> str:
        if isinstance(value, float | np.floating):
            if math.isnan(value):
                return "—"
            if float(value).is_integer() and abs(value) < 1e9:
                return str(int(value))
            return f"{value:.{digits}g}"
        return markdown_text(value)

    header = "| " + " | ".join(markdown_text(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])
