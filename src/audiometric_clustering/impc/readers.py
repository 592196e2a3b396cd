"""Read IMPC ABR exports: CSV or Parquet, wide or long (Solr ``experiment``) layout.

Whatever the file, the result is the wide layout (one row per mouse, thresholds in columns
named by IMPC parameter name), with the file path and the detected layout recorded in
``DataFrame.attrs`` so later errors can name the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd

from audiometric_clustering.impc.errors import (
    MAX_EXAMPLES,
    InvalidExportError,
    example_rows,
    export_error,
)
from audiometric_clustering.impc.schema import (
    FREQUENCIES,
    METADATA_COLUMNS,
    PARAMETER_IDS,
    SPECIMEN_ID,
    THRESHOLD_COLUMNS,
)

Layout = Literal["wide", "long"]

PARAMETER_ID = "parameter_stable_id"
PARAMETER_NAME = "parameter_name"
DATA_POINT = "data_point"
METADATA_LIST = "metadata"
METADATA_PREFIX = "metadata_"
#: Long-layout columns that describe one observation, not the mouse.
OBSERVATION_COLUMNS: tuple[str, ...] = (
    PARAMETER_ID,
    PARAMETER_NAME,
    DATA_POINT,
    METADATA_LIST,
    "observation_id",
    "id",
    "_version_",
)
CSV_SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz")
PARQUET_SUFFIXES: tuple[str, ...] = (".parquet", ".pq")
#: Read as text whatever they look like: ids such as "30381272" must not become numbers.
TEXT_COLUMNS: dict[str, str] = {
    c: "str" for c in METADATA_COLUMNS if c not in ("age_in_weeks", "weight")
}
#: Metadata entries look like "Equipment model = RP2.1 based system"; this finds the quoted
#: "key = value" items of a list printed as text (Python or JSON quoting).
_METADATA_ITEM = r"""(?P<quote>['"])(?P<key>[^'"]*?) = (?P<value>.*?)(?P=quote)(?=\s*(?:,|\]|$))"""


def _is_csv(path: Path) -> bool:
    return path.name.lower().endswith(CSV_SUFFIXES)


def _is_parquet(path: Path) -> bool:
    return path.name.lower().endswith(PARQUET_SUFFIXES)


#: What a CSV's header is split by when it is not split by commas, by name.
OTHER_DELIMITERS: dict[str, str] = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}
_EXPECTED_FILE = "a CSV or Parquet file, passed with `--params raw_abr_path=PATH`"


def _check_is_a_file(path: Path) -> None:
    """A missing path, a folder and a device (``/dev/null``) each get their own message."""
    if not path.exists():
        raise FileNotFoundError(
            f"IMPC export not found: {path} (absolute: {path.resolve()}). Pass an existing CSV "
            "or Parquet file with `--params raw_abr_path=PATH`, or run "
            "`kedro run --pipeline synthetic_data` to write the default synthetic export."
        )
    if path.is_dir():
        raise export_error(str(path), "this is a folder, not a file", f"{_EXPECTED_FILE}")
    if not path.is_file():
        raise export_error(
            str(path), "this is not a regular file (a device, pipe or socket)", _EXPECTED_FILE
        )
    if path.stat().st_size == 0:
        raise export_error(str(path), "the file is empty", "a header row and one row per mouse")


def _delimiter_error(path: Path) -> InvalidExportError | None:
    """A clear error when the header is split by another delimiter than commas."""
    header = pd.read_csv(path, nrows=0, dtype="str").columns
    if len(header) != 1:
        return None
    found = [d for d in OTHER_DELIMITERS if d in str(header[0])]
    if not found:
        return None
    return export_error(
        str(path),
        f"the columns are separated by {OTHER_DELIMITERS[found[0]]} ({found[0]!r}), not commas",
        "comma-separated values (save the file as CSV with ',' as the delimiter)",
        examples=[f"header {str(header[0])[:120]!r}"],
    )


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, dtype=TEXT_COLUMNS, low_memory=False)
    except pd.errors.EmptyDataError:
        raise export_error(
            str(path), "the file is empty", "a header row and one row per mouse"
        ) from None
    except pd.errors.ParserError as error:
        raise _delimiter_error(path) or export_error(
            str(path), f"not readable as CSV: {error}", "comma-separated values, one row per mouse"
        ) from None
    delimiter = _delimiter_error(path) if len(table.columns) == 1 else None
    if delimiter is not None:
        raise delimiter
    return table


def read_table(path: Path) -> pd.DataFrame:
    """The file as stored, by suffix; a missing, empty or unsupported file is a clear error."""
    _check_is_a_file(path)
    if _is_csv(path):
        return _read_csv(path)
    if _is_parquet(path):
        return pd.read_parquet(path)
    raise export_error(
        str(path),
        f"unsupported file type {path.suffix!r}",
        f"a CSV ({', '.join(CSV_SUFFIXES)}) or Parquet ({', '.join(PARQUET_SUFFIXES)}) file",
    )


def detect_layout(frame: pd.DataFrame, source: str) -> Layout:
    """Wide when threshold columns are present; long when it has parameter ids and data points."""
    if any(c in frame.columns for c in THRESHOLD_COLUMNS.values()):
        return "wide"
    if DATA_POINT in frame.columns and (
        PARAMETER_ID in frame.columns or PARAMETER_NAME in frame.columns
    ):
        return "long"
    raise export_error(
        source,
        "neither the wide nor the long IMPC layout: no threshold columns and no "
        f"{PARAMETER_ID!r}/{DATA_POINT!r} columns",
        f"wide: threshold columns {list(THRESHOLD_COLUMNS.values())}; long: "
        f"{PARAMETER_ID!r} (or {PARAMETER_NAME!r}) and {DATA_POINT!r}, one row per mouse "
        "and parameter",
    )


def drop_duplicate_columns(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Drop identical copies of a column (pandas reads a repeated header ``x`` as ``x.1``).

    The real export repeats ``specimen_id``; a copy that differs from its original in a
    column the pipeline reads is ambiguous and fatal.
    """
    used = {*METADATA_COLUMNS, *THRESHOLD_COLUMNS.values()}
    drop = []
    for column in frame.columns:
        base, dot, suffix = str(column).rpartition(".")
        if not dot or not suffix.isdigit() or base not in frame.columns:
            continue
        if frame[column].astype("str").equals(frame[base].astype("str")):
            drop.append(column)
        elif base in used:
            differs = frame[column].astype("str").ne(frame[base].astype("str"))
            raise export_error(
                source,
                f"two different columns are named {base!r}",
                "a column name used once (or repeated with identical values)",
                column=base,
                examples=example_rows(frame, differs, column),
            )
    return frame.drop(columns=drop)


def expand_metadata(metadata: pd.Series) -> pd.DataFrame:
    """Turn per-row lists of "key = value" strings into ``metadata_<key>`` columns.

    Accepts real lists (Parquet) or lists printed as text (CSV); rows keep their index.
    """
    if pd.api.types.is_string_dtype(metadata):
        items = metadata.str.extractall(_METADATA_ITEM)[["key", "value"]].droplevel("match")
    else:
        entries = metadata.explode().dropna().astype("str")
        items = entries.str.split(" = ", n=1, expand=True).set_axis(["key", "value"], axis=1)
        items = items.dropna()
    items = items.rename_axis("row").reset_index().drop_duplicates(["row", "key"])
    wide = items.pivot(index="row", columns="key", values="value")
    wide.columns = [f"{METADATA_PREFIX}{key.strip()}" for key in wide.columns]
    return wide.reindex(metadata.index)


def _wide_column_names(frame: pd.DataFrame) -> pd.Series:
    """The wide column each long row belongs to: threshold names by parameter id when known."""
    by_id = {PARAMETER_IDS[f]: THRESHOLD_COLUMNS[f] for f in FREQUENCIES}
    names = pd.Series(pd.NA, index=frame.index, dtype="str")
    if PARAMETER_ID in frame.columns:
        names = frame[PARAMETER_ID].map(by_id).astype("str")
    if PARAMETER_NAME in frame.columns:
        names = names.fillna(frame[PARAMETER_NAME].astype("str"))
    if PARAMETER_ID in frame.columns:
        names = names.fillna(frame[PARAMETER_ID].astype("str"))
    return names


def _check_one_description_per_mouse(frame: pd.DataFrame, source: str) -> None:
    """Every row of a mouse must describe it alike: one centre, one sex, one line..."""
    columns = [c for c in METADATA_COLUMNS if c in frame.columns and c != SPECIMEN_ID]
    distinct = frame.groupby(SPECIMEN_ID, sort=False)[columns].nunique(dropna=True)
    conflicting = distinct > 1
    if not conflicting.to_numpy().any():
        return
    mice = conflicting.index[conflicting.any(axis=1)]
    examples = []
    for specimen in mice[:MAX_EXAMPLES]:
        rows = frame.loc[frame[SPECIMEN_ID] == specimen]
        differing = [c for c in columns if conflicting.at[specimen, c]]
        values = "; ".join(
            f"{c}: {sorted(rows[c].dropna().astype('str').unique())}" for c in differing
        )
        examples.append(f"specimen_id={specimen!r} ({values})")
    raise export_error(
        source,
        f"{len(mice)} mouse(s) described differently by their rows, in columns "
        f"{sorted({c for c in columns if conflicting[c].any()})}",
        "the same metadata on every row of a mouse (one centre, sex, line, ... per specimen_id)",
        examples=examples,
    )


def long_to_wide(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Pivot the long layout (one row per mouse and parameter) to one row per mouse."""
    if SPECIMEN_ID not in frame.columns:
        raise export_error(
            source,
            f"long layout without a {SPECIMEN_ID!r} column",
            "one row per mouse and parameter, identified by specimen_id",
            column=SPECIMEN_ID,
        )
    pairs = pd.DataFrame(
        {
            SPECIMEN_ID: frame[SPECIMEN_ID],
            "column": _wide_column_names(frame),
            "value": frame[DATA_POINT],
        }
    ).drop_duplicates()
    conflicting = pairs.duplicated([SPECIMEN_ID, "column"], keep=False).to_numpy()
    if conflicting.any():
        raise export_error(
            source,
            "a mouse has different values for the same parameter",
            "one data_point per specimen_id and parameter",
            column=DATA_POINT,
            examples=example_rows(
                pairs.rename(columns={"value": DATA_POINT}), conflicting, DATA_POINT
            ),
        )
    values = pairs.set_index([SPECIMEN_ID, "column"])["value"].unstack("column")
    values.columns.name = None
    _check_one_description_per_mouse(frame, source)
    mice = frame.drop_duplicates(SPECIMEN_ID)
    if METADATA_LIST in mice.columns:
        mice = mice.join(expand_metadata(mice[METADATA_LIST]))
    mice = mice.drop(columns=[c for c in OBSERVATION_COLUMNS if c in mice.columns])
    values = values.drop(columns=[c for c in values.columns if c in mice.columns])
    return mice.merge(values, left_on=SPECIMEN_ID, right_index=True, how="left").reset_index(
        drop=True
    )


def read_export(path: str | Path) -> pd.DataFrame:
    """Read an IMPC ABR export as the wide layout, recording ``source_file`` and ``layout``."""
    path = Path(path)
    source = str(path)
    table = read_table(path)
    layout = detect_layout(table, source)
    wide = long_to_wide(table, source) if layout == "long" else table
    wide = drop_duplicate_columns(wide, source)
    wide.attrs.update(source_file=source, layout=layout)
    return wide


def write_export(frame: pd.DataFrame, path: str | Path) -> None:
    """Write the wide layout as CSV or Parquet, by suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if _is_csv(path):
        frame.to_csv(path, index=False)
    elif _is_parquet(path):
        frame.to_parquet(path, index=False)
    else:
        raise InvalidExportError(
            f"Cannot write {path}: unsupported suffix {path.suffix!r}; expected "
            f"{', '.join(CSV_SUFFIXES + PARQUET_SUFFIXES)}"
        )
