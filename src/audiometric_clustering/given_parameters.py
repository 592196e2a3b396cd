"""Every parameter given to a run is read by the pipeline it runs, or the run is refused.

``kedro run --pipeline stability --params raw_abr_path=new.csv`` trained on the latest run's
model input and said nothing: the stability pipeline does not read the export. A parameter
given to a run (``--params``, or ``runtime_params`` from Python) counts as read when

* a node of the pipeline takes it, or an entry above it, as ``params:<key>``;
* a dataset of the pipeline reads it through the catalog (:data:`READ_BY_DATASET`);
* it is ``run`` and the pipeline works in a run folder;
* every run reads it (:data:`READ_BY_EVERY_RUN`: the MLflow configuration).

Anything else would be ignored, so the run stops before any work, naming the key, the
pipelines that do read it and what to run instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kedro.pipeline import Pipeline

from audiometric_clustering.run_folders import STARTS_A_RUN

#: Runtime parameters the catalog reads (``${runtime_params:...}`` in conf/*/catalog*.yml),
#: by the dataset that reads them.
READ_BY_DATASET: dict[str, str] = {"raw_abr_path": "raw_abr_export"}
#: Runtime parameters every run reads (``${runtime_params:...}`` in conf/*/mlflow.yml).
READ_BY_EVERY_RUN = frozenset({"experiment_name"})
#: The run folder's name (see run_folders.py).
RUN = "run"


class UnreadParameterError(ValueError):
    """A given parameter that the pipeline would ignore."""


def given_keys(runtime_params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted keys of the given values (``pretraining.epochs``), nested dicts flattened."""
    keys = {}
    for key, value in runtime_params.items():
        if isinstance(value, Mapping) and value:
            keys |= given_keys(value, f"{prefix}{key}.")
        else:
            keys[f"{prefix}{key}"] = value
    return keys


def reads(pipeline: Pipeline, key: str, run_datasets: Iterable[str]) -> bool:
    """Whether running ``pipeline`` reads the given parameter ``key``."""
    if key in READ_BY_EVERY_RUN:
        return True
    datasets = pipeline.datasets()
    if key == RUN:
        return bool(datasets & set(run_datasets))
    if READ_BY_DATASET.get(key) in datasets:
        return True
    read = (name.removeprefix("params:") for name in datasets if name.startswith("params:"))
    return any(key == entry or key.startswith(f"{entry}.") for entry in read)


def _advice(  # noqa: PLR0913
    key: str,
    value: Any,
    name: str,
    pipeline: Pipeline,
    registered: Mapping[str, Pipeline],
    run_datasets: set[str],
) -> str:
    readers = [
        other
        for other, candidate in registered.items()
        if other != "__default__" and reads(candidate, key, run_datasets)
    ]
    message = f"{key} = {value!r} is not read by the {name} pipeline: it would be ignored."
    if not readers:
        return f"{message} No pipeline reads it (a misspelt key?): see conf/base/parameters*.yml."
    message += f" It is read by: {', '.join(readers)}."
    starters = [other for other in readers if STARTS_A_RUN in registered[other].all_outputs()]
    if starters and STARTS_A_RUN not in pipeline.all_outputs():
        return (
            f"{message} This pipeline works on a run folder's model input: run "
            f"{' or '.join(starters)} with `--params {key}=...` first, then this one with "
            f"`--params run=<that run's folder>`; or leave {key} out."
        )
    return f"{message} Run one of those with it, or leave it out."


def check_given_parameters(
    runtime_params: Mapping[str, Any],
    pipeline: Pipeline,
    name: str,
    registered: Mapping[str, Pipeline],
    run_datasets: Iterable[str],
) -> None:
    """Raise :class:`UnreadParameterError` for every given parameter ``pipeline`` ignores."""
    run_datasets = set(run_datasets)
    unread = [
        _advice(key, value, name, pipeline, registered, run_datasets)
        for key, value in given_keys(runtime_params).items()
        if not reads(pipeline, key, run_datasets)
    ]
    if unread:
        raise UnreadParameterError("\n".join(unread))
