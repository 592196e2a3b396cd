"""Small hand-made wide exports whose expected outputs can be worked out by hand."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import count

import pandas as pd

from audiometric_clustering.impc import schema

THRESHOLDS = [schema.THRESHOLD_COLUMNS[f] for f in schema.FREQUENCIES]
_ids = count()


def mice(
    n: int,
    *,
    centre: str = "A",
    control: bool = False,
    gene: str = "G1",
    thresholds: Sequence[float] = (30.0,) * 6,
    **columns: object,
) -> pd.DataFrame:
    """``n`` identical mice of one line (or controls) at one centre, with unique ids."""
    row = {
        schema.SAMPLE_GROUP: "control" if control else "experimental",
        schema.GENE: None if control else gene,
        schema.ALLELE: None if control else f"{gene}<tm1>",
        schema.ZYGOSITY: "wildtype" if control else "homozygote",
        schema.SEX: "female",
        schema.AGE: 14.0,
        schema.WEIGHT: 25.0,
        schema.BACKGROUND: "C57BL/6N",
        schema.CENTRE: centre,
        schema.PIPELINE: f"{centre} pipeline",
        schema.EQUIPMENT_MANUFACTURER: "TDT",
        schema.EQUIPMENT_MODEL: "RZ6",
        **dict(zip(THRESHOLDS, thresholds, strict=True)),
        **columns,
    }
    frame = pd.DataFrame([row] * n)
    frame[THRESHOLDS] = frame[THRESHOLDS].astype("float64")
    frame.insert(0, schema.SPECIMEN_ID, [f"m{next(_ids)}" for _ in range(n)])
    return frame


def export(*parts: pd.DataFrame, source: str = "hand_made.csv") -> pd.DataFrame:
    """Concatenate parts into one export that remembers a source file name."""
    frame = pd.concat(parts, ignore_index=True)
    frame.attrs.update(source_file=source, layout="wide")
    return frame
