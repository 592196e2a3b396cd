"""How an unusable IMPC export is refused: one error type and one layout of its message
(file, problem, column, example rows, what was expected), shared by the readers and the
validation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from audiometric_clustering.impc.schema import SPECIMEN_ID

MAX_EXAMPLES = 5
UNKNOWN_SOURCE = "<in-memory table>"


class InvalidExportError(ValueError):
    """An export the pipeline cannot use; the message says where, what and what was expected."""


def export_error(
    source: str,
    problem: str,
    expected: str,
    column: str | None = None,
    examples: Sequence[str] = (),
) -> InvalidExportError:
    """One consistently laid-out error: file, problem, column, examples, expectation."""
    lines = [f"Invalid IMPC ABR export {source}: {problem}"]
    if column is not None:
        lines.append(f"  column: {column!r}")
    if examples:
        lines.append("  examples: " + "; ".join(examples))
    lines.append(f"  expected: {expected}")
    return InvalidExportError("\n".join(lines))


def example_rows(frame: pd.DataFrame, mask: np.ndarray | pd.Series, column: str) -> list[str]:
    """Up to MAX_EXAMPLES offending rows as 'row N (specimen_id=..., value=...)', rows from 1."""
    positions = np.flatnonzero(np.asarray(mask))[:MAX_EXAMPLES]
    ids = frame[SPECIMEN_ID].iloc[positions] if SPECIMEN_ID in frame else [None] * len(positions)
    values = frame[column].iloc[positions] if column in frame else [None] * len(positions)
    return [
        f"row {p + 1} (specimen_id={s!r}, value={v!r})"
        for p, s, v in zip(positions, ids, values, strict=True)
    ]


def source_of(frame: pd.DataFrame) -> str:
    """The file a frame was read from, as recorded by the reader."""
    return str(frame.attrs.get("source_file", UNKNOWN_SOURCE))
